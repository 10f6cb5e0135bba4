//! The HostUp API routes the provider uses (hostup-api.md §15): VPS list and reads, live status,
//! restore sources, restore-from-vps, power actions, backups (list, create, delete) and job
//! polling.
//!
//! Each handler authenticates, checks the scope, resolves ownership (another client's VPS is
//! simply "not found"), validates, then reads or changes the world under one lock.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::middleware::{api_layer, credential, RequestId};
use crate::problem::{FieldError, Problem};
use crate::settings::BackupDelete;
use crate::world::{Caller, Gate, JobKind, PowerAction, Vps, World};
use crate::Shared;

const READ: &str = "read:vm";
const BACKUP: &str = "backup:vm";
const POWER: &str = "power:vm";

type Answer = Result<Response, Problem>;

pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v2/vps", get(list_vps))
        .route("/api/v2/vps/{id}", get(get_vps))
        .route("/api/v2/vps/{id}/details", get(get_details))
        .route("/api/v2/vps/{id}/status", get(get_status))
        .route("/api/v2/vps/{id}/actions/{action}", post(power_action))
        .route(
            "/api/v2/vps/{id}/backups/restore-sources",
            get(restore_sources),
        )
        .route(
            "/api/v2/vps/{id}/backups/actions/restore-from-vps",
            post(restore_from_vps),
        )
        .route(
            "/api/v2/vps/{id}/backups",
            get(list_backups).post(create_backup),
        )
        .route(
            "/api/v2/vps/{id}/backups/{backup_id}",
            delete(delete_backup),
        )
        .route("/api/jobs/{job_id}", get(get_job))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), api_layer))
        .with_state(state)
}

/// Authenticates and checks one scope; the world lock is held by the caller.
fn authorize(world: &World, headers: &HeaderMap, scope: &str) -> Result<Caller, Problem> {
    let presented = headers.contains_key("authorization") || headers.contains_key("x-api-key");
    let Some(key) = credential(headers) else {
        return Err(Problem::unauthorized(if presented {
            "Use an Authorization: Bearer <API key> header."
        } else {
            "Authentication required: send Authorization: Bearer <API key>."
        }));
    };
    let caller = world
        .caller(&key)
        .ok_or_else(|| Problem::unauthorized("The API key is not valid."))?;
    if !caller.scopes.iter().any(|s| s == scope) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("This API key lacks the required scope {scope}."),
        ));
    }
    Ok(caller)
}

fn locked(state: &Shared) -> std::sync::MutexGuard<'_, World> {
    let mut world = state.world.lock().expect("world lock poisoned");
    world.advance(Instant::now());
    world
}

async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "No such endpoint in hostup-sim.",
    )
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This route does not accept that method.",
    )
}

fn query_error(name: &str, detail: &str) -> Problem {
    Problem::invalid(
        detail.to_string(),
        vec![FieldError {
            pointer: format!("/{name}"),
            detail: detail.to_string(),
            code: "invalid_value".into(),
        }],
    )
}

async fn list_vps(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let world = locked(&state);
    let caller = authorize(&world, &headers, READ)?;
    let limit = match q.get("limit") {
        None => 20,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(query_error(
                    "limit",
                    "limit must be an integer from 1 to 100.",
                ))
            }
        },
    };
    let all: Vec<_> = world
        .vps
        .iter()
        .filter(|v| v.client == caller.client)
        .filter(|v| q.get("name").is_none_or(|n| v.name.eq_ignore_ascii_case(n)))
        .filter(|v| {
            q.get("primaryIp")
                .is_none_or(|ip| v.primary_ip.as_deref() == Some(ip.as_str()))
        })
        .collect();
    let offset = match q.get("cursor") {
        None => 0,
        Some(c) => decode_cursor(c)
            .filter(|&o| o <= all.len())
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_cursor",
                    "The cursor is malformed or does not belong to this listing.",
                )
            })?,
    };
    let end = (offset + limit).min(all.len());
    let has_more = end < all.len();
    let data: Vec<Value> = all[offset..end]
        .iter()
        .map(|v| world.vps_json(v, false))
        .collect();
    Ok(Json(json!({
        "data": data,
        "hasMore": has_more,
        "nextCursor": if has_more { Some(encode_cursor(end)) } else { None },
    }))
    .into_response())
}

fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(json!({"offset": offset}).to_string())
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    usize::try_from(v.get("offset")?.as_u64()?).ok()
}

/// A `read:vm` read of one of the caller's VPSes, answered with what `render` makes of it.
fn read_vps(
    state: &Shared,
    headers: &HeaderMap,
    id: &str,
    render: impl FnOnce(&World, &Vps) -> Value,
) -> Answer {
    let world = locked(state);
    let caller = authorize(&world, headers, READ)?;
    let i = world.find_vps(&caller, id)?;
    Ok(Json(render(&world, &world.vps[i])).into_response())
}

async fn get_vps(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    read_vps(&state, &headers, &id, |world, vps| {
        world.vps_json(vps, true)
    })
}

async fn get_details(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    read_vps(&state, &headers, &id, World::details_json)
}

async fn get_status(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    read_vps(&state, &headers, &id, |world, vps| {
        world.status_json(vps, chrono::Utc::now())
    })
}

/// `start`, `shutdown`, `stop`, `restart` or `reset`: 202 with a job, refused while another job
/// runs on the VPS or its service is not active.
async fn power_action(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Answer {
    let Some(action) = PowerAction::parse(&action) else {
        return Err(not_found().await);
    };
    let mut world = locked(&state);
    let caller = authorize(&world, &headers, POWER)?;
    let i = world.find_vps(&caller, &id)?;
    let gate = world.effective_gate(&world.vps[i], &Gate::open());
    if !gate.allowed {
        return Err(not_ready(&id, gate.reason.as_deref(), gate.code.as_deref()));
    }
    let fail = world.vps[i].fail_power.clone();
    let job = world.start_job(&caller.client, &id, JobKind::Power { action, fail });
    Ok((StatusCode::ACCEPTED, Json(world.accepted(&job))).into_response())
}

async fn restore_sources(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let world = locked(&state);
    let caller = authorize(&world, &headers, BACKUP)?;
    let i = world.find_vps(&caller, &id)?;
    Ok(Json(json!({"sources": world.restore_sources_json(&world.vps[i])})).into_response())
}

/// Parses an optional JSON object body; an empty body is an empty object.
fn object_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, Problem> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Problem::field(
            "",
            "invalid_type",
            "The body must be a JSON object.",
        )),
        Err(e) => Err(Problem::field(
            "",
            "invalid_json",
            format!("The body is not valid JSON: {e}"),
        )),
    }
}

fn required_string(
    body: &serde_json::Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        None | Some(Value::Null) => {
            errors.push(FieldError {
                pointer: format!("/{field}"),
                detail: format!("{field} is required."),
                code: "missing_required".into(),
            });
            None
        }
        Some(_) => {
            errors.push(FieldError {
                pointer: format!("/{field}"),
                detail: format!("{field} must be a non-empty string."),
                code: "invalid_type".into(),
            });
            None
        }
    }
}

async fn restore_from_vps(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let mut world = locked(&state);
    let caller = authorize(&world, &headers, BACKUP)?;
    let ti = world.find_vps(&caller, &id)?;
    let body = object_body(&body)?;
    let mut errors = Vec::new();
    let source = required_string(&body, "sourceVpsId", &mut errors);
    let backup = required_string(&body, "backupId", &mut errors);
    let (Some(source), Some(backup_id)) = (source, backup) else {
        return Err(Problem::invalid("The request body is incomplete.", errors));
    };
    if source == id {
        return Err(Problem::field(
            "/sourceVpsId",
            "same_vps",
            "The source VPS must be a different VPS than the target.",
        ));
    }
    let Some(backups) = world.source_backups(&caller.client, &source) else {
        return Err(Problem::field(
            "/sourceVpsId",
            "not_a_restore_source",
            format!("{source} is not a restore source for {id}; pick one from restore-sources."),
        ));
    };
    let Some(backup) = backups.iter().find(|b| b.id == backup_id).cloned() else {
        return Err(Problem::field(
            "/backupId",
            "backup_not_in_source",
            format!("Backup {backup_id} does not belong to source {source}."),
        ));
    };
    let target = &world.vps[ti];
    if backup.size_gb > target.storage_gb {
        return Err(Problem::field(
            "/backupId",
            "insufficient_storage",
            format!(
                "Backup {backup_id} needs {} GB but the target has {} GB of storage.",
                backup.size_gb, target.storage_gb
            ),
        ));
    }
    let gate = world.restore_gate(target);
    if !gate.allowed {
        return Err(not_ready(&id, gate.reason.as_deref(), gate.code.as_deref()));
    }
    let job = world.start_job(
        &caller.client,
        &id,
        JobKind::RestoreFromVps {
            source_vps_id: source,
            backup_id,
            fail: backup.fail_restore.clone(),
        },
    );
    Ok((StatusCode::ACCEPTED, Json(world.accepted(&job))).into_response())
}

fn not_ready(id: &str, reason: Option<&str>, code: Option<&str>) -> Problem {
    let mut detail = format!(
        "VPS {id} is not ready for this action: {}",
        reason.unwrap_or("the action is not allowed right now.")
    );
    if let Some(code) = code {
        detail.push_str(&format!(" (gate code {code})"));
    }
    Problem::new(StatusCode::CONFLICT, "vps_not_ready", detail)
}

async fn list_backups(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    read_vps(&state, &headers, &id, World::backups_json)
}

async fn create_backup(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let mut world = locked(&state);
    let caller = authorize(&world, &headers, BACKUP)?;
    let i = world.find_vps(&caller, &id)?;
    let body = object_body(&body)?;
    let note = match body.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(Problem::field(
                "/note",
                "invalid_type",
                "note must be a string.",
            ))
        }
    };
    for mode in ["mode", "backupMode"] {
        if body.contains_key(mode) {
            return Err(Problem::field(
                &format!("/{mode}"),
                "not_allowed",
                "Public integrations must not choose a backup mode.",
            ));
        }
    }
    let gate = world.create_backup_gate(&world.vps[i]);
    if !gate.allowed {
        if gate.code.as_deref() == Some("quota_exceeded") {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "backup_quota_exceeded",
                gate.reason.unwrap_or_default(),
            ));
        }
        return Err(not_ready(&id, gate.reason.as_deref(), gate.code.as_deref()));
    }
    let backup_id = world.next_id("bkp");
    let job = world.start_job(
        &caller.client,
        &id,
        JobKind::CreateBackup { backup_id, note },
    );
    Ok((StatusCode::ACCEPTED, Json(world.accepted(&job))).into_response())
}

async fn delete_backup(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((id, backup_id)): Path<(String, String)>,
) -> Answer {
    let mut world = locked(&state);
    let caller = authorize(&world, &headers, BACKUP)?;
    let i = world.find_vps(&caller, &id)?;
    let Some(pos) = world.vps[i].backups.iter().position(|b| b.id == backup_id) else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "backup_not_found",
            format!("VPS {id} has no backup {backup_id}."),
        ));
    };
    if world.settings.backup_delete == BackupDelete::Job {
        let job = world.start_job(&caller.client, &id, JobKind::DeleteBackup { backup_id });
        return Ok((StatusCode::ACCEPTED, Json(world.accepted(&job))).into_response());
    }
    world.vps[i].backups.remove(pos);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Any valid key may poll, but only its own client's jobs.
async fn get_job(
    State(state): State<Shared>,
    headers: HeaderMap,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(job_id): Path<String>,
) -> Answer {
    let world = locked(&state);
    let key = credential(&headers).ok_or_else(|| {
        Problem::unauthorized("Authentication required: send Authorization: Bearer <API key>.")
    })?;
    let caller = world
        .caller(&key)
        .ok_or_else(|| Problem::unauthorized("The API key is not valid."))?;
    let job = world
        .jobs
        .iter()
        .find(|j| j.id == job_id && j.client == caller.client)
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("No job {job_id} (unknown, or its record has expired)."),
            )
        })?;
    // The legacy envelope carries a UUID-style request id; derive it from ours for stability.
    let digits: String = request_id.chars().filter(|c| c.is_ascii_digit()).collect();
    let tail = &digits[digits.len().saturating_sub(12)..];
    let uuid = format!("00000000-0000-4000-8000-{tail:0>12}");
    Ok(Json(world.job_json(job, Instant::now(), &uuid)).into_response())
}
