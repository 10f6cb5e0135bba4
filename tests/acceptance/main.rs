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
