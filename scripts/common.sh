# Sourced by the scripts in this folder: log lines prefixed with the calling script's name, die,
# quiet (a command's output only when it fails; always with HOSTUP_TF_INSTALL_VERBOSE=1), and
# HOSTUP_CACHE, the build cache kept outside the clone.

SCRIPT_NAME="$(basename "${BASH_SOURCE[1]:-$0}" .sh)"

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

quiet() {
  if [[ "${HOSTUP_TF_INSTALL_VERBOSE:-}" == 1 ]]; then
    "$@"
  else
    local out
    if ! out="$("$@" 2>&1)"; then
      printf '%s\n' "$out" >&2
      return 1
    fi
  fi
}

# What is costly to rebuild and is the same for every clone (the cross builds' cargo target dir)
# lives outside the repository, so a fresh clone (CI) starts warm, like cargo's registry and Go's
# build cache. Cargo locks and fingerprints it, so clones and branches share it safely.
HOSTUP_CACHE=${HOSTUP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-hostup}

# Where cargo puts what it builds here: target/, unless CARGO_TARGET_DIR or a cargo config moves it
# (CI's .ci/run does).
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps --offline |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}
