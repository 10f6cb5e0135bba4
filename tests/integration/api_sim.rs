//! The real `api::Client` against the real `hostup-sim` binary: every endpoint, both job
//! envelopes, each error class, rate limits with `Retry-After`, 5xx bursts, a foreign poll URL,
//! job timeouts, cancellation, expired job records and key secrecy. The two sides were written
//! from hostup-api.md §15 by different people with their own JSON shapes, so a test failing here
//! means one of them misread the contract. Each test starts its own simulator with a fixture in a
//! temp dir and short jobs, and reads what was really sent from `/_sim/requests`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use terraform_provider_hostup::api::{
    ApiError, ApiKey, Client, ClientConfig, DeleteOutcome, GateLookup, GateOrigin, JobProgress,
    JobStatus, Operation, PollSchedule, PowerAction, RetryPolicy, SourceType, WaitOptions,
    WaitOutcome,
};
use testkit::sim::{statuses, with_job_duration, Sim};
use testkit::world::{World, CLIENT, FULL_SCOPES, OTHER_CLIENT, RESTORE_SCOPES};
use tokio_util::sync::CancellationToken;
use url::Url;

/// Every key carries this marker, so one substring check finds any leak of any key.
const SECRET_MARK: &str = "KEYSECRET";
const FULL: &str = "hu_test_full_KEYSECRET_7f3a";
const READ: &str = "hu_test_read_KEYSECRET_91c2";
const OTHER: &str = "hu_test_other_KEYSECRET_44d0";
const WRONG: &str = "hu_test_wrong_KEYSECRET_0bad";
const POWER: &str = "hu_test_power_KEYSECRET_5e17";

const TARGET: &str = "vps_01target0000000000000001";
const SOURCE: &str = "vps_01source0000000000000001";
const EMPTY: &str = "vps_01empty00000000000000001";
const GATED: &str = "vps_01gated00000000000000001";
const FOREIGN: &str = "vps_01foreign000000000000001";
const RETAINED: &str = "vps_01retained00000000000001";
const FILLERS: [&str; 3] = [
    "vps_01fill0000000000000000001",
    "vps_01fill0000000000000000002",
    "vps_01fill0000000000000000003",
];

const TARGET_BKP: &str = "bkp_01target0000000000000001";
const SMALL: &str = "bkp_01small00000000000000001";
const NEWEST: &str = "bkp_01newest0000000000000001";
const HUGE: &str = "bkp_01huge000000000000000001";
const BROKEN: &str = "bkp_01broken0000000000000001";
const OLD_SHOP: &str = "bkp_01oldshop000000000000001";
const OLDER_SHOP: &str = "bkp_01oldershop00000000000001";
const FOREIGN_BKP: &str = "bkp_01foreign000000000000001";

const FAIL_REASON: &str = "Backup archive failed its checksum verification";

fn fixture() -> Value {
    let mut vps = vec![
        json!({"id": TARGET, "client": CLIENT, "name": "web-01", "storageGb": 20,
               "primaryIp": "192.0.2.10", "productName": "VPS S", "backupQuota": 3,
               "backups": [{"id": TARGET_BKP, "createdAt": "2026-04-15T02:00:00Z", "sizeGb": 4}]}),
        // Backups deliberately out of date order: the simulator must sort them.
        json!({"id": SOURCE, "client": CLIENT, "name": "db-01", "storageGb": 100, "backups": [
            {"id": SMALL, "createdAt": "2026-04-01T02:00:00Z", "sizeGb": 5},
            {"id": NEWEST, "createdAt": "2026-04-27T10:00:00Z", "sizeGb": 12.4,
             "backupType": "manual", "note": "Before upgrade"},
            {"id": HUGE, "createdAt": "2026-04-10T02:00:00Z", "sizeGb": 50},
            {"id": BROKEN, "createdAt": "2026-03-01T02:00:00Z", "sizeGb": 6,
             "failRestore": FAIL_REASON}]}),
        // Another client's VPS sits in the middle of the list; paging must skip it.
        json!({"id": FOREIGN, "client": OTHER_CLIENT, "name": "other-01", "storageGb": 80, "backups": [
            {"id": FOREIGN_BKP, "createdAt": "2026-04-26T02:00:00Z", "sizeGb": 3}]}),
        json!({"id": EMPTY, "client": CLIENT, "name": "cache-01", "storageGb": 10}),
        json!({"id": GATED, "client": CLIENT, "name": "mail-01", "storageGb": 40, "gates": {
            "canRestoreFromAnotherVps": {"allowed": false,
                "reason": "An unpaid order blocks changes to this service.", "code": "pending_order"}}}),
    ];
    for (i, id) in FILLERS.iter().enumerate() {
        vps.push(
            json!({"id": id, "client": CLIENT, "name": format!("fill-0{}", i + 1),
                        "storageGb": 10}),
        );
    }
    World::new()
        .set(CLIENT, json!({"name": "Acme"}))
        .set(OTHER_CLIENT, json!({"name": "Someone Else"}))
        // Everything but power: the power test asks FULL to power a VPS, and is refused.
        .key(FULL, CLIENT, RESTORE_SCOPES)
        .key(READ, CLIENT, &["read:vm"])
        .key(POWER, CLIENT, &["read:vm", "power:vm"])
        .key(OTHER, OTHER_CLIENT, FULL_SCOPES)
        .vps_list(Value::Array(vps))
        .retained(
            json!({"id": RETAINED, "client": CLIENT, "name": "shop-old", "backups": [
            {"id": OLDER_SHOP, "createdAt": "2026-01-01T02:00:00Z", "sizeGb": 7},
            {"id": OLD_SHOP, "createdAt": "2026-02-01T02:00:00Z", "sizeGb": 8,
             "note": "Last backup before termination"}]}),
        )
        .build()
}

/// Acme's VPS ids in fixture order, which is the order the simulator lists them in.
fn acme_ids() -> Vec<&'static str> {
    let mut ids = vec![TARGET, SOURCE, EMPTY, GATED];
    ids.extend(FILLERS);
    ids
}

/// Starts `hostup-sim` with the fixture, a request log file and `args` (800 ms jobs unless
/// `--job-duration` is given).
fn start(args: &[&str]) -> Sim {
    Sim::start_with_request_log(&fixture(), &with_job_duration("800ms", args))
}

fn base(sim: &Sim) -> Url {
    Url::parse(sim.base_url()).unwrap_or_else(|e| panic!("{:?} is not a URL: {e}", sim.base_url()))
}

fn client(sim: &Sim, key: &str) -> Client {
    Client::new(config(&base(sim), key)).expect("client")
}

/// The simulator's record of VPS `id` (`GET /_sim/state`).
fn vps_state(sim: &Sim, id: &str) -> Value {
    let state = sim.state();
    state["vps"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in /_sim/state"))
}

fn config(base: &Url, key: &str) -> ClientConfig {
    let mut c = ClientConfig::new(base.clone(), ApiKey::new(key));
    c.request_timeout = Duration::from_secs(5);
    c.retry = RetryPolicy {
        max_attempts: 6,
        max_elapsed: Duration::from_secs(10),
        max_answer_wait: Duration::from_secs(10),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    };
    c
}

fn fast_poll() -> PollSchedule {
    PollSchedule {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(80),
        factor: 1.5,
    }
}

fn wait_opts(timeout: Duration) -> WaitOptions {
    WaitOptions::new(timeout).with_poll(fast_poll())
}

fn restore_path(target: &str) -> String {
    format!("/api/v2/vps/{target}/backups/actions/restore-from-vps")
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET_MARK),
        "an API key leaked into {what}: {text}"
    );
}

/// Display and Debug of an error, both checked for keys.
fn shown(err: &ApiError) -> String {
    let text = format!("{err} {err:?}");
    assert_no_secret("an error", &text);
    let text = err.to_string();
    assert!(!text.contains(".."), "one full stop per sentence: {text}");
    text
}

fn progress_log() -> (
    Arc<Mutex<Vec<JobProgress>>>,
    impl FnMut(&JobProgress) + Send + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (seen, move |p: &JobProgress| {
        sink.lock().unwrap().push(p.clone())
    })
}

async fn restore(c: &Client, target: &str, source: &str, backup: &str) -> Operation {
    c.restore_from_vps(target, source, backup)
        .await
        .unwrap_or_else(|e| panic!("restore {backup} onto {target}: {e}"))
}

// ----- endpoints -------------------------------------------------------------------------------

#[tokio::test]
async fn vps_list_pages_and_the_walking_helper_agree() {
    let sim = start(&[]);
    let c = client(&sim, FULL);

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c.list_vps_page(Some(2), cursor.as_deref()).await.unwrap();
        pages += 1;
        assert!(page.data.len() <= 2, "page size 2 gave {}", page.data.len());
        paged.extend(page.data.into_iter().map(|v| v.id));
        match (page.has_more, page.next_cursor) {
            (true, Some(next)) => cursor = Some(next),
            (false, _) => break,
            (true, None) => panic!("hasMore without nextCursor"),
        }
        assert!(pages < 10, "the list does not end");
    }
    assert_eq!(pages, 4, "7 VPS at 2 per page");
    assert_eq!(
        paged,
        acme_ids(),
        "every own VPS once, in order, none of cl_b's"
    );

    let walked = c.list_vps().await.unwrap();
    let walked_ids: Vec<_> = walked.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(walked_ids, acme_ids());
    let web = walked.iter().find(|v| v.id == TARGET).unwrap();
    assert_eq!(web.name.as_deref(), Some("web-01"));
    assert_eq!(web.primary_ip.as_deref(), Some("192.0.2.10"));

    let log = sim.requests();
    let list_queries: Vec<_> = log
        .iter()
        .filter(|e| e.path == "/api/v2/vps")
        .map(|e| e.raw["query"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(list_queries.len(), 5, "{list_queries:?}");
    assert!(list_queries[1].contains("cursor="), "{list_queries:?}");
    assert!(list_queries[0].contains("limit=2"), "{list_queries:?}");
}

#[tokio::test]
async fn vps_summary_and_details_are_read() {
    let sim = start(&[]);
    let c = client(&sim, FULL);
    let vps = c.get_vps(TARGET).await.unwrap();
    assert_eq!(vps.id, TARGET);
    assert_eq!(vps.name.as_deref(), Some("web-01"));
    assert_eq!(vps.service_status.as_deref(), Some("active"));
    assert_eq!(vps.power_state.as_deref(), Some("running"));
    let billing = vps.billing.expect("billing");
    assert_eq!(billing.currency_code.as_deref(), Some("SEK"));

    let details = c.get_vps_details(TARGET).await.unwrap();
    assert_eq!(details.id, TARGET);
    assert_eq!(
        details.storage_gb,
        Some(20.0),
        "the disk a backup must fit in"
    );
    assert_eq!(details.product_name.as_deref(), Some("VPS S"));
    assert!(details.bandwidth.is_some());
}

#[tokio::test]
async fn restore_gate_is_read_wherever_the_api_puts_it() {
    for (location, want) in [
        ("vps", Some(GateOrigin::Vps)),
        ("details", Some(GateOrigin::Details)),
        ("none", None),
    ] {
        let sim = start(&["--gate-location", location]);
        let c = client(&sim, FULL);
        let open = c.restore_gate(TARGET).await.unwrap();
        let closed = c.restore_gate(GATED).await.unwrap();
        match want {
            Some(origin) => {
                let GateLookup::Found { gate, origin: got } = open else {
                    panic!("{location}: gate not found: {open:?}");
                };
                assert_eq!(got, origin, "{location}");
                assert!(gate.allowed, "{location}: {gate:?}");
                let GateLookup::Found { gate, origin: got } = closed else {
                    panic!("{location}: gate not found: {closed:?}");
                };
                assert_eq!(got, origin, "{location}");
                assert!(!gate.allowed, "{location}");
                assert_eq!(gate.code.as_deref(), Some("pending_order"));
                assert!(gate.reason.unwrap().contains("unpaid order"));
            }
            None => {
                assert_eq!(open, GateLookup::Unknown);
                assert_eq!(closed, GateLookup::Unknown);
            }
        }
        let log = sim.requests();
        let details = format!("/api/v2/vps/{TARGET}/details");
        let want_details = if location == "vps" { 0 } else { 1 };
        assert_eq!(
            statuses(&log, "GET", &details).len(),
            want_details,
            "{location}: /details is read only when /vps/{{id}} lacks the gate"
        );
    }
}

#[tokio::test]
async fn restore_sources_exclude_the_target_and_list_newest_first() {
    let sim = start(&[]);
    let c = client(&sim, FULL);
    let sources = c.restore_sources(TARGET).await.unwrap();
    let ids: Vec<_> = sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [SOURCE, RETAINED],
        "other VPS with backups, then retained; never the target (which has backups too), \
         never empty or foreign VPS"
    );

    let server = &sources[0];
    assert_eq!(server.source_type, SourceType::Server);
    assert_eq!(server.name.as_deref(), Some("db-01"));
    let backups: Vec<_> = server.backups.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(backups, [NEWEST, HUGE, SMALL, BROKEN], "newest first");
    let dates: Vec<_> = server
        .backups
        .iter()
        .map(|b| b.created_at.clone().expect("createdAt"))
        .collect();
    assert!(dates.windows(2).all(|w| w[0] > w[1]), "{dates:?}");
    assert_eq!(server.backups[0].size_gb, Some(12.4));
    assert_eq!(server.backups[0].note.as_deref(), Some("Before upgrade"));
    assert_eq!(server.backups[1].size_gb, Some(50.0));

    let retained = &sources[1];
    assert_eq!(retained.source_type, SourceType::Retained);
    assert_eq!(retained.service_status.as_deref(), Some("terminated"));
    let backups: Vec<_> = retained.backups.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(backups, [OLD_SHOP, OLDER_SHOP], "newest first");

    // Seen from the source, the former target is a source and the source itself is not.
    let from_source = c.restore_sources(SOURCE).await.unwrap();
    let ids: Vec<_> = from_source.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [TARGET, RETAINED]);
}

/// A restore that completes and one that fails, then a backup create / list / delete, all polled
/// through the given job envelope.
async fn jobs_complete_and_fail_in(envelope: &str) {
    let sim = start(&["--job-envelope", envelope]);
    let c = client(&sim, FULL);

    let op = restore(&c, TARGET, SOURCE, NEWEST).await;
    assert_eq!(op.status, JobStatus::Queued, "{envelope}");
    assert_eq!(op.poll_url, format!("/api/jobs/{}", op.job_id));

    // While it runs, the target's gate is closed and names the job.
    let GateLookup::Found { gate, .. } = c.restore_gate(TARGET).await.unwrap() else {
        panic!("{envelope}: no gate");
    };
    assert!(!gate.allowed, "{envelope}: gate open during a restore");
    assert_eq!(gate.code.as_deref(), Some("job_in_progress"));
    assert!(gate.reason.unwrap_or_default().contains(&op.job_id));

    let (seen, on_progress) = progress_log();
    let outcome = c
        .wait_for_job(
            &op,
            wait_opts(Duration::from_secs(10)).with_progress(on_progress),
        )
        .await
        .unwrap();
    let WaitOutcome::Completed(job) = outcome else {
        panic!("{envelope}: restore did not complete: {outcome}");
    };
    assert_eq!(job.job_id, op.job_id);
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|p| !p.status.is_terminal()),
        "{envelope}: no running state reported: {seen:?}"
    );
    assert_eq!(seen.last().unwrap().status, JobStatus::Completed);
    assert!(seen.iter().all(|p| p.job_id == op.job_id));
    if envelope == "legacy" {
        assert!(
            seen.iter()
                .any(|p| p.percentage.is_some_and(|x| x > 0.0 && x < 100.0)),
            "legacy jobs report a rising percentage: {seen:?}"
        );
    }
    assert!(c.get_job(&op.poll_url).await.unwrap().is_completed());

    let target = vps_state(&sim, TARGET);
    assert_eq!(
        target["restoredFrom"]["sourceVpsId"], SOURCE,
        "{envelope}: {target}"
    );
    assert_eq!(target["restoredFrom"]["backupId"], NEWEST);
    assert_eq!(target["restoredFrom"]["jobId"], op.job_id.as_str());
    assert_eq!(target["restoreCount"], 1);
    let GateLookup::Found { gate, .. } = c.restore_gate(TARGET).await.unwrap() else {
        panic!("no gate");
    };
    assert!(gate.allowed, "{envelope}: gate reopens after the job");

    // A backup whose restore fails: the reason comes through, the target is unchanged.
    let op = restore(&c, TARGET, SOURCE, BROKEN).await;
    let outcome = c
        .wait_for_job(&op, wait_opts(Duration::from_secs(10)))
        .await
        .unwrap();
    let WaitOutcome::Failed { job_id, reason, .. } = &outcome else {
        panic!("{envelope}: broken backup did not fail: {outcome}");
    };
    assert_eq!(job_id, &op.job_id);
    assert_eq!(reason, FAIL_REASON);
    assert!(outcome.to_string().contains(FAIL_REASON));
    let target = vps_state(&sim, TARGET);
    assert_eq!(target["restoredFrom"]["backupId"], NEWEST);
    assert_eq!(target["restoreCount"], 1);

    // Backups: create, find the new id in the list, delete it, delete it again.
    let before = c.list_backups(TARGET).await.unwrap();
    let ids: Vec<_> = before.backups.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, [TARGET_BKP]);
    let quota = before.quota_info.clone().expect("quotaInfo");
    assert_eq!((quota.used, quota.limit), (Some(1), Some(3)));
    assert!(before
        .actions
        .and_then(|a| a.can_create_backup)
        .is_some_and(|g| g.allowed));

    let op = c
        .create_backup(TARGET, Some("made by api_sim"))
        .await
        .unwrap();
    let outcome = c
        .wait_for_job(&op, wait_opts(Duration::from_secs(10)))
        .await
        .unwrap();
    let WaitOutcome::Completed(job) = outcome else {
        panic!("{envelope}: backup did not complete: {outcome}");
    };
    let new_id = job
        .result_backup_id()
        .unwrap_or_else(|| panic!("{envelope}: no backupId in the job result: {job:?}"));
    let after = c.list_backups(TARGET).await.unwrap();
    let ids: Vec<_> = after.backups.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, [new_id.as_str(), TARGET_BKP], "new backup first");
    assert_eq!(after.backups[0].note.as_deref(), Some("made by api_sim"));
    assert_eq!(after.quota_info.unwrap().used, Some(2));

    assert_eq!(
        c.delete_backup(TARGET, &new_id).await.unwrap(),
        DeleteOutcome::Deleted
    );
    match c.delete_backup(TARGET, &new_id).await.unwrap() {
        DeleteOutcome::AlreadyGone { code, request_id } => {
            assert_eq!(code.as_deref(), Some("backup_not_found"));
            assert!(request_id.is_some_and(|r| r.starts_with("req_")));
        }
        other => panic!("second delete: {other:?}"),
    }
    let ids: Vec<_> = c
        .list_backups(TARGET)
        .await
        .unwrap()
        .backups
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, [TARGET_BKP]);
    let log = sim.requests();
    let delete_path = format!("/api/v2/vps/{TARGET}/backups/{new_id}");
    assert_eq!(statuses(&log, "DELETE", &delete_path), [204, 404]);
}

#[tokio::test]
async fn legacy_envelope_jobs_complete_and_fail() {
    jobs_complete_and_fail_in("legacy").await;
}

#[tokio::test]
async fn v2_envelope_jobs_complete_and_fail() {
    jobs_complete_and_fail_in("v2").await;
}

#[tokio::test]
async fn absolute_poll_url_on_the_same_origin_is_followed() {
    let sim = start(&["--poll-url-mode", "absolute", "--job-duration", "300ms"]);
    let c = client(&sim, FULL);
    let op = restore(&c, TARGET, SOURCE, SMALL).await;
    assert!(op
        .poll_url
        .starts_with(sim.base_url().trim_end_matches('/')));
    let outcome = c
        .wait_for_job(&op, wait_opts(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(matches!(outcome, WaitOutcome::Completed(_)), "{outcome}");
}

// ----- error classes ---------------------------------------------------------------------------

#[tokio::test]
async fn wrong_key_is_a_typed_401() {
    let sim = start(&[]);
    let c = client(&sim, WRONG);
    let err = c.get_vps(TARGET).await.unwrap_err();
    let text = shown(&err);
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some("unauthorized"));
    let request_id = err.request_id().expect("requestId").to_owned();
    assert!(request_id.starts_with("req_"), "{request_id}");
    assert!(text.contains("401") && text.contains(&request_id), "{text}");
    assert!(text.contains("API key"), "says what to check: {text}");
    // A 401 is not retried.
    let log = sim.requests();
    assert_eq!(
        statuses(&log, "GET", &format!("/api/v2/vps/{TARGET}")),
        [401]
    );
}

#[tokio::test]
async fn power_actions_are_sent_once_and_the_status_follows_them() {
    let sim = start(&[]);
    let c = client(&sim, POWER);
    let status = c.get_vps_status(TARGET).await.unwrap();
    assert_eq!(status.id.as_deref(), Some(TARGET));
    assert_eq!(status.power_state.as_deref(), Some("running"));
    assert!(
        status.uptime_seconds.is_some_and(|u| u >= 0.0),
        "{status:?}"
    );

    // A key without power:vm is refused, naming the scope, and the POST is not sent again.
    let full = client(&sim, FULL);
    let err = full
        .power_action(TARGET, PowerAction::Stop)
        .await
        .unwrap_err();
    let text = shown(&err);
    assert_eq!(err.status(), Some(403));
    assert!(text.contains("power:vm"), "{text}");
    assert_eq!(full.request_counts().post, 1);

    let op = c.power_action(TARGET, PowerAction::Stop).await.unwrap();
    assert!(op.job_id.starts_with("job_"), "{op:?}");
    let during = c.get_vps_status(TARGET).await.unwrap();
    assert_eq!(during.power_state.as_deref(), Some("stopping"));
    let outcome = c
        .wait_for_job(&op, wait_opts(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(matches!(outcome, WaitOutcome::Completed(_)), "{outcome}");
    let after = c.get_vps_status(TARGET).await.unwrap();
    assert_eq!(after.power_state.as_deref(), Some("stopped"));
    assert_eq!(after.uptime_seconds, None);
    let path = format!("/api/v2/vps/{TARGET}/actions/stop");
    assert_eq!(statuses(&sim.requests(), "POST", &path), [403, 202]);
}

#[tokio::test]
async fn read_only_key_is_refused_naming_the_missing_scope() {
    let sim = start(&[]);
    let c = client(&sim, READ);
    c.get_vps(TARGET)
        .await
        .expect("read:vm is enough for reads");

    let err = c.restore_sources(TARGET).await.unwrap_err();
    let text = shown(&err);
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.code(), Some("forbidden"));
    let detail = err.problem().and_then(|p| p.detail.clone()).unwrap();
    assert!(detail.contains("backup:vm"), "{detail}");
    assert!(text.contains("backup:vm"), "{text}");

    let err = c
        .restore_from_vps(TARGET, SOURCE, NEWEST)
        .await
        .unwrap_err();
    shown(&err);
    assert_eq!(err.status(), Some(403));
    assert!(err
        .problem()
        .and_then(|p| p.detail.as_deref())
        .is_some_and(|d| d.contains("backup:vm")));
    assert_eq!(c.request_counts().post, 1);
    let log = sim.requests();
    assert_eq!(statuses(&log, "POST", &restore_path(TARGET)), [403]);
    assert_eq!(sim.state()["jobs"], json!([]), "nothing was queued");
}

#[tokio::test]
async fn another_clients_vps_is_not_found() {
    let sim = start(&[]);
    let c = client(&sim, FULL);
    for err in [
        c.get_vps(FOREIGN).await.unwrap_err(),
        c.get_vps_details(FOREIGN).await.unwrap_err(),
        c.restore_from_vps(FOREIGN, SOURCE, NEWEST)
            .await
            .unwrap_err(),
        client(&sim, OTHER).get_vps(TARGET).await.unwrap_err(),
    ] {
        let text = shown(&err);
        assert!(err.is_not_found(), "{text}");
        assert_eq!(err.code(), Some("vps_not_found"), "{text}");
        assert!(err.request_id().is_some());
    }
    // The GETs were not retried on 404 either.
    let log = sim.requests();
    assert_eq!(
        statuses(&log, "GET", &format!("/api/v2/vps/{FOREIGN}")),
        [404]
    );
}

#[tokio::test]
async fn restore_validation_errors_point_at_the_field() {
    let sim = start(&[]);
    let c = client(&sim, FULL);
    let cases = [
        (TARGET, TARGET, TARGET_BKP, "/sourceVpsId", "same VPS"),
        (
            TARGET,
            EMPTY,
            SMALL,
            "/sourceVpsId",
            "source without backups",
        ),
        (
            TARGET,
            FOREIGN,
            FOREIGN_BKP,
            "/sourceVpsId",
            "other client's VPS",
        ),
        (
            TARGET,
            SOURCE,
            OLD_SHOP,
            "/backupId",
            "backup of another source",
        ),
        (
            TARGET,
            SOURCE,
            HUGE,
            "/backupId",
            "50 GB backup on a 20 GB disk",
        ),
    ];
    for (i, (target, source, backup, pointer, why)) in cases.iter().enumerate() {
        let err = c
            .restore_from_vps(target, source, backup)
            .await
            .unwrap_err();
        let text = shown(&err);
        assert_eq!(err.status(), Some(400), "{why}: {text}");
        assert_eq!(err.code(), Some("invalid_request"), "{why}");
        let errors = &err.problem().expect("problem").errors;
        assert!(
            errors.iter().any(|e| e.pointer.as_deref() == Some(*pointer)
                && e.detail.is_some()
                && e.code.is_some()),
            "{why}: {errors:?}"
        );
        assert!(text.contains(pointer), "{why}: {text}");
        assert_eq!(c.request_counts().post, i as u64 + 1, "{why}: sent once");
    }
    assert_eq!(sim.state()["jobs"], json!([]));
}

#[tokio::test]
async fn second_restore_while_one_runs_is_409_and_sent_once() {
    let sim = start(&[]);
    let c = client(&sim, FULL);
    let first = restore(&c, TARGET, SOURCE, NEWEST).await;
    let err = c.restore_from_vps(TARGET, SOURCE, SMALL).await.unwrap_err();
    let text = shown(&err);
    assert_eq!(err.status(), Some(409), "{text}");
    assert_eq!(err.code(), Some("vps_not_ready"));
    assert!(
        text.contains(&first.job_id),
        "names the running job: {text}"
    );
    assert_eq!(c.request_counts().post, 2);
    let log = sim.requests();
    assert_eq!(
        statuses(&log, "POST", &restore_path(TARGET)),
        [202, 409],
        "the 409 was not resent"
    );

    // A closed gate is the same class of refusal.
    let err = c.restore_from_vps(GATED, SOURCE, SMALL).await.unwrap_err();
    shown(&err);
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.code(), Some("vps_not_ready"));
    assert_eq!(sim.state()["jobs"].as_array().unwrap().len(), 1);
}

// ----- rate limits and 5xx ---------------------------------------------------------------------

#[tokio::test]
async fn a_burst_of_reads_over_the_rate_limit_all_succeed() {
    let sim = start(&["--rate-limit", "4/1s"]);
    let c = client(&sim, FULL);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let c = c.clone();
        let id = acme_ids()[i % acme_ids().len()];
        tasks.spawn(async move { c.get_vps(id).await.map(|v| v.id == id) });
    }
    while let Some(done) = tasks.join_next().await {
        let got = done.unwrap();
        assert!(
            got.as_ref().is_ok_and(|same| *same),
            "{:?}",
            got.map_err(|e| e.to_string())
        );
    }
    let log = sim.requests();
    let limited: Vec<_> = log.iter().filter(|e| e.status == 429).collect();
    assert!(!limited.is_empty(), "12 reads at 4/s must meet a 429");
    assert!(limited
        .iter()
        .all(|e| e.fault.as_deref() == Some("rate_limit")));
    assert_eq!(log.iter().filter(|e| e.status == 200).count(), 12);
    // Retry-After is 1 s, and 12 reads need three windows of 4.
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_rate_limited_restore_is_sent_again_and_queued_once() {
    let sim = start(&["--rate-limit", "3/1s"]);
    // Another process with the same key spends the window, so this client meets a 429 it could
    // not have seen coming.
    let other = client(&sim, FULL);
    for _ in 0..3 {
        other.get_vps(TARGET).await.unwrap();
    }
    let c = client(&sim, FULL);
    let started = Instant::now();
    let op = restore(&c, TARGET, SOURCE, NEWEST).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "resent only after Retry-After: {:?}",
        started.elapsed()
    );
    assert_eq!(c.request_counts().post, 2);
    let log = sim.requests();
    assert_eq!(statuses(&log, "POST", &restore_path(TARGET)), [429, 202]);
    let jobs = sim.state()["jobs"].clone();
    assert_eq!(
        jobs.as_array().unwrap().len(),
        1,
        "exactly one restore: {jobs}"
    );
    assert_eq!(jobs[0]["id"], op.job_id.as_str());
}

#[tokio::test]
async fn a_503_burst_on_reads_is_retried_through() {
    let sim = start(&["--burst-503", "3"]);
    let c = client(&sim, FULL);
    let all = c.list_vps().await.unwrap();
    assert_eq!(all.len(), acme_ids().len());
    assert_eq!(c.request_counts().get, 4);
    let log = sim.requests();
    assert_eq!(statuses(&log, "GET", "/api/v2/vps"), [503, 503, 503, 200]);

    sim.fail_next(json!({"count": 2, "status": 503, "method": "GET",
               "pathPrefix": format!("/api/v2/vps/{TARGET}/details")}));
    let details = c.get_vps_details(TARGET).await.unwrap();
    assert_eq!(details.storage_gb, Some(20.0));
    let log = sim.requests();
    assert_eq!(
        statuses(&log, "GET", &format!("/api/v2/vps/{TARGET}/details")),
        [503, 503, 200]
    );
}

#[tokio::test]
async fn a_503_on_the_restore_post_is_not_resent_and_says_what_to_do() {
    let sim = start(&[]);
    let c = client(&sim, FULL);
    sim.fail_next(
        json!({"count": 3, "status": 503, "method": "POST", "pathPrefix": restore_path(TARGET)}),
    );
    let err = c
        .restore_from_vps(TARGET, SOURCE, NEWEST)
        .await
        .unwrap_err();
    let text = shown(&err);
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.code(), Some("upstream_unavailable"));
    assert!(err.may_have_reached_hostup());
    assert!(
        text.contains("may have reached HostUp and been carried out"),
        "a 5xx on a restore must not read as 'nothing happened': {text}"
    );
    assert!(
        text.contains("check the VPS and its jobs"),
        "says what to do: {text}"
    );
    assert!(!text.contains("gave up after"), "{text}");
    assert_eq!(c.request_counts().post, 1);
    let log = sim.requests();
    assert_eq!(statuses(&log, "POST", &restore_path(TARGET)), [503]);
    let state = sim.state();
    assert_eq!(
        state["pendingInjections"][0]["remaining"], 2,
        "the other injected failures were never reached"
    );
}

// ----- job waiting -----------------------------------------------------------------------------

#[tokio::test]
async fn a_foreign_poll_url_is_refused_and_never_contacted() {
    let decoy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    decoy.set_nonblocking(true).unwrap();
    let origin = format!("http://{}", decoy.local_addr().unwrap());
    let mode = format!("foreign:{origin}");
    let sim = start(&["--poll-url-mode", &mode]);
    let c = client(&sim, FULL);
    let op = restore(&c, TARGET, SOURCE, NEWEST).await;
    assert!(op.poll_url.starts_with(&origin), "{}", op.poll_url);

    let err = c
        .wait_for_job(&op, wait_opts(Duration::from_secs(5)))
        .await
        .unwrap_err();
    let text = shown(&err);
    let ApiError::ForeignPollUrl { poll_origin, .. } = &err else {
        panic!("not refused as foreign: {text}");
    };
    assert_eq!(poll_origin, &origin);
    let err = c.get_job(&op.poll_url).await.unwrap_err();
    assert!(matches!(err, ApiError::ForeignPollUrl { .. }), "{err}");

    match decoy.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("the client connected to the foreign origin from {peer}"),
        Err(e) => panic!("accept: {e}"),
    }
    let log = sim.requests();
    assert!(
        log.iter().all(|e| !e.path.starts_with("/api/jobs")),
        "no poll reached the simulator either"
    );
}

#[tokio::test]
async fn a_wait_past_its_deadline_names_the_job_and_its_last_status() {
    let sim = start(&["--job-duration", "2s"]);
    let c = client(&sim, FULL);
    let op = restore(&c, TARGET, SOURCE, NEWEST).await;
    let started = Instant::now();
    let outcome = c
        .wait_for_job(&op, wait_opts(Duration::from_millis(300)))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    let WaitOutcome::TimedOut {
        job_id,
        last_status,
        ..
    } = &outcome
    else {
        panic!("not a timeout: {outcome}");
    };
    assert_eq!(job_id, &op.job_id);
    assert!(!last_status.is_terminal(), "{last_status}");
    let text = outcome.to_string();
    assert!(
        text.contains(&op.job_id) && text.contains(last_status.as_str()),
        "{text}"
    );
}

#[tokio::test]
async fn a_cancelled_wait_ends_cancelled_and_leaves_the_job_running() {
    let sim = start(&["--job-duration", "2s"]);
    let c = client(&sim, FULL);
    let op = restore(&c, TARGET, SOURCE, NEWEST).await;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    // Terraform's Stop arrives while the wait is polling: here, right after the first report.
    let opts = wait_opts(Duration::from_secs(10))
        .with_cancel(cancel)
        .with_progress(move |_| stop.cancel());
    let started = Instant::now();
    let outcome = c.wait_for_job(&op, opts).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    let WaitOutcome::Cancelled {
        job_id,
        last_status,
    } = &outcome
    else {
        panic!("not cancelled: {outcome}");
    };
    assert_eq!(job_id, &op.job_id);
    assert!(!last_status.is_terminal());
    assert!(outcome.to_string().contains(&op.job_id));
    let jobs = sim.state()["jobs"].clone();
    assert_eq!(jobs[0]["id"], op.job_id.as_str());
    assert_ne!(jobs[0]["status"], "completed", "{jobs}");
}

#[tokio::test]
async fn an_expired_job_record_is_reported_as_expired() {
    let sim = start(&["--job-duration", "300ms", "--job-retention", "200ms"]);
    let c = client(&sim, FULL);
    let op = restore(&c, TARGET, SOURCE, SMALL).await;
    let outcome = c
        .wait_for_job(&op, wait_opts(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(matches!(outcome, WaitOutcome::Completed(_)), "{outcome}");

    // Poll until the record is gone rather than sleeping a guessed retention.
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match c.get_job(&op.poll_url).await {
            Ok(job) => assert!(job.is_completed()),
            Err(e) => break e,
        }
        assert!(Instant::now() < deadline, "the job record never expired");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    shown(&err);
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.code(), Some("not_found"));

    let err = c
        .wait_for_job(&op, wait_opts(Duration::from_secs(5)))
        .await
        .unwrap_err();
    let text = shown(&err);
    let ApiError::JobRecordExpired { job_id, request_id } = &err else {
        panic!("not reported as expired: {text}");
    };
    assert_eq!(job_id, &op.job_id);
    assert!(request_id.as_deref().is_some_and(|r| r.starts_with("req_")));
    assert!(text.contains(&op.job_id), "{text}");
    // The restore itself took effect; the expired record does not undo that.
    assert_eq!(vps_state(&sim, TARGET)["restoredFrom"]["backupId"], SMALL);
}

// ----- secrecy ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_key_never_reaches_the_log_errors_or_debug() {
    let sim = start(&[]);
    let c = client(&sim, FULL);
    assert_no_secret("Debug of the client", &format!("{c:?}"));
    assert_no_secret(
        "Debug of the config",
        &format!("{:?}", config(&base(&sim), FULL)),
    );

    c.list_vps().await.unwrap();
    let op = restore(&c, TARGET, SOURCE, NEWEST).await;
    let mut errors = vec![
        c.restore_from_vps(TARGET, SOURCE, SMALL).await.unwrap_err(),
        c.restore_from_vps(TARGET, TARGET, TARGET_BKP)
            .await
            .unwrap_err(),
        c.get_vps(FOREIGN).await.unwrap_err(),
        client(&sim, WRONG).get_vps(TARGET).await.unwrap_err(),
        client(&sim, READ)
            .restore_sources(TARGET)
            .await
            .unwrap_err(),
    ];
    sim.fail_next(json!({"count": 1, "status": 503, "method": "POST"}));
    errors.push(c.create_backup(SOURCE, None).await.unwrap_err());
    for err in &errors {
        shown(err);
    }
    let outcome = c
        .wait_for_job(&op, wait_opts(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_no_secret("a wait outcome", &format!("{outcome} {outcome:?}"));

    let log = sim.requests();
    assert!(log.len() >= 8, "{}", log.len());
    assert!(
        log.iter().all(|e| e.raw["authPresent"] == true),
        "every request carried the key"
    );
    assert_no_secret(
        "/_sim/requests",
        &Value::Array(log.into_iter().map(|e| e.raw).collect()).to_string(),
    );
    assert_no_secret(
        "the request log file",
        &std::fs::read_to_string(sim.request_log_file()).unwrap(),
    );
    assert_no_secret("/_sim/state", &sim.state().to_string());
}
