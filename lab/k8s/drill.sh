#!/usr/bin/env bash
# Put the lab Airlock release into a known broken state, or clear it.
#   drill.sh STATE [--template]
# Pod states (kwok drill stages; by default the running pods are annotated, so
# every replica breaks at once; --template puts the annotation in the
# Deployment's pod template instead, which starts a rollout whose new pods break
# while the old ones keep serving, as a bad rollout does):
#   crashloop             CrashLoopBackOff, previous log shows a config error
#   oomkilled             CrashLoopBackOff after OOMKilled (exit 137)
#   createcontainererror  CreateContainerError (missing seccomp profile)
#   notready              running, readiness probe failing
# Resource use (kwok/metrics/usage.yaml; served through metrics.k8s.io by metrics-server):
#   cpu-starvation        every pod uses its whole CPU limit (throttled, slow): the emulated
#                         cAdvisor counters (kwok/metrics/cadvisor.yaml) show it throttled
#                         in AIRLOCK_DRILL_THROTTLED_SHARE (default 0.6) of its CFS periods
#   memory-growth         every pod's working set grows by AIRLOCK_DRILL_MEMORY_PER_MINUTE
#                         (default 256Mi) a minute since it started, towards its limit
# Cluster-level states (real scheduler/controller behaviour):
#   pending               requests more memory than any node has -> Pending, FailedScheduling
#   rwo                   2nd replica on another node blocked by the single RWO claim
#   node-pressure         kwok-node-0 reports MemoryPressure
# Release-level states (a new Helm revision, undo with helm rollback):
#   bad-config            helm upgrade with audit.retention "30d" -> CrashLoopBackOff
#   seccomp               helm upgrade with a Localhost seccomp profile -> CreateContainerError
# Authentication and policy (P1):
#   idp-egress CIDR PORT  lab setup, what an install has for its IdP: NetworkPolicy
#                         <deployment>-idp-egress lets the Airlock pods reach CIDR:PORT (TCP)
#   egress-blocks-idp     a too strict egress change: <deployment>-idp-egress is deleted and the
#                         chart's policy keeps only DNS egress (no 443), so no IdP is reachable
#   broken-policy [deny-all|syntax]
#                         policy.rego of <deployment>-config replaced by a policy that denies
#                         everything (default) or does not compile (the pods' log shows the
#                         compile error); the pods are not restarted, as after a bad kubectl edit
# And:
#   clear                 remove pod/template drill annotations, recreate drilled pods, give the
#                         chart's NetworkPolicy its 443 egress rule back
#   logs-from-lab         show the host lab Airlock's log as the pods' log
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

NS="${AIRLOCK_NAMESPACE:-airlock-system}"
RELEASE="${AIRLOCK_RELEASE:-airlock}"
DEPLOY="${AIRLOCK_DEPLOYMENT:-airlock}"
SEL="app.kubernetes.io/name=airlock,app.kubernetes.io/instance=$RELEASE"
HELM="$(bin helm)"
export KUBECONFIG="$KCFG"
K() { "$KUBECTL" -n "$NS" "$@"; }
STATES="crashloop oomkilled createcontainererror notready cpu-starvation memory-growth pending rwo node-pressure bad-config seccomp idp-egress egress-blocks-idp broken-policy clear logs-from-lab"

state="${1:-}"
mode="${2:-}"
[ -n "$state" ] || die "missing STATE (accepted: $STATES)"
case "$state" in
  idp-egress|broken-policy) ;;
  *) case "$mode" in ""|--template) ;; *) die "unknown option '$mode' (accepted: --template)" ;; esac ;;
esac
"$KUBECTL" get --raw /readyz >/dev/null 2>&1 || die "the lab API server is not answering; run lab/k8s/up.sh"
now() { date -u +%FT%T.%3NZ; }

write_logs() { # current previous
  rm -f "$LAB/pod-logs/airlock.log"   # may be a link made by logs-from-lab
  printf '%s\n' "$1" | sed '/^$/d' | cri_log > "$LAB/pod-logs/airlock.log.tmp" && mv -f "$LAB/pod-logs/airlock.log.tmp" "$LAB/pod-logs/airlock.log"
  printf '%s\n' "$2" | sed '/^$/d' | cri_log > "$LAB/pod-logs/airlock-previous.log.tmp" && mv -f "$LAB/pod-logs/airlock-previous.log.tmp" "$LAB/pod-logs/airlock-previous.log"
}

event() { # pod reason type message
  K create -f - >/dev/null <<EOF
apiVersion: v1
kind: Event
metadata:
  generateName: $1.
  namespace: $NS
involvedObject:
  apiVersion: v1
  kind: Pod
  name: $1
  namespace: $NS
  uid: $(K get pod "$1" -o jsonpath='{.metadata.uid}')
reason: $2
type: $3
message: $(printf '%s' "$4" | sed 's/"/\\"/g; s/^/"/; s/$/"/')
source:
  component: kubelet
  host: $(K get pod "$1" -o jsonpath='{.spec.nodeName}')
firstTimestamp: $(date -u +%FT%TZ)
lastTimestamp: $(date -u +%FT%TZ)
count: 1
EOF
}

CONFIG_ERROR_LOG="{\"level\":\"info\",\"ts\":\"$(now)\",\"msg\":\"starting mcp-airlock\",\"config\":\"/etc/airlock/config.yaml\"}
{\"level\":\"fatal\",\"ts\":\"$(now)\",\"msg\":\"failed to load configuration\",\"error\":\"invalid audit.retention \\\"30d\\\": time: unknown unit \\\"d\\\" in duration \\\"30d\\\"\"}"

pod_state() { # state
  if [ "$mode" = "--template" ]; then
    K patch deployment "$DEPLOY" --type merge \
      -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"drill.airlock.lab/state\":\"$1\"}}}}}" >/dev/null
    log "pod template of deployment/$DEPLOY annotated drill.airlock.lab/state=$1 (a rollout starts)"
  else
    K annotate pods -l "$SEL" "drill.airlock.lab/state=$1" --overwrite >/dev/null
    log "pods $SEL annotated drill.airlock.lab/state=$1"
  fi
}

case "$state" in
  crashloop)
    write_logs "$CONFIG_ERROR_LOG" "$CONFIG_ERROR_LOG"
    pod_state crashloop
    ;;
  oomkilled)
    write_logs "{\"level\":\"info\",\"ts\":\"$(now)\",\"msg\":\"starting mcp-airlock\"}" \
      "{\"level\":\"info\",\"ts\":\"$(now)\",\"msg\":\"server listening\",\"addr\":\":8080\"}"
    pod_state oomkilled
    ;;
  createcontainererror)
    pod_state createcontainererror
    ;;
  notready)
    pod_state notready
    sleep 1
    for p in $(K get pods -l "$SEL" -o name); do
      event "${p#pod/}" Unhealthy Warning "Readiness probe failed: HTTP probe failed with statuscode: 503"
    done
    ;;
  pending)
    K patch deployment "$DEPLOY" --type strategic -p \
      '{"spec":{"template":{"spec":{"containers":[{"name":"airlock","resources":{"requests":{"memory":"64Gi"},"limits":{"memory":"64Gi"}}}]}}}}' >/dev/null
    log "deployment/$DEPLOY requests 64Gi memory; new pods stay Pending (Insufficient memory)"
    ;;
  rwo)
    # Spread the new replicas evenly over the two nodes (a spread constraint keyed on
    # pod-template-hash), wait for the rollout, then the replica that is not on the
    # node of the oldest pod cannot attach the RWO volume (Multi-Attach error).
    K patch deployment "$DEPLOY" --type merge -p '{"spec":{"template":{"spec":{"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app.kubernetes.io/name":"airlock"}},"matchLabelKeys":["pod-template-hash"]}]}}}}' >/dev/null
    K rollout status deployment "$DEPLOY" --timeout=90s >/dev/null || die "the spread rollout did not finish"
    first_node=""
    for p in $(K get pods -l "$SEL" --sort-by=.metadata.creationTimestamp -o jsonpath='{range .items[?(@.spec.nodeName)]}{.metadata.name}{"="}{.spec.nodeName}{" "}{end}'); do
      name="${p%%=*}"; node="${p#*=}"
      [ -n "$first_node" ] || first_node="$node"
      if [ "$node" != "$first_node" ]; then
        K annotate pod "$name" drill.airlock.lab/state=containercreating --overwrite >/dev/null
        pvc_vol="$(K get pvc "$DEPLOY-data" -o jsonpath='{.spec.volumeName}')"
        event "$name" FailedAttachVolume Warning "Multi-Attach error for volume \"$pvc_vol\" Volume is already used by pod(s) on node $first_node"
        log "pod $name on $node: ContainerCreating, Multi-Attach error (claim held on $first_node)"
      fi
    done
    [ -n "$first_node" ] || die "no scheduled Airlock pod found"
    ;;
  node-pressure)
    "$KUBECTL" patch node kwok-node-0 --subresource=status --type strategic -p \
      "{\"status\":{\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"True\",\"reason\":\"KubeletHasInsufficientMemory\",\"message\":\"kubelet has insufficient memory available\",\"lastHeartbeatTime\":\"$(date -u +%FT%TZ)\",\"lastTransitionTime\":\"$(date -u +%FT%TZ)\"}]}}" >/dev/null
    log "node kwok-node-0 reports MemoryPressure (kwok's heartbeat resets it within ~10 min)"
    ;;
  bad-config)
    [ -x "$HELM" ] || die "$HELM is missing; run lab/k8s/build.sh helm"
    tmp="$(mktemp)"
    K get configmap "$DEPLOY-config" -o jsonpath='{.data.config\.yaml}' | sed -E 's/^([[:space:]]*retention:).*/\1 "30d"/' > "$tmp"
    grep -q '"30d"' "$tmp" || die "could not find audit.retention in configmap/$DEPLOY-config"
    write_logs "$CONFIG_ERROR_LOG" "$CONFIG_ERROR_LOG"
    "$HELM" upgrade "$RELEASE" "$HERE/chart/airlock" -n "$NS" --reuse-values --set-file "configYaml=$tmp" \
      --set lab.drillState=crashloop >/dev/null || die "helm upgrade failed"
    rm -f "$tmp"
    log "release $RELEASE upgraded with audit.retention \"30d\" (new pods crash-loop); undo: helm rollback"
    ;;
  seccomp)
    [ -x "$HELM" ] || die "$HELM is missing; run lab/k8s/build.sh helm"
    "$HELM" upgrade "$RELEASE" "$HERE/chart/airlock" -n "$NS" --reuse-values \
      --set podSecurityContext.seccompProfile.type=Localhost \
      --set podSecurityContext.seccompProfile.localhostProfile=profiles/airlock.json \
      --set lab.drillState=createcontainererror >/dev/null || die "helm upgrade failed"
    log "release $RELEASE upgraded with a Localhost seccomp profile (CreateContainerError); undo: helm rollback"
    ;;
  idp-egress)
    cidr="${2:-}"; port="${3:-}"
    [ -n "$cidr" ] && [ -n "$port" ] || die "idp-egress needs CIDR and PORT, for example: idp-egress 203.0.113.7/32 443"
    case "$port" in *[!0-9]*) die "PORT: invalid value '$port'; accepted values: 1 to 65535" ;; esac
    K apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: $DEPLOY-idp-egress
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: airlock
      app.kubernetes.io/instance: $RELEASE
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: $cidr
      ports:
        - protocol: TCP
          port: $port
EOF
    log "networkpolicy/$DEPLOY-idp-egress lets the Airlock pods reach $cidr port $port"
    ;;
  egress-blocks-idp)
    K delete networkpolicy "$DEPLOY-idp-egress" --ignore-not-found >/dev/null
    K patch networkpolicy "$DEPLOY" --type merge -p \
      '{"spec":{"egress":[{"ports":[{"protocol":"UDP","port":53},{"protocol":"TCP","port":53}]}]}}' >/dev/null
    log "networkpolicy/$DEPLOY allows DNS egress only and $DEPLOY-idp-egress is gone: the IdP is unreachable from the pods"
    ;;
  broken-policy)
    kind="${2:-deny-all}"
    case "$kind" in
      deny-all) policy_file="$HERE/../config/policy-denies-all.rego" ;;
      syntax) policy_file="$HERE/../config/policy-does-not-compile.rego" ;;
      *) die "unknown broken-policy kind '$kind' (accepted: deny-all, syntax)" ;;
    esac
    K create configmap "$DEPLOY-config-broken" --from-file=policy.rego="$policy_file" --dry-run=client -o json \
      | python3 -c 'import json,sys; print(json.dumps({"data": json.load(sys.stdin)["data"]}))' > "$LAB/broken-policy-patch.json"
    K patch configmap "$DEPLOY-config" --type merge --patch-file "$LAB/broken-policy-patch.json" >/dev/null
    rm -f "$LAB/broken-policy-patch.json"
    if [ "$kind" = syntax ]; then
      write_logs "{\"level\":\"info\",\"ts\":\"$(now)\",\"msg\":\"server listening\",\"addr\":\":8080\"}
{\"level\":\"error\",\"ts\":\"$(now)\",\"msg\":\"Failed to load policy\",\"error\":\"policy compilation failed: policy.rego:8:9: rego_parse_error: this is unclosed\",\"policy_file\":\"/etc/airlock/policy.rego\"}" ""
    fi
    log "configmap/$DEPLOY-config key policy.rego replaced ($kind); the pods were not restarted"
    ;;
  cpu-starvation)
    cpu="$(K get deployment "$DEPLOY" -o jsonpath='{.spec.template.spec.containers[?(@.name=="airlock")].resources.limits.cpu}' 2>/dev/null || true)"
    K annotate pods -l "$SEL" "airlock.lab/cpu-usage=${cpu:-1}" \
      "airlock.lab/cpu-throttled-share=${AIRLOCK_DRILL_THROTTLED_SHARE:-0.6}" --overwrite >/dev/null
    log "pods $SEL use ${cpu:-1} CPU (their CPU limit, or 1 core without one): metrics.k8s.io shows it within ~20 s;" \
      "cAdvisor counters: throttled in ${AIRLOCK_DRILL_THROTTLED_SHARE:-0.6} of the CFS periods"
    ;;
  memory-growth)
    K annotate pods -l "$SEL" "airlock.lab/memory-growth-per-minute=${AIRLOCK_DRILL_MEMORY_PER_MINUTE:-256Mi}" --overwrite >/dev/null
    log "pods $SEL grow by ${AIRLOCK_DRILL_MEMORY_PER_MINUTE:-256Mi} a minute since they started: metrics.k8s.io shows it within ~20 s"
    ;;
  clear)
    K patch networkpolicy "$DEPLOY" --type merge -p \
      '{"spec":{"egress":[{"ports":[{"protocol":"TCP","port":443}]},{"ports":[{"protocol":"UDP","port":53},{"protocol":"TCP","port":53}]}]}}' >/dev/null 2>&1 || true
    K annotate pods -l "$SEL" airlock.lab/cpu-usage- airlock.lab/cpu-throttled-share- airlock.lab/memory-usage- airlock.lab/memory-growth-per-minute- >/dev/null 2>&1 || true
    K patch deployment "$DEPLOY" --type json -p '[{"op":"remove","path":"/spec/template/metadata/annotations/drill.airlock.lab~1state"}]' >/dev/null 2>&1 || true
    K patch deployment "$DEPLOY" --type json -p '[{"op":"remove","path":"/spec/template/spec/topologySpreadConstraints"}]' >/dev/null 2>&1 || true
    K annotate pods -l "$SEL" drill.airlock.lab/state- >/dev/null 2>&1 || true
    write_logs "{\"level\":\"info\",\"ts\":\"$(now)\",\"msg\":\"server listening\",\"addr\":\":8080\"}" ""
    log "drill annotations removed (pending/bad-config/seccomp: use helm rollback or install-airlock.sh)"
    ;;
  logs-from-lab)
    lablog="$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["log"])' "$AIRLOCK_STATE_DIR/state.json" 2>/dev/null)" \
      || die "no host lab Airlock state at $AIRLOCK_STATE_DIR/state.json (set AIRLOCK_LAB_STATE_DIR)"
    [ -f "$lablog" ] || die "the host lab Airlock log $lablog does not exist"
    cri_log < "$lablog" > "$LAB/pod-logs/airlock.log.tmp" && mv -f "$LAB/pod-logs/airlock.log.tmp" "$LAB/pod-logs/airlock.log"
    log "kubectl logs on the Airlock pods now shows a copy of $lablog (as of now, in CRI log format)"
    ;;
  *) die "unknown STATE '$state' (accepted: $STATES)" ;;
esac
