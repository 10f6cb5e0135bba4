#!/usr/bin/env bash
# Installs the pinned tools that `make release` and the release/docs tests need into .tools/
# (git-ignored), from package registries only:
#   - zig (PyPI `ziglang` wheel, hash-checked), the C toolchain and linker cargo-zigbuild drives to
#     link against an old glibc (2.17) so the release binary runs on every Linux runner in use;
#   - cargo-zigbuild (crates.io, `cargo install --locked`);
#   - tfplugindocs (Go module proxy, `go install …@version`), for `tfplugindocs validate` of docs/;
#   - gnupg, only when no `gpg` is on PATH (Debian's package; signing and the signature test).
#
# Usage: scripts/install-release-tools.sh [zig|zigbuild|tfplugindocs|gpg]...   (default: all)
# Idempotent: a tool whose stamp matches its pin is left alone (no network, well under a second).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"

ZIG_VERSION=0.17.1
ZIG_WHEEL_SHA256=ea6cc5d87b033cf0aedfbc8f9549a908cae6c50ac31f1698188fa48a74524b54
ZIGBUILD_VERSION=0.24.1
TFPLUGINDOCS_VERSION=v0.25.0

source "$ROOT/scripts/common.sh"

mkdir -p "$BIN"

install_zig() {
  local venv="$TOOLS/venvs/ziglang-$ZIG_VERSION" want="ziglang $ZIG_VERSION $ZIG_WHEEL_SHA256"
  if [[ -x "$BIN/zig" && -f "$venv/.hostup-stamp" && "$(cat "$venv/.hostup-stamp")" == "$want" ]]; then
    return 0
  fi
  log "installing zig $ZIG_VERSION (PyPI ziglang wheel)"
  rm -rf "$venv" "$BIN/zig"
  python3 -m venv --without-pip "$venv"
  printf 'ziglang==%s --hash=sha256:%s\n' "$ZIG_VERSION" "$ZIG_WHEEL_SHA256" >"$venv/requirements.txt"
  quiet python3 -m pip --python "$venv/bin/python" install --no-deps --only-binary :all: \
    --require-hashes -r "$venv/requirements.txt" || die "pip could not install ziglang==$ZIG_VERSION"
  local zig
  zig="$(echo "$venv"/lib/python3*/site-packages/ziglang/zig)"
  [[ -x "$zig" ]] || die "no zig executable in the ziglang wheel ($zig)"
  ln -sf "$zig" "$BIN/zig"
  [[ "$("$BIN/zig" version)" == "$ZIG_VERSION" ]] || die "zig reports $("$BIN/zig" version)"
  printf '%s\n' "$want" >"$venv/.hostup-stamp"
}

install_zigbuild() {
  local root="$TOOLS/cargo-zigbuild-$ZIGBUILD_VERSION"
  if [[ -x "$root/bin/cargo-zigbuild" ]]; then
    ln -sf "$root/bin/cargo-zigbuild" "$BIN/cargo-zigbuild"
    return 0
  fi
  log "installing cargo-zigbuild $ZIGBUILD_VERSION (crates.io)"
  rm -rf "$root"
  quiet cargo install --locked --quiet --root "$root" --version "=$ZIGBUILD_VERSION" cargo-zigbuild ||
    die "cargo install cargo-zigbuild@$ZIGBUILD_VERSION failed"
  rm -f "$root/.crates.toml" "$root/.crates2.json"
  ln -sf "$root/bin/cargo-zigbuild" "$BIN/cargo-zigbuild"
}

install_tfplugindocs() {
  local dir="$TOOLS/tfplugindocs-$TFPLUGINDOCS_VERSION"
  if [[ -x "$dir/tfplugindocs" ]]; then
    ln -sf "$dir/tfplugindocs" "$BIN/tfplugindocs"
    return 0
  fi
  command -v go >/dev/null || die "tfplugindocs is built with Go (go on PATH), none found"
  log "installing tfplugindocs $TFPLUGINDOCS_VERSION (Go module proxy)"
  rm -rf "$dir"
  mkdir -p "$dir"
  quiet env GOBIN="$dir" GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go install "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs@$TFPLUGINDOCS_VERSION" ||
    die "go install tfplugindocs@$TFPLUGINDOCS_VERSION failed"
  ln -sf "$dir/tfplugindocs" "$BIN/tfplugindocs"
}

install_gpg() {
  command -v gpg >/dev/null && return 0
  log "installing gnupg (Debian package)"
  command -v apt-get >/dev/null || die "no gpg on PATH and no apt-get to install gnupg"
  quiet apt-get update -q && quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnupg ||
    die "apt-get install gnupg failed"
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(zig zigbuild tfplugindocs gpg)
for t in "${tools[@]}"; do
  case "$t" in
  zig) install_zig ;;
  zigbuild) install_zigbuild ;;
  tfplugindocs) install_tfplugindocs ;;
  gpg) install_gpg ;;
  *) die "unknown tool $t" ;;
  esac
done
log "ready: ${tools[*]}"
