//! The layer every /api request passes: request id, added latency, per-key rate limit, held
//! requests (hang), injected failures (burst, fail-next, fail-rate), rendering of problem
//! documents, X-RateLimit-* headers and the request log.
//!
//! A held request (`POST /_sim/hang`) is a silent API: the request is read and logged at once
//! (with no status, `fault: "hang"`), then nothing is sent back until the hold ends, when it gets
//! a 504 that no patient client should ever see.
//!
//! The rate limit is keyed by the presented credential (or "anonymous"); the credential lives only
//! in memory for that purpose and never reaches the log, which records only whether one was sent.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{json, Value};

use crate::problem::Problem;
use crate::render::iso;
use crate::settings::Settings;
use crate::Shared;

/// "The next `remaining` matching requests fail with `status`."
#[derive(Clone, Debug)]
pub(crate) struct Injection {
    pub remaining: u32,
    pub status: u16,
    pub code: Option<String>,
    pub method: Option<String>,
    pub path_prefix: Option<String>,
}

/// "The next `remaining` matching requests get no answer for `hold`."
#[derive(Clone, Debug)]
pub(crate) struct Hang {
    pub remaining: u32,
    pub method: Option<String>,
    pub path_suffix: Option<String>,
    pub hold: Duration,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    reset_at: chrono::DateTime<Utc>,
    count: u32,
}

#[derive(Debug)]
pub(crate) struct Faults {
    rate_limit: Option<(u32, Duration)>,
    windows: HashMap<String, Window>,
    pub injections: Vec<Injection>,
    pub hangs: Vec<Hang>,
    fail_rate: f64,
    fail_method: Option<String>,
    fail_path: Option<String>,
    latency: Duration,
    rng: fastrand::Rng,
}

/// Outcome of the rate limiter for one request.
struct RateDecision {
    headers: Vec<(&'static str, String)>,
    retry_after: Option<u64>,
}

impl Faults {
    pub(crate) fn new(s: &Settings) -> Faults {
        let mut injections = Vec::new();
        if s.burst > 0 {
            injections.push(Injection {
                remaining: s.burst,
                status: s.burst_status,
                code: None,
                method: None,
                path_prefix: None,
            });
        }
        Faults {
            rate_limit: s.rate_limit,
            windows: HashMap::new(),
            injections,
            hangs: Vec::new(),
            fail_rate: s.fail_rate,
            fail_method: s.fail_method.clone(),
            fail_path: s.fail_path.clone(),
            latency: s.latency,
            rng: fastrand::Rng::with_seed(s.seed),
        }
    }

    fn rate(&mut self, who: &str, now: Instant) -> RateDecision {
        let Some((limit, window)) = self.rate_limit else {
            return RateDecision {
                headers: Vec::new(),
                retry_after: None,
            };
        };
        let w = self.windows.entry(who.to_string()).or_insert(Window {
            started: now,
            reset_at: Utc::now() + chrono::Duration::from_std(window).unwrap_or_default(),
            count: 0,
        });
        if now >= w.started + window {
            w.started = now;
            w.reset_at = Utc::now() + chrono::Duration::from_std(window).unwrap_or_default();
            w.count = 0;
        }
        let retry_after = if w.count < limit {
            w.count += 1;
            None
        } else {
            let left = (w.started + window).saturating_duration_since(now);
            Some(left.as_secs_f64().ceil().max(1.0) as u64)
        };
        RateDecision {
            headers: vec![
                ("x-ratelimit-limit", limit.to_string()),
                (
                    "x-ratelimit-remaining",
                    (limit - w.count.min(limit)).to_string(),
                ),
                ("x-ratelimit-reset", iso(w.reset_at)),
            ],
            retry_after,
        }
    }

    /// How long to hold this request unanswered, when a queued hang matches it (and counts it).
    fn hang(&mut self, method: &str, path: &str) -> Option<Duration> {
        let pos = self.hangs.iter().position(|h| {
            h.remaining > 0
                && h.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && h.path_suffix.as_deref().is_none_or(|p| path.ends_with(p))
        })?;
        let h = &mut self.hangs[pos];
        h.remaining -= 1;
        let hold = h.hold;
        if h.remaining == 0 {
            self.hangs.remove(pos);
        }
        Some(hold)
    }

    fn injected(&mut self, method: &str, path: &str) -> Option<Problem> {
        let pos = self.injections.iter().position(|i| {
            i.remaining > 0
                && i.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && i.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        });
        if let Some(pos) = pos {
            let inj = &mut self.injections[pos];
            inj.remaining -= 1;
            let status = inj.status;
            let code = inj.code.clone();
            if inj.remaining == 0 {
                self.injections.remove(pos);
            }
            return Some(injected_problem(status, code.as_deref()));
        }
        let applies = self.fail_rate > 0.0
            && self
                .fail_method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .fail_path
                .as_deref()
                .is_none_or(|p| path.starts_with(p));
        if applies && self.rng.f64() < self.fail_rate {
            return Some(injected_problem(503, None));
        }
        None
    }
}

fn injected_problem(status: u16, code: Option<&str>) -> Problem {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let default_code = match status.as_u16() {
        429 => "rate_limited",
        500 => "internal_error",
        502 => "upstream_failed",
        503 => "upstream_unavailable",
        409 => "vps_not_ready",
        _ => "injected_failure",
    };
    let p = Problem::new(
        status,
        code.unwrap_or(default_code),
        "Injected failure (hostup-sim fault injection).",
    );
    if status == StatusCode::TOO_MANY_REQUESTS {
        p.with_header("retry-after", "1".into())
    } else {
        p
    }
}

#[derive(Debug)]
pub(crate) struct RequestLog {
    entries: Vec<Value>,
    file: Option<File>,
}

impl RequestLog {
    pub(crate) fn open(path: Option<&Path>) -> anyhow::Result<RequestLog> {
        let file = match path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening request log {}", p.display()))?,
            ),
            None => None,
        };
        Ok(RequestLog {
            entries: Vec::new(),
            file,
        })
    }

    fn push(&mut self, entry: Value) {
        if let Some(f) = &mut self.file {
            // A full disk must not take the simulator down; the in-memory log still has it.
            let _ = writeln!(f, "{entry}").and_then(|_| f.flush());
        }
        self.entries.push(entry);
    }

    pub(crate) fn entries(&self) -> &[Value] {
        &self.entries
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

/// The credential a request presents, for rate-limit bucketing and authentication.
pub(crate) fn credential(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let mut parts = v.splitn(2, ' ');
        let scheme = parts.next().unwrap_or("");
        let token = parts.next().unwrap_or("").trim();
        if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
            return Some(token.to_string());
        }
        return None;
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Request id assigned by the middleware, for handlers that need it in a body.
#[derive(Clone)]
pub(crate) struct RequestId(pub String);

pub(crate) async fn api_layer(
    State(state): State<Shared>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let auth_present =
        req.headers().contains_key("authorization") || req.headers().contains_key("x-api-key");
    let bucket = credential(req.headers()).unwrap_or_else(|| "anonymous".to_string());
    let request_id = state
        .world
        .lock()
        .expect("world lock poisoned")
        .next_id("req");
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let latency = state.faults.lock().expect("faults lock poisoned").latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let (rate, hold, injected) = {
        let mut faults = state.faults.lock().expect("faults lock poisoned");
        let rate = faults.rate(&bucket, Instant::now());
        let hold = if rate.retry_after.is_some() {
            None
        } else {
            faults.hang(&method, &path)
        };
        let injected = if rate.retry_after.is_some() || hold.is_some() {
            None
        } else {
            faults.injected(&method, &path)
        };
        (rate, hold, injected)
    };
    if let Some(hold) = hold {
        // Logged now: the test wants to see that the request arrived, and its client may give up
        // (and close the connection) long before the hold ends.
        let entry = json!({
            "time": iso(Utc::now()),
            "method": method,
            "path": path,
            "query": query,
            "status": null,
            "authPresent": auth_present,
            "requestId": request_id,
            "fault": "hang",
            "durationMs": null,
        });
        state.log.lock().expect("log lock poisoned").push(entry);
        tokio::time::sleep(hold).await;
        return Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "Held without an answer (hostup-sim /_sim/hang).",
        )
        .render(&path, &request_id, &iso(Utc::now()));
    }
    let mut fault = None;
    let response = if let Some(secs) = rate.retry_after {
        fault = Some("rate_limit");
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Rate limit exceeded; retry in {secs} s."),
        )
        .with_header("retry-after", secs.to_string())
        .into_response()
    } else if let Some(problem) = injected {
        fault = Some("injected");
        problem.into_response()
    } else {
        next.run(req).await
    };

    let timestamp = iso(Utc::now());
    let mut response = match response.extensions().get::<Problem>().cloned() {
        Some(problem) => problem.render(&path, &request_id, &timestamp),
        None => response,
    };
    for (name, value) in rate.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    let entry = json!({
        "time": timestamp,
        "method": method,
        "path": path,
        "query": query,
        "status": response.status().as_u16(),
        "authPresent": auth_present,
        "requestId": request_id,
        "fault": fault,
        "durationMs": started.elapsed().as_millis() as u64,
    });
    state.log.lock().expect("log lock poisoned").push(entry);
    response
}
