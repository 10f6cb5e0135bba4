//! `hostup_vps_restore` driven through the framework's Resource trait (no Terraform) against a
//! real `hostup-sim` process: plan-time checks and their diagnostics, the destruction warning,
//! exactly one POST per create under faults, failing / timed-out / interrupted jobs that keep the
//! job id in state, refresh after the job record expired or the target vanished, delete without
//! API writes, import by job id, and the shared read cache under parallel plans.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::provider::{
    configured_provider_at, configured_resource, create_with, errors, known_str as s, plan,
    plan_from, resource_named, the_error,
};
use serde_json::{json, Value as Json};
use terraform_provider_hostup::framework::server::apply_resource_change;
use terraform_provider_hostup::framework::{
    ApplyRequest, ApplyResult, AttributePath, Context, Plan, Resource, Severity, Value,
};
use testkit::sim::{matching, restore_posts, Sim};
use testkit::world::*;
use tokio_util::sync::CancellationToken;

/// The summary of the one-restore-per-target-per-run error.
const CONFLICT: &str = "Another restore of this VPS in the same run";

const KEY: &str = "k_restore_test_secret";

const TARGET2: &str = "vps_01target2";

/// The shared restore world (testkit::world), with this file's key, a key of the other client
/// and a second target, web-02 (40 GB).
fn fixture() -> Json {
    World::restore()
        .key(KEY, CLIENT, FULL_SCOPES)
        .key("k_other_client", OTHER_CLIENT, FULL_SCOPES)
        .vps(json!({"id": TARGET2, "client": CLIENT, "name": "web-02", "storageGb": 40}))
        .build()
}

fn start(job_duration: &str, extra: &[&str]) -> Sim {
    Sim::start(
        &fixture(),
        &[&["--job-duration", job_duration], extra].concat(),
    )
}

async fn resource(sim: &Sim) -> Arc<dyn Resource> {
    configured_resource(sim, KEY, "hostup_vps_restore").await
}

fn config(res: &dyn Resource, target: Value, source: Value, backup: Value) -> Value {
    let mut c = res.schema().block.empty_value();
    c.set("target_vps_id", target);
    c.set("source_vps_id", source);
    c.set("backup_id", backup);
    c
}

fn restore_config(res: &dyn Resource, backup: &str) -> Value {
    config(res, TARGET.into(), SOURCE.into(), backup.into())
}

fn with_timeout(mut c: Value, create: &str) -> Value {
    c.set("timeouts", Value::object([("create", Value::from(create))]));
    c
}

async fn create(res: &dyn Resource, p: &Plan, config: &Value) -> ApplyResult {
    create_with(res, &Context::default(), p, config).await
}

// ----- plan ---------------------------------------------------------------------------------------

#[tokio::test]
async fn successful_plan_warns_what_apply_destroys_and_knows_the_facts() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, NEWEST);
    let p = plan(&*res, &cfg).await;
    assert!(!p.diagnostics.has_errors(), "{:#?}", p.diagnostics);
    let warnings: Vec<_> = p
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let w = &warnings[0].detail;
    for needle in [
        "stops VPS web-01 (vps_01target)",
        "backup bkp_01newest (created 2026-04-27T10:00:00.000Z, 12.4 GB)",
        "db-01 (vps_01source)",
        "is lost",
    ] {
        assert!(w.contains(needle), "missing {needle:?} in {w}");
    }
    assert_eq!(s(&p.planned, "target_name"), "web-01");
    assert_eq!(s(&p.planned, "source_type"), "server");
    assert_eq!(
        s(&p.planned, "backup_created_at"),
        "2026-04-27T10:00:00.000Z"
    );
    assert_eq!(
        p.planned.get("backup_size_gb").and_then(Value::as_f64),
        Some(12.4)
    );
    assert!(p.planned.get("job_id").unwrap().is_unknown());
    assert!(p.planned.get("status").unwrap().is_unknown());
    assert!(
        restore_posts(&sim.requests()).is_empty(),
        "a plan never POSTs"
    );
}

#[tokio::test]
async fn each_plan_time_error_points_at_its_attribute_and_nothing_is_posted() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let r = &*res;
    let mut confirm = restore_config(r, NEWEST);
    confirm.set("confirm_target_name", Value::from("web-02"));
    let cases: Vec<(&str, Value, &str, Vec<&str>)> = vec![
        (
            "foreign target",
            config(r, FOREIGN.into(), SOURCE.into(), NEWEST.into()),
            "target_vps_id",
            vec!["not found", FOREIGN],
        ),
        (
            "closed gate",
            config(r, GATED.into(), SOURCE.into(), NEWEST.into()),
            "target_vps_id",
            vec!["An unpaid order blocks changes.", "pending_order", "mail-01"],
        ),
        (
            "not a source",
            config(r, TARGET.into(), EMPTY.into(), NEWEST.into()),
            "source_vps_id",
            vec![
                EMPTY,
                "db-01 (vps_01source, server, 4 backups",
                "shop-old (vps_01retained, retained, 1 backup",
            ],
        ),
        (
            "no such backup",
            restore_config(r, "bkp_01gone"),
            "backup_id",
            vec![
                "bkp_01gone",
                "- bkp_01newest created 2026-04-27T10:00:00.000Z, 12.4 GB (Before upgrade)\n- bkp_01huge created 2026-04-10T02:00:00.000Z, 50 GB",
            ],
        ),
        (
            "too large",
            restore_config(r, HUGE),
            "backup_id",
            vec!["50 GB", "20 GB disk", "web-01"],
        ),
        ("wrong name", confirm, "confirm_target_name", vec!["\"web-02\"", "\"web-01\""]),
    ];
    for (what, cfg, attribute, needles) in cases {
        // Each case is a run of its own: one provider process plans one restore per target.
        let p = plan(&*resource(&sim).await, &cfg).await;
        let e = the_error(p.diagnostics.clone());
        assert_eq!(
            e.attribute,
            Some(AttributePath::attribute(attribute)),
            "{what}: {e}"
        );
        for n in needles {
            assert!(
                e.detail.contains(n),
                "{what}: missing {n:?} in {}",
                e.detail
            );
        }
        assert!(
            p.diagnostics.iter().all(|d| d.severity == Severity::Error),
            "{what}: no destruction warning on a failed check"
        );
    }
    assert!(
        restore_posts(&sim.requests()).is_empty(),
        "no POST for failed plans"
    );
}

#[tokio::test]
async fn unknown_source_or_backup_checks_the_target_and_still_warns() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;

    // A backup made in the same apply: its id is unknown, the target is not.
    let cfg = config(&*res, TARGET.into(), SOURCE.into(), Value::Unknown);
    let p = plan(&*res, &cfg).await;
    assert!(!p.diagnostics.has_errors(), "{:#?}", p.diagnostics);
    let warning = p
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Warning)
        .expect("the plan still says whose disk is overwritten");
    assert!(
        warning.summary.contains("web-01") && warning.detail.contains("known only during apply"),
        "{warning:#?}"
    );
    assert!(p.planned.get("backup_size_gb").unwrap().is_unknown());
    let reads: Vec<String> = sim.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        reads.iter().all(|p| !p.contains("restore-sources")),
        "only the target is read: {reads:?}"
    );

    // A closed gate is caught now, not at apply.
    let gated = config(&*res, GATED.into(), Value::Unknown, Value::Unknown);
    let p = plan(&*res, &gated).await;
    let err = p
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("gate error at plan");
    assert_eq!(
        err.attribute,
        Some(AttributePath::attribute("target_vps_id"))
    );

    // With the target unknown too, everything waits for apply, and the warning says so.
    sim.reset_log();
    let cfg = config(&*res, Value::Unknown, SOURCE.into(), NEWEST.into());
    let p = plan(&*res, &cfg).await;
    assert!(!p.diagnostics.has_errors(), "{:#?}", p.diagnostics);
    let warning = p.diagnostics.iter().next().expect("the warning");
    assert_eq!(
        warning.summary,
        "Apply will overwrite a VPS known only during apply"
    );
    assert!(
        warning
            .detail
            .contains(&format!("backup {NEWEST} of VPS {SOURCE}")),
        "{warning:#?}"
    );
    assert!(p.planned.get("target_name").unwrap().is_unknown());
    assert!(
        sim.requests().is_empty(),
        "no API call with the target unknown"
    );
}

#[tokio::test]
async fn parallel_plans_share_one_read_per_target() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let res = res.clone();
        tasks.push(tokio::spawn(async move {
            let target = if i % 2 == 0 { TARGET } else { TARGET2 };
            let cfg = config(&*res, target.into(), SOURCE.into(), NEWEST.into());
            plan(&*res, &cfg).await
        }));
    }
    for t in tasks {
        let p = t.await.unwrap();
        // Ten restores of each target in one run: every one of them is refused as a conflict,
        // and nothing else fails.
        let errors: Vec<_> = p.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 1, "{:#?}", p.diagnostics);
        assert_eq!(errors[0].summary, CONFLICT, "{:#?}", p.diagnostics);
    }
    for t in [TARGET, TARGET2] {
        assert_eq!(
            matching(&sim.requests(), "GET", &format!("/api/v2/vps/{t}")).count(),
            1,
            "{t}"
        );
        assert_eq!(
            matching(&sim.requests(), "GET", &format!("/api/v2/vps/{t}/details")).count(),
            1,
            "{t}"
        );
        let sources = format!("/api/v2/vps/{t}/backups/restore-sources");
        assert_eq!(matching(&sim.requests(), "GET", &sources).count(), 1, "{t}");
    }
}

#[tokio::test]
async fn timeouts_and_the_guard_change_in_place_and_every_input_plans_a_new_restore() {
    let sim = start("200ms", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, NEWEST);
    let p = plan(&*res, &cfg).await;
    let done = create(&*res, &p, &cfg).await;
    assert!(done.diagnostics.is_empty(), "{:#?}", done.diagnostics);
    sim.reset_log();
    let prior = done.new_state;

    let same = plan_from(&*res, &prior, &cfg).await;
    assert!(same.requires_replace.is_empty());
    assert_eq!(same.planned, prior, "no change after apply");

    let longer = plan_from(&*res, &prior, &with_timeout(cfg.clone(), "2h")).await;
    assert!(longer.requires_replace.is_empty());
    assert!(
        longer.planned.is_wholly_known(),
        "computed values keep their prior value"
    );
    assert_eq!(longer.planned.get("job_id"), prior.get("job_id"));

    // The target was renamed and the guard edited to match: a record update, not a new restore.
    let mut renamed_guard = cfg.clone();
    renamed_guard.set("confirm_target_name", Value::from("web-01-renamed"));
    let guard = plan_from(&*res, &prior, &renamed_guard).await;
    assert!(
        guard.requires_replace.is_empty(),
        "{:?}",
        guard.requires_replace
    );
    assert!(guard.diagnostics.is_empty(), "{:#?}", guard.diagnostics);
    assert_eq!(guard.planned.get("job_id"), prior.get("job_id"));
    assert!(sim.requests().is_empty(), "in-place plans read nothing");

    let mut triggered = cfg.clone();
    triggered.set(
        "triggers",
        Value::Map([("run".to_string(), Value::from("2"))].into()),
    );
    let other_backup = restore_config(&*res, SMALL);
    for (what, changed, path) in [
        ("triggers", triggered, "triggers"),
        ("backup", other_backup, "backup_id"),
    ] {
        let p = plan_from(&*res, &prior, &changed).await;
        assert!(
            p.requires_replace.contains(&AttributePath::attribute(path)),
            "{what}: {:?}",
            p.requires_replace
        );
        // A replacement restores again: checked and warned about in this first plan, because
        // Terraform drops the warnings of its second, create-from-null plan of a replacement.
        assert!(!p.diagnostics.has_errors(), "{what}: {:#?}", p.diagnostics);
        let warning = p
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Warning)
            .unwrap_or_else(|| panic!("{what}: no destruction warning on a replacement"));
        assert!(
            warning.detail.contains("stops VPS web-01 (vps_01target)"),
            "{what}: {}",
            warning.detail
        );
    }
    assert!(
        restore_posts(&sim.requests()).is_empty(),
        "plans never POST"
    );
}

// ----- validate -----------------------------------------------------------------------------------

#[tokio::test]
async fn validate_checks_ids_sameness_and_timeouts_without_the_api() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let ctx = Context::default();
    let bad = with_timeout(
        config(&*res, "vps/../x".into(), "".into(), NEWEST.into()),
        "ten minutes",
    );
    let d = res.validate(&ctx, &bad).await;
    let at: Vec<String> = errors(d)
        .iter()
        .map(|e| {
            e.attribute
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(at, ["target_vps_id", "source_vps_id", "timeouts.create"]);

    let same = config(&*res, TARGET.into(), TARGET.into(), NEWEST.into());
    let e = the_error(res.validate(&ctx, &same).await);
    assert_eq!(e.attribute, Some(AttributePath::attribute("source_vps_id")));

    let unknown = with_timeout(
        config(&*res, Value::Unknown, Value::Unknown, Value::Unknown),
        "90m",
    );
    assert!(res.validate(&ctx, &unknown).await.is_empty());
    assert!(sim.requests().is_empty(), "validate makes no API call");
}

// ----- create -------------------------------------------------------------------------------------

#[tokio::test]
async fn create_posts_once_and_completes() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, NEWEST);
    let p = plan(&*res, &cfg).await;
    let r = create(&*res, &p, &cfg).await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    let st = &r.new_state;
    assert_eq!(s(st, "status"), "completed");
    assert!(s(st, "job_id").starts_with("job_"));
    assert_eq!(s(st, "id"), s(st, "job_id"));
    assert!(!s(st, "started_at").is_empty());
    assert!(!s(st, "completed_at").is_empty());
    assert!(st.is_wholly_known(), "{st:?}");
    for name in [
        "target_name",
        "source_type",
        "backup_created_at",
        "backup_size_gb",
    ] {
        assert_eq!(
            st.get(name),
            p.planned.get(name),
            "{name} must equal the plan"
        );
    }
    let private: Json = serde_json::from_slice(&r.private).expect("private is JSON");
    assert!(private["poll_url"]
        .as_str()
        .unwrap()
        .contains(s(st, "job_id")));
    assert_eq!(restore_posts(&sim.requests()), [202]);
}

/// Terraform plans in one provider process and applies in another. A create whose checks have no
/// reads from moments ago reads afresh, and refuses a world that changed since the plan.
#[tokio::test]
async fn create_rechecks_and_refuses_a_world_changed_since_the_plan_before_posting() {
    let sim = start("300ms", &[]);
    let planner = resource(&sim).await;
    let cfg = restore_config(&*planner, NEWEST);
    let p = plan(&*planner, &cfg).await;
    assert!(!p.diagnostics.has_errors());

    // The target was renamed after the plan: the planned target_name would be a lie.
    sim.admin(
        "POST",
        &format!("/_sim/vps/{TARGET}"),
        Some(json!({"name": "web-01-new"})),
    );
    let r = create(&*resource(&sim).await, &p, &cfg).await;
    let e = the_error(r.diagnostics);
    assert!(r.new_state.is_null());
    assert!(
        e.detail.contains("\"web-01\"") && e.detail.contains("\"web-01-new\""),
        "{e}"
    );
    assert!(e.detail.contains("not sent"), "{e}");

    // The backup rotated away after the plan.
    sim.admin(
        "POST",
        &format!("/_sim/vps/{TARGET}"),
        Some(json!({"name": "web-01"})),
    );
    sim.admin("DELETE", &format!("/_sim/backups/{NEWEST}"), None);
    let r = create(&*resource(&sim).await, &p, &cfg).await;
    let e = the_error(r.diagnostics);
    assert_eq!(e.attribute, Some(AttributePath::attribute("backup_id")));
    assert!(e.detail.contains("nothing was sent"), "{e}");
    assert!(restore_posts(&sim.requests()).is_empty());
}

/// In an apply, Terraform re-plans each resource in the apply's own process just before applying
/// it: the checks before the POST reuse those reads instead of asking HostUp a second time, and
/// the accepted restore drops what was read about the target.
#[tokio::test]
async fn create_right_after_its_plan_reuses_those_reads_and_then_forgets_the_target() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, NEWEST);
    let p = plan(&*res, &cfg).await;
    assert!(!p.diagnostics.has_errors(), "{:#?}", p.diagnostics);
    sim.reset_log();
    let r = create(&*res, &p, &cfg).await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    let log = sim.requests();
    // The checks before the POST read nothing: the plan's reads of a moment ago serve. After
    // the job, the target's power state is read once, for `power_state`.
    let vps_reads: Vec<&str> = log
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/vps/"))
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(
        vps_reads,
        [format!("/api/v2/vps/{TARGET}/status")],
        "the plan's reads of a moment ago serve: {log:#?}"
    );
    assert_eq!(s(&r.new_state, "power_state"), "running");
    assert_eq!(restore_posts(&sim.requests()), [202]);

    // The restore changed the target, so a later check reads it again. (A second restore of
    // the target in the same process is also refused as a conflict; what matters here is that
    // its checks read the target afresh.)
    sim.reset_log();
    let again = plan(&*res, &cfg).await;
    let errors: Vec<_> = again.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{:#?}", again.diagnostics);
    assert_eq!(errors[0].summary, CONFLICT, "{:#?}", again.diagnostics);
    assert_eq!(
        matching(&sim.requests(), "GET", &format!("/api/v2/vps/{TARGET}")).count(),
        1
    );
    assert_eq!(
        matching(
            &sim.requests(),
            "GET",
            &format!("/api/v2/vps/{TARGET}/backups/restore-sources")
        )
        .count(),
        1
    );
}

#[tokio::test]
async fn a_failing_job_is_an_error_with_its_reason_and_keeps_the_job() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, BROKEN);
    let p = plan(&*res, &cfg).await;
    assert!(!p.diagnostics.has_errors(), "{:#?}", p.diagnostics);
    let r = create(&*res, &p, &cfg).await;
    let e = the_error(r.diagnostics);
    let job = s(&r.new_state, "job_id");
    assert!(e.detail.contains("archive checksum mismatch"), "{e}");
    assert!(e.detail.contains(job), "{e}");
    assert_eq!(s(&r.new_state, "status"), "failed");
    assert_eq!(restore_posts(&sim.requests()), [202]);
}

#[tokio::test]
async fn a_timeout_leaves_the_job_in_state_and_says_what_to_do() {
    let sim = start("30s", &[]);
    let res = resource(&sim).await;
    let cfg = with_timeout(restore_config(&*res, NEWEST), "1s");
    let p = plan(&*res, &cfg).await;
    let began = Instant::now();
    let r = create(&*res, &p, &cfg).await;
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "waited past the timeout"
    );
    let e = the_error(r.diagnostics);
    let job = s(&r.new_state, "job_id");
    assert_eq!(s(&r.new_state, "id"), job);
    let status = s(&r.new_state, "status");
    assert!(matches!(status, "queued" | "in_progress"), "{status}");
    let recognised = format!("recognises job {job}");
    for needle in [
        job,
        status,
        "1s",
        "continues at HostUp",
        "terraform untaint",
        &recognised,
    ] {
        assert!(
            e.detail.contains(needle),
            "missing {needle:?} in {}",
            e.detail
        );
    }
    assert!(!r.private.is_empty(), "the poll URL is kept for refresh");
    assert_eq!(restore_posts(&sim.requests()), [202]);
}

#[tokio::test]
async fn stop_interrupts_the_wait_and_keeps_the_job_in_state() {
    let sim = start("30s", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, NEWEST);
    let p = plan(&*res, &cfg).await;
    let token = CancellationToken::new();
    let ctx = Context::new(token.clone());
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        token.cancel();
    });
    let began = Instant::now();
    let r = create_with(&*res, &ctx, &p, &cfg).await;
    stopper.await.unwrap();
    assert!(began.elapsed() < Duration::from_secs(5));
    let e = the_error(r.diagnostics);
    let job = s(&r.new_state, "job_id");
    assert!(
        e.summary.contains("interrupted") || e.detail.contains("interrupted"),
        "{e}"
    );
    assert!(
        e.detail.contains(job) && e.detail.contains("terraform untaint"),
        "{e}"
    );
    assert_ne!(s(&r.new_state, "status"), "completed");
    assert_eq!(restore_posts(&sim.requests()), [202]);
}

#[tokio::test]
async fn stop_before_the_post_sends_nothing() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, NEWEST);
    let p = plan(&*res, &cfg).await;
    let token = CancellationToken::new();
    token.cancel();
    let r = create_with(&*res, &Context::new(token), &p, &cfg).await;
    let e = the_error(r.diagnostics);
    assert!(e.detail.contains("nothing was sent"), "{e}");
    assert!(r.new_state.is_null());
    assert!(restore_posts(&sim.requests()).is_empty());
}

#[tokio::test]
async fn bursts_of_503_and_429_still_give_exactly_one_accepted_post() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, NEWEST);
    let p = plan(&*res, &cfg).await;
    sim.fail_next(json!({"count": 2, "status": 503, "method": "GET"}));
    sim.fail_next(json!({"count": 1, "status": 429, "method": "POST"}));
    let r = create(&*res, &p, &cfg).await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert_eq!(s(&r.new_state, "status"), "completed");
    // The 429 was refused before HostUp acted; the one resend is the only accepted restore.
    assert_eq!(restore_posts(&sim.requests()), [429, 202]);
}

#[tokio::test]
async fn an_accepted_restore_whose_answer_cannot_be_read_says_it_may_have_started() {
    let sim = start("300ms", &[]);
    // HostUp carries the restore out; its answer reaches the provider as an HTML page.
    let swap = sim.answer_swap(
        "POST",
        "/restore-from-vps",
        202,
        "text/html",
        "<html><body>Accepted</body></html>",
    );
    let provider = configured_provider_at(swap.base_url(), KEY).await;
    let res = resource_named(&provider, "hostup_vps_restore");
    let cfg = restore_config(&*res, NEWEST);
    let p = plan(&*res, &cfg).await;
    let r = create(&*res, &p, &cfg).await;
    let e = the_error(r.diagnostics);
    assert_eq!(e.summary, "The restore may have started", "{e}");
    for never in ["nothing was changed", "did not start"] {
        assert!(!e.detail.contains(never), "{never:?} in {e}");
    }
    for needle in ["HTTP 202", "the target VPS and its jobs", "restore twice"] {
        assert!(e.detail.contains(needle), "{needle:?} missing in {e}");
    }
    assert_eq!(
        restore_posts(&sim.requests()),
        [202],
        "HostUp accepted exactly one restore, and it was not sent again"
    );
}

#[tokio::test]
async fn a_503_on_the_post_is_not_retried_and_says_to_check_hostup() {
    let sim = start("300ms", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, NEWEST);
    let p = plan(&*res, &cfg).await;
    sim.fail_next(json!({"count": 1, "status": 503, "method": "POST"}));
    let r = create(&*res, &p, &cfg).await;
    let e = the_error(r.diagnostics);
    assert!(
        e.detail.contains("may have started the restore")
            || e.detail.contains("may have reached HostUp"),
        "{e}"
    );
    assert_eq!(restore_posts(&sim.requests()), [503], "never a second POST");
}

// ----- read, update, delete -----------------------------------------------------------------------

async fn completed(sim: &Sim, res: &dyn Resource) -> ApplyResult {
    let cfg = restore_config(res, NEWEST);
    let p = plan(res, &cfg).await;
    let r = create(res, &p, &cfg).await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    sim.reset_log();
    r
}

#[tokio::test]
async fn read_keeps_the_state_when_the_job_record_expired() {
    let sim = start("200ms", &["--job-retention", "300ms"]);
    let res = resource(&sim).await;
    let done = completed(&sim, &*res).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let r = res
        .read(
            &Context::default(),
            done.new_state.clone(),
            done.private.clone(),
        )
        .await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert_eq!(r.new_state, done.new_state);
    let log = sim.requests();
    assert!(
        log.iter()
            .any(|e| e.path.starts_with("/api/jobs/") && e.status == 404),
        "the job record was asked for and had expired: {log:?}"
    );
    assert!(log.iter().all(|e| e.method == "GET"), "read never writes");
}

#[tokio::test]
async fn read_refreshes_a_job_that_finished_after_a_timeout() {
    let sim = start("1500ms", &[]);
    let res = resource(&sim).await;
    let cfg = with_timeout(restore_config(&*res, NEWEST), "1s");
    let p = plan(&*res, &cfg).await;
    let r = create(&*res, &p, &cfg).await;
    assert!(r.diagnostics.has_errors());
    tokio::time::sleep(Duration::from_millis(900)).await;
    // The next plan, in a process of its own.
    let res = resource(&sim).await;
    let refreshed = res.read(&Context::default(), r.new_state, r.private).await;
    assert!(
        refreshed.diagnostics.is_empty(),
        "{:#?}",
        refreshed.diagnostics
    );
    assert_eq!(s(&refreshed.new_state, "status"), "completed");
    assert!(!s(&refreshed.new_state, "completed_at").is_empty());
    assert_eq!(restore_posts(&sim.requests()), [202]);
}

#[tokio::test]
async fn read_removes_the_restore_when_the_target_is_gone() {
    let sim = start("200ms", &[]);
    let res = resource(&sim).await;
    let done = completed(&sim, &*res).await;
    sim.fail_next(
        json!({"count": 1, "status": 404, "code": "vps_not_found", "method": "GET",
               "pathPrefix": format!("/api/v2/vps/{TARGET}")}),
    );
    let r = res
        .read(&Context::default(), done.new_state, done.private)
        .await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert!(r.new_state.is_null());
}

#[tokio::test]
async fn update_and_delete_make_no_api_request() {
    let sim = start("200ms", &[]);
    let res = resource(&sim).await;
    let done = completed(&sim, &*res).await;
    let mut planned = done.new_state.clone();
    planned.set("timeouts", Value::object([("create", Value::from("2h"))]));
    planned.set("status", Value::Unknown);
    let cfg = with_timeout(restore_config(&*res, NEWEST), "2h");
    let req = ApplyRequest {
        prior: done.new_state.clone(),
        planned,
        config: cfg,
        private: done.private.clone(),
    };
    let u = apply_resource_change(&*res, &Context::default(), req).await;
    assert!(u.diagnostics.is_empty());
    assert_eq!(
        s(&u.new_state, "status"),
        "completed",
        "unknown takes the prior value"
    );
    assert_eq!(u.private, done.private);
    let req = ApplyRequest {
        prior: u.new_state,
        planned: Value::Null,
        config: Value::Null,
        private: done.private,
    };
    let d = apply_resource_change(&*res, &Context::default(), req).await;
    assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
    assert!(d.new_state.is_null(), "the record is forgotten");
    assert!(sim.requests().is_empty(), "update and delete touch no API");
}

// ----- import -------------------------------------------------------------------------------------

#[tokio::test]
async fn import_by_job_id_rebuilds_the_arguments() {
    let sim = start("200ms", &[]);
    let res = resource(&sim).await;
    let done = completed(&sim, &*res).await;
    let job = s(&done.new_state, "job_id").to_owned();
    let imp = res.import(&Context::default(), &job).await;
    assert!(imp.diagnostics.is_empty(), "{:#?}", imp.diagnostics);
    let st = &imp.state;
    assert_eq!(s(st, "target_vps_id"), TARGET);
    assert_eq!(s(st, "source_vps_id"), SOURCE);
    assert_eq!(s(st, "backup_id"), NEWEST);
    assert_eq!(s(st, "id"), job);
    assert_eq!(s(st, "status"), "completed");
    assert_eq!(s(st, "target_name"), "web-01");
    assert_eq!(s(st, "source_type"), "server");
    assert!(restore_posts(&sim.requests()).is_empty());

    let missing = res.import(&Context::default(), "job_01doesnotexist").await;
    let e = the_error(missing.diagnostics);
    assert!(e.detail.contains("cannot be imported"), "{e}");
    let bad = res.import(&Context::default(), "../jobs").await;
    assert!(bad.diagnostics.has_errors());
}

#[tokio::test]
async fn import_of_a_job_that_names_no_ids_explains_why_it_cannot() {
    let sim = start("200ms", &[]);
    let res = resource(&sim).await;
    let cfg = restore_config(&*res, BROKEN);
    let p = plan(&*res, &cfg).await;
    let failed = create(&*res, &p, &cfg).await;
    let job = s(&failed.new_state, "job_id").to_owned();
    let imp = res.import(&Context::default(), &job).await;
    let e = the_error(imp.diagnostics);
    assert!(imp.state.is_null());
    for needle in [
        "targetVpsId",
        "sourceVpsId",
        "backupId",
        "overwrite a VPS again",
    ] {
        assert!(
            e.detail.contains(needle) || e.summary.contains(needle),
            "missing {needle:?} in {e}"
        );
    }
}
