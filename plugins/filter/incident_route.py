# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: incident_route
short_description: Choose the role that handles a triage verdict (or an explicit incident type)
version_added: 0.1.0
description:
  - Turns a verdict of the P(airlock.incident.triage#filter) filter into the response the
    C(airlock.incident.respond) role runs, by looking the incident type up in O(routes), a table of
    incident type to role.
  - An explicit O(incident_type) wins over the verdict (the operator knows more than the probes).
  - A type the table has no role for is reported, never dropped silently; O(playbooks) names the playbook
    to run instead.
  - No incident and no explicit type means V(report) with nothing to do.
options:
  _input:
    description: The verdict of the P(airlock.incident.triage#filter) filter.
    type: dict
    required: true
  incident_type:
    description: An explicit incident type; V('') means the verdict's.
    type: str
    default: ""
  routes:
    description: Incident type to the fully qualified role that handles it.
    type: dict
    required: true
  playbooks:
    description: Incident type to the playbook an operator runs when O(routes) has no role for it.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Choose the response
  ansible.builtin.set_fact:
    route: >-
      {{ verdict | airlock.incident.incident_route(incident_type=airlock_incident_type,
                                                   routes={'service_outage': 'airlock.incident.outage'}) }}
"""

RETURN = r"""
_value:
  description: The route.
  type: dict
  contains:
    action:
      description: V(respond) (include RV(role)) or V(report) (nothing is routed; RV(msg) says why).
      type: str
    role:
      description: The role to include, or V(null).
      type: str
    type:
      description: The incident type the response is for, or V(null) when nothing is wrong.
      type: str
    severity:
      description: The severity (the verdict's, or the usual one of an explicit type).
      type: str
    source:
      description: V(explicit) when O(incident_type) decided, V(triage) otherwise.
      type: str
    msg:
      description: One human line.
      type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

#: The incident types of the operator playbook and the severity each usually has.
TYPE_SEVERITY = {
    "service_outage": "P0",
    "security_incident": "P0",
    "authentication_issues": "P1",
    "policy_failures": "P1",
    "performance_degradation": "P2",
    "data_issues": "P1",
}


def _checked(verdict: t.Any, incident_type: t.Any, routes: t.Any, playbooks: t.Any) -> str:
    if not isinstance(verdict, dict) or "incident" not in verdict:
        raise AnsibleFilterError("incident_route: the input must be the verdict of the airlock.incident.triage filter")
    if not isinstance(routes, dict) or not isinstance(playbooks, dict):
        raise AnsibleFilterError("incident_route: routes and playbooks must be mappings of incident type to a name")
    wanted = "" if incident_type is None else incident_type
    if not isinstance(wanted, str) or (wanted and wanted not in TYPE_SEVERITY):
        raise AnsibleFilterError("incident_route: incident_type must be '' or one of %s, got %r"
                                 % (", ".join(sorted(TYPE_SEVERITY)), incident_type))
    unknown = sorted(str(k) for k in list(routes) + list(playbooks) if k not in TYPE_SEVERITY)
    if unknown:
        raise AnsibleFilterError("incident_route: routes/playbooks name unknown incident types %s; accepted: %s"
                                 % (", ".join(unknown), ", ".join(sorted(TYPE_SEVERITY))))
    return wanted


def incident_route(verdict: t.Any, incident_type: t.Any = "", routes: t.Any = None,
                   playbooks: t.Any = None) -> t.Dict[str, t.Any]:
    """The route for a verdict (see DOCUMENTATION)."""
    routes = {} if routes is None else routes
    playbooks = {} if playbooks is None else playbooks
    explicit = _checked(verdict, incident_type, routes, playbooks)
    if explicit:
        kind: t.Optional[str] = explicit
        same = verdict.get("type") == explicit and verdict.get("severity")
        severity = verdict["severity"] if same else TYPE_SEVERITY[explicit]
        source = "explicit"
    elif verdict["incident"]:
        kind, severity, source = verdict.get("type"), verdict.get("severity"), "triage"
    else:
        return {"action": "report", "role": None, "type": None, "severity": None, "source": "triage",
                "msg": "Nothing to respond to: %s" % verdict.get("summary", "every probe passed")}
    role = routes.get(kind)
    if role:
        return {"action": "respond", "role": role, "type": kind, "severity": severity, "source": source,
                "msg": "%s %s (%s): handing over to %s" % (severity, kind, source, role)}
    hint = playbooks.get(kind)
    advice = ("run %s" % hint) if hint else "no role or playbook is routed for it"
    return {"action": "report", "role": None, "type": kind, "severity": severity, "source": source,
            "msg": "%s %s (%s) is not handled by this entry point: %s" % (severity, kind, source, advice)}


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"incident_route": incident_route}
