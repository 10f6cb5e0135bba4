//! Where requests may go: the checked HostUp root URL, id validation before an id enters a path,
//! API URLs built from percent-encoded segments, and job poll URLs resolved against the root and
//! refused when they point at any other origin (the API key is only ever sent to the endpoint).

use std::net::IpAddr;

use url::{Host, Url};

use super::error::{shown, ApiError};

/// The validated HostUp root. Its path is the mount prefix (empty for `https://cloud.hostup.se`),
/// under which both `/api/v2/...` and the job URLs `/api/jobs/...` live.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Always ends with `/`.
    root: Url,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// `scheme://host:port` of a URL, for comparisons and messages.
pub(crate) fn origin_of(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{}://{}:{}", url.scheme(), h, p),
        (Some(h), None) => format!("{}://{}", url.scheme(), h),
        _ => url.scheme().to_owned(),
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

impl Endpoint {
    pub(crate) fn new(url: &Url) -> Result<Endpoint, ApiError> {
        let bad = |why: String| Err(ApiError::InvalidConfig(why));
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(url) => {}
            "http" => {
                return bad(format!(
                    "the endpoint {} uses plain http; HostUp must be reached over https (http is \
                     only allowed for loopback addresses such as 127.0.0.1 or localhost)",
                    origin_of(url)
                ))
            }
            other => {
                return bad(format!(
                    "the endpoint scheme {other:?} is not supported; use https://"
                ))
            }
        }
        if url.host().is_none() || url.cannot_be_a_base() {
            return bad("the endpoint has no host; use e.g. https://cloud.hostup.se".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return bad(
                "the endpoint must not contain a user name or password; the API key is \
                 configured separately"
                    .into(),
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            return bad("the endpoint must not have a query string or fragment".into());
        }
        let mut root = url.clone();
        let mut path = root.path().trim_end_matches('/').to_owned();
        if path.ends_with("/api/v2") {
            path.truncate(path.len() - "/api/v2".len());
        }
        path.push('/');
        root.set_path(&path);
        Ok(Endpoint { root })
    }

    pub(crate) fn origin(&self) -> String {
        origin_of(&self.root)
    }

    /// `<root>/api/v2/<segments…>`, each segment percent-encoded.
    pub(crate) fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.root.clone();
        {
            // `root` was checked to be a base, so path segments are always available.
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().extend(["api", "v2"]).extend(segments);
            }
        }
        url
    }

    /// Resolves a job's `pollUrl`. A path (`/api/jobs/job_…`, the normal case) is taken relative
    /// to the root; an absolute URL is accepted only on the endpoint's own origin.
    pub(crate) fn resolve_poll_url(&self, poll_url: &str) -> Result<Url, ApiError> {
        let poll = poll_url.trim();
        if poll.is_empty() {
            return Err(ApiError::InvalidPollUrl {
                shown: shown(poll_url),
                reason: "it is empty".into(),
            });
        }
        let joined = if poll.starts_with('/') && !poll.starts_with("//") {
            self.root.join(&poll[1..])
        } else {
            self.root.join(poll)
        };
        let url = joined.map_err(|e| ApiError::InvalidPollUrl {
            shown: shown(poll),
            reason: e.to_string(),
        })?;
        if !same_origin(&url, &self.root) {
            return Err(ApiError::ForeignPollUrl {
                poll_origin: origin_of(&url),
                endpoint_origin: self.origin(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ApiError::InvalidPollUrl {
                shown: shown(&origin_of(&url)),
                reason: "it contains credentials".into(),
            });
        }
        Ok(url)
    }
}

/// Checks an id before it goes into a URL path. `role` names it in the error ("target VPS id").
pub fn validate_id(role: &'static str, id: &str) -> Result<(), ApiError> {
    let problem = if id.is_empty() {
        Some("it is empty")
    } else if id.len() > 64 {
        Some("it is longer than 64 characters")
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Some("it contains a character that is not allowed")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(ApiError::InvalidId {
            role,
            shown: shown(id),
            problem,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Result<Endpoint, ApiError> {
        Endpoint::new(&Url::parse(s).unwrap())
    }

    #[test]
    fn https_required_except_on_loopback() {
        assert!(ep("https://cloud.hostup.se").is_ok());
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://[::1]:9",
            "http://localhost:1",
            "http://LOCALHOST",
        ] {
            assert!(ep(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://cloud.hostup.se",
            "http://10.0.0.1",
            "http://128.0.0.1",
            "http://localhost.evil.com",
            "ftp://cloud.hostup.se",
            "https://user:pw@cloud.hostup.se",
            "https://cloud.hostup.se/?x=1",
        ] {
            let err = ep(bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(matches!(err, ApiError::InvalidConfig(_)), "{bad}");
        }
        let msg = ep("http://cloud.hostup.se").err().unwrap().to_string();
        assert!(msg.contains("https"), "{msg}");
    }

    #[test]
    fn api_urls_are_built_under_api_v2_and_encoded() {
        let e = ep("https://cloud.hostup.se/api/v2/").unwrap();
        assert_eq!(
            e.api_url(&["vps", "vps_1", "details"]).as_str(),
            "https://cloud.hostup.se/api/v2/vps/vps_1/details"
        );
        let e = ep("http://127.0.0.1:9/mount").unwrap();
        assert_eq!(
            e.api_url(&["vps", "a/b?c"]).as_str(),
            "http://127.0.0.1:9/mount/api/v2/vps/a%2Fb%3Fc"
        );
    }

    #[test]
    fn poll_urls_resolve_to_the_root_not_under_api_v2() {
        let e = ep("https://cloud.hostup.se/api/v2").unwrap();
        assert_eq!(
            e.resolve_poll_url("/api/jobs/job_1").unwrap().as_str(),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        assert_eq!(
            e.resolve_poll_url("https://cloud.hostup.se:443/api/jobs/job_1")
                .unwrap()
                .as_str(),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        let mounted = ep("http://localhost:8/hostup").unwrap();
        assert_eq!(
            mounted.resolve_poll_url("/api/jobs/j").unwrap().as_str(),
            "http://localhost:8/hostup/api/jobs/j"
        );
    }

    #[test]
    fn poll_urls_on_other_origins_are_refused() {
        let e = ep("https://cloud.hostup.se").unwrap();
        for foreign in [
            "https://evil.example/api/jobs/job_1",
            "http://cloud.hostup.se/api/jobs/job_1",
            "https://cloud.hostup.se:8443/api/jobs/job_1",
            "//evil.example/api/jobs/job_1",
            "javascript:alert(1)",
        ] {
            let err = e.resolve_poll_url(foreign).unwrap_err();
            assert!(
                matches!(err, ApiError::ForeignPollUrl { .. }),
                "{foreign}: {err:?}"
            );
        }
        assert!(matches!(
            e.resolve_poll_url("  "),
            Err(ApiError::InvalidPollUrl { .. })
        ));
    }

    #[test]
    fn ids_are_validated_with_their_role() {
        assert!(validate_id("VPS id", "vps_01hxa3b4c5d6e7f8g9h0j1k2m3").is_ok());
        assert!(validate_id("VPS id", &"a".repeat(64)).is_ok());
        for bad in ["", "vps/1", "../x", "vps 1", "vps%2F", "é", &"a".repeat(65)] {
            let err = validate_id("source VPS id", bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("source VPS id"), "{msg}");
        }
    }
}
