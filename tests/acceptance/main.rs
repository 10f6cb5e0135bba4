//! Acceptance tests: the real provider binaries (`terraform-provider-hostup`, the `echo` example)
//! driven by every pinned Terraform and OpenTofu CLI through `testkit`'s workspaces, against a
//! real `hostup-sim` process. One test binary, one module per subject; `cargo test --test
//! acceptance restore::` runs one of them.

mod action;
mod backup;
mod docs_schema;
mod echo;
mod harness_selftest;
mod release_install;
mod restore;
mod silent_api;
mod terraform_smoke;

use std::path::PathBuf;

use testkit::ProviderDir;

/// The provider binary under test: this build's, or the static release binary with
/// `HOSTUP_TEST_PROVIDER=release` (what `make test` runs; see `testkit::release`).
fn provider_binary() -> PathBuf {
    testkit::release::provider_binary(env!("CARGO_BIN_EXE_terraform-provider-hostup"))
}

/// `hostup/hostup` wired to [`provider_binary`] through `dev_overrides`.
fn provider() -> ProviderDir {
    ProviderDir::new(&provider_binary(), "hostup", "hostup")
}
