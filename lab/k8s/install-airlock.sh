#!/usr/bin/env bash
# helm upgrade --install the lab Airlock chart (release airlock, namespace
# airlock-system) into the lab cluster and wait until it is Ready.
# Extra arguments go to helm, e.g. --set replicaCount=3.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

HELM="$(bin helm)"
[ -x "$HELM" ] || "$HERE/build.sh" helm
[ -f "$KCFG" ] || die "$KCFG not found; start the cluster with lab/k8s/up.sh"
export KUBECONFIG="$KCFG"
RELEASE="${AIRLOCK_RELEASE:-airlock}"
NAMESPACE="${AIRLOCK_NAMESPACE:-airlock-system}"
"$KUBECTL" get --raw /readyz >/dev/null 2>&1 || die "the lab API server is not answering; run lab/k8s/up.sh"

# Namespaces the chart's NetworkPolicy admits traffic from.
"$KUBECTL" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: ingress-nginx
  labels:
    name: ingress-nginx
---
apiVersion: v1
kind: Namespace
metadata:
  name: monitoring
  labels:
    name: monitoring
YAML

files=()
[ -f "$ROOT/lab/config/config.yaml" ] && files+=(--set-file "configYaml=$ROOT/lab/config/config.yaml")
[ -f "$ROOT/lab/config/policy.rego" ] && files+=(--set-file "policyRego=$ROOT/lab/config/policy.rego")
start_ts=$(date +%s.%N)
log "helm upgrade --install $RELEASE -n $NAMESPACE (chart lab/k8s/chart/airlock${files:+, config from lab/config})"
"$HELM" upgrade --install "$RELEASE" "$HERE/chart/airlock" --namespace "$NAMESPACE" --create-namespace \
  "${files[@]}" --wait --timeout "${AIRLOCK_HELM_TIMEOUT:-180s}" "$@" >/dev/null \
  || { diagnose_release "$NAMESPACE" >&2; die "helm upgrade --install failed; see: $HELM -n $NAMESPACE status $RELEASE; kubectl -n $NAMESPACE get pods"; }
log "release $RELEASE ready in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $start_ts}")s"
"$KUBECTL" -n "$NAMESPACE" get deploy,pods,pvc -o wide >&2
