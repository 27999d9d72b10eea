# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The task log the ``airlock.incident.timeline`` callback appends to an incident's timeline.

One entry per task result (UTC start time, task, host, outcome, duration),
kind ``task``, actor ``ansible``; written with :func:`.store.update_incident`
under the record's lock, so it merges with what the modules recorded.
"""

from __future__ import annotations

import datetime
import os
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.incident.model import format_time
from ansible_collections.airlock.incident.plugins.module_utils.incident.store import update_incident

KIND, ACTOR = "task", "ansible"
STATUSES = ("ok", "changed", "failed", "unreachable")


def task_entry(task: str, host: str, status: str, started: datetime.datetime, seconds: float) -> t.Dict[str, t.Any]:
    """The timeline entry of one task result."""
    if status not in STATUSES:
        raise ValueError("status: invalid value %r; accepted values: %s" % (status, ", ".join(STATUSES)))
    name = " ".join(str(task).split()) or "(unnamed task)"
    return {"time": format_time(started), "kind": KIND, "actor": ACTOR,
            "text": "Task %s on %s: %s (%.1f s)" % (name, host, status, max(0.0, seconds))}


def incident_of(result: t.Mapping[str, t.Any]) -> t.Optional[t.Tuple[str, str]]:
    """``(directory, id)`` of the incident an ``airlock.incident.incident`` result is about, else None."""
    path, incident_id = result.get("record_path"), result.get("id")
    if not isinstance(path, str) or not isinstance(incident_id, str) or not path.endswith("/incident.json"):
        return None
    incident_dir = os.path.dirname(path)
    if os.path.basename(incident_dir) != incident_id:
        return None
    return os.path.dirname(incident_dir), incident_id


def append(directory: str, incident_id: str, entries: t.Sequence[t.Mapping[str, t.Any]],
           now: t.Optional[datetime.datetime] = None) -> int:
    """Add ``entries`` to the existing record; returns how many were new. Never declares an incident."""
    before, after, _written, _pending = update_incident(directory, incident_id, {"timeline": list(entries)}, now=now)
    return len(after.get("timeline") or []) - len((before or {}).get("timeline") or [])
