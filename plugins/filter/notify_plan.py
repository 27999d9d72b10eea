# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: notify_plan
short_description: What to send to which notification channel for one rendered incident notice
version_added: 0.1.0
description:
  - Checks the channels an inventory configures (email, Slack, Microsoft Teams, any webhook, PagerDuty Events
    API v2); a bad one is left out and named in RV(_value.problems) (the field and the accepted values, never a
    URL or a key), so that a typo in one channel neither keeps the notice from the others nor stops the response.
  - Selects the channels that take the notice's O(kind) (or exactly the O(only) ones) and leaves out every channel
    the incident's timeline already records as delivered for O(key), so a notice is never sent twice to a channel.
  - Builds each channel's message (the email subject and body, the Slack, Teams, webhook or PagerDuty JSON).
  - Used by the role C(airlock.incident.notify); the result carries secrets (webhook URLs, routing keys, SMTP
    passwords), so the tasks that use it are C(no_log).
options:
  _input:
    description: The channels (the inventory variable C(airlock_incident_notify_channels)).
    type: list
    elements: dict
    required: true
  kind:
    description: The notice.
    type: str
    required: true
    choices: [notification, internal, update, escalation, resolution, breach]
  key:
    description: The delivery key (V(notification), V(update@2026-11-28T16:15:00Z), V(escalation@level-2)).
    type: str
    required: true
  text:
    description: The rendered notice; a first C(Subject:) line becomes the subject.
    type: str
    required: true
  record:
    description: The incident record (C(incident.json)); empty when there is none yet.
    type: dict
  incident_id:
    description: The incident id.
    type: str
    required: true
  only:
    description: Send to exactly these channel names, whatever their C(kinds); null for every channel taking O(kind).
    type: list
    elements: str
  attachments:
    description: Files attached to the email deliveries (webhooks carry the text only).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Plan the delivery
  ansible.builtin.set_fact:
    plan: >-
      {{ airlock_incident_notify_channels | airlock.incident.notify_plan(kind='resolution', key='resolution',
         text=lookup('ansible.builtin.file', dir ~ '/notices/resolution.txt'), record=record, incident_id=record.id) }}
  no_log: true
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    send:
      description: One item per channel to send to, with its C(name), C(type) and what its module needs.
      type: list
      elements: dict
    skipped:
      description: Channels already delivered for O(key).
      type: list
      elements: str
    subject:
      description: The subject.
      type: str
    key:
      description: O(key).
      type: str
    kind:
      description: O(kind).
      type: str
    problems:
      description: One message per channel left out because its settings were refused.
      type: list
      elements: str
    secrets:
      description: The secret values of the selected channels (masked in the recorded outcome).
      type: list
      elements: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.incident.delivery import delivery_plan


def notify_plan(channels: t.Any, kind: str, key: str, text: str, incident_id: str, record: t.Any = None,
                only: t.Any = None, attachments: t.Any = None) -> t.Dict[str, t.Any]:
    try:
        return delivery_plan(channels, kind, key, text, record if isinstance(record, dict) else None, incident_id,
                             only=list(only) if only is not None else None, attachments=attachments)
    except AirlockIncidentError as exc:
        raise AnsibleFilterError("notify_plan: %s" % exc) from exc


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"notify_plan": notify_plan}
