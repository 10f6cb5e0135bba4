#!/usr/bin/env bash
# Installs the pinned tools that `make release` and the release/docs tests need into .tools/
# (git-ignored), from package registries only:
#   - zig (PyPI `ziglang` wheel, hash-checked), the C toolchain and linker cargo-zigbuild drives to
#     link against an old glibc (2.17) so the release binary runs on every Linux runner in use;
#   - cargo-zigbuild (PyPI `cargo-zigbuild` wheel, hash-checked: a prebuilt binary, where
#     `cargo install` took minutes of a cold run);
#   - tfplugindocs (Go module proxy, `go install …@version`), for `tfplugindocs validate` of docs/;
#   - gnupg, only when no `gpg` is on PATH (Debian's package; signing and the signature test);
#   - rust-cross: Debian's Rust toolchain with the standard library's source (rustc-web, cargo-web,
#     rust-web-src, and rust-web-llvm for rust-objcopy, which strips the macOS binaries), which
#     builds std for every release target (rustup cannot download theirs here);
#   - qemu: Debian's qemu-user-static, registered with binfmt_misc (as root), so arm64 Linux
#     programs run here: the tests run the linux_arm64 release under an arm64 OpenTofu;
#   - wine: Debian's wine64, and a wine prefix in .tools/wine-prefix holding bcryptprimitives.dll,
#     a shim for ProcessPrng (scripts/wine/), which Rust's and Go's standard libraries call and
#     wine 8.0 lacks: the tests run the windows_amd64 release under a Windows OpenTofu.
# Debian packages are pinned to exact versions; a version Debian no longer serves stops the
# install with the versions it does serve.
#
# Usage: scripts/install-release-tools.sh [zig|zigbuild|tfplugindocs|gpg|rust-cross|qemu|wine]...
#        (default: all)
# Idempotent: a tool whose stamp matches its pin is left alone (no network, well under a second).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"

ZIG_VERSION=0.17.1
ZIG_WHEEL_SHA256=ea6cc5d87b033cf0aedfbc8f9549a908cae6c50ac31f1698188fa48a74524b54
ZIGBUILD_VERSION=0.24.1
ZIGBUILD_WHEEL_SHA256=238a1ab54a95053a4eadc34775c81f795a8ad75f80bfed63f3f445f518102375
TFPLUGINDOCS_VERSION=v0.25.0
RUST_WEB_VERSION=1.96.0+dfsg1-1~deb12u2
QEMU_VERSION=1:7.2+dfsg-7+deb12u18+b3
WINE_VERSION=8.0~repack-4

source "$ROOT/scripts/common.sh"

mkdir -p "$BIN"

# Installs a PyPI wheel, hash-checked, into its own venv and prints the venv. The venvs live in the
# build cache outside the clone (HOSTUP_CACHE/venvs), at one path for every clone: cargo-zigbuild
# names its linker wrappers after the path of its own executable, and cargo fingerprints the
# linker, so a venv inside the clone would make every new clone (every CI run) rebuild every
# release target from the standard library up.
# Left alone when its stamp matches: PACKAGE VERSION SHA256
install_wheel() {
  local package=$1 version=$2 sha=$3
  local venvs="$HOSTUP_CACHE/venvs"
  local venv="$venvs/$package-$version" want="$package $version $sha" lock
  # Two installs at once (make test runs two, and clones share the cache) take turns; the lock
  # goes with this subshell.
  mkdir -p "$venvs"
  exec {lock}>"$venvs/.$package.lock"
  flock "$lock"
  [[ -f "$venv/.hostup-stamp" && "$(cat "$venv/.hostup-stamp")" == "$want" ]] && {
    echo "$venv"
    return 0
  }
  log "installing $package $version (PyPI wheel)"
  rm -rf "$venv"
  python3 -m venv --without-pip "$venv"
  printf '%s==%s --hash=sha256:%s\n' "$package" "$version" "$sha" >"$venv/requirements.txt"
  quiet python3 -m pip --python "$venv/bin/python" install --no-deps --only-binary :all: \
    --require-hashes -r "$venv/requirements.txt" || die "pip could not install $package==$version"
  printf '%s\n' "$want" >"$venv/.hostup-stamp"
  echo "$venv"
}

install_zig() {
  local venv zig
  venv=$(install_wheel ziglang "$ZIG_VERSION" "$ZIG_WHEEL_SHA256")
  zig="$(echo "$venv"/lib/python3*/site-packages/ziglang/zig)"
  [[ -x "$zig" ]] || die "no zig executable in the ziglang wheel ($zig)"
  ln -sf "$zig" "$BIN/zig"
  [[ "$("$BIN/zig" version)" == "$ZIG_VERSION" ]] || die "zig reports $("$BIN/zig" version)"
}

install_zigbuild() {
  local venv
  venv=$(install_wheel cargo-zigbuild "$ZIGBUILD_VERSION" "$ZIGBUILD_WHEEL_SHA256")
  [[ -x "$venv/bin/cargo-zigbuild" ]] || die "no cargo-zigbuild in the cargo-zigbuild wheel ($venv/bin)"
  ln -sf "$venv/bin/cargo-zigbuild" "$BIN/cargo-zigbuild"
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
  # Without debug info, which nobody reads here: less to compile and link.
  quiet env GOBIN="$dir" GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go install -trimpath -gcflags=all=-dwarf=false -ldflags="-s -w" \
    "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs@$TFPLUGINDOCS_VERSION" ||
    die "go install tfplugindocs@$TFPLUGINDOCS_VERSION failed"
  ln -sf "$dir/tfplugindocs" "$BIN/tfplugindocs"
}

apt_updated=
apt_update() {
  [[ -n "$apt_updated" ]] && return 0
  command -v apt-get >/dev/null || die "no apt-get: these tools come from Debian's packages"
  # apt and dpkg refuse to run twice at once (make test runs two installs): wait for the other
  # one, holding the lock until this script exits.
  exec {apt_lock}>"$TOOLS/.apt.lock"
  flock "$apt_lock"
  quiet apt-get update -q || die "apt-get update failed"
  apt_updated=1
}

# Installs Debian packages at exact versions: PACKAGE=VERSION... Installed ones are left alone.
apt_install_pinned() {
  local missing=() spec
  for spec in "$@"; do
    [[ "$(dpkg-query -W -f='${Version}' "${spec%%=*}" 2>/dev/null)" == "${spec#*=}" ]] || missing+=("$spec")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing ${missing[*]} (Debian packages)"
  apt_update
  for spec in "${missing[@]}"; do
    apt-cache madison "${spec%%=*}" | awk -F' [|] ' '{print $2}' | grep -qxF "${spec#*=}" ||
      die "Debian no longer serves ${spec%%=*} ${spec#*=} (it serves: $(apt-cache madison "${spec%%=*}" |
        awk -F' [|] ' '{print $2}' | paste -sd, -)); move the pin in scripts/install-release-tools.sh"
  done
  quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed"
}

install_gpg() {
  command -v gpg >/dev/null && return 0
  apt_update
  command -v gpg >/dev/null && return 0
  log "installing gnupg (Debian package)"
  quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnupg || die "apt-get install gnupg failed"
}

install_rust_cross() {
  # rust-web-llvm: rust-objcopy, which rustc runs to strip the macOS binaries.
  apt_install_pinned "rustc-web=$RUST_WEB_VERSION" "cargo-web=$RUST_WEB_VERSION" "rust-web-src=$RUST_WEB_VERSION" \
    "rust-web-llvm=$RUST_WEB_VERSION"
  [[ -f "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ]] ||
    die "rust-web-src left no standard library source under $(/usr/bin/rustc --print sysroot)/lib/rustlib/src"
}

install_qemu() {
  apt_install_pinned "qemu-user-static=$QEMU_VERSION"
  local misc=/proc/sys/fs/binfmt_misc
  if [[ ! -e "$misc/register" ]]; then
    mount -t binfmt_misc binfmt_misc "$misc" ||
      die "cannot mount binfmt_misc at $misc (needs root): arm64 programs cannot run here"
  fi
  if [[ ! -e "$misc/qemu-aarch64" ]]; then
    # The registration line Debian's package ships for systemd-binfmt; F (fix binary) opens the
    # interpreter now, so it also serves programs in other mount namespaces and chroots.
    cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$misc/register" || die "cannot register qemu-aarch64 with binfmt_misc"
  fi
  [[ "$(head -n 1 "$misc/qemu-aarch64")" == enabled ]] || die "binfmt_misc has qemu-aarch64, but disabled"
}

install_wine() {
  apt_install_pinned "wine64=$WINE_VERSION" "wine=$WINE_VERSION" "libwine=$WINE_VERSION"
  install_zig
  local prefix="$TOOLS/wine-prefix" shim="$ROOT/scripts/wine/bcryptprimitives.c"
  local want stamp="$TOOLS/wine-prefix/.hostup-stamp"
  want="wine $WINE_VERSION zig $ZIG_VERSION $(sha256sum <"$shim" | cut -d' ' -f1)"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return 0
  log "making the wine prefix .tools/wine-prefix"
  rm -rf "$prefix"
  WINEPREFIX="$prefix" WINEDEBUG=-all quiet wineboot --init || die "wineboot --init failed"
  WINEPREFIX="$prefix" quiet wineserver --wait || true
  quiet "$BIN/zig" cc -target x86_64-windows-gnu -shared -O2 -o "$prefix/drive_c/windows/system32/bcryptprimitives.dll" \
    "$shim" -ladvapi32 || die "building the bcryptprimitives.dll shim failed"
  printf '%s\n' "$want" >"$stamp"
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(zig zigbuild tfplugindocs gpg rust-cross qemu wine)
for t in "${tools[@]}"; do
  case "$t" in
  zig) install_zig ;;
  zigbuild) install_zigbuild ;;
  tfplugindocs) install_tfplugindocs ;;
  gpg) install_gpg ;;
  rust-cross) install_rust_cross ;;
  qemu) install_qemu ;;
  wine) install_wine ;;
  *) die "unknown tool $t" ;;
  esac
done
log "ready: ${tools[*]}"
