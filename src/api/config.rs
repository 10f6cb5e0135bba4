//! The client's configuration: where HostUp is, the API key (a secret newtype that never prints),
//! timeouts and the retry policy. Defaults are the production values; tests shrink them.
//!
//! How long one request may wait is decided here and nowhere else (see
//! [`DEFAULT_REQUEST_TIMEOUT`] and [`DEFAULT_MAX_ANSWER_WAIT`]); `docs/index.md` ("Timeouts and
//! retries") states the same numbers for users.

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

// The bounds on waiting for HostUp, one rule for every request (issue 12: "a GET that never
// answers ends the plan within 60 s, naming the endpoint and the time waited"):
//
// - One attempt gets DEFAULT_REQUEST_TIMEOUT = 20 s, from connecting until the whole body is read.
//   HostUp answers every endpoint the provider uses in well under a second (they read a record or
//   queue a job; the work itself is a job that is polled), so an answer that has not come in 20 s
//   is not coming on that connection; 20 s still leaves room for a slow TLS handshake and a cold
//   backend. A POST (restore, backup) gets this one attempt and is never sent again after it, so
//   its timeout is also how long a user waits before being told the write may have reached
//   HostUp.
// - One request (all its attempts together) waits at most DEFAULT_MAX_ANSWER_WAIT = 45 s for
//   answers. That is two full attempts (a connection that went silent, then a fresh one) and a
//   last attempt of what is left (about 5 s, plenty for a healthy answer). With the backoffs
//   between them (under 1.5 s in total with the default policy) a read of an API that never
//   answers fails after at most about 47 s, which leaves a plan the rest of its minute for
//   starting Terraform and the provider.
// - Only time spent waiting for an answer counts against the 45 s. Waiting because HostUp asked
//   us to (429 Retry-After, or pacing while X-RateLimit-Remaining runs low) is not silence: the
//   rate limiter's pacing lasts at most until HostUp's announced reset, and a retry after a 429
//   is bounded by `RetryPolicy::max_elapsed` (120 s from the first send; a longer Retry-After
//   fails at once and says when to try again). Many restores at once under a rate limit rely on
//   those waits, so they must not eat the answer budget.

/// How long one attempt may take, from connecting until the whole body is read (see above).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one request may wait for answers, summed over its attempts (see above).
pub const DEFAULT_MAX_ANSWER_WAIT: Duration = Duration::from_secs(45);

/// When and how often a failed request is sent again. Only requests that are safe to repeat are
/// retried (see the `client` module); these numbers bound how long that may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total sends of one request, the first included. 0 counts as 1.
    pub max_attempts: u32,
    /// No retry is started if its wait would end later than this after the first send. Rate-limit
    /// waits count here (and only here).
    pub max_elapsed: Duration,
    /// The most time one request spends waiting for HostUp's answers, summed over its attempts;
    /// each attempt's timeout is cut to what is left, and no attempt starts with less than a
    /// second (or `ClientConfig::request_timeout`, when shorter) left. Backoffs and rate-limit
    /// waits do not count. Zero counts as one `request_timeout`.
    pub max_answer_wait: Duration,
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
            max_answer_wait: DEFAULT_MAX_ANSWER_WAIT,
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
    /// Limit on one attempt, from connecting until the whole body is read; zero means
    /// [`DEFAULT_REQUEST_TIMEOUT`].
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
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
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
            max_answer_wait: Duration::from_secs(60),
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
