//! Tests of the acceptance-test harness itself (crates/testkit) that need no Terraform: version
//! parsing, CLI selection, the generated CLI configuration and the command environment.

use std::path::PathBuf;
use testkit::*;

fn cli(flavor: Flavor, version: &str) -> TerraformCli {
    TerraformCli {
        path: PathBuf::from(format!("/x/{version}")),
        flavor,
        version: version.to_string(),
    }
}

#[test]
fn version_output_of_both_flavours_parses() {
    let tf = "Terraform v1.15.5\non linux_amd64\n";
    assert_eq!(
        parse_version_output(tf),
        Some((Flavor::Terraform, "1.15.5".to_string()))
    );
    let tofu = "OpenTofu v1.10.0-beta1\non linux_amd64\n+ provider x\n";
    assert_eq!(
        parse_version_output(tofu),
        Some((Flavor::OpenTofu, "1.10.0-beta1".to_string()))
    );
}

#[test]
fn unrecognised_version_output_is_rejected() {
    for bad in [
        "",
        "\n",
        "terraform v1.0.0",
        "Terraform 1.0.0",
        "Terraform v",
        "Terraform vX.Y",
        "Terraform v1.0.0; rm -rf /",
        "Your version of Terraform is out of date!",
    ] {
        assert_eq!(parse_version_output(bad), None, "{bad:?}");
    }
}

#[test]
fn version_triples_ignore_prerelease_and_compare_numerically() {
    assert_eq!(version_triple("1.15.5"), (1, 15, 5));
    assert_eq!(version_triple("1.10.0-beta1"), (1, 10, 0));
    assert_eq!(version_triple("1.9"), (1, 9, 0));
    assert!(cli(Flavor::Terraform, "1.10.0").at_least(1, 9, 8));
    assert!(!cli(Flavor::Terraform, "1.0.3").at_least(1, 4, 0));
    assert!(!cli(Flavor::Terraform, "1.0.3").has_terraform_data());
    assert!(cli(Flavor::Terraform, "1.6.6").has_terraform_data());
    assert!(cli(Flavor::OpenTofu, "1.6.0").has_terraform_data());
}

#[test]
fn filter_selects_exact_versions_prefixes_and_flavours() {
    let all = vec![
        cli(Flavor::Terraform, "1.15.5"),
        cli(Flavor::Terraform, "1.1.0"),
        cli(Flavor::Terraform, "1.0.3"),
        cli(Flavor::OpenTofu, "1.10.0"),
    ];
    let versions = |f: Option<&str>| -> Vec<String> {
        apply_filter(all.clone(), f)
            .iter()
            .map(TerraformCli::label)
            .collect()
    };
    assert_eq!(versions(None).len(), 4);
    assert_eq!(versions(Some("  ")).len(), 4);
    assert_eq!(
        versions(Some("1.15.5,1.0.3")),
        ["terraform 1.15.5", "terraform 1.0.3"]
    );
    // "1.1" is a prefix of 1.1.0 but must not pick 1.15.5 or 1.10.0.
    assert_eq!(versions(Some("1.1")), ["terraform 1.1.0"]);
    assert_eq!(versions(Some("tofu")), ["tofu 1.10.0"]);
    assert_eq!(
        versions(Some("tofu-1.10.0, 1.0.3")),
        ["terraform 1.0.3", "tofu 1.10.0"]
    );
    assert_eq!(versions(Some("terraform-1.10.0")), Vec::<String>::new());
    assert_eq!(versions(Some("2.0.0")), Vec::<String>::new());
}

#[test]
fn dedupe_keeps_first_of_each_version_and_orders_newest_first() {
    let mut path_tf = cli(Flavor::Terraform, "1.15.5");
    path_tf.path = PathBuf::from("/usr/local/bin/terraform");
    let out = dedupe(vec![
        cli(Flavor::Terraform, "1.0.3"),
        cli(Flavor::Terraform, "1.15.5"),
        cli(Flavor::Terraform, "1.9.8"),
        path_tf,
        cli(Flavor::OpenTofu, "1.15.5"),
    ]);
    let labels: Vec<String> = out.iter().map(TerraformCli::label).collect();
    assert_eq!(
        labels,
        [
            "terraform 1.15.5",
            "terraform 1.9.8",
            "terraform 1.0.3",
            "tofu 1.15.5"
        ]
    );
    assert_eq!(
        out[0].path,
        PathBuf::from("/x/1.15.5"),
        "the pinned copy wins"
    );
}

#[test]
fn pinned_names_carry_flavour_and_version() {
    assert_eq!(
        pinned_name("terraform-1.15.5"),
        Some((Flavor::Terraform, "1.15.5".to_string()))
    );
    assert_eq!(
        pinned_name("tofu-1.12.6"),
        Some((Flavor::OpenTofu, "1.12.6".to_string()))
    );
    assert_eq!(pinned_name("tofu-1.12.6.tmp"), None);
    assert_eq!(pinned_name("terraform-1.15.5.tmp"), None);
    assert_eq!(pinned_name("tofu-src"), None);
    assert_eq!(pinned_name("terraform"), None);
    assert_eq!(pinned_name("python3"), None);
}

#[test]
fn subsets_keep_both_ends_of_terraform_and_every_opentofu() {
    let all = dedupe(vec![
        cli(Flavor::Terraform, "1.15.5"),
        cli(Flavor::Terraform, "1.12.2"),
        cli(Flavor::Terraform, "1.0.3"),
        cli(Flavor::OpenTofu, "1.12.6"),
        cli(Flavor::OpenTofu, "1.11.14"),
    ]);
    let labels = |v: Vec<&TerraformCli>| v.iter().map(|c| c.label()).collect::<Vec<_>>();
    assert_eq!(
        labels(pick_newest_and_oldest(&all)),
        [
            "terraform 1.15.5",
            "terraform 1.0.3",
            "tofu 1.12.6",
            "tofu 1.11.14"
        ]
    );
    assert_eq!(
        labels(pick_newest(&all)),
        ["terraform 1.15.5", "tofu 1.12.6", "tofu 1.11.14"]
    );
    // A filter down to one flavour, or one CLI, leaves what it leaves.
    let tofu = apply_filter(all.clone(), Some("tofu"));
    assert_eq!(
        labels(pick_newest_and_oldest(&tofu)),
        ["tofu 1.12.6", "tofu 1.11.14"]
    );
    assert_eq!(labels(pick_newest(&tofu)), ["tofu 1.12.6", "tofu 1.11.14"]);
    let one = apply_filter(all.clone(), Some("1.12.2"));
    assert_eq!(labels(pick_newest_and_oldest(&one)), ["terraform 1.12.2"]);
    assert!(pick_newest(&[]).is_empty());
}

#[test]
fn cli_config_lists_dev_overrides_then_direct() {
    let text = cli_config_text(&[(
        "registry.terraform.io/hostup/echo".to_string(),
        PathBuf::from("/tmp/p dir"),
    )]);
    assert_eq!(
        text,
        "provider_installation {\n  dev_overrides {\n    \"registry.terraform.io/hostup/echo\" = \
         \"/tmp/p dir\"\n  }\n  direct {}\n}\n"
    );
    assert_eq!(
        cli_config_text(&[]),
        "provider_installation {\n  direct {}\n}\n"
    );
}

#[test]
fn hcl_strings_escape_quotes_backslashes_and_templates() {
    assert_eq!(hcl_string(r#"a"b\c"#), r#""a\"b\\c""#);
    assert_eq!(hcl_string("/p/${HOME}/%{x}"), r#""/p/$${HOME}/%%{x}""#);
}

#[test]
fn output_matching_sees_through_terraform_line_wrapping() {
    let out = TfOutput {
        command: "terraform plan".into(),
        code: Some(1),
        stdout: String::new(),
        stderr: "Error: failed to instantiate provider: Unrecognized\nremote plugin  message: \n"
            .into(),
        duration: std::time::Duration::ZERO,
    };
    assert!(out.output_contains("Unrecognized remote plugin message"));
    assert!(out.output_contains("Unrecognized\n  remote"));
    assert!(!out.output_contains("Unrecognized remote plugin messages"));
    out.assert_failure().assert_output_lacks("Apply complete");
}

#[test]
fn provider_dir_exposes_the_binary_under_the_plugin_name() {
    let exe = std::env::current_exe().unwrap();
    let p = ProviderDir::new(&exe, "hostup", "echo");
    let link = p.dir().join("terraform-provider-echo");
    assert!(link.is_file());
    assert_eq!(link.canonicalize().unwrap(), exe.canonicalize().unwrap());
    assert_eq!(p.source(), "hostup/echo");
    assert_eq!(
        p.address(Flavor::Terraform),
        "registry.terraform.io/hostup/echo"
    );
    assert_eq!(
        p.address(Flavor::OpenTofu),
        "registry.opentofu.org/hostup/echo"
    );
}

#[test]
fn workspace_command_sets_config_automation_env_and_no_color() {
    let exe = std::env::current_exe().unwrap();
    let provider = ProviderDir::new(&exe, "hostup", "echo");
    let tofu = cli(Flavor::OpenTofu, "1.10.0");
    let mut ws = Workspace::with_providers(&tofu, &[&provider]);
    ws.set_env("HOSTUP_EXAMPLE", "1");

    let config = std::fs::read_to_string(ws.cli_config_path()).unwrap();
    assert!(
        config.contains("\"registry.opentofu.org/hostup/echo\""),
        "OpenTofu resolves bare sources to its own registry:\n{config}"
    );

    let cmd = ws.command(&["plan", "-out=p"], &[("EXTRA", "y")]);
    let env = command_env(&cmd);
    let cfg = ws.cli_config_path().to_string_lossy().into_owned();
    assert_eq!(env["TF_CLI_CONFIG_FILE"].as_deref(), Some(cfg.as_str()));
    assert_eq!(env["TF_IN_AUTOMATION"].as_deref(), Some("1"));
    assert_eq!(env["TF_INPUT"].as_deref(), Some("0"));
    assert_eq!(env["CHECKPOINT_DISABLE"].as_deref(), Some("1"));
    assert_eq!(env["HOSTUP_EXAMPLE"].as_deref(), Some("1"));
    assert_eq!(env["EXTRA"].as_deref(), Some("y"));
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(args, ["plan", "-out=p", "-no-color"]);
    assert_eq!(cmd.get_current_dir(), Some(ws.dir()));
}

#[test]
fn inherited_terraform_settings_are_dropped_but_logging_stays() {
    let keys = [
        "TF_CLI_ARGS",
        "TF_CLI_ARGS_plan",
        "TF_VAR_region",
        "TF_WORKSPACE",
        "TF_DATA_DIR",
        "TF_LOG",
        "TF_LOG_PATH",
        "PATH",
        "HOME",
        "XTF_NOT_OURS",
    ];
    let removed = inherited_to_remove(keys.iter().map(std::ffi::OsString::from));
    assert_eq!(
        removed,
        [
            "TF_CLI_ARGS",
            "TF_CLI_ARGS_plan",
            "TF_VAR_region",
            "TF_WORKSPACE",
            "TF_DATA_DIR"
        ]
    );
}

#[test]
fn commands_past_their_deadline_are_killed_with_their_output() {
    // The harness's timeout must not depend on Terraform: drive it with a shell stand-in.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("terraform");
    std::fs::write(&fake, "#!/bin/sh\necho started\nsleep 30\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut ws = Workspace::new(&TerraformCli {
        path: fake,
        flavor: Flavor::Terraform,
        version: "0.0.0".into(),
    });
    ws.set_timeout(std::time::Duration::from_millis(700));
    let start = std::time::Instant::now();
    match ws.try_run(&["apply"], &[]) {
        Err(RunError::Timeout(out)) => {
            assert!(out.stdout.contains("started"), "{out}");
            assert_eq!(out.code, None);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // Killing the group also ends `sleep`, so the pipes close and nothing waits 30 s.
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn interrupt_is_sent_when_the_awaited_line_appears() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("terraform");
    std::fs::write(
        &fake,
        // Python, not sh: a shell started with SIGINT ignored (as under some CI runners) cannot
        // trap it, while Python can reinstate a handler.
        "#!/usr/bin/env python3\nimport signal, sys, time\n\
         def h(*_):\n    print('got-int', flush=True)\n    sys.exit(7)\n\
         signal.signal(signal.SIGINT, h)\nprint('ready', flush=True)\ntime.sleep(30)\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ws = Workspace::new(&TerraformCli {
        path: fake,
        flavor: Flavor::Terraform,
        version: "0.0.0".into(),
    });
    let out = ws.run_interrupted(&["apply"], InterruptWhen::OutputContains("ready".into()));
    out.assert_code(7).assert_output_contains("got-int");
}
