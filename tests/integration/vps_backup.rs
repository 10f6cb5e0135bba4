//! `hostup_vps_backup` driven through the framework's Resource trait (no Terraform) against a real
//! `hostup-sim` process: plan-time gate, quota and VPS checks with errors at `vps_id` and no POST;
//! create that finds the new backup's id and facts; a timeout or Stop that keeps the job id and a
//! refresh that later finds the backup; refresh after rotation that keeps the state; delete with
//! a 404 counted as done; import by `vps_id/backup_id`.

use std::sync::Arc;
use std::time::Duration;

use crate::provider::{
    configured_provider_at, configured_resource, create_with, known_str as s, plan, plan_from,
    resource_named, the_error,
};
use serde_json::{json, Value as Json};
use terraform_provider_hostup::framework::server::apply_resource_change;
use terraform_provider_hostup::framework::{
    ApplyRequest, AttributePath, Context, Diagnostic, Resource, Value,
};
use testkit::sim::{backup_posts, matching, writes, Sim};
use testkit::world::{World, CLIENT, FULL_SCOPES, OTHER_CLIENT};
use tokio_util::sync::CancellationToken;

const KEY: &str = "k_backup_test_secret";

const SRC: &str = "vps_01src";
const FULL: &str = "vps_01full";
const GATED: &str = "vps_01gated";
const FOREIGN: &str = "vps_01foreign";
const OLD: &str = "bkp_01old";

fn fixture() -> Json {
    World::new()
        .key(KEY, CLIENT, FULL_SCOPES)
        .key("k_other_client", OTHER_CLIENT, FULL_SCOPES)
        .vps(
            json!({"id": SRC, "client": CLIENT, "name": "db-01", "storageGb": 100,
            "backupQuota": 3, "newBackupSizeGb": 7.5, "backups": [
                {"id": OLD, "createdAt": "2026-04-01T02:00:00Z", "sizeGb": 5,
                 "backupType": "scheduled", "note": "nightly"}]}),
        )
        .vps(
            json!({"id": FULL, "client": CLIENT, "name": "edge-01", "storageGb": 15,
            "backupQuota": 1, "backups": [
                {"id": "bkp_01fullone", "createdAt": "2026-04-02T02:00:00Z", "sizeGb": 3}]}),
        )
        .vps(
            json!({"id": GATED, "client": CLIENT, "name": "mail-01", "storageGb": 40,
            "gates": {"canCreateBackup": {"allowed": false,
                "reason": "An unpaid order blocks changes.", "code": "pending_order"}}}),
        )
        .vps(json!({"id": FOREIGN, "client": OTHER_CLIENT, "name": "other-01", "storageGb": 80}))
        .build()
}

fn sim(job: &str) -> Sim {
    Sim::start(&fixture(), &["--job-duration", job])
}

const BACKUPS_OF_SRC: &str = "/api/v2/vps/vps_01src/backups";

/// The ids of the backups the simulator holds for `vps`.
fn sim_backups(sim: &Sim, vps: &str) -> Vec<String> {
    sim.backup_ids(vps, KEY)
}

async fn resource(sim: &Sim) -> Arc<dyn Resource> {
    configured_resource(sim, KEY, "hostup_vps_backup").await
}

fn config(res: &dyn Resource, vps: &str, note: Option<&str>) -> Value {
    let mut c = res.schema().block.empty_value();
    c.set("vps_id", Value::from(vps));
    c.set("note", Value::opt_string(note));
    c
}

fn with_timeouts(mut c: Value, create: &str) -> Value {
    c.set(
        "timeouts",
        Value::object([("create", Value::from(create)), ("delete", Value::Null)]),
    );
    c
}

async fn delete(res: &dyn Resource, state: &Value, private: &[u8]) -> Vec<Diagnostic> {
    let req = ApplyRequest {
        prior: state.clone(),
        planned: Value::Null,
        config: Value::Null,
        private: private.to_vec(),
    };
    apply_resource_change(res, &Context::default(), req)
        .await
        .diagnostics
        .into_vec()
}

// ----- plan ---------------------------------------------------------------------------------------

#[tokio::test]
async fn plan_errors_name_the_reason_at_vps_id_and_nothing_is_posted() {
    let sim = sim("300ms");
    let res = resource(&sim).await;
    let cases = [
        (
            "closed gate",
            GATED,
            vec![
                "does not allow a backup",
                "An unpaid order blocks changes.",
                "pending_order",
            ],
        ),
        (
            "full quota",
            FULL,
            vec!["quota", "1 of 1 backups used", "hostup_vps_backups"],
        ),
        (
            "another client's VPS",
            FOREIGN,
            vec!["VPS not found", FOREIGN],
        ),
        (
            "no such VPS",
            "vps_01nothere",
            vec!["VPS not found", "vps_01nothere"],
        ),
    ];
    for (what, vps, needles) in cases {
        let p = plan(&*res, &config(&*res, vps, None)).await;
        let e = the_error(p.diagnostics);
        assert_eq!(
            e.attribute,
            Some(AttributePath::attribute("vps_id")),
            "{what}: {e}"
        );
        let text = format!("{} {}", e.summary, e.detail);
        for n in needles {
            assert!(text.contains(n), "{what}: missing {n:?} in {text}");
        }
    }
    assert_eq!(backup_posts(&sim.requests()).len(), 0, "a plan never POSTs");

    let ok = plan(&*res, &config(&*res, SRC, None)).await;
    assert!(ok.diagnostics.is_empty(), "{:#?}", ok.diagnostics);
    assert!(ok.planned.get("id").unwrap().is_unknown());
    assert!(ok.planned.get("job_id").unwrap().is_unknown());
}

#[tokio::test]
async fn unknown_vps_id_defers_the_checks_and_validate_refuses_bad_ids() {
    let sim = sim("300ms");
    let res = resource(&sim).await;
    let mut cfg = config(&*res, SRC, None);
    cfg.set("vps_id", Value::Unknown);
    let p = plan(&*res, &cfg).await;
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    assert!(sim.requests().is_empty(), "no API call with an unknown id");

    let bad = with_timeouts(config(&*res, "vps/../x", None), "10 minutes");
    let diags = res.validate(&Context::default(), &bad).await.into_vec();
    let at: Vec<String> = diags
        .iter()
        .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(at, ["vps_id", "timeouts.create"], "{diags:#?}");
}

#[tokio::test]
async fn changing_note_or_vps_replaces_and_timeouts_change_in_place() {
    let sim = sim("300ms");
    let res = resource(&sim).await;
    let cfg = config(&*res, SRC, Some("a"));
    let p = plan(&*res, &cfg).await;
    let made = create_with(&*res, &Context::default(), &p, &cfg).await;
    assert!(made.diagnostics.is_empty(), "{:#?}", made.diagnostics);
    let state = made.new_state;

    let renoted = plan_from(&*res, &state, &config(&*res, SRC, Some("b"))).await;
    assert_eq!(renoted.requires_replace, [AttributePath::attribute("note")]);
    let moved = plan_from(&*res, &state, &config(&*res, FULL, Some("a"))).await;
    assert_eq!(moved.requires_replace, [AttributePath::attribute("vps_id")]);

    let slower = with_timeouts(cfg.clone(), "2h");
    let p = plan_from(&*res, &state, &slower).await;
    assert!(p.requires_replace.is_empty());
    assert_eq!(p.planned.get_str("id"), state.get_str("id"), "id kept");
    sim.reset_log();
    let req = ApplyRequest {
        prior: state.clone(),
        planned: p.planned.clone(),
        config: slower,
        private: made.private.clone(),
    };
    let updated = apply_resource_change(&*res, &Context::default(), req).await;
    assert!(updated.diagnostics.is_empty());
    assert_eq!(updated.new_state.get_str("id"), state.get_str("id"));
    assert!(
        writes(&sim.requests()).is_empty(),
        "an update writes nothing"
    );
}

// ----- create -------------------------------------------------------------------------------------

#[tokio::test]
async fn create_posts_once_and_finds_the_new_backup() {
    let sim = sim("300ms");
    let res = resource(&sim).await;
    let cfg = config(&*res, SRC, Some("Before upgrade"));
    let p = plan(&*res, &cfg).await;
    let r = create_with(&*res, &Context::default(), &p, &cfg).await;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    let st = &r.new_state;
    assert!(st.is_wholly_known(), "{st:?}");
    let id = s(st, "id");
    assert!(id.starts_with("bkp_") && id != OLD, "{id}");
    assert!(s(st, "job_id").starts_with("job_"));
    assert_eq!(s(st, "backup_type"), "manual");
    assert_eq!(st.get("size_gb").and_then(Value::as_f64), Some(7.5));
    assert!(!s(st, "created_at").is_empty());
    assert_eq!(s(st, "note"), "Before upgrade");
    assert_eq!(backup_posts(&sim.requests()).len(), 1);
    assert!(sim_backups(&sim, SRC).contains(&id.to_owned()));
}

#[tokio::test]
async fn create_checks_again_and_sends_nothing_when_the_gate_closed_after_the_plan() {
    let sim = sim("300ms");
    let res = resource(&sim).await;
    let cfg = config(&*res, SRC, None);
    let p = plan(&*res, &cfg).await;
    assert!(p.diagnostics.is_empty());
    sim.admin(
        "POST",
        &format!("/_sim/vps/{SRC}/gates/canCreateBackup"),
        Some(json!({"allowed": false, "reason": "Maintenance", "code": "maintenance"})),
    );
    let r = create_with(&*res, &Context::default(), &p, &cfg).await;
    let e = the_error(r.diagnostics);
    assert_eq!(e.attribute, Some(AttributePath::attribute("vps_id")));
    assert!(e.detail.contains("Maintenance"), "{e}");
    assert!(e.detail.contains("nothing was sent"), "{e}");
    assert!(r.new_state.is_null());
    assert_eq!(backup_posts(&sim.requests()).len(), 0);
}

#[tokio::test]
async fn a_timeout_keeps_the_job_and_the_replacement_adopts_it_without_a_second_backup() {
    let sim = sim("1500ms");
    let res = resource(&sim).await;
    let cfg = with_timeouts(config(&*res, SRC, None), "200ms");
    let p = plan(&*res, &cfg).await;
    let r = create_with(&*res, &Context::default(), &p, &cfg).await;
    let e = the_error(r.diagnostics);
    assert!(e.summary.contains("Timed out"), "{e}");
    let job = s(&r.new_state, "job_id").to_owned();
    for needle in [
        job.as_str(),
        "200ms",
        "run `terraform apply` again",
        "no new backup",
    ] {
        assert!(e.detail.contains(needle), "missing {needle:?} in {e}");
    }
    assert_eq!(r.new_state.get("id"), Some(&Value::Null));
    assert!(r.new_state.is_wholly_known());
    assert_eq!(backup_posts(&sim.requests()).len(), 1);

    // A plan while the job runs, in a process of its own (Terraform refreshes the tainted
    // record, then plans its replacement from null): the replacement adopts the job, with the
    // backup still unknown.
    let res = resource(&sim).await;
    let early = res
        .read(&Context::default(), r.new_state.clone(), r.private.clone())
        .await;
    assert!(early.diagnostics.is_empty(), "{:#?}", early.diagnostics);
    assert_eq!(early.new_state.get("id"), Some(&Value::Null));
    let adopting = plan(&*res, &cfg).await;
    assert_eq!(s(&adopting.planned, "job_id"), job);
    assert!(adopting.planned.get("id").unwrap().is_unknown());
    let warning = &adopting.diagnostics.clone().into_vec()[0];
    assert!(
        warning.summary.contains("already being made") && warning.detail.contains(&job),
        "{warning}"
    );
    // A destroy now would orphan the backup being made: refused, nothing deleted.
    let refused = delete(&*res, &r.new_state, &r.private).await;
    assert!(the_error(refused).detail.contains("still"));

    let done = sim.wait_for_requests(Duration::from_secs(10), |_| {
        sim_backups(&sim, SRC).len() == 2
    });
    assert!(done, "the job finished");
    // The plan after the job finished: the refresh finds the backup, the replacement adopts it.
    let res = resource(&sim).await;
    let later = res
        .read(&Context::default(), r.new_state.clone(), r.private.clone())
        .await;
    assert!(later.diagnostics.is_empty(), "{:#?}", later.diagnostics);
    let id = s(&later.new_state, "id").to_owned();
    assert!(sim_backups(&sim, SRC).contains(&id));
    assert_eq!(s(&later.new_state, "backup_type"), "manual");
    let adopting = plan(&*res, &cfg).await;
    assert_eq!(s(&adopting.planned, "id"), id);
    assert_eq!(s(&adopting.planned, "job_id"), job);

    // The apply, in a process of its own: Terraform deletes the tainted record with the
    // replacement's planned private data, plans the replacement again, and creates it.
    let apply = resource(&sim).await;
    assert!(delete(&*apply, &later.new_state, &adopting.private)
        .await
        .is_empty());
    let replanned = plan(&*apply, &cfg).await;
    assert_eq!(
        replanned.planned, adopting.planned,
        "the apply plans what the plan showed"
    );
    let created = create_with(&*apply, &Context::default(), &replanned, &cfg).await;
    assert!(created.diagnostics.is_empty(), "{:#?}", created.diagnostics);
    assert_eq!(s(&created.new_state, "id"), id);
    assert!(
        sim_backups(&sim, SRC).contains(&id),
        "the adopted backup is kept"
    );
    assert_eq!(
        backup_posts(&sim.requests()).len(),
        1,
        "refreshes and the adoption never POST"
    );
    assert!(
        writes(&sim.requests())
            .iter()
            .all(|w| !w.contains("DELETE")),
        "nothing deleted: {:?}",
        writes(&sim.requests())
    );
}

#[tokio::test]
async fn stop_interrupts_the_wait_and_keeps_the_job_in_state() {
    let sim = sim("3s");
    let res = resource(&sim).await;
    let cfg = config(&*res, SRC, None);
    let p = plan(&*res, &cfg).await;
    let token = CancellationToken::new();
    let ctx = Context::new(token.clone());
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let r = create_with(&*res, &ctx, &p, &cfg).await;
    stopper.await.unwrap();
    let e = the_error(r.diagnostics);
    assert!(e.summary.contains("interrupted"), "{e}");
    assert!(e.detail.contains("not cancelled"), "{e}");
    assert!(s(&r.new_state, "job_id").starts_with("job_"));
    assert_eq!(backup_posts(&sim.requests()).len(), 1);
}

// ----- read and delete ----------------------------------------------------------------------------

#[tokio::test]
async fn rotation_keeps_the_backup_in_state_and_destroy_counts_404_as_done() {
    let sim = sim("300ms");
    let res = resource(&sim).await;
    let cfg = config(&*res, SRC, None);
    let p = plan(&*res, &cfg).await;
    let made = create_with(&*res, &Context::default(), &p, &cfg).await;
    assert!(made.diagnostics.is_empty(), "{:#?}", made.diagnostics);
    let state = made.new_state;
    let id = s(&state, "id").to_owned();

    let fresh = res
        .read(&Context::default(), state.clone(), made.private.clone())
        .await;
    assert!(fresh.diagnostics.is_empty());
    assert_eq!(fresh.new_state, state, "a refresh of an unchanged backup");

    sim.admin("DELETE", &format!("/_sim/backups/{id}"), None);
    let rotated = res
        .read(&Context::default(), state.clone(), made.private.clone())
        .await;
    assert!(rotated.diagnostics.is_empty(), "{:#?}", rotated.diagnostics);
    assert_eq!(rotated.new_state, state, "kept, not removed");

    sim.reset_log();
    assert!(delete(&*res, &state, &made.private).await.is_empty());
    let log = sim.requests();
    let deletes: Vec<u16> = matching(&log, "DELETE", &format!("/backups/{id}"))
        .map(|r| r.status)
        .collect();
    assert_eq!(deletes, [404], "one DELETE, answered 404");
}

#[tokio::test]
async fn destroy_deletes_the_backup() {
    let sim = sim("300ms");
    let res = resource(&sim).await;
    let cfg = config(&*res, SRC, None);
    let p = plan(&*res, &cfg).await;
    let made = create_with(&*res, &Context::default(), &p, &cfg).await;
    let id = s(&made.new_state, "id").to_owned();
    sim.reset_log();
    assert!(delete(&*res, &made.new_state, &made.private)
        .await
        .is_empty());
    let log = sim.requests();
    assert_eq!(
        writes(&log),
        [format!("DELETE {BACKUPS_OF_SRC}/{id} -> 204")]
    );
    assert_eq!(sim_backups(&sim, SRC), [OLD]);
}

/// HostUp may answer a backup DELETE with a job instead of 204: destroy then waits for that job,
/// and the backup is gone when it returns.
#[tokio::test]
async fn destroy_waits_for_a_delete_that_hostup_runs_as_a_job() {
    let sim = Sim::start(
        &fixture(),
        &["--job-duration", "300ms", "--backup-delete", "job"],
    );
    let res = resource(&sim).await;
    let cfg = config(&*res, SRC, None);
    let p = plan(&*res, &cfg).await;
    let made = create_with(&*res, &Context::default(), &p, &cfg).await;
    assert!(made.diagnostics.is_empty(), "{:#?}", made.diagnostics);
    let id = s(&made.new_state, "id").to_owned();
    sim.reset_log();
    let diags = delete(&*res, &made.new_state, &made.private).await;
    assert!(diags.is_empty(), "{diags:#?}");
    let log = sim.requests();
    assert_eq!(
        writes(&log),
        [format!("DELETE {BACKUPS_OF_SRC}/{id} -> 202")]
    );
    let polls = log
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/jobs/"))
        .count();
    assert!(polls >= 1, "the delete job was followed: {log:#?}");
    assert_eq!(sim_backups(&sim, SRC), [OLD], "gone when destroy returned");
}

// ----- import -------------------------------------------------------------------------------------

#[tokio::test]
async fn import_by_vps_and_backup_id() {
    let sim = sim("300ms");
    let res = resource(&sim).await;
    let imp = res
        .import(&Context::default(), &format!("{SRC}/{OLD}"))
        .await;
    assert!(imp.diagnostics.is_empty(), "{:#?}", imp.diagnostics);
    let st = &imp.state;
    assert_eq!(s(st, "vps_id"), SRC);
    assert_eq!(s(st, "id"), OLD);
    assert_eq!(s(st, "note"), "nightly");
    assert_eq!(s(st, "backup_type"), "scheduled");
    assert_eq!(st.get("size_gb").and_then(Value::as_f64), Some(5.0));
    assert_eq!(st.get("job_id"), Some(&Value::Null));

    for bad in [OLD, "vps_01src/", "vps_01src/bkp_01old/x", "vps_01src/../x"] {
        let imp = res.import(&Context::default(), bad).await;
        let e = the_error(imp.diagnostics);
        assert_eq!(e.summary, "Invalid import id", "{bad}");
        assert!(e.detail.contains("<vps_id>/<backup_id>"), "{bad}: {e}");
    }
    let missing = res
        .import(&Context::default(), &format!("{SRC}/bkp_01nothere"))
        .await;
    let e = the_error(missing.diagnostics);
    assert!(
        e.detail.contains("bkp_01nothere") && e.detail.contains(OLD),
        "{e}"
    );
    let foreign = res
        .import(&Context::default(), &format!("{FOREIGN}/bkp_01x"))
        .await;
    assert!(the_error(foreign.diagnostics)
        .summary
        .contains("VPS not found"));
    assert!(writes(&sim.requests()).is_empty(), "import never writes");
}

#[tokio::test]
async fn an_accepted_backup_whose_answer_cannot_be_read_says_it_may_have_started() {
    let sim = sim("200ms");
    // HostUp takes the backup; its answer reaches the provider as an HTML page.
    let swap = sim.answer_swap(
        "POST",
        BACKUPS_OF_SRC,
        202,
        "text/html",
        "<html><body>Accepted</body></html>",
    );
    let provider = configured_provider_at(swap.base_url(), KEY).await;
    let res = resource_named(&provider, "hostup_vps_backup");
    let cfg = config(&*res, SRC, Some("lost answer"));
    let p = plan(&*res, &cfg).await;
    let r = create_with(&*res, &Context::default(), &p, &cfg).await;
    let e = the_error(r.diagnostics);
    assert_eq!(e.summary, "The backup may have started", "{e}");
    for never in ["nothing was changed", "did not start"] {
        assert!(!e.detail.contains(never), "{never:?} in {e}");
    }
    for needle in ["HTTP 202", "the VPS's backups", "second backup"] {
        assert!(e.detail.contains(needle), "{needle:?} missing in {e}");
    }
    assert_eq!(
        backup_posts(&sim.requests()),
        [202],
        "one backup, not sent again"
    );
}
