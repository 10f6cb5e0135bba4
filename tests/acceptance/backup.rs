//! Acceptance tests of `hostup_vps_backup` and the backup-then-restore workflow as a user meets
//! them: the real provider binary under real Terraform CLIs (the newest and the oldest; the import
//! block on the newest, since it needs 1.5+) against a real `hostup-sim`. Each test checks what
//! Terraform printed or stored and what the simulator was asked: how many backup and restore POSTs,
//! which DELETEs, and no write where none is allowed. Jobs take half a second and the provider
//! polls every 100 ms.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use testkit::sim::HOSTUP_HEADER as HEADER;
use testkit::sim::{backup_posts, restore_posts, writes, Sim};
use testkit::world::{World, CLIENT, FULL_SCOPES};
use testkit::*;

use crate::{apply_fails_over_a_deposed_job, provider};

const KEY: &str = "hu_acc_backup_key_never_logged_5d2";

const DB: &str = "vps_01accbkdb000000000000001";
const MAIL: &str = "vps_01accbkmail0000000000001";
const NIGHTLY: &str = "bkp_01accbknightly";
const SMALL: &str = "vps_01accbksmall00000000001";

fn fixture() -> Value {
    World::new()
        .key(KEY, CLIENT, FULL_SCOPES)
        .set(CLIENT, json!({"name": "Acceptance AB"}))
        .vps_list(json!([
            {"id": DB, "client": CLIENT, "name": "db-01", "storageGb": 100, "backupQuota": 4,
             "newBackupSizeGb": 9.5, "backups": [
                {"id": NIGHTLY, "createdAt": "2026-04-01T02:00:00.000Z", "sizeGb": 5,
                 "backupType": "scheduled", "note": "nightly"}]},
            {"id": SMALL, "client": CLIENT, "name": "small-01", "storageGb": 20, "backupQuota": 1},
            {"id": MAIL, "client": CLIENT, "name": "mail-01", "storageGb": 40, "gates": {
                "canCreateBackup": {"allowed": false,
                    "reason": "An unpaid order blocks changes to this service.",
                    "code": "pending_order"}}}
        ]))
        .build()
}

// ----- set-up ------------------------------------------------------------------------------------

const JOB: [&str; 2] = ["--job-duration", "500ms"];

fn workspace(cli: &TerraformCli, provider: &ProviderDir, sim: &Sim, key: &str) -> Workspace {
    sim.workspace(cli, &[provider], key)
}

fn backup(name: &str, vps: &str, note: Option<&str>) -> String {
    let note = note
        .map(|n| format!("  note = {}\n", hcl_string(n)))
        .unwrap_or_default();
    format!(
        "{HEADER}\nresource \"hostup_vps_backup\" \"{name}\" {{\n  vps_id = \"{vps}\"\n{note}}}\n"
    )
}

/// The squashed text of the error titled `summary`, from its title to the next diagnostic.
#[track_caller]
fn error_block(out: &TfOutput, summary: &str) -> String {
    let text = squash_whitespace(&out.combined().replace(['│', '╷'], " "));
    let head = format!("Error: {summary}");
    let start = text
        .find(&head)
        .unwrap_or_else(|| panic!("no {head:?} in:\n{out}"));
    let rest = &text[start..];
    let end = ["Error: ", "Warning: ", "╵"]
        .iter()
        .filter_map(|m| rest[head.len()..].find(m).map(|i| i + head.len()))
        .min()
        .unwrap_or(rest.len());
    rest[..end].to_owned()
}

// ----- what the simulator saw ---------------------------------------------------------------------

#[track_caller]
fn backup_id_in_state(ws: &Workspace, address: &str) -> String {
    let attrs = ws
        .state_resource_attributes(address)
        .unwrap_or_else(|| panic!("{address} is not in state"));
    let id = attrs["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("bkp_"), "id in state: {attrs}");
    id
}

// ----- the lifecycle -----------------------------------------------------------------------------

#[test]
fn create_then_empty_plan_and_destroy_deletes_the_backup() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = Sim::start(&fixture(), &JOB);
        let ws = workspace(cli, &provider, &sim, KEY);
        ws.write_main_tf(&backup("b", DB, Some("Before upgrade")));
        ws.apply();
        let id = backup_id_in_state(&ws, "hostup_vps_backup.b");
        let attrs = ws.state_resource_attributes("hostup_vps_backup.b").unwrap();
        assert_eq!(attrs["backup_type"], "manual", "{attrs}");
        assert_eq!(attrs["size_gb"], 9.5, "{attrs}");
        assert!(attrs["job_id"].as_str().unwrap_or("").starts_with("job_"));
        assert!(sim.backup_ids(DB, KEY).contains(&id));
        assert_eq!(backup_posts(&sim.requests()), [202]);

        ws.assert_plan_empty();
        assert_eq!(backup_posts(&sim.requests()), [202], "a plan never POSTs");

        sim.reset_log();
        ws.destroy();
        let log = sim.requests();
        assert_eq!(
            writes(&log),
            [format!("DELETE /api/v2/vps/{DB}/backups/{id} -> 204")]
        );
        assert_eq!(sim.backup_ids(DB, KEY), [NIGHTLY]);
    });
}

/// A CI runner's cancel (SIGTERM to the job's process group, the provider included) during the
/// backup's wait ends as Ctrl-C does: the job id in state, tainted. The pipeline's next apply
/// adopts that job, waits for it and keeps its backup: one POST in all, nothing deleted, and the
/// plan after it empty.
#[test]
fn a_backup_cancelled_by_ci_is_adopted_by_the_next_apply() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let sim = Sim::start(&fixture(), &["--job-duration", "8s"]);
        let ws = workspace(cli, &provider, &sim, KEY);
        ws.write_main_tf(&backup("b", DB, Some("Before upgrade")));
        // TF_FORK=0: Terraform 1.0 under panicwrap gets the SIGTERM twice and exits at once
        // (see restore::once::a_restore_cancelled_by_ci_is_recorded_once_its_job_completed).
        let running = ws.spawn(&["apply", "-auto-approve"], &[("TF_FORK", "0")]);
        assert!(
            sim.wait_for_requests(Duration::from_secs(120), |log| !backup_posts(log)
                .is_empty()),
            "the backup was never POSTed"
        );
        running.terminate_group();
        let out = running.wait().unwrap_or_else(|e| panic!("{e}"));
        out.assert_failure();
        let e = error_block(&out, &format!("Backup of VPS {DB} interrupted"));
        assert!(e.contains("hostup_vps_backup.b"), "{e}");
        assert_eq!(
            ws.instance_status("hostup_vps_backup.b").as_deref(),
            Some("tainted")
        );
        let attrs = ws.state_resource_attributes("hostup_vps_backup.b").unwrap();
        assert!(
            attrs["job_id"].as_str().unwrap_or("").starts_with("job_"),
            "{attrs}"
        );

        // The pipeline's retry: a plain apply adopts the job, waits for it, and records its
        // backup; it takes no second backup and deletes none.
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_success();
        assert!(
            out.combined().contains("is already being made")
                || out.combined().contains("was already made"),
            "the plan says it adopts the job: {out}"
        );
        assert_eq!(ws.instance_status("hostup_vps_backup.b"), None);
        ws.assert_plan_empty();
        let id = backup_id_in_state(&ws, "hostup_vps_backup.b");
        let ids = sim.backup_ids(DB, KEY);
        assert!(
            ids.len() == 2 && ids.contains(&id) && ids.iter().any(|i| i == NIGHTLY),
            "the nightly backup and the adopted one: {ids:?}"
        );
        assert_one_backup_and_none_deleted(&sim);
    });
}

/// With `create_before_destroy`, Terraform plans the replacement again before the tainted object
/// reaches the provider, so the apply cannot keep the plan's adoption: it stops before anything is
/// sent, and the way out the docs give (`state rm`, then import) keeps the backup.
#[test]
fn create_before_destroy_stops_an_adopting_apply_before_anything_is_sent() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = Sim::start(&fixture(), &["--job-duration", "3s"]);
        let ws = workspace(cli, &provider, &sim, KEY);
        let cbd = |timeout: &str| {
            format!(
                "{HEADER}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{DB}\"\n  \
                 timeouts {{\n    create = \"{timeout}\"\n  }}\n  lifecycle {{\n    \
                 create_before_destroy = true\n  }}\n}}\n"
            )
        };
        ws.write_main_tf(&cbd("1s"));
        ws.run(&["apply", "-auto-approve"]).assert_failure();
        assert_eq!(
            ws.instance_status("hostup_vps_backup.b").as_deref(),
            Some("tainted")
        );
        ws.write_main_tf(&cbd("5m"));
        // Let the job finish, so the plan adopts a backup that exists.
        std::thread::sleep(Duration::from_secs(4));
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure()
            .assert_output_contains("Provider produced inconsistent final plan");
        assert_one_backup_and_none_deleted(&sim);
        // The failed apply left the tainted object deposed, with the backup's id (its refresh
        // found it). Applying again, with or without create_before_destroy, still takes no
        // second backup and deletes none.
        let plain = format!(
            "{HEADER}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{DB}\"\n  \
             timeouts {{\n    create = \"5m\"\n  }}\n}}\n"
        );
        for main_tf in [cbd("5m"), plain] {
            apply_fails_over_a_deposed_job(&ws, &main_tf);
            assert_one_backup_and_none_deleted(&sim);
        }
        // The way out the docs give: forget the record, import the backup.
        let state = std::fs::read_to_string(ws.dir().join("terraform.tfstate")).unwrap();
        let id = sim
            .backup_ids(DB, KEY)
            .into_iter()
            .find(|id| id != NIGHTLY && state.contains(id.as_str()))
            .unwrap_or_else(|| panic!("the job's backup is in state: {state}"));
        ws.run(&["state", "rm", "hostup_vps_backup.b"])
            .assert_success();
        ws.run(&["import", "hostup_vps_backup.b", &format!("{DB}/{id}")])
            .assert_success();
        // Only the timeouts block, which an import does not set, changes in place.
        ws.run(&["apply", "-auto-approve"])
            .assert_success()
            .assert_output_contains("0 to add, 1 to change, 0 to destroy");
        ws.assert_plan_empty();
        assert_one_backup_and_none_deleted(&sim);
    });
}

/// One backup POSTed in all, and no DELETE of any backup.
#[track_caller]
fn assert_one_backup_and_none_deleted(sim: &Sim) {
    assert_eq!(backup_posts(&sim.requests()), [202], "one backup in all");
    let writes = writes(&sim.requests());
    assert!(
        !writes.iter().any(|w| w.starts_with("DELETE")),
        "nothing deleted: {writes:?}"
    );
}

#[test]
fn closed_gate_fails_at_plan_without_a_post() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = Sim::start(&fixture(), &JOB);
        let ws = workspace(cli, &provider, &sim, KEY);
        ws.write_main_tf(&backup("b", MAIL, None));
        let out = ws.plan_detailed_exitcode();
        assert_eq!(out.code, Some(1), "{out}");
        let block = error_block(&out, "HostUp does not allow a backup of this VPS now");
        for needle in [
            "An unpaid order blocks changes to this service.",
            "code pending_order",
            "vps_id = ",
        ] {
            assert!(block.contains(needle), "missing {needle:?} in {block}");
        }
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure();
        let log = sim.requests();
        assert!(backup_posts(&log).is_empty(), "{:?}", writes(&log));
        assert!(writes(&log).is_empty(), "{:?}", writes(&log));
    });
}

/// A backup that fills its VPS's quota can still be replaced: Terraform deletes it before it
/// takes the new one, so the plan counts its place as free.
#[test]
fn replacing_the_only_backup_of_a_full_quota_deletes_then_creates() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = Sim::start(&fixture(), &JOB);
        let ws = workspace(cli, &provider, &sim, KEY);
        ws.write_main_tf(&backup("b", SMALL, Some("first")));
        ws.apply();
        let first = backup_id_in_state(&ws, "hostup_vps_backup.b");

        // A plain second backup does not fit: the plan says so at vps_id.
        ws.write_main_tf(&format!(
            "{}\nresource \"hostup_vps_backup\" \"other\" {{\n  vps_id = \"{SMALL}\"\n}}\n",
            backup("b", SMALL, Some("first"))
        ));
        let out = ws.run(&["plan"]);
        out.assert_failure();
        let e = error_block(&out, "Backup quota of the VPS is full");
        assert!(e.contains("1 of 1 backups used"), "{e}");

        // A new note replaces the backup: planned, then deleted first and taken again.
        ws.write_main_tf(&backup("b", SMALL, Some("second")));
        sim.reset_log();
        ws.run(&["plan"])
            .assert_success()
            .assert_output_contains("must be replaced");
        ws.apply();
        let second = backup_id_in_state(&ws, "hostup_vps_backup.b");
        assert_ne!(first, second);
        let log = sim.requests();
        assert_eq!(
            writes(&log),
            [
                format!("DELETE /api/v2/vps/{SMALL}/backups/{first} -> 204"),
                format!("POST /api/v2/vps/{SMALL}/backups -> 202"),
            ],
            "one delete, then one backup"
        );
    });
}

#[test]
fn import_round_trip_by_command() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = Sim::start(&fixture(), &JOB);
        let ws = workspace(cli, &provider, &sim, KEY);
        ws.write_main_tf(&backup("n", DB, Some("nightly")));

        let bad = ws.run(&["import", "hostup_vps_backup.n", NIGHTLY]);
        bad.assert_failure();
        let block = error_block(&bad, "Invalid import id");
        assert!(block.contains("<vps_id>/<backup_id>"), "{block}");

        ws.run(&["import", "hostup_vps_backup.n", &format!("{DB}/{NIGHTLY}")])
            .assert_success();
        let attrs = ws.state_resource_attributes("hostup_vps_backup.n").unwrap();
        assert_eq!(attrs["id"], NIGHTLY, "{attrs}");
        assert_eq!(attrs["vps_id"], DB, "{attrs}");
        assert_eq!(attrs["backup_type"], "scheduled", "{attrs}");
        ws.assert_plan_empty();
        assert!(writes(&sim.requests()).is_empty(), "import never writes");
    });
}

#[test]
fn import_block_adopts_a_backup() {
    let provider = provider();
    for_newest_cli(|cli| {
        if !cli.at_least(1, 5, 0) {
            eprintln!("skipped: import blocks need Terraform 1.5+ ({cli})");
            return;
        }
        let sim = Sim::start(&fixture(), &JOB);
        let ws = workspace(cli, &provider, &sim, KEY);
        ws.write_main_tf(&format!(
            "{}\nimport {{\n  to = hostup_vps_backup.n\n  id = \"{DB}/{NIGHTLY}\"\n}}\n",
            backup("n", DB, Some("nightly"))
        ));
        let out = ws.apply();
        assert!(out.output_contains("1 imported"), "{out}");
        assert_eq!(backup_id_in_state(&ws, "hostup_vps_backup.n"), NIGHTLY);
        ws.assert_plan_empty();
        assert!(writes(&sim.requests()).is_empty(), "import never writes");
    });
}

/// `import { to = hostup_vps_backup.n, <how> }` with `how` an `id = …` or `identity = { … }` line.
fn import_block(how: &str) -> String {
    format!(
        "{}\nimport {{\n  to = hostup_vps_backup.n\n  {how}\n}}\n",
        backup("n", DB, Some("nightly"))
    )
}

#[test]
fn import_by_identity_gives_the_state_of_the_import_id_and_keeps_the_identity() {
    let provider = provider();
    for_each_cli(|cli| {
        if !cli.at_least(1, 12, 0) {
            eprintln!("skipped: resource identity needs 1.12+ ({cli})");
            return;
        }
        let sim = Sim::start(&fixture(), &JOB);
        let by_id = workspace(cli, &provider, &sim, KEY);
        by_id.write_main_tf(&import_block(&format!("id = \"{DB}/{NIGHTLY}\"")));
        by_id.apply();

        let ws = workspace(cli, &provider, &sim, KEY);
        ws.write_main_tf(&import_block(&format!(
            "identity = {{\n    vps_id    = \"{DB}\"\n    backup_id = \"{NIGHTLY}\"\n  }}"
        )));
        ws.run(&["plan"])
            .assert_success()
            .assert_output_contains("1 to import, 0 to add, 0 to change, 0 to destroy");
        ws.apply();
        let address = "hostup_vps_backup.n";
        assert_eq!(
            ws.state_resource_attributes(address),
            by_id.state_resource_attributes(address),
            "the same state as the import by id"
        );
        let identity = json!({"vps_id": DB, "backup_id": NIGHTLY});
        assert_eq!(ws.state_resource_identity(address), Some(identity.clone()));
        assert_eq!(
            by_id.state_resource_identity(address),
            Some(identity.clone())
        );
        ws.assert_plan_empty();
        assert_eq!(ws.state_resource_identity(address), Some(identity), "kept");
        assert!(writes(&sim.requests()).is_empty(), "import never writes");

        // An identity that names no backup: a clear error, nothing imported.
        let wrong = workspace(cli, &provider, &sim, KEY);
        wrong.write_main_tf(&import_block(&format!(
            "identity = {{\n    vps_id    = \"{DB}\"\n    backup_id = \"bkp_01notthere\"\n  }}"
        )));
        let out = wrong.run(&["plan"]);
        out.assert_failure();
        let block = error_block(&out, "Backup not found");
        assert!(
            block.contains("bkp_01notthere") && block.contains(NIGHTLY),
            "{block}"
        );
    });
}

// ----- the examples ---------------------------------------------------------------------------------

const EXAMPLE_KEY: &str = "hu_sim_acme_full_0001";
const EXAMPLE_DB: &str = "vps_01j9k2db000000000000000001";
const EXAMPLE_WEB: &str = "vps_01j9k2web00000000000000001";

fn examples_dir() -> PathBuf {
    repo_root().join("examples")
}

fn example_sim() -> Sim {
    Sim::start_with_file(&examples_dir().join("sim").join("fixture.json"), &JOB)
}

fn copy_example(ws: &Workspace, from: &Path, as_name: &str) {
    let text =
        std::fs::read_to_string(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    ws.write(as_name, &text);
}

/// The backup and the restore of that backup in one apply, ordered only by references; a later
/// rotation of the backup plans nothing (no second restore), and destroy deletes the backup.
#[test]
fn backup_then_restore_example_applies() {
    let provider = provider();
    for_newest_and_oldest_cli(|cli| {
        let sim = example_sim();
        let ws = workspace(cli, &provider, &sim, EXAMPLE_KEY);
        let dir = examples_dir().join("backup-then-restore");
        copy_example(&ws, &dir.join("main.tf"), "main.tf");
        copy_example(&ws, &dir.join("terraform.tfvars"), "terraform.tfvars");
        // The backup id is known only during apply; the plan still names the VPS it overwrites.
        ws.assert_plan_has_changes()
            .assert_output_contains("Apply will overwrite VPS web-01")
            .assert_output_contains("known only during apply");
        assert!(writes(&sim.requests()).is_empty(), "a plan never writes");

        ws.apply();
        let log = sim.requests();
        assert_eq!(backup_posts(&log), [202], "{:?}", writes(&log));
        assert_eq!(restore_posts(&log), [202], "{:?}", writes(&log));
        let backup_post = log.iter().position(|r| r.is("POST", "/backups")).unwrap();
        let restore_post = log
            .iter()
            .position(|r| r.is("POST", "/restore-from-vps"))
            .unwrap();
        assert!(backup_post < restore_post, "backup first");
        let out = ws.outputs_json();
        let id = out["backup"]["value"]["id"].as_str().unwrap_or_default();
        assert!(sim
            .backup_ids(EXAMPLE_DB, EXAMPLE_KEY)
            .contains(&id.to_owned()));
        let restore = ws
            .state_resource_attributes("hostup_vps_restore.target")
            .unwrap();
        assert_eq!(restore["backup_id"], id, "{restore}");
        assert_eq!(restore["source_vps_id"], EXAMPLE_DB);
        assert_eq!(restore["target_vps_id"], EXAMPLE_WEB);
        assert_eq!(out["restore"]["value"]["status"], "completed", "{out}");
        ws.assert_plan_empty();

        // Retention rotates the backup away: nothing is planned, above all no second restore.
        sim.admin("DELETE", &format!("/_sim/backups/{id}"), None);
        ws.assert_plan_empty();
        ws.apply();
        let log = sim.requests();
        assert_eq!(backup_posts(&log), [202]);
        assert_eq!(restore_posts(&log), [202]);

        sim.reset_log();
        ws.destroy();
        let log = sim.requests();
        assert_eq!(
            writes(&log),
            [format!(
                "DELETE /api/v2/vps/{EXAMPLE_DB}/backups/{id} -> 404"
            )],
            "destroy deletes the (already rotated) backup and makes no restore call"
        );
    });
}

#[test]
fn resource_and_import_examples_apply() {
    let provider = provider();
    for_newest_cli(|cli| {
        let dir = examples_dir().join("resources").join("hostup_vps_backup");
        let sim = example_sim();
        let ws = workspace(cli, &provider, &sim, EXAMPLE_KEY);
        ws.write("versions.tf", HEADER);
        copy_example(&ws, &dir.join("resource.tf"), "resource.tf");
        ws.apply();
        let out = ws.outputs_json();
        let b = &out["db_backup"]["value"];
        assert!(b["id"].as_str().unwrap_or("").starts_with("bkp_"), "{b}");
        assert_eq!(b["backup_type"], "manual");
        assert_eq!(backup_posts(&sim.requests()), [202]);
        ws.assert_plan_empty();

        // The import.sh command and the import block adopt the same backup of the fixture.
        let script = std::fs::read_to_string(dir.join("import.sh")).expect("import.sh");
        let line = script
            .lines()
            .find(|l| l.starts_with("terraform import "))
            .expect("a terraform import line");
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        let sim = example_sim();
        let ws = workspace(cli, &provider, &sim, EXAMPLE_KEY);
        ws.write("versions.tf", HEADER);
        ws.write(
            "main.tf",
            "resource \"hostup_vps_backup\" \"db_before_upgrade\" {\n  vps_id = \
             \"vps_01j9k2db000000000000000001\"\n  note   = \"Before upgrade\"\n}\n",
        );
        ws.run(&args).assert_success();
        ws.assert_plan_empty();

        if cli.at_least(1, 5, 0) {
            let ws = workspace(cli, &provider, &sim, EXAMPLE_KEY);
            ws.write("versions.tf", HEADER);
            copy_example(&ws, &dir.join("import-by-string-id.tf"), "import.tf");
            let out = ws.apply();
            assert!(out.output_contains("1 imported"), "{out}");
            ws.assert_plan_empty();
        }
        assert!(writes(&sim.requests()).is_empty(), "imports never write");
    });
}
