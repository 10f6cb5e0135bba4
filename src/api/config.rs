//! The client's configuration: where HostUp is, the API key (a secret newtype that never prints),
//! timeouts and the retry policy. Defaults are the production values; tests shrink them.

use std::fmt;
use std::time::Duration;

use url::Url;

/// The HostUp API key. Its `Debug` never shows the key and it has no `Display`, so it cannot end
/// up in a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; surrounding whitespace (a trailing newline from a file or variable) is dropped.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into().trim().to_owned())
    }

    /// Whether the key is empty (after trimming), which the client refuses.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// When and how often a failed request is sent again. Only requests that are safe to repeat are
/// retried (see the `client` module); these numbers bound how long that may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total sends of one request, the first included. 0 counts as 1.
    pub max_attempts: u32,
    /// No retry is started if its wait would end later than this after the first send.
    pub max_elapsed: Duration,
    /// First backoff when the answer carries no `Retry-After`; doubles per attempt, with jitter.
    pub initial_backoff: Duration,
    /// Cap of a single backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_elapsed: Duration::from_secs(120),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The backoff before send number `attempt + 1` (attempt counts from 1): exponential with
    /// "equal jitter", so it is at least half the nominal value and never above `max_backoff`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let nominal = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let half = nominal / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(0..=jitter_nanos))
    }
}

/// Everything `Client::new` needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// HostUp's root URL, e.g. `https://cloud.hostup.se` (a trailing `/api/v2` is accepted and
    /// dropped). Must be `https`, except on a loopback host (127.0.0.0/8, ::1, localhost).
    pub endpoint: Url,
    /// The key sent as `Authorization: Bearer`; never printed.
    pub api_key: ApiKey,
    /// Limit on one send, from connecting until the whole body is read.
    pub request_timeout: Duration,
    /// When and how often failed requests are sent again.
    pub retry: RetryPolicy,
    /// Appended to `User-Agent: terraform-provider-hostup/<version>`, e.g. `terraform/1.9.5`.
    pub user_agent_suffix: Option<String>,
}

/// HostUp's production root URL.
pub const DEFAULT_ENDPOINT: &str = "https://cloud.hostup.se";

impl ClientConfig {
    /// A configuration with the default timeout and retry policy.
    pub fn new(endpoint: Url, api_key: ApiKey) -> ClientConfig {
        ClientConfig {
            endpoint,
            api_key,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            user_agent_suffix: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_debug_hides_the_key_and_trims() {
        let key = ApiKey::new("  hu_live_supersecret\n");
        assert_eq!(key.expose(), "hu_live_supersecret");
        let cfg = ClientConfig::new(Url::parse("https://cloud.hostup.se").unwrap(), key);
        let dbg = format!("{cfg:?} {:?}", cfg.api_key);
        assert!(!dbg.contains("supersecret"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            max_elapsed: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let b1 = p.backoff(1);
            assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
            let b3 = p.backoff(3);
            assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
            let b30 = p.backoff(30);
            assert!(b30 >= Duration::from_millis(500) && b30 <= Duration::from_millis(1000));
        }
    }
}
