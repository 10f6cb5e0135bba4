//! Test-only admin endpoints under /_sim/ (no authentication; the simulator only listens on
//! loopback). They inspect the world and the request log and make the few changes tests need
//! that HostUp's API cannot: open or close a gate, make a backup vanish (retention rotation),
//! change a VPS, queue injected failures, and make HostUp go silent. Their requests are not
//! written to the request log.
//!
//! `POST /_sim/hang` with `{"count": N, "method": "GET", "pathSuffix": "/vps/vps_1",
//! "holdSeconds": 600}` (all but `count` optional; `holdSeconds` defaults to 600, at most 86400)
//! makes the next N matching `/api` requests go unanswered: each is accepted, logged at once with
//! no status and `fault: "hang"`, and held for `holdSeconds` before it gets a 504. It is how tests
//! meet an API that never answers (a GET that hangs, a POST whose answer never comes). Held
//! requests are listed under `pendingHangs` in `/_sim/state` while any remain to be held.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::middleware::{Hang, Injection};
use crate::world::World;
use crate::Shared;

pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/_sim/requests", get(requests))
        .route("/_sim/reset-log", post(reset_log))
        .route("/_sim/state", get(state_dump))
        .route("/_sim/vps/{id}/gates/{gate}", post(set_gate))
        .route("/_sim/vps/{id}", post(patch_vps))
        .route("/_sim/backups/{backup_id}", delete(remove_backup))
        .route("/_sim/fail-next", post(fail_next))
        .route("/_sim/hang", post(hang))
        .with_state(state)
}

/// Admin errors are plain JSON: these endpoints are not HostUp's.
fn bad(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

async fn requests(State(state): State<Shared>) -> Json<Value> {
    let log = state.log.lock().expect("log lock poisoned");
    Json(Value::Array(log.entries().to_vec()))
}

async fn reset_log(State(state): State<Shared>) -> StatusCode {
    state.log.lock().expect("log lock poisoned").clear();
    StatusCode::NO_CONTENT
}

async fn state_dump(State(state): State<Shared>) -> Json<Value> {
    let mut world = state.world.lock().expect("world lock poisoned");
    let now = Instant::now();
    world.advance(now);
    let mut body = world.state_json(now);
    let faults = state.faults.lock().expect("faults lock poisoned");
    body["pendingInjections"] = json!(faults
        .injections
        .iter()
        .map(
            |i| json!({"remaining": i.remaining, "status": i.status, "code": i.code,
                        "method": i.method, "pathPrefix": i.path_prefix})
        )
        .collect::<Vec<_>>());
    body["pendingHangs"] = json!(faults
        .hangs
        .iter()
        .map(|h| json!({"remaining": h.remaining, "method": h.method,
                        "pathSuffix": h.path_suffix, "holdSeconds": h.hold.as_secs()}))
        .collect::<Vec<_>>());
    Json(body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GateBody {
    allowed: bool,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

async fn set_gate(
    State(state): State<Shared>,
    Path((id, gate)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b: GateBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return bad(StatusCode::BAD_REQUEST, e),
    };
    let mut world = state.world.lock().expect("world lock poisoned");
    match world.set_gate(
        &id,
        &gate,
        World::gate_from_parts(b.allowed, b.reason, b.code),
    ) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(p) => bad(p.status, p.detail),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VpsPatch {
    storage_gb: Option<f64>,
    service_status: Option<String>,
    power_state: Option<String>,
    name: Option<String>,
}

async fn patch_vps(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let p: VpsPatch = match parse(&body) {
        Ok(p) => p,
        Err(e) => return bad(StatusCode::BAD_REQUEST, e),
    };
    let mut world = state.world.lock().expect("world lock poisoned");
    let Some(vps) = world.vps.iter_mut().find(|v| v.id == id) else {
        return bad(StatusCode::NOT_FOUND, format!("no VPS {id}"));
    };
    if let Some(gb) = p.storage_gb {
        if !(gb.is_finite() && gb > 0.0) {
            return bad(StatusCode::BAD_REQUEST, "storageGb must be positive");
        }
        vps.storage_gb = gb;
    }
    if let Some(s) = p.service_status {
        vps.service_status = s;
    }
    if let Some(s) = p.power_state {
        // As if someone powered it in the panel: a start HostUp planned after a restore is off.
        vps.starts_at = None;
        vps.running_since = (s == "running").then(chrono::Utc::now);
        vps.power_state = Some(s);
    }
    if let Some(n) = p.name {
        vps.name = n;
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_backup(State(state): State<Shared>, Path(backup_id): Path<String>) -> Response {
    let mut world = state.world.lock().expect("world lock poisoned");
    if world.remove_backup(&backup_id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        bad(StatusCode::NOT_FOUND, format!("no backup {backup_id}"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FailNext {
    count: u32,
    #[serde(default = "default_status")]
    status: u16,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path_prefix: Option<String>,
}

fn default_status() -> u16 {
    503
}

async fn fail_next(State(state): State<Shared>, body: Bytes) -> Response {
    let f: FailNext = match parse(&body) {
        Ok(f) => f,
        Err(e) => return bad(StatusCode::BAD_REQUEST, e),
    };
    if !(400..=599).contains(&f.status) {
        return bad(StatusCode::BAD_REQUEST, "status must be 400-599");
    }
    if f.count == 0 {
        return bad(StatusCode::BAD_REQUEST, "count must be at least 1");
    }
    state
        .faults
        .lock()
        .expect("faults lock poisoned")
        .injections
        .push(Injection {
            remaining: f.count,
            status: f.status,
            code: f.code,
            method: f.method,
            path_prefix: f.path_prefix,
        });
    StatusCode::NO_CONTENT.into_response()
}

/// The longest hold `POST /_sim/hang` accepts: a day is "never" for any test.
const MAX_HOLD_SECONDS: u64 = 86_400;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HangBody {
    count: u32,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path_suffix: Option<String>,
    #[serde(default = "default_hold_seconds")]
    hold_seconds: u64,
}

fn default_hold_seconds() -> u64 {
    600
}

async fn hang(State(state): State<Shared>, body: Bytes) -> Response {
    let h: HangBody = match parse(&body) {
        Ok(h) => h,
        Err(e) => return bad(StatusCode::BAD_REQUEST, e),
    };
    if h.count == 0 {
        return bad(StatusCode::BAD_REQUEST, "count must be at least 1");
    }
    if !(1..=MAX_HOLD_SECONDS).contains(&h.hold_seconds) {
        return bad(
            StatusCode::BAD_REQUEST,
            format!("holdSeconds must be 1-{MAX_HOLD_SECONDS}"),
        );
    }
    state
        .faults
        .lock()
        .expect("faults lock poisoned")
        .hangs
        .push(Hang {
            remaining: h.count,
            method: h.method,
            path_suffix: h.path_suffix,
            hold: Duration::from_secs(h.hold_seconds),
        });
    StatusCode::NO_CONTENT.into_response()
}
