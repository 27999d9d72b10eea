# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: breach_scope
short_description: Summarise which subjects, tenants and resources a data breach touched, from audit events
version_added: 0.1.0
description:
  - Reads audit events (the RV(airlock.incident.audit_query#module:rows) of O(query=events) for the actions
    C(redact_data), C(tool_call) and C(resource_read), concatenated) and says what data went where.
  - A C(tool_call) or C(resource_read) event with decision C(allow) is data served. It was served
    B(with redactions) when a C(redact_data) event has the same C(correlation_id), otherwise B(unredacted)
    (no DLP pattern matched, or DLP was off - the audit log cannot tell which).
  - C(redact_data) events give the DLP patterns hit and their counts (metadata C(patterns_hit)), which are
    the data types involved.
  - Subjects erased by Airlock's tombstones are whatever M(airlock.incident.audit_query) returns for them;
    this filter adds nothing of its own.
  - A row without the fields it needs (no C(action), a timestamp that is not an integer) is counted in
    C(damaged_rows) and skipped, never fatal.
options:
  _input:
    description: Audit event rows as M(airlock.incident.audit_query) returns them (C(timestamp_ns), C(action),
      C(decision), C(subject), C(tenant), C(resource), C(correlation_id), C(metadata), C(redaction_count)).
    type: list
    elements: dict
    required: true
  internal_tenants:
    description: Tenants whose subjects are internal users; every other tenant's subjects count as external.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: What the breach touched
  ansible.builtin.set_fact:
    scope: >-
      {{ (redact_events.rows + tool_events.rows + read_events.rows)
         | airlock.incident.breach_scope(internal_tenants=['staff']) }}
"""

RETURN = r"""
_value:
  description: The scope.
  type: dict
  contains:
    events:
      description: Rows read (damaged ones included).
      type: int
    damaged_rows:
      description: Rows skipped because a field they need is missing or of the wrong type.
      type: int
    first_event:
      description: Time (RFC 3339, UTC) of the earliest event read; null without events.
      type: str
    last_event:
      description: Time of the latest event read; null without events.
      type: str
    served:
      description: Allowed C(tool_call) and C(resource_read) events, with C(events), C(subjects), C(tenants)
        and C(resources) (sorted lists).
      type: dict
    redacted:
      description: Served events with redactions, as O(served), plus C(redaction_events) (the C(redact_data)
        events), C(redactions) (their C(redaction_count) summed) and C(patterns) (pattern to count).
      type: dict
    unredacted:
      description: Served events without a C(redact_data) event of the same correlation, as O(served).
      type: dict
    data_types:
      description: The DLP patterns hit, most hits first.
      type: list
      elements: str
    subjects:
      description: Every subject served data, with C(subject), C(tenant), C(internal), C(served), C(redacted),
        C(unredacted), C(redactions), C(first_event), C(last_event); most served first.
      type: list
      elements: dict
    internal_subjects:
      description: Number of distinct subjects of O(internal_tenants) served data.
      type: int
    external_subjects:
      description: Number of distinct other subjects served data.
      type: int
"""

import datetime
import json
import typing as t

from ansible.errors import AnsibleFilterError

SERVED_ACTIONS = ("tool_call", "resource_read")


def _time(ns: t.Optional[int]) -> t.Optional[str]:
    if ns is None:
        return None
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=ns // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%09dZ" % (ns % 1_000_000_000)


def _patterns(metadata: t.Any) -> t.Dict[str, int]:
    """metadata.patterns_hit as {pattern: count} (integer counts only), from text or a mapping."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return {}
    hits = metadata.get("patterns_hit") if isinstance(metadata, dict) else None
    if not isinstance(hits, dict):
        return {}
    return {str(k): v for k, v in hits.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0}


class _Group:
    def __init__(self) -> None:
        self.events = 0
        self.subjects: t.Set[str] = set()
        self.tenants: t.Set[str] = set()
        self.resources: t.Set[str] = set()

    def add(self, row: t.Dict[str, t.Any]) -> None:
        self.events += 1
        self.subjects.add(str(row.get("subject") or ""))
        self.tenants.add(str(row.get("tenant") or ""))
        self.resources.add(str(row.get("resource") or ""))

    def result(self) -> t.Dict[str, t.Any]:
        return {"events": self.events, "subjects": sorted(self.subjects), "tenants": sorted(self.tenants),
                "resources": sorted(self.resources)}


def _usable(row: t.Any) -> bool:
    return (isinstance(row, dict) and isinstance(row.get("action"), str)
            and isinstance(row.get("timestamp_ns"), int) and not isinstance(row.get("timestamp_ns"), bool))


def _subject_entry(entries: t.Dict[t.Tuple[str, str], t.Dict[str, t.Any]], row: t.Dict[str, t.Any],
                   internal: t.Set[str]) -> t.Dict[str, t.Any]:
    key = (str(row.get("subject") or ""), str(row.get("tenant") or ""))
    if key not in entries:
        entries[key] = {"subject": key[0], "tenant": key[1], "internal": key[1] in internal, "served": 0,
                        "redacted": 0, "unredacted": 0, "redactions": 0, "first_ns": row["timestamp_ns"],
                        "last_ns": row["timestamp_ns"]}
    entry = entries[key]
    entry["first_ns"] = min(entry["first_ns"], row["timestamp_ns"])
    entry["last_ns"] = max(entry["last_ns"], row["timestamp_ns"])
    return entry


def breach_scope(rows: t.Any, internal_tenants: t.Any = None) -> t.Dict[str, t.Any]:
    """The scope of a breach from audit event rows (see DOCUMENTATION)."""
    if not isinstance(rows, list):
        raise AnsibleFilterError("breach_scope expects a list of audit event rows (audit_query query=events rows), "
                                 "got %s" % type(rows).__name__)
    if internal_tenants is None:
        internal_tenants = []
    if not isinstance(internal_tenants, list) or not all(isinstance(x, str) for x in internal_tenants):
        raise AnsibleFilterError("breach_scope: internal_tenants must be a list of tenant names, got %r"
                                 % (internal_tenants,))
    internal = set(internal_tenants)
    usable = [row for row in rows if _usable(row)]
    redactions = [row for row in usable if row["action"] == "redact_data"]
    redacted_ids = {row.get("correlation_id") for row in redactions if row.get("correlation_id")}
    patterns: t.Dict[str, int] = {}
    entries: t.Dict[t.Tuple[str, str], t.Dict[str, t.Any]] = {}
    for row in redactions:
        for name, count in _patterns(row.get("metadata")).items():
            patterns[name] = patterns.get(name, 0) + count
        count = row.get("redaction_count")
        _subject_entry(entries, row, internal)["redactions"] += count if isinstance(count, int) else 0
    served, redacted, unredacted = _Group(), _Group(), _Group()
    for row in usable:
        if row["action"] not in SERVED_ACTIONS or row.get("decision") != "allow":
            continue
        served.add(row)
        entry = _subject_entry(entries, row, internal)
        entry["served"] += 1
        was_redacted = bool(row.get("correlation_id")) and row.get("correlation_id") in redacted_ids
        (redacted if was_redacted else unredacted).add(row)
        entry["redacted" if was_redacted else "unredacted"] += 1
    subjects = sorted(entries.values(), key=lambda e: (-e["served"], -e["redactions"], e["subject"], e["tenant"]))
    for entry in subjects:
        entry["first_event"] = _time(entry.pop("first_ns"))
        entry["last_event"] = _time(entry.pop("last_ns"))
    times = [row["timestamp_ns"] for row in usable]
    redacted_result = redacted.result()
    redacted_result.update(redaction_events=len(redactions), patterns=patterns,
                           redactions=sum(e["redactions"] for e in subjects))
    names = {(e["subject"], e["tenant"]) for e in subjects if e["served"]}
    return {
        "events": len(rows), "damaged_rows": len(rows) - len(usable),
        "first_event": _time(min(times)) if times else None, "last_event": _time(max(times)) if times else None,
        "served": served.result(), "redacted": redacted_result, "unredacted": unredacted.result(),
        "data_types": [name for name, _count in sorted(patterns.items(), key=lambda kv: (-kv[1], kv[0]))],
        "subjects": subjects,
        "internal_subjects": len([n for n in names if n[1] in internal]),
        "external_subjects": len([n for n in names if n[1] not in internal]),
    }


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"breach_scope": breach_scope}
