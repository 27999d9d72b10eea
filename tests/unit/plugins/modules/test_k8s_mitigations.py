# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""resources and hpa without a cluster: bad input is refused before any API call, and
the OOMKilled triage finding. Against a real API server: tests/integration/targets/k8s_resources,
k8s_hpa and k8s_oom (lab cluster)."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.airlock.incident.plugins.module_utils.k8s import triage as k8s_triage
from ansible_collections.airlock.incident.plugins.modules import k8s_hpa as hpa, k8s_resources as resources


def run(capsys, module, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


OK = dict(incident_id="INC-1", confirm="INC-1")


@pytest.mark.parametrize("args,fragment", [
    (dict(OK, limits={"memory": "1GB"}), "limits.memory: '1GB' has an unknown suffix 'GB'"),
    (dict(OK, limits={"memory": "lots"}), "limits.memory: 'lots' is not a quantity; accepted values: a Kubernetes quantity"),
    (dict(OK, requests={"memory": "2Gi"}, limits={"memory": "1Gi"}), "requests.memory: 2Gi is more than limits.memory 1Gi"),
    (dict(OK, limits={"memory": "32Mi"}), "limits.memory: 32Mi is below min_memory_limit 128Mi"),
    (dict(OK, limits={"cpu": "0.0001"}), "limits.cpu: '0.0001' is finer than 1m"),
    (dict(OK, limits={"memory": "-1Gi"}), "limits.memory: '-1Gi' is negative"),
    (dict(OK, limits={"gpu": "1"}), "limits: unknown resource 'gpu'"),
    (dict(OK), "requests/limits: nothing to change"),
    (dict(OK, state="reverted", limits={"memory": "1Gi"}), "requests/limits: not used with state=reverted"),
    (dict(incident_id="INC-1", limits={"memory": "1Gi"}), "confirm: must equal incident_id ('INC-1')"),
    (dict(OK, limits={"memory": "1Gi"}, container="Airlock_1"), "container: invalid value 'Airlock_1'"),
    (dict(OK, limits={"memory": "1Gi"}, action="Mem Up"), "action: invalid value 'Mem Up'"),
    (dict(OK, limits={"memory": "1Gi"}, wait_timeout=0), "wait_timeout: invalid value 0"),
    (dict(incident_id="INC 1", confirm="INC 1", limits={"memory": "1Gi"}), "incident_id: invalid value 'INC 1'"),
])
def test_resources_refuses_bad_input_before_any_api_call(capsys, tmp_path, args, fragment):
    # The kubeconfig does not exist: a message other than the input check would mean an API attempt.
    result = run(capsys, resources, dict(args, kubeconfig=str(tmp_path / "none")))
    assert result["failed"] is True
    assert fragment in result["msg"], result["msg"]
    assert "kubeconfig" not in result["msg"]


def test_resources_check_mode_needs_no_confirm(capsys, tmp_path):
    pytest.importorskip("kubernetes")
    result = run(capsys, resources, dict(incident_id="INC-1", limits={"memory": "1Gi"}, kubeconfig=str(tmp_path / "none")),
                 check_mode=True)
    assert result["msg"].startswith("kubeconfig: cannot load a Kubernetes configuration")


@pytest.mark.parametrize("args,fragment", [
    (dict(OK), "nothing to change; give at least one"),
    (dict(OK, min_replicas=0), "min_replicas: invalid value 0; accepted values: 1 or more"),
    (dict(OK, max_replicas=0), "max_replicas: invalid value 0"),
    (dict(OK, min_replicas=5, max_replicas=3), "min_replicas: 5 is more than max_replicas 3"),
    (dict(OK, target_cpu_utilization=0), "target_cpu_utilization: invalid value 0; accepted values: 1 to 1000"),
    (dict(OK, target_memory_utilization=5000), "target_memory_utilization: invalid value 5000"),
    (dict(OK, state="reverted", min_replicas=3), "min_replicas: not used with state=reverted"),
    (dict(incident_id="INC-1", min_replicas=3), "confirm: must equal incident_id"),
    (dict(OK, min_replicas=3, hpa="Bad_Name"), "hpa: invalid value 'Bad_Name'"),
])
def test_hpa_refuses_bad_input_before_any_api_call(capsys, tmp_path, args, fragment):
    result = run(capsys, hpa, dict(args, kubeconfig=str(tmp_path / "none")))
    assert result["failed"] is True
    assert fragment in result["msg"], result["msg"]
    assert "kubeconfig" not in result["msg"]


def test_hpa_has_no_absent_state(capsys, tmp_path):
    result = run(capsys, hpa, dict(OK, state="absent", kubeconfig=str(tmp_path / "none")))
    assert result["failed"] is True and "state" in result["msg"] and "present, reverted" in result["msg"]


# ---------------------------------------------------------------- triage: OOMKilled

def oom_pod(name, ready=False, waiting="CrashLoopBackOff"):
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": "2026-01-01T10:01:00Z"}}
    return dict(metadata=dict(name=name), spec=dict(nodeName="kwok-node-0"),
                status=dict(phase="Running", conditions=[dict(type="Ready", status="True" if ready else "False")],
                            containerStatuses=[dict(name="airlock", ready=ready, restartCount=6, state=state, lastState={
                                "terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-01-01T10:00:00Z"}})]))


def oom_findings(pods, resources_, logs=None):
    summarized = [k8s_triage.summarize_pod(p) for p in pods]
    dep = dict(replicas=2, available_replicas=sum(1 for p in summarized if p["ready"]), rollout_complete=True,
               rollout_message="", paused=False, conditions=[], updated_replicas=2)
    findings = k8s_triage.analyse(dict(deployment=dep, pods=summarized, events=[], logs=logs or {}, pvcs=[], nodes=[],
                                       resources=resources_, namespace="airlock-system", name="airlock"))
    return [f for f in findings if f["id"] == "oom_killed"]


def test_oom_finding_is_explicit():
    logs = {"airlock-1": {"airlock": ['{"level":"info","msg":"starting"}', '{"level":"info","msg":"server listening"}']}}
    res = [dict(name="airlock", requests={"memory": "128Mi"}, limits={"memory": "512Mi"})]
    oom = oom_findings([oom_pod("airlock-1")], res, logs)
    assert len(oom) == 1
    ev = oom[0]["evidence"]
    # Keys that existed before stay as they were.
    assert (ev["pod"], ev["container"], ev["memory_limit"]) == ("airlock-1", "airlock", "512Mi")
    assert ev["memory_request"] == "128Mi" and ev["restarts"] == 6 and ev["exit_code"] == 137
    assert ev["last_terminated_at"] == "2026-01-01T10:00:00Z"
    assert ev["log_lines"] == logs["airlock-1"]["airlock"]
    assert ev["suggested_memory_limit"] == "1Gi"
    assert "airlock.incident.k8s_resources" in ev["mitigation"][0] and "limits.memory: 1Gi" in ev["mitigation"][0]
    assert any("pprof" in s for s in ev["mitigation"])
    assert "last at 2026-01-01T10:00:00Z" in oom[0]["summary"] and "raise limits.memory (e.g. 1Gi)" in oom[0]["summary"]
    assert oom[0]["severity"] == "critical"


@pytest.mark.parametrize("limit,suggested", [("512Mi", "1Gi"), ("64Mi", "256Mi"), ("1Gi", "2Gi"), ("1G", "2G"), (None, None)])
def test_suggested_memory_limit(limit, suggested):
    assert k8s_triage.suggested_memory_limit(limit) == suggested


def test_oom_without_a_limit_says_the_node_ran_out():
    oom = oom_findings([oom_pod("airlock-1")], [dict(name="airlock", requests={}, limits={})])
    assert oom[0]["evidence"]["suggested_memory_limit"] is None
    assert "no memory limit" in oom[0]["summary"] and "node ran out of memory" in oom[0]["evidence"]["mitigation"][0]


def test_oom_of_a_container_that_runs_again_is_still_reported():
    oom = oom_findings([oom_pod("airlock-1", ready=True, waiting=None)],
                       [dict(name="airlock", requests={}, limits={"memory": "512Mi"})])
    assert len(oom) == 1 and oom[0]["evidence"]["restarts"] == 6
