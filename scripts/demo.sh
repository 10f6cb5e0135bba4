#!/usr/bin/env bash
# `make demo`: the quickstart against a local HostUp simulator, start to finish, offline.
#
# Builds the provider and hostup-sim, picks the CLI, starts hostup-sim with
# examples/sim/fixture.json, then plans and applies examples/quickstart in a scratch directory and
# shows the result. Nothing outside the scratch directory and .tools/ is touched; the simulator is
# stopped on exit.
#
# The CLI: HOSTUP_CLI=terraform or HOSTUP_CLI=tofu picks the client (the one on PATH, else the
# pinned build in .tools/, installed on first use: Terraform 1.15.5, or the newest OpenTofu in
# scripts/tofu/, whose cold build takes several minutes); HOSTUP_CLI=/path/to/binary uses that
# binary. Unset, it is the `terraform` on PATH, else the `tofu` on PATH, else the pinned Terraform.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
source scripts/common.sh

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Building terraform-provider-hostup and hostup-sim"
cargo build --quiet --bin terraform-provider-hostup --bin hostup-sim
debug_dir="$(cargo_target_dir)/debug"

pinned() { # terraform|tofu
  case "$1" in
  terraform)
    say "No terraform on PATH: installing the pinned Terraform 1.15.5 into .tools/"
    scripts/install-terraform.sh
    tf="$repo/.tools/bin/terraform-1.15.5"
    ;;
  tofu)
    say "No tofu on PATH: building the pinned OpenTofu builds into .tools/ (cached after the first time)"
    scripts/install-tofu.sh --native
    # The newest pinned release: scripts/tofu/X.Y.Z/ folders are the list.
    tf="$repo/.tools/bin/tofu-$(find scripts/tofu -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1)"
    ;;
  esac
}

case "${HOSTUP_CLI:-}" in
"")
  if command -v terraform >/dev/null 2>&1; then
    tf=$(command -v terraform)
  elif command -v tofu >/dev/null 2>&1; then
    tf=$(command -v tofu)
  else
    pinned terraform
  fi
  ;;
terraform | tofu)
  if command -v "$HOSTUP_CLI" >/dev/null 2>&1; then
    tf=$(command -v "$HOSTUP_CLI")
  else
    pinned "$HOSTUP_CLI"
  fi
  ;;
*)
  tf=$HOSTUP_CLI
  [[ -x "$tf" ]] || { echo "HOSTUP_CLI=$tf is neither terraform, tofu nor an executable" >&2; exit 1; }
  ;;
esac
# Without TF_CLI_CONFIG_FILE: OpenTofu prints a warning first when it names a missing file.
# The whole output, then its first line: `| head -n 1` can end the CLI with SIGPIPE (exit 141).
version_line=$(env -u TF_CLI_CONFIG_FILE "$tf" version)
version_line=${version_line%%$'\n'*}
case "$version_line" in
"OpenTofu v"*) cmd=tofu registry=registry.opentofu.org ;;
"Terraform v"*) cmd=terraform registry=registry.terraform.io ;;
*) echo "$tf: unrecognised version output '$version_line'" >&2; exit 1 ;;
esac
say "Using $version_line ($tf)"

work=$(mktemp -d "${TMPDIR:-/tmp}/hostup-demo.XXXXXX")
sim_pid=""
cleanup() {
  [[ -n "$sim_pid" ]] && kill "$sim_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say "Starting hostup-sim with examples/sim/fixture.json (restore jobs take 8 s)"
mkfifo "$work/sim.out"
"$debug_dir/hostup-sim" --fixture examples/sim/fixture.json --job-duration 8s \
  --request-log "$work/requests.jsonl" >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
exec 3<"$work/sim.out"
read -r -t 20 endpoint <&3 || { cat "$work/sim.err" >&2; echo "hostup-sim did not start" >&2; exit 1; }
echo "hostup-sim listens on $endpoint"

mkdir -p "$work/providers" "$work/quickstart"
ln -s "$debug_dir/terraform-provider-hostup" "$work/providers/terraform-provider-hostup"
cat >"$work/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "$registry/hostup/hostup" = "$work/providers"
  }
  direct {}
}
RC
cp examples/quickstart/main.tf examples/quickstart/terraform.tfvars "$work/quickstart/"

export TF_CLI_CONFIG_FILE="$work/terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export HOSTUP_ENDPOINT="$endpoint" HOSTUP_API_KEY="hu_sim_acme_full_0001"
cd "$work/quickstart"

say "$cmd plan: note the warning naming what the restore destroys"
"$tf" plan -input=false

say "$cmd apply: restores db-01's newest backup onto web-01 and waits for the job"
"$tf" apply -input=false -auto-approve

say "$cmd output"
"$tf" output

say "$cmd plan again: nothing to do"
"$tf" plan -input=false -detailed-exitcode && echo "No changes: the restore ran once and is recorded in state."

say "What the simulator saw"
grep -c '"method":"POST"' "$work/requests.jsonl" | xargs printf '%s POST request(s) to hostup-sim\n'
