#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: pinned Terraform and OpenTofu installs, the
# release tools (zig, cargo-zigbuild, tfplugindocs, gnupg), formatting, lints, a build of every
# target (acceptance tests run the example providers from target/debug/examples), then every test.
# Stops at the first failing step with a non-zero exit.
#
# Pass-through: HOSTUP_TF_VERSIONS=1.15.5,1.0.3 (or =tofu) narrows the Terraform/OpenTofu matrix;
# any arguments are handed to the final `cargo test` (e.g. `scripts/test.sh --test acceptance terraform_smoke::`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }
start=$SECONDS

step "scripts/install-terraform.sh"
scripts/install-terraform.sh

step "scripts/install-tofu.sh"
scripts/install-tofu.sh

step "scripts/install-release-tools.sh"
scripts/install-release-tools.sh

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "cargo build --all-targets"
cargo build --all-targets

mkdir -p target/tmp
matrix="target/tmp/terraform-matrix.txt"
log="target/tmp/test-output.log"
rm -f "$matrix"
: >"$log"

run_tests() { # cargo test arguments...
  step "cargo test $*"
  cargo test "$@" 2>&1 | tee -a "$log"
}

if [[ $# -gt 0 ]]; then
  run_tests "$@"
else
  # --all-targets leaves out doc tests; they get their own pass.
  run_tests --doc
  run_tests --all-targets
fi

step "Terraform and OpenTofu CLIs the acceptance tests ran against${HOSTUP_TF_VERSIONS:+ (HOSTUP_TF_VERSIONS=$HOSTUP_TF_VERSIONS)}:"
if [[ -s "$matrix" ]]; then
  sed 's/^/    /' "$matrix"
else
  echo "    (none recorded: the terraform_smoke test did not run)"
fi

# One closing line over every test binary, since cargo's last "test result" line is only the last
# binary's (often one with no tests).
awk '/^test result: /{
  for (i = 1; i <= NF; i++) {
    if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1); if ($i ~ /^ignored;?$/) s += $(i-1)
  }
} END { printf "\nmake test: all steps passed in %ss\ntests: %d passed, %d failed, %d skipped\n", secs, p, f, s }' \
  secs="$((SECONDS - start))" "$log"
