# Shared helpers for the hack/ scripts: progress lines and one-line failures.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VENV="$ROOT/.venv"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
export RUST_BACKTRACE=0
STEP_START=0

step() {
  STEP_START=$(date +%s)
  printf '==> %s\n' "$*"
}

done_step() {
  printf '    ok (%ss)\n' "$(( $(date +%s) - STEP_START ))"
}

die() {
  printf 'FAILED: %s\n' "$*" >&2
  exit 1
}

# run_step "description" command...: runs a command, keeps its output in a log,
# prints the log tail and one clear line when it fails.
run_step() {
  local what="$1"; shift
  local log
  log="$ROOT/tests/output/logs/$(printf '%s' "$what" | tr -c 'A-Za-z0-9' '-' | cut -c1-60).log"
  mkdir -p "$(dirname "$log")"
  step "$what"
  # A subshell, so that a step that changes directory does not move the caller.
  if ("$@") >"$log" 2>&1; then
    done_step
  else
    tail -n 120 "$log" >&2
    die "$what (full log: ${log#"$ROOT"/})"
  fi
}
