# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic of the resources and hpa modules (the API side is covered by the
k8s_resources, k8s_hpa and k8s_oom integration targets against the lab cluster)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.k8s import mitigation as m
from ansible_collections.airlock.incident.plugins.module_utils.k8s import objects
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError

CHART = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


# ---------------------------------------------------------------- validating the wanted values

def test_wanted_values_are_kept_as_given():
    wanted, errors = m.validate_wanted({"cpu": "500m", "memory": 1073741824}, {"memory": "2Gi", "cpu": None}, "128Mi")
    assert errors == []
    assert wanted == {"requests": {"cpu": "500m", "memory": "1073741824"}, "limits": {"memory": "2Gi", "cpu": None}}


@pytest.mark.parametrize("requests,limits,floor,fragment", [
    (None, None, "128Mi", "requests/limits: nothing to change"),
    ({}, {}, "128Mi", "requests/limits: nothing to change"),
    ({"memory": "2Gi"}, {"memory": "1Gi"}, "128Mi", "requests.memory: 2Gi is more than limits.memory 1Gi"),
    ({"cpu": "1500m"}, {"cpu": "1"}, "128Mi", "requests.cpu: 1500m is more than limits.cpu 1"),
    (None, {"memory": "64Mi"}, "128Mi", "limits.memory: 64Mi is below min_memory_limit 128Mi"),
    (None, {"memory": "100M"}, "128Mi", "limits.memory: 100M is below min_memory_limit 128Mi"),
    (None, {"memory": "1GB"}, "128Mi", "limits.memory: '1GB' has an unknown suffix 'GB'"),
    (None, {"gpu": "1"}, "128Mi", "limits: unknown resource 'gpu'; accepted values: cpu, memory, ephemeral-storage"),
    ({"cpu": "0.0001"}, None, "128Mi", "requests.cpu: '0.0001' is finer than 1m"),
    (None, {"memory": "1Gi"}, "lots", "min_memory_limit: 'lots' is not a quantity"),
    ("1Gi", None, "128Mi", "requests: invalid value '1Gi'; accepted values: a mapping"),
    ({"memory": True}, None, "128Mi", "requests.memory: True is not a quantity"),
])
def test_bad_wanted_values_are_refused_naming_the_field(requests, limits, floor, fragment):
    errors = m.validate_wanted(requests, limits, floor)[1]
    assert any(fragment in e for e in errors), errors


def test_floor_zero_disables_the_memory_floor():
    assert m.validate_wanted(None, {"memory": "64Mi"}, "0")[1] == []


def test_equal_request_and_limit_are_fine():
    assert m.validate_wanted({"memory": "1Gi"}, {"memory": "1024Mi"}, "128Mi")[1] == []


# ---------------------------------------------------------------- merging and comparing

def test_merge_keeps_everything_not_named():
    new = m.merge_resources(dict(CHART, claims=[{"name": "gpu"}]), {"requests": {}, "limits": {"memory": "1Gi"}})
    assert new == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"},
                   "claims": [{"name": "gpu"}]}


def test_merge_of_an_equal_value_keeps_the_current_text():
    new = m.merge_resources(CHART, {"limits": {"memory": "0.5Gi", "cpu": "1000m"}})
    assert new == CHART
    assert m.resource_changes(CHART, new) == []
    assert m.same_resources(CHART, new)


def test_none_removes_and_empty_sections_disappear():
    new = m.merge_resources(CHART, {"limits": {"cpu": None, "memory": None}})
    assert new == {"requests": CHART["requests"]}
    assert m.resource_changes(CHART, new) == ["limits.cpu: 1 -> (removed)", "limits.memory: 512Mi -> (removed)"]


def test_merge_into_a_container_without_resources():
    new = m.merge_resources(None, {"requests": {"memory": "1Gi"}})
    assert new == {"requests": {"memory": "1Gi"}}
    assert m.resource_changes({}, new) == ["requests.memory: (unset) -> 1Gi"]


def test_same_resources_compares_by_value():
    assert m.same_resources({"limits": {"memory": "1Gi"}}, {"limits": {"memory": "1024Mi"}, "requests": {}})
    assert not m.same_resources({"limits": {"memory": "1Gi"}}, {"limits": {"memory": "1G"}})
    assert not m.same_resources({"limits": {"memory": "1Gi"}}, {"limits": {"memory": "1Gi", "cpu": "1"}})
    assert not m.same_resources({"limits": {"memory": "1Gi"}, "claims": [1]}, {"limits": {"memory": "1Gi"}})


def test_limit_conflicts_of_the_merged_result():
    # Only a request given, above the limit that is already there.
    new = m.merge_resources(CHART, {"requests": {"memory": "1Gi"}})
    errors = m.limit_conflicts(new)
    assert errors and "requests.memory 1Gi would be more than limits.memory 512Mi" in errors[0]
    assert m.limit_conflicts(CHART) == []


def test_find_container():
    dep = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar"}, {"name": "airlock", "resources": CHART}]}}}}
    assert m.find_container(dep, "airlock") == (1, {"name": "airlock", "resources": CHART})
    assert m.find_container(dep, "nope") == (None, None)
    assert m.container_names(dep) == ["sidecar", "airlock"]


# ---------------------------------------------------------------- undo records and patches

def test_records_keep_the_first_previous_value():
    recs = m.record_change({}, "INC-1/mem", previous=CHART, applied={"limits": {"memory": "1Gi"}}, container="airlock")
    assert recs["INC-1/mem"]["previous"] == CHART
    again = m.record_change(dict(recs, **{"INC-1/mem": dict(recs["INC-1/mem"], reverted_at="x")}), "INC-1/mem",
                            previous={"limits": {"memory": "1Gi"}}, applied={"limits": {"memory": "2Gi"}})
    assert again["INC-1/mem"]["previous"] == CHART
    assert again["INC-1/mem"]["applied"] == {"limits": {"memory": "2Gi"}}
    assert "reverted_at" not in again["INC-1/mem"]
    assert recs["INC-1/mem"]["applied"] == {"limits": {"memory": "1Gi"}}, "the input records are not modified"


def test_load_records_round_trip_and_refuse_foreign_content():
    recs = m.record_change({}, "INC-1/a", previous=CHART, applied=CHART)
    obj = {"metadata": {"name": "airlock", "annotations": {m.RESOURCES_UNDO: m.dump_records(recs)}}}
    assert m.load_records(obj, m.RESOURCES_UNDO) == recs
    assert m.load_records({"metadata": {}}, m.RESOURCES_UNDO) == {}
    for bad in ("not json", "[1, 2]", '"text"'):
        with pytest.raises(AirlockIncidentError) as exc:
            m.load_records({"metadata": {"name": "airlock", "annotations": {m.RESOURCES_UNDO: bad}}}, m.RESOURCES_UNDO)
        assert "is not a JSON object of undo records; it is not overwritten" in exc.value.msg


def test_annotation_ops_escape_the_key_and_create_the_map():
    assert m.annotation_ops({"metadata": {"annotations": {"a": "b"}}}, "airlock.incident/resources-undo", "{}") == [
        dict(op="add", path="/metadata/annotations/airlock.incident~1resources-undo", value="{}")]
    assert m.annotation_ops({"metadata": {}}, "x/y", "v") == [dict(op="add", path="/metadata/annotations", value={"x/y": "v"})]
    assert objects.json_pointer("a~b/c") == "a~0b~1c"
    assert m.guard_ops({"metadata": {"resourceVersion": "42"}}) == [dict(op="test", path="/metadata/resourceVersion", value="42")]


def test_conflict_message():
    exc = AirlockIncidentError("deployment x: API server h answered HTTP 422: the server rejected our request: testing value "
                               "/metadata/resourceVersion failed", status=422)
    assert "changed while it was being patched" in m.conflict_message("deployment x", exc)
    assert m.conflict_message("x", AirlockIncidentError("other", status=403)) == "other"


# ---------------------------------------------------------------- OOM evidence

def oom_pod(name, limit="512Mi", reason="OOMKilled"):
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "airlock", "resources": {"limits": {"memory": limit}}}]},
            "status": {"containerStatuses": [{"name": "airlock", "restartCount": 6, "lastState": {
                "terminated": {"reason": reason, "exitCode": 137, "finishedAt": "2026-01-01T10:00:00Z"}}}]}}


def test_oom_kills_and_low_limit_warnings():
    kills = m.oom_kills([oom_pod("a"), oom_pod("b", reason="Error")], "airlock")
    assert kills == [dict(pod="a", memory_limit="512Mi", finished_at="2026-01-01T10:00:00Z", restarts=6)]
    assert m.oom_kills([oom_pod("a")], "sidecar") == []
    assert m.low_limit_warnings("1Gi", kills) == []
    warn = m.low_limit_warnings("512Mi", kills)
    assert len(warn) == 1 and "is not above 512Mi, the limit at which pod a was OOMKilled" in warn[0]
    assert m.low_limit_warnings("0.5Gi", kills)
    assert m.low_limit_warnings(None, kills) == []


# ---------------------------------------------------------------- HPA

CPU80 = [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


def test_plan_hpa_changes_only_what_is_named():
    spec = {"minReplicas": 2, "maxReplicas": 10, "metrics": CPU80}
    fields, notes, errors = m.plan_hpa(spec, min_replicas=3)
    assert (fields, notes, errors) == ({"minReplicas": 3, "maxReplicas": 10, "metrics": CPU80}, [], [])
    assert m.hpa_changes(m.hpa_fields(spec), fields) == ["minReplicas: 2 -> 3"]


def test_plan_hpa_sets_and_adds_utilization_targets():
    spec = {"minReplicas": 2, "maxReplicas": 10, "metrics": CPU80}
    fields = m.plan_hpa(spec, cpu=60, memory=75)[0]
    assert m.metric_utilization(fields["metrics"], "cpu") == 60
    assert m.metric_utilization(fields["metrics"], "memory") == 75
    assert m.hpa_changes(m.hpa_fields(spec), fields) == ["cpu utilization target: 80% -> 60%",
                                                         "memory utilization target: (none) -> 75%"]
    assert spec["metrics"] == CPU80, "the input spec is not modified"


def test_plan_hpa_keeps_the_implicit_cpu_target_when_adding_memory():
    fields, notes, errors = m.plan_hpa({"maxReplicas": 10}, memory=70)
    assert m.metric_utilization(fields["metrics"], "cpu") == 80
    assert m.metric_utilization(fields["metrics"], "memory") == 70
    assert notes and "implicit default of 80% CPU" in notes[0]
    assert fields["minReplicas"] == 1 and errors == []


@pytest.mark.parametrize("spec,kwargs,fragment", [
    ({"minReplicas": 2, "maxReplicas": 10}, dict(min_replicas=11), "min_replicas 11 would be more than max_replicas 10 (the HPA's current"),
    ({"minReplicas": 5, "maxReplicas": 10}, dict(max_replicas=4), "min_replicas 5 would be more than max_replicas 4"),
])
def test_plan_hpa_refuses_min_above_max_of_the_merged_result(spec, kwargs, fragment):
    errors = m.plan_hpa(spec, **kwargs)[2]
    assert errors and fragment in errors[0]


def test_hpa_targets():
    spec = {"minReplicas": 2, "maxReplicas": 10, "metrics": CPU80,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "airlock"}}
    assert m.metric_utilization(spec["metrics"], "cpu") == 80 and m.metric_utilization(spec["metrics"], "memory") is None
    assert m.hpa_fields({})["minReplicas"] == 1
    hpa = {"metadata": {"name": "h", "namespace": "ns"}, "spec": spec}
    assert objects.hpa_targets_deployment(hpa, "ns", "airlock")
    assert not objects.hpa_targets_deployment(hpa, "ns", "other")
    statefulset = {"metadata": {}, "spec": dict(spec, scaleTargetRef={"kind": "StatefulSet", "name": "airlock"})}
    assert not objects.hpa_targets_deployment(statefulset, "ns", "airlock")


def test_rwo_claims():
    dep = {"spec": {"template": {"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "airlock-data"}},
                                                      {"name": "cfg", "configMap": {"name": "airlock-config"}}]}}}}
    pvcs = [{"metadata": {"name": "airlock-data"}, "spec": {"accessModes": ["ReadWriteOnce"]}},
            {"metadata": {"name": "other"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]
    assert m.rwo_claims(dep, pvcs) == ["airlock-data"]
    pvcs[0]["spec"]["accessModes"] = ["ReadWriteMany"]
    assert m.rwo_claims(dep, pvcs) == []


def test_records_are_compact_sorted_json():
    assert m.dump_records({"b": 1, "a": {"y": 2, "x": 1}}) == '{"a":{"x":1,"y":2},"b":1}'
    assert json.loads(m.dump_records({"a": 1})) == {"a": 1}
