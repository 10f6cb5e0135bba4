#!/usr/bin/env bash
# `make release`: build the provider for each release target and write dist/ in the Terraform
# Registry's release format, plus network and filesystem mirrors for Terraform and OpenTofu
# (scripts/package-release.py says what goes where).
#
# Settings (environment, or `make release VERSION=… TARGETS=…`):
#   VERSION   release version; default: `version` in Cargo.toml. The binary reports it
#             (--version) and sends it in its User-Agent.
#   TARGETS   Rust targets to build, space- or comma-separated; default x86_64-unknown-linux-gnu.2.17
#             (linux_amd64, linked by cargo-zigbuild against glibc 2.17 so it runs on Debian 10+,
#             Ubuntu 18.04+, Amazon Linux 2, RHEL/CentOS 7+). Every target needs its Rust standard
#             library installed (`rustup target add …`); ours have only x86_64-unknown-linux-gnu.
#   DIST      output directory; default dist/ in the repository.
#   HOSTUP_RELEASE_GPG_KEY         key id or fingerprint to sign SHA256SUMS with (gpg --local-user),
#                                  from the default keyring or $GNUPGHOME; unset: no .sig file.
#   HOSTUP_RELEASE_GPG_PASSPHRASE  its passphrase, if it has one.
#   HOSTUP_RELEASE_TARGET_DIR      cargo target dir for release builds; default target/release-dist
#                                  (apart from target/, so the tests can run this under `cargo test`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

source "$ROOT/scripts/common.sh"

version=${VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)}
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "VERSION '$version' is not a semantic version"
targets=${TARGETS:-x86_64-unknown-linux-gnu.2.17}
targets=${targets//,/ }
dist=${DIST:-$ROOT/dist}
export CARGO_TARGET_DIR=${HOSTUP_RELEASE_TARGET_DIR:-$ROOT/target/release-dist}

# Rust target (with an optional .GLIBC suffix for cargo-zigbuild) -> Terraform OS_ARCH.
os_arch_of() {
  case "${1%%.*}" in
  x86_64-unknown-linux-*) echo linux_amd64 ;;
  aarch64-unknown-linux-*) echo linux_arm64 ;;
  x86_64-apple-darwin) echo darwin_amd64 ;;
  aarch64-apple-darwin) echo darwin_arm64 ;;
  x86_64-pc-windows-*) echo windows_amd64 ;;
  *) die "no Terraform OS_ARCH known for target $1" ;;
  esac
}

# The highest GLIBC_x.y symbol version a binary needs ("" for a static or non-glibc binary).
max_glibc() {
  readelf --version-info --wide "$1" | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/.*GLIBC_//' | sort -V | tail -n 1
}

scripts/install-release-tools.sh zig zigbuild >&2
[[ -z "${HOSTUP_RELEASE_GPG_KEY:-}" ]] || scripts/install-release-tools.sh gpg >&2
export PATH="$ROOT/.tools/bin:$PATH"
export CARGO_ZIGBUILD_ZIG_PATH="$ROOT/.tools/bin/zig"
# Version baked into the binary (src/lib.rs VERSION): --version and the User-Agent.
export HOSTUP_PROVIDER_VERSION=$version

# Refuse before building anything when a target cannot be built here.
for target in $targets; do
  triple=${target%%.*}
  os_arch_of "$target" >/dev/null
  [[ -d "$(rustc --print target-libdir --target "$triple" 2>/dev/null)" ]] ||
    die "the Rust standard library for $triple is not installed (rustup target add $triple)"
done

binaries=()
for target in $targets; do
  triple=${target%%.*}
  os_arch=$(os_arch_of "$target")
  log "building $target ($os_arch), version $version"
  start=$SECONDS
  cargo zigbuild --release --locked --bin terraform-provider-hostup --target "$target"
  exe=terraform-provider-hostup
  [[ $os_arch == windows_* ]] && exe+=.exe
  bin="$CARGO_TARGET_DIR/$triple/release/$exe"
  [[ -x "$bin" ]] || die "cargo zigbuild left no $bin"
  log "built $bin in $((SECONDS - start))s"
  if [[ "$target" == *-linux-gnu.* ]]; then
    want=${target#*.}
    have=$(max_glibc "$bin")
    [[ -n "$have" && "$(printf '%s\n%s\n' "$have" "$want" | sort -V | tail -n 1)" == "$want" ]] ||
      die "$bin needs GLIBC_$have, above the $want asked for"
    log "$bin: highest glibc symbol version GLIBC_$have (limit $want)"
  fi
  binaries+=("$os_arch=$bin")
done

python3 scripts/package-release.py --version "$version" --out "$dist" \
  --sign-key "${HOSTUP_RELEASE_GPG_KEY:-}" "${binaries[@]}"
log "wrote $dist"
