# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: notify_outcomes
short_description: Timeline entries for the deliveries of one notice, secrets masked
version_added: 0.1.0
description:
  - "Turns the registered loop results of the send tasks of the role C(airlock.incident.notify) into timeline
    entries for M(airlock.incident.incident): C([key] delivered to NAME (type)) (kind C(delivery)) or
    C([key] not delivered to NAME (type) after N attempts: reason) (kind C(delivery_failed)); each channel the
    plan refused becomes C([key] not delivered: channel refused: problem) (kind C(delivery_failed))."
  - Every secret of the plan's channels (webhook URLs, routing keys, SMTP credentials) is masked in the reason.
options:
  _input:
    description: The loop results (the C(results) lists of the send tasks, concatenated).
    type: list
    elements: dict
    required: true
  plan:
    description: The plan of P(airlock.incident.notify_plan#filter).
    type: dict
    required: true
  attempts:
    description: How many times a failed channel was tried (the send task's C(retries) + 1).
    type: int
    default: 1
"""

EXAMPLES = r"""
- name: Record the deliveries
  airlock.incident.incident:
    directory: /srv/incidents
    id: "{{ incident_id }}"
    timeline: "{{ (mail.results | default([])) + (posts.results | default([])) | airlock.incident.notify_outcomes(plan=plan, attempts=3) }}"
"""

RETURN = r"""
_value:
  description: Timeline entries (C(text), C(kind)).
  type: list
  elements: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.module_utils.incident.delivery import outcome_entries


def notify_outcomes(results: t.Any, plan: t.Any, attempts: t.Any = 1) -> t.List[t.Dict[str, str]]:
    if not isinstance(plan, dict) or "key" not in plan:
        raise AnsibleFilterError("notify_outcomes: plan must be the result of airlock.incident.notify_plan")
    try:
        count = int(attempts)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("notify_outcomes: attempts must be a whole number, got %r" % (attempts,)) from exc
    return outcome_entries(plan, results if isinstance(results, list) else [], max(1, count))


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"notify_outcomes": notify_outcomes}
