# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: review
short_description: Response metrics of an incident record, computed from its timeline
version_added: 0.1.0
description:
  - Reads an incident record written by M(airlock.incident.incident) and computes the figures the
    playbook's post-incident review asks for (time to acknowledge, engage, mitigate and resolve)
    from the recorded timeline rather than from memory.
  - Start is the record's C(started_at) (detection); acknowledge is the declaration; engage is the
    first C(status) or C(action) entry; mitigate is the first C(action) entry; resolve is C(resolved_at).
options:
  _input:
    description: The incident record (the JSON of C(incident.json), or the C(incident) return value).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Read the record
  ansible.builtin.slurp:
    src: /srv/incidents/INC-20261128-101500/incident.json
  register: raw

- name: Compute the review figures
  ansible.builtin.set_fact:
    review: "{{ raw.content | b64decode | from_json | airlock.incident.review }}"
"""

RETURN = r"""
_value:
  description: The review figures.
  type: dict
  contains:
    detected_at:
      description: Detection time (RFC 3339).
      type: str
    time_to_acknowledge:
      description: Detection to declaration, as text (for example C(4m 10s)); null when unknown.
      type: str
    time_to_engage:
      description: Detection to the first status change or action.
      type: str
    time_to_mitigate:
      description: Detection to the first recorded action.
      type: str
    time_to_resolve:
      description: Detection to resolution.
      type: str
    seconds:
      description: The same four durations in seconds (null when unknown).
      type: dict
    actions:
      description: Timeline entries of kind C(action), oldest first, as C(HH:MM:SS text) lines.
      type: list
      elements: str
    escalated_late:
      description: Whether resolution took longer than the playbook's time-based escalation trigger (P0 1 h, P1 4 h).
      type: bool
"""

import datetime
import typing as t

from ansible.errors import AnsibleFilterError

_ESCALATION_SECONDS = {"P0": 3600, "P1": 4 * 3600}


def _parse(text: t.Any) -> t.Optional[datetime.datetime]:
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text.replace("+00:00", "Z"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("review: %r is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)" % (text,)) from exc


def _human(seconds: t.Optional[float]) -> t.Optional[str]:
    if seconds is None:
        return None
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append("%d%s" % (seconds // size, unit))
            seconds %= size
    if seconds or not parts:
        parts.append("%ds" % seconds)
    return " ".join(parts)


def review(record: t.Any) -> t.Dict[str, t.Any]:
    """Compute the post-incident review figures (see DOCUMENTATION)."""
    if not isinstance(record, dict) or "timeline" not in record or "id" not in record:
        raise AnsibleFilterError("review expects an airlock.incident incident record (with id and timeline)")
    timeline = sorted(record.get("timeline") or [], key=lambda entry: entry.get("time") or "")
    start = _parse(record.get("started_at") or record.get("declared_at"))
    declared = _parse(record.get("declared_at"))
    engaged = next((_parse(e.get("time")) for e in timeline if e.get("kind") in ("status", "action")), None)
    mitigated = next((_parse(e.get("time")) for e in timeline if e.get("kind") == "action"), None)
    resolved = _parse(record.get("resolved_at"))

    def since_start(moment: t.Optional[datetime.datetime]) -> t.Optional[int]:
        if start is None or moment is None:
            return None
        return max(0, int((moment - start).total_seconds()))

    seconds = {
        "acknowledge": since_start(declared),
        "engage": since_start(engaged),
        "mitigate": since_start(mitigated),
        "resolve": since_start(resolved),
    }
    limit = _ESCALATION_SECONDS.get(str(record.get("severity")))
    return {
        "detected_at": record.get("started_at") or record.get("declared_at"),
        "time_to_acknowledge": _human(seconds["acknowledge"]),
        "time_to_engage": _human(seconds["engage"]),
        "time_to_mitigate": _human(seconds["mitigate"]),
        "time_to_resolve": _human(seconds["resolve"]),
        "seconds": seconds,
        "actions": ["%s %s" % ((e.get("time") or "")[11:19], e.get("text", "")) for e in timeline if e.get("kind") == "action"],
        "escalated_late": bool(limit and seconds["resolve"] is not None and seconds["resolve"] > limit),
    }


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"review": review}
