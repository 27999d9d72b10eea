#!/usr/bin/env bash
# Run the Kubernetes integration targets (tests/integration/targets/k8s_*) against
# the running lab cluster, each as a role through ansible-playbook.
#   lab/k8s/test-integration.sh                # all k8s_* targets
#   lab/k8s/test-integration.sh k8s_triage     # one target
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
cd "$ROOT"
[ -f "$KCFG" ] || die "$KCFG not found; start the lab with lab/k8s/up.sh"
AIRLOCK_LAB_HELM="$(bin helm)"
export KUBECONFIG="$KCFG" AIRLOCK_LAB_HELM
# Targets search the output of the playbooks they run: JSON results keep each
# message on one line (the YAML format folds long strings at 80 columns, at
# places that move with path and port lengths).
export ANSIBLE_CALLBACK_RESULT_FORMAT=json
# Targets call `kubectl`: use the one build.sh made for the lab's release.
case "$KUBECTL" in */*) PATH="$(dirname "$KUBECTL"):$PATH"; export PATH ;; esac
export ANSIBLE_ROLES_PATH="$ROOT/tests/integration/targets"
# Background tasks (async) keep their job files in one absolute place: the
# default ~/.ansible_async is expanded from HOME by the task and from the passwd
# home by async_status, which differ where HOME is set elsewhere (an execution
# environment runs with HOME=/runner).
export ANSIBLE_ASYNC_DIR="$LAB/async"
mkdir -p "$ANSIBLE_ASYNC_DIR"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in "$ROOT"/tests/integration/targets/k8s_*/; do targets+=("$(basename "$d")"); done
fi
pass=0; fail=0
results="$LAB/logs/it-results.txt"
: > "$results"
rm -f "$LAB"/logs/reinstall-*.txt "$LAB/logs/it-diagnostics.txt"
for t in "${targets[@]}"; do
  play="$(mktemp --suffix=.yml)"
  printf -- '- hosts: localhost\n  gather_facts: false\n  roles:\n    - %s\n' "$t" > "$play"
  start=$(date +%s)
  if "$ROOT/.venv/bin/ansible-playbook" -i localhost, -c local -e "ansible_python_interpreter=$ROOT/.venv/bin/python" "$play" > "$LAB/logs/it-$t.log" 2>&1; then
    pass=$((pass + 1)); log "$t: passed in $(( $(date +%s) - start ))s"
    echo "$t: passed in $(( $(date +%s) - start ))s" >> "$results"
  else
    fail=$((fail + 1)); log "$t: FAILED in $(( $(date +%s) - start ))s (log: $LAB/logs/it-$t.log)"
    echo "$t: FAILED in $(( $(date +%s) - start ))s (log: $LAB/logs/it-$t.log)" >> "$results"
    grep -E 'FAILED!|fatal:|"msg"' "$LAB/logs/it-$t.log" | head -5 >&2 || true
    # What the cluster showed when a release did not become ready (reinstall.sh),
    # printed again at the end, where a CI log's tail shows it.
    for d in "$LAB"/logs/reinstall-*.txt; do
      [ -f "$d" ] && { echo "== $t: $(basename "$d")"; cat "$d"; } >> "$LAB/logs/it-diagnostics.txt" && rm -f "$d"
    done
  fi
  rm -f "$play"
done
[ -f "$LAB/logs/it-diagnostics.txt" ] && tail -n 80 "$LAB/logs/it-diagnostics.txt"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
