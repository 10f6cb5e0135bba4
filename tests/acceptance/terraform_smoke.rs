//! Proves every discovered Terraform / OpenTofu CLI works under the harness before any provider is
//! involved: it reports its version, applies a provider-less configuration to a clean empty plan,
//! routes a `dev_overrides` provider to our directory without `init`, and stops gracefully on SIGINT.

use std::time::Duration;
use testkit::*;

/// Inputs, locals and outputs only: valid on every Terraform since 0.12, needs no provider.
const PROVIDERLESS: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

locals {
  words = [var.greeting, "world"]
}

output "sentence" {
  value = join(" ", local.words)
}

output "count" {
  value = length(local.words)
}
"#;

#[test]
fn writes_the_matrix_for_make_test() {
    // scripts/test.sh prints this file, so a run says which CLIs it covered.
    let lines: Vec<String> = terraform_clis().iter().map(|c| c.to_string()).collect();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("terraform-matrix.txt");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    for cli in terraform_clis() {
        if cli.path.starts_with(repo_root().join(".tools")) {
            let name = cli.path.file_name().unwrap().to_string_lossy();
            assert_eq!(name, format!("{}-{}", cli.flavor.short(), cli.version));
        }
    }
}

#[test]
fn every_cli_reports_its_version() {
    for_each_cli(|cli| {
        let ws = Workspace::new(cli);
        let out = ws.run(&["version"]);
        out.assert_success();
        let expected = format!(
            "{} v{}",
            match cli.flavor {
                Flavor::Terraform => "Terraform",
                Flavor::OpenTofu => "OpenTofu",
            },
            cli.version
        );
        assert_eq!(out.stdout.lines().next(), Some(expected.as_str()), "{out}");
    });
}

#[test]
fn every_cli_applies_a_providerless_config_to_an_empty_plan() {
    for_each_cli(|cli| {
        let mut ws = Workspace::new(cli);
        ws.write_main_tf(PROVIDERLESS);
        ws.init();
        ws.assert_plan_has_changes()
            .assert_output_contains("sentence");
        // Variables reach Terraform through the workspace environment.
        ws.set_env("TF_VAR_greeting", "hi");
        ws.apply().assert_output_contains("sentence = \"hi world\"");

        let outputs = ws.outputs_json();
        assert_eq!(outputs["sentence"]["value"], "hi world");
        assert_eq!(outputs["count"]["value"], 2);
        let state = ws.state().expect("apply writes local state");
        assert_eq!(state["outputs"]["sentence"]["value"], "hi world");
        ws.assert_plan_empty();

        // And the same plan reports changes again once the input moves.
        let out = ws.run_with_env(
            &["plan", "-detailed-exitcode"],
            &[("TF_VAR_greeting", "yo")],
        );
        out.assert_code(2);
    });
}

#[test]
fn every_cli_manages_terraform_data_where_built_in() {
    for_each_cli(|cli| {
        if !cli.has_terraform_data() {
            eprintln!(
                "    {} has no terraform_data; covered by the outputs test",
                cli.label()
            );
            return;
        }
        let ws = Workspace::new(cli);
        ws.write_main_tf(
            r#"
resource "terraform_data" "pet" {
  input = "rex"
}
output "pet" {
  value = terraform_data.pet.output
}
"#,
        );
        ws.apply();
        let attrs = ws
            .state_resource_attributes("terraform_data.pet")
            .expect("terraform_data.pet in state");
        // terraform_data stores its dynamic `input` with its type.
        assert_eq!(attrs["input"]["value"], "rex");
        assert!(attrs["id"].as_str().is_some_and(|id| !id.is_empty()));
        let show = ws.show_json();
        assert_eq!(
            show["values"]["root_module"]["resources"][0]["address"],
            "terraform_data.pet"
        );
        ws.assert_plan_empty();
        ws.destroy();
        let state = ws.state().unwrap();
        assert_eq!(state["resources"].as_array().map(Vec::len), Some(0));
    });
}

#[test]
fn dev_overrides_launch_our_binary_without_init() {
    // A stand-in that is not a plugin: Terraform must find and start it (and then fail the
    // handshake), which shows the CLI config routes the source to our directory with no `init`.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake-provider");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho started >> \"$(dirname \"$0\")/starts\"\nexit 3\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let provider = ProviderDir::new(&fake, "hostup", "smoketest");

    for_each_cli(|cli| {
        let ws = Workspace::with_providers(cli, &[&provider]);
        ws.write_main_tf(&format!(
            r#"
terraform {{
  required_providers {{
    smoketest = {{ source = "{}" }}
  }}
}}
resource "smoketest_thing" "a" {{}}
"#,
            provider.source()
        ));
        // $0 is the link Terraform ran, so the stand-in records starts in the provider dir.
        let starts = provider.dir().join("starts");
        let _ = std::fs::remove_file(&starts);
        let out = ws.run(&["plan"]);
        out.assert_failure()
            .assert_output_contains("Provider development overrides are in effect")
            .assert_output_contains(&provider.source())
            .assert_output_contains("Unrecognized remote plugin message");
        assert!(
            starts.exists(),
            "{} never started the provider binary:\n{out}",
            cli.label()
        );
    });
}

#[test]
fn sigint_stops_an_apply_gracefully() {
    // What a user's Ctrl-C (or CI cancelling a job) does mid-apply: Terraform must notice, say so,
    // and exit non-zero well before the slow step would have finished.
    let config = r#"
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "sleep 60"
  }
}
"#;
    for (i, cli) in terraform_clis().iter().enumerate() {
        if !cli.has_terraform_data() {
            eprintln!(
                "    {}: no terraform_data to hold an apply open",
                cli.label()
            );
            continue;
        }
        eprintln!("--- sigint: {cli}");
        let ws = Workspace::new(cli);
        ws.write_main_tf(config);
        let out = if i == 0 {
            // Once, the way a terminal delivers it: to the whole process group.
            let running = ws.spawn(&["apply", "-auto-approve"], &[]);
            assert!(
                running.wait_for_output("Provisioning with 'local-exec'", Duration::from_secs(90)),
                "apply never reached the provisioner: {:?}",
                running.output_so_far()
            );
            running.interrupt_group();
            running.wait().unwrap_or_else(|e| panic!("{e}"))
        } else {
            ws.run_interrupted(
                &["apply", "-auto-approve"],
                InterruptWhen::OutputContains("Provisioning with 'local-exec'".into()),
            )
        };
        out.assert_failure();
        // Sent to the CLI alone, Terraform prints "Interrupt received" and stops the step. Sent
        // to the whole group, the provisioner's `sleep` gets it too and may die first; Terraform
        // then ends on that step's error, which names the signal, before its own notice.
        let noticed = out.output_contains("Interrupt received")
            || (i == 0 && out.output_contains("signal: interrupt"));
        assert!(noticed, "the interrupt went unnoticed:\n{out}");
        assert!(
            out.duration < Duration::from_secs(45),
            "Terraform waited for the slow step instead of stopping:\n{out}"
        );
    }
}

/// A difference the harness works around (its `version` probe runs without `TF_CLI_CONFIG_FILE`):
/// when that variable names a missing file, Terraform and OpenTofu 1.11 start `version`'s stdout
/// with the version line (any warning goes to stderr; Terraform 1.0 gives none), while OpenTofu 1.12
/// prints the warning on stdout before it.
#[test]
fn a_missing_cli_config_file_puts_a_warning_first_only_under_opentofu_1_12() {
    for_each_cli(|cli| {
        let ws = Workspace::new(cli);
        let missing = ws.dir().join("no-such-file.tfrc");
        let out = ws.run_with_env(
            &["version"],
            &[("TF_CLI_CONFIG_FILE", missing.to_str().expect("utf-8 path"))],
        );
        out.assert_success();
        if cli.flavor == Flavor::Terraform || !cli.at_least(1, 12, 0) {
            assert_eq!(
                parse_version_output(&out.stdout),
                Some((cli.flavor, cli.version.clone())),
                "{out}"
            );
        } else {
            assert_eq!(parse_version_output(&out.stdout), None, "{out}");
            let warning = out.stdout.find("Unable to open CLI configuration file");
            let version = out.stdout.find(&format!("OpenTofu v{}", cli.version));
            assert!(
                matches!((warning, version), (Some(w), Some(v)) if w < v),
                "{out}"
            );
        }
    });
}
