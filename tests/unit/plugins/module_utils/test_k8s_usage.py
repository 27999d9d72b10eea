# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s_usage: usage against requests and limits, series, findings, refusals (the API reads run in k8s_usage's
Kubernetes target)."""

from __future__ import annotations

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.k8s import usage

MI = 1024 * 1024


def _pod(restarts=0, last=None, limits=None, requests=None):
    status = {"name": "airlock", "restartCount": restarts, "ready": True}
    if last:
        status["lastState"] = {"terminated": last}
    return {
        "metadata": {"name": "airlock-abc"},
        "spec": {"nodeName": "kwok-node-0", "containers": [{"name": "airlock", "resources": {
            "limits": limits if limits is not None else {"cpu": "500m", "memory": "256Mi"},
            "requests": requests if requests is not None else {"cpu": "100m", "memory": "128Mi"}}}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [status]},
    }


def _metrics(cpu, memory, stamp="2026-12-05T16:00:00Z"):
    return {"metadata": {"name": "airlock-abc"}, "timestamp": stamp,
            "containers": [{"name": "airlock", "usage": {"cpu": cpu, "memory": memory}}]}


@pytest.mark.parametrize("text,millicores", [("250m", 250.0), ("1", 1000.0), ("12345678n", 12.346), ("1500u", 1.5),
                                             (None, None), ("lots", None)])
def test_cpu_millicores(text, millicores):
    assert usage.cpu_millicores(text) == millicores


@pytest.mark.parametrize("text,value", [("256Mi", 256 * MI), ("131072Ki", 128 * MI), ("1G", 10 ** 9), (None, None)])
def test_memory_bytes(text, value):
    assert usage.memory_bytes(text) == value


def test_shares_of_requests_and_limits():
    pod = usage.pod_usage(_pod(), [_metrics("475m", "240Mi")])
    c = pod["containers"][0]
    assert c["cpu_m"] == 475.0 and c["memory_bytes"] == 240 * MI
    assert c["cpu_of_limit"] == 0.95 and c["cpu_of_request"] == 4.75 and c["memory_of_limit"] == 0.9375
    ids = [f["id"] for f in usage.findings([pod], [], 0.9)]
    assert ids == ["cpu_saturated", "memory_near_limit"]
    assert "uses 95% of its CPU limit 500m (throttling likely)" in usage.findings([pod], [], 0.9)[0]["summary"]


def test_memory_growth_over_samples_and_oom():
    pod = usage.pod_usage(_pod(restarts=3, last={"reason": "OOMKilled", "exitCode": 137, "finishedAt": "x"}),
                          [_metrics("10m", "100Mi", "t1"), _metrics("10m", "150Mi", "t2"), _metrics("10m", "200Mi", "t3")])
    c = pod["containers"][0]
    assert [s["memory_bytes"] for s in c["series"]] == [100 * MI, 150 * MI, 200 * MI] and c["memory_growing"]
    found = usage.findings([pod], [], 0.9)
    assert [f["id"] for f in found] == ["oom_killed", "memory_growing"]  # critical first
    assert found[0]["evidence"]["restarts"] == 3


@pytest.mark.parametrize("values,expected", [([1, 2, 3], True), ([1, 3, 2], False), ([2, 2], False), ([1], False)])
def test_growing_needs_a_steady_rise(values, expected):
    assert usage.growing([{"memory_bytes": v} for v in values]) is expected


def test_no_metrics_keeps_requests_limits_and_restarts():
    pod = usage.pod_usage(_pod(restarts=2, limits={}), [])
    c = pod["containers"][0]
    assert c["cpu_m"] is None and c["cpu_of_limit"] is None and c["series"] == [] and c["restarts"] == 2
    assert [f["id"] for f in usage.findings([pod], [], 0.9)] == ["no_limits"]
    text = usage.message("ns", "airlock", {"served": False, "error": "HTTP 404: no APIService serves metrics.k8s.io"},
                         [pod], [])
    assert "metrics API not served (HTTP 404: no APIService serves metrics.k8s.io), usage unknown" in text


def test_hpa_at_its_maximum():
    hpa = usage.hpa_summary({"metadata": {"name": "airlock"}, "spec": {"minReplicas": 2, "maxReplicas": 4},
                             "status": {"currentReplicas": 4, "desiredReplicas": 4, "conditions": [
                                 {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}]}})
    assert hpa["max_replicas"] == 4 and hpa["conditions"]["ScalingLimited"]["reason"] == "TooManyReplicas"
    assert [f["id"] for f in usage.hpa_findings([hpa])] == ["hpa_at_max"]
    below = dict(hpa, current_replicas=2, desired_replicas=2, conditions={})
    assert usage.hpa_findings([below]) == []


@pytest.mark.parametrize("change,field", [
    (dict(samples=0), "samples"), (dict(samples=11), "samples"), (dict(interval=0), "interval"),
    (dict(interval=61), "interval"), (dict(saturation=0), "saturation"), (dict(saturation=1.5), "saturation"),
    (dict(name="Bad_Name"), "name"), (dict(namespace="Bad"), "namespace"),
    (dict(throttled_share=0), "throttled_share"), (dict(throttled_share=2), "throttled_share"),
    (dict(cadvisor_path="/stats/../x"), "cadvisor_path"), (dict(cadvisor_path="metrics/cadvisor"), "cadvisor_path"),
])
def test_refusals_name_the_field(change, field):
    params = dict(name="airlock", namespace="airlock-system", request_timeout=10.0, samples=1, interval=5, saturation=0.9,
                  throttled_share=0.25, cadvisor_path="/metrics/cadvisor")
    params.update(change)
    errors = usage.validate(params)
    assert len(errors) == 1 and errors[0].startswith(field + ": invalid value")


def test_a_repeated_metrics_point_is_one_sample():
    pod = usage.pod_usage(_pod(), [_metrics("10m", "100Mi", "t1"), _metrics("10m", "100Mi", "t1"), _metrics("10m", "120Mi", "t2")])
    series = pod["containers"][0]["series"]
    assert [s["time"] for s in series] == ["t1", "t2"] and pod["containers"][0]["memory_growing"]


def test_measured_throttling_is_a_finding_and_on_the_container():
    throttling = {"measured": True, "containers": [
        {"pod": "airlock-abc", "container": "airlock", "periods": 100.0, "throttled_periods": 60.0, "ratio": 0.6,
         "basis": "between the two scrapes"}]}
    pod = usage.pod_usage(_pod(), [_metrics("10m", "100Mi")])
    usage.attach_throttling([pod], throttling)
    assert pod["containers"][0]["throttled_ratio"] == 0.6
    found = usage.findings([pod], [], 0.9, throttling, 0.25)
    assert [f["id"] for f in found if f["id"] == "cpu_throttled"] == ["cpu_throttled"]
    assert "airlock-abc/airlock was CPU-throttled in 60% of its CFS periods (between the two scrapes)" in \
        usage.message("ns", "airlock", {"served": True}, [pod], found, throttling)
    assert usage.throttling_findings(throttling, 0.7) == []


def test_unmeasured_throttling_says_why():
    pod = usage.pod_usage(_pod(), [])
    msg = usage.message("ns", "airlock", {"served": True}, [pod], [], {"measured": False, "error": "kwok-node-0: HTTP 404"})
    assert "throttling: unavailable (kwok-node-0: HTTP 404)" in msg
