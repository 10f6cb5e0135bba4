//! The `hostup_vps_restore` action under real Terraform (1.14 and newer run actions) against
//! `hostup-sim`: `terraform apply -invoke` restores once and prints the job's progress as it goes,
//! a failing job fails the run with HostUp's reason and the job id, a gate-blocked target fails
//! at plan without any POST, and an `action_trigger` runs the restore after a resource is created.
//! Older Terraform (1.0 to 1.13) never calls action RPCs; one test checks each still plans the
//! quickstart with this provider. OpenTofu has no actions at all: one test checks that its users
//! see nothing of them, and that an `action` block is OpenTofu's own error.

use serde_json::Value as Json;
use testkit::sim::HOSTUP_HEADER as HEADER;
use testkit::sim::{restore_posts, Sim};
use testkit::*;

use crate::provider;

const KEY: &str = "hu_sim_acme_full_0001";
const WEB: &str = "vps_01j9k2web00000000000000001";
const DB: &str = "vps_01j9k2db000000000000000001";
const MAIL: &str = "vps_01j9k2mail0000000000000001";
/// A db-01 backup the fixture copy below makes fail.
const BROKEN: &str = "bkp_01j9k2db100000000000000001";
const BROKEN_REASON: &str = "archive checksum mismatch";

/// `hostup-sim` on 127.0.0.1:0 with the example fixture, one backup of which fails to restore.
fn start_sim(job_duration: &str) -> Sim {
    let mut fixture: Json = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/sim/fixture.json"))
            .expect("example fixture"),
    )
    .expect("fixture JSON");
    let backup = fixture["vps"]
        .as_array_mut()
        .and_then(|v| v.iter_mut().find(|v| v["id"] == DB))
        .and_then(|v| v["backups"].as_array_mut())
        .and_then(|b| b.iter_mut().find(|b| b["id"] == BROKEN))
        .expect("db-01's first backup in the example fixture");
    backup["failRestore"] = Json::from(BROKEN_REASON);
    Sim::start(&fixture, &["--job-duration", job_duration])
}

fn workspace(cli: &TerraformCli, provider: &ProviderDir, sim: &Sim) -> Workspace {
    sim.workspace(cli, &[provider], KEY)
}

fn example(file: &str) -> String {
    std::fs::read_to_string(
        repo_root()
            .join("examples/actions/hostup_vps_restore")
            .join(file),
    )
    .expect("action example")
}

fn action(name: &str, target: &str, source: &str, backup: &str) -> String {
    format!(
        r#"{HEADER}
action "hostup_vps_restore" "{name}" {{
  config {{
    target_vps_id = "{target}"
    source_vps_id = "{source}"
    backup_id     = "{backup}"
    timeout       = "2m"
  }}
}}
"#
    )
}

/// Runs `body` for every CLI that runs actions.
fn for_each_action_cli(body: impl Fn(&TerraformCli)) {
    for_each_cli(|cli| {
        if cli.at_least(1, 14, 0) && cli.flavor == Flavor::Terraform {
            body(cli);
        }
    });
}

#[test]
fn invoke_restores_once_and_shows_progress() {
    let provider = provider();
    for_each_action_cli(|cli| {
        let sim = start_sim("4s");
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&format!("{HEADER}\n{}", example("action.tf")));
        ws.run(&["validate"]).assert_success();

        let plan = ws.run(&["plan", "-invoke=action.hostup_vps_restore.restore_web"]);
        plan.assert_success()
            .assert_output_contains("Apply will overwrite VPS web-01")
            .assert_output_contains("every invocation of the action restores again");
        assert!(
            restore_posts(&sim.requests()).is_empty(),
            "a plan never POSTs"
        );

        let out = ws.run(&[
            "apply",
            "-invoke=action.hostup_vps_restore.restore_web",
            "-auto-approve",
        ]);
        out.assert_success();
        let text = squash_whitespace(&out.combined());
        let combined = out.combined();
        let progress: Vec<&str> = combined
            .lines()
            .filter(|l| l.contains("Action action.hostup_vps_restore.restore_web"))
            .collect();
        assert!(
            text.contains("restoring web-01 (vps_01j9k2web00000000000000001) from backup"),
            "{text}"
        );
        assert!(text.contains("completed after"), "{text}");
        assert!(
            progress.iter().any(|l| l.contains("% done after")),
            "a progress line while the job ran: {progress:#?}"
        );
        assert_eq!(
            restore_posts(&sim.requests()),
            [202],
            "exactly one restore POST"
        );
        // Nothing of the action lands in state, so a plain plan stays empty.
        ws.assert_plan_empty();
    });
}

#[test]
fn a_failing_job_fails_the_run_with_its_reason() {
    let provider = provider();
    for_each_action_cli(|cli| {
        let sim = start_sim("1s");
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&action("broken", WEB, DB, BROKEN));
        let out = ws.run(&[
            "apply",
            "-invoke=action.hostup_vps_restore.broken",
            "-auto-approve",
        ]);
        out.assert_failure();
        let text = squash_whitespace(&out.combined());
        assert!(text.contains("Restore of web-01"), "{text}");
        assert!(text.contains(BROKEN_REASON), "{text}");
        assert!(text.contains("HostUp job job_"), "names the job: {text}");
        assert!(text.contains("invoke the action again"), "{text}");
        assert_eq!(restore_posts(&sim.requests()), [202]);
    });
}

#[test]
fn a_gate_blocked_target_fails_at_plan_without_a_post() {
    let provider = provider();
    for_each_action_cli(|cli| {
        let sim = start_sim("1s");
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&action("mail", MAIL, DB, "bkp_01j9k2db200000000000000001"));
        let out = ws.run(&[
            "apply",
            "-invoke=action.hostup_vps_restore.mail",
            "-auto-approve",
        ]);
        out.assert_failure();
        let text = squash_whitespace(&out.combined());
        assert!(
            text.contains("HostUp does not allow a restore onto this VPS now"),
            "{text}"
        );
        assert!(text.contains("pending_order"), "{text}");
        assert!(
            !text.contains("Checked again just before the restore"),
            "refused by the plan, not by the invoke-time re-check: {text}"
        );
        assert!(
            restore_posts(&sim.requests()).is_empty(),
            "no POST after a failed plan"
        );
    });
}

#[test]
fn a_trigger_restores_after_the_resource_is_created() {
    let provider = provider();
    for_each_action_cli(|cli| {
        let sim = start_sim("1s");
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&format!("{HEADER}\n{}", example("trigger.tf")));
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_success();
        let text = squash_whitespace(&out.combined());
        assert!(
            text.contains("Action action.hostup_vps_restore.seed_fresh_vps"),
            "{text}"
        );
        assert!(text.contains("restoring edge-01"), "{text}");
        assert_eq!(restore_posts(&sim.requests()), [202]);
        // Already created: the next plan runs no trigger and restores nothing.
        ws.assert_plan_empty();
        ws.apply();
        assert_eq!(restore_posts(&sim.requests()), [202], "no second restore");
    });
}

#[test]
fn older_terraform_plans_with_a_provider_that_declares_actions() {
    let provider = provider();
    for_each_cli(|cli| {
        if cli.flavor != Flavor::Terraform || cli.at_least(1, 14, 0) {
            return;
        }
        let sim = start_sim("1s");
        let ws = workspace(cli, &provider, &sim);
        let quickstart = repo_root().join("examples/quickstart");
        ws.write_main_tf(&std::fs::read_to_string(quickstart.join("main.tf")).expect("main.tf"));
        ws.write(
            "terraform.tfvars",
            &std::fs::read_to_string(quickstart.join("terraform.tfvars")).expect("tfvars"),
        );
        ws.run(&["plan"])
            .assert_success()
            .assert_output_contains("Apply will overwrite VPS web-01");
        assert!(restore_posts(&sim.requests()).is_empty());
    });
}

/// OpenTofu has no actions. It reads `GetProviderSchema`, whose `action_schemas` it does not know,
/// and runs the quickstart (plan, apply, empty plan) with nothing of the action in what it prints or
/// in `tofu providers schema -json`. A configuration with an `action` block is refused by OpenTofu
/// itself, at validate, before the provider is asked anything and without any POST.
#[test]
fn opentofu_sees_nothing_of_the_declared_actions() {
    let provider = provider();
    for_each_cli(|cli| {
        if cli.flavor != Flavor::OpenTofu {
            return;
        }
        let sim = start_sim("1s");
        let ws = workspace(cli, &provider, &sim);
        let quickstart = repo_root().join("examples/quickstart");
        ws.write_main_tf(&std::fs::read_to_string(quickstart.join("main.tf")).expect("main.tf"));
        ws.write(
            "terraform.tfvars",
            &std::fs::read_to_string(quickstart.join("terraform.tfvars")).expect("tfvars"),
        );
        let plan = ws.run(&["plan"]);
        plan.assert_success()
            .assert_output_contains("Apply will overwrite VPS web-01");
        let apply = ws.apply();
        for out in [&plan, &apply] {
            for needle in ["action.", "Action", "-invoke", "action_trigger", "invoke"] {
                out.assert_output_lacks(needle);
            }
        }
        ws.assert_plan_empty();
        assert_eq!(restore_posts(&sim.requests()), [202]);

        let schema = ws.run(&["providers", "schema", "-json"]);
        schema.assert_success();
        let schema = schema.json();
        let ours = &schema["provider_schemas"]["registry.opentofu.org/hostup/hostup"];
        assert!(
            ours["resource_schemas"]["hostup_vps_restore"].is_object(),
            "{schema:#}"
        );
        let keys: Vec<&String> = ours.as_object().expect("provider schema").keys().collect();
        assert!(
            keys.iter().all(|k| !k.contains("action")),
            "OpenTofu lists no action schemas: {keys:?}"
        );

        let with_action = workspace(cli, &provider, &sim);
        with_action.write_main_tf(&format!("{HEADER}\n{}", example("action.tf")));
        let out = with_action.run(&["validate"]);
        out.assert_failure()
            .assert_output_contains("Unsupported block type")
            .assert_output_contains("Blocks of type \"action\" are not expected here");
        assert_eq!(restore_posts(&sim.requests()), [202], "no second restore");
    });
}

#[test]
fn ctrl_c_ends_the_wait_with_the_job_id_and_no_second_post() {
    let provider = provider();
    for_each_action_cli(|cli| {
        let sim = start_sim("60s");
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&format!("{HEADER}\n{}", example("action.tf")));
        let run = ws.spawn(
            &[
                "apply",
                "-invoke=action.hostup_vps_restore.restore_web",
                "-auto-approve",
            ],
            &[],
        );
        assert!(
            run.wait_for_output("HostUp job job_", std::time::Duration::from_secs(60)),
            "the restore started: {:?}",
            run.output_so_far()
        );
        run.interrupt_group();
        let out = run.wait().expect("terraform ends after Ctrl-C");
        out.assert_failure();
        let text = squash_whitespace(&out.combined());
        assert!(text.contains("Restore of web-01"), "{text}");
        assert!(text.contains("interrupted"), "{text}");
        assert!(text.contains("the job itself was not cancelled"), "{text}");
        assert_eq!(restore_posts(&sim.requests()), [202]);
        let job = sim.state()["jobs"][0]["id"]
            .as_str()
            .expect("the accepted job")
            .to_owned();

        // The action has no state to remember the job by; invoking it again while the job runs
        // is refused at plan by HostUp's closed gate, and the error names the running job.
        let again = ws.run(&[
            "apply",
            "-invoke=action.hostup_vps_restore.restore_web",
            "-auto-approve",
        ]);
        again.assert_failure();
        let text = squash_whitespace(&again.combined());
        assert!(
            text.contains("HostUp does not allow a restore onto this VPS now"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Job {job}")),
            "names the job: {text}"
        );
        assert!(text.contains("(code job_in_progress)"), "{text}");
        assert_eq!(restore_posts(&sim.requests()), [202], "nothing sent again");
    });
}

fn power_example() -> String {
    std::fs::read_to_string(repo_root().join("examples/actions/hostup_vps_power/action.tf"))
        .expect("power action example")
}

/// Statuses of the `POST …/actions/<action>` requests the simulator saw.
fn power_posts(sim: &Sim, action: &str) -> Vec<u16> {
    testkit::sim::statuses(&sim.requests(), "POST", &format!("/actions/{action}"))
}

#[test]
fn power_actions_send_once_wait_for_the_state_and_warn_before_a_reset() {
    let provider = provider();
    for_each_action_cli(|cli| {
        let sim = start_sim("2s");
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&format!("{HEADER}\n{}", power_example()));
        ws.run(&["validate"]).assert_success();

        let plan = ws.run(&["plan", "-invoke=action.hostup_vps_power.reset_web"]);
        plan.assert_success().assert_output_contains(&format!(
            "Invoking this action will reset VPS web-01 ({WEB})"
        ));
        assert!(power_posts(&sim, "reset").is_empty(), "a plan never POSTs");

        let out = ws.run(&[
            "apply",
            "-invoke=action.hostup_vps_power.reset_web",
            "-auto-approve",
        ]);
        out.assert_success();
        let text = squash_whitespace(&out.combined());
        for line in [
            format!("reset of web-01 ({WEB}) sent: HostUp job"),
            format!("web-01 ({WEB}) is running after"),
        ] {
            assert!(text.contains(&line), "missing {line:?} in {text}");
        }
        assert_eq!(power_posts(&sim, "reset"), [202], "exactly one reset");

        // Starting a running VPS is HostUp's business: the action sends it once and waits.
        let out = ws.run(&[
            "apply",
            "-invoke=action.hostup_vps_power.start_web",
            "-auto-approve",
        ]);
        out.assert_success();
        assert_eq!(power_posts(&sim, "start"), [202]);
    });
}

#[test]
fn a_power_action_without_the_power_scope_fails_naming_it_and_is_not_resent() {
    let provider = provider();
    for_each_action_cli(|cli| {
        let sim = start_sim("1s");
        let ws = sim.workspace(cli, &[&provider], "hu_sim_acme_read_0001");
        ws.write_main_tf(&format!("{HEADER}\n{}", power_example()));
        let out = ws.run(&[
            "apply",
            "-invoke=action.hostup_vps_power.start_web",
            "-auto-approve",
        ]);
        out.assert_failure()
            .assert_output_contains("API key lacks the scope power:vm");
        assert_eq!(
            power_posts(&sim, "start"),
            [403],
            "sent once, never retried"
        );
    });
}
