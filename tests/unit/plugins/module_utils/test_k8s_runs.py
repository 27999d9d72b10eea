# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The runs of the Kubernetes modules (module_utils/k8s: restart, scale, delete, rollback, helm_rollback, hpa_change,
resources_change, triage_collect) without a cluster: their input checks, their pure helpers, and check-mode runs
against a fake client that records every call. Against a real API server: tests/integration/targets/k8s_*."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s import delete, helm, helm_rollback, hpa_change
from ansible_collections.airlock.incident.plugins.module_utils.k8s import resources_change, restart, rollback, scale
from ansible_collections.airlock.incident.plugins.module_utils.k8s import triage_collect
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import PODS_DELETED_FOR, PREVIOUS_REPLICAS, SCALED_FOR
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import HPA_UNDO, RESOURCES_UNDO
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import RESTARTED_FOR, REVISION

LABELS = {"app.kubernetes.io/name": "airlock"}
WHAT = "deployment airlock-system/airlock"


def params(**kw):
    base = dict(namespace="airlock-system", request_timeout=10.0, name="airlock", incident_id="INC-1", confirm="INC-1",
                action="step", wait=False, wait_timeout=120)
    base.update(kw)
    return base


class Module:
    def __init__(self, check_mode=True, **kw):
        self.params = params(**kw)
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class Api:
    """Any method: records the call and answers from ``answers`` (a value or a function of the arguments)."""

    def __init__(self, calls, answers):
        self._calls, self._answers = calls, answers

    def __getattr__(self, name):
        def method(*args, **kwargs):
            self._calls.append((name, args, kwargs))
            answer = self._answers.get(name, {"items": []})
            return answer(*args, **kwargs) if callable(answer) else copy.deepcopy(answer)
        return method


class K8s:
    def __init__(self, **answers):
        self.namespace, self.host, self.calls = "airlock-system", "https://fake:6443", []
        self.apps = self.core = Api(self.calls, answers)

    def call(self, what, func, *args, **kwargs):
        return func(*args, **kwargs)

    def sanitize(self, obj):
        return obj

    def named(self, name):
        return [c for c in self.calls if c[0] == name]


def deployment(replicas=2, annotations=None, template_annotations=None, resources=None):
    return {"metadata": {"name": "airlock", "uid": "u1", "resourceVersion": "9", "generation": 3,
                         "annotations": dict({REVISION: "3"}, **(annotations or {}))},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                     "template": {"metadata": {"labels": LABELS, "annotations": template_annotations or {}},
                                  "spec": {"containers": [{"name": "airlock", "image": "airlock:2",
                                                           "resources": resources or {}}]}}},
            "status": {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas,
                       "readyReplicas": replicas, "availableReplicas": replicas}}


def opened(monkeypatch, mod, k8s, dep):
    monkeypatch.setattr(mod, "open_deployment", lambda p: (k8s, dep, WHAT))


# ---------------------------------------------------------------- restart

def test_restart_check_mode_is_a_dry_run_and_a_rerun_restarts_nothing(monkeypatch):
    k8s = K8s(patch_namespaced_deployment=lambda *a, **kw: deployment())
    opened(monkeypatch, restart, k8s, deployment())
    result = restart.run(Module())
    assert result["changed"] is True and result["msg"] == "would restart %s for INC-1/step" % WHAT
    (name, args, kwargs), = k8s.named("patch_namespaced_deployment")
    assert kwargs == {"dry_run": "All"} and args[2]["spec"]["template"]["metadata"]["annotations"][RESTARTED_FOR] == "INC-1/step"
    assert result["revision_after"] == "3" and result["diff"]["before"] == {"spec.template.metadata.annotations": {}}

    k8s = K8s()
    opened(monkeypatch, restart, k8s, deployment(template_annotations={RESTARTED_FOR: "INC-1/step"}))
    result = restart.run(Module(check_mode=False))
    assert result["changed"] is False and k8s.calls == []
    assert result["msg"] == "%s was already restarted for INC-1/step; nothing to do" % WHAT


def test_restart_refuses_a_paused_deployment(monkeypatch):
    dep = deployment()
    dep["spec"]["paused"] = True
    opened(monkeypatch, restart, K8s(), dep)
    with pytest.raises(AirlockIncidentError) as err:
        restart.run(Module())
    assert err.value.msg == "%s is paused; resume it (kubectl rollout resume) before restarting" % WHAT


def test_restart_sentence_and_validate():
    result = dict(changed=True, restarted_for="INC-1/step", rollout=dict(message="rolled out"))
    assert restart.sentence(False, WHAT, result, True) == "restarted %s for INC-1/step; rolled out" % WHAT
    assert restart.validate(Module()) == []
    assert restart.validate(Module(check_mode=False, confirm="x"))[0].startswith("confirm: must equal incident_id")


# ---------------------------------------------------------------- scale

def test_scale_validate():
    assert scale.validate(Module(replicas=3)) == []
    assert scale.validate(Module(replicas=scale.MAX_REPLICAS + 1)) == ["replicas: invalid value 101; accepted values: 0 to 100"]


def test_scale_check_mode_records_the_undo(monkeypatch):
    k8s = K8s(patch_namespaced_deployment=lambda *a, **kw: deployment(replicas=1))
    opened(monkeypatch, scale, k8s, deployment(replicas=1))
    monkeypatch.setattr(scale, "autoscaling_api", lambda k: k8s.core)
    module = Module(replicas=1 + 0)
    result = scale.run(module)
    assert result["changed"] is False and result["msg"] == "%s already has 1 replicas" % WHAT and result["undo"] is None

    k8s = K8s(patch_namespaced_deployment=lambda *a, **kw: deployment(replicas=3))
    opened(monkeypatch, scale, k8s, deployment(replicas=1))
    monkeypatch.setattr(scale, "autoscaling_api", lambda k: k8s.core)
    result = scale.run(Module(replicas=3))
    assert result["changed"] is True and result["msg"] == "would scale %s from 1 to 3 replicas" % WHAT
    assert result["undo"] == 1 and result["after"] == 3
    (name, args, kwargs), = k8s.named("patch_namespaced_deployment")
    assert kwargs == {"dry_run": "All"}
    assert args[2]["metadata"]["annotations"] == {SCALED_FOR: "INC-1/step", PREVIOUS_REPLICAS: "1"}
    assert result["diff"]["after"] == {"spec.replicas": 3, "metadata.annotations": {SCALED_FOR: "INC-1/step", PREVIOUS_REPLICAS: "1"}}


def test_scale_refuses_a_count_the_hpa_overrides(monkeypatch):
    hpa = {"metadata": {"name": "airlock"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "airlock"},
                                                     "minReplicas": 2, "maxReplicas": 4}}
    k8s = K8s(list_namespaced_horizontal_pod_autoscaler={"items": [hpa]})
    opened(monkeypatch, scale, k8s, deployment())
    monkeypatch.setattr(scale, "autoscaling_api", lambda k: k8s.core)
    with pytest.raises(AirlockIncidentError) as err:
        scale.run(Module(replicas=8))
    assert err.value.msg.startswith(WHAT + ": ") and err.value.result["hpa"] == ["airlock"]
    assert k8s.named("patch_namespaced_deployment") == []


# ---------------------------------------------------------------- delete pods

def pod(name, ready=True):
    return {"metadata": {"name": name, "labels": LABELS}, "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [{"name": "airlock", "ready": ready, "restartCount": 0, "state": {"running": {}}}]}}


def test_delete_validate():
    assert delete.validate(Module(names=None, grace_period=None)) == []
    errors = delete.validate(Module(names=[], grace_period=4000))
    assert errors == ["names: an empty list selects no pod; omit names to select all pods of the Deployment",
                      "grace_period: invalid value 4000; accepted values: 0 to 3600 seconds"]


def test_delete_check_mode_deletes_nothing_and_a_rerun_is_recognised(monkeypatch):
    k8s = K8s(list_namespaced_pod={"items": [pod("a"), pod("b", ready=False)]})
    opened(monkeypatch, delete, k8s, deployment())
    monkeypatch.setattr(delete, "policy_api", lambda k: k8s.core)
    result = delete.run(Module(names=None, only_unready=True, one_at_a_time=True, grace_period=5))
    assert result["changed"] is True and result["selected"] == ["b"] and result["deleted"] == []
    assert result["msg"] == "would delete 1 pod(s) of %s one at a time: b" % WHAT
    (name, args, kwargs), = k8s.named("delete_namespaced_pod")
    assert args == ("b", "airlock-system") and kwargs == {"dry_run": "All", "grace_period_seconds": 5}
    assert result["diff"]["after"]["pods"] == ["a", "(1 replacement(s))"]

    k8s = K8s(list_namespaced_pod={"items": [pod("a")]})
    opened(monkeypatch, delete, k8s, deployment(annotations={PODS_DELETED_FOR: "INC-1/step"}))
    result = delete.run(Module(check_mode=False, names=None, only_unready=False, one_at_a_time=True, grace_period=None))
    assert result["already_done"] is True and result["changed"] is False and k8s.named("delete_namespaced_pod") == []


def test_pods_diff():
    gone = dict(pod("c"), metadata={"name": "c", "deletionTimestamp": "now"})
    diff = delete.pods_diff([pod("b"), pod("a"), gone], ["a"], None, "INC-1/step")
    assert diff == dict(before={"pods": ["a", "b"], "metadata.annotations": {}},
                        after={"pods": ["b", "(1 replacement(s))"], "metadata.annotations": {PODS_DELETED_FOR: "INC-1/step"}})


# ---------------------------------------------------------------- rollback

def replicaset(name, revision, image):
    dep = deployment()
    return {"metadata": {"name": name, "annotations": {REVISION: str(revision)}, "ownerReferences": [{"uid": "u1", "controller": True}]},
            "spec": {"template": dict(dep["spec"]["template"], spec={"containers": [{"name": "airlock", "image": image}]})}}


def test_rollback_validate_and_template_changes():
    assert rollback.validate(Module(revision=0))[-1].startswith("revision: invalid value 0; accepted values: a positive")
    current = deployment()["spec"]["template"]
    target = copy.deepcopy(current)
    target["spec"]["containers"][0]["image"] = "airlock:1"
    changes = rollback.template_changes(current, target)
    assert len(changes) == 1 and list(changes.values())[0] == ["airlock:2", "airlock:1"]


def test_rollback_check_mode_targets_the_previous_revision(monkeypatch):
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"][0] = {"name": "airlock", "image": "airlock:2"}
    sets = [replicaset("rs-1", 1, "airlock:0"), replicaset("rs-2", 2, "airlock:1"), replicaset("rs-3", 3, "airlock:2")]
    k8s = K8s(list_namespaced_replica_set={"items": sets}, patch_namespaced_deployment=lambda *a, **kw: deployment())
    opened(monkeypatch, rollback, k8s, dep)
    result = rollback.run(Module(revision=None, allow_helm_managed=False))
    assert result["changed"] is True and result["target_revision"] == 2 and result["undo"] == 3
    assert result["msg"] == "would roll back %s from revision 3 to revision 2 (rs-2)" % WHAT
    assert result["revisions"] == [1, 2, 3] and result["revision_after"] == 3
    assert k8s.named("patch_namespaced_deployment")[0][2] == {"dry_run": "All"}


def test_rollback_refuses_a_helm_managed_deployment(monkeypatch):
    dep = deployment(annotations={"meta.helm.sh/release-name": "airlock"})
    dep["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm"}
    opened(monkeypatch, rollback, K8s(), dep)
    with pytest.raises(AirlockIncidentError) as err:
        rollback.run(Module(revision=None, allow_helm_managed=False))
    assert "is managed by Helm" in err.value.msg and "allow_helm_managed=true" in err.value.msg


# ---------------------------------------------------------------- helm rollback, triage: input

def test_release_error():
    assert helm.release_error("airlock") is None
    assert helm.release_error("Bad_Release") == ("release: invalid value 'Bad_Release'; accepted values: a Helm release "
                                                 "name (lowercase letters, digits, '-', at most 53)")
    assert helm.release_error(None).startswith("release: invalid value None")


def test_helm_rollback_validate(tmp_path):
    ok = Module(release="airlock", revision=None, binary_path=None)
    assert helm_rollback.validate(ok) == []
    not_exec = tmp_path / "helm"
    not_exec.write_text("")
    errors = helm_rollback.validate(Module(release="X", revision=0, binary_path=str(not_exec)))
    assert errors[0].startswith("release: invalid value 'X'")
    assert errors[1].startswith("revision: invalid value 0")
    assert errors[-1] == "binary_path: %s is not an executable file; accepted values: the path of a Helm 3 binary" % not_exec


def test_triage_validate_and_optional_read():
    assert triage_collect.validate(Module(release="airlock", log_lines=20, events_limit=30)) == []
    errors = triage_collect.validate(Module(name="Bad", release="Bad", log_lines=501, events_limit=0))
    assert [e.split(":")[0] for e in errors] == ["name", "release", "log_lines", "events_limit"]
    notes = []

    def forbidden():
        raise AirlockIncidentError("not allowed", status=403)

    def unreachable():
        raise AirlockIncidentError("gone", unreachable=True)

    assert triage_collect.optional_read(notes, "nodes", forbidden) is None and notes == ["nodes: not allowed"]
    assert triage_collect.optional_read(notes, "nodes", lambda: [1]) == [1]
    with pytest.raises(AirlockIncidentError):
        triage_collect.optional_read(notes, "nodes", unreachable)


def test_triage_collect_reads_only(monkeypatch):
    k8s = K8s(read_namespaced_deployment=deployment(), list_namespaced_pod={"items": [pod("a")]})
    k8s.ensure_namespace = lambda: None
    monkeypatch.setattr(triage_collect, "K8s", lambda p: k8s)
    result = triage_collect.collect(Module(release="airlock", log_lines=20, events_limit=30))
    assert result["changed"] is False and [p["name"] for p in result["pods"]] == ["a"]
    assert result["notes"] == ["helm: no release airlock in namespace airlock-system"]
    assert all(name.startswith(("read_", "list_")) for name, args, kwargs in k8s.calls)


# ---------------------------------------------------------------- hpa

HPA = {"metadata": {"name": "airlock", "annotations": {}, "resourceVersion": "4"},
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "airlock"},
                "minReplicas": 1, "maxReplicas": 3,
                "metrics": [{"type": "Resource",
                             "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
       "status": {"currentReplicas": 1, "desiredReplicas": 1,
                  "conditions": [{"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "ok"}]}}


def hpa_module(**kw):
    base = dict(state="present", hpa=None, min_replicas=None, max_replicas=None, target_cpu_utilization=None,
                target_memory_utilization=None)
    base.update(kw)
    return Module(**base)


def test_hpa_validate():
    assert hpa_change.validate(hpa_module(min_replicas=2)) == []
    assert hpa_change.validate(hpa_module(min_replicas=5, max_replicas=3)) == ["min_replicas: 5 is more than max_replicas 3"]
    assert hpa_change.validate(hpa_module(state="reverted", max_replicas=3))[0].startswith("max_replicas: not used with state=reverted")


def test_hpa_spec_ops_and_status():
    before = dict(minReplicas=1, maxReplicas=3, metrics=[{"x": 1}])
    assert hpa_change.spec_ops(before, dict(minReplicas=2, maxReplicas=4, metrics=None)) == [
        dict(op="add", path="/spec/minReplicas", value=2), dict(op="add", path="/spec/maxReplicas", value=4),
        dict(op="remove", path="/spec/metrics")]
    assert hpa_change.spec_ops({}, dict(minReplicas=2, maxReplicas=4, metrics=[{"y": 1}]))[-1] == dict(
        op="add", path="/spec/metrics", value=[{"y": 1}])
    status = hpa_change.hpa_status(HPA)
    assert status == dict(current_replicas=1, desired_replicas=1, last_scale_time=None, conditions=[
        dict(type="ScalingActive", status="True", reason="ValidMetricFound", message="ok")])


def test_find_hpa():
    k8s = K8s(list_namespaced_horizontal_pod_autoscaler={"items": [HPA]}, read_namespaced_horizontal_pod_autoscaler=HPA)
    assert hpa_change.find_hpa(k8s, k8s.core, params(hpa=None))["metadata"]["name"] == "airlock"
    assert hpa_change.find_hpa(k8s, k8s.core, params(hpa="airlock"))["metadata"]["name"] == "airlock"
    with pytest.raises(AirlockIncidentError) as err:
        hpa_change.find_hpa(k8s, k8s.core, params(name="other", hpa=None))
    assert err.value.msg.startswith("no HorizontalPodAutoscaler in namespace airlock-system scales deployment other")
    with pytest.raises(AirlockIncidentError) as err:
        hpa_change.find_hpa(k8s, k8s.core, params(name="other", hpa="airlock"))
    assert err.value.msg == "horizontalpodautoscaler airlock-system/airlock scales Deployment/airlock, not deployment other"
    two = K8s(list_namespaced_horizontal_pod_autoscaler={"items": [HPA, dict(HPA, metadata={"name": "b"})]})
    with pytest.raises(AirlockIncidentError) as err:
        hpa_change.find_hpa(two, two.core, params(hpa=None))
    assert err.value.msg == "2 HorizontalPodAutoscalers in airlock-system scale deployment airlock (airlock, b); name one with hpa"


def test_hpa_check_mode_raises_the_minimum_with_a_recorded_undo(monkeypatch):
    k8s = K8s(list_namespaced_horizontal_pod_autoscaler={"items": [HPA]}, read_namespaced_horizontal_pod_autoscaler=HPA,
              patch_namespaced_horizontal_pod_autoscaler=lambda *a, **kw: dict(HPA, spec=dict(HPA["spec"], minReplicas=2)))
    opened(monkeypatch, hpa_change, k8s, deployment())
    monkeypatch.setattr(hpa_change, "autoscaling_api", lambda k: k8s.core)
    result = hpa_change.run(hpa_module(min_replicas=2))
    assert result["changed"] is True and result["after"]["minReplicas"] == 2 and result["undo"] == result["before"]
    assert result["msg"].startswith("would change horizontalpodautoscaler airlock-system/airlock: ")
    (name, args, kwargs), = k8s.named("patch_namespaced_horizontal_pod_autoscaler")
    assert kwargs == {"dry_run": "All"} and dict(op="add", path="/spec/minReplicas", value=2) in args[2]
    assert dict(op="add", path="/metadata/annotations", value={HPA_UNDO: args[2][-1]["value"][HPA_UNDO]}) == args[2][-1]
    assert '"INC-1/step"' in args[2][-1]["value"][HPA_UNDO]
    with pytest.raises(AirlockIncidentError) as err:
        hpa_change.run(hpa_module(state="reverted"))
    assert "INC-1/step" in err.value.msg


# ---------------------------------------------------------------- resources

def resources_module(**kw):
    base = dict(container="airlock", requests=None, limits={"memory": "1Gi"}, min_memory_limit="128Mi", state="present")
    base.update(kw)
    return Module(**base)


def test_resources_validate():
    assert resources_change.validate(resources_module()) == []
    assert resources_change.validate(resources_module(container="Bad_1"))[0].startswith("container: invalid value 'Bad_1'")


def test_resources_check_mode_patches_the_container_with_a_recorded_undo(monkeypatch):
    dep = deployment(resources={"limits": {"memory": "512Mi"}})
    patched = deployment(resources={"limits": {"memory": "1Gi"}})
    k8s = K8s(patch_namespaced_deployment=lambda *a, **kw: patched)
    opened(monkeypatch, resources_change, k8s, dep)
    result = resources_change.run(resources_module())
    assert result["changed"] is True and result["before"] == {"limits": {"memory": "512Mi"}}
    assert result["after"] == {"limits": {"memory": "1Gi"}} and result["undo"] == result["before"]
    assert result["msg"].startswith("would change ") and result["revision_after"] == "3"
    (name, args, kwargs), = k8s.named("patch_namespaced_deployment")
    ops = args[2]
    assert kwargs == {"dry_run": "All"}
    assert dict(op="test", path="/spec/template/spec/containers/0/name", value="airlock") in ops
    assert any(op.get("path", "").endswith(RESOURCES_UNDO.replace("/", "~1")) for op in ops)

    with pytest.raises(AirlockIncidentError) as err:
        resources_change.run(resources_module(container="sidecar"))
    assert err.value.msg == "container sidecar is not in the pod template of %s; containers: airlock" % WHAT
