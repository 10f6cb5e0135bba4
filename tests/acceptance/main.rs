//! Acceptance tests: the real provider binaries (`terraform-provider-hostup`, the `echo` example)
//! driven by every pinned Terraform and OpenTofu CLI through `testkit`'s workspaces, against a
//! real `hostup-sim` process. One test binary, one module per subject; `cargo test --test
//! acceptance restore::` runs one of them.

mod action;
mod backup;
mod docs_schema;
mod echo;
mod harness_selftest;
mod query;
mod release_install;
mod restore;
mod silent_api;
mod terraform_smoke;

use std::path::PathBuf;

use testkit::{ProviderDir, Workspace};

/// The provider binary under test: this build's, or the static release binary with
/// `HOSTUP_TEST_PROVIDER=release` (what `make test` runs; see `testkit::release`).
fn provider_binary() -> PathBuf {
    testkit::release::provider_binary(env!("CARGO_BIN_EXE_terraform-provider-hostup"))
}

/// `hostup/hostup` wired to [`provider_binary`] through `dev_overrides`.
fn provider() -> ProviderDir {
    ProviderDir::new(&provider_binary(), "hostup", "hostup")
}

/// Applies `main_tf` in `ws`, whose tainted restore or backup an apply with
/// `create_before_destroy` left deposed: Terraform plans the deposed object apart from the new
/// one, in either order, and an apply creates the new one first. The apply fails before anything
/// is sent either way: in the plan, when the provider met the deposed job after it planned the
/// new create ("came to light too late"), or at the apply's own plan, when it met it first and
/// the plan adopted it. The caller counts the requests.
#[track_caller]
fn apply_fails_over_a_deposed_job(ws: &Workspace, main_tf: &str) {
    ws.write_main_tf(main_tf);
    let out = ws.run(&["apply", "-auto-approve"]);
    out.assert_failure();
    assert!(
        out.output_contains("came to light too late")
            || out.output_contains("Provider produced inconsistent final plan"),
        "{out}"
    );
}
