# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: policy_verdict
short_description: Tell "policy not loaded" from "policy too strict" from the checks of the policy_failure role
version_added: 0.1.0
description:
  - Combines the validation of the deployed policy (M(airlock.incident.policy) in check mode with the known
    decision tests, registered with C(failed_when) false), the compile errors found in the logs, the
    C(policy_denials) rate of M(airlock.incident.audit_query) and the hashes of the deployed and intended policy
    into one verdict with its evidence.
  - Causes, in the order they are ruled out - V(not_deployed) (no policy where Airlock reads it),
    V(not_compiling) (the deployed policy does not compile, so Airlock runs without one or with an older one),
    V(not_loaded) (it compiles, but the gateway logged compile or load errors, or denies with the engine's
    C(policy_unavailable) rule), V(too_strict) (it compiles and known requests that must be allowed are denied),
    V(drift) (it passes the tests but is not the intended policy), else V(none).
options:
  _input:
    description: The registered result of M(airlock.incident.policy) in check mode on the deployed policy.
    type: dict
    required: true
  deployed:
    description: Whether a deployed policy was found.
    type: bool
    default: true
  deployed_sha256:
    description: sha256 of the deployed policy.
    type: str
  intended_sha256:
    description: sha256 of the intended policy, or V('') when none was given.
    type: str
    default: ""
  compile_errors:
    description: Compile or load error lines from the gateway's logs.
    type: list
    elements: str
    default: []
  denials:
    description: The result of M(airlock.incident.audit_query) with V(policy_denials), or V(null).
    type: dict
  pods:
    description:
      - On Kubernetes, the Airlock pods (the C(resources) of M(kubernetes.core.k8s_info)), compared with O(configmap)
        to tell which policy each one enforces. Airlock reads C(policy.rego) once, when its container starts, so a
        pod whose C(airlock) container started before the ConfigMap was last written (its newest C(managedFields)
        time) still runs the policy it loaded then; such pods are named in the evidence and in RV(_value.pods_loaded).
      - V(null) (the default) on a host.
    type: list
    elements: dict
    version_added: 0.1.0
  configmap:
    description: The chart's ConfigMap (a resource of M(kubernetes.core.k8s_info)) that O(pods) mount.
    type: dict
    version_added: 0.1.0
"""

EXAMPLES = r"""
- name: Decide
  ansible.builtin.set_fact:
    verdict: "{{ validation | airlock.incident.policy_verdict(deployed_sha256=sha, denials=denials) }}"
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    cause:
      description: V(not_deployed), V(not_compiling), V(not_loaded), V(too_strict), V(drift) or V(none).
      type: str
    evidence:
      description: One line per finding.
      type: list
      elements: str
    redeploy:
      description: Whether redeploying a good policy is the fix.
      type: bool
    advice:
      description: What fixes it.
      type: str
    summary:
      description: One human line (no counts, so the same verdict reads the same).
      type: str
    pods_loaded:
      description:
        - With O(pods), which policy each pod enforces - C(configmap_written_at), C(pods) (C(name), C(started_at),
          C(state) one of V(current), V(older), V(not running), V(unknown)) and C(older) (pod names) - else V(null).
      type: dict
      version_added: 0.1.0
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.module_utils.k8s.policy_loaded import policy_loaded

ADVICE = {
    "not_deployed": "deploy the last good policy where Airlock reads it (policy.rego_file, or policy.rego of the "
                    "chart's ConfigMap)",
    "not_compiling": "the deployed policy does not compile: redeploy the last good policy and restart",
    "not_loaded": "the gateway runs without the deployed policy (it failed to load): restart it the way the "
                  "platform reloads (rolling restart), after checking that the policy compiles",
    "too_strict": "the policy denies requests that must be allowed: redeploy the last good policy",
    "drift": "the deployed policy passes the tests but is not the intended one: review the change, redeploy the "
             "intended policy",
    "none": "no policy fault found",
}
#: Engine rule ids that mean "no policy was evaluated".
UNLOADED_RULES = ("policy_unavailable",)


def _validation(result: t.Any) -> t.Tuple[bool, t.List[t.Dict[str, t.Any]], t.List[str]]:
    if not isinstance(result, dict) or "decisions" not in result:
        raise AnsibleFilterError("policy_verdict: the input must be a registered result of airlock.incident.policy")
    decisions = [d for d in result.get("decisions") or [] if isinstance(d, dict)]
    errors = [str(e) for e in result.get("errors") or []]
    compiles = not errors or bool(decisions)
    return compiles, decisions, errors


def _denial_lines(denials: t.Any) -> t.Tuple[t.List[str], bool]:
    """Evidence lines of the audit denials and whether the engine denied without a policy."""
    if not isinstance(denials, dict):
        return [], False
    summary = denials.get("summary") or {}
    rows = denials.get("rows") or []
    unloaded = any(row.get("rule_id") in UNLOADED_RULES for row in rows if isinstance(row, dict))
    if not summary.get("denials"):
        return ["audit: no policy_evaluate denials in the window (%s decisions)" % summary.get("events", 0)], unloaded
    line = "audit: %s of %s policy decisions denied (%s/min)" % (summary["denials"], summary.get("events"),
                                                                 summary.get("per_minute"))
    if rows:
        tops = ["%s by %s for %s/%s (%s)" % (r.get("resource") or r.get("tool") or "-", r.get("rule_id") or "-",
                                             r.get("subject") or "-", r.get("tenant") or "-", r.get("denials"))
                for r in rows[:3]]
        line += "; top: " + ", ".join(tops)
    return [line], unloaded


def _cause(deployed: bool, compiles: bool, unloaded: bool, wrong: t.List[t.Dict[str, t.Any]], drift: bool) -> str:
    if not deployed:
        return "not_deployed"
    if not compiles:
        return "not_compiling"
    if unloaded:
        return "not_loaded"
    if wrong:
        return "too_strict"
    return "drift" if drift else "none"


def policy_verdict(validation: t.Any, deployed: t.Any = True, deployed_sha256: t.Any = None,
                   intended_sha256: t.Any = "", compile_errors: t.Any = None, denials: t.Any = None,
                   pods: t.Any = None, configmap: t.Any = None) -> t.Dict[str, t.Any]:
    """The verdict (see DOCUMENTATION)."""
    compiles, decisions, errors = _validation(validation) if deployed else (True, [], [])
    lines = [str(x) for x in compile_errors or []]
    evidence: t.List[str] = []
    if not deployed:
        evidence.append("no deployed policy found")
    if not compiles:
        evidence.extend("validation: %s" % e for e in errors)
    wrong = [d for d in decisions if not d.get("ok")]
    evidence.extend("known request %r: expected %s, got %s" % (d.get("name"), d.get("expected"), d.get("actual"))
                    for d in wrong)
    evidence.extend("log: %s" % line for line in lines[-3:])
    denial_lines, unloaded_rule = _denial_lines(denials)
    evidence.extend(denial_lines)
    drift = bool(intended_sha256) and deployed_sha256 != intended_sha256
    if drift:
        evidence.append("deployed sha256 %s, intended %s" % (str(deployed_sha256)[:16], str(intended_sha256)[:16]))
    loaded = policy_loaded(pods, configmap) if pods is not None else None
    if loaded is not None:
        evidence.extend("kubernetes: %s" % line for line in loaded["lines"])
    cause = _cause(bool(deployed), compiles, bool(lines) or unloaded_rule, wrong, drift)
    return {"cause": cause, "evidence": evidence, "redeploy": cause in ("not_deployed", "not_compiling", "too_strict", "drift"),
            "advice": ADVICE[cause], "summary": "policy: %s - %s" % (cause, ADVICE[cause]), "pods_loaded": loaded}


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"policy_verdict": policy_verdict}
