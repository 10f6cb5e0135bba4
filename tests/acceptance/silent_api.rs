//! A silent HostUp at plan time, as a user meets it: the real provider under every Terraform and
//! OpenTofu CLI found, against a `hostup-sim` that accepts the target VPS's `GET` and never
//! answers it (`/_sim/hang`). The plan must fail within a minute, and its error must name the
//! endpoint and the time waited (issue 12: "a GET that hangs: plan ends within 60 s with the
//! endpoint named").
//!
//! The CLIs run at the same time, each on its own thread with its own simulator and workspace:
//! every run spends most of its ~50 s waiting on a socket, so the test takes about one run's time
//! rather than one per CLI. The provider's production bounds are used unchanged (no environment
//! knob shortens them), because they are what is being tested.

use std::time::Duration;

use serde_json::Value;
use testkit::sim::{matching, writes, Sim};
use testkit::world::World;
use testkit::*;

use crate::provider;

/// The API key of the test account; never to appear in Terraform's output.
const KEY: &str = "hu_acc_silent_key_5d02b7";

const WEB: &str = "vps_01silentweb00000000001";
const DB: &str = "vps_01silentdb000000000001";
const BACKUP: &str = "bkp_01silentdb";

/// The bound the issue sets for a plan whose read never gets an answer.
const PLAN_BOUND: Duration = Duration::from_secs(60);

fn fixture() -> Value {
    World::one_restore(KEY, WEB, DB, BACKUP).build()
}

fn main_tf() -> String {
    format!(
        r#"terraform {{
  required_providers {{
    hostup = {{
      source = "hostup/hostup"
    }}
  }}
}}

provider "hostup" {{}}

resource "hostup_vps_restore" "web" {{
  target_vps_id = "{WEB}"
  source_vps_id = "{DB}"
  backup_id     = "{BACKUP}"
}}
"#
    )
}

/// What one CLI's plan did.
struct Run {
    cli: String,
    took: Duration,
}

/// `N` from `… in N s (` after `lead` in `text`.
fn seconds_after(text: &str, lead: &str) -> Option<f64> {
    let rest = &text[text.find(lead)? + lead.len()..];
    rest.split_once(" s")?.0.trim().parse().ok()
}

/// `N` from `(N attempt` after `lead` in `text`.
fn attempts_after(text: &str, lead: &str) -> Option<usize> {
    let rest = &text[text.find(lead)? + lead.len()..];
    let rest = &rest[rest.find('(')? + 1..];
    rest.split_once(" attempt")?.0.trim().parse().ok()
}

/// Plans against a simulator whose `GET /api/v2/vps/{WEB}` hangs, and checks what the user sees
/// and what the simulator saw.
fn plan_against_a_hanging_target_read(cli: &TerraformCli, provider: &ProviderDir) -> Run {
    let label = cli.label();
    let sim = Sim::start(&fixture(), &[]);
    let target_path = format!("/api/v2/vps/{WEB}");
    // Every attempt of the read hangs, however many the client makes.
    sim.hang("GET", &target_path, 100);
    let mut ws = Workspace::with_providers(cli, &[provider]);
    ws.set_env("HOSTUP_ENDPOINT", sim.base_url())
        .set_env("HOSTUP_API_KEY", KEY)
        // Twice the bound: a provider that waits too long is measured, not killed.
        .set_timeout(PLAN_BOUND * 2);
    ws.write_main_tf(&main_tf());

    let out = ws.run(&["plan"]);
    let took = out.duration;
    let text = squash_whitespace(&out.combined().replace(['│', '╷', '╵'], " "));
    assert_eq!(out.code, Some(1), "{label}: the plan should fail:\n{out}");
    assert!(
        took < PLAN_BOUND,
        "{label}: the plan took {took:?}, more than {PLAN_BOUND:?}:\n{out}"
    );
    let lead = format!("GET {target_path} got no answer from HostUp in ");
    let waited = seconds_after(&text, &lead)
        .unwrap_or_else(|| panic!("{label}: no {lead:?}<N> s in:\n{out}"));
    assert!(
        waited > 0.0 && waited <= took.as_secs_f64(),
        "{label}: says it waited {waited} s, in a plan of {took:?}:\n{out}"
    );
    assert!(
        text.contains("This was a read, so nothing changed"),
        "{label}: the error should say nothing changed:\n{out}"
    );
    assert!(
        text.contains(&format!("Could not read the VPS \"{WEB}\"")),
        "{label}: the error should say which read failed:\n{out}"
    );
    assert!(!out.combined().contains(KEY), "{label}: API key in output");

    let log = sim.requests();
    let held: Vec<_> = matching(&log, "GET", &target_path)
        .filter(|r| r.fault.as_deref() == Some("hang"))
        .collect();
    let said = attempts_after(&text, &lead)
        .unwrap_or_else(|| panic!("{label}: no attempt count after {lead:?} in:\n{out}"));
    assert_eq!(
        held.len(),
        said,
        "{label}: the error counts {said} attempts, the simulator held {}",
        held.len()
    );
    assert!(
        writes(&log).is_empty(),
        "{label}: a plan wrote: {:?}",
        writes(&log)
    );
    Run { cli: label, took }
}

#[test]
fn plan_ends_within_a_minute_naming_the_endpoint_when_a_read_never_answers() {
    let provider = provider();
    for_each_cli_concurrently(|cli| {
        let run = plan_against_a_hanging_target_read(cli, &provider);
        eprintln!(
            "silent_api: {}: plan failed as it should after {:.1} s",
            run.cli,
            run.took.as_secs_f64()
        );
    });
}
