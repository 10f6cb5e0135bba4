//! `start_after_restore` of `hostup_vps_restore` through the framework's Resource trait against
//! `hostup-sim`: the steps after the restore job (read the power state, start once when stopped,
//! wait until running), one create timeout over both waits, the refused start that leaves a
//! completed restore to adopt, and the next create that finishes the start without restoring.

use std::time::{Duration, Instant};

use crate::provider::{configured_resource, create_with, known_str as s, plan, the_error};
use serde_json::{json, Value as Json};
use terraform_provider_hostup::framework::{Context, Resource, Value};
use testkit::sim::{restore_posts, start_posts, Sim};
use testkit::world::*;

const KEY: &str = "k_start_test_secret";
const NO_POWER_KEY: &str = "k_start_test_no_power";

/// The restore world, the target left stopped by HostUp after a restore unless `after` says
/// otherwise; one key may power VPSes, the other may not.
fn sim(after: Json, job: &str) -> Sim {
    let world = World::restore()
        .key(KEY, CLIENT, FULL_SCOPES)
        .key(NO_POWER_KEY, CLIENT, RESTORE_SCOPES)
        .set(TARGET, after)
        .build();
    Sim::start(&world, &["--job-duration", job])
}

fn stopped() -> Json {
    json!({"powerAfterRestore": "stopped"})
}

fn restore_and_start(res: &dyn Resource, timeout: Option<&str>) -> Value {
    let mut c = res.schema().block.empty_value();
    c.set("target_vps_id", Value::from(TARGET));
    c.set("source_vps_id", Value::from(SOURCE));
    c.set("backup_id", Value::from(NEWEST));
    c.set("start_after_restore", Value::Bool(true));
    if let Some(t) = timeout {
        c.set("timeouts", Value::object([("create", Value::from(t))]));
    }
    c
}

fn private(r: &terraform_provider_hostup::framework::ApplyResult) -> Json {
    serde_json::from_slice(&r.private).expect("private data is JSON")
}

#[tokio::test]
async fn a_target_left_stopped_is_started_once_and_waited_for() {
    let sim = sim(stopped(), "300ms");
    let res = configured_resource(&sim, KEY, "hostup_vps_restore").await;
    let cfg = restore_and_start(&*res, None);
    let p = plan(&*res, &cfg).await;
    assert!(p.planned.get("power_state").unwrap().is_unknown());
    let r = create_with(&*res, &Context::default(), &p, &cfg).await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert_eq!(s(&r.new_state, "status"), "completed");
    assert_eq!(s(&r.new_state, "power_state"), "running");
    let at = s(&r.new_state, "running_at");
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    let log = sim.requests();
    assert_eq!(restore_posts(&log), [202]);
    assert_eq!(start_posts(&log), [202]);
    assert_eq!(
        private(&r)["start_pending"],
        Json::Null,
        "nothing left to do"
    );
}

#[tokio::test]
async fn a_target_hostup_starts_by_itself_gets_no_start() {
    let sim = sim(json!({"powerAfterRestore": "running"}), "300ms");
    let res = configured_resource(&sim, KEY, "hostup_vps_restore").await;
    let cfg = restore_and_start(&*res, None);
    let p = plan(&*res, &cfg).await;
    let r = create_with(&*res, &Context::default(), &p, &cfg).await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert_eq!(s(&r.new_state, "power_state"), "running");
    assert!(start_posts(&sim.requests()).is_empty());
}

#[tokio::test]
async fn without_start_after_restore_the_power_state_is_only_recorded() {
    let sim = sim(stopped(), "300ms");
    let res = configured_resource(&sim, KEY, "hostup_vps_restore").await;
    let mut cfg = restore_and_start(&*res, None);
    cfg.set("start_after_restore", Value::Null);
    let p = plan(&*res, &cfg).await;
    let r = create_with(&*res, &Context::default(), &p, &cfg).await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert_eq!(s(&r.new_state, "power_state"), "stopped");
    assert_eq!(r.new_state.get("running_at"), Some(&Value::Null));
    assert!(start_posts(&sim.requests()).is_empty());
}

#[tokio::test]
async fn a_refused_start_says_the_restore_completed_and_leaves_the_start_pending() {
    let sim = sim(stopped(), "300ms");
    let res = configured_resource(&sim, NO_POWER_KEY, "hostup_vps_restore").await;
    let cfg = restore_and_start(&*res, None);
    let p = plan(&*res, &cfg).await;
    let r = create_with(&*res, &Context::default(), &p, &cfg).await;
    let e = the_error(r.diagnostics.clone());
    assert!(e.summary.contains("power:vm"), "{e}");
    for needle in ["itself completed", "power:vm", "sends no new restore"] {
        assert!(e.detail.contains(needle), "missing {needle:?}: {e}");
    }
    assert_eq!(s(&r.new_state, "status"), "completed");
    assert_eq!(s(&r.new_state, "power_state"), "stopped");
    assert_eq!(private(&r)["start_pending"], true);
    assert_eq!(start_posts(&sim.requests()), [403]);
    assert_eq!(restore_posts(&sim.requests()), [202]);
}

#[tokio::test]
async fn one_create_timeout_covers_the_restore_and_the_start() {
    // Each job takes 700 ms: the restore ends inside the 1 s timeout, the start's job does not.
    let sim = sim(stopped(), "700ms");
    let res = configured_resource(&sim, KEY, "hostup_vps_restore").await;
    let cfg = restore_and_start(&*res, Some("1s"));
    let p = plan(&*res, &cfg).await;
    let began = Instant::now();
    let r = create_with(&*res, &Context::default(), &p, &cfg).await;
    let took = began.elapsed();
    assert!(
        took < Duration::from_millis(1600),
        "the start got a timeout of its own: {took:?}"
    );
    let e = the_error(r.diagnostics.clone());
    assert!(
        e.summary
            .contains("Timed out waiting for the start of web-01"),
        "{e}"
    );
    assert!(e.detail.contains("itself completed"), "{e}");
    assert_eq!(s(&r.new_state, "status"), "completed");
    let mark = private(&r);
    assert_eq!(mark["start_pending"], true);
    assert_eq!(mark["start"]["sent"], "job", "{mark}");
    assert_eq!(start_posts(&sim.requests()), [202]);
}
