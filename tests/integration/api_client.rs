//! The HostUp client against scripted in-process HTTP servers on 127.0.0.1:0: every endpoint's
//! parsing, both job envelopes, each error class, the retry rules (what is and is never resent),
//! rate limiting shared by clones, the poll-URL origin check, and the job waiter's endings.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};
use terraform_provider_hostup::api::{
    ApiError, ApiKey, Client, ClientConfig, DeleteOutcome, GateLookup, GateOrigin, JobProgress,
    JobStatus, PollSchedule, RetryPolicy, SourceType, WaitOptions, WaitOutcome,
};
use tokio_util::sync::CancellationToken;
use url::Url;

const KEY: &str = "hu_test_SECRET_0123456789";

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn json(status: u16, v: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: v.to_string(),
            delay: Duration::ZERO,
        }
    }
    fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "text/html".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
    fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: String::new(),
            delay: Duration::ZERO,
        }
    }
    fn problem(status: u16, code: &str, detail: &str) -> Reply {
        let mut r = Reply::json(
            status,
            json!({"type": format!("https://developer.hostup.se/errors/{code}"), "title": "Problem",
                   "status": status, "detail": detail, "code": code, "requestId": "req_test_1"}),
        );
        r.headers[0].1 = "application/problem+json".into();
        r
    }
    fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
    fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

#[allow(dead_code)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
    at: StdInstant,
}

/// A scripted server: per (method, path) a queue of replies; the last one repeats.
#[derive(Default)]
struct Mock {
    routes: Mutex<Vec<(String, String, VecDeque<Reply>)>>,
    seen: Mutex<Vec<Seen>>,
}

impl Mock {
    fn on(&self, method: &str, path: &str, replies: Vec<Reply>) -> &Mock {
        self.routes
            .lock()
            .unwrap()
            .push((method.into(), path.into(), replies.into()));
        self
    }
    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
    fn count_of(&self, method: &str, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }
}

async fn handle(State(mock): State<Arc<Mock>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    mock.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body: body.to_vec(),
        at: StdInstant::now(),
    });
    let reply = {
        let mut routes = mock.routes.lock().unwrap();
        routes
            .iter_mut()
            .find(|(m, p, _)| *m == method && *p == path)
            .map(|(_, _, q)| {
                if q.len() > 1 {
                    q.pop_front().unwrap()
                } else {
                    q[0].clone()
                }
            })
    };
    let reply = reply.unwrap_or_else(|| Reply::text(418, &format!("no route {method} {path}")));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut b = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        b = b.header(k, v);
    }
    b.body(Body::from(reply.body)).unwrap()
}

async fn serve_on(listener: tokio::net::TcpListener, mock: Arc<Mock>) {
    let app = axum::Router::new().fallback(handle).with_state(mock);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

async fn start(mock: &Arc<Mock>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    serve_on(listener, mock.clone()).await;
    addr
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        max_elapsed: Duration::from_secs(10),
        max_answer_wait: Duration::from_secs(10),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    }
}

fn config(addr: SocketAddr) -> ClientConfig {
    let mut cfg = ClientConfig::new(
        Url::parse(&format!("http://{addr}")).unwrap(),
        ApiKey::new(KEY),
    );
    cfg.retry = fast_retry();
    cfg.request_timeout = Duration::from_secs(5);
    cfg
}

fn client(addr: SocketAddr) -> Client {
    Client::new(config(addr)).unwrap()
}

fn fast_poll(timeout: Duration) -> WaitOptions {
    WaitOptions::new(timeout).with_poll(PollSchedule {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
        factor: 2.0,
    })
}

fn operation(job: &str, poll: &str) -> Value {
    json!({"operation": {"status": "queued", "jobId": job, "pollUrl": poll, "result": null}})
}

fn legacy_job(job: &str, status: &str, pct: f64, extra: Value) -> Value {
    let mut data = json!({"jobId": job, "status": status, "state": status, "progress": pct,
        "progressMessage": format!("{status} {pct}"),
        "progressDetails": {"percentage": pct, "message": format!("{status} {pct}")},
        "isCompleted": status == "completed", "isFailed": status == "failed",
        "isRunning": status == "active", "isWaiting": status == "waiting",
        "result": null, "failedReason": null, "createdAt": "2026-01-01T00:00:00Z", "finishedAt": null});
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    json!({"success": true, "timestamp": "2026-01-01T00:00:00Z", "requestId": "u", "data": data})
}

// ----- endpoints ------------------------------------------------------------------------------

#[tokio::test]
async fn list_vps_walks_cursor_pages_and_sends_headers() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps",
        vec![
            Reply::json(
                200,
                json!({"data": [{"id": "vps_1", "name": "a", "serviceStatus": "active"}],
                       "hasMore": true, "nextCursor": "eyJvZmZzZXQiOjF9"}),
            ),
            Reply::json(
                200,
                json!({"data": [{"id": "vps_2", "name": null, "billing": {"amount": 199,
                       "currencyCode": "SEK", "billingCycle": null, "isPayg": true}}],
                       "hasMore": false, "nextCursor": null}),
            ),
        ],
    );
    let addr = start(&mock).await;
    let c = client(addr);
    let all = c.list_vps().await.unwrap();
    assert_eq!(
        all.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["vps_1", "vps_2"]
    );
    assert_eq!(all[1].billing.as_ref().unwrap().is_payg, Some(true));
    let seen = mock.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].query.as_deref(), Some("limit=100"));
    assert_eq!(
        seen[1].query.as_deref(),
        Some("limit=100&cursor=eyJvZmZzZXQiOjF9")
    );
    let h = &seen[0].headers;
    assert_eq!(h["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(h["accept"], "application/json");
    let ua = h["user-agent"].to_str().unwrap();
    assert_eq!(
        ua,
        format!(
            "terraform-provider-hostup/{}",
            terraform_provider_hostup::VERSION
        )
    );
    assert_eq!(c.request_counts().get, 2);
}

#[tokio::test]
async fn list_vps_page_cap_is_an_error_not_a_cut_list() {
    let mock = Arc::new(Mock::default());
    let mut pages = Vec::new();
    for i in 0..5 {
        pages.push(Reply::json(
            200,
            json!({"data": [{"id": format!("vps_{i}")}], "hasMore": true, "nextCursor": format!("c{i}")}),
        ));
    }
    mock.on("GET", "/api/v2/vps", pages);
    let addr = start(&mock).await;
    let err = client(addr).list_vps_capped(3).await.unwrap_err();
    assert!(
        matches!(err, ApiError::TooManyPages { pages: 3, .. }),
        "{err:?}"
    );
    assert_eq!(mock.count(), 3);
}

#[tokio::test]
async fn vps_details_and_restore_gate_from_each_place() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![Reply::json(
            200,
            json!({"id": "vps_a", "name": "app-01", "powerState": "running",
                "actions": {"canRestoreFromAnotherVps": {"allowed": false,
                "reason": "Job job_9 is running", "code": "job_in_progress"}}}),
        )],
    )
    .on(
        "GET",
        "/api/v2/vps/vps_b",
        vec![Reply::json(200, json!({"id": "vps_b", "name": "b"}))],
    )
    .on(
        "GET",
        "/api/v2/vps/vps_b/details",
        vec![Reply::json(
            200,
            json!({"id": "vps_b", "productName": "VPS XS", "storageGb": 80, "cpuCores": 2,
                "memoryGb": 4, "backupsIncluded": 2, "serviceStatus": "active",
                "bandwidth": {"usedGb": 1.5, "limitGb": null},
                "actions": {"canRestoreFromAnotherVps": {"allowed": true, "reason": null, "code": null}}}),
        )],
    )
    .on(
        "GET",
        "/api/v2/vps/vps_c",
        vec![Reply::json(200, json!({"id": "vps_c", "actions": {}}))],
    )
    .on(
        "GET",
        "/api/v2/vps/vps_c/details",
        vec![Reply::json(200, json!({"id": "vps_c", "storageGb": 50.5}))],
    );
    let addr = start(&mock).await;
    let c = client(addr);

    let vps = c.get_vps("vps_a").await.unwrap();
    assert_eq!(vps.power_state.as_deref(), Some("running"));
    match c.restore_gate("vps_a").await.unwrap() {
        GateLookup::Found { gate, origin } => {
            assert_eq!(origin, GateOrigin::Vps);
            assert!(!gate.allowed);
            assert_eq!(gate.code.as_deref(), Some("job_in_progress"));
            assert_eq!(gate.reason.as_deref(), Some("Job job_9 is running"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.count_of("GET", "/api/v2/vps/vps_a/details"), 0);

    let details = c.get_vps_details("vps_b").await.unwrap();
    assert_eq!(details.storage_gb, Some(80.0));
    assert_eq!(details.bandwidth.unwrap().limit_gb, None);
    match c.restore_gate("vps_b").await.unwrap() {
        GateLookup::Found { gate, origin } => {
            assert_eq!(origin, GateOrigin::Details);
            assert!(gate.allowed);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.restore_gate("vps_c").await.unwrap(), GateLookup::Unknown);
}

#[tokio::test]
async fn restore_sources_and_restore_from_vps() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_t/backups/restore-sources",
        vec![Reply::json(
            200,
            json!({"sources": [
                {"id": "vps_s", "name": "web", "serviceStatus": "active", "sourceType": "server",
                 "backups": [{"id": "bkp_1", "displayId": "2026-04-27T10:00:00.000Z (x.vma.zst)",
                    "storageKey": "x.vma.zst", "createdAt": null, "sizeGb": 12}]},
                {"id": "vps_old", "name": "gone", "serviceStatus": "terminated", "sourceType": "retained",
                 "backups": [{"id": "bkp_2", "displayId": "d", "storageKey": "k",
                    "createdAt": "2026-01-01T00:00:00Z", "sizeGb": 12.4, "newField": true}]}
            ], "somethingElse": 1}),
        )],
    )
    .on(
        "POST",
        "/api/v2/vps/vps_t/backups/actions/restore-from-vps",
        vec![
            Reply::json(202, operation("job_r1", "/api/jobs/job_r1")),
            Reply::json(200, operation("job_r2", "/api/jobs/job_r2")),
        ],
    );
    let addr = start(&mock).await;
    let c = client(addr);
    let sources = c.restore_sources("vps_t").await.unwrap();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0].source_type, SourceType::Server);
    assert_eq!(sources[0].backups[0].size_gb, Some(12.0));
    assert_eq!(sources[1].source_type, SourceType::Retained);
    assert_eq!(sources[1].backups[0].size_gb, Some(12.4));

    let op = c.restore_from_vps("vps_t", "vps_s", "bkp_1").await.unwrap();
    assert_eq!(op.job_id, "job_r1");
    assert_eq!(op.poll_url, "/api/jobs/job_r1");
    assert_eq!(op.status, JobStatus::Queued);
    let op = c.restore_from_vps("vps_t", "vps_s", "bkp_1").await.unwrap();
    assert_eq!(op.job_id, "job_r2");
    let seen = mock.seen.lock().unwrap();
    let post = seen.iter().find(|s| s.method == "POST").unwrap();
    assert_eq!(post.headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body, json!({"sourceVpsId": "vps_s", "backupId": "bkp_1"}));
}

#[tokio::test]
async fn backups_list_create_and_delete() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a/backups",
        vec![Reply::json(
            200,
            json!({"backups": [{"id": "bkp_1", "displayId": "d", "storageKey": "k",
                "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": 12.4, "backupType": "manual",
                "note": "Before upgrade"}],
                "quotaInfo": {"used": 1, "limit": null, "remaining": 2},
                "actions": {"canCreateBackup": {"allowed": true, "reason": null},
                            "canRestore": {"allowed": false, "reason": "busy", "code": "job_in_progress"}}}),
        )],
    )
    .on(
        "POST",
        "/api/v2/vps/vps_a/backups",
        vec![Reply::json(202, operation("job_b", "/api/jobs/job_b"))],
    )
    .on(
        "DELETE",
        "/api/v2/vps/vps_a/backups/bkp_1",
        vec![Reply::empty(204)],
    )
    .on(
        "DELETE",
        "/api/v2/vps/vps_a/backups/bkp_gone",
        vec![Reply::problem(404, "not_found", "Backup not found")],
    )
    .on(
        "DELETE",
        "/api/v2/vps/vps_a/backups/bkp_locked",
        vec![Reply::problem(409, "vps_not_ready", "A restore uses this backup")],
    );
    let addr = start(&mock).await;
    let c = client(addr);
    let list = c.list_backups("vps_a").await.unwrap();
    assert_eq!(list.backups[0].note.as_deref(), Some("Before upgrade"));
    assert_eq!(list.backups[0].size_gb, Some(12.4));
    let quota = list.quota_info.unwrap();
    assert_eq!(
        (quota.used, quota.limit, quota.remaining),
        (Some(1), None, Some(2))
    );
    let actions = list.actions.unwrap();
    assert!(actions.can_create_backup.unwrap().allowed);
    assert_eq!(
        actions.can_restore.unwrap().code.as_deref(),
        Some("job_in_progress")
    );

    let op = c
        .create_backup("vps_a", Some("Before upgrade"))
        .await
        .unwrap();
    assert_eq!(op.job_id, "job_b");
    {
        let seen = mock.seen.lock().unwrap();
        let post = seen.iter().find(|s| s.method == "POST").unwrap();
        let body: Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(body, json!({"note": "Before upgrade"}));
    }

    assert_eq!(
        c.delete_backup("vps_a", "bkp_1").await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        c.delete_backup("vps_a", "bkp_gone").await.unwrap(),
        DeleteOutcome::AlreadyGone {
            code: Some("not_found".into()),
            request_id: Some("req_test_1".into())
        }
    );
    let err = c.delete_backup("vps_a", "bkp_locked").await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.code(), Some("vps_not_ready"));
}

// ----- errors ---------------------------------------------------------------------------------

#[tokio::test]
async fn problem_json_error_is_typed_and_not_retried() {
    let mock = Arc::new(Mock::default());
    let mut problem = Reply::json(
        400,
        json!({"type": "https://developer.hostup.se/errors/invalid_request",
            "title": "Validation failed", "status": 400, "detail": "The request is invalid",
            "code": "invalid_request", "instance": "/api/v2/vps/vps_t/backups/actions/restore-from-vps",
            "requestId": "req_01hxa3b4c5d6e7f8g9h0j1k2m3", "timestamp": "2026-01-01T00:00:00Z",
            "errors": [{"pointer": "/backupId", "detail": "Backup does not belong to the source VPS",
                        "code": "backup_not_under_source"}]}),
    );
    problem.headers[0].1 = "application/problem+json".into();
    mock.on(
        "POST",
        "/api/v2/vps/vps_t/backups/actions/restore-from-vps",
        vec![problem],
    );
    let addr = start(&mock).await;
    let err = client(addr)
        .restore_from_vps("vps_t", "vps_s", "bkp_x")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("invalid_request"));
    assert_eq!(err.request_id(), Some("req_01hxa3b4c5d6e7f8g9h0j1k2m3"));
    let p = err.problem().unwrap();
    assert_eq!(p.title.as_deref(), Some("Validation failed"));
    assert_eq!(p.errors[0].pointer.as_deref(), Some("/backupId"));
    assert_eq!(p.errors[0].code.as_deref(), Some("backup_not_under_source"));
    let msg = err.to_string();
    assert!(msg.contains("req_01hxa3b4c5d6e7f8g9h0j1k2m3"), "{msg}");
    assert!(
        msg.contains("/backupId: Backup does not belong to the source VPS"),
        "{msg}"
    );
    assert_eq!(mock.count(), 1);
}

#[tokio::test]
async fn non_json_error_body_gives_status_and_sanitized_excerpt() {
    let mock = Arc::new(Mock::default());
    let html = format!(
        "<html>\n<head><title>500 Internal Server Error</title></head>\n<body>{}</body></html>",
        "x".repeat(500)
    );
    mock.on("GET", "/api/v2/vps/vps_a", vec![Reply::text(500, &html)]);
    let addr = start(&mock).await;
    let err = client(addr).get_vps("vps_a").await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    let msg = err.to_string();
    assert!(msg.contains("HTTP 500"), "{msg}");
    assert!(
        msg.contains("<html> <head><title>500 Internal Server Error</title></head>"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    assert!(!msg.contains(&"x".repeat(300)), "excerpt not cut: {msg}");
    // 500 is not one of the statuses a GET is retried on.
    assert_eq!(mock.count(), 1);
}

#[tokio::test]
async fn key_never_in_errors_or_debug_even_when_echoed() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![Reply::problem(
            401,
            "unauthorized",
            &format!("Key Bearer {KEY} is revoked"),
        )],
    )
    .on(
        "GET",
        "/api/v2/vps/vps_b",
        vec![Reply::text(403, &format!("denied for {KEY}"))],
    );
    let addr = start(&mock).await;
    let c = client(addr);
    for id in ["vps_a", "vps_b"] {
        let err = c.get_vps(id).await.unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
    let dbg = format!("{c:?} {:?}", config(addr));
    assert!(!dbg.contains(KEY), "{dbg}");
    let err = c.get_vps("vps_a").await.unwrap_err();
    assert!(
        err.to_string().contains("API key"),
        "401 advice names the key: {err}"
    );
}

#[tokio::test]
async fn connect_refused_is_distinct_and_says_nothing_was_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client(addr);
    let err = c.get_vps("vps_a").await.unwrap_err();
    match &err {
        ApiError::Connect { attempts, .. } => assert_eq!(*attempts, 4),
        other => panic!("{other:?}"),
    }
    assert!(!err.may_have_reached_hostup());
    assert!(err.to_string().contains("not sent"), "{err}");
    assert_eq!(c.request_counts().get, 4);
}

// ----- retries ----------------------------------------------------------------------------------

#[tokio::test]
async fn get_retries_a_503_burst_then_succeeds() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![
            Reply::problem(503, "upstream_unavailable", "down"),
            Reply::text(502, "bad gateway"),
            Reply::empty(504),
            Reply::json(200, json!({"id": "vps_a"})),
        ],
    );
    let addr = start(&mock).await;
    let vps = client(addr).get_vps("vps_a").await.unwrap();
    assert_eq!(vps.id, "vps_a");
    assert_eq!(mock.count(), 4);
}

#[tokio::test]
async fn get_gives_up_after_max_attempts_with_the_last_error() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![Reply::problem(503, "upstream_unavailable", "down")],
    );
    let addr = start(&mock).await;
    let err = client(addr).get_vps("vps_a").await.unwrap_err();
    assert_eq!(err.code(), Some("upstream_unavailable"));
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
    assert_eq!(mock.count(), 4);
}

#[tokio::test]
async fn delete_is_retried_on_503() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "DELETE",
        "/api/v2/vps/vps_a/backups/bkp_1",
        vec![Reply::empty(503), Reply::empty(204)],
    );
    let addr = start(&mock).await;
    let out = client(addr).delete_backup("vps_a", "bkp_1").await.unwrap();
    assert_eq!(out, DeleteOutcome::Deleted);
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn get_honours_retry_after_seconds_on_429() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![
            Reply::problem(429, "rate_limited", "slow down")
                .header("retry-after", "1")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-limit", "60"),
            Reply::json(200, json!({"id": "vps_a"})),
        ],
    );
    let addr = start(&mock).await;
    let started = StdInstant::now();
    client(addr).get_vps("vps_a").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn get_honours_retry_after_http_date_on_429() {
    let mock = Arc::new(Mock::default());
    let at = std::time::SystemTime::now() + Duration::from_secs(2);
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![
            Reply::problem(429, "rate_limited", "slow down")
                .header("retry-after", &httpdate::fmt_http_date(at)),
            Reply::json(200, json!({"id": "vps_a"})),
        ],
    );
    let addr = start(&mock).await;
    let started = StdInstant::now();
    client(addr).get_vps("vps_a").await.unwrap();
    // The date has whole-second precision, so the wait is between one and two seconds.
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn retry_after_longer_than_the_budget_fails_at_once_with_advice() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![Reply::problem(429, "rate_limited", "slow down").header("retry-after", "600")],
    );
    let addr = start(&mock).await;
    let started = StdInstant::now();
    let err = client(addr).get_vps("vps_a").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.status(), Some(429));
    assert!(err.to_string().contains("try again in 600 s"), "{err}");
    assert_eq!(mock.count(), 1);
}

#[tokio::test]
async fn a_429_holds_back_every_clone_of_the_client() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![
            Reply::problem(429, "rate_limited", "slow down").header("retry-after", "1"),
            Reply::json(200, json!({"id": "vps_a"})),
        ],
    )
    .on(
        "GET",
        "/api/v2/vps/vps_b",
        vec![Reply::json(200, json!({"id": "vps_b"}))],
    );
    let addr = start(&mock).await;
    let c = client(addr);
    let first = {
        let c = c.clone();
        tokio::spawn(async move { c.get_vps("vps_a").await })
    };
    while mock.count() == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Give the client a moment to read the 429 and close the gate.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let other = c.clone();
    other.get_vps("vps_b").await.unwrap();
    first.await.unwrap().unwrap();
    let seen = mock.seen.lock().unwrap();
    let t429 = seen[0].at;
    let tb = seen.iter().find(|s| s.path.ends_with("vps_b")).unwrap().at;
    assert!(
        tb.duration_since(t429) >= Duration::from_millis(900),
        "the other clone went out after {:?}",
        tb.duration_since(t429)
    );
}

#[tokio::test]
async fn exhausted_rate_limit_waits_for_the_reset_before_the_next_send() {
    let mock = Arc::new(Mock::default());
    let reset = chrono::Utc::now() + chrono::Duration::milliseconds(700);
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![
            Reply::json(200, json!({"id": "vps_a"}))
                .header("x-ratelimit-limit", "60")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", &reset.to_rfc3339()),
            Reply::json(200, json!({"id": "vps_a"})),
        ],
    );
    let addr = start(&mock).await;
    let c = client(addr);
    c.get_vps("vps_a").await.unwrap();
    c.get_vps("vps_a").await.unwrap();
    let seen = mock.seen.lock().unwrap();
    let gap = seen[1].at.duration_since(seen[0].at);
    assert!(gap >= Duration::from_millis(400), "{gap:?}");
}

#[tokio::test]
async fn post_is_never_resent_after_5xx() {
    for status in [500u16, 502, 503, 504] {
        let mock = Arc::new(Mock::default());
        mock.on(
            "POST",
            "/api/v2/vps/vps_t/backups/actions/restore-from-vps",
            vec![
                Reply::problem(status, "internal_error", "boom"),
                Reply::json(202, operation("job_x", "/api/jobs/job_x")),
            ],
        );
        let addr = start(&mock).await;
        let c = client(addr);
        let err = c
            .restore_from_vps("vps_t", "vps_s", "bkp_1")
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert!(err.may_have_reached_hostup());
        assert_eq!(mock.count(), 1, "status {status}");
        assert_eq!(c.request_counts().post, 1);
    }
}

#[tokio::test]
async fn post_is_never_resent_after_a_timeout() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "POST",
        "/api/v2/vps/vps_a/backups",
        vec![Reply::json(202, operation("job_b", "/api/jobs/job_b")).delay(Duration::from_secs(2))],
    );
    let addr = start(&mock).await;
    let mut cfg = config(addr);
    cfg.request_timeout = Duration::from_millis(150);
    let c = Client::new(cfg).unwrap();
    let err = c.create_backup("vps_a", None).await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert!(err.may_have_reached_hostup());
    let msg = err.to_string();
    assert!(msg.contains("may have reached HostUp"), "{msg}");
    assert_eq!(mock.count(), 1);
}

#[tokio::test]
async fn get_is_retried_after_a_timeout() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![
            Reply::json(200, json!({"id": "vps_a"})).delay(Duration::from_secs(2)),
            Reply::json(200, json!({"id": "vps_a"})),
        ],
    );
    let addr = start(&mock).await;
    let mut cfg = config(addr);
    cfg.request_timeout = Duration::from_millis(150);
    Client::new(cfg).unwrap().get_vps("vps_a").await.unwrap();
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn answer_waits_are_summed_over_attempts_and_the_last_attempt_gets_what_is_left() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![Reply::json(200, json!({"id": "vps_a"})).delay(Duration::from_secs(30))],
    );
    let addr = start(&mock).await;
    let mut cfg = config(addr);
    cfg.request_timeout = Duration::from_millis(1200);
    cfg.retry.max_attempts = 10;
    cfg.retry.max_answer_wait = Duration::from_millis(3500);
    let started = StdInstant::now();
    let err = Client::new(cfg)
        .unwrap()
        .get_vps("vps_a")
        .await
        .unwrap_err();
    let took = started.elapsed();
    // 1.2 s + 1.2 s + the 1.1 s left (at least a second, so worth sending), plus two short
    // backoffs; not ten attempts.
    assert!(took < Duration::from_secs(5), "{took:?}");
    let ApiError::Timeout {
        waited, attempts, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*attempts, 3, "{err}");
    assert!(
        *waited >= Duration::from_millis(3490) && *waited < Duration::from_millis(3700),
        "{waited:?}"
    );
    assert_eq!(mock.count(), 3);
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "GET /api/v2/vps/vps_a got no answer from HostUp in 3.5 s (3 attempts of at most \
             1.2 s each)"
        ),
        "{msg}"
    );
}

#[tokio::test]
async fn rate_limit_waits_do_not_use_up_the_answer_budget() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![
            Reply::problem(429, "rate_limited", "slow down").header("retry-after", "1"),
            Reply::problem(429, "rate_limited", "slow down").header("retry-after", "1"),
            Reply::json(200, json!({"id": "vps_a"})),
        ],
    );
    let addr = start(&mock).await;
    let mut cfg = config(addr);
    cfg.request_timeout = Duration::from_millis(300);
    cfg.retry.max_answer_wait = Duration::from_millis(500);
    let started = StdInstant::now();
    // Two seconds of Retry-After, four times the answer budget: still a success.
    Client::new(cfg).unwrap().get_vps("vps_a").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1900));
    assert_eq!(mock.count(), 3);
}

#[tokio::test]
async fn post_is_resent_once_after_429() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "POST",
        "/api/v2/vps/vps_t/backups/actions/restore-from-vps",
        vec![
            Reply::problem(429, "rate_limited", "slow down").header("retry-after", "0"),
            Reply::json(202, operation("job_r", "/api/jobs/job_r")),
        ],
    );
    let addr = start(&mock).await;
    let op = client(addr)
        .restore_from_vps("vps_t", "vps_s", "bkp_1")
        .await
        .unwrap();
    assert_eq!(op.job_id, "job_r");
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn post_is_resent_when_the_connection_was_refused() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let mut cfg = config(addr);
    cfg.retry.initial_backoff = Duration::from_millis(400);
    cfg.retry.max_backoff = Duration::from_millis(400);
    let c = Client::new(cfg).unwrap();
    let mock = Arc::new(Mock::default());
    mock.on(
        "POST",
        "/api/v2/vps/vps_t/backups/actions/restore-from-vps",
        vec![Reply::json(202, operation("job_r", "/api/jobs/job_r"))],
    );
    // Open the port only after the first send was refused; the retry waits at least 200 ms.
    let opener = {
        let (c, mock) = (c.clone(), mock.clone());
        tokio::spawn(async move {
            while c.request_counts().post == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
            serve_on(listener, mock).await;
        })
    };
    let op = c.restore_from_vps("vps_t", "vps_s", "bkp_1").await.unwrap();
    opener.await.unwrap();
    assert_eq!(op.job_id, "job_r");
    assert_eq!(
        c.request_counts().post,
        2,
        "one refused send, one delivered"
    );
    assert_eq!(mock.count(), 1);
}

// ----- safety -----------------------------------------------------------------------------------

#[tokio::test]
async fn ids_are_checked_before_any_request() {
    let mock = Arc::new(Mock::default());
    let addr = start(&mock).await;
    let c = client(addr);
    let err = c
        .restore_from_vps("vps_t", "../../admin", "bkp_1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::InvalidId {
                role: "source VPS id",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("source VPS id"));
    assert!(c.get_vps("").await.is_err());
    assert!(c.delete_backup("vps_a", "bkp 1").await.is_err());
    assert!(c.list_backups(&"v".repeat(65)).await.is_err());
    assert_eq!(mock.count(), 0);
    assert_eq!(c.request_counts().total(), 0);
}

#[test]
fn https_is_required_off_loopback() {
    let cfg = ClientConfig::new(
        Url::parse("http://cloud.hostup.se").unwrap(),
        ApiKey::new(KEY),
    );
    let err = Client::new(cfg).unwrap_err();
    assert!(matches!(err, ApiError::InvalidConfig(_)));
    assert!(err.to_string().contains("https"));
    let ok = ClientConfig::new(
        Url::parse("https://cloud.hostup.se/api/v2").unwrap(),
        ApiKey::new(KEY),
    );
    assert!(Client::new(ok).is_ok());
    let empty = ClientConfig::new(
        Url::parse("https://cloud.hostup.se").unwrap(),
        ApiKey::new("  "),
    );
    assert!(Client::new(empty).is_err());
}

#[tokio::test]
async fn foreign_poll_url_is_refused_and_nothing_is_sent_there() {
    let foreign = Arc::new(Mock::default());
    foreign.on(
        "GET",
        "/api/jobs/job_1",
        vec![Reply::json(
            200,
            legacy_job("job_1", "completed", 100.0, json!({})),
        )],
    );
    let foreign_addr = start(&foreign).await;
    let home = Arc::new(Mock::default());
    let poll = format!("http://{foreign_addr}/api/jobs/job_1");
    home.on(
        "POST",
        "/api/v2/vps/vps_a/backups",
        vec![Reply::json(202, operation("job_1", &poll))],
    );
    let addr = start(&home).await;
    let c = client(addr);
    let op = c.create_backup("vps_a", None).await.unwrap();
    let err = c.get_job(&op.poll_url).await.unwrap_err();
    assert!(matches!(err, ApiError::ForeignPollUrl { .. }), "{err:?}");
    assert!(err.to_string().contains(&foreign_addr.port().to_string()));
    let err = c
        .wait_for_job(&op, fast_poll(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::ForeignPollUrl { .. }), "{err:?}");
    assert_eq!(foreign.count(), 0);
    assert_eq!(home.count(), 1);
}

// ----- jobs -------------------------------------------------------------------------------------

#[tokio::test]
async fn relative_poll_url_resolves_to_api_jobs_and_both_envelopes_parse() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/jobs/job_l",
        vec![Reply::json(
            200,
            legacy_job(
                "job_l",
                "active",
                40.0,
                json!({"queueType": "vps", "jobName": "x"}),
            ),
        )],
    )
    .on(
        "GET",
        "/api/jobs/job_v",
        vec![Reply::json(
            200,
            json!({"operation": {"status": "in_progress", "jobId": "job_v",
                "pollUrl": "/api/jobs/job_v", "result": null}}),
        )],
    );
    let addr = start(&mock).await;
    let c = client(addr);
    let legacy = c.get_job("/api/jobs/job_l").await.unwrap();
    assert_eq!(legacy.job_id, "job_l");
    assert_eq!(legacy.status, JobStatus::Active);
    assert_eq!(legacy.percentage, Some(40.0));
    let v2 = c
        .get_job(&format!("http://{addr}/api/jobs/job_v"))
        .await
        .unwrap();
    assert_eq!(v2.status, JobStatus::InProgress);
    assert_eq!(mock.count_of("GET", "/api/jobs/job_l"), 1);
    assert_eq!(mock.count_of("GET", "/api/jobs/job_v"), 1);
}

#[tokio::test]
async fn wait_reports_progress_changes_and_completes() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/jobs/job_1",
        vec![
            Reply::json(200, legacy_job("job_1", "waiting", 0.0, json!({}))),
            Reply::json(200, legacy_job("job_1", "active", 50.0, json!({}))),
            Reply::json(200, legacy_job("job_1", "active", 50.0, json!({}))),
            Reply::empty(503),
            Reply::json(200, legacy_job("job_1", "restoring-disk", 75.0, json!({}))),
            Reply::json(
                200,
                legacy_job(
                    "job_1",
                    "completed",
                    100.0,
                    json!({"result": {"success": true, "result": {"backupId": "bkp_new"}}}),
                ),
            ),
        ],
    );
    let addr = start(&mock).await;
    let c = client(addr);
    let seen: Arc<Mutex<Vec<JobProgress>>> = Arc::default();
    let sink = seen.clone();
    let op = terraform_provider_hostup::api::Operation {
        status: JobStatus::Queued,
        job_id: "job_1".into(),
        poll_url: "/api/jobs/job_1".into(),
        result: None,
    };
    let outcome = c
        .wait_for_job(
            &op,
            fast_poll(Duration::from_secs(10))
                .with_progress(move |p| sink.lock().unwrap().push(p.clone())),
        )
        .await
        .unwrap();
    match outcome {
        WaitOutcome::Completed(job) => {
            assert_eq!(job.result_backup_id().as_deref(), Some("bkp_new"))
        }
        other => panic!("{other:?}"),
    }
    let seen = seen.lock().unwrap();
    let steps: Vec<(String, Option<f64>)> = seen
        .iter()
        .map(|p| (p.status.to_string(), p.percentage))
        .collect();
    assert_eq!(
        steps,
        [
            ("waiting".to_string(), Some(0.0)),
            ("active".to_string(), Some(50.0)),
            ("restoring-disk".to_string(), Some(75.0)),
            ("completed".to_string(), Some(100.0)),
        ]
    );
    assert_eq!(seen[1].message.as_deref(), Some("active 50"));
    assert_eq!(mock.count(), 6, "the 503 was retried, not fatal");
}

#[tokio::test]
async fn wait_ends_failed_with_the_reason() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/jobs/job_f",
        vec![Reply::json(
            200,
            legacy_job(
                "job_f",
                "failed",
                30.0,
                json!({"failedReason": "Target disk is smaller than the backup"}),
            ),
        )],
    );
    let addr = start(&mock).await;
    let op = terraform_provider_hostup::api::Operation {
        status: JobStatus::Queued,
        job_id: "job_f".into(),
        poll_url: "/api/jobs/job_f".into(),
        result: None,
    };
    let outcome = client(addr)
        .wait_for_job(&op, fast_poll(Duration::from_secs(5)))
        .await
        .unwrap();
    match &outcome {
        WaitOutcome::Failed { job_id, reason, .. } => {
            assert_eq!(job_id, "job_f");
            assert_eq!(reason, "Target disk is smaller than the backup");
        }
        other => panic!("{other:?}"),
    }
    assert!(outcome.to_string().contains("job_f failed"));
}

#[tokio::test]
async fn wait_times_out_naming_job_and_last_status() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/jobs/job_slow",
        vec![Reply::json(
            200,
            legacy_job("job_slow", "active", 20.0, json!({})),
        )],
    );
    let addr = start(&mock).await;
    let op = terraform_provider_hostup::api::Operation {
        status: JobStatus::Queued,
        job_id: "job_slow".into(),
        poll_url: "/api/jobs/job_slow".into(),
        result: None,
    };
    let started = StdInstant::now();
    let outcome = client(addr)
        .wait_for_job(&op, fast_poll(Duration::from_millis(200)))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        outcome,
        WaitOutcome::TimedOut {
            job_id: "job_slow".into(),
            last_status: JobStatus::Active,
            last_percentage: Some(20.0)
        }
    );
    let msg = outcome.to_string();
    assert!(msg.contains("job_slow") && msg.contains("active") && msg.contains("20%"));
    assert!(mock.count() >= 3, "polled repeatedly: {}", mock.count());
}

#[tokio::test]
async fn wait_deadline_interrupts_a_hanging_poll() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/jobs/job_hang",
        vec![
            Reply::json(200, legacy_job("job_hang", "active", 0.0, json!({})))
                .delay(Duration::from_secs(5)),
        ],
    );
    let addr = start(&mock).await;
    let op = terraform_provider_hostup::api::Operation {
        status: JobStatus::Pending,
        job_id: "job_hang".into(),
        poll_url: "/api/jobs/job_hang".into(),
        result: None,
    };
    let started = StdInstant::now();
    let outcome = client(addr)
        .wait_for_job(&op, fast_poll(Duration::from_millis(150)))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(
            &outcome,
            WaitOutcome::TimedOut {
                last_status: JobStatus::Pending,
                ..
            }
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn wait_can_be_cancelled() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/jobs/job_c",
        vec![Reply::json(
            200,
            legacy_job("job_c", "active", 5.0, json!({})),
        )],
    );
    let addr = start(&mock).await;
    let op = terraform_provider_hostup::api::Operation {
        status: JobStatus::Queued,
        job_id: "job_c".into(),
        poll_url: "/api/jobs/job_c".into(),
        result: None,
    };
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(80)).await;
        trigger.cancel();
    });
    let started = StdInstant::now();
    let outcome = client(addr)
        .wait_for_job(&op, fast_poll(Duration::from_secs(30)).with_cancel(cancel))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        outcome,
        WaitOutcome::Cancelled {
            job_id: "job_c".into(),
            last_status: JobStatus::Active
        }
    );
}

#[tokio::test]
async fn a_vanished_job_record_is_reported_as_expired() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/jobs/job_old",
        vec![Reply::problem(404, "not_found", "Job not found")],
    );
    let addr = start(&mock).await;
    let op = terraform_provider_hostup::api::Operation {
        status: JobStatus::Completed,
        job_id: "job_old".into(),
        poll_url: "/api/jobs/job_old".into(),
        result: None,
    };
    let err = client(addr)
        .wait_for_job(&op, fast_poll(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::JobRecordExpired { job_id, .. } if job_id == "job_old"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("expired") && msg.contains("req_test_1"),
        "{msg}"
    );
    assert_eq!(mock.count(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn malformed_success_body_is_a_decode_error_not_a_panic() {
    let mock = Arc::new(Mock::default());
    mock.on(
        "GET",
        "/api/v2/vps/vps_a",
        vec![Reply::text(200, "not json")],
    )
    .on(
        "POST",
        "/api/v2/vps/vps_a/backups",
        vec![Reply::json(202, json!({"operation": {"status": "queued"}}))],
    );
    let addr = start(&mock).await;
    let c = client(addr);
    let err = c.get_vps("vps_a").await.unwrap_err();
    assert!(
        matches!(err, ApiError::Decode { status: 200, .. }),
        "{err:?}"
    );
    let err = c.create_backup("vps_a", None).await.unwrap_err();
    assert!(err.to_string().contains("jobId"), "{err}");
}
