# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: triage
short_description: Classify an airlock.incident.health result against the playbook's severity table
version_added: 0.1.0
description:
  - Turns the result of M(airlock.incident.health) into a triage verdict, applying the operator
    playbook's severity table to what the probes saw.
  - V(P0) (service_outage) when C(/live) or C(/ready) does not answer 2xx (complete outage; on
    Kubernetes a not-ready pod receives no traffic).
  - V(P1) when the gateway is live and ready but MCP requests fail (no JSON-RPC answer, authentication
    (401), policy (403) or server errors).
  - An MCP request the gateway answers with an error from its upstream side (the health module's
    C(mcp_state=upstream_error), the release's C(-32000 No upstream servers configured) or C(-32003 ...
    connection closed)) is a finding of its own, listed under C(findings), not an incident. The release can
    never answer C(tools/list) reliably, so treating it as P1 would declare an incident on every run against
    a healthy release. With O(upstreams_required=true) (a build whose upstreams must work) it is a V(P1).
  - V(P2) when everything answers but slower than O(latency_ms) (default 1000 ms per probe).
  - No incident (V(null) severity) when every probe passed.
options:
  _input:
    description: The registered result of M(airlock.incident.health).
    type: dict
    required: true
  latency_ms:
    description: Probe latency above which a healthy gateway counts as degraded (P2).
    type: float
    default: 1000
  upstreams_required:
    description:
      - Whether an upstream-side MCP error (C(mcp_state=upstream_error)) is an incident (V(P1)) instead of a finding.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Probe the gateway
  airlock.incident.health:
    url: https://airlock.example.com
  register: probe

- name: Classify
  ansible.builtin.set_fact:
    verdict: "{{ probe | airlock.incident.triage }}"

- name: Declare only when there is something to declare
  airlock.incident.incident:
    directory: /srv/incidents
    severity: "{{ verdict.severity }}"
    type: "{{ verdict.type }}"
    symptoms: "{{ verdict.symptoms }}"
  when: verdict.incident
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    incident:
      description: Whether the probes show an incident.
      type: bool
    outage:
      description: Whether the service is down (live or ready failing).
      type: bool
    severity:
      description: V(P0), V(P1), V(P2) or V(null) when healthy.
      type: str
    type:
      description: Incident type slug (service_outage, authentication_issues, policy_failures, performance_degradation) or V(null).
      type: str
    service_status:
      description: V(UP), V(DEGRADED) or V(DOWN), as the internal notification template says.
      type: str
    symptoms:
      description: One line per failing probe, in the order live, ready, health, info, mcp, latency.
      type: list
      elements: str
    findings:
      description:
        - What is wrong but not an incident by itself, one line each; today the MCP upstreams that do not answer
          while the gateway does (when O(upstreams_required) is false).
      type: list
      elements: str
    mcp_state:
      description: The health result's C(mcp_state) (derived from C(mcp) for results without it), or V(null).
      type: str
    summary:
      description: One human line.
      type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

_GOOD_CHECKS = ("ok", "healthy", "ready", "up")


def _describe(name: str, probe: t.Any) -> str:
    if not isinstance(probe, dict):
        return "%s: not probed" % name
    status = probe.get("status")
    error = probe.get("error")
    if error:
        return "%s: %s" % (name, error if not status else "HTTP %s, %s" % (status, error))
    body = probe.get("body")
    detail = ""
    if isinstance(body, dict):
        if body.get("status"):
            detail = " %s" % body.get("status")
        checks = body.get("checks")
        if isinstance(checks, dict) and checks:
            bad = ["%s=%s" % (k, v) for k, v in sorted(checks.items()) if str(v).lower() not in _GOOD_CHECKS]
            if bad:
                detail += " (checks: %s)" % ", ".join(bad)
    return "%s: HTTP %s%s" % (name, status, detail)


def _ok(probe: t.Any) -> bool:
    return isinstance(probe, dict) and isinstance(probe.get("status"), int) and 200 <= probe["status"] < 300


def _bool(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0", ""):
        return value.strip().lower() in ("true", "yes", "on", "1")
    raise AnsibleFilterError("triage: upstreams_required must be a boolean, got %r" % (value,))


def _latency_limit(latency_ms: t.Any) -> float:
    try:
        return float(latency_ms)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("triage: latency_ms must be a number, got %r" % (latency_ms,)) from exc


def _mcp_failure(mcp: t.Dict[str, t.Any]) -> t.Tuple[t.Optional[str], t.Optional[str]]:
    """(symptom, incident type) of a failed MCP request; (None, None) when it answered."""
    error = mcp.get("error")
    status = mcp.get("status")
    method = mcp.get("method", "tools/list")
    if isinstance(error, dict) and error.get("code") is not None:
        symptom = "MCP %s: JSON-RPC error %s %s" % (method, error.get("code"), error.get("message", ""))
        return symptom, "policy_failures" if status == 403 else "service_outage"
    if not error:
        return None, None
    message = error.get("message") if isinstance(error, dict) else error
    symptom = "MCP %s: %s" % (method, message if not status else "HTTP %s, %s" % (status, message))
    return symptom, "authentication_issues" if status == 401 else ("policy_failures" if status == 403 else "service_outage")


_GATEWAY_ERRORS = ("failed to read request body", "invalid JSON-RPC message")


def _mcp_state(result: t.Dict[str, t.Any], mcp: t.Dict[str, t.Any]) -> t.Optional[str]:
    """The health result's mcp_state; derived the same way for results that lack it."""
    if result.get("mcp_state"):
        return str(result["mcp_state"])
    if not mcp:
        return None
    error = mcp.get("error")
    if not error:
        return "answered"
    if not isinstance(error, dict) or error.get("code") is None:
        return "failed"
    if mcp.get("status") == 200 and not str(error.get("message") or "").startswith(_GATEWAY_ERRORS):
        return "upstream_error"
    return "failed"


def _slow(endpoints: t.Dict[str, t.Any], mcp: t.Dict[str, t.Any], latency_limit: float) -> t.List[str]:
    """The probes (and the MCP request) slower than the limit."""
    slow = []
    for name, probe in sorted(endpoints.items()):
        if isinstance(probe, dict) and isinstance(probe.get("latency_ms"), (int, float)) and probe["latency_ms"] > latency_limit:
            slow.append("/%s %.0f ms" % (name, probe["latency_ms"]))
    if isinstance(mcp.get("latency_ms"), (int, float)) and mcp["latency_ms"] > latency_limit:
        slow.append("MCP %.0f ms" % mcp["latency_ms"])
    return slow


def _classify(outage: bool, mcp_type: t.Optional[str], slow: t.List[str]) -> t.Tuple[t.Optional[str], t.Optional[str], str]:
    """(severity, type, service status) by the severity table."""
    if outage:
        return "P0", "service_outage", "DOWN"
    if mcp_type:
        return "P1", mcp_type, "DEGRADED"
    if slow:
        return "P2", "performance_degradation", "DEGRADED"
    return None, None, "UP"


def triage(result: t.Any, latency_ms: t.Any = 1000, upstreams_required: t.Any = False) -> t.Dict[str, t.Any]:
    """Classify a health result (see DOCUMENTATION)."""
    if not isinstance(result, dict) or "endpoints" not in result:
        raise AnsibleFilterError("triage expects the registered result of airlock.incident.health, got %s" % type(result).__name__)
    latency_limit = _latency_limit(latency_ms)
    required = _bool(upstreams_required)
    endpoints = result.get("endpoints") or {}
    symptoms = [_describe("/" + name, endpoints.get(name)) for name in ("live", "ready") if not _ok(endpoints.get(name))]
    outage = bool(symptoms)
    for name in ("health", "info"):
        probe = endpoints.get(name)
        if probe is not None and not _ok(probe) and not outage:
            symptoms.append(_describe("/" + name, probe))

    mcp = result.get("mcp") or {}
    state = _mcp_state(result, mcp)
    mcp_type = None
    findings = []
    if mcp and not outage:
        symptom, mcp_type = _mcp_failure(mcp)
        if symptom and state == "upstream_error" and not required:
            findings.append("%s (the gateway answers; its upstream MCP servers do not)" % symptom)
            mcp_type = None
        elif symptom:
            symptoms.append(symptom)

    slow = []
    if not outage and not mcp_type:
        slow = _slow(endpoints, mcp, latency_limit)
        if slow:
            symptoms.append("slow responses (over %.0f ms): %s" % (latency_limit, ", ".join(slow)))

    severity, kind, status_word = _classify(outage, mcp_type, slow)
    if severity:
        summary = "%s %s: %s" % (severity, kind, "; ".join(symptoms))
    elif state == "upstream_error" and findings:
        summary = "UP: live, ready and the MCP path answered; finding: %s" % "; ".join(findings)
    else:
        summary = "UP: live, ready%s answered" % (" and MCP" if mcp else "")
    return {
        "findings": findings,
        "mcp_state": state,
        "incident": severity is not None,
        "outage": outage,
        "severity": severity,
        "type": kind,
        "service_status": status_word,
        "symptoms": symptoms,
        "summary": summary,
    }


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"triage": triage}
