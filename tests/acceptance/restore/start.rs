//! `start_after_restore` on every CLI: the target back in service after the restore, with one
//! start at most, across runs. A target HostUp leaves stopped is started once; one HostUp starts
//! by itself gets no start; a key without `power:vm` leaves a completed restore tainted, which
//! the next apply with a good key adopts and starts without restoring; a Ctrl-C during the start
//! leaves a start that the next apply waits for instead of sending again. Every test counts the
//! restore and start POSTs the simulator received.

use testkit::sim::start_posts;
use testkit::world::RESTORE_SCOPES;

use super::*;

const R: &str = "hostup_vps_restore.r";

/// A key of the test client that may restore but not power VPSes on or off.
const NO_POWER_KEY: &str = "hu_acc_key_without_power_3b7e";

/// The test world with the target's power after a restore as `after` says; `job` long jobs.
fn power_sim(after: Value, job: &str) -> Sim {
    let world = World::restore()
        .key(KEY, CLIENT, FULL_SCOPES)
        .key(NO_POWER_KEY, CLIENT, RESTORE_SCOPES)
        .set(WEB, after)
        .build();
    Sim::start(&world, &["--job-duration", job])
}

fn left_stopped() -> Value {
    json!({"powerAfterRestore": "stopped"})
}

fn main_tf() -> String {
    config(&[restore(
        "r",
        WEB,
        DB,
        NEWEST,
        "  start_after_restore = true",
    )])
}

/// Asserts the restore is in state, untainted, completed, its target running, and the next plan
/// empty.
#[track_caller]
fn assert_restored_and_running(ws: &Workspace) {
    assert_eq!(ws.instance_status(R), None, "not tainted");
    let attrs = ws.state_resource_attributes(R).unwrap();
    assert_eq!(attrs["status"], "completed", "{attrs}");
    assert_eq!(attrs["power_state"], "running", "{attrs}");
    assert!(attrs["running_at"].is_string(), "{attrs}");
    ws.assert_plan_empty();
}

#[test]
fn a_target_left_stopped_is_started_once() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = power_sim(left_stopped(), "1s");
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&main_tf());
        ws.apply();
        let log = sim.requests();
        assert_eq!(restore_posts(&log), [202]);
        assert_eq!(start_posts(&log), [202]);
        assert_restored_and_running(&ws);
        assert_eq!(start_posts(&sim.requests()), [202], "the plan sent nothing");
    });
}

#[test]
fn a_target_hostup_starts_by_itself_is_not_started_again() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = power_sim(json!({"powerAfterRestore": "running"}), "1s");
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&main_tf());
        ws.apply();
        assert_eq!(restore_posts(&sim.requests()), [202]);
        assert_restored_and_running(&ws);
        assert!(start_posts(&sim.requests()).is_empty());
    });
}

#[test]
fn a_start_refused_for_its_scope_is_finished_by_the_next_apply_without_a_restore() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = power_sim(left_stopped(), "1s");
        let mut ws = workspace_with_key(cli, &provider, &sim, NO_POWER_KEY);
        ws.write_main_tf(&main_tf());
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure();
        let e = diagnostic(&out, "Error", "API key lacks the scope power:vm", Some(R));
        assert_contains_all(
            &e,
            &[
                &format!("The restore of web-01 ({WEB}) itself completed"),
                "needs the scope `power:vm`",
                "sends no new restore",
            ],
        );
        assert_eq!(ws.instance_status(R).as_deref(), Some("tainted"));
        let attrs = ws.state_resource_attributes(R).unwrap();
        assert_eq!(attrs["status"], "completed", "{attrs}");
        assert_eq!(attrs["power_state"], "stopped", "{attrs}");
        assert_eq!(start_posts(&sim.requests()), [403]);

        ws.set_env("HOSTUP_API_KEY", KEY);
        let out = ws.apply();
        let w = diagnostic(
            &out,
            "Warning",
            &format!("The restore of web-01 ({WEB}) already completed"),
            Some(R),
        );
        assert_contains_all(&w, &["did not finish starting it", "sends no new restore"]);
        let log = sim.requests();
        assert_eq!(restore_posts(&log), [202], "no second restore");
        assert_eq!(start_posts(&log), [403, 202]);
        assert_restored_and_running(&ws);
    });
}

#[test]
fn a_start_interrupted_by_ctrl_c_is_waited_for_not_sent_again() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        // The restore and the start take 4 s each: Ctrl-C lands while the start runs.
        let sim = power_sim(left_stopped(), "4s");
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&main_tf());
        let running = ws.spawn(&["apply", "-auto-approve"], &[]);
        assert!(
            sim.wait_for_requests(Duration::from_secs(120), |log| !start_posts(log).is_empty()),
            "the start was never POSTed: {:?}",
            running.output_so_far()
        );
        running.interrupt_group();
        let out = running.wait().unwrap_or_else(|e| panic!("{e}"));
        out.assert_failure();
        let e = diagnostic(
            &out,
            "Error",
            &format!("Start of web-01 ({WEB}) interrupted"),
            Some(R),
        );
        assert_contains_all(&e, &["itself completed", "never sent again"]);
        assert_eq!(ws.instance_status(R).as_deref(), Some("tainted"));
        assert_eq!(
            ws.state_resource_attributes(R).unwrap()["status"],
            "completed"
        );

        let out = ws.apply();
        let w = diagnostic(
            &out,
            "Warning",
            &format!("The restore of web-01 ({WEB}) already completed"),
            Some(R),
        );
        assert_contains_all(&w, &["not sent again"]);
        let log = sim.requests();
        assert_eq!(restore_posts(&log), [202], "no second restore");
        assert_eq!(start_posts(&log), [202], "the start was sent once");
        assert_restored_and_running(&ws);
    });
}
