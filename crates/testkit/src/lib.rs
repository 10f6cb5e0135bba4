//! Acceptance-test harness: finds the Terraform / OpenTofu CLIs to test against and runs them in
//! throw-away workspaces wired to a locally built provider through `dev_overrides`.
//!
//! It knows nothing about any one provider. A test picks its CLIs with [`for_each_cli`] (or
//! [`terraform_clis`]), puts its provider binary into a [`ProviderDir`], opens a [`Workspace`] and
//! drives `terraform` through it. Every command runs with colour and input off, stdin closed, inherited
//! `TF_*` settings removed, in its own process group, and under a deadline, so a hung Terraform or
//! provider fails the test instead of stalling CI.
//!
//! Environment knobs:
//! - `HOSTUP_TF_VERSIONS=1.15.5,1.0.3`: run only these versions (a `major.minor` prefix matches too,
//!   `tofu` / `terraform` select a flavour). A filter that matches nothing is an error.
//! - `HOSTUP_TF_TIMEOUT_SECS`: per-command deadline (default 180).
//! - `HOSTUP_TF_KEEP=1`: keep the workspace directories of failed tests and print where they are.
//! - `CI`: with no CLI found, fail instead of skipping; with no filter, fail unless both a Terraform
//!   and an OpenTofu were found.
//!
//! The CLIs: the pinned `.tools/bin/terraform-X.Y.Z` (scripts/install-terraform.sh) and
//! `.tools/bin/tofu-X.Y.Z` (scripts/install-tofu.sh), plus any `terraform` / `tofu` on `PATH`.

pub mod release;
pub mod sim;
pub mod world;

mod cli;
mod process;
mod workspace;

pub use cli::*;
pub use process::*;
pub use workspace::*;

use std::path::{Path, PathBuf};

/// The repository root (where `.tools/` lives): two levels above this crate.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit sits two levels below the repository root")
        .to_path_buf()
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// An HCL quoted string; JSON's escaping is a valid subset, plus `${`/`%{` must not interpolate.
pub fn hcl_string(s: &str) -> String {
    serde_json::Value::String(s.to_string())
        .to_string()
        .replace("${", "$${")
        .replace("%{", "%%{")
}

/// Collapses every run of whitespace to one space and trims the ends.
pub fn squash_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
