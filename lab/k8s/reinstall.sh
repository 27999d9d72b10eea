#!/usr/bin/env bash
# Reinstall the lab Airlock chart as a fresh revision 1 in a test namespace, the
# first step of every Kubernetes integration target:
#   lab/k8s/reinstall.sh NAMESPACE [--remove KIND/NAME ...] [HELM ARGS ...]
# It uninstalls the release (waiting for its pods to go), deletes the objects an
# earlier, interrupted run of the target may have left (--remove, for example
# resourcequota/airlock-it-pods), installs the chart and waits until the release
# is ready. A release that does not become ready within AIRLOCK_HELM_TIMEOUT
# (default 300s) fails the step with what the cluster shows: nodes, the
# namespace's workloads, pods and events, and the lab components' log lines for
# the namespace (also kept in $LAB/logs/reinstall-NAMESPACE.txt, which
# test-integration.sh prints), so a failure in CI can be understood from its output alone.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ $# -ge 1 ] || die "usage: ${0##*/} NAMESPACE [--remove KIND/NAME ...] [HELM ARGS ...]"
NAMESPACE="$1"; shift
case "$NAMESPACE" in
  ''|*[!a-z0-9-]*) die "NAMESPACE: invalid value '$NAMESPACE'; accepted values: a DNS label (a-z, 0-9, -)" ;;
esac
remove=()
while [ $# -ge 2 ] && [ "$1" = "--remove" ]; do remove+=("$2"); shift 2; done
HELM="$(bin helm)"
[ -x "$HELM" ] || die "$HELM not found; build the lab binaries with lab/k8s/build.sh"
[ -f "$KCFG" ] || die "$KCFG not found; start the lab with lab/k8s/up.sh"
export KUBECONFIG="$KCFG"
"$KUBECTL" get --raw /readyz >/dev/null 2>&1 || die "the lab API server is not answering; run lab/k8s/up.sh"

"$HELM" -n "$NAMESPACE" uninstall airlock --wait >/dev/null 2>&1 || true
for obj in ${remove[@]+"${remove[@]}"}; do
  "$KUBECTL" -n "$NAMESPACE" delete "$obj" --ignore-not-found >/dev/null
done
if ! "$HELM" -n "$NAMESPACE" upgrade --install airlock "$HERE/chart/airlock" --create-namespace \
    --wait --timeout "${AIRLOCK_HELM_TIMEOUT:-300s}" "$@"; then
  mkdir -p "$LAB/logs"
  diagnose_release "$NAMESPACE" 2>&1 | tee "$LAB/logs/reinstall-$NAMESPACE.txt"
  exit 1
fi
