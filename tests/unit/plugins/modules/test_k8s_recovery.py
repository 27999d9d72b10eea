# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes recovery modules without a cluster: pure helpers, input checks, unreachable servers.

The end-to-end behaviour against a real API server is covered by the integration
targets tests/integration/targets/k8s_* (lab cluster, see docs/kubernetes-lab.md).
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.airlock.incident.plugins.module_utils.k8s import helm as k8s_helm
from ansible_collections.airlock.incident.plugins.module_utils.k8s import objects as k8s_objects
from ansible_collections.airlock.incident.plugins.module_utils.k8s import rollout as k8s_rollout
from ansible_collections.airlock.incident.plugins.module_utils.k8s import triage as k8s_triage
from ansible_collections.airlock.incident.plugins.modules import k8s_helm_rollback as helm_rollback
from ansible_collections.airlock.incident.plugins.modules import k8s_rollout_restart as rollout_restart
from ansible_collections.airlock.incident.plugins.modules import k8s_triage as triage_mod

NOW = "2026-01-01T10:00:00Z"


def run(capsys, module, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- rollout state

def deployment(replicas=2, updated=2, ready=2, available=2, current=2, gen=3, observed=3, progressing=None):
    conds = [dict(type="Available", status="True")]
    if progressing:
        conds.append(dict(type="Progressing", status="False", reason=progressing, message="ReplicaSet airlock-x has timed out progressing."))
    return dict(metadata=dict(name="airlock", generation=gen, annotations={"deployment.kubernetes.io/revision": "4"}),
                spec=dict(replicas=replicas, selector=dict(matchLabels={"app.kubernetes.io/name": "airlock",
                                                                        "app.kubernetes.io/instance": "airlock"})),
                status=dict(replicas=current, updatedReplicas=updated, readyReplicas=ready, availableReplicas=available,
                            observedGeneration=observed, conditions=conds))


@pytest.mark.parametrize("kwargs,complete,failed,fragment", [
    (dict(), True, False, "rolled out"),
    (dict(observed=2), False, False, "observe the new spec"),
    (dict(updated=1), False, False, "1 of 2 replicas updated"),
    (dict(current=3), False, False, "1 old replicas pending termination"),
    (dict(available=1), False, False, "1 of 2 updated replicas available"),
    (dict(available=1, progressing="ProgressDeadlineExceeded"), False, True, "progress deadline exceeded"),
])
def test_rollout_state_follows_kubectl_rules(kwargs, complete, failed, fragment):
    state = k8s_rollout.rollout_state(deployment(**kwargs))
    assert state["complete"] is complete
    assert state["failed"] is failed
    assert fragment in state["message"]


def test_selector_string_is_sorted():
    assert k8s_objects.label_selector({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"


# ---------------------------------------------------------------- pods

def pod(name, node="kwok-node-0", ready=True, phase="Running", waiting=None, message=None, last=None, exit_code=None,
        restarts=0, scheduled=True, claim="airlock-data"):
    cs = dict(name="airlock", ready=ready, restartCount=restarts,
              state={"waiting": {"reason": waiting, "message": message}} if waiting else {"running": {"startedAt": NOW}})
    if last:
        cs["lastState"] = {"terminated": {"reason": last, "exitCode": exit_code, "finishedAt": NOW}}
    conds = [dict(type="Ready", status="True" if ready else "False")]
    if not scheduled:
        conds = [dict(type="PodScheduled", status="False", reason="Unschedulable",
                      message="0/2 nodes are available: 2 Insufficient memory.")]
    return dict(metadata=dict(name=name, labels={"pod-template-hash": "abc"}),
                spec=dict(nodeName=node if scheduled else None,
                          volumes=[dict(name="data", persistentVolumeClaim=dict(claimName=claim))]),
                status=dict(phase=phase, conditions=conds, containerStatuses=[cs] if scheduled else []))


def test_pod_problem_lines():
    assert k8s_objects.pod_problem(pod("a")) is None
    crash = k8s_objects.pod_problem(pod("b", ready=False, waiting="CrashLoopBackOff", message="back-off 5m0s",
                                        last="Error", exit_code=1, restarts=6))
    assert crash == "airlock: CrashLoopBackOff: back-off 5m0s: last exit: Error (exit code 1)"
    assert "not scheduled: 0/2 nodes are available: 2 Insufficient memory." in k8s_objects.pod_problem(
        pod("c", ready=False, phase="Pending", scheduled=False))
    assert "readiness probe failing" in k8s_objects.pod_problem(pod("d", ready=False))


PVC = dict(metadata=dict(name="airlock-data"),
           spec=dict(accessModes=["ReadWriteOnce"], volumeName="pv-1", resources=dict(requests=dict(storage="10Gi"))),
           status=dict(phase="Bound", capacity=dict(storage="10Gi")))
RESOURCES = [dict(name="airlock", requests={"memory": "128Mi"}, limits={"memory": "512Mi"})]


def triage(pods, logs=None, events=None, pvcs=(PVC,), nodes=(), dep=None):
    dep = k8s_triage.summarize_deployment(dep or deployment(available=sum(1 for p in pods if k8s_objects.pod_ready(p))))
    summarized = [k8s_triage.summarize_pod(p) for p in pods]
    findings = k8s_triage.analyse(dict(deployment=dep, pods=summarized, events=events or [], logs=logs or {},
                                       pvcs=[k8s_triage.summarize_pvc(c) for c in pvcs],
                                       nodes=[k8s_triage.summarize_node(n) for n in nodes],
                                       resources=RESOURCES, namespace="airlock-system", name="airlock"))
    return dep, summarized, findings


def ids(findings):
    return [f["id"] for f in findings]


def test_scaled_to_zero_is_an_outage():
    dep, summarized, findings = triage([], dep=deployment(replicas=0, updated=0, ready=0, available=0, current=0))
    assert ids(findings) == ["scaled_to_zero"]
    assert findings[0]["severity"] == "critical" and "scaled to 0 replicas" in findings[0]["summary"]
    assert k8s_triage.overall(findings, dep) == "outage"


def test_config_error_at_start_is_recognised_from_the_log():
    line = '{"level":"fatal","msg":"failed to load configuration","error":"time: unknown unit \\"d\\" in duration \\"30d\\""}'
    pods = [pod("airlock-1", ready=False, waiting="CrashLoopBackOff", last="Error", exit_code=1, restarts=6)] * 1
    dep, summarized, findings = triage(pods, logs={"airlock-1": {"airlock": ['{"level":"info","msg":"starting"}', line]}})
    assert ids(findings)[0] in ("config_error_at_start", "no_available_replicas")
    cfg = [f for f in findings if f["id"] == "config_error_at_start"][0]
    assert cfg["severity"] == "critical"
    assert cfg["evidence"]["log_lines"] == [line]
    assert "unknown unit" in cfg["summary"]
    assert "crash_loop" not in ids(findings)
    assert k8s_triage.overall(findings, dep) == "outage"


def test_crash_loop_without_config_evidence_is_generic():
    pods = [pod("airlock-1", ready=False, waiting="CrashLoopBackOff", last="Error", exit_code=1, restarts=3)]
    findings = triage(pods, logs={"airlock-1": {"airlock": ["error: listen tcp :8080: bind: address already in use"]}})[2]
    assert "crash_loop" in ids(findings) and "config_error_at_start" not in ids(findings)


def test_crash_loop_on_a_go_panic_names_the_panic():
    pods = [pod("airlock-1", ready=False, waiting="CrashLoopBackOff", last="Error", exit_code=2, restarts=3)]
    findings = triage(pods, logs={"airlock-1": {"airlock": ["panic: runtime error: index out of range"]}})[2]
    panic = [f for f in findings if f["id"] == "go_panic"]
    assert panic and panic[0]["severity"] == "critical" and "index out of range" in panic[0]["summary"]
    assert "crash_loop" not in ids(findings) and "config_error_at_start" not in ids(findings)


def test_oomkilled_reports_the_memory_limit():
    pods = [pod("airlock-1", ready=False, waiting="CrashLoopBackOff", last="OOMKilled", exit_code=137, restarts=6)]
    findings = triage(pods)[2]
    oom = [f for f in findings if f["id"] == "oom_killed"]
    assert oom and oom[0]["evidence"]["memory_limit"] == "512Mi"
    assert "crash_loop" not in ids(findings)


def test_missing_seccomp_profile_is_recognised():
    msg = 'failed to create containerd container: cannot load seccomp profile "/var/lib/kubelet/seccomp/profiles/airlock.json"'
    pods = [pod("airlock-1", ready=False, phase="Pending", waiting="CreateContainerError", message=msg)]
    findings = triage(pods)[2]
    assert "seccomp_profile_missing" in ids(findings)
    assert "create_container_error" not in ids(findings)


def test_second_replica_blocked_by_the_rwo_claim():
    pods = [pod("airlock-1", node="kwok-node-0"),
            pod("airlock-2", node="kwok-node-1", ready=False, phase="Pending", waiting="ContainerCreating")]
    events = [dict(reason="FailedAttachVolume", type="Warning", object="pod/airlock-2", time=NOW, count=1,
                   message='Multi-Attach error for volume "pv-1" Volume is already used by pod(s) airlock-1')]
    findings = triage(pods, events=events)[2]
    rwo = [f for f in findings if f["id"] == "rwo_claim_blocks_replica"][0]
    assert rwo["evidence"]["blocked"] == ["airlock-2"] and rwo["evidence"]["nodes"] == ["kwok-node-0", "kwok-node-1"]
    assert "Scaling up is not a fix" in rwo["summary"]


def test_stale_multi_attach_event_of_a_gone_pod_is_ignored():
    events = [dict(reason="FailedAttachVolume", type="Warning", object="pod/airlock-old", time=NOW, count=1,
                   message='Multi-Attach error for volume "pv-1" Volume is already used by pod(s) airlock-0')]
    findings = triage([pod("airlock-1", node="kwok-node-0"), pod("airlock-2", node="kwok-node-1")], events=events)[2]
    assert findings == []


def test_replicas_on_one_node_with_rwo_is_fine():
    findings = triage([pod("airlock-1"), pod("airlock-2")])[2]
    assert findings == []


def test_unschedulable_and_node_pressure():
    node = dict(metadata=dict(name="kwok-node-0"), spec={}, status=dict(conditions=[
        dict(type="Ready", status="True"), dict(type="MemoryPressure", status="True", message="kubelet has insufficient memory available")]))
    findings = triage([pod("airlock-1"), pod("airlock-2", ready=False, phase="Pending", scheduled=False)], nodes=[node])[2]
    assert "unschedulable" in ids(findings) and "node_pressure" in ids(findings)


def test_summary_names_state_pods_and_findings():
    pods = [pod("airlock-1", ready=False, waiting="CrashLoopBackOff", last="OOMKilled", exit_code=137, restarts=6)]
    dep, summarized, findings = triage(pods)
    text = k8s_triage.human_summary("airlock-system", "airlock", dep, summarized, findings,
                                    [dict(revision=2, status="deployed", chart="airlock-0.1.0", description="Upgrade complete")])
    assert text.splitlines()[0].startswith("airlock-system/airlock: OUTAGE; 0/2 replicas available")
    assert "oom_killed" in text and "helm: revision 2 deployed (airlock-0.1.0)" in text


def test_decode_helm_release_secret():
    rel = dict(info=dict(status="deployed", description="Rollback to 1", last_deployed=NOW),
               chart=dict(metadata=dict(name="airlock", version="0.1.0", appVersion="lab")), version=3)
    blob = base64.b64encode(base64.b64encode(gzip.compress(json.dumps(rel).encode()))).decode()
    secret = dict(metadata=dict(labels=dict(version="3", status="deployed", owner="helm", name="airlock")), data=dict(release=blob))
    out = k8s_triage.decode_helm_release(secret)
    assert out == dict(revision=3, status="deployed", chart="airlock-0.1.0", app_version="lab",
                       description="Rollback to 1", updated=NOW)


# ---------------------------------------------------------------- helm target choice

HISTORY = [dict(revision=1, status="superseded", chart="airlock-0.1.0", description="Install complete"),
           dict(revision=2, status="failed", chart="airlock-0.1.0", description="Upgrade failed"),
           dict(revision=3, status="deployed", chart="airlock-0.1.0", description="Upgrade complete")]


def test_helm_previous_skips_failed_revisions():
    assert k8s_helm.target_revision(HISTORY, HISTORY[2], None)["revision"] == 1


def test_helm_rerun_after_rollback_targets_the_same_revision():
    hist = HISTORY[:2] + [dict(HISTORY[2], status="superseded"),
                          dict(revision=4, status="deployed", chart="airlock-0.1.0", description="Rollback to 1")]
    assert k8s_helm.target_revision(hist, hist[3], None)["revision"] == 1


def test_helm_unknown_revision_lists_the_accepted_ones():
    with pytest.raises(Exception) as err:
        k8s_helm.target_revision(HISTORY, HISTORY[2], 9)
    assert "revision: 9 is not in the history" in str(err.value) and "1, 2, 3" in str(err.value)


# ---------------------------------------------------------------- input checks (before any API call)

@pytest.mark.parametrize("args,fragment", [
    (dict(incident_id="INC 1", confirm="INC 1"), "incident_id: invalid value"),
    (dict(incident_id="INC-1", confirm="INC-2"), "confirm: must equal incident_id"),
    (dict(incident_id="INC-1", confirm="INC-1", action="Restart Now"), "action: invalid value"),
    (dict(incident_id="INC-1", confirm="INC-1", wait_timeout=0), "wait_timeout: invalid value 0"),
    (dict(incident_id="INC-1", confirm="INC-1", namespace="Airlock_System"), "namespace: invalid value"),
    (dict(incident_id="INC-1", confirm="INC-1", request_timeout=-1), "request_timeout: invalid value"),
])
def test_rollout_restart_rejects_bad_input(capsys, tmp_path, args, fragment):
    # The kubeconfig does not exist: the input check must fail first.
    result = run(capsys, rollout_restart, dict(args, kubeconfig=str(tmp_path / "none")))
    assert result["failed"] is True and fragment in result["msg"]


def test_helm_rollback_rejects_bad_input(capsys, tmp_path):
    result = run(capsys, helm_rollback, dict(release="Airlock!", revision=0, incident_id="INC-1", confirm="INC-1",
                                             kubeconfig=str(tmp_path / "none")))
    assert "release: invalid value" in result["msg"] and "revision: invalid value 0" in result["msg"]


@pytest.mark.parametrize("args,fragment", [
    (dict(), "missing required arguments: incident_id"),
    (dict(incident_id="INC-1"), "confirm: must equal incident_id ('INC-1') to roll back release airlock-system/airlock"),
    (dict(incident_id="INC 1", confirm="INC 1"), "incident_id: invalid value"),
    (dict(incident_id="INC-1", confirm="INC-1", action="Roll Back"), "action: invalid value"),
    (dict(incident_id="INC-1", confirm="INC-1", wait_timeout=0), "wait_timeout: invalid value 0"),
])
def test_helm_rollback_follows_the_action_contract(capsys, tmp_path, args, fragment):
    result = run(capsys, helm_rollback, dict(args, kubeconfig=str(tmp_path / "none")))
    assert result["failed"] is True and fragment in result["msg"]


def test_helm_rollback_undo_record():
    assert k8s_helm.release_secret_name("airlock", 3) == "sh.helm.release.v1.airlock.v3"
    mine = {k8s_helm.ROLLED_BACK_FOR: "INC-1/helm-rollback", k8s_helm.ROLLED_BACK_FROM: "2"}
    assert k8s_helm.recorded_undo(mine, "INC-1/helm-rollback") == 2
    assert k8s_helm.recorded_undo(mine, "INC-2/helm-rollback") is None
    assert k8s_helm.recorded_undo({}, "INC-1/helm-rollback") is None
    assert k8s_helm.recorded_undo(dict(mine, **{k8s_helm.ROLLED_BACK_FROM: "x"}), "INC-1/helm-rollback") is None


def test_triage_rejects_bad_input(capsys, tmp_path):
    result = run(capsys, triage_mod, dict(log_lines=1000, kubeconfig=str(tmp_path / "none")))
    assert "log_lines: invalid value 1000; accepted values: 0 to 500" in result["msg"]


# ---------------------------------------------------------------- unreachable API servers

def kubeconfig(tmp_path, port):
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": "https://127.0.0.1:%d" % port, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "lab", "user": {"token": "t"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}],
    }))
    return str(path)


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class SilentServer(object):
    """Accepts TCP connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while True:
            try:
                conn = self.sock.accept()[0]
            except OSError:
                return
            self.conns.append(conn)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.mark.parametrize("module,args", [
    (rollout_restart, dict(incident_id="INC-1", confirm="INC-1")),
    (triage_mod, dict()),
])
def test_refused_api_server_fails_fast_and_clearly(capsys, tmp_path, module, args):
    pytest.importorskip("kubernetes")
    # refused at once, not waited out: the message says so (no time bound, the machine may be loaded)
    result = run(capsys, module, dict(args, kubeconfig=kubeconfig(tmp_path, closed_port()), request_timeout=3))
    assert result["failed"] is True
    assert "Connection refused" in result["msg"]
    assert "Kubernetes API server https://127.0.0.1:" in result["msg"] and "unreachable" in result["msg"]


def test_silent_api_server_fails_within_request_timeout(capsys, tmp_path):
    pytest.importorskip("kubernetes")
    with SilentServer() as server:
        start = time.monotonic()
        result = run(capsys, rollout_restart, dict(incident_id="INC-1", confirm="INC-1", request_timeout=1.5,
                                                   kubeconfig=kubeconfig(tmp_path, server.port)))
        elapsed = time.monotonic() - start
    assert elapsed >= 1.5, elapsed  # the timeout never fires early; one connection: no retry
    assert len(server.conns) == 1, server.conns
    assert "unreachable" in result["msg"] and "1.5s" in result["msg"]


def test_missing_kubeconfig_names_the_option(capsys, tmp_path):
    pytest.importorskip("kubernetes")
    result = run(capsys, rollout_restart, dict(incident_id="INC-1", confirm="INC-1", kubeconfig=str(tmp_path / "none")))
    assert result["msg"].startswith("kubeconfig: cannot load a Kubernetes configuration from %s" % (tmp_path / "none"))
