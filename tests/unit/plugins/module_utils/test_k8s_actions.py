# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic of the scale, delete_pods and k8s_rollback modules.

Their behaviour against a real API server is covered by the integration targets
k8s_scale, k8s_delete_pods and k8s_rollback (lab cluster).
"""

from __future__ import annotations

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core import contract
from ansible_collections.airlock.incident.plugins.module_utils.k8s import actions as ka
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.fixtures_common import pod

UID = "dep-uid"


def template(image="airlock:v1", claim="airlock-data", extra_labels=None):
    labels = {"app": "airlock"}
    labels.update(extra_labels or {})
    vols = [{"name": "config", "configMap": {"name": "airlock-config"}}]
    if claim:
        vols.append({"name": "data", "persistentVolumeClaim": {"claimName": claim}})
    return dict(metadata=dict(labels=labels), spec=dict(containers=[dict(name="airlock", image=image)], volumes=vols))


def rs(name, revision, tpl, uid=UID):
    return dict(metadata=dict(name=name, annotations={ka.REVISION: str(revision)},
                              ownerReferences=[dict(kind="Deployment", uid=uid, controller=True)]),
                spec=dict(template=tpl))


# ------------------------------------------------------------------ input (the core action contract)


def test_validate_incident_names_each_option():
    params = dict(incident_id="bad id", action="Bad", wait_timeout=0, confirm=None)
    errors = contract.action_errors(params, False, "scale deployment x/y")
    assert [e.split(":")[0] for e in errors] == ["incident_id", "action", "wait_timeout", "confirm"]
    assert "to scale deployment x/y" in errors[-1]


def test_confirm_not_needed_in_check_mode():
    params = dict(incident_id="INC-1", action="scale", wait_timeout=300, confirm=None)
    assert contract.action_errors(params, True, "x") == []
    assert contract.action_errors(params, False, "x")[0].startswith("confirm: must equal incident_id")
    params["confirm"] = "INC-1"
    assert contract.action_errors(params, False, "x") == []
    assert contract.marker(params) == "INC-1/scale"


# ------------------------------------------------------------------ scale: RWO claims


@pytest.mark.parametrize("modes,expected", [
    (["ReadWriteOnce"], True),
    (["ReadWriteOncePod"], True),
    (["ReadWriteOnce", "ReadWriteOncePod"], True),
    (["ReadWriteOnce", "ReadWriteMany"], False),
    (["ReadOnlyMany"], False),
    ([], False),
    (None, False),
])
def test_rwo_only(modes, expected):
    assert ka.rwo_only(modes) is expected


def test_rwo_claims_lists_rwo_claims_with_pod_nodes():
    pvcs = {"airlock-data": {"spec": {"accessModes": ["ReadWriteOnce"]}}}
    pods = [pod("a", node="kwok-node-1"), pod("b", node="kwok-node-0"), pod("c", node=None)]
    claims = ka.rwo_claims(template(), pvcs, pods)
    assert claims == [dict(name="airlock-data", access_modes=["ReadWriteOnce"], nodes=["kwok-node-0", "kwok-node-1"])]
    warning = ka.rwo_warning("deployment ns/airlock", claims, 3)
    assert "scaling to 3 replicas" in warning and "Multi-Attach" in warning
    assert "kwok-node-0, kwok-node-1" in warning and "Scaling up is not a fix for this chart" in warning
    assert ka.rwo_warning("d", claims, 1) is None
    assert ka.rwo_warning("d", claims, 0) is None


def test_rwo_claims_ignores_shared_and_unknown_claims():
    assert ka.rwo_claims(template(), {"airlock-data": {"spec": {"accessModes": ["ReadWriteMany"]}}}, []) == []
    assert ka.rwo_claims(template(), {}, []) == []
    assert ka.rwo_claims(template(claim=None), {"airlock-data": {"spec": {"accessModes": ["ReadWriteOnce"]}}}, []) == []


def test_rwo_pod_warning_says_one_pod():
    claims = [dict(name="d", access_modes=["ReadWriteOncePod"], nodes=["n1"])]
    assert "one pod at a time" in ka.rwo_warning("x", claims, 2)
    assert "no pod runs now" in ka.rwo_warning("x", [dict(name="d", access_modes=["ReadWriteOnce"], nodes=[])], 2)


# ------------------------------------------------------------------ scale: HPA


def hpa(name="airlock", low=2, high=10, target="airlock", kind="Deployment"):
    spec = dict(scaleTargetRef=dict(kind=kind, name=target, apiVersion="apps/v1"), maxReplicas=high)
    if low is not None:
        spec["minReplicas"] = low
    return dict(metadata=dict(name=name), spec=spec)


@pytest.mark.parametrize("replicas,error,warning", [
    (1, "outside the range 2-10", None),
    (11, "outside the range 2-10", None),
    (2, None, "keeps adjusting"),
    (10, None, "keeps adjusting"),
    (0, None, "ScalingDisabled"),
])
def test_hpa_bounds(replicas, error, warning):
    err, warn = ka.hpa_check(hpa(), replicas)
    assert (err is None) == (error is None)
    if error:
        assert error in err and err.startswith("replicas: %d" % replicas) and "would scale the Deployment back" in err
    assert (warn is None) == (warning is None)
    if warning:
        assert warning in warn


def test_hpa_min_defaults_to_one():
    assert ka.hpa_check(hpa(low=None, high=3), 1)[0] is None
    assert "outside the range 1-3" in ka.hpa_check(hpa(low=None, high=3), 4)[0]


# ------------------------------------------------------------------ scale: annotations and undo


def test_previous_replicas_annotation():
    assert ka.previous_replicas({ka.PREVIOUS_REPLICAS: "3"}) == 3
    assert ka.previous_replicas({ka.PREVIOUS_REPLICAS: "x"}) is None
    assert ka.previous_replicas({ka.PREVIOUS_REPLICAS: "-1"}) is None
    assert ka.previous_replicas({}) is None


def test_scale_undo():
    assert ka.scale_undo({}, "INC-1/scale", 2, 0) == 2
    recorded = {ka.SCALED_FOR: "INC-1/scale", ka.PREVIOUS_REPLICAS: "2"}
    assert ka.scale_undo(recorded, "INC-1/scale", 0, 0) == 2  # rerun: still says how to undo
    assert ka.scale_undo(recorded, "INC-1/other", 0, 0) is None  # not ours
    assert ka.scale_undo({}, "INC-1/scale", 2, 2) is None


def dep(replicas, generation=2, observed=2, ready=0, current=0):
    return dict(metadata=dict(name="airlock", generation=generation), spec=dict(replicas=replicas),
                status=dict(observedGeneration=observed, readyReplicas=ready, replicas=current))


def test_scale_progress():
    assert ka.scale_progress(dep(3, observed=1), [], 3) == (False, "waiting for the deployment controller to observe the new replica count")
    assert ka.scale_progress(dep(3, ready=2, current=3), [], 3) == (False, "2 of 3 replicas ready")
    assert ka.scale_progress(dep(3, ready=3, current=3), [], 3)[0]
    assert ka.scale_progress(dep(1, ready=1, current=2), [], 1) == (False, "2 replicas still present for 1 desired")
    assert ka.scale_progress(dep(0), [pod("a", deleting=True)], 0) == (False, "1 pod(s) still present: a")
    assert ka.scale_progress(dep(0), [], 0) == (True, "scaled to 0: no pod left")


# ------------------------------------------------------------------ delete pods


def test_select_pods_all_names_unready():
    pods = [pod("b"), pod("a", ready=False), pod("c", deleting=True)]
    assert [ka.pod_name(p) for p in ka.select_pods(pods)[0]] == ["a", "b"]
    assert [ka.pod_name(p) for p in ka.select_pods(pods, only_unready=True)[0]] == ["a"]
    sel, errors = ka.select_pods(pods, names=["b", "b"])
    assert [ka.pod_name(p) for p in sel] == ["b"] and errors == []
    sel, errors = ka.select_pods(pods, names=["b", "zz", "c"])
    assert errors == ["names: zz, c are not a running pod of the Deployment; its pods: a, b"]
    assert [ka.pod_name(p) for p in ka.select_pods(pods, names=["b"], only_unready=True)[0]] == []


def test_ready_survivors_excludes_deleted_terminating_unready():
    pods = [pod("a"), pod("b", deleting=True), pod("c", ready=False), pod("d")]
    assert ka.ready_survivors(pods, ["d"]) == ["a"]
    assert ka.ready_survivors(pods, ()) == ["a", "d"]


@pytest.mark.parametrize("spec,expected,need", [
    ({"minAvailable": 1}, 2, 1),
    ({"minAvailable": "50%"}, 3, 2),
    ({"maxUnavailable": 1}, 3, 2),
    ({"maxUnavailable": "50%"}, 3, 1),
    ({}, 3, 0),
])
def test_pdb_desired_healthy(spec, expected, need):
    assert ka.pdb_desired_healthy({"spec": spec}, expected) == need


def test_pdb_shortfalls():
    pdb = {"metadata": {"name": "airlock"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "airlock"}}}}
    other = {"metadata": {"name": "other"}, "spec": {"minAvailable": 5, "selector": {"matchLabels": {"app": "x"}}}}
    msgs = ka.pdb_shortfalls([pdb, other], {"app": "airlock"}, 2, 2, 2)
    assert len(msgs) == 1 and "PodDisruptionBudget airlock requires 1 healthy pod(s); deleting 2 of 2 ready pod(s) at once leaves 0" in msgs[0]
    assert ka.pdb_shortfalls([pdb], {"app": "airlock"}, 2, 1, 2) == []


# ------------------------------------------------------------------ rollback


def test_owned_replicasets_newest_first():
    rss = [rs("a", 1, template()), rs("c", 3, template()), rs("x", 9, template(), uid="other"), rs("b", 2, template())]
    assert [r["metadata"]["name"] for r in ka.owned_replicasets(rss, UID)] == ["c", "b", "a"]


def test_templates_equal_ignores_hash_label():
    with_hash = template(extra_labels={ka.HASH_LABEL: "7df9cb968f"})
    assert ka.templates_equal(with_hash, template())
    assert not ka.templates_equal(template("airlock:v2"), template())
    normalized = ka.normalize_template(with_hash)
    assert ka.HASH_LABEL not in normalized["metadata"]["labels"]
    assert ka.HASH_LABEL in with_hash["metadata"]["labels"]  # the input is not modified
    assert ka.normalize_template({"metadata": {"labels": {ka.HASH_LABEL: "x"}}, "spec": {}}) == {"spec": {}}


def test_select_revision():
    rss = [rs("a", 1, template("v1")), rs("b", 2, template("v2")), rs("c", 4, template("v4"))]
    assert ka.select_revision(rss, 4)[0]["metadata"]["name"] == "b"
    assert ka.select_revision(rss, 4, 1)[0]["metadata"]["name"] == "a"
    target, error = ka.select_revision(rss, 4, 3)
    assert target is None and error == "revision: 3 does not exist; existing revisions: 1, 2, 4 (current 4)"
    target, error = ka.select_revision([rs("a", 1, template())], 1)
    assert target is None and "no revision before the current revision 1" in error


def test_helm_managed():
    assert ka.helm_managed({"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}}}) == "label app.kubernetes.io/managed-by=Helm"
    assert ka.helm_managed({"metadata": {"annotations": {"meta.helm.sh/release-name": "airlock"}}}) == \
        "annotation meta.helm.sh/release-name=airlock"
    assert ka.helm_managed({"metadata": {"labels": {"app.kubernetes.io/managed-by": "kustomize"}}}) is None


def test_rollback_patch_tests_resource_version_and_escapes_keys():
    dep_obj = {"metadata": {"resourceVersion": "42", "annotations": {"x": "y"}}}
    ops = ka.rollback_patch(dep_obj, {"spec": {}}, {ka.ROLLED_BACK_FOR: "INC-1/rollback"})
    assert ops[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "42"}
    assert ops[1] == {"op": "replace", "path": "/spec/template", "value": {"spec": {}}}
    assert ops[2] == {"op": "add", "path": "/metadata/annotations/airlock.incident~1rolled-back-for", "value": "INC-1/rollback"}
    bare = ka.rollback_patch({"metadata": {"resourceVersion": "1"}}, {}, {"a/b": "c"})
    assert bare[2] == {"op": "add", "path": "/metadata/annotations", "value": {"a/b": "c"}}


def test_flat_diff():
    before = template("v1")
    after = template("v2")
    assert ka.flat_diff(before, after) == {"spec.containers[0].image": ("v1", "v2")}
    assert ka.flat_diff(before, before) == {}
    assert ka.flat_diff({"a": [1]}, {"a": [1, 2]}) == {"a": ([1], [1, 2])}
