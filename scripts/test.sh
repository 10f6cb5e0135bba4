#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: formatting first (a slip fails in seconds),
# clippy's lints with the workspace's build, then the pinned Terraform and OpenTofu installs, the release tools (zig,
# cargo-zigbuild, tfplugindocs, gnupg, Debian's Rust for the cross builds, qemu-user, wine) and a
# first build of every release platform, running in the background while the workspace builds
# and the tests that need neither run; then the acceptance tests, which drive the static
# linux_amd64 release binary (built first; the other platforms go on building meanwhile) and
# install every platform's package from the release's mirrors. Stops at the first failing step
# with a non-zero exit.
#
# Pass-through: HOSTUP_TF_VERSIONS=1.15.5,1.0.3 (or =tofu) narrows the Terraform/OpenTofu matrix;
# HOSTUP_TEST_PROVIDER=debug drives the debug build instead; any arguments are handed to the final
# `cargo test` (e.g. `scripts/test.sh --test acceptance terraform_smoke::`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/common.sh

start=$SECONDS
# Each step with the run's elapsed time, so a slow run shows where the time went.
step() { printf '\n==> [%02d:%02d] %s\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$*" >&2; }
mkdir -p target/tmp

# Background steps: each writes target/tmp/NAME.log, shown when it is joined.
declare -A pids
background() { # name command...   (BACKGROUND_LABEL: what to print instead of the command)
  local name=$1
  shift
  step "${BACKGROUND_LABEL:-$*} (in the background, log: target/tmp/$name.log)"
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
# Two-stage background steps: what the acceptance tests need first (the machine's own OpenTofu
# CLIs; the static linux_amd64 release binary), a ready mark, then what only the release tests
# need (OpenTofu for linux_arm64 and windows_amd64; the other four platforms), at a lower priority
# so the tests running meanwhile keep their pace. The release tests wait for those on their locks
# (install-tofu.sh's, cargo's), and the freshness checks make their own runs of the scripts a
# matter of seconds.
ready=target/tmp/ready
rm -rf "$ready" && mkdir -p "$ready"
BACKGROUND_LABEL="scripts/install-tofu.sh --native, then --cross" \
  background install-tofu bash -c '
  scripts/install-tofu.sh --native && touch "$1/tofu" && nice -n 10 scripts/install-tofu.sh --cross' _ "$ready"
amd64=target/tmp/release-amd64
rm -rf "$amd64"
BACKGROUND_LABEL="scripts/release.sh: linux_amd64, then all five platforms (dist-test profile)" \
  background release-build bash -c '
  export HOSTUP_RELEASE_PROFILE=${HOSTUP_RELEASE_PROFILE:-dist-test} HOSTUP_RELEASE_GPG_KEY= VERSION=
  DIST="$1/dist" TARGETS=x86_64-unknown-linux-musl scripts/release.sh &&
    python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
      "$1"/dist/*_linux_amd64.zip "$1/bin" && touch "$2/release-amd64" &&
    DIST=target/tmp/release-build/dist TARGETS= nice -n 10 scripts/release.sh' _ "$amd64" "$ready"
background release-tools scripts/install-release-tools.sh tfplugindocs gpg qemu wine

# Clippy lints the workspace's crates while they build. clippy-driver is rustc with clippy's lint
# passes (what `cargo clippy` runs for the workspace's crates; it writes the same kind of
# artifacts), so as the workspace's compiler wrapper it makes `cargo build` and `cargo test` lint
# and compile in one pass; dependencies build with plain rustc, their lints capped, as under
# `cargo clippy`. `cargo clippy` followed by `cargo build` type-checks every dependency twice
# (cargo keeps check and build artifacts apart): 431 CPU-seconds from cold against 330 this way.
# CLIPPY_ARGS is how `cargo clippy -- -D warnings` hands its flags to clippy-driver.
clippy_driver="$(rustc --print sysroot)/bin/clippy-driver"
[[ -x "$clippy_driver" ]] || die "no clippy-driver in $(rustc --print sysroot)/bin: rustup component add clippy"
export RUSTC_WORKSPACE_WRAPPER=$clippy_driver CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

step "cargo build --all-targets, linted by clippy (-D warnings)"
cargo build --all-targets

# Waits until the first stage of the background step `name` marked itself ready (or failed).
wait_ready() { # name mark
  while [[ ! -e "$ready/$2" ]]; do
    kill -0 "${pids[$1]}" 2>/dev/null || join "$1"
    sleep 1
  done
}

join_all() {
  join install-terraform
  join release-tools
  wait_ready install-tofu tofu
  step "the machine's own OpenTofu CLIs are built; the linux_arm64 and windows_amd64 ones go on building"
  wait_ready release-build release-amd64
  step "the static linux_amd64 release binary is built; the other platforms go on building"
  # The acceptance tests drive it (HOSTUP_TEST_PROVIDER=release: see crates/testkit/src/release.rs).
  if [[ "$HOSTUP_TEST_PROVIDER" == release ]]; then
    HOSTUP_TEST_PROVIDER="$PWD/$(echo "$amd64"/bin/terraform-provider-hostup_v*)"
    chmod +x "$HOSTUP_TEST_PROVIDER"
  fi
}

export HOSTUP_TEST_PROVIDER=${HOSTUP_TEST_PROVIDER:-release}
# Where the terraform_smoke test writes it: cargo's CARGO_TARGET_TMPDIR.
matrix="$(cargo_target_dir)/tmp/terraform-matrix.txt"
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
  # Three at a time: most of them wait on simulated jobs, timeouts and signals, not on the CPU.
  # The release tests last: they wait for the other platforms' builds, and would hold the test
  # threads meanwhile. Those all at once: the builds are the end of a cold run, and what comes
  # after them is only these tests, each a CLI working alone most of the time; three at a time
  # left a core idle for minutes.
  run_tests --test acceptance -- --skip release_install:: "--test-threads=${HOSTUP_ACCEPTANCE_THREADS:-3}"
  run_tests --test acceptance release_install:: -- --test-threads=16
fi
join install-tofu
join release-build
# The acceptance tests drove the linux_amd64 binary of the first stage; the release's own (from
# the build of every platform) must be the same bytes. The zips are deterministic, so their sums
# say it.
sum_of() { grep '_linux_amd64\.zip$' "$1"/*_SHA256SUMS | cut -d' ' -f1; }
[[ -n "$(sum_of "$amd64/dist")" && "$(sum_of "$amd64/dist")" == "$(sum_of target/tmp/release-build/dist)" ]] || {
  echo "make test: the linux_amd64 binary the acceptance tests drove is not the release's" >&2
  exit 1
}
step "the linux_amd64 package the acceptance tests drove is the release's, byte for byte"

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
