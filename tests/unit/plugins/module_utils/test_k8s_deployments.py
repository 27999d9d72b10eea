# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s.deployments, k8s.client's module helpers, the restart patch and the undo-record helpers (no cluster)."""

from __future__ import annotations

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.k8s import client, deployments, mitigation, rollout


class FakeModule:
    def __init__(self, params=None, check_mode=False):
        self.params = params or {}
        self.check_mode = check_mode
        self._diff = False
        self.warnings = []
        self.exited = None
        self.failed = None

    def warn(self, text):
        self.warnings.append(text)

    def exit_json(self, **result):
        self.exited = result

    def fail_json(self, **result):
        self.failed = result


class FakeK8s:
    namespace = "ns"
    host = "https://api"

    def __init__(self, error=None, items=None):
        self.error = error
        self.items = items or []

    def call(self, what, func, *args, **kwargs):
        if self.error:
            raise self.error
        return {"items": self.items}

    def sanitize(self, obj):
        return obj


PARAMS = dict(namespace="airlock-system", request_timeout=10.0, name="airlock", incident_id="INC-1", action="scale",
              wait_timeout=300, confirm="INC-1")


def test_deployment_action_errors_names_every_option():
    assert deployments.deployment_action_errors(PARAMS, False, "scale") == []
    bad = dict(PARAMS, namespace="Bad_NS", name="Bad Name", incident_id="bad id", confirm=None)
    errors = deployments.deployment_action_errors(bad, False, "scale")
    assert [e.split(":")[0] for e in errors] == ["namespace", "name", "incident_id", "confirm"]
    assert "to scale deployment Bad_NS/Bad Name" in errors[-1]
    assert deployments.deployment_action_errors(dict(PARAMS, confirm=None), True, "scale") == []


@pytest.mark.parametrize("status", [401, 403, 404])
def test_optional_items_warns_without_permission(status):
    module = FakeModule()
    k8s = FakeK8s(error=AirlockIncidentError("forbidden", status=status))
    assert deployments.optional_items(module, k8s, "poddisruptionbudgets", None) == []
    assert module.warnings == ["could not check poddisruptionbudgets: forbidden"]


def test_optional_items_raises_other_errors_and_returns_items():
    with pytest.raises(AirlockIncidentError):
        deployments.optional_items(FakeModule(), FakeK8s(error=AirlockIncidentError("boom", status=500)), "x", None)
    assert deployments.optional_items(FakeModule(), FakeK8s(items=[{"a": 1}]), "x", None) == [{"a": 1}]


def test_rollout_failure_message():
    state = dict(failed=True, message="progress deadline exceeded: x")
    assert deployments.rollout_failure("deployment ns/a", state, 3.0, 60) == \
        "deployment ns/a rollout failed after 3.0s: progress deadline exceeded: x"
    state = dict(failed=False, message="1 of 2 replicas updated")
    assert deployments.rollout_failure("d", state, 60, 60) == "d did not finish its rollout within wait_timeout=60s: 1 of 2 replicas updated"
    assert "outside 2..3" in deployments.rollout_failure("d", state, 60, 60, waiting_for="outside 2..3")


def test_recovery_arg_spec():
    spec = client.recovery_arg_spec("scale", replicas=dict(type="int", required=True))
    assert spec["action"] == dict(type="str", default="scale") and spec["incident_id"]["required"] is True
    assert spec["wait"]["default"] is True and spec["wait_timeout"]["default"] == 300
    assert spec["name"]["default"] == "airlock" and spec["namespace"]["default"] == "airlock-system"
    assert spec["replicas"]["required"] is True
    assert "wait" not in client.recovery_arg_spec("delete-pods", wait=False)


def test_run_k8s_module_refuses_input_before_running():
    module = FakeModule()
    ran = []
    client.run_k8s_module(module, lambda m: ran.append(1) or {}, lambda m: ["a: bad", "b: bad"])
    assert module.failed["msg"] == "a: bad; b: bad" and not ran
    module = FakeModule()
    client.run_k8s_module(module, lambda m: {"msg": "done"}, lambda m: [])
    assert module.exited == {"msg": "done", "changed": False}


def test_input_error_is_an_airlock_error():
    assert issubclass(InputError, AirlockIncidentError)


def test_restart_patch_once_per_incident_action():
    dep = {"metadata": {"annotations": {rollout.REVISION: "3"}}, "spec": {"template": {"metadata": {}}}}
    before, after, result = rollout.restart_patch(dep, "INC-1/restart", now="2026-01-01T00:00:00Z")
    assert before == {} and after == {rollout.RESTARTED_FOR: "INC-1/restart", rollout.RESTARTED_AT: "2026-01-01T00:00:00Z"}
    assert result == dict(changed=False, revision_before="3", restarted_for="INC-1/restart", already_restarted=False)
    dep["spec"]["template"]["metadata"]["annotations"] = after
    before, again, result = rollout.restart_patch(dep, "INC-1/restart")
    assert again is None and result["already_restarted"] and before == after
    assert rollout.restart_patch(dep, "INC-1/second")[1][rollout.RESTARTED_FOR] == "INC-1/second"


def test_recorded_change_and_mark_reverted():
    records = {"INC-1/hpa": {"previous": {"minReplicas": 2}, "applied": {"minReplicas": 3}}}
    assert mitigation.recorded_change(records, "INC-1/hpa", "hpa ns/a", "ann", "autoscaler")["previous"] == {"minReplicas": 2}
    with pytest.raises(AirlockIncidentError) as err:
        mitigation.recorded_change(records, "INC-2/hpa", "hpa ns/a", "ann", "autoscaler")
    assert "no autoscaler change is recorded for INC-2/hpa on hpa ns/a (annotation ann); recorded: INC-1/hpa" in err.value.msg
    reverted = mitigation.mark_reverted(records, "INC-1/hpa")
    assert reverted["INC-1/hpa"]["reverted_at"] and "reverted_at" not in records["INC-1/hpa"]
