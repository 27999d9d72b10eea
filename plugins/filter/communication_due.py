# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: communication_due
short_description: The status updates and escalations open incidents are due, computed from their records
version_added: 0.1.0
description:
  - For each open incident record, the status update due now and the escalations reached and not yet recorded.
    Incidents with nothing due are left out.
  - "Status updates run on fixed slots from the declaration (P0 every 15 minutes, P1 30 minutes, P2 2 hours, P3 daily;
    slot 0 is the declaration's notification); a slot is taken once its update is recorded in the timeline
    (C([update@SLOT] ...), kind C(notice)), so each slot is sent once and a missed slot is not sent late."
  - "A channel that did not take the slot's update (recorded C([update@SLOT] not delivered to NAME ...)) and has no
    delivery for it is due a retry on the next run within the same slot (RV(_value[].status_update.retry) names
    it), up to O(runs) runs per slot in all; a channel that took the update is never sent it again."
  - "Escalation (the operator playbook's five internal levels and four external contacts): time (P0 unresolved after
    1 hour reaches level 2, each further hour one level more; P1 after 4 hours, each further 4 hours one more);
    impact (P0 or affected users recorded: level 2; P0 involves the Executive Team); complexity (no root cause after
    the severity's response time, or more than one affected service: level 2); security incidents involve the
    Security Team, data issues the Legal and Security Teams. Each level from 2 up and each external contact is
    escalated once (C([escalation@level-3] ...), kind C(escalation))."
options:
  _input:
    description: Incident records (the JSON of each C(incident.json)).
    type: list
    elements: dict
    required: true
  now:
    description: The current time, RFC 3339 UTC.
    type: str
    required: true
  levels:
    description: The five internal levels, each C(name) and C(channels) (channel names); missing ones keep the playbook's names.
    type: list
    elements: dict
  external:
    description: The external contacts by key (C(vendor_support), C(security_team), C(legal_team), C(executive_team)),
      each C(name) and C(channels).
    type: dict
  force:
    description: External contacts to involve whatever the triggers say (for example V(vendor_support)).
    type: list
    elements: str
  runs:
    description: Scheduled runs that may send one slot's update, the first included (retries of failed channels).
    type: int
    default: 3
"""

EXAMPLES = r"""
- name: What is due
  ansible.builtin.set_fact:
    due: >-
      {{ records | airlock.incident.communication_due(now=now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ'),
         levels=airlock_incident_escalation_levels, external=airlock_incident_escalation_external) }}
"""

RETURN = r"""
_value:
  description: One item per incident with something due.
  type: list
  elements: dict
  contains:
    id:
      description: The incident id.
      type: str
    status_update:
      description: The update due (C(key), C(slot), C(number), C(stamp), C(entry), C(retry)), or null. C(retry) lists
        the channels to try again for a slot already sent (empty for the slot's first send).
      type: dict
    escalation:
      description: C(level) reached, C(reasons), C(external) contacts involved, C(pending) escalations (C(key),
        C(target), C(label), C(channels), C(entry), C(notice)).
      type: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.incident.escalation import communication_due as _due
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import parse_time


def communication_due(records: t.Any, now: str, levels: t.Any = None, external: t.Any = None,
                      force: t.Any = None, runs: t.Any = 3) -> t.List[t.Dict[str, t.Any]]:
    if isinstance(runs, bool) or not isinstance(runs, int) and not (isinstance(runs, str) and runs.isdigit()) \
            or int(runs) < 1:
        raise AnsibleFilterError("communication_due: runs: invalid value %r; accepted values: a whole number, 1 or more"
                                 % (runs,))
    try:
        return _due(records if isinstance(records, list) else [], parse_time(now, "now"), levels, external,
                    list(force or []), int(runs))
    except AirlockIncidentError as exc:
        raise AnsibleFilterError("communication_due: %s" % exc) from exc


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"communication_due": communication_due}
