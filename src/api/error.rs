//! Everything that can go wrong talking to HostUp, as one typed error. HTTP failures keep the
//! RFC 7807 problem document (status, `code`, `title`, `detail`, `requestId`, `errors[]`);
//! transport failures say whether the request may have reached HostUp, because for a destructive
//! POST that decides whether retrying by hand is safe. Display texts are sentences a user can act
//! on; none of them ever contains the API key (bodies and messages are redacted before they are
//! stored here).

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

/// An RFC 7807 problem document as HostUp sends it (legacy `{code, error, message, requestId}`
/// bodies are folded into the same shape).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problem {
    /// `type`: a URL such as `https://developer.hostup.se/errors/not_found`.
    pub type_url: Option<String>,
    /// A short summary of the kind of problem, the same for every occurrence.
    pub title: Option<String>,
    /// The HTTP status HostUp put into the document; the answer's own is `HttpError::status`.
    pub status: Option<u16>,
    /// What went wrong this time, in HostUp's words.
    pub detail: Option<String>,
    /// The stable machine code to branch on, e.g. `vps_not_ready`.
    pub code: Option<String>,
    /// The request path the problem is about.
    pub instance: Option<String>,
    /// HostUp's id of the request, to quote to HostUp support.
    pub request_id: Option<String>,
    /// When HostUp saw the problem (RFC 3339 text, as sent).
    pub timestamp: Option<String>,
    /// Field-level problems, present with `invalid_request`.
    pub errors: Vec<FieldError>,
}

/// One entry of a problem's `errors[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldError {
    /// A JSON pointer into the request body, e.g. `/sourceVpsId`.
    pub pointer: Option<String>,
    /// What is wrong with that field.
    pub detail: Option<String>,
    /// A machine code for the field problem, e.g. `missing_required`.
    pub code: Option<String>,
}

fn text(obj: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Problem {
    /// Reads a problem document from an error body. Returns `None` when the body is not a JSON
    /// object carrying at least one problem field, so the caller falls back to a body excerpt.
    pub fn from_body(body: &[u8]) -> Option<Problem> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let obj = value.as_object()?;
        let errors: Vec<FieldError> = obj
            .get("errors")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|e| FieldError {
                        pointer: text(e, "pointer").or_else(|| text(e, "field")),
                        detail: text(e, "detail").or_else(|| text(e, "message")),
                        code: text(e, "code"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let problem = Problem {
            type_url: text(obj, "type"),
            title: text(obj, "title").or_else(|| text(obj, "error")),
            status: obj
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok()),
            detail: text(obj, "detail").or_else(|| text(obj, "message")),
            code: text(obj, "code"),
            instance: text(obj, "instance"),
            request_id: text(obj, "requestId"),
            timestamp: text(obj, "timestamp"),
            errors,
        };
        let meaningful = problem.title.is_some()
            || problem.detail.is_some()
            || problem.code.is_some()
            || problem.type_url.is_some()
            || !problem.errors.is_empty();
        meaningful.then_some(problem)
    }

    pub(crate) fn redact(&mut self, secret: &str) {
        let fields = [
            &mut self.type_url,
            &mut self.title,
            &mut self.detail,
            &mut self.code,
            &mut self.instance,
            &mut self.request_id,
            &mut self.timestamp,
        ];
        for field in fields.into_iter().flatten() {
            *field = redact(field, secret);
        }
        for e in &mut self.errors {
            for field in [&mut e.pointer, &mut e.detail, &mut e.code]
                .into_iter()
                .flatten()
            {
                *field = redact(field, secret);
            }
        }
    }
}

/// HostUp answered with a non-success status.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The HTTP method, upper case.
    pub method: String,
    /// The request path (no query, no host).
    pub path: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The problem document, when the body was one.
    pub problem: Option<Problem>,
    /// The sanitized first ~200 bytes of a body that was not a problem document.
    pub body_excerpt: Option<String>,
    /// `Retry-After` (or `X-RateLimit-Reset`) as a wait, when HostUp sent one.
    pub retry_after: Option<Duration>,
    /// How many times the request was sent.
    pub attempts: u32,
}

impl HttpError {
    /// The problem document's `code`, when there was one.
    pub fn code(&self) -> Option<&str> {
        self.problem.as_ref()?.code.as_deref()
    }

    /// The problem document's `requestId`, to quote to HostUp support.
    pub fn request_id(&self) -> Option<&str> {
        self.problem.as_ref()?.request_id.as_deref()
    }

    fn hint(&self) -> Option<String> {
        Some(match self.status {
            401 => "Check that the API key is correct and has not expired or been revoked.".into(),
            403 => "Check that the API key has the needed scope (read:vm for reads, backup:vm for \
                    restores and backup changes) and that the VPS belongs to this account."
                .into(),
            404 => "Check that the id is right and the resource still exists.".into(),
            409 => "HostUp refused the action in the current state of the VPS (for example while \
                    another job runs); wait for it to settle and try again."
                .into(),
            429 => match self.retry_after {
                Some(d) => format!(
                    "HostUp is rate limiting this API key; try again in {} s.",
                    d.as_secs().max(1)
                ),
                None => "HostUp is rate limiting this API key; try again later.".into(),
            },
            // A write that met a 5xx may still have been carried out (the client never resends
            // it), so "try again later" would invite a second destructive restore.
            500..=599 if self.method.eq_ignore_ascii_case("POST") => format!(
                "HostUp had a server-side problem. {}",
                reached_advice(&self.method)
            ),
            500..=599 => "HostUp had a server-side problem; try again later.".into(),
            _ => return None,
        })
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Built first so the sentence gets exactly one full stop: HostUp's details usually end
        // with their own.
        let mut text = String::new();
        let f = &mut text;
        let reason = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        write!(
            f,
            "HostUp answered {} {} with HTTP {} {}",
            self.method, self.path, self.status, reason
        )?;
        if let Some(p) = &self.problem {
            if let Some(code) = &p.code {
                write!(f, " ({code})")?;
            }
            match (&p.title, &p.detail) {
                (Some(t), Some(d)) => write!(f, ": {t}: {d}")?,
                (Some(t), None) => write!(f, ": {t}")?,
                (None, Some(d)) => write!(f, ": {d}")?,
                (None, None) => {}
            }
            for e in &p.errors {
                let pointer = e.pointer.as_deref().unwrap_or("(body)");
                write!(
                    f,
                    "; {pointer}: {}",
                    e.detail.as_deref().unwrap_or("invalid")
                )?;
                if let Some(code) = &e.code {
                    write!(f, " ({code})")?;
                }
            }
        } else if let Some(body) = &self.body_excerpt {
            if body.is_empty() {
                write!(f, " and an empty body")?;
            } else {
                write!(f, " and a body that is not a problem document: \"{body}\"")?;
            }
        }
        if !f.ends_with(['.', '!', '?']) {
            f.push('.');
        }
        if let Some(hint) = self.hint() {
            write!(f, " {hint}")?;
        }
        if self.attempts > 1 {
            write!(f, " (gave up after {} attempts)", self.attempts)?;
        }
        if let Some(id) = self.request_id() {
            write!(f, " [request id {id}]")?;
        }
        out.write_str(&text)
    }
}

/// What HostUp may have done with a request that failed ([`ApiError::delivery`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The request never left the client (no connection, or refused before it was built):
    /// HostUp did nothing.
    NotSent,
    /// HostUp answered with a refusal (a status below 500): it did not act on the request.
    Refused,
    /// No usable answer (a 5xx, no answer in time, a broken connection): HostUp may have acted.
    /// The error's text says so for every write, so a user checks before repeating it.
    Unknown,
    /// HostUp answered with success, but the answer could not be used: it acted on the request.
    Accepted,
}

impl Delivery {
    /// Whether HostUp may have carried the request out although no usable answer says so
    /// ([`Delivery::Unknown`], [`Delivery::Accepted`]): a write must then never be reported as
    /// not done, nor repeated without a check.
    pub fn may_have_acted(self) -> bool {
        matches!(self, Delivery::Unknown | Delivery::Accepted)
    }
}

/// The error of every client call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// HostUp answered with an error status.
    #[error("{0}")]
    Http(Box<HttpError>),

    /// No connection could be made, so the request was never sent and HostUp did nothing.
    #[error(
        "Could not connect to HostUp at {origin} for {method} {path} ({reason}; {attempts} \
         attempt(s)). The request was not sent, so nothing changed; check the endpoint and the \
         network, then try again."
    )]
    Connect {
        /// The HTTP method, upper case.
        method: String,
        /// The request path (no query, no host).
        path: String,
        /// Scheme, host and port the client tried to reach.
        origin: String,
        /// Why the connection failed, redacted.
        reason: String,
        /// How many times sending was tried.
        attempts: u32,
    },

    /// The endpoint's TLS certificate is not one this machine trusts. The handshake failed, so
    /// the request was never sent; trying again cannot help until the trust store changes.
    #[error(
        "The TLS certificate of {origin} is not trusted on this machine ({reason}), so {method} \
         {path} was not sent and nothing changed. If HostUp is reached through a TLS-inspecting \
         proxy or a private certificate authority, add that CA to the system's trust store, or \
         set SSL_CERT_FILE to a PEM file holding it (and the public roots, if other sites must \
         still verify) in the environment Terraform runs in; otherwise check `endpoint`."
    )]
    UntrustedCertificate {
        /// The HTTP method, upper case.
        method: String,
        /// The request path (no query, no host).
        path: String,
        /// Scheme, host and port the client tried to reach.
        origin: String,
        /// What the certificate check found, e.g. `invalid peer certificate: UnknownIssuer`.
        reason: String,
    },

    /// HostUp did not answer in time; the request may have reached it and been acted on. The
    /// text names the method, the path (never the query or the host) and how long was waited.
    #[error(
        "{method} {path} got no answer from HostUp in {} ({}). {}",
        seconds(*waited),
        attempts_of(*attempts, *timeout),
        reached_advice(method)
    )]
    Timeout {
        /// The HTTP method, upper case.
        method: String,
        /// The request path (no query, no host).
        path: String,
        /// The limit of one attempt, `ClientConfig::request_timeout`.
        timeout: Duration,
        /// Time spent waiting for answers, summed over the attempts (at most
        /// `RetryPolicy::max_answer_wait`); backoffs and rate-limit waits are not in it.
        waited: Duration,
        /// How many times the request was sent.
        attempts: u32,
    },

    /// The connection broke after the request was (possibly) sent: reset, closed, unreadable body.
    #[error(
        "The connection to HostUp broke during {method} {path} ({reason}; {attempts} \
         attempt(s)). {}",
        reached_advice(method)
    )]
    Transport {
        /// The HTTP method, upper case.
        method: String,
        /// The request path (no query, no host).
        path: String,
        /// What broke, redacted.
        reason: String,
        /// How many times the request was sent.
        attempts: u32,
    },

    /// A success answer whose body did not have the expected shape.
    #[error(
        "HostUp answered {method} {path} with HTTP {status}, but the body is not a valid {expected} \
         ({reason}). This provider may be out of date with the HostUp API."
    )]
    Decode {
        /// The HTTP method, upper case.
        method: String,
        /// The request path (no query, no host).
        path: String,
        /// The success status HostUp answered with.
        status: u16,
        /// What the body should have been, e.g. `VPS list page`.
        expected: &'static str,
        /// Why the body did not decode.
        reason: String,
    },

    /// The client configuration is unusable (endpoint, key, user agent).
    #[error("Invalid HostUp client configuration: {0}")]
    InvalidConfig(String),

    /// An id failed validation before it was put into a URL.
    #[error(
        "The {role} {shown} is not a valid HostUp id: {problem}. Ids contain only letters, digits, \
         '_' and '-' (1 to 64 characters), e.g. vps_01hxa3b4c5d6e7f8g9h0j1k2m3."
    )]
    InvalidId {
        /// What the id was for, e.g. `VPS id` or `backup id`.
        role: &'static str,
        /// The offending value, quoted, escaped and shortened.
        shown: String,
        /// What is wrong with it, e.g. `it is empty`.
        problem: &'static str,
    },

    /// A job poll URL pointed at another origin; nothing was sent there.
    #[error(
        "HostUp returned a job poll URL on another origin ({poll_origin}); the provider only \
         sends the API key to {endpoint_origin}, so it did not follow it. Check the configured \
         endpoint."
    )]
    ForeignPollUrl {
        /// The origin of the URL HostUp returned.
        poll_origin: String,
        /// The configured endpoint's origin, the only one the key goes to.
        endpoint_origin: String,
    },

    /// A job poll URL that cannot be used at all.
    #[error("HostUp returned an unusable job poll URL {shown}: {reason}.")]
    InvalidPollUrl {
        /// The URL, quoted, escaped and shortened.
        shown: String,
        /// Why it cannot be used, e.g. `it contains credentials`.
        reason: String,
    },

    /// The job record answered 404 while we were waiting for it.
    #[error(
        "The record of HostUp job {job_id} is gone (HTTP 404): HostUp keeps job records only for a \
         while, so it has probably expired. Check the state of the VPS to see whether the job \
         took effect.{}",
        request_id.as_deref().map(|r| format!(" [request id {r}]")).unwrap_or_default()
    )]
    JobRecordExpired {
        /// The job whose record is gone.
        job_id: String,
        /// HostUp's id of the 404 answer, when it sent one.
        request_id: Option<String>,
    },

    /// A paginated list did not end within the page cap.
    #[error(
        "HostUp's {what} list did not end after {pages} pages; stopped to avoid an endless walk. \
         Narrow the query or raise the page cap."
    )]
    TooManyPages {
        /// Which list, e.g. `VPS`.
        what: &'static str,
        /// The page cap that was reached.
        pages: usize,
    },
}

#[cfg(test)]
impl ApiError {
    /// HostUp's answer `status` to `method path`, with `body` read as a problem document, as the
    /// client would report it after one attempt (tests of code that maps errors).
    pub(crate) fn answered(method: &str, path: &str, status: u16, body: &str) -> ApiError {
        ApiError::Http(Box::new(HttpError {
            method: method.into(),
            path: path.into(),
            status,
            problem: Problem::from_body(body.as_bytes()),
            body_excerpt: None,
            retry_after: None,
            attempts: 1,
        }))
    }
}

/// `45 s`, `0.2 s`: whole seconds from 10 s up, tenths below.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// `1 attempt of at most 20 s`, `3 attempts of at most 20 s each`.
fn attempts_of(n: u32, timeout: Duration) -> String {
    if n == 1 {
        format!("1 attempt of at most {}", seconds(timeout))
    } else {
        format!("{n} attempts of at most {} each", seconds(timeout))
    }
}

fn reached_advice(method: &str) -> &'static str {
    if method.eq_ignore_ascii_case("GET") {
        "This was a read, so nothing changed; try again later."
    } else {
        "The request may have reached HostUp and been carried out; check the VPS and its jobs in \
         HostUp before trying again, because repeating it could act twice."
    }
}

impl ApiError {
    /// The HTTP status, when HostUp answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http(h) => Some(h.status),
            ApiError::Decode { status, .. } => Some(*status),
            ApiError::JobRecordExpired { .. } => Some(404),
            _ => None,
        }
    }

    /// The problem document's `code`, when there was one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Http(h) => h.code(),
            _ => None,
        }
    }

    /// The problem document's `requestId`, to quote to HostUp support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ApiError::Http(h) => h.request_id(),
            ApiError::JobRecordExpired { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The full problem document, when HostUp sent one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ApiError::Http(h) => h.problem.as_ref(),
            _ => None,
        }
    }

    /// Whether HostUp answered 404 (the object or job record does not exist).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// What HostUp may have done with the failed request, as far as the client can know. For a
    /// write this decides what a user is told: that nothing changed, or to check HostUp before
    /// trying again.
    pub fn delivery(&self) -> Delivery {
        match self {
            ApiError::Http(h) if h.status < 500 => Delivery::Refused,
            ApiError::JobRecordExpired { .. } => Delivery::Refused,
            ApiError::Http(_) | ApiError::Timeout { .. } | ApiError::Transport { .. } => {
                Delivery::Unknown
            }
            ApiError::Decode { .. } | ApiError::TooManyPages { .. } => Delivery::Accepted,
            ApiError::Connect { .. }
            | ApiError::UntrustedCertificate { .. }
            | ApiError::InvalidConfig(_)
            | ApiError::InvalidId { .. }
            | ApiError::ForeignPollUrl { .. }
            | ApiError::InvalidPollUrl { .. } => Delivery::NotSent,
        }
    }

    /// Whether HostUp may have received (and acted on) the request. `false` only when that is
    /// certain: the connection was never made, or the request was refused before it was built.
    pub fn may_have_reached_hostup(&self) -> bool {
        self.delivery() != Delivery::NotSent
    }

    pub(crate) fn set_attempts(&mut self, n: u32) {
        match self {
            ApiError::Http(h) => h.attempts = n,
            ApiError::Connect { attempts, .. }
            | ApiError::Timeout { attempts, .. }
            | ApiError::Transport { attempts, .. } => *attempts = n,
            _ => {}
        }
    }
}

/// Replaces every occurrence of `secret` in `s`.
pub(crate) fn redact(s: &str, secret: &str) -> String {
    if secret.is_empty() {
        s.to_owned()
    } else {
        s.replace(secret, "[redacted]")
    }
}

/// A short, printable excerpt of an unexpected body: the secret removed first (so no fragment of
/// it survives truncation), control characters and runs of whitespace collapsed to one space,
/// cut to at most `max` bytes on a character boundary.
pub(crate) fn excerpt(body: &[u8], max: usize, secret: &str) -> String {
    let window = &body[..body.len().min(max * 4 + secret.len())];
    let text = redact(&String::from_utf8_lossy(window), secret);
    let mut out = String::with_capacity(max + 4);
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        if out.len() + c.len_utf8() > max {
            out.push('…');
            return out;
        }
        last_space = c == ' ';
        out.push(c);
    }
    if body.len() > window.len() {
        out.push('…');
    }
    out.trim_end().to_owned()
}

/// A user-supplied or server-supplied value shown in a message: quoted, escaped, shortened.
pub(crate) fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(80).collect();
    if value.chars().count() > 80 {
        s.push('…');
    }
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_post_whose_outcome_is_unknown_says_so_and_only_those() {
        let http = |status| ApiError::answered("POST", "/api/v2/vps/vps_1/backups", status, "");
        let unknown = [
            http(500),
            http(503),
            ApiError::Timeout {
                method: "POST".into(),
                path: "/p".into(),
                timeout: Duration::from_secs(20),
                waited: Duration::from_secs(20),
                attempts: 1,
            },
            ApiError::Transport {
                method: "POST".into(),
                path: "/p".into(),
                reason: "reset".into(),
                attempts: 1,
            },
        ];
        for e in unknown {
            assert_eq!(e.delivery(), Delivery::Unknown, "{e}");
            assert!(e.to_string().contains("may have reached HostUp"), "{e}");
        }
        for (e, delivery) in [
            (http(409), Delivery::Refused),
            (http(429), Delivery::Refused),
            (
                ApiError::Decode {
                    method: "POST".into(),
                    path: "/p".into(),
                    status: 202,
                    expected: "job",
                    reason: "not JSON".into(),
                },
                Delivery::Accepted,
            ),
            (
                ApiError::Connect {
                    method: "POST".into(),
                    path: "/p".into(),
                    origin: "https://x".into(),
                    reason: "refused".into(),
                    attempts: 1,
                },
                Delivery::NotSent,
            ),
        ] {
            assert_eq!(e.delivery(), delivery, "{e}");
            assert!(!e.to_string().contains("may have reached HostUp"), "{e}");
            assert_eq!(e.may_have_reached_hostup(), delivery != Delivery::NotSent);
        }
    }

    #[test]
    fn timeout_names_the_request_the_time_waited_and_the_attempts() {
        let timeout = |method: &str, waited: u64, attempts| ApiError::Timeout {
            method: method.into(),
            path: "/api/v2/vps/vps_1".into(),
            timeout: Duration::from_secs(20),
            waited: Duration::from_millis(waited),
            attempts,
        };
        assert_eq!(
            timeout("GET", 45_012, 3).to_string(),
            "GET /api/v2/vps/vps_1 got no answer from HostUp in 45 s (3 attempts of at most 20 s \
             each). This was a read, so nothing changed; try again later."
        );
        let post = timeout("POST", 20_003, 1).to_string();
        assert!(
            post.starts_with(
                "POST /api/v2/vps/vps_1 got no answer from HostUp in 20 s (1 attempt of at most 20 s)"
            ),
            "{post}"
        );
        assert!(post.contains("may have reached HostUp"), "{post}");
        assert!(timeout("GET", 740, 3).to_string().contains(" in 0.7 s "));
    }

    #[test]
    fn problem_document_is_read_with_field_errors() {
        let body = br#"{"type":"https://developer.hostup.se/errors/invalid_request","title":"Validation failed",
            "status":400,"detail":"Backup does not belong to source","code":"invalid_request",
            "requestId":"req_01","errors":[{"pointer":"/backupId","detail":"not under source","code":"invalid"}],
            "extensions":{"x":1}}"#;
        let p = Problem::from_body(body).expect("problem");
        assert_eq!(p.code.as_deref(), Some("invalid_request"));
        assert_eq!(p.status, Some(400));
        assert_eq!(p.request_id.as_deref(), Some("req_01"));
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].pointer.as_deref(), Some("/backupId"));
    }

    #[test]
    fn legacy_error_body_is_folded_into_a_problem() {
        let p = Problem::from_body(
            br#"{"code":"UNAUTHORIZED","error":"Unauthorized","message":"bad key","requestId":"u-1"}"#,
        )
        .expect("problem");
        assert_eq!(p.title.as_deref(), Some("Unauthorized"));
        assert_eq!(p.detail.as_deref(), Some("bad key"));
    }

    #[test]
    fn json_without_problem_fields_is_not_a_problem() {
        assert!(Problem::from_body(br#"{"hello":"world"}"#).is_none());
        assert!(Problem::from_body(b"<html>502</html>").is_none());
        assert!(Problem::from_body(b"[1,2]").is_none());
    }

    #[test]
    fn excerpt_is_short_printable_and_without_secret() {
        let mut body = b"<html>\r\n\t<body>token SECRETKEY here\x00\x07".to_vec();
        body.extend(std::iter::repeat_n(b'x', 1000));
        let e = excerpt(&body, 200, "SECRETKEY");
        assert!(e.len() <= 200 + '…'.len_utf8(), "{}", e.len());
        assert!(!e.contains("SECRETKEY"));
        assert!(e.contains("[redacted]"));
        assert!(!e.chars().any(|c| c.is_control()));
        assert!(e.starts_with("<html> <body>token [redacted] here"), "{e}");
        assert!(e.ends_with('…'));
        // A multi-byte character at the cut never splits.
        let e = excerpt("é".repeat(300).as_bytes(), 201, "");
        assert!(e.len() <= 201 + 3);
    }

    #[test]
    fn http_error_display_names_code_detail_pointer_and_request_id() {
        let err = ApiError::answered(
            "POST",
            "/api/v2/vps/vps_a/backups/actions/restore-from-vps",
            409,
            r#"{"title":"Not ready","detail":"A job is running","code":"vps_not_ready","requestId":"req_9",
                "errors":[{"pointer":"/sourceVpsId","detail":"same VPS","code":"same_vps"}]}"#,
        );
        let s = err.to_string();
        for part in [
            "HTTP 409",
            "vps_not_ready",
            "A job is running",
            "/sourceVpsId: same VPS (same_vps)",
            "[request id req_9]",
        ] {
            assert!(s.contains(part), "{s:?} lacks {part:?}");
        }
        assert_eq!(err.code(), Some("vps_not_ready"));
        assert_eq!(err.request_id(), Some("req_9"));
        assert!(err.may_have_reached_hostup());
    }
}
