//! Job waits under a rate limit, against `hostup-sim`: restores started together share the poll
//! budget HostUp announces instead of each polling on its own schedule, so they fit the window
//! without a 429 and are still seen promptly when their jobs end.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use terraform_provider_hostup::api::{ApiKey, Client, ClientConfig, WaitOptions, WaitOutcome};
use testkit::sim::{matching, Sim};
use testkit::world::{World, CLIENT, FULL_SCOPES};
use url::Url;

const KEY: &str = "hu_poll_budget_key";
const SOURCE: &str = "vps_01budgetsource000000001";
const BACKUP: &str = "bkp_01budget";
const TARGETS: usize = 10;
const JOB: Duration = Duration::from_secs(6);

fn target(i: usize) -> String {
    format!("vps_01budgettarget{i:08}")
}

/// One source with a small backup and `TARGETS` targets that can all take it.
fn fixture() -> Value {
    let world = World::new().key(KEY, CLIENT, FULL_SCOPES).vps(
        json!({"id": SOURCE, "client": CLIENT, "name": "source", "storageGb": 50,
        "backups": [{"id": BACKUP, "createdAt": "2026-05-01T02:00:00.000Z", "sizeGb": 2}]}),
    );
    (0..TARGETS)
        .fold(world, |w, i| {
            w.vps(
                json!({"id": target(i), "client": CLIENT, "name": format!("t{i}"),
                         "storageGb": 20}),
            )
        })
        .build()
}

#[test]
fn concurrent_waits_share_the_announced_budget_and_see_each_end_promptly() {
    // 40 requests per 10 s window. Ten restores cost 10 POSTs; on its own schedule each wait
    // would poll at 1, 2.5, 4.75 and ~6 s (40 polls, more than the window holds). Sharing half
    // the budget, each wait may poll every 5 s, except the poll aimed at the projected end.
    let sim = Sim::start(
        &fixture(),
        &["--job-duration", "6s", "--rate-limit", "40/10s"],
    );
    let url = Url::parse(sim.base_url()).expect("simulator URL");
    let client = Client::new(ClientConfig::new(url, ApiKey::new(KEY))).expect("client");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    let outcomes = runtime.block_on(async {
        let waits = (0..TARGETS).map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let op = client
                    .restore_from_vps(&target(i), SOURCE, BACKUP)
                    .await
                    .expect("restore accepted");
                let outcome = client
                    .wait_for_job(&op, WaitOptions::new(Duration::from_secs(60)))
                    .await
                    .expect("wait");
                (outcome, started.elapsed())
            })
        });
        futures::future::join_all(waits).await
    });
    let mut latest = Duration::ZERO;
    for joined in outcomes {
        let (outcome, seen_after) = joined.expect("wait task");
        assert!(matches!(outcome, WaitOutcome::Completed(_)), "{outcome:?}");
        latest = latest.max(seen_after);
    }
    let log = sim.requests();
    let limited: Vec<_> = log.iter().filter(|r| r.status == 429).collect();
    assert!(limited.is_empty(), "answered 429: {limited:?}");
    let polls = log
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/jobs/"))
        .count();
    assert_eq!(matching(&log, "POST", "/restore-from-vps").count(), TARGETS);
    assert!(polls >= TARGETS, "every wait polled: {log:#?}");
    assert!(
        polls <= 2 * TARGETS + 2,
        "{polls} polls for {TARGETS} restores: {log:#?}"
    );
    // Each job ends 6 s after its POST; all were seen within 1 s + 5 % of that.
    assert!(
        latest <= JOB + Duration::from_millis(1300),
        "last end seen {latest:?} after the start"
    );
}
