//! The HostUp client: one reqwest client with rustls (aws-lc-rs provider, built here rather than
//! installed process-wide), the request loop with its retry rules, and one method per endpoint.
//!
//! Retry rules: reads (GET) and DELETE, which is idempotent, are sent again on 429, 502, 503, 504
//! and on any transport failure. A POST (restore, backup create, power action) is sent again only when HostUp
//! provably did not act on it: the connection could not be made, or it answered 429. Never after a
//! timeout, a broken connection or a 5xx, because a second destructive restore is worse than a
//! clear error. Waits honour `Retry-After` (seconds or HTTP date), then `X-RateLimit-Reset`, then
//! exponential backoff with jitter, all within the policy's attempt and time bounds.
//!
//! Waiting bounds (the numbers and their reasons are in the `config` module): each attempt has a
//! timeout, and one request waits at most `RetryPolicy::max_answer_wait` for answers over all its
//! attempts, so a read of an API that has gone silent fails in well under a minute with an error
//! naming the endpoint and the time waited. Waits for the rate limit are not answer waits and are
//! bounded separately (`RetryPolicy::max_elapsed`, the announced reset).

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::time::Instant;
use url::Url;

use super::config::{ApiKey, ClientConfig, RetryPolicy, DEFAULT_REQUEST_TIMEOUT};
use super::endpoint::{validate_id, Endpoint};
use super::error::{excerpt, redact, ApiError, HttpError, Problem};
use super::models::{
    BackupList, DeleteOutcome, GateLookup, Job, Operation, Page, PowerAction, RestoreSource,
    RestoreSourcesBody, Vps, VpsDetails, VpsStatus,
};
use super::ratelimit::{reset_wait, retry_after, RateLimiter, WaitTicket};

/// Largest body read; a bigger one is cut off and then fails to decode.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Page size used when walking `GET /api/v2/vps`.
const LIST_PAGE_SIZE: u32 = 100;
/// Default page cap of [`Client::list_vps`] (5 000 VPS at 100 per page).
pub const DEFAULT_MAX_PAGES: usize = 50;
/// No attempt is started with less answer budget left than this (or than the whole per-attempt
/// timeout, when that is shorter): a shorter attempt would mostly time out on a healthy but busy
/// HostUp, adding a request and no chance of an answer.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// How many requests the client has sent, per method; every retry counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `GET` requests.
    pub get: u64,
    /// `POST` requests.
    pub post: u64,
    /// `DELETE` requests.
    pub delete: u64,
    /// Requests with any other method.
    pub other: u64,
}

impl RequestCounts {
    /// All requests, whatever the method.
    pub fn total(&self) -> u64 {
        self.get + self.post + self.delete + self.other
    }
}

#[derive(Debug, Default)]
struct Counters {
    get: AtomicU64,
    post: AtomicU64,
    delete: AtomicU64,
    other: AtomicU64,
}

impl Counters {
    fn count(&self, method: &Method) {
        let c = match *method {
            Method::GET => &self.get,
            Method::POST => &self.post,
            Method::DELETE => &self.delete,
            _ => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            get: self.get.load(Ordering::Relaxed),
            post: self.post.load(Ordering::Relaxed),
            delete: self.delete.load(Ordering::Relaxed),
            other: self.other.load(Ordering::Relaxed),
        }
    }
}

/// The HostUp REST client. Cloning is cheap; clones share the connection pool, the rate limiter
/// and the request counters, so one client per process serves every concurrent operation.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Endpoint,
    api_key: ApiKey,
    auth: HeaderValue,
    request_timeout: Duration,
    retry: RetryPolicy,
    limiter: RateLimiter,
    counters: Counters,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint.origin())
            .field("api_key", &self.inner.api_key)
            .field("request_timeout", &self.inner.request_timeout)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// A success answer, body read.
struct Answer {
    method: Method,
    path: String,
    status: u16,
    body: Vec<u8>,
}

fn root_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = rustls::RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(native.certs);
            if store.is_empty() {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(store)
        })
        .clone()
}

fn tls_config() -> Result<rustls::ClientConfig, ApiError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ApiError::InvalidConfig(format!("TLS setup failed: {e}")))?
        .with_root_certificates(root_roots())
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// The innermost cause of a transport error ("Connection refused (os error 111)"): short, and
/// free of the URL that reqwest's own message repeats.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The certificate check's verdict when the TLS handshake failed on the server's certificate
/// (unknown issuer, expired, wrong name...): a fault of trust, not of the network.
fn untrusted_certificate(e: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        // io::Error's source() skips the error it wraps, so look inside it by hand.
        let inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static));
        for candidate in [Some(c), inner].into_iter().flatten() {
            if let Some(err @ rustls::Error::InvalidCertificate(_)) =
                candidate.downcast_ref::<rustls::Error>()
            {
                return Some(err.to_string());
            }
        }
        cause = inner.or_else(|| c.source());
    }
    None
}

impl Client {
    /// Checks the configuration and builds the client. Fails on a non-https endpoint (except
    /// loopback), an empty or non-printable key, or a bad user-agent suffix.
    pub fn new(config: ClientConfig) -> Result<Client, ApiError> {
        let endpoint = Endpoint::new(&config.endpoint)?;
        if config.api_key.is_empty() {
            return Err(ApiError::InvalidConfig("the API key is empty".into()));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.api_key.expose()))
            .map_err(|_| {
                ApiError::InvalidConfig(
                    "the API key contains characters that cannot be sent in an HTTP header".into(),
                )
            })?;
        auth.set_sensitive(true);
        let mut user_agent = format!("terraform-provider-hostup/{}", crate::VERSION);
        if let Some(suffix) = config
            .user_agent_suffix
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            user_agent.push(' ');
            user_agent.push_str(suffix);
        }
        let user_agent = HeaderValue::from_str(&user_agent).map_err(|_| {
            ApiError::InvalidConfig("the user agent suffix is not a valid header value".into())
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let timeout = if config.request_timeout.is_zero() {
            DEFAULT_REQUEST_TIMEOUT
        } else {
            config.request_timeout
        };
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config()?)
            .user_agent(user_agent)
            .default_headers(headers)
            // An API answer never needs a redirect, and not following one keeps the key at home.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| ApiError::InvalidConfig(format!("HTTP client setup failed: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoint,
                api_key: config.api_key,
                auth,
                request_timeout: timeout,
                retry: config.retry,
                limiter: RateLimiter::default(),
                counters: Counters::default(),
            }),
        })
    }

    /// Requests sent so far by this client and its clones.
    pub fn request_counts(&self) -> RequestCounts {
        self.inner.counters.snapshot()
    }

    // ----- endpoints -------------------------------------------------------------------------

    /// One page of `GET /api/v2/vps`. `limit` is clamped to 1..=100.
    pub async fn list_vps_page(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page<Vps>, ApiError> {
        let mut url = self.inner.endpoint.api_url(&["vps"]);
        {
            let mut q = url.query_pairs_mut();
            if let Some(limit) = limit {
                q.append_pair("limit", &limit.clamp(1, 100).to_string());
            }
            if let Some(cursor) = cursor {
                q.append_pair("cursor", cursor);
            }
        }
        let answer = self.execute(Method::GET, url, None).await?;
        self.decode(&answer, "VPS list page")
    }

    /// Every VPS, walking `nextCursor` up to [`DEFAULT_MAX_PAGES`] pages.
    pub async fn list_vps(&self) -> Result<Vec<Vps>, ApiError> {
        self.list_vps_capped(DEFAULT_MAX_PAGES).await
    }

    /// Every VPS, walking at most `max_pages` pages; more is an error rather than a silently
    /// cut list.
    pub async fn list_vps_capped(&self, max_pages: usize) -> Result<Vec<Vps>, ApiError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen = HashSet::new();
        for _ in 0..max_pages.max(1) {
            let page = self
                .list_vps_page(Some(LIST_PAGE_SIZE), cursor.as_deref())
                .await?;
            all.extend(page.data);
            match page.next_cursor.filter(|c| !c.is_empty()) {
                Some(next) if page.has_more => {
                    if !seen.insert(next.clone()) {
                        return Err(ApiError::Decode {
                            method: "GET".into(),
                            path: "/api/v2/vps".into(),
                            status: 200,
                            expected: "VPS list page",
                            reason: "nextCursor repeats an earlier cursor".into(),
                        });
                    }
                    cursor = Some(next);
                }
                None if page.has_more => {
                    tracing::warn!("HostUp said the VPS list has more pages but sent no cursor");
                    return Ok(all);
                }
                _ => return Ok(all),
            }
        }
        Err(ApiError::TooManyPages {
            what: "VPS",
            pages: max_pages.max(1),
        })
    }

    /// `GET /api/v2/vps/{id}`.
    pub async fn get_vps(&self, id: &str) -> Result<Vps, ApiError> {
        validate_id("VPS id", id)?;
        let url = self.inner.endpoint.api_url(&["vps", id]);
        let answer = self.execute(Method::GET, url, None).await?;
        self.decode(&answer, "VPS")
    }

    /// `GET /api/v2/vps/{id}/details`.
    pub async fn get_vps_details(&self, id: &str) -> Result<VpsDetails, ApiError> {
        validate_id("VPS id", id)?;
        let url = self.inner.endpoint.api_url(&["vps", id, "details"]);
        let answer = self.execute(Method::GET, url, None).await?;
        self.decode(&answer, "VPS details")
    }

    /// `GET /api/v2/vps/{id}/status`: the live power state.
    pub async fn get_vps_status(&self, id: &str) -> Result<VpsStatus, ApiError> {
        validate_id("VPS id", id)?;
        let url = self.inner.endpoint.api_url(&["vps", id, "status"]);
        let answer = self.execute(Method::GET, url, None).await?;
        self.decode(&answer, "VPS status")
    }

    /// `POST /api/v2/vps/{id}/actions/{action}`: a power action, answered with a job to wait for.
    /// Sent once, except when HostUp provably did not act (see module), as a restore is.
    pub async fn power_action(&self, id: &str, action: PowerAction) -> Result<Operation, ApiError> {
        validate_id("VPS id", id)?;
        let url = self
            .inner
            .endpoint
            .api_url(&["vps", id, "actions", action.as_str()]);
        let answer = self.execute(Method::POST, url, None).await?;
        self.decode_operation(&answer)
    }

    /// The cross-VPS restore gate of a target: `actions.canRestoreFromAnotherVps` of
    /// `GET /vps/{id}`, else of `/details`, else [`GateLookup::Unknown`].
    pub async fn restore_gate(&self, id: &str) -> Result<GateLookup, ApiError> {
        let vps = self.get_vps(id).await?;
        match GateLookup::from_answers(&vps, None) {
            GateLookup::Unknown => {
                let details = self.get_vps_details(id).await?;
                Ok(GateLookup::from_answers(&vps, Some(&details)))
            }
            found => Ok(found),
        }
    }

    /// `GET /api/v2/vps/{id}/backups/restore-sources`: what can be restored onto this target.
    pub async fn restore_sources(&self, target_id: &str) -> Result<Vec<RestoreSource>, ApiError> {
        validate_id("target VPS id", target_id)?;
        let url = self
            .inner
            .endpoint
            .api_url(&["vps", target_id, "backups", "restore-sources"]);
        let answer = self.execute(Method::GET, url, None).await?;
        let body: RestoreSourcesBody = self.decode(&answer, "restore-sources answer")?;
        Ok(body.sources)
    }

    /// `POST /api/v2/vps/{id}/backups/actions/restore-from-vps`: overwrites the target with a
    /// backup of another VPS. Sent once, except when HostUp provably did not act (see module).
    pub async fn restore_from_vps(
        &self,
        target_id: &str,
        source_vps_id: &str,
        backup_id: &str,
    ) -> Result<Operation, ApiError> {
        validate_id("target VPS id", target_id)?;
        validate_id("source VPS id", source_vps_id)?;
        validate_id("backup id", backup_id)?;
        let url = self.inner.endpoint.api_url(&[
            "vps",
            target_id,
            "backups",
            "actions",
            "restore-from-vps",
        ]);
        let body = json!({ "sourceVpsId": source_vps_id, "backupId": backup_id });
        let answer = self.execute(Method::POST, url, Some(&body)).await?;
        self.decode_operation(&answer)
    }

    /// `GET /api/v2/vps/{id}/backups`: backups, quota and the backup gates.
    pub async fn list_backups(&self, id: &str) -> Result<BackupList, ApiError> {
        validate_id("VPS id", id)?;
        let url = self.inner.endpoint.api_url(&["vps", id, "backups"]);
        let answer = self.execute(Method::GET, url, None).await?;
        self.decode(&answer, "backup list")
    }

    /// `POST /api/v2/vps/{id}/backups` with an optional note.
    pub async fn create_backup(&self, id: &str, note: Option<&str>) -> Result<Operation, ApiError> {
        validate_id("VPS id", id)?;
        let url = self.inner.endpoint.api_url(&["vps", id, "backups"]);
        let body = match note {
            Some(note) => json!({ "note": note }),
            None => json!({}),
        };
        let answer = self.execute(Method::POST, url, Some(&body)).await?;
        self.decode_operation(&answer)
    }

    /// `DELETE /api/v2/vps/{id}/backups/{backupId}`. A 404 is [`DeleteOutcome::AlreadyGone`]; an
    /// answer with an operation envelope is [`DeleteOutcome::Queued`], a job to wait for.
    pub async fn delete_backup(
        &self,
        id: &str,
        backup_id: &str,
    ) -> Result<DeleteOutcome, ApiError> {
        validate_id("VPS id", id)?;
        validate_id("backup id", backup_id)?;
        let url = self
            .inner
            .endpoint
            .api_url(&["vps", id, "backups", backup_id]);
        match self.execute(Method::DELETE, url, None).await {
            Ok(answer) => Ok(DeleteOutcome::from_success_body(&answer.body)),
            Err(ApiError::Http(h)) if h.status == 404 => Ok(DeleteOutcome::AlreadyGone {
                code: h.code().map(str::to_owned),
                request_id: h.request_id().map(str::to_owned),
            }),
            Err(e) => Err(e),
        }
    }

    /// `GET` on a job's `pollUrl` (relative, or absolute on the endpoint's own origin).
    pub async fn get_job(&self, poll_url: &str) -> Result<Job, ApiError> {
        let url = self.inner.endpoint.resolve_poll_url(poll_url)?;
        let answer = self.execute(Method::GET, url, None).await?;
        let value: Value = self.decode(&answer, "job record")?;
        Job::from_value(&value).map_err(|reason| self.decode_error(&answer, "job record", reason))
    }

    // ----- plumbing --------------------------------------------------------------------------

    /// Whether the rate-limit budget is short now (see `RateLimiter::scarce`).
    pub(crate) fn rate_budget_scarce(&self) -> bool {
        self.inner.limiter.scarce()
    }

    /// Counts a job wait for [`Client::poll_floor`] while the ticket lives.
    pub(crate) fn join_wait(&self) -> WaitTicket<'_> {
        self.inner.limiter.join_wait()
    }

    /// The shortest gap between two polls of one wait (see `RateLimiter::poll_floor`).
    pub(crate) fn poll_floor(&self) -> Duration {
        self.inner.limiter.poll_floor()
    }

    pub(crate) fn check_poll_url(&self, poll_url: &str) -> Result<(), ApiError> {
        self.inner.endpoint.resolve_poll_url(poll_url).map(|_| ())
    }

    fn decode_error(&self, answer: &Answer, expected: &'static str, reason: String) -> ApiError {
        ApiError::Decode {
            method: answer.method.to_string(),
            path: answer.path.clone(),
            status: answer.status,
            expected,
            reason: redact(&reason, self.inner.api_key.expose()),
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        answer: &Answer,
        expected: &'static str,
    ) -> Result<T, ApiError> {
        serde_json::from_slice(&answer.body)
            .map_err(|e| self.decode_error(answer, expected, e.to_string()))
    }

    fn decode_operation(&self, answer: &Answer) -> Result<Operation, ApiError> {
        let value: Value = self.decode(answer, "operation envelope")?;
        Operation::from_value(&value)
            .map_err(|reason| self.decode_error(answer, "operation envelope", reason))
    }

    fn http_error(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        attempts: u32,
    ) -> ApiError {
        let key = self.inner.api_key.expose();
        let mut problem = Problem::from_body(body);
        if let Some(p) = &mut problem {
            p.redact(key);
        }
        let body_excerpt = problem.is_none().then(|| excerpt(body, 200, key));
        let wait = retry_after(headers).or_else(|| {
            (status == StatusCode::TOO_MANY_REQUESTS)
                .then(|| reset_wait(headers))
                .flatten()
        });
        ApiError::Http(Box::new(HttpError {
            method: method.to_string(),
            path: path.to_owned(),
            status: status.as_u16(),
            problem,
            body_excerpt,
            retry_after: wait,
            attempts,
        }))
    }

    fn transport_error(
        &self,
        e: &reqwest::Error,
        method: &Method,
        url: &Url,
        attempts: u32,
        waited: Duration,
    ) -> ApiError {
        let reason = redact(&root_cause(e), self.inner.api_key.expose());
        let (method, path) = (method.to_string(), url.path().to_owned());
        if let Some(reason) = untrusted_certificate(e) {
            ApiError::UntrustedCertificate {
                method,
                path,
                origin: self.inner.endpoint.origin(),
                reason: redact(&reason, self.inner.api_key.expose()),
            }
        } else if e.is_connect() {
            ApiError::Connect {
                method,
                path,
                origin: self.inner.endpoint.origin(),
                reason,
                attempts,
            }
        } else if e.is_timeout() {
            ApiError::Timeout {
                method,
                path,
                timeout: self.inner.request_timeout,
                waited,
                attempts,
            }
        } else {
            ApiError::Transport {
                method,
                path,
                reason,
                attempts,
            }
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .timeout(timeout)
            .header(AUTHORIZATION, self.inner.auth.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut buf = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            let room = MAX_BODY_BYTES - buf.len();
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if buf.len() >= MAX_BODY_BYTES {
                break;
            }
        }
        Ok((status, headers, buf))
    }

    /// Sends a request under the retry rules and returns a 2xx answer or the last error.
    async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Answer, ApiError> {
        let policy = &self.inner.retry;
        let max_attempts = policy.max_attempts.max(1);
        let idempotent = method != Method::POST;
        let started = Instant::now();
        let path = url.path().to_owned();
        let per_attempt = self.inner.request_timeout;
        let budget = if policy.max_answer_wait.is_zero() {
            per_attempt
        } else {
            policy.max_answer_wait
        };
        // Time spent waiting for HostUp's answers, summed over the attempts. The rate limiter's
        // waits and the backoffs happen outside it: HostUp is not silent then, we are waiting.
        let mut answer_wait = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.inner.limiter.acquire().await;
            self.inner.counters.count(&method);
            let timeout = per_attempt.min(budget.saturating_sub(answer_wait));
            let sent = Instant::now();
            let result = self.send_once(&method, &url, body, timeout).await;
            let took = sent.elapsed();
            answer_wait += took;
            let took_ms = took.as_millis() as u64;
            let (wait, mut err) = match result {
                Ok((status, headers, bytes)) => {
                    self.inner.limiter.observe(&headers);
                    tracing::debug!(
                        method = %method, path = %path, status = status.as_u16(), attempt,
                        duration_ms = took_ms, "HostUp request"
                    );
                    if status.is_success() {
                        return Ok(Answer {
                            method,
                            path,
                            status: status.as_u16(),
                            body: bytes,
                        });
                    }
                    let err = self.http_error(&method, &path, status, &headers, &bytes, attempt);
                    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS;
                    let retryable = rate_limited
                        || (idempotent
                            && matches!(
                                status,
                                StatusCode::BAD_GATEWAY
                                    | StatusCode::SERVICE_UNAVAILABLE
                                    | StatusCode::GATEWAY_TIMEOUT
                            ));
                    if !retryable {
                        return Err(err);
                    }
                    let hinted = match &err {
                        ApiError::Http(h) => h.retry_after,
                        _ => None,
                    };
                    let wait = hinted.unwrap_or_else(|| policy.backoff(attempt));
                    if rate_limited {
                        self.inner.limiter.block_for(wait);
                    }
                    (wait, err)
                }
                Err(e) => {
                    let err = self.transport_error(&e, &method, &url, attempt, answer_wait);
                    tracing::debug!(
                        method = %method, path = %path, attempt, duration_ms = took_ms,
                        error = %root_cause(&e).replace(self.inner.api_key.expose(), "[redacted]"),
                        "HostUp request failed"
                    );
                    let retryable = match err {
                        // Trust does not come back by itself: failing now is the honest answer.
                        ApiError::UntrustedCertificate { .. } => false,
                        // Never sent, so even a POST is safe to try again.
                        ApiError::Connect { .. } => true,
                        _ => idempotent,
                    };
                    if !retryable {
                        return Err(err);
                    }
                    (policy.backoff(attempt), err)
                }
            };
            let answer_budget_spent =
                budget.saturating_sub(answer_wait) < MIN_ATTEMPT.min(per_attempt);
            if attempt >= max_attempts
                || started.elapsed() + wait > policy.max_elapsed
                || answer_budget_spent
            {
                err.set_attempts(attempt);
                return Err(err);
            }
            tracing::debug!(method = %method, path = %path, attempt, wait_ms = wait.as_millis() as u64,
                "retrying HostUp request");
            tokio::time::sleep(wait).await;
        }
    }
}
