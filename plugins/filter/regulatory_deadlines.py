# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: regulatory_deadlines
short_description: Compute the regulatory notification deadlines of a data breach from its discovery time
version_added: 0.1.0
description:
  - Turns a table of notification rules (a regulation, whom to notify, within how many hours of discovery)
    into deadlines, each a UTC time (RFC 3339, whole seconds), sorted soonest first.
  - The data_breach role's default table holds one rule, GDPR Art. 33 (the supervisory authority within
    72 hours of becoming aware of the breach); the role adds the rules of
    C(airlock_incident_breach_extra_regulations).
  - A rule without C(hours) (or with V(null)) has no fixed deadline (for example CCPA's "in the most
    expedient time possible"); it is listed with a null C(deadline) after the dated ones.
  - A rule with C(applies=false) is left out.
  - Every refusal names the rule by its position and the field, and says what is accepted.
options:
  _input:
    description: The discovery time, RFC 3339 with a zone (V(2026-12-05T14:03:00Z), V(2026-12-05T15:03:00+01:00)).
    type: str
    required: true
  rules:
    description:
      - The rules. Each is a mapping with C(name) (required), C(hours) (a number > 0 and at most 8760, or null),
        C(notify) (whom; default V(the supervisory authority)), C(reference) (the article or section) and
        C(applies) (default V(true)).
    type: list
    elements: dict
    required: true
  now:
    description:
      - The current time (RFC 3339). When given, every dated deadline gets C(overdue) and C(remaining_hours).
    type: str
"""

EXAMPLES = r"""
- name: GDPR's 72 hours, and a contractual 24 hours to a customer
  ansible.builtin.set_fact:
    deadlines: >-
      {{ '2026-12-05T14:03:00Z' | airlock.incident.regulatory_deadlines(
           rules=[{'name': 'GDPR', 'hours': 72, 'notify': 'the supervisory authority', 'reference': 'Art. 33'},
                  {'name': 'Customer DPA', 'hours': 24, 'notify': 'Example Corp security'}],
           now=now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ')) }}
  # deadlines[0].deadline == '2026-12-06T14:03:00Z' (Customer DPA), deadlines[1].deadline == '2026-12-08T14:03:00Z'
"""

RETURN = r"""
_value:
  description: One entry per rule that applies, dated ones soonest first, then those without a deadline.
  type: list
  elements: dict
  contains:
    name:
      description: The rule's name.
      type: str
    notify:
      description: Whom to notify.
      type: str
    reference:
      description: The rule's reference, V('') when none was given.
      type: str
    hours:
      description: Hours after discovery; null without a fixed deadline.
      type: float
    discovered_at:
      description: The discovery time in UTC (RFC 3339, whole seconds).
      type: str
    deadline:
      description: The deadline in UTC (RFC 3339, whole seconds); null without a fixed deadline.
      type: str
    overdue:
      description: Whether O(now) is at or past the deadline (only with O(now) and a deadline).
      type: bool
    remaining_hours:
      description: Hours from O(now) to the deadline, negative when overdue, one decimal (only with O(now)
        and a deadline).
      type: float
    text:
      description: One sentence for the incident record and the report, the same on every run (it does not
        depend on O(now)), for example C(Regulatory clock GDPR (Art. 33) - notify the supervisory authority by
        2026-12-08T14:03:00Z, 72 h after discovery at 2026-12-05T14:03:00Z).
      type: str
    timeline_entry:
      description: The entry (C(kind=note) and C(text)) for the C(timeline) option of M(airlock.incident.incident).
      type: dict
"""

import datetime
import math
import re
import typing as t

from ansible.errors import AnsibleFilterError

#: At most a year: a longer "deadline" is a typo (days given as hours twice over), not a rule.
MAX_HOURS = 8760
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_KEYS = ("name", "hours", "notify", "reference", "applies")


def parse_time(field: str, text: t.Any) -> datetime.datetime:
    """An aware UTC datetime for an RFC 3339 text with a zone; AnsibleFilterError naming ``field`` otherwise."""
    match = _RFC3339.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise AnsibleFilterError("regulatory_deadlines: %s must be an RFC 3339 time with a zone, such as "
                                 "2026-12-05T14:03:00Z, got %r" % (field, text))
    zone = match.group(8)
    if zone in ("Z", "z"):
        tz = datetime.timezone.utc
    else:
        minutes = int(zone[1:3]) * 60 + int(zone[4:6])
        tz = datetime.timezone(datetime.timedelta(minutes=minutes if zone[0] == "+" else -minutes))
    try:
        year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
        moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise AnsibleFilterError("regulatory_deadlines: %s is not a valid time (%s), got %r" % (field, exc, text)) from exc
    return moment.astimezone(datetime.timezone.utc)


def _hours(where: str, value: t.Any) -> t.Optional[float]:
    if value is None:
        return None
    number: t.Optional[float] = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not 0 < number <= MAX_HOURS or math.isnan(number):
        raise AnsibleFilterError("regulatory_deadlines: %s.hours must be a number of hours > 0 and <= %d, or null "
                                 "for no fixed deadline, got %r" % (where, MAX_HOURS, value))
    return number


def _text(where: str, key: str, value: t.Any, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise AnsibleFilterError("regulatory_deadlines: %s.%s must be a string, got %s"
                                 % (where, key, type(value).__name__))
    return value


def _rule(index: int, rule: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    """The checked rule, or None when it does not apply."""
    where = "rules[%d]" % index
    if not isinstance(rule, dict):
        raise AnsibleFilterError("regulatory_deadlines: %s must be a mapping with name and hours, got %s"
                                 % (where, type(rule).__name__))
    unknown = sorted(str(key) for key in rule if key not in _KEYS)
    if unknown:
        raise AnsibleFilterError("regulatory_deadlines: %s has unknown keys %s; accepted keys: %s"
                                 % (where, ", ".join(unknown), ", ".join(_KEYS)))
    name = rule.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AnsibleFilterError("regulatory_deadlines: %s.name must be a non-empty string, got %r" % (where, name))
    applies = rule.get("applies", True)
    if not isinstance(applies, bool):
        raise AnsibleFilterError("regulatory_deadlines: %s.applies must be true or false, got %r" % (where, applies))
    hours = _hours(where, rule.get("hours"))
    notify = _text(where, "notify", rule.get("notify"), "the supervisory authority")
    reference = _text(where, "reference", rule.get("reference"), "")
    if not applies:
        return None
    return {"name": name.strip(), "hours": hours, "notify": notify, "reference": reference}


def _hours_text(hours: float) -> str:
    return ("%d" % hours) if hours == int(hours) else ("%g" % hours)


def _sentence(entry: t.Dict[str, t.Any]) -> str:
    name = entry["name"] + (" (%s)" % entry["reference"] if entry["reference"] else "")
    if entry["deadline"] is None:
        return "Regulatory clock %s - notify %s, no fixed deadline (discovered %s)" % (
            name, entry["notify"], entry["discovered_at"])
    return "Regulatory clock %s - notify %s by %s, %s h after discovery at %s" % (
        name, entry["notify"], entry["deadline"], _hours_text(entry["hours"]), entry["discovered_at"])


def regulatory_deadlines(discovered_at: t.Any, rules: t.Any, now: t.Any = None) -> t.List[t.Dict[str, t.Any]]:
    """The deadlines of ``rules`` counted from ``discovered_at`` (see DOCUMENTATION)."""
    start = parse_time("discovered_at (the input)", discovered_at)
    current = parse_time("now", now) if now is not None else None
    if not isinstance(rules, list):
        raise AnsibleFilterError("regulatory_deadlines: rules must be a list of mappings, got %s" % type(rules).__name__)
    checked = [rule for rule in (_rule(index, item) for index, item in enumerate(rules)) if rule is not None]
    result = []
    for rule in checked:
        entry = dict(rule, discovered_at=start.strftime(_FORMAT), deadline=None)
        if rule["hours"] is not None:
            deadline = start + datetime.timedelta(hours=rule["hours"])
            entry["deadline"] = deadline.strftime(_FORMAT)
            if current is not None:
                remaining = (deadline - current).total_seconds() / 3600.0
                entry["overdue"] = remaining <= 0
                entry["remaining_hours"] = round(remaining, 1)
        entry["text"] = _sentence(entry)
        entry["timeline_entry"] = {"kind": "note", "text": entry["text"]}
        result.append(entry)
    # Dated ones soonest first (ISO text sorts as time), then the undated in the given order.
    return sorted(result, key=lambda entry: (entry["deadline"] is None, entry["deadline"] or ""))


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"regulatory_deadlines": regulatory_deadlines}
