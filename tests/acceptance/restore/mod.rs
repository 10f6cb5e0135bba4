//! Acceptance tests of `hostup_vps_restore` and the data sources as a user meets them: the real
//! `terraform-provider-hostup` binary, driven by real Terraform CLIs, against a real `hostup-sim`
//! process. Every test checks what Terraform printed and what HostUp (the simulator) was asked:
//! how many restore POSTs were made, and that no write happened where none is allowed.
//!
//! Matrix: the basic lifecycle (apply, empty plan, replacement) runs on every CLI found; the
//! failure paths on the newest and the oldest; the parallel run, the examples and the install on
//! the newest (the quickstart also on the oldest). Jobs take about a second and the provider polls
//! every 100 ms (`HOSTUP_POLL_INTERVAL_MS`), so waits are short and nothing sleeps blindly.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::sim::HOSTUP_HEADER as HEADER;
use testkit::sim::{matching, restore_posts, writes, Sim, SimRequest, RESTORE_PATH};
use testkit::world::{
    World, BROKEN, CLIENT, EMPTY as CACHE, FOREIGN as OTHER, FULL_SCOPES, GATED as MAIL,
    GATE_REASON, HUGE, NEWEST, OTHER_CLIENT, RETAINED as SHOP, SMALL as OLDER, SOURCE as DB,
    TARGET as WEB,
};
use testkit::*;

use crate::{provider, provider_binary};

/// One intent, one restore: across timed-out, interrupted, killed and conflicting runs.
mod once;
/// The target back in service: `start_after_restore` across runs.
mod start;

/// The API key of the test account. Distinctive, so a leak into any log is found by a search.
const KEY: &str = "hu_acc_key_never_in_logs_7c19e4";

/// The shared restore world (testkit::world), with the test key and one of another client.
fn fixture() -> Value {
    World::restore()
        .key(KEY, CLIENT, FULL_SCOPES)
        .key("hu_acc_other_client_key", OTHER_CLIENT, FULL_SCOPES)
        .set(CLIENT, json!({"name": "Acceptance AB"}))
        .build()
}

// ----- set-up ------------------------------------------------------------------------------------

/// A simulator with the test fixture, `job` long restore jobs and `extra` flags.
fn sim(job: &str, extra: &[&str]) -> Sim {
    let mut args = vec!["--job-duration", job];
    args.extend_from_slice(extra);
    Sim::start(&fixture(), &args)
}

/// A workspace whose provider talks to `sim` with the test key, configured through the
/// environment as the docs recommend, and polls jobs every 100 ms.
fn workspace(cli: &TerraformCli, provider: &ProviderDir, sim: &Sim) -> Workspace {
    workspace_with_key(cli, provider, sim, KEY)
}

fn workspace_with_key(
    cli: &TerraformCli,
    provider: &ProviderDir,
    sim: &Sim,
    key: &str,
) -> Workspace {
    sim.workspace(cli, &[provider], key)
}

/// A `hostup_vps_restore.<name>` block; `extra` is more lines for its body.
fn restore(name: &str, target: &str, source: &str, backup: &str, extra: &str) -> String {
    format!(
        r#"
resource "hostup_vps_restore" "{name}" {{
  target_vps_id = "{target}"
  source_vps_id = "{source}"
  backup_id = "{backup}"
{extra}
}}
"#
    )
}

fn config(resources: &[String]) -> String {
    format!("{HEADER}{}", resources.concat())
}

// ----- what Terraform printed and stored ---------------------------------------------------------

/// The text of the `severity` diagnostic titled `summary` (about `address`, when given): from
/// its title to the next diagnostic, with box drawing removed and whitespace squashed. Panics,
/// showing the whole output, when there is none.
#[track_caller]
fn diagnostic(out: &TfOutput, severity: &str, summary: &str, address: Option<&str>) -> String {
    let text = squash_whitespace(&out.combined().replace(['│', '╷'], " "));
    let head = format!("{severity}: {}", squash_whitespace(summary));
    let found = text.match_indices(&head).find_map(|(start, _)| {
        let rest = &text[start..];
        let end = ["Error: ", "Warning: ", "╵"]
            .iter()
            .filter_map(|m| rest[head.len()..].find(m).map(|i| i + head.len()))
            .min()
            .unwrap_or(rest.len());
        let block = &rest[..end];
        address
            .is_none_or(|a| block.contains(&format!("with {a},")))
            .then(|| block.to_owned())
    });
    found.unwrap_or_else(|| panic!("no {head:?} about {address:?} in:\n{out}"))
}

/// Asserts that a diagnostic points at `attribute`: Terraform then quotes that attribute's line
/// of the configuration (`target_vps_id = "..."`) instead of the resource block's first line.
#[track_caller]
fn assert_points_at(block: &str, attribute: &str) {
    assert!(
        block.contains(&format!("{attribute} = ")),
        "diagnostic does not point at {attribute}: {block}"
    );
}

#[track_caller]
fn assert_contains_all(block: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            block.contains(&squash_whitespace(needle)),
            "missing {needle:?} in: {block}"
        );
    }
}

// ----- what the simulator saw ---------------------------------------------------------------------

/// Starts `apply -auto-approve` (with `env`) and returns once HostUp has answered its restore
/// POST, so whatever the test does to the run next happens after the restore was sent.
#[track_caller]
fn apply_until_posted(ws: &Workspace, sim: &Sim, env: &[(&str, &str)]) -> Running {
    let running = ws.spawn(&["apply", "-auto-approve"], env);
    assert!(
        sim.wait_for_requests(Duration::from_secs(120), |log| !restore_posts(log)
            .is_empty()),
        "the restore was never POSTed: {:?}",
        running.output_so_far()
    );
    running
}

#[track_caller]
fn assert_no_writes(log: &[SimRequest], when: &str) {
    let w = writes(log);
    assert!(w.is_empty(), "{when} made API writes: {w:?}");
}

#[track_caller]
fn assert_one_accepted_post(sim: &Sim) {
    let log = sim.requests();
    let posts = restore_posts(&log);
    assert_eq!(
        posts.iter().filter(|s| **s == 202).count(),
        1,
        "expected exactly one accepted restore POST, got statuses {posts:?}"
    );
}

/// The job id in state, checked to be the id HostUp gave and to be recorded twice (id, job_id).
#[track_caller]
fn job_id_in_state(ws: &Workspace, address: &str) -> String {
    let attrs = ws
        .state_resource_attributes(address)
        .unwrap_or_else(|| panic!("{address} is not in state"));
    let job = attrs["job_id"].as_str().unwrap_or_default().to_owned();
    assert!(job.starts_with("job_"), "job_id in state: {attrs}");
    assert_eq!(attrs["id"], attrs["job_id"], "{attrs}");
    job
}

/// Asserts that Terraform (and OpenTofu) 1.12+ recorded the restore's identity as its job `job`;
/// older CLIs record none.
#[track_caller]
fn assert_identity_is_the_job(ws: &Workspace, address: &str, job: &str) {
    let identity = ws.state_resource_identity(address);
    if ws.cli().at_least(1, 12, 0) {
        assert_eq!(identity, Some(json!({"job_id": job})), "{address}");
    } else {
        assert_eq!(identity, None, "{} records no identity", ws.cli());
    }
}

// ----- 1, 2: the lifecycle on every CLI ------------------------------------------------------------

#[test]
fn apply_then_empty_plan_with_the_destruction_warning() {
    let provider = provider();
    for_each_cli(|cli| {
        let sim = sim("1s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore(
            "r",
            WEB,
            DB,
            NEWEST,
            "  confirm_target_name = \"web-01\"",
        )]));

        let plan = ws.assert_plan_has_changes();
        let warning = diagnostic(
            &plan,
            "Warning",
            &format!("Apply will overwrite VPS web-01 ({WEB})"),
            None,
        );
        assert_contains_all(
            &warning,
            &[
                &format!("stops VPS web-01 ({WEB})"),
                &format!(
                    "overwrites its disk with backup {NEWEST} (created 2026-04-27T10:00:00.000Z, \
                     12.4 GB) of VPS db-01 ({DB})"
                ),
                "since that backup was taken is lost",
            ],
        );
        // What the restore will hit is known in the plan, not "(known after apply)".
        plan.assert_output_contains("target_name = \"web-01\"")
            .assert_output_contains("source_type = \"server\"")
            .assert_output_contains("backup_size_gb = 12.4");
        let log = sim.requests();
        assert_no_writes(&log, "plan");
        assert_eq!(
            matching(&log, "GET", "/backups/restore-sources").count(),
            1,
            "one restore-sources read per target in a plan"
        );

        let apply = ws.apply();
        apply.assert_output_contains("Apply complete! Resources: 1 added");
        let attrs = ws
            .state_resource_attributes("hostup_vps_restore.r")
            .expect("restore in state");
        assert_eq!(attrs["status"], "completed", "{attrs}");
        assert_eq!(attrs["target_name"], "web-01");
        assert_eq!(attrs["source_type"], "server");
        assert_eq!(attrs["backup_created_at"], "2026-04-27T10:00:00.000Z");
        assert_eq!(attrs["backup_size_gb"], 12.4);
        assert!(attrs["started_at"].is_string() && attrs["completed_at"].is_string());
        let job = job_id_in_state(&ws, "hostup_vps_restore.r");
        assert_eq!(ws.instance_status("hostup_vps_restore.r"), None);
        assert_eq!(restore_posts(&sim.requests()), [202]);
        // The simulator agrees: that job restored db-01's backup onto web-01.
        let world = sim.state();
        let sim_job = world["jobs"]
            .as_array()
            .and_then(|jobs| jobs.iter().find(|j| j["id"] == job.as_str()))
            .unwrap_or_else(|| panic!("job {job} unknown to the simulator: {world}"));
        assert_eq!(sim_job["vpsId"], WEB);
        assert_eq!(sim_job["status"], "completed");

        sim.reset_log();
        ws.assert_plan_empty();
        assert_no_writes(&sim.requests(), "the plan after apply");
    });
}

#[test]
fn changing_backup_or_triggers_replaces_and_restores_again() {
    let provider = provider();
    for_each_cli(|cli| {
        let sim = sim("1s", &[]);
        let ws = workspace(cli, &provider, &sim);
        let write = |backup: &str, run: &str| {
            ws.write_main_tf(&config(&[restore(
                "r",
                WEB,
                DB,
                backup,
                &format!("  triggers = {{ run = \"{run}\" }}"),
            )]))
        };
        write(NEWEST, "1");
        ws.apply();
        let first = job_id_in_state(&ws, "hostup_vps_restore.r");
        assert_eq!(restore_posts(&sim.requests()), [202]);

        // A replacement is checked like a create: a backup too large for the target is refused
        // at plan time, before anything is sent.
        write(HUGE, "1");
        let plan = ws.run(&["plan"]);
        plan.assert_failure();
        let d = diagnostic(
            &plan,
            "Error",
            "Backup does not fit the target's disk",
            Some("hostup_vps_restore.r"),
        );
        assert_points_at(&d, "backup_id");
        assert_eq!(restore_posts(&sim.requests()), [202]);

        write(OLDER, "1");
        let plan = ws.assert_plan_has_changes();
        plan.assert_output_contains("hostup_vps_restore.r must be replaced")
            .assert_output_contains(&format!(
                "backup_id = \"{NEWEST}\" -> \"{OLDER}\" # forces replacement"
            ))
            .assert_output_contains("Plan: 1 to add, 0 to change, 1 to destroy");
        let warning = diagnostic(
            &plan,
            "Warning",
            &format!("Apply will overwrite VPS web-01 ({WEB})"),
            None,
        );
        assert_contains_all(
            &warning,
            &[&format!("with backup {OLDER} (created 2026-04-01")],
        );
        ws.apply()
            .assert_output_contains("Resources: 1 added, 0 changed, 1 destroyed");
        let second = job_id_in_state(&ws, "hostup_vps_restore.r");
        assert_ne!(first, second, "a replacement is a new restore job");
        let attrs = ws
            .state_resource_attributes("hostup_vps_restore.r")
            .unwrap();
        assert_eq!(attrs["backup_id"], OLDER);
        assert_eq!(attrs["status"], "completed");
        assert_eq!(restore_posts(&sim.requests()), [202, 202]);

        write(OLDER, "2");
        let plan = ws.assert_plan_has_changes();
        plan.assert_output_contains("hostup_vps_restore.r must be replaced")
            .assert_output_contains("forces replacement")
            .assert_output_contains("\"run\" = \"1\" -> \"2\"");
        diagnostic(
            &plan,
            "Warning",
            &format!("Apply will overwrite VPS web-01 ({WEB})"),
            None,
        );
        ws.apply()
            .assert_output_contains("Resources: 1 added, 0 changed, 1 destroyed");
        let third = job_id_in_state(&ws, "hostup_vps_restore.r");
        assert!(third != first && third != second);
        assert_eq!(restore_posts(&sim.requests()), [202, 202, 202]);

        ws.assert_plan_empty();
        assert_eq!(restore_posts(&sim.requests()).len(), 3);

        // `-replace` on a restore that completed normally is a deliberate second restore.
        ws.run(&["apply", "-auto-approve", "-replace=hostup_vps_restore.r"])
            .assert_success()
            .assert_output_contains("Resources: 1 added, 0 changed, 1 destroyed");
        let fourth = job_id_in_state(&ws, "hostup_vps_restore.r");
        assert_ne!(fourth, third, "-replace restores again");
        assert_eq!(restore_posts(&sim.requests()), [202, 202, 202, 202]);
    });
}

/// The provider's `api_key` comes from a value known only during apply (here the echo test
/// provider's `computed_later`; in real life, say, a secret another resource creates). The plan
/// cannot read HostUp, yet it still warns, naming the target, and says the checks run at apply;
/// the apply then checks and restores once.
#[test]
fn a_provider_configuration_unknown_at_plan_still_warns_and_restores_once() {
    let provider = provider();
    let echo = ProviderDir::new(&cargo_example("echo"), "hostup", "echo");
    for_each_cli_concurrently(|cli| {
        let sim = sim("1s", &[]);
        let mut ws = sim.workspace(cli, &[&provider, &echo], KEY);
        // The key comes from the configuration below, known only during apply.
        ws.remove_env("HOSTUP_API_KEY");
        ws.write_main_tf(&format!(
            r#"terraform {{
  required_providers {{
    hostup = {{ source = "hostup/hostup" }}
    echo   = {{ source = "hostup/echo" }}
  }}
}}

provider "echo" {{
  token = "t"
}}

resource "echo_thing" "key_source" {{
  name = "key"
}}

provider "hostup" {{
  api_key = trimsuffix("{KEY}${{echo_thing.key_source.computed_later}}", echo_thing.key_source.computed_later)
}}
{}"#,
            restore("r", WEB, DB, NEWEST, "")
        ));
        let plan = ws.assert_plan_has_changes();
        let d = diagnostic(
            &plan,
            "Warning",
            &format!("Apply will overwrite VPS {WEB}"),
            Some("hostup_vps_restore.r"),
        );
        assert_contains_all(
            &d,
            &[
                &format!(
                    "stops VPS {WEB} and overwrites its disk with backup {NEWEST} of VPS {DB}"
                ),
                "configuration (api_key or endpoint) is known only during apply",
                "run during apply, just before the restore",
            ],
        );
        assert!(sim.requests().is_empty(), "the plan could not read HostUp");

        ws.apply();
        assert_one_accepted_post(&sim);
        ws.assert_plan_empty();
        assert_one_accepted_post(&sim);
    });
}

// ----- 3: errors before anything is sent ----------------------------------------------------------

#[test]
fn plan_time_checks_fail_at_the_attribute_without_a_post() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("1s", &[]);
        let ws = workspace(cli, &provider, &sim);
        // One resource per check, so one plan shows them all, each at its own attribute.
        ws.write_main_tf(&config(&[
            restore("unknown_target", "vps_01nosuchvps", DB, NEWEST, ""),
            restore("foreign_target", OTHER, DB, NEWEST, ""),
            restore("gate_closed", MAIL, DB, NEWEST, ""),
            restore("not_a_source", WEB, CACHE, NEWEST, ""),
            restore("rotated_backup", WEB, DB, "bkp_01rotatedaway", ""),
            restore("too_large", WEB, DB, HUGE, ""),
            restore(
                "wrong_name",
                WEB,
                DB,
                NEWEST,
                "  confirm_target_name = \"web-02\"",
            ),
        ]));
        let plan = ws.run(&["plan"]);
        plan.assert_failure();

        for (name, target) in [
            ("unknown_target", "vps_01nosuchvps"),
            ("foreign_target", OTHER),
        ] {
            let d = diagnostic(
                &plan,
                "Error",
                "Target VPS not found",
                Some(&format!("hostup_vps_restore.{name}")),
            );
            assert_points_at(&d, "target_vps_id");
            assert_contains_all(&d, &[&format!("HostUp has no VPS {target}")]);
        }

        let d = diagnostic(
            &plan,
            "Error",
            "HostUp does not allow a restore onto this VPS now",
            Some("hostup_vps_restore.gate_closed"),
        );
        assert_points_at(&d, "target_vps_id");
        assert_contains_all(&d, &[GATE_REASON, "(code pending_order)"]);

        let d = diagnostic(
            &plan,
            "Error",
            "Source VPS is not a restore source of the target",
            Some("hostup_vps_restore.not_a_source"),
        );
        assert_points_at(&d, "source_vps_id");
        assert_contains_all(
            &d,
            &[
                &format!("VPS {CACHE} is not among the restore sources of web-01"),
                &format!("- db-01 ({DB}, server, 4 backups, newest {NEWEST}"),
                &format!("- shop-old ({SHOP}, retained, 1 backup"),
            ],
        );

        let d = diagnostic(
            &plan,
            "Error",
            "Backup not found under the source VPS",
            Some("hostup_vps_restore.rotated_backup"),
        );
        assert_points_at(&d, "backup_id");
        assert_contains_all(
            &d,
            &[
                "Backup bkp_01rotatedaway is not a backup of db-01",
                &format!("Newest backups of db-01 ({DB}):"),
                &format!(
                    "- {NEWEST} created 2026-04-27T10:00:00.000Z, 12.4 GB (Before upgrade) \
                     - {HUGE} created 2026-04-10T02:00:00.000Z, 50 GB \
                     - {OLDER} created 2026-04-01T02:00:00.000Z, 5 GB"
                ),
            ],
        );

        let d = diagnostic(
            &plan,
            "Error",
            "Backup does not fit the target's disk",
            Some("hostup_vps_restore.too_large"),
        );
        assert_points_at(&d, "backup_id");
        assert_contains_all(
            &d,
            &[&format!("Backup {HUGE} of db-01"), "is 50 GB", "20 GB disk"],
        );

        let d = diagnostic(
            &plan,
            "Error",
            "The target VPS has a different name",
            Some("hostup_vps_restore.wrong_name"),
        );
        assert_points_at(&d, "confirm_target_name");
        assert_contains_all(
            &d,
            &["confirm_target_name is \"web-02\"", "named \"web-01\""],
        );

        let log = sim.requests();
        assert!(!log.is_empty(), "the checks must have read the API");
        assert_no_writes(&log, "a failing plan");
        assert!(ws.state().is_none(), "a failed plan writes no state");
    });
}

/// A saved plan applied later: Terraform plans each resource again in the apply's own provider
/// process, and those reads are the last look before the POST (the checks before the POST reuse
/// them rather than asking HostUp a second time). A world that changed since the saved plan stops
/// the apply with nothing sent: a rotated backup fails our checks at `backup_id`; a renamed target
/// makes the known `target_name` differ, which Terraform itself refuses.
#[test]
fn saved_plan_applies_with_one_read_each_and_stops_on_a_changed_world() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("1s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));

        // Unchanged world: the apply reads the target once per endpoint, then POSTs once.
        ws.run(&["plan", "-out=unchanged.tfplan"]).assert_success();
        sim.reset_log();
        ws.run(&["apply", "unchanged.tfplan"])
            .assert_success()
            .assert_output_contains("Apply complete! Resources: 1 added");
        let log = sim.requests();
        for endpoint in [
            format!("/api/v2/vps/{WEB}"),
            format!("/api/v2/vps/{WEB}/details"),
            format!("/api/v2/vps/{WEB}/backups/restore-sources"),
        ] {
            let reads = log
                .iter()
                .filter(|r| r.method == "GET" && r.path == endpoint)
                .count();
            assert_eq!(reads, 1, "GET {endpoint} during the apply: {log:#?}");
        }
        assert_eq!(restore_posts(&log), [202]);

        // The backup rotates away after the plan: our check stops the apply at backup_id.
        ws.write_main_tf(&config(&[restore(
            "r",
            WEB,
            DB,
            NEWEST,
            "  triggers = { run = \"2\" }",
        )]));
        ws.run(&["plan", "-out=rotated.tfplan"]).assert_success();
        sim.admin("DELETE", &format!("/_sim/backups/{NEWEST}"), None);
        sim.reset_log();
        let out = ws.run(&["apply", "rotated.tfplan"]);
        out.assert_failure();
        let d = diagnostic(
            &out,
            "Error",
            "Backup not found under the source VPS",
            Some("hostup_vps_restore.r"),
        );
        assert_points_at(&d, "backup_id");
        assert!(restore_posts(&sim.requests()).is_empty(), "nothing sent");

        // The target is renamed after the plan: Terraform refuses the changed target_name.
        ws.write_main_tf(&config(&[restore("r", WEB, DB, OLDER, "")]));
        ws.run(&["plan", "-out=renamed.tfplan"]).assert_success();
        sim.admin(
            "POST",
            &format!("/_sim/vps/{WEB}"),
            Some(json!({"name": "web-01-renamed"})),
        );
        sim.reset_log();
        let out = ws.run(&["apply", "renamed.tfplan"]);
        out.assert_failure()
            .assert_output_contains("inconsistent final plan")
            .assert_output_contains("target_name");
        assert!(restore_posts(&sim.requests()).is_empty(), "nothing sent");
    });
}

#[test]
fn validate_refuses_bad_arguments_without_calling_the_api() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("1s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[
            restore("same_vps", WEB, WEB, NEWEST, ""),
            restore("bad_id", "vps_01../etc", DB, NEWEST, ""),
            restore(
                "bad_timeout",
                WEB,
                DB,
                NEWEST,
                "  timeouts {\n    create = \"ten minutes\"\n  }",
            ),
        ]));
        for args in [&["validate"][..], &["plan"][..]] {
            let out = ws.run(args);
            out.assert_failure();
            let d = diagnostic(
                &out,
                "Error",
                "Source and target are the same VPS",
                Some("hostup_vps_restore.same_vps"),
            );
            assert_points_at(&d, "source_vps_id");
            let d = diagnostic(
                &out,
                "Error",
                "Invalid target VPS id",
                Some("hostup_vps_restore.bad_id"),
            );
            assert_points_at(&d, "target_vps_id");
            assert_contains_all(&d, &["letters, digits, '_' and '-'"]);
            let d = diagnostic(
                &out,
                "Error",
                "Invalid timeout",
                Some("hostup_vps_restore.bad_timeout"),
            );
            assert_points_at(&d, "create");
        }
        let log = sim.requests();
        assert!(
            log.is_empty(),
            "validation must not call the API: {:?}",
            log.iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect::<Vec<_>>()
        );
    });
}

/// An HTTPS endpoint on 127.0.0.1 whose certificate nobody trusts (self-signed, as a
/// TLS-inspecting proxy's looks to a machine without its CA). Counts the TLS handshakes tried.
struct UntrustedEndpoint {
    url: String,
    handshakes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl UntrustedEndpoint {
    fn start() -> UntrustedEndpoint {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let minted = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(minted.signing_key.serialize_der());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![minted.cert.der().clone()], key.into())
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let handshakes = Arc::new(AtomicUsize::new(0));
        let count = handshakes.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let config = config.clone();
                std::thread::spawn(move || {
                    let mut conn = rustls::ServerConnection::new(config).unwrap();
                    // Until the client gives up on the certificate and closes.
                    while conn.complete_io(&mut stream).is_ok_and(|(r, w)| r + w > 0) {}
                });
            }
        });
        UntrustedEndpoint { url, handshakes }
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A certificate this machine does not trust is a matter of trust, not a network blip: the plan
/// fails on the first handshake, names the endpoint and says how to trust a private CA.
#[test]
fn an_untrusted_certificate_fails_at_once_naming_the_endpoint_and_ssl_cert_file() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("1s", &[]);
        let endpoint = UntrustedEndpoint::start();
        let mut ws = workspace(cli, &provider, &sim);
        ws.set_env("HOSTUP_ENDPOINT", &endpoint.url);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        let plan = ws.run(&["plan"]);
        plan.assert_failure();
        assert_contains_all(
            &squash_whitespace(&plan.combined().replace(['│', '╷'], " ")),
            &[
                &format!(
                    "The TLS certificate of {} is not trusted on this machine",
                    endpoint.url
                ),
                "UnknownIssuer",
                "was not sent and nothing changed",
                "set SSL_CERT_FILE to a PEM file",
            ],
        );
        // The plan reads the target first and stops there: one handshake, no retries.
        assert_eq!(
            endpoint.handshakes(),
            1,
            "the untrusted endpoint was tried again"
        );
    });
}

// ----- 4: a failing job --------------------------------------------------------------------------

#[test]
fn failing_job_keeps_a_tainted_restore_after_one_post() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("1s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, BROKEN, "")]));
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure();
        let d = diagnostic(
            &out,
            "Error",
            &format!("Restore of web-01 ({WEB}) failed"),
            Some("hostup_vps_restore.r"),
        );
        let job = job_id_in_state(&ws, "hostup_vps_restore.r");
        assert_contains_all(
            &d,
            &[
                &format!("HostUp job {job} failed: archive checksum mismatch"),
                "run `terraform apply` to restore again",
            ],
        );
        assert_eq!(
            ws.instance_status("hostup_vps_restore.r").as_deref(),
            Some("tainted")
        );
        let attrs = ws
            .state_resource_attributes("hostup_vps_restore.r")
            .unwrap();
        assert_eq!(attrs["status"], "failed");
        assert_eq!(restore_posts(&sim.requests()), [202]);
    });
}

// ----- 5: rate limits and server errors ------------------------------------------------------------

#[test]
fn rate_limited_apply_still_makes_one_accepted_restore() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        // A tight per-key limit (the client paces itself by its X-RateLimit-* headers), and
        // 429 bursts with Retry-After on the plan's first reads and on the restore POST itself.
        let sim = sim("1s", &["--rate-limit", "4/1s"]);
        sim.fail_next(json!({"count": 2, "status": 429, "method": "GET",
                             "pathPrefix": "/api/v2/vps/"}));
        sim.fail_next(json!({"count": 2, "status": 429, "method": "POST",
                             "pathPrefix": "/api/v2/vps/"}));
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        ws.apply();
        let attrs = ws
            .state_resource_attributes("hostup_vps_restore.r")
            .unwrap();
        assert_eq!(attrs["status"], "completed");
        let log = sim.requests();
        assert_eq!(
            restore_posts(&log),
            [429, 429, 202],
            "a 429 means HostUp did nothing, so the POST is resent until accepted, once"
        );
        let limited: Vec<&str> = log
            .iter()
            .filter(|r| r.status == 429)
            .map(|r| r.path.as_str())
            .collect();
        assert!(limited.len() >= 4, "429 answers: {limited:?}");
        assert!(
            log.iter().all(|r| r.status < 500),
            "a 429 must not turn into an error"
        );
    });
}

#[test]
fn server_errors_on_reads_are_retried_with_one_post() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("1s", &[]);
        // The first two VPS reads (plan checks) and the first two job polls answer 503.
        sim.fail_next(json!({"count": 2, "status": 503, "method": "GET",
                             "pathPrefix": "/api/v2/vps/"}));
        sim.fail_next(json!({"count": 2, "status": 503, "method": "GET",
                             "pathPrefix": "/api/jobs/"}));
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        ws.apply();
        assert_eq!(
            ws.state_resource_attributes("hostup_vps_restore.r")
                .unwrap()["status"],
            "completed"
        );
        let log = sim.requests();
        assert_eq!(restore_posts(&log), [202]);
        let failed: Vec<&str> = log
            .iter()
            .filter(|r| r.status == 503)
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(failed.len(), 4, "{failed:?}");
        assert_eq!(
            failed
                .iter()
                .filter(|p| p.starts_with("/api/jobs/"))
                .count(),
            2
        );
    });
}

#[test]
fn server_error_on_the_restore_post_is_not_resent() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("1s", &[]);
        sim.fail_next(json!({"count": 1, "status": 503, "method": "POST"}));
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure();
        let d = diagnostic(
            &out,
            "Error",
            "The restore may have started",
            Some("hostup_vps_restore.r"),
        );
        assert_contains_all(
            &d,
            &[
                "HTTP 503",
                "The request may have reached HostUp and been carried out",
                "check the VPS and its jobs in HostUp before trying again",
                "the next plan does not restore again on its own",
            ],
        );
        assert_eq!(
            restore_posts(&sim.requests()),
            [503],
            "a 5xx on the POST must not be retried"
        );
        // No job id was given, but HostUp may have acted: a tainted record with status
        // "unknown" stops the next plan (`once::a_restore_whose_answer_was_lost_…`).
        let attrs = ws
            .state_resource_attributes("hostup_vps_restore.r")
            .expect("a record of the unanswered restore");
        assert_eq!(attrs["status"], "unknown", "{attrs}");
        assert!(attrs["job_id"].is_null(), "{attrs}");
        assert_eq!(
            ws.instance_status("hostup_vps_restore.r").as_deref(),
            Some("tainted")
        );
    });
}

// ----- 6: timeout and Ctrl-C -----------------------------------------------------------------------

#[test]
fn create_timeout_leaves_the_job_in_state_after_one_post() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("30s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore(
            "r",
            WEB,
            DB,
            NEWEST,
            "  timeouts {\n    create = \"2s\"\n  }",
        )]));
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure();
        let job = job_id_in_state(&ws, "hostup_vps_restore.r");
        let d = diagnostic(
            &out,
            "Error",
            &format!("Timed out waiting for the restore of web-01 ({WEB})"),
            Some("hostup_vps_restore.r"),
        );
        assert_contains_all(
            &d,
            &[
                &format!("HostUp job {job} was still"),
                "when the create timeout of 2s ran out",
                "The restore continues at HostUp",
                "run `terraform apply` again",
                "terraform untaint hostup_vps_restore.",
                "raise `timeouts.create`",
            ],
        );
        assert_eq!(
            ws.instance_status("hostup_vps_restore.r").as_deref(),
            Some("tainted")
        );
        let status = ws
            .state_resource_attributes("hostup_vps_restore.r")
            .unwrap()["status"]
            .clone();
        assert!(
            status == "in_progress" || status == "queued",
            "status {status}"
        );
        assert_eq!(restore_posts(&sim.requests()), [202]);

        // What the next apply does with that job: `once::applying_again_while_the_job_runs_…`.
    });
}

#[test]
fn ctrl_c_leaves_the_job_in_state_after_one_post() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("30s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        // Ctrl-C once the restore was really sent: before it, the provider sends nothing at all.
        let running = apply_until_posted(&ws, &sim, &[]);
        let started = Instant::now();
        running.interrupt_group();
        let out = running.wait().unwrap_or_else(|e| panic!("{e}"));
        out.assert_failure();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "Ctrl-C must stop the wait, not sit out the 30 s job:\n{out}"
        );
        let job = job_id_in_state(&ws, "hostup_vps_restore.r");
        let d = diagnostic(
            &out,
            "Error",
            &format!("Restore of web-01 ({WEB}) interrupted"),
            Some("hostup_vps_restore.r"),
        );
        assert_contains_all(
            &d,
            &[
                &format!("Terraform was interrupted while HostUp job {job} was"),
                "the job itself was not cancelled",
                "run `terraform apply` again",
                &format!("recognises job {job} as this resource's restore"),
                "terraform untaint hostup_vps_restore.",
            ],
        );
        assert_eq!(
            ws.instance_status("hostup_vps_restore.r").as_deref(),
            Some("tainted")
        );
        assert_eq!(restore_posts(&sim.requests()), [202]);
    });
}

// ----- 7: destroy ---------------------------------------------------------------------------------

#[test]
fn destroy_makes_no_api_write() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("1s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        ws.apply();
        assert_one_accepted_post(&sim);
        sim.reset_log();
        ws.destroy()
            .assert_output_contains("Destroy complete! Resources: 1 destroyed");
        let log = sim.requests();
        assert!(!log.is_empty(), "destroy refreshes first, so it reads");
        assert_no_writes(&log, "destroy");
        assert!(ws
            .state_resource_attributes("hostup_vps_restore.r")
            .is_none());
    });
}

// ----- 8: the API key stays secret ----------------------------------------------------------------

#[test]
fn api_key_is_absent_from_trace_logs() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = sim("1s", &[]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        let log_path = ws.dir().join("trace.log");
        let log_path_str = log_path.to_string_lossy().into_owned();
        let apply = ws.run_with_env(
            &["apply", "-auto-approve"],
            &[("TF_LOG", "trace"), ("TF_LOG_PATH", &log_path_str)],
        );
        apply.assert_success();
        // Without TF_LOG_PATH the trace goes to stderr.
        let plan = ws.run_with_env(&["plan"], &[("TF_LOG", "trace")]);
        plan.assert_success();
        let file = std::fs::read_to_string(&log_path).expect("TF_LOG_PATH file");
        // The traces are real: they carry the provider's own log lines.
        assert!(
            file.contains("restore started; waiting for the job"),
            "the provider's logs did not reach the trace file"
        );
        assert!(plan.stderr.contains("[TRACE]"), "no trace on stderr");
        for (what, text) in [
            ("apply stdout", &apply.stdout),
            ("apply stderr", &apply.stderr),
            ("plan stdout", &plan.stdout),
            ("plan stderr", &plan.stderr),
            ("TF_LOG_PATH file", &file),
        ] {
            assert!(!text.contains(KEY), "the API key appears in the {what}");
        }
        let state = std::fs::read_to_string(ws.dir().join("terraform.tfstate")).unwrap();
        assert!(!state.contains(KEY), "the API key appears in the state");
        assert_one_accepted_post(&sim);
    });
}

// ----- 9: a poll URL on another origin ------------------------------------------------------------

#[test]
fn foreign_poll_url_is_refused() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the foreign origin");
        listener.set_nonblocking(true).unwrap();
        let foreign = format!("http://{}", listener.local_addr().unwrap());
        let sim = sim("1s", &["--poll-url-mode", &format!("foreign:{foreign}")]);
        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure();
        let d = diagnostic(
            &out,
            "Error",
            &format!("Lost track of the restore of web-01 ({WEB})"),
            Some("hostup_vps_restore.r"),
        );
        assert_contains_all(
            &d,
            &[
                &format!("job poll URL on another origin ({foreign})"),
                "did not follow it",
                "The restore continues at HostUp",
            ],
        );
        job_id_in_state(&ws, "hostup_vps_restore.r");
        assert_eq!(restore_posts(&sim.requests()), [202]);
        match listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok((_, peer)) => panic!("the provider connected to the foreign origin from {peer}"),
            Err(e) => panic!("accept on the foreign origin: {e}"),
        }
    });
}

// ----- 10: many restores at once -------------------------------------------------------------------

#[test]
fn twenty_restores_in_parallel() {
    const N: usize = 20;
    let provider = provider();
    for_newest_cli(|cli| {
        let targets: Vec<String> = (0..N).map(|i| format!("vps_01par{i:02}")).collect();
        let mut vps: Vec<Value> = targets
            .iter()
            .enumerate()
            .map(|(i, id)| {
                json!({"id": id, "client": "cl_acc", "name": format!("par-{i:02}"),
                                  "storageGb": 20})
            })
            .collect();
        vps.push(
            json!({"id": DB, "client": "cl_acc", "name": "db-01", "storageGb": 100,
            "backups": [{"id": NEWEST, "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": 12.4}]}),
        );
        let fixture = json!({
            "clients": [{"id": "cl_acc"}],
            "apiKeys": [{"key": KEY, "client": "cl_acc", "scopes": ["read:vm", "backup:vm"]}],
            "vps": vps,
        });
        let job = Duration::from_secs(2);
        let sim = Sim::start(&fixture, &["--job-duration", "2s"]);
        let ws = workspace(cli, &provider, &sim);
        let list = targets
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        ws.write_main_tf(&format!(
            r#"{HEADER}
resource "hostup_vps_restore" "par" {{
  for_each      = toset([{list}])
  target_vps_id = each.value
  source_vps_id = "{DB}"
  backup_id     = "{NEWEST}"
}}
"#
        ));

        let plan = ws.run(&["plan", "-parallelism=20"]);
        plan.assert_success()
            .assert_output_contains(&format!("Plan: {N} to add"));
        let log = sim.requests();
        let source_reads: HashSet<&str> = matching(&log, "GET", "/backups/restore-sources")
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(
            matching(&log, "GET", "/backups/restore-sources").count(),
            N,
            "one restore-sources read per target"
        );
        assert_eq!(source_reads.len(), N);
        sim.reset_log();

        let apply = ws.run(&["apply", "-auto-approve", "-parallelism=20"]);
        apply
            .assert_success()
            .assert_output_contains(&format!("Resources: {N} added"));
        let state = ws.state().expect("state");
        let instances: Vec<&Value> = state["resources"][0]["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .collect();
        assert_eq!(instances.len(), N);
        for i in &instances {
            assert_eq!(i["attributes"]["status"], "completed", "{i}");
        }
        let log = sim.requests();
        let posts: Vec<&SimRequest> = matching(&log, "POST", RESTORE_PATH).collect();
        assert_eq!(posts.len(), N, "exactly one POST per restore");
        assert!(posts.iter().all(|p| p.status == 202));
        let posted: HashSet<&str> = posts.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(posted.len(), N, "one POST for each target");
        // Twenty 2 s jobs one after another would take 40 s; in parallel they overlap.
        assert!(
            apply.duration < job * (N as u32) / 2,
            "the restores did not run in parallel: {:?}",
            apply.duration
        );
    });
}

// ----- 11: the examples ---------------------------------------------------------------------------

fn examples_dir() -> PathBuf {
    repo_root().join("examples")
}

/// The full-scope key of the examples' fixture.
const EXAMPLE_KEY: &str = "hu_sim_acme_full_0001";

/// A simulator with the examples' own fixture, whose ids the examples use.
fn example_sim() -> Sim {
    Sim::start_with_file(
        &examples_dir().join("sim").join("fixture.json"),
        &["--job-duration", "1s"],
    )
}

/// Every `examples/<kind>/<name>/<file>`, as `(name, path)` sorted by name.
fn example_files(kind: &str, file: &str) -> Vec<(String, PathBuf)> {
    let dir = examples_dir().join(kind);
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().join(file),
            )
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    found.sort();
    found
}

fn copy_example(ws: &Workspace, from: &Path, as_name: &str) {
    let text =
        std::fs::read_to_string(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    ws.write(as_name, &text);
}

/// `main.tf` of a restore of web-01 from db-01's newest backup, imported by `how` (an `id = …` or
/// `identity = { … }` line).
fn imported_restore(how: &str) -> String {
    config(&[
        restore("r", WEB, DB, NEWEST, ""),
        format!("\nimport {{\n  to = hostup_vps_restore.r\n  {how}\n}}\n"),
    ])
}

#[test]
fn a_completed_restore_imports_by_identity_and_keeps_it_when_moved() {
    let provider = provider();
    for_each_cli(|cli| {
        if !cli.at_least(1, 12, 0) {
            eprintln!("skipped: resource identity needs 1.12+ ({cli})");
            return;
        }
        let sim = sim("1s", &[]);
        let first = workspace(cli, &provider, &sim);
        first.write_main_tf(&config(&[restore("r", WEB, DB, NEWEST, "")]));
        first.apply();
        let job = job_id_in_state(&first, "hostup_vps_restore.r");
        assert_identity_is_the_job(&first, "hostup_vps_restore.r", &job);

        let by_id = workspace(cli, &provider, &sim);
        by_id.write_main_tf(&imported_restore(&format!("id = \"{job}\"")));
        by_id.apply();

        let ws = workspace(cli, &provider, &sim);
        ws.write_main_tf(&imported_restore(&format!(
            "identity = {{\n    job_id = \"{job}\"\n  }}"
        )));
        ws.run(&["plan"])
            .assert_success()
            .assert_output_contains("1 to import, 0 to add, 0 to change, 0 to destroy");
        ws.apply();
        // `running_at` is worked out from the uptime at each read, so two imports a moment
        // apart may differ by a second there; everything else is the same.
        let without_running_at = |ws: &Workspace| {
            let mut attrs = ws
                .state_resource_attributes("hostup_vps_restore.r")
                .unwrap();
            let at = attrs["running_at"].take();
            assert!(at.is_string(), "{attrs}");
            attrs
        };
        assert_eq!(
            without_running_at(&ws),
            without_running_at(&by_id),
            "the same state as the import by id"
        );
        assert_identity_is_the_job(&ws, "hostup_vps_restore.r", &job);
        ws.assert_plan_empty();
        assert_eq!(
            restore_posts(&sim.requests()),
            [202],
            "imports send nothing"
        );

        // A `moved` block renames the resource; the object and its identity stay.
        ws.write_main_tf(&config(&[
            restore("r2", WEB, DB, NEWEST, ""),
            "\nmoved {\n  from = hostup_vps_restore.r\n  to   = hostup_vps_restore.r2\n}\n".into(),
        ]));
        ws.apply();
        assert_identity_is_the_job(&ws, "hostup_vps_restore.r2", &job);
        ws.assert_plan_empty();
        assert_eq!(
            restore_posts(&sim.requests()),
            [202],
            "a move sends nothing"
        );

        // An identity that names no job: a clear error, nothing imported.
        let wrong = workspace(cli, &provider, &sim);
        wrong.write_main_tf(&imported_restore(
            "identity = {\n    job_id = \"job_01nosuchjob\"\n  }",
        ));
        let out = wrong.run(&["plan"]);
        out.assert_failure();
        let d = diagnostic(&out, "Error", "Restore job not found", None);
        assert_contains_all(&d, &["job_01nosuchjob"]);
    });
}

#[test]
fn quickstart_applies_as_written() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = example_sim();
        let ws = workspace_with_key(cli, &provider, &sim, EXAMPLE_KEY);
        let dir = examples_dir().join("quickstart");
        copy_example(&ws, &dir.join("main.tf"), "main.tf");
        copy_example(&ws, &dir.join("terraform.tfvars"), "terraform.tfvars");
        let plan = ws.assert_plan_has_changes();
        diagnostic(
            &plan,
            "Warning",
            "Apply will overwrite VPS web-01 (vps_01j9k2web00000000000000001)",
            None,
        );
        ws.apply();
        let restore = &ws.outputs_json()["restore"]["value"];
        assert_eq!(restore["status"], "completed", "{restore}");
        // db-01's newest backup by date, not the first one listed by the API.
        assert_eq!(restore["backup"], "bkp_01j9k2db200000000000000001");
        assert_eq!(restore["target"], "web-01 (vps_01j9k2web00000000000000001)");
        assert_eq!(restore["source_type"], "server");
        // The example fixture's HostUp starts web-01 again by itself after a restore.
        assert_eq!(restore["power_state"], "running");
        assert_one_accepted_post(&sim);
        ws.assert_plan_empty();
        assert_one_accepted_post(&sim);

        // The quickstart's option: start the target after the restore. Switching it on later
        // updates the record in place and sends nothing: it belongs to the restore.
        let out = ws.run_with_env(
            &["apply", "-auto-approve", "-var", "start_after_restore=true"],
            &[],
        );
        out.assert_success()
            .assert_output_contains("0 added, 1 changed, 0 destroyed");
        assert_one_accepted_post(&sim);
        assert_eq!(
            writes(&sim.requests()).len(),
            1,
            "only the restore was ever sent"
        );
    });
}

/// The per-resource and per-data-source examples are snippets without a `terraform` block, as in
/// the Registry layout; the workspace adds one beside them.
#[test]
fn resource_and_data_source_examples_apply() {
    let provider = provider();
    for_newest_cli(|cli| {
        let sim = example_sim();
        let ws = workspace_with_key(cli, &provider, &sim, EXAMPLE_KEY);
        ws.write("versions.tf", HEADER);
        let data_sources = example_files("data-sources", "data-source.tf");
        assert!(data_sources.len() >= 3, "{data_sources:?}");
        for (name, path) in &data_sources {
            copy_example(&ws, path, &format!("{name}.tf"));
        }
        ws.apply();
        let out = ws.outputs_json();
        assert_eq!(out["web_name"]["value"], "web-01");
        assert_eq!(out["web_disk_gb"]["value"], 80);
        assert!(
            out["web_restore_blocked_reason"]["value"].is_null(),
            "{out}"
        );
        assert_eq!(
            out["db_backup_ids"]["value"],
            json!([
                "bkp_01j9k2db200000000000000001",
                "bkp_01j9k2db300000000000000001",
                "bkp_01j9k2db100000000000000001"
            ])
        );
        assert_eq!(
            out["db_manual_backups"]["value"][0]["note"],
            "Before upgrade"
        );
        assert_eq!(
            out["newest_db_backup"]["value"]["backup_id"],
            "bkp_01j9k2db200000000000000001"
        );
        assert_no_writes(&sim.requests(), "data sources");

        let resources = example_files("resources", "resource.tf");
        let names: Vec<&str> = resources.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["hostup_vps_backup", "hostup_vps_restore"],
            "a new resource example needs checks here (hostup_vps_backup's are in \
             tests/acceptance/backup.rs)"
        );
        let sim = example_sim();
        let ws = workspace_with_key(cli, &provider, &sim, EXAMPLE_KEY);
        ws.write("versions.tf", HEADER);
        copy_example(&ws, &resources[1].1, "resource.tf");
        ws.apply();
        let job = &ws.outputs_json()["restore_job"]["value"];
        assert_eq!(job["status"], "completed", "{job}");
        assert!(job["job_id"].as_str().unwrap_or("").starts_with("job_"));
        assert_one_accepted_post(&sim);
        ws.assert_plan_empty();
    });
}

#[test]
fn examples_are_terraform_fmt_clean() {
    for_newest_cli(|cli| {
        let ws = Workspace::new(cli);
        let examples = examples_dir();
        let out = ws.run(&["fmt", "-check", "-recursive", &examples.to_string_lossy()]);
        assert!(
            out.success(),
            "terraform fmt -check -recursive examples/ lists unformatted files:\n{out}"
        );
    });
}

// ----- 12: make install ---------------------------------------------------------------------------

/// `scripts/install-provider.sh` (what `make install` runs), with the debug binary instead of a
/// release build, into a fresh HOME's `~/.terraform.d/plugins`: Terraform's implied local mirror,
/// so a plain `terraform init` finds `hostup/hostup` without dev_overrides.
#[test]
fn installed_provider_is_found_by_terraform_init() {
    for_newest_cli(|cli| {
        let home = tempfile::Builder::new()
            .prefix("hostup-home-")
            .tempdir()
            .expect("home dir");
        let plugins = home.path().join(".terraform.d").join("plugins");
        let script = repo_root().join("scripts").join("install-provider.sh");
        let out = Command::new("bash")
            .arg(&script)
            .env("HOME", home.path())
            .env("PLUGIN_DIR", &plugins)
            .env("PROVIDER_BINARY", provider_binary())
            .output()
            .expect("run install-provider.sh");
        assert!(
            out.status.success(),
            "install-provider.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let version = env!("CARGO_PKG_VERSION");
        let installed: Vec<PathBuf> = ["registry.terraform.io", "registry.opentofu.org"]
            .iter()
            .map(|host| {
                plugins
                    .join(host)
                    .join("hostup")
                    .join("hostup")
                    .join(version)
            })
            .collect();
        for dir in &installed {
            assert!(dir.is_dir(), "{} was not created", dir.display());
        }

        let sim = example_sim();
        let mut ws = Workspace::new(cli);
        // No provider_installation block: Terraform's implied search, which includes
        // ~/.terraform.d/plugins, then the registry for everything else.
        std::fs::write(ws.cli_config_path(), "# no provider_installation\n").unwrap();
        ws.set_env("HOME", home.path())
            .set_env("HOSTUP_ENDPOINT", sim.base_url())
            .set_env("HOSTUP_API_KEY", EXAMPLE_KEY);
        ws.write_main_tf(&format!(
            "{HEADER}\ndata \"hostup_vps\" \"web\" {{\n  id = \"vps_01j9k2web00000000000000001\"\n}}\n{}",
            restore(
                "r",
                "vps_01j9k2web00000000000000001",
                "vps_01j9k2db000000000000000001",
                "bkp_01j9k2db200000000000000001",
                "  confirm_target_name = data.hostup_vps.web.name"
            )
        ));
        let init = ws.init();
        init.assert_output_contains(&format!("Installing hostup/hostup v{version}"))
            .assert_output_lacks("development overrides");
        let plan = ws.run(&["plan"]);
        plan.assert_success()
            .assert_output_contains("Plan: 1 to add")
            .assert_output_lacks("Provider development overrides are in effect");
        diagnostic(
            &plan,
            "Warning",
            "Apply will overwrite VPS web-01 (vps_01j9k2web00000000000000001)",
            None,
        );
        assert_no_writes(&sim.requests(), "plan");
    });
}
