//! RFC 7807 problem documents as the simulator answers them.
//!
//! Handlers build a `Problem` with status, code and detail only; the request middleware knows the
//! request id and path, so it renders the final body (`instance`, `requestId`, `timestamp`). This
//! keeps every error in the simulator in one shape, including the ones no handler produced (unknown
//! route, injected faults, rate limits).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One entry of `errors[]` for `invalid_request`.
#[derive(Clone, Debug)]
pub(crate) struct FieldError {
    pub pointer: String,
    pub detail: String,
    pub code: String,
}

/// A problem waiting to be rendered by the middleware.
#[derive(Clone, Debug)]
pub(crate) struct Problem {
    pub status: StatusCode,
    pub code: String,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Extra headers (Retry-After and friends) the answer must carry.
    pub headers: Vec<(&'static str, String)>,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            code: code.to_string(),
            title: title_for(status, code),
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn invalid(detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        let mut p = Problem::new(StatusCode::BAD_REQUEST, "invalid_request", detail);
        p.errors = errors;
        p
    }

    /// `invalid_request` with a single field error.
    pub(crate) fn field(pointer: &str, code: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Problem::invalid(
            detail.clone(),
            vec![FieldError {
                pointer: pointer.to_string(),
                detail,
                code: code.to_string(),
            }],
        )
    }

    pub(crate) fn unauthorized(detail: &str) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub(crate) fn vps_not_found(id: &str) -> Self {
        Problem::new(
            StatusCode::NOT_FOUND,
            "vps_not_found",
            format!("No VPS with id {id} belongs to this account."),
        )
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The body with the per-request fields filled in.
    pub(crate) fn body(&self, instance: &str, request_id: &str, timestamp: &str) -> Value {
        let mut body = json!({
            "type": format!("https://developer.hostup.se/errors/{}", self.code),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
            "instance": instance,
            "requestId": request_id,
            "timestamp": timestamp,
        });
        if !self.errors.is_empty() {
            body["errors"] = Value::Array(
                self.errors
                    .iter()
                    .map(|e| json!({"pointer": e.pointer, "detail": e.detail, "code": e.code}))
                    .collect(),
            );
        }
        body
    }

    /// Final response; called by the middleware once it knows the request id.
    pub(crate) fn render(&self, instance: &str, request_id: &str, timestamp: &str) -> Response {
        let body = self.body(instance, request_id, timestamp).to_string();
        let mut resp = (self.status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/problem+json"),
        );
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(*name, v);
            }
        }
        resp
    }
}

/// Handlers return the problem as an extension on an empty response; the middleware renders it.
impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

fn title_for(status: StatusCode, code: &str) -> &'static str {
    match code {
        "invalid_request" => "Validation failed",
        "invalid_cursor" => "Invalid pagination cursor",
        "unauthorized" => "Authentication required",
        "forbidden" => "Forbidden",
        "vps_not_found" => "VPS not found",
        "backup_not_found" => "Backup not found",
        "vps_not_ready" => "VPS not ready",
        "backup_quota_exceeded" => "Backup quota exceeded",
        "rate_limited" => "Too many requests",
        "upstream_unavailable" => "Upstream unavailable",
        "internal_error" => "Internal error",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}
