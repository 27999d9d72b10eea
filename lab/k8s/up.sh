#!/usr/bin/env bash
# Start the Kubernetes lab: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler (real binaries, built by build.sh) and kwok (fake nodes/pods).
# Everything listens on 127.0.0.1 only. State: .lab/k8s/ (pids, logs, pki,
# etcd data); admin kubeconfig: .lab/kubeconfig. Safe to rerun: components that
# are already running are left alone. Stop with down.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

START=$(date +%s.%N)
[ -x "$(bin etcd)" ] || "$HERE/build.sh"
for n in etcd kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server; do
  [ -x "$(bin "$n")" ] || die "$(bin "$n") is missing; run lab/k8s/build.sh"
done
command -v "$KUBECTL" >/dev/null || die "kubectl is not on PATH (run lab/k8s/build.sh kubectl, or set KUBECTL=/path/to/kubectl)"
mkdir -p "$LAB"/{pids,logs,pki,pod-logs} "$(dirname "$KCFG")"
ensure_host_packages

# ---------- certificates (openssl, self-signed CA; generated once) ----------
pki() {
  local d="$LAB/pki"
  [ -f "$d/.complete" ] && return 0
  log "generating certificates in $d"
  rm -f "$d"/*
  local o=(-days 3650 -sha256)
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" "${o[@]}" \
    -subj "/CN=airlock-lab-ca" >/dev/null 2>&1 || die "openssl could not create the lab CA"
  mkcert() { # name subject extensions
    if ! { openssl req -newkey rsa:2048 -nodes -keyout "$d/$1.key" -out "$d/$1.csr" -subj "$2" >/dev/null 2>&1 \
        && printf '%s\n' "$3" > "$d/$1.ext" \
        && openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
          -out "$d/$1.crt" "${o[@]}" -extfile "$d/$1.ext" >/dev/null 2>&1; }; then
      die "openssl could not create the $1 certificate"
    fi
    rm -f "$d/$1.csr" "$d/$1.ext"
  }
  mkcert apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # The admin identity (system:masters) is used by kubectl, the controllers and
  # kwok; kwok also serves the fake kubelet API (logs/exec/port-forward) with it.
  mkcert admin "/O=system:masters/CN=kubernetes-admin" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth,serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
  if ! { openssl genrsa -out "$d/sa.key" 2048 >/dev/null 2>&1 \
      && openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" >/dev/null 2>&1; }; then
    die "openssl could not create the service-account key pair"
  fi
  chmod 600 "$d"/*.key
  touch "$d/.complete"
}

kubeconfigs() {
  local f tmp
  for f in "$LAB/admin.kubeconfig" "$KCFG"; do
    tmp="$f.tmp.$$"
    rm -f "$tmp"
    "$KUBECTL" config --kubeconfig="$tmp" set-cluster airlock-lab --server="https://127.0.0.1:$APISERVER_PORT" \
      --certificate-authority="$LAB/pki/ca.crt" --embed-certs=true >/dev/null
    "$KUBECTL" config --kubeconfig="$tmp" set-credentials airlock-lab-admin --client-certificate="$LAB/pki/admin.crt" \
      --client-key="$LAB/pki/admin.key" --embed-certs=true >/dev/null
    "$KUBECTL" config --kubeconfig="$tmp" set-context airlock-lab --cluster=airlock-lab --user=airlock-lab-admin >/dev/null
    "$KUBECTL" config --kubeconfig="$tmp" use-context airlock-lab >/dev/null
    chmod 600 "$tmp"
    mv -f "$tmp" "$f"
  done
}

# The aggregation layer's client certificate: the API server presents it when it
# proxies metrics.k8s.io to metrics-server (requestheader authentication). Made
# on its own, so a lab whose other certificates exist gets it too.
front_proxy_cert() {
  local d="$LAB/pki"
  [ -f "$d/front-proxy-client.crt" ] && [ -f "$d/front-proxy-client.key" ] && return 0
  log "generating the front-proxy client certificate"
  if ! { openssl req -newkey rsa:2048 -nodes -keyout "$d/front-proxy-client.key" -out "$d/front-proxy-client.csr" \
        -subj "/CN=front-proxy-client" >/dev/null 2>&1 \
      && printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "$d/front-proxy-client.ext" \
      && openssl x509 -req -in "$d/front-proxy-client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -out "$d/front-proxy-client.crt" -days 3650 -sha256 -extfile "$d/front-proxy-client.ext" >/dev/null 2>&1; }; then
    die "openssl could not create the front-proxy client certificate"
  fi
  rm -f "$d/front-proxy-client.csr" "$d/front-proxy-client.ext"
  chmod 600 "$d/front-proxy-client.key"
}

pki
front_proxy_cert
kubeconfigs
AK="$LAB/admin.kubeconfig"
P="$LAB/pki"

# ---------- etcd ----------
start etcd "$(bin etcd)" \
  --name=airlock-lab --data-dir="$LAB/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="airlock-lab=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls="http://127.0.0.1:$ETCD_METRICS_PORT" \
  --unsafe-no-fsync=true --quota-backend-bytes=2147483648 --auto-compaction-retention=1 --log-level=warn
wait_for "etcd" 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

# ---------- kube-apiserver ----------
start kube-apiserver "$(bin kube-apiserver)" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --endpoint-reconciler-type=none \
  --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
  --client-ca-file="$P/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --authorization-mode=Node,RBAC \
  --kubelet-client-certificate="$P/admin.crt" --kubelet-client-key="$P/admin.key" \
  --kubelet-preferred-address-types=InternalIP \
  --allow-privileged=true --enable-priority-and-fairness=false \
  --max-requests-inflight=0 --max-mutating-requests-inflight=0 \
  --requestheader-client-ca-file="$P/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$P/front-proxy-client.crt" --proxy-client-key-file="$P/front-proxy-client.key"
wait_for "kube-apiserver /readyz" 90 curl -fsS --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" \
  "https://127.0.0.1:$APISERVER_PORT/readyz"

# ---------- kube-controller-manager, kube-scheduler ----------
start kube-controller-manager "$(bin kube-controller-manager)" \
  --kubeconfig="$AK" --authentication-kubeconfig="$AK" --authorization-kubeconfig="$AK" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
  --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
  --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics
# A pod found unschedulable (for example before its pre-bound PersistentVolumeClaim
# is Bound) is retried on the cluster event that may make it schedulable; when that
# event is missed, the default is to wait up to 5 minutes before trying again, longer
# than a test's install waits. Retry within 10 s instead (the flag is deprecated but
# kept in the pinned release).
start kube-scheduler "$(bin kube-scheduler)" \
  --kubeconfig="$AK" --authentication-kubeconfig="$AK" --authorization-kubeconfig="$AK" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --leader-elect=false \
  --pod-max-in-unschedulable-pods-duration=10s \
  --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics

# ---------- kwok (fake kubelets for the lab nodes) ----------
render_kwok_config
stage_args=()
for f in "$HERE"/kwok/stages/*.yaml; do stage_args+=("--config=$f"); done
start kwok "$(bin kwok)" \
  --kubeconfig="$AK" \
  "${stage_args[@]}" --config="$LAB/kwok-cluster.yaml" \
  --config="$HERE/kwok/metrics/resource.yaml" --config="$HERE/kwok/metrics/usage.yaml" \
  --config="$HERE/kwok/metrics/cadvisor.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-ip=127.0.0.1 --node-port="$KWOK_PORT" --server-address="127.0.0.1:$KWOK_PORT" \
  --tls-cert-file="$P/admin.crt" --tls-private-key-file="$P/admin.key" \
  --node-lease-duration-seconds=40 --cidr=10.244.0.1/16

wait_for "kube-controller-manager /healthz" 60 curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
wait_for "kube-scheduler /healthz" 60 curl -fsSk "https://127.0.0.1:$SCHED_PORT/healthz"

# ---------- fake nodes ----------
"$KUBECTL" --kubeconfig="$AK" apply -f "$HERE/manifests/nodes.yaml" >/dev/null || die "could not create the kwok nodes"
# The Prometheus Operator's PrometheusRule CRD (the post-incident alert rule is applied as one).
"$KUBECTL" --kubeconfig="$AK" apply -f "$HERE/manifests/prometheusrule-crd.yaml" >/dev/null || die "could not create the PrometheusRule CRD"
wait_for "nodes kwok-node-0 and kwok-node-1 Ready" 60 "$KUBECTL" --kubeconfig="$AK" wait --for=condition=Ready node/kwok-node-0 node/kwok-node-1 --timeout=5s
# ---------- metrics-server (metrics.k8s.io from kwok's simulated /metrics/resource) ----------
# It scrapes each node at the path of its metrics.k8s.io/resource-metrics-path
# annotation on kwok's port; the API server reaches it through an APIService whose
# ExternalName service points at loopback (the lab has no cluster network).
start metrics-server "$(bin metrics-server)" \
  --kubeconfig="$AK" --authentication-kubeconfig="$AK" --authorization-kubeconfig="$AK" \
  --bind-address=127.0.0.1 --secure-port="$METRICS_SERVER_PORT" --cert-dir="$LAB/metrics-server" \
  --kubelet-insecure-tls --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port \
  --kubelet-client-certificate="$P/admin.crt" --kubelet-client-key="$P/admin.key" \
  --metric-resolution=10s --kubelet-request-timeout=5s
"$KUBECTL" --kubeconfig="$AK" apply -f - >/dev/null <<EOF || die "could not register the metrics.k8s.io APIService"
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
spec:
  type: ExternalName
  externalName: 127.0.0.1
  ports:
  - name: https
    port: $METRICS_SERVER_PORT
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
spec:
  group: metrics.k8s.io
  version: v1beta1
  service:
    name: metrics-server
    namespace: kube-system
    port: $METRICS_SERVER_PORT
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
EOF
wait_for "metrics.k8s.io served (metrics-server)" 60 "$KUBECTL" --kubeconfig="$AK" get --raw /apis/metrics.k8s.io/v1beta1
wait_for "default service account" 60 "$KUBECTL" --kubeconfig="$AK" -n default get serviceaccount default

SECS=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $START}")
log "cluster is up in ${SECS}s (Kubernetes $K8S_VERSION, kwok $KWOK_VERSION, etcd $ETCD_VERSION)"
log "  export KUBECONFIG=$KCFG"
echo "$(date -u +%FT%TZ) up ${SECS}s" >> "$LAB/start-times.log"
