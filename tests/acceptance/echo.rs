//! The echo provider under real Terraform / OpenTofu: proves the protocol layer end to end
//! (schemas, the msgpack codec for every value type, schema-driven plans, diagnostics at an
//! attribute, sensitive values, import, and Stop on Ctrl-C) without the HostUp API.
//!
//! Needs the example binary: `cargo build --example echo` (`make test` builds all examples).

use std::time::Duration;

use serde_json::json;
use testkit::*;

fn echo_provider() -> ProviderDir {
    ProviderDir::new(&cargo_example("echo"), "hostup", "echo")
}

const HEADER: &str = r#"
terraform {
  required_providers {
    echo = { source = "hostup/echo" }
  }
}

provider "echo" {
  token = "provider-token"
}
"#;

/// Every value type the resource echoes, plus a data source reading a computed value.
fn thing_config(name: &str) -> String {
    format!(
        r#"{HEADER}
resource "echo_thing" "a" {{
  name        = "{name}"
  count_value = 2.5
  enabled     = true
  tags        = {{ env = "test", team = "infra" }}
  items       = ["b", "a"]
  labels      = ["x", "y"]
  shape       = {{ a = "one", b = 1 }}
  anything    = {{ k = [1, 2], s = "str" }}
  secret      = "hunter2-secret"

  rule {{
    name   = "first"
    weight = 3
  }}
  rule {{
    name = "second"
  }}

  timeouts {{
    create = "5m"
  }}
}}

data "echo_data" "d" {{
  input = {{ later = echo_thing.a.computed_later, n = [1, 2, 3] }}
  text  = "hi"
  words = ["p", "q"]
}}

output "echoed" {{
  value = data.echo_data.d.output
}}

output "length" {{
  value = data.echo_data.d.length
}}

output "typed" {{
  value = data.echo_data.d.typed
}}
"#
    )
}

#[test]
fn lifecycle_plan_apply_replace_import_destroy() {
    let provider = echo_provider();
    for_each_cli(|cli| {
        let ws = Workspace::with_providers(cli, &[&provider]);
        ws.write_main_tf(&thing_config("alpha"));
        ws.run(&["validate"]).assert_success();

        let plan = ws.assert_plan_has_changes();
        plan.assert_output_contains("computed_later = (known after apply)")
            .assert_output_contains("secret = (sensitive value)")
            .assert_output_lacks("hunter2-secret")
            .assert_output_lacks("provider-token");

        ws.apply().assert_output_lacks("hunter2-secret");
        let attrs = ws
            .state_resource_attributes("echo_thing.a")
            .expect("in state");
        assert_eq!(attrs["id"], "echo-alpha");
        assert_eq!(attrs["computed_later"], "alpha at revision 1");
        assert_eq!(attrs["revision"], 1);
        assert_eq!(attrs["count_value"], 2.5);
        assert_eq!(attrs["tags"], json!({"env": "test", "team": "infra"}));
        assert_eq!(attrs["items"], json!(["b", "a"]));
        assert_eq!(attrs["shape"], json!({"a": "one", "b": 1}));
        // State JSON keeps a dynamic value together with its type.
        assert_eq!(attrs["anything"]["value"], json!({"k": [1, 2], "s": "str"}));
        assert_eq!(
            attrs["anything"]["type"],
            json!(["object", {"k": ["tuple", ["number", "number"]], "s": "string"}])
        );
        assert_eq!(attrs["rule"][1], json!({"name": "second", "weight": null}));
        assert_eq!(attrs["timeouts"], json!({"create": "5m"}));

        let outputs = ws.outputs_json();
        assert_eq!(
            outputs["echoed"]["value"],
            json!({"later": "alpha at revision 1", "n": [1, 2, 3]})
        );
        assert_eq!(outputs["length"]["value"], 2);
        assert_eq!(
            outputs["typed"]["value"],
            json!({"text": "hi", "amount": null, "flag": null, "words": ["p", "q"]})
        );

        ws.assert_plan_empty();

        // A timeouts-only change is an in-place update, never a replacement.
        ws.write_main_tf(&thing_config("alpha").replace("\"5m\"", "\"7m\""));
        ws.assert_plan_has_changes()
            .assert_output_contains("will be updated in-place")
            .assert_output_lacks("must be replaced");

        ws.write_main_tf(&thing_config("beta"));
        ws.assert_plan_has_changes()
            .assert_output_contains("must be replaced")
            .assert_output_contains("# forces replacement");
        ws.apply();
        let attrs = ws
            .state_resource_attributes("echo_thing.a")
            .expect("in state");
        assert_eq!(attrs["id"], "echo-beta");
        assert_eq!(attrs["revision"], 1, "a new object, not an update");
        ws.assert_plan_empty();

        ws.destroy();
        assert!(ws.state_resource_attributes("echo_thing.a").is_none());

        // Import into a fresh state: the imported object matches a name-only configuration.
        let fresh = Workspace::with_providers(cli, &[&provider]);
        fresh.write_main_tf(&format!(
            "{HEADER}\nresource \"echo_thing\" \"imp\" {{\n  name = \"gamma\"\n}}\n"
        ));
        fresh
            .run(&["import", "echo_thing.imp", "gamma"])
            .assert_failure()
            .assert_output_contains("Error: Invalid import ID");
        fresh
            .run(&["import", "echo_thing.imp", "echo-gamma"])
            .assert_success()
            .assert_output_contains("Import successful");
        let attrs = fresh
            .state_resource_attributes("echo_thing.imp")
            .expect("imported");
        assert_eq!(attrs["name"], "gamma");
        assert_eq!(attrs["computed_later"], "gamma at revision 1");
        fresh.assert_plan_empty();
        fresh.destroy();
    });
}

#[test]
fn create_failure_points_at_the_attribute() {
    let provider = echo_provider();
    for_each_cli(|cli| {
        let ws = Workspace::with_providers(cli, &[&provider]);
        ws.write_main_tf(&format!(
            "{HEADER}\nresource \"echo_thing\" \"f\" {{\n  name           = \"f\"\n  \
             fail_on_create = \"boom-42\"\n}}\n"
        ));
        let out = ws.run(&["apply", "-auto-approve"]);
        out.assert_failure()
            .assert_output_contains("Error: Create failed on request")
            .assert_output_contains("\"boom-42\", so echo_thing refuses to create")
            // The source snippet under the error is the attribute's own line.
            .assert_output_contains("14: fail_on_create = \"boom-42\"");
        assert!(ws.state_resource_attributes("echo_thing.f").is_none());
    });
}

#[test]
fn invalid_name_is_reported_at_validate() {
    let provider = echo_provider();
    for_each_cli(|cli| {
        let ws = Workspace::with_providers(cli, &[&provider]);
        ws.write_main_tf(&format!(
            "{HEADER}\nresource \"echo_thing\" \"v\" {{\n  name = \"has space\"\n}}\n"
        ));
        ws.run(&["validate"])
            .assert_failure()
            .assert_output_contains("Error: Invalid name")
            .assert_output_contains("13: name = \"has space\"");
    });
}

#[test]
fn interrupted_create_stays_in_state_tainted() {
    let provider = echo_provider();
    for_each_cli(|cli| {
        let ws = Workspace::with_providers(cli, &[&provider]);
        ws.write_main_tf(&format!(
            "{HEADER}\nresource \"echo_thing\" \"slow\" {{\n  name           = \"slow\"\n  \
             slow_create_ms = 600000\n}}\n"
        ));
        let out = ws.run_interrupted(
            &["apply", "-auto-approve"],
            InterruptWhen::OutputContains("echo_thing.slow: Creating...".into()),
        );
        out.assert_failure();
        assert!(
            out.duration < Duration::from_secs(120),
            "Stop ended the wait: {out}"
        );
        let state = ws.state().expect("state written");
        let slow = state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "slow")
            .unwrap_or_else(|| panic!("interrupted object lost from state:\n{out}"));
        assert_eq!(slow["instances"][0]["status"], "tainted");
        assert_eq!(slow["instances"][0]["attributes"]["id"], "echo-slow");
    });
}
