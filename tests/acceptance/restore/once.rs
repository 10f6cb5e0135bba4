//! One intent, one restore, across runs: a restore whose job did not end in the provider's
//! sight (create timeout, Ctrl-C) is adopted by the next apply instead of being sent again, on
//! every CLI and through saved plans; a failed one is restored again and the plan says why; one
//! whose record HostUp dropped stops the plan; a killed run's restore is refused while its job
//! runs; two restores of one target in one run fail at plan. Every test counts the restore POSTs
//! the simulator received. The CLIs run concurrently (the tests mostly wait on jobs).

use super::*;

const TAINTED: &str = "hostup_vps_restore.r";

/// `restore("r", WEB, DB, backup)` with a create timeout of `timeout`.
fn timed(backup: &str, timeout: &str) -> String {
    config(&[restore(
        "r",
        WEB,
        DB,
        backup,
        &format!("  timeouts {{\n    create = \"{timeout}\"\n  }}"),
    )])
}

/// Applies `main.tf`, which must time out; returns the job id left in the tainted state.
#[track_caller]
fn apply_until_the_timeout(ws: &Workspace, sim: &Sim) -> String {
    let out = ws.run(&["apply", "-auto-approve"]);
    out.assert_failure();
    diagnostic(
        &out,
        "Error",
        &format!("Timed out waiting for the restore of web-01 ({WEB})"),
        Some(TAINTED),
    );
    assert_eq!(ws.instance_status(TAINTED).as_deref(), Some("tainted"));
    assert_eq!(restore_posts(&sim.requests()), [202]);
    job_id_in_state(ws, TAINTED)
}

/// A restore of `backup` that ran into its 1 s create timeout on `cli`, with `job` long jobs:
/// the simulator, the workspace and the job id left in the tainted state.
fn timed_out_restore(
    cli: &TerraformCli,
    provider: &ProviderDir,
    job: &str,
    extra: &[&str],
    backup: &str,
) -> (Sim, Workspace, String) {
    let sim = sim(job, extra);
    let ws = workspace(cli, provider, &sim);
    ws.write_main_tf(&timed(backup, "1s"));
    let job = apply_until_the_timeout(&ws, &sim);
    (sim, ws, job)
}

/// Waits until HostUp's record of `job` satisfies `done` (given the HTTP status and body).
#[track_caller]
fn wait_for_job(sim: &Sim, job: &str, what: &str, done: impl Fn(u16, &str) -> bool) {
    let until = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = sim.http("GET", &format!("/api/jobs/{job}"), None, Some(KEY));
        if done(status, &body) {
            return;
        }
        assert!(
            Instant::now() < until,
            "job {job} never {what}: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ended_with(status: &'static str) -> impl Fn(u16, &str) -> bool {
    move |code, body| code == 200 && body.contains(&format!("\"status\":\"{status}\""))
}

/// Asserts the restore is in state as HostUp's completed job `job`, untainted, and that the
/// next plan is empty.
#[track_caller]
fn assert_recorded_as_completed(ws: &Workspace, job: &str) {
    assert_eq!(ws.instance_status(TAINTED), None, "no longer tainted");
    assert_eq!(job_id_in_state(ws, TAINTED), job, "the first job is kept");
    let attrs = ws.state_resource_attributes(TAINTED).unwrap();
    assert_eq!(attrs["status"], "completed", "{attrs}");
    assert!(attrs["completed_at"].is_string(), "{attrs}");
    assert_eq!(attrs["target_name"], "web-01", "{attrs}");
    ws.assert_plan_empty();
    assert_identity_is_the_job(ws, TAINTED, job);
}

/// The plan's warning that the earlier job completed and nothing is sent.
#[track_caller]
fn assert_says_recorded(out: &TfOutput, job: &str) {
    let d = diagnostic(
        out,
        "Warning",
        &format!("The restore of web-01 ({WEB}) already completed: job {job}"),
        Some(TAINTED),
    );
    assert_contains_all(
        &d,
        &["sends nothing to HostUp", "change a value in `triggers`"],
    );
}

/// Applies again after `job` completed: the plan says it records the job, nothing is sent, the
/// state holds the job as completed and the next plan is empty.
#[track_caller]
fn apply_again_and_see_it_recorded(ws: &Workspace, sim: &Sim, job: &str) {
    let out = ws.apply();
    assert_says_recorded(&out, job);
    assert_eq!(restore_posts(&sim.requests()), [202], "no second restore");
    assert_recorded_as_completed(ws, job);
}

#[test]
fn a_timed_out_restore_is_recorded_once_its_job_completed() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let (sim, ws, job) = timed_out_restore(cli, &provider, "4s", &[], NEWEST);
        wait_for_job(&sim, &job, "completed", ended_with("completed"));

        apply_again_and_see_it_recorded(&ws, &sim, &job);
    });
}

#[test]
fn a_timed_out_restore_is_recorded_through_a_saved_plan() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let (sim, ws, job) = timed_out_restore(cli, &provider, "4s", &[], NEWEST);
        wait_for_job(&sim, &job, "completed", ended_with("completed"));

        let plan = ws.run(&["plan", "-out", "tfplan"]);
        plan.assert_success();
        assert_says_recorded(&plan, &job);
        // The apply runs in new provider processes, with only the plan file to go by.
        ws.run(&["apply", "tfplan"]).assert_success();
        assert_eq!(restore_posts(&sim.requests()), [202], "no second restore");
        assert_recorded_as_completed(&ws, &job);
    });
}

#[test]
fn applying_again_while_the_job_runs_waits_for_it() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let (sim, ws, job) = timed_out_restore(cli, &provider, "30s", &[], NEWEST);

        // A longer timeout this time; the job is still running (30 s).
        ws.write_main_tf(&timed(NEWEST, "5m"));
        let out = ws.apply();
        let d = diagnostic(
            &out,
            "Warning",
            &format!("The restore of web-01 ({WEB}) is already running: job {job}"),
            Some(TAINTED),
        );
        assert_contains_all(
            &d,
            &["sends no new restore", &format!("waits for job {job}")],
        );
        assert!(
            !out.output_contains("Apply will overwrite VPS"),
            "no warning about a new restore when none is sent:\n{out}"
        );
        assert_eq!(restore_posts(&sim.requests()), [202], "no second restore");
        assert_recorded_as_completed(&ws, &job);
    });
}

#[test]
fn an_interrupted_restore_is_recorded_once_its_job_completed() {
    interrupted_then_recorded(Running::interrupt_group, &[]);
}

/// A CI runner's cancel (GitLab, Jenkins, GitHub Actions): SIGTERM to the job's whole process
/// group, so the provider gets it too. It must leave the stopping to Terraform, as with Ctrl-C.
#[test]
fn a_restore_cancelled_by_ci_is_recorded_once_its_job_completed() {
    // Terraform 1.0 runs under panicwrap, whose parent forwards SIGTERM to the real Terraform,
    // which the group's SIGTERM reached already: two interrupts, so it exits at once without
    // writing state, whatever the provider does. TF_FORK=0 (what the README tells 1.0 users to
    // set in CI) runs it without panicwrap; 1.1 dropped panicwrap.
    interrupted_then_recorded(Running::terminate_group, &[("TF_FORK", "0")]);
}

/// An apply stopped by `signal` once the restore was POSTed: the job id is in state, tainted,
/// and the next apply records the job's outcome without a second POST.
fn interrupted_then_recorded(signal: fn(&Running), env: &[(&str, &str)]) {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = sim("10s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        let running = apply_until_posted(&ws, &sim, env);
        signal(&running);
        let out = running.wait().unwrap_or_else(|e| panic!("{e}"));
        out.assert_failure();
        diagnostic(
            &out,
            "Error",
            &format!("Restore of web-01 ({WEB}) interrupted"),
            Some(TAINTED),
        );
        assert_eq!(ws.instance_status(TAINTED).as_deref(), Some("tainted"));
        let job = job_id_in_state(&ws, TAINTED);
        wait_for_job(&sim, &job, "completed", ended_with("completed"));

        apply_again_and_see_it_recorded(&ws, &sim, &job);
    });
}

/// The CLI killed outright (SIGKILL after a CI cancel's grace period, the OOM killer, a crash):
/// nobody stops the provider, which must notice and exit by itself rather than wait on HostUp
/// for the rest of the job.
#[test]
fn the_provider_exits_when_the_cli_is_killed() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = sim("60s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        let running = apply_until_posted(&ws, &sim, &[]);
        let providers = running.providers();
        assert!(!providers.is_empty(), "no provider process found");
        // The process that started each provider: Terraform itself (for 1.0, the child that
        // panicwrap runs it in).
        for p in &providers {
            kill_process(p.parent);
        }
        let killed = Instant::now();
        while providers.iter().any(|p| process_alive(p.pid)) {
            assert!(
                killed.elapsed() < Duration::from_secs(10),
                "a provider outlived the CLI by 10 s: {providers:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(running);
    });
}

#[test]
fn a_timed_out_restore_whose_job_failed_is_restored_again_and_the_plan_says_why() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let (sim, ws, job) = timed_out_restore(cli, &provider, "3s", &[], BROKEN);
        wait_for_job(&sim, &job, "failed", ended_with("failed"));

        ws.write_main_tf(&timed(BROKEN, "5m"));
        let plan = ws.assert_plan_has_changes();
        let d = diagnostic(
            &plan,
            "Warning",
            &format!("The earlier restore of web-01 ({WEB}) failed: job {job}"),
            Some(TAINTED),
        );
        assert_contains_all(
            &d,
            &[
                &format!("HostUp job {job} failed: archive checksum mismatch"),
                "Applying sends a new restore",
            ],
        );
        diagnostic(
            &plan,
            "Warning",
            &format!("Apply will overwrite VPS web-01 ({WEB})"),
            Some(TAINTED),
        );
        assert_eq!(restore_posts(&sim.requests()), [202]);

        // The same backup fails again, but it was tried once more, as the plan said.
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure();
        diagnostic(
            &out,
            "Error",
            &format!("Restore of web-01 ({WEB}) failed"),
            Some(TAINTED),
        );
        assert_eq!(restore_posts(&sim.requests()), [202, 202]);
        assert_ne!(job_id_in_state(&ws, TAINTED), job, "a new job");
    });
}

#[test]
fn a_timed_out_restore_whose_record_expired_stops_the_plan() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let (sim, ws, job) =
            timed_out_restore(cli, &provider, "2s", &["--job-retention", "1s"], NEWEST);
        wait_for_job(&sim, &job, "expired", |code, _| code == 404);

        let summary =
            format!("The outcome of the earlier restore of web-01 ({WEB}) is unknown: job {job}");
        for command in [&["plan"][..], &["apply", "-auto-approve"]] {
            let out = ws.run(command);
            out.assert_failure();
            let d = diagnostic(&out, "Error", &summary, Some(TAINTED));
            assert_contains_all(
                &d,
                &[
                    "no longer keeps a record",
                    "Check the target VPS",
                    "terraform untaint",
                    "change a value in `triggers`",
                ],
            );
        }
        assert_eq!(restore_posts(&sim.requests()), [202], "nothing sent again");

        // The two ways out the error names: restore again on purpose (a new trigger), or
        // accept what HostUp did.
        ws.write_main_tf(&config(&[restore(
            "r",
            WEB,
            DB,
            NEWEST,
            "  triggers = { run = \"2\" }",
        )]));
        let plan = ws.assert_plan_has_changes();
        diagnostic(
            &plan,
            "Warning",
            &format!("Apply will overwrite VPS web-01 ({WEB})"),
            Some(TAINTED),
        );
        ws.write_main_tf(&timed(NEWEST, "1s"));
        ws.run(&["untaint", TAINTED]).assert_success();
        ws.assert_plan_empty();
        assert_eq!(restore_posts(&sim.requests()), [202]);
        // The refresh after HostUp dropped the record keeps the identity. (On Terraform 1.12.2 the
        // state holds none after the timed-out apply and `untaint`; the apply's refresh records
        // it again.)
        ws.apply();
        assert_identity_is_the_job(&ws, TAINTED, &job);
        assert_eq!(restore_posts(&sim.requests()), [202]);
    });
}

#[test]
fn a_killed_run_is_refused_while_its_restore_runs() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = sim("12s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        let running = ws.spawn(&["apply", "-auto-approve"], &[]);
        assert!(
            sim.wait_for_requests(Duration::from_secs(120), |log| restore_posts(log) == [202]),
            "the restore was never accepted"
        );
        // SIGKILL to Terraform and the provider: nothing reaches state.
        running.kill();
        assert!(ws.state_resource_attributes(TAINTED).is_none());
        let jobs = sim.state()["jobs"].clone();
        let job = jobs[0]["id"].as_str().expect("the accepted job").to_owned();

        let plan = ws.run(&["plan"]);
        plan.assert_failure();
        let d = diagnostic(
            &plan,
            "Error",
            "HostUp does not allow a restore onto this VPS now",
            Some(TAINTED),
        );
        assert_contains_all(
            &d,
            &[
                &format!("Job {job}"),
                "(code job_in_progress)",
                "once it has completed do not apply (or invoke) this restore again",
                "terraform import <address> <job id>",
            ],
        );
        assert_eq!(restore_posts(&sim.requests()), [202], "nothing sent again");

        // The way out the error names: once the job has completed, import it by its id.
        wait_for_job(&sim, &job, "completed", ended_with("completed"));
        ws.run(&["import", TAINTED, &job]).assert_success();
        assert_eq!(job_id_in_state(&ws, TAINTED), job);
        ws.assert_plan_empty();
        assert_eq!(restore_posts(&sim.requests()), [202], "nothing sent again");
    });
}

#[test]
fn two_restores_of_one_target_fail_at_plan_naming_each_other() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = sim("1s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[
            restore("a", WEB, DB, NEWEST, ""),
            restore("b", WEB, DB, OLDER, ""),
            restore("elsewhere", CACHE, DB, OLDER, ""),
        ]));
        for command in [&["plan"][..], &["apply", "-auto-approve"]] {
            let out = ws.run(command);
            out.assert_failure();
            // The later of the two always gets the error; the earlier gets it too when their
            // plans overlap, which they do unless the machine is so loaded that one plan ends
            // before the other starts (see `conflicts`). Either way the run stops.
            let summary = "Error: Another restore of this VPS in the same run";
            let flagged: Vec<_> = [("a", OLDER), ("b", NEWEST)]
                .into_iter()
                .filter(|(me, _)| {
                    squash_whitespace(&out.combined().replace(['│', '╷'], " "))
                        .contains(&format!("{summary} with hostup_vps_restore.{me},"))
                })
                .collect();
            assert!(
                !flagged.is_empty(),
                "neither restore of {WEB} was refused:\n{out}"
            );
            for &(me, other) in &flagged {
                let d = diagnostic(
                    &out,
                    "Error",
                    "Another restore of this VPS in the same run",
                    Some(&format!("hostup_vps_restore.{me}")),
                );
                assert_points_at(&d, "target_vps_id");
                assert_contains_all(
                    &d,
                    &[
                        &format!("restores VPS {WEB} more than once"),
                        &format!(
                            "another hostup_vps_restore with source_vps_id {DB}, backup_id {other}"
                        ),
                        "This restore was not sent to HostUp",
                    ],
                );
            }
            assert_eq!(
                out.combined().matches(summary).count(),
                flagged.len(),
                "one error on each of a and b, none on the restore of another target:\n{out}"
            );
        }
        assert_no_writes(&sim.requests(), "a plan with two restores of one VPS");

        // The same inputs twice (`count = 2`) are two restores of one VPS as well.
        ws.write_main_tf(&config(&[restore("twice", WEB, DB, NEWEST, "  count = 2")]));
        let out = ws.run(&["plan"]);
        out.assert_failure();
        // Both instances get the error, but its text and configuration line are the same for
        // both, and Terraform 1.15 then prints it once, under either address.
        diagnostic(
            &out,
            "Error",
            "Another restore of this VPS in the same run",
            None,
        );
        out.assert_output_contains("with hostup_vps_restore.twice[");
        assert_no_writes(&sim.requests(), "a plan with count = 2 on one VPS");
    });
}

#[test]
fn replace_after_a_manual_untaint_restores_again() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let (sim, ws, job) = timed_out_restore(cli, &provider, "3s", &[], NEWEST);
        wait_for_job(&sim, &job, "completed", ended_with("completed"));

        // The manual way: accept the completed job by hand.
        ws.run(&["untaint", TAINTED]).assert_success();
        ws.assert_plan_empty();
        assert_eq!(restore_posts(&sim.requests()), [202]);

        // A later `-replace` is a deliberate second restore, not an adoption of that job.
        ws.write_main_tf(&timed(NEWEST, "5m"));
        let out = ws.run(&["apply", "-auto-approve", &format!("-replace={TAINTED}")]);
        out.assert_success();
        assert!(
            !out.output_contains("already completed"),
            "a deliberate replacement adopts nothing:\n{out}"
        );
        assert_eq!(restore_posts(&sim.requests()), [202, 202]);
        assert_ne!(job_id_in_state(&ws, TAINTED), job, "a new job");
        ws.assert_plan_empty();
    });
}

#[test]
fn refresh_false_still_adopts_a_job_the_state_shows_running() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let (sim, ws, job) = timed_out_restore(cli, &provider, "4s", &[], NEWEST);
        wait_for_job(&sim, &job, "completed", ended_with("completed"));

        // Without a refresh the plan cannot see the job and shows a restore, but the apply
        // meets the tainted object (its state says the job runs) and waits for it instead.
        ws.write_main_tf(&timed(NEWEST, "5m"));
        let plan = ws.run(&["plan", "-refresh=false"]);
        plan.assert_success();
        assert!(
            !plan.output_contains("already completed"),
            "without a refresh the plan cannot know the job:\n{plan}"
        );
        let out = ws.run(&["apply", "-auto-approve", "-refresh=false"]);
        out.assert_success();
        assert_eq!(restore_posts(&sim.requests()), [202], "no second restore");
        assert_recorded_as_completed(&ws, &job);
    });
}

#[test]
fn create_before_destroy_stops_an_adopting_apply_before_anything_is_sent() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = sim("4s", &[]);
        let ws = workspace(cli, &provider, &sim);
        let cbd = |timeout: &str| {
            config(&[restore(
                "r",
                WEB,
                DB,
                NEWEST,
                &format!(
                    "  timeouts {{\n    create = \"{timeout}\"\n  }}\n  lifecycle {{\n    \
                     create_before_destroy = true\n  }}"
                ),
            )])
        };
        ws.write_main_tf(&cbd("1s"));
        let job = apply_until_the_timeout(&ws, &sim);
        wait_for_job(&sim, &job, "completed", ended_with("completed"));
        ws.write_main_tf(&cbd("5m"));
        // With create_before_destroy Terraform creates the replacement before it deletes the
        // tainted object, so the apply's provider has not met the earlier job when it plans the
        // create again: the plan promised job J, the apply cannot keep that promise, and
        // Terraform stops before the create. Safe, if not pretty; the docs say so.
        let plan = ws.run(&["plan"]);
        assert_says_recorded(&plan, &job);
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure()
            .assert_output_contains("Provider produced inconsistent final plan")
            .assert_output_contains(".job_id: was known, but now unknown");
        assert_eq!(restore_posts(&sim.requests()), [202], "no second restore");
        assert_eq!(ws.instance_status(TAINTED).as_deref(), Some("tainted"));
        assert_eq!(job_id_in_state(&ws, TAINTED), job);
        // That apply left the tainted object deposed. Applying again, with or without
        // create_before_destroy, still never restores twice.
        let plain = config(&[restore(
            "r",
            WEB,
            DB,
            NEWEST,
            "  timeouts {\n    create = \"5m\"\n  }",
        )]);
        for main_tf in [cbd("5m"), plain] {
            crate::apply_fails_over_a_deposed_job(&ws, &main_tf);
            assert_eq!(restore_posts(&sim.requests()), [202], "no second restore");
        }
        // The way out the docs give records the completed job by hand, and nothing is sent.
        ws.run(&["state", "rm", TAINTED]).assert_success();
        ws.run(&["import", TAINTED, &job]).assert_success();
        ws.run(&["apply", "-auto-approve"])
            .assert_success()
            .assert_output_contains("0 to add, 1 to change, 0 to destroy");
        ws.assert_plan_empty();
        assert_eq!(restore_posts(&sim.requests()), [202], "one restore in all");
    });
}

#[test]
fn a_restore_whose_answer_was_lost_stops_the_next_plan_until_you_decide() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = sim("2s", &[]);
        // HostUp carries the restore out, but its answer is lost on the way back.
        let proxy = sim.answer_swap(
            "POST",
            RESTORE_PATH,
            502,
            "text/html",
            "<html><body>502 Bad Gateway</body></html>",
        );
        let mut ws = workspace(cli, &provider, &sim);
        ws.set_env("HOSTUP_ENDPOINT", proxy.base_url());
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure();
        let d = diagnostic(&out, "Error", "The restore may have started", Some(TAINTED));
        assert_contains_all(
            &d,
            &["HTTP 502", "may have reached HostUp", "status \"unknown\""],
        );
        assert_eq!(ws.instance_status(TAINTED).as_deref(), Some("tainted"));
        let attrs = ws.state_resource_attributes(TAINTED).unwrap();
        assert_eq!(attrs["status"], "unknown", "{attrs}");
        assert!(attrs["job_id"].is_null(), "{attrs}");
        assert_eq!(restore_posts(&sim.requests()), [202], "HostUp did restore");

        let summary = format!("The earlier restore request for web-01 ({WEB}) may have started");
        for command in [&["plan"][..], &["apply", "-auto-approve"]] {
            let out = ws.run(command);
            out.assert_failure();
            let d = diagnostic(&out, "Error", &summary, Some(TAINTED));
            assert_contains_all(
                &d,
                &[
                    "got no usable answer",
                    "Check the target VPS",
                    "terraform untaint",
                    "change a value in `triggers`",
                ],
            );
        }
        assert_eq!(restore_posts(&sim.requests()), [202], "nothing sent again");
        ws.run(&["untaint", TAINTED]).assert_success();
        ws.assert_plan_empty();
        assert_eq!(restore_posts(&sim.requests()), [202]);
    });
}
