# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: restore_choice
short_description: Choose the audit backup to restore and say what the restore would lose
version_added: 0.1.0
description:
  - Given the backups examined (each with the result of M(airlock.incident.audit_integrity) and of
    M(airlock.incident.audit_verify) on it), chooses the newest one that is intact and whose own chain verifies
    (with the recorded head, when C(audit_verify) was given one), and lists why every other one was passed over.
  - States what a restore of it would lose - in events (the live database's count, or the recorded count when the
    live one cannot be read, minus the backup's) and in time (from the backup's last event to O(now), or to the live
    database's last event when it reads).
options:
  _input:
    description:
      - The C(results) of a loop of M(airlock.incident.audit_integrity) over the backups (each names its file in
        C(database)). Order does not matter; the newest is the greatest path (backup names carry a UTC stamp).
    type: list
    elements: dict
    required: true
  verify:
    description:
      - The C(results) of the loop of M(airlock.incident.audit_verify) over the same backups, in the same order (a
        skipped or failed entry means not verified).
    type: list
    elements: dict
    required: true
  live:
    description: The audit_integrity result of the live database.
    type: dict
    required: true
  recorded_events:
    description: The event count recorded with the chain head (0 when none was recorded).
    type: int
    default: 0
  now:
    description: The current time, RFC 3339 (UTC).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Choose
  ansible.builtin.set_fact:
    plan: >-
      {{ checked.results | airlock.incident.restore_choice(verify=verified.results, live=live_db, recorded_events=0,
                                                       now=now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ')) }}
"""

RETURN = r"""
_value:
  description: The choice.
  type: dict
  contains:
    choice:
      description: The chosen backup (C(backup), C(events), C(chain_head), C(last_event_at)); null when none qualifies.
      type: dict
    rejected:
      description: The backups passed over, newest first, each C(backup) and C(reason).
      type: list
      elements: dict
    events_lost:
      description: Events the restore would lose; null when unknown.
      type: int
    events_lost_is_minimum:
      description: True when the count comes from the recorded count (events written after it are not counted).
      type: bool
    seconds_lost:
      description: Seconds between the backup's last event and the live database's last event (or O(now)); null when
        unknown.
      type: int
    text:
      description: One sentence for the record and the notice.
      type: str
"""

import datetime
import re
import typing as t

from ansible.errors import AnsibleFilterError

_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z$")


def _seconds(text: t.Any) -> t.Optional[int]:
    match = _TIME.match(text) if isinstance(text, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def _reason(entry: t.Dict[str, t.Any]) -> t.Optional[str]:
    """Why a backup does not qualify, or None when it does."""
    integrity: t.Dict[str, t.Any] = entry["integrity"] if isinstance(entry.get("integrity"), dict) else {}
    verify: t.Dict[str, t.Any] = entry["verify"] if isinstance(entry.get("verify"), dict) else {}
    if not integrity.get("ok"):
        return "damaged: %s" % integrity.get("msg", "not checked")
    if verify.get("skipped") or "valid" not in verify:
        return "chain not verified: %s" % verify.get("msg", "skipped")
    if not verify.get("valid"):
        counts = verify.get("problem_counts") or {}
        if counts.get("head_mismatch"):
            return "does not contain the recorded chain head (%s)" % verify.get("msg", "")
        return "chain does not verify: %s" % verify.get("msg", "")
    return None


def _human(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return "%dh%02dm%02ds" % (hours, rest // 60, rest % 60)


def _loss(choice: t.Dict[str, t.Any], live: t.Dict[str, t.Any], recorded_events: int,
          now: str) -> t.Tuple[t.Optional[int], bool, t.Optional[int]]:
    events, minimum = None, False
    if isinstance(live.get("events"), int) and live.get("readable"):
        events = max(0, live["events"] - choice["events"])
    elif recorded_events > 0:
        events, minimum = max(0, recorded_events - choice["events"]), True
    start = _seconds(choice.get("last_event_at"))
    end = _seconds(live.get("last_event_at")) if live.get("readable") else None
    end = end if end is not None else _seconds(now)
    seconds = max(0, end - start) if start is not None and end is not None else None
    return events, minimum, seconds


def restore_choice(integrity: t.Any, verify: t.Any, live: t.Any, now: t.Any, recorded_events: t.Any = 0
                   ) -> t.Dict[str, t.Any]:
    """The choice (see DOCUMENTATION)."""
    if not isinstance(integrity, list) or not all(isinstance(c, dict) and isinstance(c.get("database"), str)
                                                  for c in integrity):
        raise AnsibleFilterError("restore_choice expects the results of audit_integrity over the backups")
    if not isinstance(verify, list) or len(verify) != len(integrity) or not all(isinstance(v, dict) for v in verify):
        raise AnsibleFilterError("restore_choice: verify must be the results of audit_verify over the same %d backups, "
                                 "in the same order" % len(integrity))
    candidates = [{"backup": i["database"], "integrity": i, "verify": v} for i, v in zip(integrity, verify)]
    if not isinstance(live, dict):
        raise AnsibleFilterError("restore_choice: live must be the audit_integrity result of the live database")
    if _seconds(now) is None:
        raise AnsibleFilterError("restore_choice: now must be a UTC time such as 2026-12-05T14:03:00Z, got %r" % (now,))
    if not isinstance(recorded_events, int) or isinstance(recorded_events, bool) or recorded_events < 0:
        raise AnsibleFilterError("restore_choice: recorded_events must be a whole number >= 0, got %r" % (recorded_events,))
    choice, rejected = None, []
    for entry in sorted(candidates, key=lambda c: c["backup"], reverse=True):
        reason = _reason(entry)
        if reason is None and choice is None:
            integrity = entry["integrity"]
            choice = {"backup": entry["backup"], "events": integrity.get("events") or 0,
                      "chain_head": integrity.get("chain_head"), "last_event_at": integrity.get("last_event_at")}
        elif reason is not None:
            rejected.append({"backup": entry["backup"], "reason": reason})
    if choice is None:
        text = ("no backup qualifies: %d examined, none intact with a verifying chain%s"
                % (len(candidates), "" if not rejected else " (newest: %s)" % rejected[0]["reason"]))
        return {"choice": None, "rejected": rejected, "events_lost": None, "events_lost_is_minimum": False,
                "seconds_lost": None, "text": text}
    events, minimum, seconds = _loss(choice, live, recorded_events, now)
    lost_events = ("an unknown number of events (the live database cannot be read and no count was recorded)"
                   if events is None else ("at least %d events" if minimum else "%d events") % events)
    lost_time = ("an unknown time" if seconds is None
                 else "%s of activity (after %s)" % (_human(seconds), choice["last_event_at"]))
    text = "restore %s (%d events, chain head %s) would lose %s, %s" % (
        choice["backup"], choice["events"], choice["chain_head"], lost_events, lost_time)
    return {"choice": choice, "rejected": rejected, "events_lost": events, "events_lost_is_minimum": minimum,
            "seconds_lost": seconds, "text": text}


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"restore_choice": restore_choice}
