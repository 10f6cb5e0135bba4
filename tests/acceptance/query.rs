//! `terraform query` (Terraform 1.14+) with the `hostup_vps_backup` list resource against
//! `hostup-sim`: an account of 3 VPSes and 25 backups made by hand. The query finds all 25, one
//! VPS's when filtered, no more than its `limit`; `-generate-config-out` writes import blocks and
//! resources that `terraform plan` shows as 25 to import and nothing else, and that `apply`
//! imports without a single write to HostUp. Errors (a VPS that does not exist, a key without
//! `read:vm`) are diagnostics. OpenTofu has no `query` command: the test records what it says.

use serde_json::{json, Value};
use testkit::sim::HOSTUP_HEADER as HEADER;
use testkit::sim::{writes, Sim};
use testkit::world::{World, CLIENT, FULL_SCOPES};
use testkit::*;

use crate::provider;

const KEY: &str = "hu_acc_query_key_never_logged_81c";
const NO_READ_KEY: &str = "hu_acc_query_key_without_read_2e0";

const ALPHA: &str = "vps_01queryalpha0000000001";
const BETA: &str = "vps_01querybeta00000000001";
const GAMMA: &str = "vps_01querygamma0000000001";

/// 3 VPSes with 10, 8 and 7 backups.
fn fixture() -> Value {
    World::new()
        .key(KEY, CLIENT, FULL_SCOPES)
        .key(NO_READ_KEY, CLIENT, &["backup:vm"])
        .set(CLIENT, json!({"name": "Acceptance AB"}))
        .vps_list(json!([
            {"id": ALPHA, "client": CLIENT, "name": "alpha", "storageGb": 80, "generatedBackups": 10},
            {"id": BETA, "client": CLIENT, "name": "beta", "storageGb": 80, "generatedBackups": 8},
            {"id": GAMMA, "client": CLIENT, "name": "gamma", "storageGb": 80, "generatedBackups": 7},
        ]))
        .build()
}

/// A `list "hostup_vps_backup" "<name>"` block with `body` inside.
fn list(name: &str, body: &str) -> String {
    format!("list \"hostup_vps_backup\" \"{name}\" {{\n  provider = hostup\n{body}}}\n")
}

/// The result lines of the list block `name` in a query's output.
fn results<'a>(out: &'a TfOutput, name: &str) -> Vec<&'a str> {
    let prefix = format!("list.hostup_vps_backup.{name} ");
    out.stdout
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .collect()
}

/// A simulator with the 3-VPS fixture and a workspace on it with the key `key`, the provider
/// block, and `query` as its query file.
fn query_workspace(
    cli: &TerraformCli,
    provider: &ProviderDir,
    key: &str,
    query: &str,
) -> (Sim, Workspace) {
    let sim = Sim::start(&fixture(), &[]);
    let ws = sim.workspace(cli, &[provider], key);
    ws.write_main_tf(HEADER);
    ws.write("backups.tfquery.hcl", query);
    (sim, ws)
}

/// Runs `body` for every CLI that has `terraform query`.
fn for_each_query_cli(body: impl Fn(&TerraformCli)) {
    for_each_cli(|cli| {
        if cli.flavor == Flavor::Terraform && cli.at_least(1, 14, 0) {
            body(cli);
        }
    });
}

#[test]
fn query_finds_every_backup_filters_by_vps_and_honours_the_limit() {
    let provider = provider();
    for_each_query_cli(|cli| {
        let query = [
            list("all", ""),
            list(
                "beta",
                &format!("  config {{\n    vps_id = \"{BETA}\"\n  }}\n"),
            ),
            list("few", "  limit = 5\n"),
        ]
        .concat();
        let (sim, ws) = query_workspace(cli, &provider, KEY, &query);
        let out = ws.run(&["query"]);
        out.assert_success();
        let all = results(&out, "all");
        assert_eq!(all.len(), 25, "{out}");
        assert!(
            all.iter()
                .any(|l| l.contains(&format!("backup_id=bkp_{}_009", &ALPHA[4..]))),
            "{all:#?}"
        );
        assert!(
            all[0].contains("alpha (vps_01queryalpha0000000001): bkp_"),
            "{}",
            all[0]
        );
        let beta = results(&out, "beta");
        assert_eq!(beta.len(), 8, "{out}");
        assert!(
            beta.iter().all(|l| l.contains(&format!("vps_id={BETA}"))),
            "{beta:#?}"
        );
        assert_eq!(results(&out, "few").len(), 5, "{out}");
        assert!(writes(&sim.requests()).is_empty(), "a query never writes");
    });
}

#[test]
fn generated_configuration_imports_all_25_backups_without_a_write() {
    let provider = provider();
    for_each_query_cli(|cli| {
        let (sim, ws) = query_workspace(cli, &provider, KEY, &list("all", ""));
        ws.run(&["query", "-generate-config-out=generated.tf"])
            .assert_success();
        let generated =
            std::fs::read_to_string(ws.dir().join("generated.tf")).expect("generated.tf");
        assert_eq!(generated.matches("import {").count(), 25, "{generated}");
        assert_eq!(
            generated.matches("resource \"hostup_vps_backup\"").count(),
            25,
            "{generated}"
        );
        ws.run(&["plan"])
            .assert_success()
            .assert_output_contains("Plan: 25 to import, 0 to add, 0 to change, 0 to destroy.");
        ws.apply();
        ws.assert_plan_empty();
        assert!(writes(&sim.requests()).is_empty(), "importing never writes");
    });
}

#[test]
fn a_missing_vps_or_a_key_without_read_is_an_error_not_a_broken_stream() {
    let provider = provider();
    for_each_query_cli(|cli| {
        let (_sim, ws) = query_workspace(
            cli,
            &provider,
            KEY,
            &list(
                "nope",
                "  config {\n    vps_id = \"vps_01doesnotexist\"\n  }\n",
            ),
        );
        let out = ws.run(&["query"]);
        out.assert_failure();
        let text = squash_whitespace(&out.combined());
        assert!(text.contains("Error: VPS not found"), "{text}");
        // At the attribute: Terraform quotes its line of the query file.
        assert!(text.contains("vps_id = \"vps_01doesnotexist\""), "{text}");

        // A malformed id is refused before HostUp is asked, at the attribute too.
        ws.write(
            "backups.tfquery.hcl",
            &list("bad", "  config {\n    vps_id = \"not an id!\"\n  }\n"),
        );
        let out = ws.run(&["query"]);
        out.assert_failure();
        let text = squash_whitespace(&out.combined());
        assert!(text.contains("vps_id = \"not an id!\""), "{text}");

        let mut ws = ws;
        ws.set_env("HOSTUP_API_KEY", NO_READ_KEY);
        ws.write("backups.tfquery.hcl", &list("all", ""));
        let out = ws.run(&["query"]);
        out.assert_failure();
        let text = squash_whitespace(&out.combined());
        assert!(text.contains("API key lacks the scope read:vm"), "{text}");
    });
}

#[test]
fn opentofu_has_no_query_command_and_says_so() {
    let provider = provider();
    for_each_cli(|cli| {
        if cli.flavor != Flavor::OpenTofu {
            return;
        }
        let (_sim, ws) = query_workspace(cli, &provider, KEY, &list("all", ""));
        let out = ws.run(&["query"]);
        out.assert_failure();
        // OpenTofu's own words; recorded so a release that adds the command is noticed.
        assert!(
            out.combined().contains("has no command named \"query\""),
            "{out}"
        );
        // The query file is not read at all: plans go on as before.
        ws.assert_plan_empty();
    });
}

#[test]
fn the_example_query_lists_the_example_fixtures_backups() {
    let provider = provider();
    for_each_query_cli(|cli| {
        let sim = Sim::start_with_file(&repo_root().join("examples/sim/fixture.json"), &[]);
        let ws = sim.workspace(cli, &[&provider], "hu_sim_acme_full_0001");
        ws.write_main_tf(HEADER);
        let example =
            repo_root().join("examples/list-resources/hostup_vps_backup/backups.tfquery.hcl");
        ws.write(
            "backups.tfquery.hcl",
            &std::fs::read_to_string(example).expect("the example query"),
        );
        let out = ws.run(&["query"]);
        out.assert_success();
        let db = results(&out, "db");
        assert!(!db.is_empty(), "{out}");
        assert!(
            db.iter()
                .all(|l| l.contains("db-01 (vps_01j9k2db000000000000000001)")),
            "{db:#?}"
        );
        assert!(results(&out, "all").len() >= db.len(), "{out}");
    });
}
