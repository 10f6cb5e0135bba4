#!/usr/bin/env bash
# `make release`: build the provider for each release target and write dist/ in the Terraform
# Registry's release format, plus network and filesystem mirrors for Terraform and OpenTofu
# (scripts/package-release.py says what goes where).
#
# Every platform is built on this Linux x86_64 machine with Debian's Rust toolchain (rustc-web,
# cargo-web and rust-web-src, pinned in scripts/install-release-tools.sh), which compiles the
# standard library from source for each target (-Zbuild-std), and zig as the C compiler and linker
# (cargo-zigbuild):
#   linux_amd64    x86_64-unknown-linux-musl    static: no libc, runs on glibc distros and Alpine
#   linux_arm64    aarch64-unknown-linux-musl   static, likewise
#   darwin_amd64   x86_64-apple-darwin          macOS 11+, ad-hoc signed (scripts/darwin-sdk)
#   darwin_arm64   aarch64-apple-darwin         macOS 11+, ad-hoc signed by zig's linker
#   windows_amd64  x86_64-pc-windows-gnu
# The macOS builds link Security and CoreFoundation (the keychain's trust store, as Terraform
# uses) through text stubs in scripts/darwin-sdk, since zig ships no Apple frameworks.
#
# Settings (environment, or `make release VERSION=… TARGETS=…`):
#   VERSION   release version; default: `version` in Cargo.toml. The binary reports it
#             (--version) and sends it in its User-Agent.
#   TARGETS   Rust targets to build, space- or comma-separated; default: the five above.
#   DIST      output directory; default dist/ in the repository.
#   HOSTUP_RELEASE_PROFILE         cargo profile; default release (LTO, size-optimised). The tests
#                                  build with dist-test (Cargo.toml), which only builds faster.
#   HOSTUP_RELEASE_GPG_KEY         key id or fingerprint to sign SHA256SUMS with (gpg --local-user),
#                                  from the default keyring or $GNUPGHOME; unset: no .sig file.
#   HOSTUP_RELEASE_GPG_PASSPHRASE  its passphrase, if it has one.
#   HOSTUP_RELEASE_TARGET_DIR      cargo target dir for release builds; default release-target in
#                                  the build cache outside the clone (HOSTUP_CACHE_DIR, else
#                                  ~/.cache/terraform-provider-hostup; scripts/common.sh): apart
#                                  from target/, so the tests can run this under `cargo test`, and
#                                  kept when the clone is not, so CI's fresh clones build only what changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

source "$ROOT/scripts/common.sh"

version=${VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)}
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "VERSION '$version' is not a semantic version"
targets=${TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-gnu}
targets=${targets//,/ }
dist=${DIST:-$ROOT/dist}
profile=${HOSTUP_RELEASE_PROFILE:-release}
export CARGO_TARGET_DIR=${HOSTUP_RELEASE_TARGET_DIR:-$HOSTUP_CACHE/release-target}

# Rust target -> Terraform OS_ARCH.
os_arch_of() {
  case "$1" in
  x86_64-unknown-linux-*) echo linux_amd64 ;;
  aarch64-unknown-linux-*) echo linux_arm64 ;;
  x86_64-apple-darwin) echo darwin_amd64 ;;
  aarch64-apple-darwin) echo darwin_arm64 ;;
  x86_64-pc-windows-*) echo windows_amd64 ;;
  *) die "no Terraform OS_ARCH known for target $1" ;;
  esac
}

scripts/install-release-tools.sh zig zigbuild rust-cross >&2
[[ -z "${HOSTUP_RELEASE_GPG_KEY:-}" ]] || scripts/install-release-tools.sh gpg >&2
export PATH="$ROOT/.tools/bin:$PATH"
# Paths outside the clone (the tools live in HOSTUP_CACHE, see install-release-tools.sh): what the
# build sees must not change with the clone's path, or a new clone rebuilds every target.
CARGO_ZIGBUILD_ZIG_PATH="$(readlink -f "$ROOT/.tools/bin/zig")"
export CARGO_ZIGBUILD_ZIG_PATH
# Version baked into the binary (src/lib.rs VERSION): --version and the User-Agent.
export HOSTUP_PROVIDER_VERSION=$version

# Debian's toolchain, not rustup's (which has no standard library for these targets here). Its
# standard library source is what -Zbuild-std compiles; RUSTC_BOOTSTRAP lets a stable cargo take
# that unstable flag.
DEBIAN_CARGO=/usr/bin/cargo
DEBIAN_RUSTC=/usr/bin/rustc
export RUSTC="$DEBIAN_RUSTC" RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
# Nor rustup's clippy-driver, which `make test` wraps its own builds in (scripts/test.sh) and the
# release tests run this script under.
unset RUSTUP_TOOLCHAIN RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
# macOS: the framework stubs, and the oldest macOS Terraform itself supports. The stubs are copied
# into the cache under their content's hash, for the same reason as above (build scripts track
# SDKROOT).
sdk_hash=$(cd "$ROOT/scripts/darwin-sdk" && find . -type f -print0 | LC_ALL=C sort -z |
  xargs -0 sha256sum | sha256sum | cut -c1-16)
sdk="$HOSTUP_CACHE/darwin-sdk/$sdk_hash"
if [[ ! -d "$sdk" ]]; then
  mkdir -p "$HOSTUP_CACHE/darwin-sdk"
  tmp=$(mktemp -d "$HOSTUP_CACHE/darwin-sdk/.new.XXXXXX")
  cp -R "$ROOT/scripts/darwin-sdk/." "$tmp/"
  mv -T "$tmp" "$sdk" 2>/dev/null || rm -rf "$tmp" # another run got there first
fi
export SDKROOT="$sdk" MACOSX_DEPLOYMENT_TARGET=11.0
# musl: zig provides the C library and start files, not Rust's self-contained copies.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C link-self-contained=no"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C link-self-contained=no"
# Windows: Debian's standard library links libssp (stack protector support), which zig's
# MinGW lacks; zig's compiler-rt provides those symbols, so empty archives satisfy the linker.
ssp_dir="$CARGO_TARGET_DIR/windows-ssp"
mkdir -p "$ssp_dir"
for lib in libssp.a libssp_nonshared.a; do
  [[ -f "$ssp_dir/$lib" ]] || "$ROOT/.tools/bin/zig" ar rcs "$ssp_dir/$lib"
done
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-L native=$ssp_dir"

# Refuse before building anything when a target is unknown.
for target in $targets; do
  os_arch_of "$target" >/dev/null
  "$DEBIAN_RUSTC" --print target-list | grep -qx "$target" || die "rustc does not know the target $target"
done

# One cargo run per target, in one target dir: they share the host's build scripts and proc
# macros. Not one run for all of them: cargo then resolves features across every target at once
# (a Windows or macOS dependency turns on features of tokio, libc and others), and the
# linux_amd64 binary of a five-target build differs from the one a linux_amd64-only build makes;
# `make test` builds linux_amd64 alone first, and the binary its acceptance tests drive must be
# the one the release ships (scripts/test.sh checks they are the same bytes). The standard
# library is built without its backtrace symbolizer (std's `backtrace` feature: addr2line, gimli,
# object): the binaries are stripped, so it would have no symbols to read, and it costs each
# target build and binary.
#
# Two runs at once (make test's background build and the release tests' own) take turns per
# target on a lock of their own: cargo serialises the builds on the target dir anyway, but
# cargo-zigbuild writes its linker wrappers and symlinks before cargo takes that lock, and two of
# them creating the same symlink at once fail with "File exists".
log "building $targets with the $profile profile, version $version"
start=$SECONDS
for target in $targets; do
  flock "$CARGO_TARGET_DIR/.zigbuild.lock" \
    "$DEBIAN_CARGO" zigbuild --profile "$profile" --locked -Zbuild-std=std,panic_unwind \
    -Zbuild-std-features=panic-unwind \
    --bin terraform-provider-hostup --target "$target"
done
log "built in $((SECONDS - start))s"

binaries=()
for target in $targets; do
  os_arch=$(os_arch_of "$target")
  exe=terraform-provider-hostup
  [[ $os_arch == windows_* ]] && exe+=.exe
  bin="$CARGO_TARGET_DIR/$target/$profile/$exe"
  [[ -x "$bin" ]] || die "cargo zigbuild left no $bin"
  case "$target" in
  *-linux-musl)
    ! readelf --program-headers --dynamic --wide "$bin" | grep -q -e INTERP -e '(NEEDED)' ||
      die "$bin is not static: it has a program interpreter or needs a shared library"
    log "$bin: static"
    ;;
  *-apple-darwin)
    python3 "$ROOT/scripts/darwin-sdk/adhoc-sign.py" "$bin" terraform-provider-hostup >&2
    ;;
  esac
  binaries+=("$os_arch=$bin")
done
python3 scripts/package-release.py --version "$version" --out "$dist" \
  --sign-key "${HOSTUP_RELEASE_GPG_KEY:-}" "${binaries[@]}"
log "wrote $dist"
