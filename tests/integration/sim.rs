//! Black-box tests of the `hostup-sim` binary: each test starts the built simulator with a fixture
//! in a temp dir and tiny job durations, then talks plain HTTP to it with reqwest, the way the API
//! client tests and the acceptance tests will.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::sim::{with_job_duration, Sim};
use testkit::world::*;

const FULL: &str = "k_full_secret_a";
const READ: &str = "k_read_secret_a";
const BACKUP_ONLY: &str = "k_backup_secret_a";
const OTHER: &str = "k_full_secret_b";
const POWER: &str = "k_power_secret_a";

/// The shared restore world (testkit::world), with keys of every scope and a backup quota and an
/// address on web-01.
fn fixture() -> Value {
    World::restore()
        .key(FULL, CLIENT, FULL_SCOPES)
        .key(READ, CLIENT, &["read:vm"])
        .key(BACKUP_ONLY, CLIENT, &["backup:vm"])
        .key(OTHER, OTHER_CLIENT, FULL_SCOPES)
        .set(
            TARGET,
            json!({"backupQuota": 2, "primaryIp": "192.0.2.10", "backups": []}),
        )
        .build()
}

/// The shared simulator handle with a reqwest client: these tests see status, headers and body the
/// way an API client does.
struct HttpSim {
    process: Sim,
    base: String,
    http: reqwest::Client,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("missing header {name}"))
    }
}

fn http_client() -> reqwest::Client {
    // reqwest is built without a default TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().build().expect("reqwest client")
}

/// Starts the simulator with 300 ms jobs unless `args` set a duration.
fn start(fixture: Value, args: &[&str]) -> HttpSim {
    let process = Sim::start(&fixture, &with_job_duration("300ms", args));
    assert!(
        process.base_url().starts_with("http://127.0.0.1:"),
        "first stdout line must be the base URL, got {:?}",
        process.base_url()
    );
    HttpSim {
        base: process.base_url().to_owned(),
        process,
        http: http_client(),
    }
}

impl HttpSim {
    async fn send(
        &self,
        method: &str,
        key: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, url);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON body {text:?}: {e}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, key: Option<&str>, path: &str) -> Answer {
        self.send("GET", key, path, None).await
    }

    /// `GET /api/v2/vps/{id}/status`, checked to be a 200.
    async fn status(&self, id: &str) -> Value {
        let a = self
            .get(Some(FULL), &format!("/api/v2/vps/{id}/status"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body
    }

    async fn power(&self, key: &str, id: &str, action: &str) -> Answer {
        self.send(
            "POST",
            Some(key),
            &format!("/api/v2/vps/{id}/actions/{action}"),
            None,
        )
        .await
    }

    async fn restore(&self, target: &str, source: &str, backup: &str) -> Answer {
        self.send(
            "POST",
            Some(FULL),
            &format!("/api/v2/vps/{target}/backups/actions/restore-from-vps"),
            Some(json!({"sourceVpsId": source, "backupId": backup})),
        )
        .await
    }

    /// Polls a job until it is terminal; returns every answer seen.
    async fn wait_job(&self, poll_url: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        loop {
            let a = self.get(Some(FULL), poll_url).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            let done = a.body["data"]["isCompleted"] == true
                || a.body["data"]["isFailed"] == true
                || matches!(
                    a.body["operation"]["status"].as_str(),
                    Some("completed" | "failed")
                );
            seen.push(a.body);
            if done {
                return seen;
            }
            assert!(Instant::now() < deadline, "job did not finish: {seen:?}");
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }
}

fn assert_problem(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    assert_eq!(a.header("content-type"), "application/problem+json");
    let b = &a.body;
    assert_eq!(b["status"], status);
    assert_eq!(b["code"], code, "{b}");
    assert_eq!(
        b["type"],
        format!("https://developer.hostup.se/errors/{code}")
    );
    assert!(b["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(b["detail"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(b["instance"]
        .as_str()
        .is_some_and(|p| p.starts_with("/api/")));
    assert!(b["requestId"]
        .as_str()
        .is_some_and(|r| r.starts_with("req_")));
    assert!(chrono::DateTime::parse_from_rfc3339(b["timestamp"].as_str().unwrap()).is_ok());
}

fn pointers(a: &Answer) -> Vec<String> {
    a.body["errors"]
        .as_array()
        .expect("errors[]")
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn authentication_scopes_and_ownership() {
    let sim = start(fixture(), &[]);
    let vps = format!("/api/v2/vps/{TARGET}");
    let sources = format!("/api/v2/vps/{TARGET}/backups/restore-sources");

    assert_problem(&sim.get(None, &vps).await, 401, "unauthorized");
    assert_problem(&sim.get(Some("not-a-key"), &vps).await, 401, "unauthorized");

    let a = sim.get(Some(READ), &sources).await;
    assert_problem(&a, 403, "forbidden");
    assert!(a.body["detail"].as_str().unwrap().contains("backup:vm"));
    let a = sim.get(Some(BACKUP_ONLY), &vps).await;
    assert_problem(&a, 403, "forbidden");
    assert!(a.body["detail"].as_str().unwrap().contains("read:vm"));

    let a = sim.get(Some(FULL), &format!("/api/v2/vps/{FOREIGN}")).await;
    assert_problem(&a, 404, "vps_not_found");
    let a = sim.get(Some(OTHER), &vps).await;
    assert_problem(&a, 404, "vps_not_found");
    assert_eq!(sim.get(Some(READ), &vps).await.status, StatusCode::OK);
}

#[tokio::test]
async fn restore_sources_list_other_vps_and_retained_but_never_the_target() {
    let sim = start(fixture(), &[]);
    let a = sim
        .get(
            Some(FULL),
            &format!("/api/v2/vps/{TARGET}/backups/restore-sources"),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let sources = a.body["sources"].as_array().unwrap();
    let ids: Vec<&str> = sources.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [SOURCE, RETAINED],
        "no target, no empty VPS, no foreign VPS"
    );
    assert_eq!(sources[0]["sourceType"], "server");
    assert_eq!(sources[1]["sourceType"], "retained");
    assert_eq!(sources[1]["serviceStatus"], "terminated");
    let backups: Vec<&str> = sources[0]["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(backups, [NEWEST, HUGE, SMALL, BROKEN], "newest first");
    assert_eq!(sources[0]["backups"][0]["sizeGb"], 12.4);
    assert_eq!(sources[0]["backups"][0]["note"], "Before upgrade");

    // Seen from the source, the target (no backups) is absent and the source excludes itself.
    let a = sim
        .get(
            Some(FULL),
            &format!("/api/v2/vps/{SOURCE}/backups/restore-sources"),
        )
        .await;
    let ids: Vec<&str> = a.body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [RETAINED]);
}

#[tokio::test]
async fn restore_validation_points_at_the_offending_field() {
    let sim = start(fixture(), &[]);
    let cases = [
        (TARGET, "/sourceVpsId", "same_vps"),
        (FOREIGN, "/sourceVpsId", "not_a_restore_source"),
        (EMPTY, "/sourceVpsId", "not_a_restore_source"),
    ];
    for (source, pointer, code) in cases {
        let a = sim.restore(TARGET, source, SMALL).await;
        assert_problem(&a, 400, "invalid_request");
        assert_eq!(pointers(&a), [pointer], "source {source}");
        assert_eq!(a.body["errors"][0]["code"], code);
    }
    let a = sim.restore(TARGET, RETAINED, SMALL).await;
    assert_problem(&a, 400, "invalid_request");
    assert_eq!(pointers(&a), ["/backupId"]);
    assert_eq!(a.body["errors"][0]["code"], "backup_not_in_source");

    let a = sim.restore(TARGET, SOURCE, HUGE).await;
    assert_problem(&a, 400, "invalid_request");
    assert_eq!(pointers(&a), ["/backupId"]);
    assert_eq!(a.body["errors"][0]["code"], "insufficient_storage");

    let path = format!("/api/v2/vps/{TARGET}/backups/actions/restore-from-vps");
    let a = sim.send("POST", Some(FULL), &path, Some(json!({}))).await;
    assert_problem(&a, 400, "invalid_request");
    assert_eq!(pointers(&a), ["/sourceVpsId", "/backupId"]);

    let a = sim
        .http
        .post(format!("{}{path}", sim.base))
        .bearer_auth(FULL)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), StatusCode::BAD_REQUEST);

    // Another client's target is not found, whatever the body says.
    let a = sim.restore(FOREIGN, SOURCE, SMALL).await;
    assert_problem(&a, 404, "vps_not_found");
}

#[tokio::test]
async fn restore_runs_closes_the_gate_and_leaves_a_visible_mark() {
    // Long enough that a loaded machine still sees the job running between the first requests.
    let sim = start(fixture(), &["--job-duration", "800ms"]);
    let a = sim.restore(TARGET, SOURCE, NEWEST).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let op = &a.body["operation"];
    assert_eq!(op["status"], "queued");
    let job = op["jobId"].as_str().unwrap().to_string();
    assert!(job.starts_with("job_") && job.len() == 4 + 26, "{job}");
    let poll = op["pollUrl"].as_str().unwrap().to_string();
    assert_eq!(poll, format!("/api/jobs/{job}"));

    let v = sim.get(Some(FULL), &format!("/api/v2/vps/{TARGET}")).await;
    let gate = &v.body["actions"]["canRestoreFromAnotherVps"];
    assert_eq!(gate["allowed"], false);
    assert_eq!(gate["code"], "job_in_progress");
    assert!(gate["reason"].as_str().unwrap().contains(&job));
    assert_problem(
        &sim.restore(TARGET, SOURCE, NEWEST).await,
        409,
        "vps_not_ready",
    );

    let seen = sim.wait_job(&poll).await;
    let last = &seen.last().unwrap()["data"];
    assert_eq!(last["status"], "completed");
    assert_eq!(last["isCompleted"], true);
    assert_eq!(last["progressDetails"]["percentage"], 100);
    assert!(last["finishedAt"].is_string());
    let running: Vec<&Value> = seen
        .iter()
        .filter(|s| s["data"]["status"] == "in_progress")
        .collect();
    assert!(!running.is_empty(), "progress was never observed: {seen:?}");
    for r in &running {
        let pct = r["data"]["progressDetails"]["percentage"].as_u64().unwrap();
        assert!((1..=99).contains(&pct));
        assert!(r["data"]["progressMessage"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }

    let v = sim.get(Some(FULL), &format!("/api/v2/vps/{TARGET}")).await;
    assert_eq!(v.body["restoreCount"], 1);
    let from = &v.body["restoredFrom"];
    assert_eq!(from["sourceVpsId"], SOURCE);
    assert_eq!(from["backupId"], NEWEST);
    assert_eq!(from["jobId"], job.as_str());
    assert!(from["completedAt"].is_string());
    assert_eq!(
        v.body["actions"]["canRestoreFromAnotherVps"]["allowed"],
        true
    );
}

#[tokio::test]
async fn power_actions_run_as_jobs_and_need_the_power_scope() {
    let fixture = World::restore()
        .key(FULL, CLIENT, RESTORE_SCOPES)
        .key(POWER, CLIENT, &["read:vm", "power:vm"])
        .key(OTHER, OTHER_CLIENT, &["read:vm", "power:vm"])
        .build();
    // Long enough that a loaded machine still sees each job running.
    let sim = start(fixture, &["--job-duration", "800ms"]);
    let s = sim.status(TARGET).await;
    assert_eq!(s["id"], TARGET);
    assert_eq!(s["powerState"], "running");
    assert!(s["uptimeSeconds"].as_i64().is_some_and(|u| u >= 0), "{s}");
    assert_eq!(s["pendingTasks"], json!([]));

    let a = sim.power(FULL, TARGET, "stop").await;
    assert_problem(&a, 403, "forbidden");
    assert!(a.body["detail"].as_str().unwrap().contains("power:vm"));
    assert_problem(
        &sim.power(POWER, TARGET, "hibernate").await,
        404,
        "not_found",
    );
    assert_problem(
        &sim.power(OTHER, TARGET, "stop").await,
        404,
        "vps_not_found",
    );

    let a = sim.power(POWER, TARGET, "stop").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let op = &a.body["operation"];
    let job = op["jobId"].as_str().unwrap().to_string();
    let poll = op["pollUrl"].as_str().unwrap().to_string();
    let s = sim.status(TARGET).await;
    assert_eq!(s["powerState"], "stopping");
    assert_eq!(s["pendingTasks"][0]["jobId"], job.as_str());
    assert_problem(
        &sim.power(POWER, TARGET, "start").await,
        409,
        "vps_not_ready",
    );
    let seen = sim.wait_job(&poll).await;
    let last = &seen.last().unwrap()["data"];
    assert_eq!(last["status"], "completed");
    assert_eq!(last["result"]["type"], "vps_stop");
    assert_eq!(
        last["result"]["result"],
        json!({"vpsId": TARGET, "action": "stop"})
    );
    let s = sim.status(TARGET).await;
    assert_eq!(s["powerState"], "stopped");
    assert_eq!(s["uptimeSeconds"], Value::Null);
    let v = sim.get(Some(FULL), &format!("/api/v2/vps/{TARGET}")).await;
    assert_eq!(v.body["powerState"], "stopped");

    let a = sim.power(POWER, TARGET, "start").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(sim.status(TARGET).await["powerState"], "starting");
    sim.wait_job(a.body["operation"]["pollUrl"].as_str().unwrap())
        .await;
    let s = sim.status(TARGET).await;
    assert_eq!(s["powerState"], "running");
    assert!(s["uptimeSeconds"].as_i64().is_some(), "{s}");
}

#[tokio::test]
async fn a_failing_power_action_ends_its_job_failed_and_changes_nothing() {
    let fixture = World::restore()
        .key(POWER, CLIENT, &["read:vm", "power:vm"])
        .key(FULL, CLIENT, FULL_SCOPES)
        .set(
            TARGET,
            json!({"powerState": "stopped", "failPowerActions": "hypervisor busy"}),
        )
        .build();
    let sim = start(fixture, &[]);
    let a = sim.power(POWER, TARGET, "start").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let seen = sim
        .wait_job(a.body["operation"]["pollUrl"].as_str().unwrap())
        .await;
    let last = &seen.last().unwrap()["data"];
    assert_eq!(last["status"], "failed");
    assert_eq!(last["failedReason"], "hypervisor busy");
    assert_eq!(sim.status(TARGET).await["powerState"], "stopped");
}

#[tokio::test]
async fn after_a_restore_the_target_is_started_again_or_left_stopped_as_the_fixture_says() {
    // (fixture fields, power when the job ends, power two seconds later)
    for (fields, at_end, later) in [
        (json!({}), "running", "running"),
        (
            json!({"powerAfterRestore": "stopped"}),
            "stopped",
            "stopped",
        ),
        (
            json!({"powerAfterRestore": "running", "startAfterRestoreSeconds": 1}),
            "stopped",
            "running",
        ),
    ] {
        let fixture = World::restore()
            .key(FULL, CLIENT, FULL_SCOPES)
            .set(TARGET, fields.clone())
            .build();
        let sim = start(fixture, &["--job-duration", "800ms"]);
        let a = sim.restore(TARGET, SOURCE, NEWEST).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
        assert_eq!(
            sim.status(TARGET).await["powerState"],
            "stopped",
            "{fields}"
        );
        sim.wait_job(a.body["operation"]["pollUrl"].as_str().unwrap())
            .await;
        assert_eq!(sim.status(TARGET).await["powerState"], at_end, "{fields}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let s = sim.status(TARGET).await;
        assert_eq!(s["powerState"], later, "{fields}");
        assert_eq!(s["uptimeSeconds"].is_number(), later == "running", "{s}");
    }
}

#[tokio::test]
async fn closed_fixture_gate_refuses_and_gate_can_live_only_in_details() {
    let sim = start(fixture(), &["--gate-location", "details"]);
    let a = sim.restore(GATED, SOURCE, SMALL).await;
    assert_problem(&a, 409, "vps_not_ready");
    assert!(a.body["detail"].as_str().unwrap().contains("unpaid order"));

    let v = sim.get(Some(FULL), &format!("/api/v2/vps/{GATED}")).await;
    assert!(v.body["actions"].get("canRestoreFromAnotherVps").is_none());
    let d = sim
        .get(Some(FULL), &format!("/api/v2/vps/{GATED}/details"))
        .await;
    assert_eq!(d.body["storageGb"], 40);
    let gate = &d.body["actions"]["canRestoreFromAnotherVps"];
    assert_eq!(gate["allowed"], false);
    assert_eq!(gate["code"], "pending_order");
}

#[tokio::test]
async fn a_named_backup_makes_the_restore_job_fail_with_its_reason() {
    let sim = start(fixture(), &[]);
    let a = sim.restore(TARGET, SOURCE, BROKEN).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let seen = sim
        .wait_job(a.body["operation"]["pollUrl"].as_str().unwrap())
        .await;
    let last = &seen.last().unwrap()["data"];
    assert_eq!(last["isFailed"], true);
    assert_eq!(last["status"], "failed");
    assert_eq!(last["failedReason"], "archive checksum mismatch");
    let v = sim.get(Some(FULL), &format!("/api/v2/vps/{TARGET}")).await;
    assert_eq!(v.body["restoredFrom"], Value::Null);
    assert_eq!(v.body["restoreCount"], 0);
}

#[tokio::test]
async fn rate_limit_is_per_key_with_headers() {
    let sim = start(fixture(), &["--rate-limit", "3/60s"]);
    let path = format!("/api/v2/vps/{TARGET}");
    for remaining in ["2", "1", "0"] {
        let a = sim.get(Some(FULL), &path).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.header("x-ratelimit-limit"), "3");
        assert_eq!(a.header("x-ratelimit-remaining"), remaining);
    }
    let a = sim.get(Some(FULL), &path).await;
    assert_problem(&a, 429, "rate_limited");
    let retry: u64 = a.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(a.header("x-ratelimit-remaining"), "0");
    assert!(chrono::DateTime::parse_from_rfc3339(a.header("x-ratelimit-reset")).is_ok());
    assert_eq!(sim.get(Some(READ), &path).await.status, StatusCode::OK);
}

#[tokio::test]
async fn burst_of_503_then_recovery_and_injected_failures() {
    let sim = start(fixture(), &["--burst-503", "2"]);
    let path = format!("/api/v2/vps/{TARGET}");
    assert_problem(
        &sim.get(Some(FULL), &path).await,
        503,
        "upstream_unavailable",
    );
    assert_problem(
        &sim.get(Some(FULL), &path).await,
        503,
        "upstream_unavailable",
    );
    assert_eq!(sim.get(Some(FULL), &path).await.status, StatusCode::OK);

    let r = sim
        .http
        .post(format!("{}/_sim/fail-next", sim.base))
        .json(&json!({"count": 1, "status": 500, "pathPrefix": "/api/jobs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.get(Some(FULL), &path).await.status, StatusCode::OK);
    assert_problem(
        &sim.get(Some(FULL), "/api/jobs/job_x").await,
        500,
        "internal_error",
    );
    assert_problem(
        &sim.get(Some(FULL), "/api/jobs/job_x").await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn hang_holds_matching_requests_unanswered_and_logs_them_at_once() {
    let sim = start(fixture(), &[]);
    let path = format!("/api/v2/vps/{TARGET}");
    for bad in [
        json!({"count": 0}),
        json!({"count": 1, "holdSeconds": 0}),
        json!({"count": 1, "pathPrefix": "/api"}),
    ] {
        let r = sim
            .http
            .post(format!("{}/_sim/hang", sim.base))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    sim.process.admin(
        "POST",
        "/_sim/hang",
        Some(json!({"count": 1, "method": "GET", "pathSuffix": path, "holdSeconds": 1})),
    );
    assert_eq!(
        sim.process.state()["pendingHangs"],
        json!([{"remaining": 1, "method": "GET", "pathSuffix": path, "holdSeconds": 1}])
    );
    // Not matched: another method, another path (the suffix is the end of the path).
    assert_eq!(
        sim.get(Some(FULL), &format!("{path}/details")).await.status,
        StatusCode::OK
    );
    let started = Instant::now();
    let held = sim.get(Some(FULL), &path).await;
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_problem(&held, 504, "upstream_timeout");
    let log = sim.process.requests();
    let entry = log.iter().find(|r| r.path == path).expect("logged");
    assert_eq!(entry.fault.as_deref(), Some("hang"));
    assert_eq!(entry.status, 0, "logged with no status: {:?}", entry.raw);
    // The count is used up: the next one is answered at once.
    assert_eq!(sim.get(Some(FULL), &path).await.status, StatusCode::OK);
    assert_eq!(sim.process.state()["pendingHangs"], json!([]));
}

#[tokio::test]
async fn fail_rate_limited_to_gets() {
    let sim = start(fixture(), &["--fail-rate", "1.0", "--fail-method", "GET"]);
    let a = sim.get(Some(FULL), &format!("/api/v2/vps/{TARGET}")).await;
    assert_problem(&a, 503, "upstream_unavailable");
    assert_eq!(
        sim.restore(TARGET, SOURCE, SMALL).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn latency_is_added_and_wrong_methods_get_a_problem() {
    let sim = start(fixture(), &["--latency", "150ms"]);
    let started = Instant::now();
    let a = sim.get(Some(FULL), &format!("/api/v2/vps/{TARGET}")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let a = sim
        .send("DELETE", Some(FULL), &format!("/api/v2/vps/{TARGET}"), None)
        .await;
    assert_problem(&a, 405, "method_not_allowed");
    assert_problem(
        &sim.get(Some(FULL), "/api/v2/nothing-here").await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn poll_url_modes() {
    let sim = start(
        fixture(),
        &["--poll-url-mode", "foreign:https://evil.example:8443"],
    );
    let a = sim.restore(TARGET, SOURCE, SMALL).await;
    let job = a.body["operation"]["jobId"].as_str().unwrap();
    assert_eq!(
        a.body["operation"]["pollUrl"],
        format!("https://evil.example:8443/api/jobs/{job}")
    );
    drop(sim);

    let sim = start(fixture(), &["--poll-url-mode", "absolute"]);
    let a = sim.restore(TARGET, SOURCE, SMALL).await;
    let poll = a.body["operation"]["pollUrl"].as_str().unwrap();
    assert!(
        poll.starts_with(&format!("{}/api/jobs/job_", sim.base)),
        "{poll}"
    );
    let seen = sim.wait_job(poll).await;
    assert_eq!(seen.last().unwrap()["data"]["status"], "completed");
}

#[tokio::test]
async fn backups_create_list_quota_delete_with_v2_envelope() {
    let sim = start(
        fixture(),
        &["--job-envelope", "v2", "--job-duration", "100ms"],
    );
    let list = format!("/api/v2/vps/{TARGET}/backups");
    let a = sim.get(Some(FULL), &list).await;
    assert_eq!(a.body["backups"], json!([]));
    assert_eq!(
        a.body["quotaInfo"],
        json!({"used": 0, "limit": 2, "remaining": 2})
    );
    assert_eq!(a.body["actions"]["canCreateBackup"]["allowed"], true);
    assert!(a.body["actions"]["canRestore"]["allowed"].is_boolean());

    let mut created = Vec::new();
    for note in ["first", "second"] {
        let a = sim
            .send("POST", Some(FULL), &list, Some(json!({"note": note})))
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
        let seen = sim
            .wait_job(a.body["operation"]["pollUrl"].as_str().unwrap())
            .await;
        let op = &seen.last().unwrap()["operation"];
        assert_eq!(op["status"], "completed");
        assert!(op["jobId"].as_str().unwrap().starts_with("job_"));
        let id = op["result"]["result"]["backupId"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(id.starts_with("bkp_"));
        created.push(id);
    }
    let a = sim.get(Some(FULL), &list).await;
    let ids: Vec<&str> = a.body["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [created[1].as_str(), created[0].as_str()]);
    assert_eq!(a.body["backups"][0]["note"], "second");
    assert_eq!(a.body["quotaInfo"]["remaining"], 0);
    assert_eq!(a.body["actions"]["canCreateBackup"]["allowed"], false);

    let a = sim.send("POST", Some(FULL), &list, None).await;
    assert_problem(&a, 409, "backup_quota_exceeded");
    assert_problem(
        &sim.send("POST", Some(READ), &list, None).await,
        403,
        "forbidden",
    );

    let one = format!("{list}/{}", created[0]);
    let a = sim.send("DELETE", Some(FULL), &one, None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_problem(
        &sim.send("DELETE", Some(FULL), &one, None).await,
        404,
        "backup_not_found",
    );
    let a = sim.get(Some(FULL), &list).await;
    assert_eq!(a.body["backups"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn backup_job_result_in_legacy_envelope() {
    let sim = start(fixture(), &["--job-duration", "50ms"]);
    let list = format!("/api/v2/vps/{TARGET}/backups");
    let a = sim.send("POST", Some(FULL), &list, None).await;
    let seen = sim
        .wait_job(a.body["operation"]["pollUrl"].as_str().unwrap())
        .await;
    let id = seen.last().unwrap()["data"]["result"]["result"]["backupId"]
        .as_str()
        .unwrap()
        .to_string();
    let a = sim.get(Some(FULL), &list).await;
    assert_eq!(a.body["backups"][0]["id"], id.as_str());
}

#[tokio::test]
async fn job_records_expire() {
    let sim = start(
        fixture(),
        &["--job-duration", "50ms", "--job-retention", "200ms"],
    );
    let a = sim.restore(TARGET, SOURCE, SMALL).await;
    let poll = a.body["operation"]["pollUrl"].as_str().unwrap().to_string();
    sim.wait_job(&poll).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_problem(&sim.get(Some(FULL), &poll).await, 404, "not_found");
    // Another client never sees someone else's job either.
    let a = sim.restore(TARGET, SOURCE, SMALL).await;
    let poll = a.body["operation"]["pollUrl"].as_str().unwrap().to_string();
    assert_problem(&sim.get(Some(OTHER), &poll).await, 404, "not_found");
}

#[tokio::test]
async fn vps_list_paginates_with_opaque_cursor() {
    let mut fx = fixture();
    for i in 0..3 {
        fx["vps"].as_array_mut().unwrap().push(json!({
            "id": format!("vps_01extra{i}"), "client": "cl_a", "name": format!("extra-{i}"),
            "storageGb": 10}));
    }
    let sim = start(fx, &[]);
    let mut ids = Vec::new();
    let mut path = "/api/v2/vps?limit=3".to_string();
    let mut pages = 0;
    loop {
        let a = sim.get(Some(FULL), &path).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        pages += 1;
        for v in a.body["data"].as_array().unwrap() {
            assert!(v.get("actions").is_none(), "list items carry no gates");
            ids.push(v["id"].as_str().unwrap().to_string());
        }
        if a.body["hasMore"] == false {
            assert_eq!(a.body["nextCursor"], Value::Null);
            break;
        }
        path = format!(
            "/api/v2/vps?limit=3&cursor={}",
            a.body["nextCursor"].as_str().unwrap()
        );
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 7, "all of cl_a's VPSes, none of cl_b's: {ids:?}");
    assert!(!ids.iter().any(|i| i == FOREIGN));

    let a = sim.get(Some(FULL), "/api/v2/vps").await;
    assert_eq!(
        a.body["data"].as_array().unwrap().len(),
        7,
        "default limit 20"
    );
    assert_problem(
        &sim.get(Some(FULL), "/api/v2/vps?cursor=garbage!").await,
        400,
        "invalid_cursor",
    );
    for bad in ["0", "101", "ten"] {
        let a = sim
            .get(Some(FULL), &format!("/api/v2/vps?limit={bad}"))
            .await;
        assert_problem(&a, 400, "invalid_request");
    }
    let a = sim
        .get(Some(FULL), "/api/v2/vps?primaryIp=192.0.2.10")
        .await;
    assert_eq!(a.body["data"][0]["id"], TARGET);
}

#[tokio::test]
async fn request_log_records_requests_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sim = start(fixture(), &["--request-log", log.to_str().unwrap()]);
    sim.get(Some(FULL), &format!("/api/v2/vps/{TARGET}")).await;
    sim.get(None, "/api/v2/vps").await;
    sim.restore(TARGET, TARGET, SMALL).await;

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(FULL), "the API key must never be logged");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(lines[0]["path"], format!("/api/v2/vps/{TARGET}"));
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["authPresent"], true);
    assert_eq!(lines[1]["status"], 401);
    assert_eq!(lines[1]["authPresent"], false);
    assert_eq!(lines[2]["method"], "POST");
    assert_eq!(lines[2]["status"], 400);
    assert!(lines[0]["time"].is_string());

    let from_admin = sim.get(None, "/_sim/requests").await;
    assert_eq!(from_admin.body.as_array().unwrap().len(), 3);
    let r = sim
        .http
        .post(format!("{}/_sim/reset-log", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.get(None, "/_sim/requests").await.body, json!([]));
}

#[tokio::test]
async fn admin_mutations_close_gates_and_rotate_backups() {
    let sim = start(fixture(), &[]);
    let r = sim
        .http
        .post(format!(
            "{}/_sim/vps/{TARGET}/gates/canRestoreFromAnotherVps",
            sim.base
        ))
        .json(&json!({"allowed": false, "reason": "Maintenance window", "code": "maintenance"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let v = sim.get(Some(FULL), &format!("/api/v2/vps/{TARGET}")).await;
    assert_eq!(
        v.body["actions"]["canRestoreFromAnotherVps"]["code"],
        "maintenance"
    );
    assert_problem(
        &sim.restore(TARGET, SOURCE, SMALL).await,
        409,
        "vps_not_ready",
    );

    let r = sim
        .http
        .delete(format!("{}/_sim/backups/{SMALL}", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let a = sim
        .get(
            Some(FULL),
            &format!("/api/v2/vps/{TARGET}/backups/restore-sources"),
        )
        .await;
    assert!(!a.body.to_string().contains(SMALL));
    let a = sim.restore(TARGET, SOURCE, SMALL).await;
    assert_problem(&a, 400, "invalid_request");
    assert_eq!(pointers(&a), ["/backupId"]);

    let state = sim.get(None, "/_sim/state").await;
    assert!(
        !state.body.to_string().contains(FULL),
        "state must not show keys"
    );
    assert_eq!(state.body["vps"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn example_fixture_serves_and_bad_fixtures_are_refused() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/sim/fixture.json"
    ))
    .unwrap();
    let sim = start(serde_json::from_str(&example).unwrap(), &[]);
    let a = sim.get(Some("hu_sim_acme_full_0001"), "/api/v2/vps").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["data"].as_array().unwrap().len(), 4);

    let bad = sim.process.dir().join("bad.json");
    for (text, needle) in [
        (
            r#"{"clients": [], "apiKeys": [], "vps": [], "extra": 1}"#,
            "extra",
        ),
        (
            r#"{"clients": [{"id":"c"}], "apiKeys": [{"key":"k","client":"nope","scopes":[]}]}"#,
            "nope",
        ),
        ("not json", "parsing fixture"),
        (
            r#"{"clients": [{"id":"c"}], "apiKeys": [], "vps": [{"id":"vps_1","client":"c","name":"a",
                "storageGb":10,"powerAfterRestore":"sleeping"}]}"#,
            "powerAfterRestore",
        ),
    ] {
        std::fs::write(&bad, text).unwrap();
        let out = Command::new(testkit::sim::binary())
            .arg("--fixture")
            .arg(&bad)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
