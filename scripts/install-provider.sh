#!/usr/bin/env bash
# `make install`: build the provider in release mode and put it where `terraform init` (and
# `tofu init`) look for local providers, so `source = "hostup/hostup"` resolves without
# dev_overrides. PLUGIN_DIR overrides the default ~/.terraform.d/plugins.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/common.sh

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) os_arch=linux_amd64 ;;
  Linux/aarch64) os_arch=linux_arm64 ;;
  Darwin/x86_64) os_arch=darwin_amd64 ;;
  Darwin/arm64) os_arch=darwin_arm64 ;;
  *) echo "unsupported platform $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac
plugin_dir=${PLUGIN_DIR:-$HOME/.terraform.d/plugins}
binary=${PROVIDER_BINARY:-}

if [[ -z "$binary" ]]; then
  cargo build --release --bin terraform-provider-hostup
  binary="$(cargo_target_dir)/release/terraform-provider-hostup"
fi

# Terraform resolves hostup/hostup on registry.terraform.io, OpenTofu on registry.opentofu.org.
for host in registry.terraform.io registry.opentofu.org; do
  dest="$plugin_dir/$host/hostup/hostup/$version/$os_arch"
  mkdir -p "$dest"
  install -m 0755 "$binary" "$dest/terraform-provider-hostup_v$version"
  echo "installed $dest/terraform-provider-hostup_v$version"
done
echo "Use it with: terraform { required_providers { hostup = { source = \"hostup/hostup\", version = \"$version\" } } } and terraform init"
