#!/usr/bin/env bash
# The Kubernetes suite of `make test`: build (or reuse) the lab binaries, start a
# fresh lab control plane of its own (own state dir and ports, so a developer's
# `make lab-k8s` cluster is left alone), install the lab Airlock release, run
# every tests/integration/targets/k8s_* target, and stop the cluster again, also
# when a step fails.
#   hack/k8s-suite.sh                 # all k8s_* targets
#   hack/k8s-suite.sh k8s_triage ...  # some of them
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
export AIRLOCK_K8S_LAB_DIR="$ROOT/.lab/k8s-test"
export AIRLOCK_LAB_KUBECONFIG="$ROOT/.lab/k8s-test.kubeconfig"
# AIRLOCK_K8S_SUITE_PORT_OFFSET moves every port of the suite's cluster, so two
# checkouts (git worktrees) can run their suites at the same time.
off="${AIRLOCK_K8S_SUITE_PORT_OFFSET:-0}"
case "$off" in ''|*[!0-9]*) die "AIRLOCK_K8S_SUITE_PORT_OFFSET: invalid value '$off'; accepted values: 0 to 1000" ;; esac
[ "$off" -le 1000 ] || die "AIRLOCK_K8S_SUITE_PORT_OFFSET: invalid value '$off'; accepted values: 0 to 1000"
export AIRLOCK_K8S_ETCD_PORT=$((25790 + off)) AIRLOCK_K8S_ETCD_PEER_PORT=$((25800 + off)) AIRLOCK_K8S_ETCD_METRICS_PORT=$((25810 + off))
export AIRLOCK_K8S_APISERVER_PORT=$((17443 + off)) AIRLOCK_K8S_KCM_PORT=$((11357 + off)) AIRLOCK_K8S_SCHEDULER_PORT=$((11359 + off))
export AIRLOCK_K8S_KWOK_PORT=$((11347 + off)) AIRLOCK_K8S_METRICS_SERVER_PORT=$((11361 + off))

# Cold: about 50 min on 2 cores (see docs/kubernetes-lab.md); warm: seconds.
# build.sh prints one line per binary, so a cold build shows its progress.
lab/k8s/build.sh || die "building the Kubernetes lab binaries (lab/k8s/build.sh)"

# A fresh cluster every run (purge the previous run's state first); the state of
# this run, logs included, stays in .lab/k8s-test until the next run.
lab/k8s/down.sh --purge >/dev/null 2>&1 || true
trap 'lab/k8s/down.sh >/dev/null 2>&1 || true' EXIT
run_step "Kubernetes lab: start a fresh control plane (etcd, kube-apiserver, controllers, kwok)" lab/k8s/up.sh
run_step "Kubernetes lab: install the lab Airlock release with helm" lab/k8s/install-airlock.sh
# On failure run_step prints the log tail (which names the failing targets and
# their logs) and exits; the EXIT trap stops the cluster.
run_step "Kubernetes integration targets (${*:-all k8s_* targets})" lab/k8s/test-integration.sh "$@"
sed 's/^/    /' "$AIRLOCK_K8S_LAB_DIR/logs/it-results.txt"
