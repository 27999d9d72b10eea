# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: auth_verdict
short_description: Explain why MCP Airlock refuses tokens, from the checks of the auth_failure role
version_added: 0.1.0
description:
  - Combines what M(airlock.incident.oidc_check) saw from the controller (and from the gateway host),
    M(airlock.incident.k8s_egress_check), the C(auth_failures) rate of M(airlock.incident.audit_query) and 401 lines
    of the logs into one verdict with its evidence, in the order an operator rules causes out - the IdP itself
    (a certificate that does not verify, unreachable, certificate about to expire, issuer, JWKS, rotated keys,
    clock), then the gateway's path to it, then the clients.
  - A restart never fixes any of these causes; the verdict says what would.
options:
  _input:
    description: The registered result of M(airlock.incident.oidc_check) run on the controller.
    type: dict
    required: true
  gateway:
    description: The result of M(airlock.incident.oidc_check) run on the gateway host, or V(null).
    type: dict
  egress:
    description: The result of M(airlock.incident.k8s_egress_check), or V(null).
    type: dict
  failures:
    description: The result of M(airlock.incident.audit_query) with V(auth_failures), or V(null).
    type: dict
  log_lines:
    description: Number of 401 / authentication-failure lines found in the logs.
    type: int
    default: 0
  storm_per_minute:
    description: Denials per minute above which the failures are an authentication storm.
    type: float
    default: 10
"""

EXAMPLES = r"""
- name: Decide
  ansible.builtin.set_fact:
    verdict: "{{ oidc | airlock.incident.auth_verdict(egress=egress, failures=failures) }}"
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    cause:
      description: >-
        The first cause found - V(idp_unreachable), V(idp_certificate), V(issuer_mismatch), V(jwks), V(jwks_rotated),
        V(clock_skew), V(egress_blocked), V(gateway_cannot_reach_idp), V(client_tokens), V(auth_storm) - or V(none).
      type: str
    causes:
      description: Every cause found, in that order.
      type: list
      elements: str
    evidence:
      description: One line per finding behind the causes.
      type: list
      elements: str
    advice:
      description: What fixes the first cause (never a restart).
      type: str
    summary:
      description: One human line (the cause and what fixes it; no counts, so the same verdict reads the same).
      type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

#: oidc_check finding -> cause, in the order causes are ruled out.
_OIDC_CAUSES = (("certificate", "idp_certificate"), ("discovery", "idp_unreachable"), ("tls", "idp_certificate"), ("issuer", "issuer_mismatch"),
                ("jwks", "jwks"), ("jwks_keys", "jwks"), ("kid", "jwks_rotated"), ("clock", "clock_skew"))
ADVICE = {
    "idp_unreachable": "restore the identity provider or point auth.oidc_issuer at a secondary issuer "
                       "(airlock_incident_secondary_issuer with airlock_incident_allow_mitigation)",
    "idp_certificate": "renew the identity provider's TLS certificate (or its CA on the gateway)",
    "issuer_mismatch": "make auth.oidc_issuer equal to the issuer the discovery document names",
    "jwks": "restore the JWKS endpoint or its signing keys at the identity provider",
    "jwks_rotated": "tokens carry a key id the IdP no longer publishes: clients must get new tokens, or the IdP "
                    "must publish the previous key during the rotation",
    "clock_skew": "fix the clock (NTP) of the identity provider or of the gateway hosts",
    "egress_blocked": "allow egress from the Airlock pods to the identity provider in a NetworkPolicy",
    "gateway_cannot_reach_idp": "fix the gateway host's route, DNS, proxy or firewall to the identity provider",
    "client_tokens": "the IdP is fine: the clients send missing, expired or foreign tokens",
    "auth_storm": "the IdP is fine: block or rate-limit the sources of the failed tokens "
                  "(airlock.incident.security_breach)",
    "none": "no authentication fault found",
}


def _findings(result: t.Any, name: str) -> t.List[t.Dict[str, t.Any]]:
    if result is None:
        return []
    if not isinstance(result, dict) or "findings" not in result:
        raise AnsibleFilterError("auth_verdict: %s must be a registered result of airlock.incident.oidc_check" % name)
    return list(result["findings"])


def _add(causes: t.List[str], evidence: t.List[str], cause: str, line: str) -> None:
    if cause not in causes:
        causes.append(cause)
    evidence.append(line)


#: Findings that follow from a certificate that does not verify (the requests over it fail too).
_CERTIFICATE_CONSEQUENCES = ("discovery", "jwks")


def _oidc(controller: t.List[t.Dict[str, t.Any]], causes: t.List[str], evidence: t.List[str]) -> None:
    certificate = any(finding.get("check") == "certificate" for finding in controller)
    for check, cause in _OIDC_CAUSES:
        for finding in controller:
            if finding.get("check") != check:
                continue
            line = "IdP (from the controller): %s" % finding.get("detail")
            if certificate and check in _CERTIFICATE_CONSEQUENCES:
                evidence.append(line)
            else:
                _add(causes, evidence, cause, line)


def _path(controller_ok: bool, gateway: t.Any, egress: t.Any, causes: t.List[str], evidence: t.List[str]) -> None:
    if isinstance(egress, dict) and egress.get("allowed") is False:
        for check in egress.get("blocked") or []:
            _add(causes, evidence, "egress_blocked", "NetworkPolicy: %s" % check.get("reason"))
    gateway_findings = _findings(gateway, "gateway")
    reach = [f for f in gateway_findings if f.get("check") == "discovery"]
    if controller_ok and reach:
        _add(causes, evidence, "gateway_cannot_reach_idp", "IdP (from the gateway host): %s" % reach[0].get("detail"))


def _clients(controller: t.List[t.Dict[str, t.Any]], failures: t.Any, log_lines: int, storm: float,
             causes: t.List[str], evidence: t.List[str]) -> None:
    for finding in controller:
        if finding.get("check") == "token":
            _add(causes, evidence, "client_tokens", "token: %s" % finding.get("detail"))
    summary = (failures or {}).get("summary") or {}
    rate = summary.get("per_minute")
    if summary.get("denials"):
        line = "audit: %s token_validate denials (%s/min) from %s to %s" % (
            summary["denials"], rate, summary.get("first_seen"), summary.get("last_seen"))
        rows = (failures or {}).get("rows") or []
        if rows:
            tops = ["%s/%s %s (%s)" % (r.get("subject") or "-", r.get("client_ip") or "-", r.get("error") or "-",
                                       r.get("attempts")) for r in rows[:3]]
            line += "; top: " + ", ".join(tops)
        evidence.append(line)
        if isinstance(rate, (int, float)) and rate > storm and not causes:
            causes.append("auth_storm")
    if log_lines:
        evidence.append("logs: %d authentication-failure (401) line(s)" % log_lines)


def auth_verdict(oidc: t.Any, gateway: t.Any = None, egress: t.Any = None, failures: t.Any = None,
                 log_lines: t.Any = 0, storm_per_minute: t.Any = 10) -> t.Dict[str, t.Any]:
    """The verdict (see DOCUMENTATION)."""
    controller = _findings(oidc, "the input")
    try:
        storm = float(storm_per_minute)
        lines = int(log_lines or 0)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("auth_verdict: storm_per_minute and log_lines must be numbers") from exc
    causes: t.List[str] = []
    evidence: t.List[str] = []
    _oidc(controller, causes, evidence)
    _path(not controller, gateway, egress, causes, evidence)
    _clients(controller, failures, lines, storm, causes, evidence)
    cause = causes[0] if causes else "none"
    # No counts in the summary: it is the timeline entry, the same for the same verdict.
    summary = "authentication: %s - %s" % (cause, ADVICE[cause])
    return {"cause": cause, "causes": causes, "evidence": evidence, "advice": ADVICE[cause], "summary": summary}


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"auth_verdict": auth_verdict}
