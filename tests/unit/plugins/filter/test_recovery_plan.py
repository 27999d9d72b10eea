# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.airlock.incident.plugins.filter.recovery_plan import FilterModule, recovery_plan

TARGET = "deployment/airlock in airlock-system"


def _scaled(previous=None):
    return {"id": "scaled_to_zero", "severity": "critical", "summary": "scaled to 0",
            "evidence": {"previous_replicas": previous}}


def _oom(container="airlock", suggested="512Mi"):
    return {"id": "oom_killed", "severity": "critical", "summary": "OOMKilled",
            "evidence": {"container": container, "memory_limit": "256Mi" if suggested else None,
                         "suggested_memory_limit": suggested}}


def _crash():
    return {"id": "crash_loop", "severity": "critical", "summary": "CrashLoopBackOff", "evidence": {}}


def _k8s(*findings, status="outage"):
    return {"changed": False, "status": status, "findings": list(findings)}


# ------------------------------------------------------------------ scaled to zero

def test_scaled_to_zero_without_a_recorded_count_scales_to_two():
    plan = recovery_plan(_k8s(_scaled()))
    assert plan == {
        "action": "scale", "platform": "kubernetes", "replicas": 2, "memory_limit": None, "container": None,
        "timeline_text": "Scaling %s back from 0 to 2 replicas" % TARGET,
        "check_text": "scale %s from 0 to 2 replicas" % TARGET,
        "verify_text": "Scaled %s back from 0 to 2 replicas" % TARGET,
        "undo_hint": "airlock.incident.k8s_scale replicas=0",
    }


def test_scaled_to_zero_with_a_recorded_count_scales_back_to_it():
    plan = recovery_plan(_k8s(_scaled(previous=1)))
    assert plan["action"] == "scale" and plan["replicas"] == 1
    assert plan["check_text"] == "scale %s from 0 to 1 replicas" % TARGET
    assert plan["verify_text"] == "Scaled %s back from 0 to 1 replicas" % TARGET


@pytest.mark.parametrize("previous", [0, -1, None, "3", True])
def test_scaled_to_zero_ignores_a_recorded_count_that_is_not_positive(previous):
    assert recovery_plan(_k8s(_scaled(previous=previous)))["replicas"] == 2


def test_scaled_to_zero_without_evidence_scales_to_two():
    finding = _scaled()
    del finding["evidence"]
    assert recovery_plan(_k8s(finding))["replicas"] == 2


@pytest.mark.parametrize("replicas", [3, "3"])
def test_scaled_to_zero_with_the_replicas_variable_wins_over_the_record(replicas):
    plan = recovery_plan(_k8s(_scaled(previous=1)), replicas=replicas)
    assert plan["action"] == "scale" and plan["replicas"] == 3


def test_scaled_to_zero_wins_over_an_oom_kill():
    plan = recovery_plan(_k8s(_oom(), _scaled(previous=4)), memory_limit="1Gi")
    assert plan["action"] == "scale" and plan["replicas"] == 4
    assert plan["memory_limit"] is None and plan["container"] is None


def test_names_the_deployment_and_namespace():
    plan = recovery_plan(_k8s(_scaled()), deployment="prod-airlock", namespace="gateway")
    assert plan["timeline_text"] == "Scaling deployment/prod-airlock in gateway back from 0 to 2 replicas"


# ------------------------------------------------------------------ OOMKilled

def test_oom_killed_with_the_variable_raises_to_it():
    plan = recovery_plan(_k8s(_oom(container="gateway")), memory_limit="1Gi")
    change = "the memory limit of container gateway of %s to 1Gi" % TARGET
    undo = "airlock.incident.k8s_resources state=reverted action=outage-memory"
    assert plan == {
        "action": "raise_memory", "platform": "kubernetes", "replicas": None, "memory_limit": "1Gi",
        "container": "gateway",
        "timeline_text": "Raising %s (OOMKilled; undo: %s)" % (change, undo),
        "check_text": "raise %s" % change,
        "verify_text": "Raised %s after OOMKilled" % change,
        "undo_hint": undo,
    }


def test_oom_killed_without_the_variable_takes_the_suggested_limit():
    plan = recovery_plan(_k8s(_oom(suggested="512Mi")))
    assert plan["action"] == "raise_memory"
    assert plan["memory_limit"] == "512Mi" and plan["container"] == "airlock"
    assert plan["check_text"] == "raise the memory limit of container airlock of %s to 512Mi" % TARGET


def test_oom_killed_takes_the_first_finding_with_a_suggestion_and_its_container():
    plan = recovery_plan(_k8s(_oom(container="sidecar", suggested=None), _oom(container="gateway", suggested="2Gi")))
    assert plan["memory_limit"] == "2Gi" and plan["container"] == "gateway"


def test_oom_killed_without_a_container_name_uses_the_chart_container():
    finding = _oom()
    del finding["evidence"]["container"]
    assert recovery_plan(_k8s(finding))["container"] == "airlock"


def test_oom_killed_without_limit_or_suggestion_restarts():
    plan = recovery_plan(_k8s(_oom(suggested=None)))
    assert plan["action"] == "restart"
    assert plan["memory_limit"] is None and plan["container"] is None


def test_memory_limit_without_an_oom_kill_restarts():
    assert recovery_plan(_k8s(_crash()), memory_limit="1Gi")["action"] == "restart"


# ------------------------------------------------------------------ restart

def test_crash_loop_restarts_the_deployment():
    plan = recovery_plan(_k8s(_crash()))
    assert plan == {
        "action": "restart", "platform": "kubernetes", "replicas": None, "memory_limit": None, "container": None,
        "timeline_text": "Rolling restart of %s" % TARGET,
        "check_text": "restart %s" % TARGET,
        "verify_text": "Rolling restart of %s" % TARGET,
        "undo_hint": "",
    }


@pytest.mark.parametrize("result", [{}, {"findings": None}, _k8s(), _k8s("not a finding", {"id": None})])
def test_no_known_finding_restarts(result):
    assert recovery_plan(result)["action"] == "restart"


# ------------------------------------------------------------------ host

def test_host_systemd_restarts_the_unit():
    plan = recovery_plan({"skipped": True, "changed": False}, platform="host", service_name="airlock-gw")
    assert plan == {
        "action": "restart", "platform": "host", "replicas": None, "memory_limit": None, "container": None,
        "timeline_text": "Restarting the service through systemd",
        "check_text": "restart airlock-gw with systemd",
        "verify_text": "Service restarted through systemd",
        "undo_hint": "",
    }


def test_host_command_names_the_command():
    plan = recovery_plan({}, platform="host", service_manager="command", restart_command=["lab", "--dir", "/x", "restart"])
    assert plan["action"] == "restart"
    assert plan["timeline_text"] == "Restarting the service through command"
    assert plan["check_text"] == "restart with: lab --dir /x restart"
    assert plan["verify_text"] == "Service restarted through command"


def test_host_ignores_kubernetes_findings():
    assert recovery_plan(_k8s(_scaled(previous=3)), platform="host")["action"] == "restart"


def test_host_without_a_restart_command_says_so():
    assert recovery_plan(None, platform="host", service_manager="command")["check_text"] == "restart with: "


# ------------------------------------------------------------------ none

@pytest.mark.parametrize("platform", ["host", "kubernetes"])
def test_no_incident_needs_no_recovery(platform):
    plan = recovery_plan(_k8s(_scaled()), platform=platform, verdict={"incident": False, "severity": None})
    assert plan["action"] == "none" and plan["platform"] == platform
    assert plan["timeline_text"] == plan["check_text"] == plan["verify_text"] == plan["undo_hint"] == ""


def test_an_incident_verdict_plans_the_recovery():
    assert recovery_plan(_k8s(_scaled()), verdict={"incident": True})["action"] == "scale"


@pytest.mark.parametrize("platform", ["host", "kubernetes"])
@pytest.mark.parametrize("kind,playbook", [("authentication_issues", "airlock.incident.auth_failure"),
                                           ("policy_failures", "airlock.incident.policy_failure")])
def test_a_p1_auth_or_policy_verdict_is_never_restarted(platform, kind, playbook):
    verdict = {"incident": True, "severity": "P1", "type": kind}
    plan = recovery_plan(_k8s(_scaled()), platform=platform, verdict=verdict)
    assert plan["action"] == "none"
    assert playbook in plan["timeline_text"] and "No restart for a P1 %s verdict" % kind in plan["check_text"]


def test_an_outage_verdict_is_still_recovered():
    verdict = {"incident": True, "severity": "P0", "type": "service_outage"}
    assert recovery_plan(None, platform="host", verdict=verdict)["action"] == "restart"


# ------------------------------------------------------------------ refusals

@pytest.mark.parametrize("kwargs,fragment", [
    (dict(platform="vm"), "platform must be one of host, kubernetes, got 'vm'"),
    (dict(replicas=-1), "replicas must be a whole number >= 0"),
    (dict(replicas="two"), "replicas must be a whole number >= 0, got 'two'"),
    (dict(replicas=1.5), "replicas must be a whole number >= 0"),
    (dict(replicas=None), "replicas must be a whole number >= 0"),
    (dict(replicas=True), "replicas must be a whole number >= 0"),
    (dict(memory_limit=512), "memory_limit must be a string"),
    (dict(verdict="P0"), "verdict must be the result of the airlock.incident.triage filter"),
    (dict(platform="host", service_manager="init"), "service_manager must be one of systemd, command, got 'init'"),
    (dict(platform="host", service_manager="command", restart_command="lab restart"), "restart_command must be a list"),
])
def test_refusals_name_the_field_and_accepted_values(kwargs, fragment):
    with pytest.raises(AnsibleFilterError) as err:
        recovery_plan(_k8s(_scaled()), **kwargs)
    assert fragment in str(err.value)


@pytest.mark.parametrize("result,fragment", [
    ("outage", "expects the registered result of airlock.incident.k8s_triage, got str"),
    (None, "expects the registered result of airlock.incident.k8s_triage, got NoneType"),
    ({"findings": "scaled_to_zero"}, "findings of the k8s_triage result must be a list, got str"),
])
def test_refuses_what_is_not_a_k8s_triage_result(result, fragment):
    with pytest.raises(AnsibleFilterError) as err:
        recovery_plan(result)
    assert fragment in str(err.value)


def test_memory_limit_none_means_the_suggestion():
    assert recovery_plan(_k8s(_oom(suggested="768Mi")), memory_limit=None)["memory_limit"] == "768Mi"


def test_filter_is_registered():
    assert FilterModule().filters() == {"recovery_plan": recovery_plan}
