# shellcheck shell=bash
# shellcheck disable=SC2034  # the settings are used by the scripts that source this file
# Shared settings and helpers for lab/k8s/*.sh (sourced, not executed).
# Ports (loopback only) can be moved with the environment variables below.

ROOT="$(cd "$HERE/../.." && pwd)"
LAB="${AIRLOCK_K8S_LAB_DIR:-$ROOT/.lab/k8s}"
KCFG="${AIRLOCK_LAB_KUBECONFIG:-$ROOT/.lab/kubeconfig}"
# kubectl: the one build.sh made for the pinned release (no version skew), else
# the one on PATH.
if [ -z "${KUBECTL:-}" ]; then
  KUBECTL="$AIRLOCK_LAB_BIN/kubectl-$K8S_VERSION/kubectl"
  [ -x "$KUBECTL" ] || KUBECTL=kubectl
fi
ETCD_PORT="${AIRLOCK_K8S_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${AIRLOCK_K8S_ETCD_PEER_PORT:-23800}"
ETCD_METRICS_PORT="${AIRLOCK_K8S_ETCD_METRICS_PORT:-23810}"
APISERVER_PORT="${AIRLOCK_K8S_APISERVER_PORT:-16443}"
KCM_PORT="${AIRLOCK_K8S_KCM_PORT:-10357}"
SCHED_PORT="${AIRLOCK_K8S_SCHEDULER_PORT:-10359}"
KWOK_PORT="${AIRLOCK_K8S_KWOK_PORT:-10347}"
METRICS_SERVER_PORT="${AIRLOCK_K8S_METRICS_SERVER_PORT:-10361}"
# Where the host lab Airlock keeps state.json ("url", "log"); used by
# port-forward and logs on the fake pods.
AIRLOCK_STATE_DIR="${AIRLOCK_LAB_STATE_DIR:-$ROOT/.lab/host}"
# Components in start order; down.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server)

log() { echo "[$(date +%T)] ${0##*/}: $*" >&2; }
die() { echo "${0##*/}: ERROR: $*" >&2; exit 1; }

bin() {
  local v
  case "$1" in
    etcd) v="$ETCD_VERSION" ;;
    kwok) v="$KWOK_VERSION" ;;
    helm) v="$HELM_VERSION" ;;
    metrics-server) v="$METRICS_SERVER_VERSION" ;;
    *) v="$K8S_VERSION" ;;
  esac
  echo "$AIRLOCK_LAB_BIN/$1-$v/$1"
}

port_of() {
  case "$1" in
    etcd) echo "$ETCD_PORT" ;;
    kube-apiserver) echo "$APISERVER_PORT" ;;
    kube-controller-manager) echo "$KCM_PORT" ;;
    kube-scheduler) echo "$SCHED_PORT" ;;
    kwok) echo "$KWOK_PORT" ;;
    metrics-server) echo "$METRICS_SERVER_PORT" ;;
  esac
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid of a component we started, if it is still that process
pid_of() {
  local f="$LAB/pids/$1.pid" pid exe
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  case "$exe" in
    */"$1"|*/"$1 (deleted)") echo "$pid" ;;
    *) return 1 ;;
  esac
}

start() { # name binary args...
  local name="$1" pid port; shift
  if pid="$(pid_of "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  port="$(port_of "$name")"
  if [ -n "$port" ] && port_busy "$port"; then
    die "port 127.0.0.1:$port for $name is already in use by another process (move it with the AIRLOCK_K8S_*_PORT variables, see docs/kubernetes-lab.md)"
  fi
  log "starting $name"
  echo "=== $(date -u +%FT%TZ) $*" >> "$LAB/logs/$name.log"
  setsid "$@" >> "$LAB/logs/$name.log" 2>&1 < /dev/null &
  echo "$!" > "$LAB/pids/$name.pid"
  sleep 0.3
  pid_of "$name" >/dev/null || die "$name exited at once; last log lines: $(tail -n 3 "$LAB/logs/$name.log" | tr '\n' ' ')"
}

wait_for() { # description timeout-seconds command...
  local what="$1" timeout="$2" deadline; shift 2
  deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "timed out after ${timeout}s waiting for $what (logs: $LAB/logs/)"
    fi
    sleep 0.5
  done
  log "$what: ok"
}

# kwok serves pod logs from files in the CRI log format the kubelet reads:
#   <RFC 3339 time> stdout F <line>
cri_log() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s stdout F %s\n' "$(date -u +%FT%T.%NZ)" "$line"
  done
}

render_kwok_config() {
  # ClusterLogs / ClusterExec / ClusterPortForward for the Airlock pods (container
  # "airlock" in any namespace, so test namespaces get them too): logs come
  # from files under .lab/k8s/pod-logs (drill.sh writes them, or they are linked to
  # the host lab Airlock's log); port-forward to port 8080 reaches the host lab
  # Airlock (url from its state.json, read at connect time by forward.py); exec
  # runs the command on the host (the lab has no containers).
  local py
  py="$(command -v python3 || true)"
  [ -x "$ROOT/.venv/bin/python" ] && py="$ROOT/.venv/bin/python"
  [ -f "$LAB/pod-logs/airlock.log" ] || echo "{\"level\":\"info\",\"msg\":\"kwok lab pod: no Airlock process behind this pod; run lab/k8s/drill.sh logs-from-lab to show the host lab Airlock log\"}" | cri_log > "$LAB/pod-logs/airlock.log"
  [ -f "$LAB/pod-logs/airlock-previous.log" ] || : > "$LAB/pod-logs/airlock-previous.log"
  cat > "$LAB/kwok-cluster.yaml" <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: airlock-lab-logs
spec:
  logs:
  - containers:
    - airlock
    logsFile: $LAB/pod-logs/airlock.log
    previousLogsFile: $LAB/pod-logs/airlock-previous.log
    follow: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: airlock-lab-exec
spec:
  execs:
  - containers:
    - airlock
    local:
      workDir: $LAB
      envs:
      - name: AIRLOCK_LAB_STATE_DIR
        value: $AIRLOCK_STATE_DIR
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: airlock-lab-port-forward
spec:
  forwards:
  - ports:
    - 8080
    command:
    - $py
    - $HERE/kwok/forward.py
    - $AIRLOCK_STATE_DIR
EOF
}

# Debian packages the lab uses on the host: openssl (certificates), curl (health
# waits), sqlite3 (the CLI the Airlock image ships; kwok's exec runs pod commands
# on the host). Missing ones are installed with apt-get when we are root, else
# the error names the command to run.
ensure_host_packages() {
  local missing=() cmd pkg
  for cmd in openssl:openssl curl:curl sqlite3:sqlite3; do
    pkg="${cmd#*:}"; cmd="${cmd%%:*}"
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
      >> "$LAB/logs/apt.log" 2>&1 || die "apt-get install ${missing[*]} failed (log: $LAB/logs/apt.log)"
  else
    die "missing host packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
  fi
}

# What the cluster shows about a release that did not become ready in namespace
# $1: nodes, its workloads, pods and events, and the lab components' log lines
# naming the namespace.
diagnose_release() {
  local ns="$1" c
  echo "--- the release in $ns did not become ready; what the cluster shows:"
  "$KUBECTL" get nodes -o wide 2>&1 || true
  "$KUBECTL" describe nodes 2>&1 | grep -E '^Name:|Taints:|Ready ' || true
  "$KUBECTL" -n "$ns" get deploy,rs,pods,resourcequota,pdb -o wide 2>&1 || true
  "$KUBECTL" -n "$ns" get events --sort-by=.lastTimestamp 2>&1 | tail -30 || true
  for c in kube-controller-manager kube-scheduler kwok; do
    [ -f "$LAB/logs/$c.log" ] || continue
    echo "--- $c.log, lines naming $ns (last 15):"
    grep -F "$ns" "$LAB/logs/$c.log" | tail -15 | cut -c1-400 || true
  done
}
