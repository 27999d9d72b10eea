#!/usr/bin/env bash
# Stop the Kubernetes lab processes that up.sh started (pids under .lab/k8s/pids),
# newest first. Cluster state (etcd data, certificates) is kept for a warm start;
# `down.sh --purge` also deletes .lab/k8s and .lab/kubeconfig.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

purge=0
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  *) die "unknown argument '$1' (accepted: --purge)" ;;
esac

for (( i=${#COMPONENTS[@]}-1; i>=0; i-- )); do
  name="${COMPONENTS[$i]}"
  if pid="$(pid_of "$name")"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in 10s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$LAB/pids/$name.pid"
done
if [ "$purge" = 1 ]; then
  log "purging $LAB and $KCFG"
  rm -rf "$LAB" "$KCFG"
fi
log "lab cluster stopped"
