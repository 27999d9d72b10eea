# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: recovery_plan
short_description: Choose the outage recovery (scale up, raise memory, restart) from a k8s_triage result
version_added: 0.1.0
description:
  - Decides how the outage role recovers the gateway and words the timeline, check-mode and resolution
    lines for it, so that the decision is made once, in Python, instead of in template expressions.
  - On O(platform=kubernetes) the input is the registered result of M(airlock.incident.k8s_triage).
  - A C(scaled_to_zero) finding means V(scale) - to O(replicas) when it is positive, else to the count the
    finding's C(evidence.previous_replicas) reports (what a containment scale with
    M(airlock.incident.k8s_scale) recorded), else to 2.
  - Otherwise an C(oom_killed) finding means V(raise_memory) - to O(memory_limit) when it is set, else to
    the first C(evidence.suggested_memory_limit) of the C(oom_killed) findings (twice the limit the
    container was killed at). A container killed without a memory limit has no suggestion; without
    O(memory_limit) that case falls back to a restart.
  - Anything else on Kubernetes is a V(restart) of the Deployment (M(airlock.incident.k8s_rollout_restart)).
  - On O(platform=host) the plan is always a V(restart) of the service through O(service_manager); the input
    is not read (pass the skipped registered result or V({})).
  - V(none) when O(verdict) is given and is not an incident (nothing to recover).
  - V(none) when O(verdict) is a P1 authentication or policy verdict (type C(authentication_issues) or
    C(policy_failures)), because a restart cannot fix an identity provider, a missing token or a policy, and it drops
    every session. Its C(timeline_text) names the playbook that handles the verdict
    (C(airlock.incident.auth_failure), C(airlock.incident.policy_failure)).
options:
  _input:
    description:
      - The registered result of M(airlock.incident.k8s_triage) (its C(findings) are read).
      - Ignored on O(platform=host).
    type: dict
    required: true
  platform:
    description: Where Airlock runs, as the outage role's C(airlock_incident_platform).
    type: str
    choices: [host, kubernetes]
    default: kubernetes
  deployment:
    description: Name of the Deployment (kubernetes).
    type: str
    default: airlock
  namespace:
    description: Namespace of the Deployment (kubernetes).
    type: str
    default: airlock-system
  replicas:
    description: Replicas to scale a Deployment found at zero back to; V(0) means the recorded previous count,
      else 2.
    type: int
    default: 0
  memory_limit:
    description: Memory limit for an OOMKilled container (a Kubernetes quantity such as V(512Mi)); V('') means
      the finding's suggestion.
    type: str
    default: ""
  service_manager:
    description: How the service is restarted on O(platform=host).
    type: str
    choices: [systemd, command]
    default: systemd
  service_name:
    description: The systemd unit (host, O(service_manager=systemd)).
    type: str
    default: airlock
  restart_command:
    description: The restart command as an argv list (host, O(service_manager=command)).
    type: list
    elements: str
    default: []
  verdict:
    description: The verdict of the P(airlock.incident.triage#filter) filter; when given and not an incident
      the plan is V(none).
    type: dict
"""

EXAMPLES = r"""
- name: Triage the release
  airlock.incident.k8s_triage:
    namespace: airlock-system
    release: airlock
  register: k8s

- name: Plan the recovery
  ansible.builtin.set_fact:
    plan: >-
      {{ k8s | airlock.incident.recovery_plan(platform='kubernetes', deployment='airlock',
                                              namespace='airlock-system', replicas=0, memory_limit='') }}

- name: Scale a Deployment found at zero back up
  airlock.incident.k8s_scale:
    namespace: airlock-system
    name: airlock
    replicas: "{{ plan.replicas }}"
    incident_id: INC-20261128-101500
    confirm: INC-20261128-101500
    action: outage-scale-up
  when: plan.action == 'scale'

- name: Raise the OOMKilled container's memory limit
  airlock.incident.k8s_resources:
    namespace: airlock-system
    name: airlock
    container: "{{ plan.container }}"
    limits:
      memory: "{{ plan.memory_limit }}"
    incident_id: INC-20261128-101500
    confirm: INC-20261128-101500
    action: outage-memory
  when: plan.action == 'raise_memory'
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    action:
      description: V(scale), V(raise_memory), V(restart) or V(none).
      type: str
    platform:
      description: O(platform).
      type: str
    replicas:
      description: The replica count to scale back to (V(scale)); null otherwise.
      type: int
    memory_limit:
      description: The new memory limit (V(raise_memory)); null otherwise.
      type: str
    container:
      description: The OOMKilled container whose limit is raised (V(raise_memory)); null otherwise.
      type: str
    timeline_text:
      description: What is being done, for the incident timeline (for example
        C(Rolling restart of deployment/airlock in airlock-system)).
      type: str
    check_text:
      description: What check mode would do, after C(would) (for example C(restart deployment/airlock in airlock-system)).
      type: str
    verify_text:
      description: What was done, for the resolution once verified (for example
        C(Scaled deployment/airlock in airlock-system back from 0 to 2 replicas)).
      type: str
    undo_hint:
      description: How to undo the change (the module and options); V('') when there is nothing to undo (a restart).
      type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

#: Replicas a Deployment found at zero is scaled back to when nothing says how many it had.
DEFAULT_REPLICAS = 2
#: The container the chart names, for an oom_killed finding without one.
DEFAULT_CONTAINER = "airlock"
PLATFORMS = ("host", "kubernetes")
SERVICE_MANAGERS = ("systemd", "command")
#: Verdict types a restart cannot fix, and the playbook that handles each.
NOT_RESTARTABLE = {"authentication_issues": "airlock.incident.auth_failure",
                   "policy_failures": "airlock.incident.policy_failure"}


def _plan(action: str, platform: str, timeline: str, check: str, verify: str, undo: str = "",
          replicas: t.Optional[int] = None, memory_limit: t.Optional[str] = None,
          container: t.Optional[str] = None) -> t.Dict[str, t.Any]:
    return {"action": action, "platform": platform, "replicas": replicas, "memory_limit": memory_limit,
            "container": container, "timeline_text": timeline, "check_text": check, "verify_text": verify,
            "undo_hint": undo}


def _positive(value: t.Any) -> t.Optional[int]:
    """A positive integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _replicas_option(replicas: t.Any) -> int:
    try:
        count = int(replicas)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("recovery_plan: replicas must be a whole number >= 0, got %r" % (replicas,)) from exc
    if isinstance(replicas, bool) or count < 0 or str(count) != str(replicas).strip():
        raise AnsibleFilterError("recovery_plan: replicas must be a whole number >= 0, got %r" % (replicas,))
    return count


def _findings(result: t.Any, finding_id: str) -> t.List[t.Dict[str, t.Any]]:
    if not isinstance(result, dict):
        raise AnsibleFilterError("recovery_plan expects the registered result of airlock.incident.k8s_triage, got %s"
                                 % type(result).__name__)
    findings = result.get("findings") or []
    if not isinstance(findings, list):
        raise AnsibleFilterError("recovery_plan: findings of the k8s_triage result must be a list, got %s"
                                 % type(findings).__name__)
    return [f for f in findings if isinstance(f, dict) and f.get("id") == finding_id]


def _evidence(finding: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    evidence = finding.get("evidence")
    return evidence if isinstance(evidence, dict) else {}


def _memory_target(oom: t.List[t.Dict[str, t.Any]], memory_limit: str) -> t.Tuple[str, str]:
    """(container, limit) for the OOMKilled findings; limit '' when there is nothing to raise to."""
    if not oom:
        return DEFAULT_CONTAINER, ""
    if memory_limit:
        return _evidence(oom[0]).get("container") or DEFAULT_CONTAINER, memory_limit
    for finding in oom:
        suggested = _evidence(finding).get("suggested_memory_limit")
        if suggested:
            return _evidence(finding).get("container") or DEFAULT_CONTAINER, str(suggested)
    return DEFAULT_CONTAINER, ""


def _kubernetes_plan(result: t.Any, deployment: str, namespace: str, replicas: int,
                     memory_limit: str) -> t.Dict[str, t.Any]:
    target = "deployment/%s in %s" % (deployment, namespace)
    scaled = _findings(result, "scaled_to_zero")
    if scaled:
        count = replicas or _positive(_evidence(scaled[0]).get("previous_replicas")) or DEFAULT_REPLICAS
        return _plan("scale", "kubernetes",
                     "Scaling %s back from 0 to %d replicas" % (target, count),
                     "scale %s from 0 to %d replicas" % (target, count),
                     "Scaled %s back from 0 to %d replicas" % (target, count),
                     undo="airlock.incident.k8s_scale replicas=0", replicas=count)
    container, limit = _memory_target(_findings(result, "oom_killed"), memory_limit)
    if limit:
        undo = "airlock.incident.k8s_resources state=reverted action=outage-memory"
        change = "the memory limit of container %s of %s to %s" % (container, target, limit)
        return _plan("raise_memory", "kubernetes",
                     "Raising %s (OOMKilled; undo: %s)" % (change, undo),
                     "raise %s" % change,
                     "Raised %s after OOMKilled" % change,
                     undo=undo, memory_limit=limit, container=container)
    return _plan("restart", "kubernetes", "Rolling restart of %s" % target, "restart %s" % target,
                 "Rolling restart of %s" % target)


def _host_plan(service_manager: str, service_name: str, restart_command: t.Any) -> t.Dict[str, t.Any]:
    if service_manager not in SERVICE_MANAGERS:
        raise AnsibleFilterError("recovery_plan: service_manager must be one of %s, got %r"
                                 % (", ".join(SERVICE_MANAGERS), service_manager))
    if service_manager == "systemd":
        check = "restart %s with systemd" % service_name
    else:
        if not isinstance(restart_command, (list, tuple)):
            raise AnsibleFilterError("recovery_plan: restart_command must be a list (argv), got %s"
                                     % type(restart_command).__name__)
        check = "restart with: %s" % " ".join(str(arg) for arg in restart_command)
    return _plan("restart", "host", "Restarting the service through %s" % service_manager, check,
                 "Service restarted through %s" % service_manager)


def recovery_plan(result: t.Any, platform: str = "kubernetes", deployment: str = "airlock",
                  namespace: str = "airlock-system", replicas: t.Any = 0, memory_limit: t.Any = "",
                  service_manager: str = "systemd", service_name: str = "airlock",
                  restart_command: t.Any = None, verdict: t.Any = None) -> t.Dict[str, t.Any]:
    """The recovery plan (see DOCUMENTATION)."""
    if platform not in PLATFORMS:
        raise AnsibleFilterError("recovery_plan: platform must be one of %s, got %r" % (", ".join(PLATFORMS), platform))
    count = _replicas_option(replicas)
    if memory_limit is None:
        memory_limit = ""
    if not isinstance(memory_limit, str):
        raise AnsibleFilterError("recovery_plan: memory_limit must be a string such as 512Mi, got %s"
                                 % type(memory_limit).__name__)
    if verdict is not None and not (isinstance(verdict, dict) and "incident" in verdict):
        raise AnsibleFilterError("recovery_plan: verdict must be the result of the airlock.incident.triage filter")
    if verdict is not None and not verdict["incident"]:
        return _plan("none", platform, "", "", "")
    if verdict is not None and verdict.get("type") in NOT_RESTARTABLE:
        text = ("No restart for a %s %s verdict (a restart cannot fix it and drops every session); run %s"
                % (verdict.get("severity") or "P1", verdict["type"], NOT_RESTARTABLE[verdict["type"]]))
        return _plan("none", platform, text, text, "")
    if platform == "host":
        return _host_plan(service_manager, service_name, restart_command if restart_command is not None else [])
    return _kubernetes_plan(result, deployment, namespace, count, memory_limit.strip())


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"recovery_plan": recovery_plan}
