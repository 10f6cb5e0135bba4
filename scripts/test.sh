#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: formatting and lints first (a slip fails in
# seconds), then the pinned Terraform and OpenTofu installs, the release tools (zig,
# cargo-zigbuild, tfplugindocs, gnupg, Debian's Rust for the cross builds, qemu-user, wine) and a
# first build of every release platform, running in the background while the workspace builds
# and the tests that need neither run; then the acceptance tests, which drive the static
# linux_amd64 release binary (HOSTUP_TEST_PROVIDER=release; see crates/testkit/src/release.rs)
# and install every platform's package from the release's mirrors. Stops at the first failing step with a non-zero exit.
#
# Pass-through: HOSTUP_TF_VERSIONS=1.15.5,1.0.3 (or =tofu) narrows the Terraform/OpenTofu matrix;
# HOSTUP_TEST_PROVIDER=debug drives the debug build instead; any arguments are handed to the final
# `cargo test` (e.g. `scripts/test.sh --test acceptance terraform_smoke::`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$SECONDS
# Each step with the run's elapsed time, so a slow run shows where the time went.
step() { printf '\n==> [%02d:%02d] %s\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$*" >&2; }
mkdir -p target/tmp

# Background steps: each writes target/tmp/NAME.log, shown when it is joined.
declare -A pids
background() { # name command...
  local name=$1
  shift
  step "$* (in the background, log: target/tmp/$name.log)"
  # A process group of its own (setsid), so stopping the run stops everything it started: a
  # cargo build left running would hold the build directory's lock against the next run.
  setsid "$@" >"target/tmp/$name.log" 2>&1 &
  pids[$name]=$!
}
join() { # name
  local name=$1 status=0
  wait "${pids[$name]}" || status=$?
  step "joined $name (exit $status)"
  sed 's/^/    /' "target/tmp/$name.log" >&2
  [[ $status -eq 0 ]] || {
    echo "make test: $name failed" >&2
    exit "$status"
  }
}
# A failing foreground step, or a signal, ends the script; do not leave the background steps (and
# what they started) running.
stop_background() {
  local pid
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap stop_background EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

background install-terraform scripts/install-terraform.sh
background install-tofu scripts/install-tofu.sh
# The cross builds the tests install, the longest step, start at once (release.sh installs the
# tools it needs first; cargo's freshness check makes the tests' own run of it a matter of seconds
# after this one); the other release tools install beside them.
background release-build env HOSTUP_RELEASE_PROFILE="${HOSTUP_RELEASE_PROFILE:-dist-test}" \
  DIST=target/tmp/release-build/dist HOSTUP_RELEASE_GPG_KEY= VERSION= TARGETS= scripts/release.sh
background release-tools scripts/install-release-tools.sh tfplugindocs gpg qemu wine

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "cargo build --all-targets"
cargo build --all-targets

join_all() {
  join install-terraform
  join install-tofu
  join release-tools
  join release-build
}

export HOSTUP_TEST_PROVIDER=${HOSTUP_TEST_PROVIDER:-release}
matrix="target/tmp/terraform-matrix.txt"
log="target/tmp/test-output.log"
rm -f "$matrix"
: >"$log"

run_tests() { # cargo test arguments...
  step "cargo test $*"
  cargo test "$@" 2>&1 | tee -a "$log"
}

if [[ $# -gt 0 ]]; then
  join_all
  run_tests "$@"
else
  # What needs no CLI and no release build runs while the installs and cross builds go on (its
  # waits on simulated jobs and timeouts fill the cores' idle time); the acceptance tests, which
  # need both, run once those are done. Doc tests get their own pass (--all-targets has none).
  run_tests --doc
  run_tests --lib --bins --examples --test integration
  join_all
  run_tests --test acceptance
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
