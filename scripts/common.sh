# Sourced by the scripts in this folder: log lines prefixed with the calling script's name, die,
# and quiet (a command's output only when it fails; always with HOSTUP_TF_INSTALL_VERBOSE=1).

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
