# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s.objects: the one copy of the selector, pod-health, HPA-targeting and JSON-pointer helpers."""

from __future__ import annotations

from ansible_collections.airlock.incident.plugins.module_utils.k8s import objects
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.fixtures_common import pod


def hpa(name="airlock", low=2, high=10, target="airlock", kind="Deployment", api_version="apps/v1", namespace=None):
    spec = dict(scaleTargetRef=dict(kind=kind, name=target, apiVersion=api_version), maxReplicas=high)
    if low is not None:
        spec["minReplicas"] = low
    meta = dict(name=name)
    if namespace:
        meta["namespace"] = namespace
    return dict(metadata=meta, spec=spec)


# ------------------------------------------------------------------ selectors


def test_label_selector_and_matching():
    sel = {"matchLabels": {"b": "2", "a": "1"},
           "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                                {"key": "canary", "operator": "DoesNotExist"},
                                {"key": "zone", "operator": "Exists"},
                                {"key": "env", "operator": "NotIn", "values": ["dev"]}]}
    assert objects.label_selector(sel) == "a=1,b=2,tier in (api,web),!canary,zone,env notin (dev)"
    good = {"a": "1", "b": "2", "tier": "api", "zone": "z1"}
    assert objects.selector_matches(sel, good)
    assert not objects.selector_matches(sel, dict(good, canary="x"))
    assert not objects.selector_matches(sel, dict(good, env="dev"))
    assert not objects.selector_matches(sel, dict(good, tier="db"))
    assert objects.selector_matches({}, {"x": "y"})
    assert not objects.selector_matches(None, {"x": "y"})


def test_hpas_targeting_only_this_deployment():
    hpas = [hpa("a"), hpa("b", target="other"), hpa("c", kind="StatefulSet")]
    assert [h["metadata"]["name"] for h in objects.hpas_targeting(hpas, "ns", "airlock")] == ["a"]


def test_not_ready_report():
    report = objects.not_ready_report([pod("b", ready=False), pod("a")])
    assert [p["name"] for p in report] == ["b"]
    assert "b (" in objects.describe_pods(report)
    assert objects.describe_pods([]) == "no pod reports a problem"


def test_selector_of_match_labels_only_is_sorted():
    assert objects.label_selector({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    assert objects.label_selector(None) == "" and objects.label_selector({}) == ""


def test_unknown_selector_operator_matches_nothing():
    assert not objects.selector_matches({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, {"a": "2"})


def test_hpa_targets_apps_v1_deployment_in_the_same_namespace():
    assert objects.hpa_targets_deployment(hpa(namespace="ns"), "ns", "airlock")
    assert objects.hpa_targets_deployment(hpa(), "ns", "airlock")  # listed in the namespace: no namespace field needed
    assert not objects.hpa_targets_deployment(hpa(namespace="other"), "ns", "airlock")
    assert not objects.hpa_targets_deployment(hpa(api_version="example.com/v1"), "ns", "airlock")
    assert objects.hpa_targets_deployment(hpa(api_version=None), "ns", "airlock")
    assert not objects.hpa_targets_deployment(hpa(kind="StatefulSet"), "ns", "airlock")


def test_json_pointer():
    assert objects.json_pointer("a~b/c") == "a~0b~1c"
    assert objects.json_pointer("airlock.incident/hpa-undo") == "airlock.incident~1hpa-undo"


def test_terminating_pod_is_reported():
    assert objects.pod_problem(pod("a", deleting=True)) == "terminating"
    assert objects.terminating(pod("a", deleting=True)) and not objects.terminating(pod("a"))
    assert objects.pod_name(pod("x")) == "x"
    assert objects.annotations_of(None) == {} and objects.labels_of({"metadata": {"labels": {"a": "1"}}}) == {"a": "1"}
