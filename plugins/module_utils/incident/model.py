# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The incident record's model: ids, severities, types, the status state machine, the timeline.

A record is one JSON document (stored by :mod:`.store`, rendered by
:mod:`.render`). Model (from the operator playbook, "Incident
Classification" and "Communication Procedures"):

* ids ``INC-YYYYMMDD-HHMMSS`` (UTC at declaration) with an optional
  ``-suffix`` of letters and digits: a documented subset of the collection's
  one incident-id rule (``core.contract``, option ``incident_id`` of the
  ``airlock.incident.action`` doc fragment), which :func:`validate_id` applies
  first;
* severities P0-P3 with their response time and status-update cadence;
* the six incident types as slugs;
* statuses INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED (see
  ``TRANSITIONS``);
* a timeline of ``{time, text, kind, actor}`` entries in UTC, merged
  idempotently (:func:`merge_timeline`).

Everything here is pure: no file is read or written.
"""

from __future__ import annotations

import copy
import datetime
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import INCIDENT_ID_RULE, incident_id_error
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import DurationError, parse_rfc3339_ns
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, choices_message

#: A record (JSON document).
Record = t.Dict[str, t.Any]

SCHEMA_VERSION = 1

ID_PATTERN = r"^INC-[0-9]{8}-[0-9]{6}(-[A-Za-z0-9]+)?$"
#: ASCII digits only: ``\d`` (and ``str.isdigit``) would also accept other scripts' digits.
ID_RE = re.compile(ID_PATTERN, re.ASCII)

#: Severity levels: playbook table "Severity Levels" and "Update Schedule";
#: ``escalate_after`` from "Escalation Triggers" (time-based).
SEVERITIES: t.Dict[str, t.Dict[str, t.Any]] = {
    "P0": {"name": "Critical", "description": "Complete service outage", "response_seconds": 15 * 60,
           "update_seconds": 15 * 60, "escalate_after_seconds": 3600},
    "P1": {"name": "High", "description": "Major functionality impaired", "response_seconds": 3600,
           "update_seconds": 30 * 60, "escalate_after_seconds": 4 * 3600},
    "P2": {"name": "Medium", "description": "Minor functionality impaired", "response_seconds": 4 * 3600,
           "update_seconds": 2 * 3600, "escalate_after_seconds": None},
    "P3": {"name": "Low", "description": "Cosmetic or documentation issues", "response_seconds": 24 * 3600,
           "update_seconds": 24 * 3600, "escalate_after_seconds": None},
}
SEVERITY_ORDER = ["P0", "P1", "P2", "P3"]

#: Incident types: playbook "Incident Types".
TYPES = {
    "service_outage": "Service Outage",
    "security_incident": "Security Incident",
    "performance_degradation": "Performance Degradation",
    "authentication_issues": "Authentication Issues",
    "policy_failures": "Policy Failures",
    "data_issues": "Data Issues",
}
TYPE_ORDER = ["service_outage", "security_incident", "performance_degradation", "authentication_issues",
              "policy_failures", "data_issues"]

STATUSES = ["INVESTIGATING", "IDENTIFIED", "MONITORING", "RESOLVED"]
OPEN_STATUSES = STATUSES[:-1]

#: Allowed status changes. Forward moves may skip states (a false alarm goes
#: INVESTIGATING -> RESOLVED; a known fix goes straight to MONITORING). An open
#: incident may step back (a wrong root cause, a fix that did not hold), and
#: every change lands in the timeline. RESOLVED is terminal: leaving it needs
#: ``reopen`` (see ``REOPEN_TARGETS``).
TRANSITIONS: t.Dict[str, t.List[str]] = {
    "INVESTIGATING": ["IDENTIFIED", "MONITORING", "RESOLVED"],
    "IDENTIFIED": ["INVESTIGATING", "MONITORING", "RESOLVED"],
    "MONITORING": ["INVESTIGATING", "IDENTIFIED", "RESOLVED"],
    "RESOLVED": [],
}
REOPEN_TARGETS = ["INVESTIGATING", "IDENTIFIED", "MONITORING"]

NOTICE_KINDS = ["none", "notification", "internal", "update", "resolution", "auto"]
SERVICE_STATUSES = ["UP", "DOWN", "DEGRADED"]

COMMUNICATION_KEYS = ["status_page", "war_room", "bridge", "eta", "service_status", "current_situation",
                      "next_steps", "review_scheduled", "review_link"]

NOT_SET = "[not recorded]"


class IncidentError(AirlockIncidentError):
    """Bad input or a refused change; the message names the field and the accepted values."""


# ---------------------------------------------------------------------------
# time
# ---------------------------------------------------------------------------


def utcnow() -> datetime.datetime:
    """The current UTC time, whole seconds."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_NAIVE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$", re.ASCII)


def _parse_naive(text: str, value: t.Any, field: str) -> datetime.datetime:
    match = _NAIVE.match(text)
    if not match:
        raise IncidentError(
            "%s: invalid value %r; use an RFC 3339 UTC time such as 2026-11-28T16:00:00Z" % (field, value))
    try:
        return datetime.datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)),
                                 int(match.group(4)), int(match.group(5)), int(match.group(6) or 0),
                                 tzinfo=datetime.timezone.utc)
    except ValueError as exc:
        raise IncidentError("%s: invalid value %r: %s" % (field, value, exc)) from exc


def parse_time(value: t.Any, field: str = "time") -> datetime.datetime:
    """An aware UTC datetime (whole seconds) from RFC 3339 text, naive UTC text, or a datetime."""
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return moment.astimezone(datetime.timezone.utc).replace(microsecond=0)
    if not isinstance(value, str) or not value.strip():
        raise IncidentError("%s: invalid value %r; use an RFC 3339 UTC time such as 2026-11-28T16:00:00Z" % (field, value))
    text = value.strip()
    try:
        nanos = parse_rfc3339_ns(text)
    except DurationError:
        return _parse_naive(text, value, field)
    return datetime.datetime.fromtimestamp(nanos // 1000000000, tz=datetime.timezone.utc)


def format_duration(seconds: t.Optional[float]) -> str:
    """``1d 2h 3m 4s`` style text for a number of seconds (leading zero units left out)."""
    if seconds is None:
        return NOT_SET
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts: t.List[str] = []
    for amount, unit in ((days, "d"), (hours, "h"), (minutes, "m")):
        if amount or parts:
            parts.append("%d%s" % (amount, unit))
    parts.append("%ds" % secs)
    return " ".join(parts)


def human_interval(seconds: int, every: bool = False) -> str:
    """``1 hour``, ``4 hours``, ``15 minutes``; with ``every``, ``day``/``hour`` for a single unit."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            if count == 1:
                return unit if every else "1 " + unit
            return "%d %ss" % (count, unit)
    return "%d seconds" % seconds


# ---------------------------------------------------------------------------
# validation and the status state machine
# ---------------------------------------------------------------------------


def validate_id(incident_id: t.Any) -> str:
    """The record id: the collection's incident-id rule (``core.contract``) first, then its INC- subset."""
    if incident_id_error(incident_id, "id") is not None or not ID_RE.fullmatch(incident_id):
        raise IncidentError(
            "id: invalid value %r; it must look like INC-YYYYMMDD-HHMMSS with an optional -suffix of "
            "letters and digits, for example INC-20261128-160000 or INC-20261128-160000-db (a subset of the "
            "collection's incident-id rule: %s)" % (incident_id, INCIDENT_ID_RULE))
    return t.cast(str, incident_id)


def generate_id(now: datetime.datetime, suffix: t.Optional[str] = None) -> str:
    base = "INC-" + now.astimezone(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return base if suffix is None else "%s-%s" % (base, suffix)


def validate_severity(value: t.Any) -> str:
    if value not in SEVERITIES:
        raise IncidentError(choices_message("severity", value, SEVERITY_ORDER))
    return t.cast(str, value)


def validate_type(value: t.Any) -> str:
    if value not in TYPES:
        raise IncidentError(choices_message("type", value, TYPE_ORDER))
    return t.cast(str, value)


def validate_status(value: t.Any) -> str:
    if value not in STATUSES:
        raise IncidentError(choices_message("status", value, STATUSES))
    return t.cast(str, value)


def allowed_next(status: t.Optional[str], reopen: bool = False) -> t.List[str]:
    """Statuses a record in ``status`` may move to (``reopen`` unlocks RESOLVED)."""
    if status == "RESOLVED":
        return list(REOPEN_TARGETS) if reopen else []
    return list(TRANSITIONS.get(status or "", []))


def check_transition(current: t.Optional[str], target: str, reopen: bool = False) -> None:
    """None if ``current -> target`` is allowed (or no change); IncidentError otherwise."""
    validate_status(target)
    if current == target:
        return
    allowed = allowed_next(current, reopen)
    if target in allowed:
        return
    if current == "RESOLVED":
        raise IncidentError(
            "status: the incident is RESOLVED, which is terminal; set reopen=true to move it back to one of: %s"
            % ", ".join(REOPEN_TARGETS))
    raise IncidentError("status: cannot change from %s to %s; allowed next states: %s"
                        % (current, target, ", ".join(allowed)))


# ---------------------------------------------------------------------------
# timeline
# ---------------------------------------------------------------------------


def normalize_entry(entry: t.Any, index: t.Optional[int] = None) -> t.Dict[str, t.Any]:
    """``{time, text, kind, actor}`` with time in UTC text or None; IncidentError if malformed."""
    where = "timeline" if index is None else "timeline[%d]" % index
    if isinstance(entry, str):
        entry = {"text": entry}
    if not isinstance(entry, dict):
        raise IncidentError("%s: each entry must be a mapping with text and optional time, kind, actor; got %r"
                            % (where, entry))
    unknown = sorted(set(entry) - set(["text", "time", "kind", "actor"]))
    if unknown:
        raise IncidentError("%s: unknown keys %s; accepted keys: text, time, kind, actor" % (where, ", ".join(unknown)))
    text = entry.get("text")
    if not isinstance(text, str) or not text.strip():
        raise IncidentError("%s.text: a non-empty string is required" % where)
    time_value = entry.get("time")
    moment = None
    if time_value not in (None, ""):
        moment = format_time(parse_time(time_value, "%s.time" % where))
    kind = entry.get("kind") or "note"
    actor = entry.get("actor") or None
    if not isinstance(kind, str):
        raise IncidentError("%s.kind: must be a string" % where)
    if actor is not None and not isinstance(actor, str):
        raise IncidentError("%s.actor: must be a string" % where)
    return {"time": moment, "text": text.strip(), "kind": kind, "actor": actor}


def _entry_key(entry: t.Mapping[str, t.Any], with_time: bool = True) -> t.Tuple[t.Any, ...]:
    key = (entry.get("text"), entry.get("kind") or "note", entry.get("actor") or None)
    return (entry.get("time"),) + key if with_time else key


def merge_timeline(existing: t.Iterable[t.Mapping[str, t.Any]], additions: t.Optional[t.Iterable[t.Any]],
                   now: datetime.datetime) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.List[t.Dict[str, t.Any]]]:
    """``(merged, added)``: ``additions`` appended to ``existing`` without duplicates.

    An entry with a time is a duplicate of an identical entry (same time, text,
    kind and actor). An entry without a time is a duplicate of any entry with
    the same text, kind and actor, whatever its time; otherwise it is stamped
    with ``now``. So rerunning a task never adds an entry twice. The result is
    ordered by time (stable, so entries at the same second keep their order).
    """
    merged = [dict(item) for item in existing]
    with_time = set(_entry_key(item) for item in merged)
    without_time = set(_entry_key(item, with_time=False) for item in merged)
    added = []
    stamp = format_time(now)
    for index, raw in enumerate(additions or []):
        entry = normalize_entry(raw, index)
        if entry["time"] is None:
            if _entry_key(entry, with_time=False) in without_time:
                continue
            entry["time"] = stamp
        elif _entry_key(entry) in with_time:
            continue
        merged.append(entry)
        added.append(entry)
        with_time.add(_entry_key(entry))
        without_time.add(_entry_key(entry, with_time=False))
    merged.sort(key=lambda item: item.get("time") or "")
    return merged, added


def _union(existing: t.Optional[t.Iterable[t.Any]], additions: t.Optional[t.Iterable[t.Any]]) -> t.List[t.Any]:
    result = list(existing or [])
    for item in additions or []:
        if item is None:
            continue
        text = str(item).strip()
        if text and text not in result:
            result.append(text)
    return result


# ---------------------------------------------------------------------------
# record changes
# ---------------------------------------------------------------------------


def empty_record(incident_id: t.Optional[str]) -> Record:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": incident_id,
        "title": None,
        "severity": None,
        "type": None,
        "status": "INVESTIGATING",
        "commander": None,
        "started_at": None,
        "declared_at": None,
        "updated_at": None,
        "resolved_at": None,
        "duration_seconds": None,
        "symptoms": [],
        "impact": {"affected_users": None, "affected_services": [], "business_impact": None},
        "timeline": [],
        "root_cause": None,
        "resolution": None,
        "preventive_measures": [],
        "communication": {},
        "reopened_count": 0,
    }


def _content(record: t.Optional[Record]) -> t.Optional[Record]:
    """The record without ``updated_at``: what decides whether anything changed."""
    if record is None:
        return None
    stripped = dict(record)
    stripped.pop("updated_at", None)
    return stripped


class _Change:
    """One application of module options to a record: the record being built and its automatic timeline."""

    def __init__(self, record: Record, changes: t.Mapping[str, t.Any], now: datetime.datetime, creating: bool) -> None:
        self.record = record
        self.changes = changes
        self.now = now
        self.stamp = format_time(now)
        self.creating = creating
        self.auto: t.List[t.Dict[str, t.Any]] = []

    def note(self, text: str, kind: str, time: t.Optional[str] = None) -> None:
        self.auto.append({"time": time or self.stamp, "text": text, "kind": kind})

    def started_at(self) -> t.Optional[str]:
        started = self.changes.get("started_at")
        if not started:
            return None
        value = format_time(parse_time(started, "started_at"))
        if value > self.stamp and (self.creating or value != self.record.get("started_at")):
            raise IncidentError("started_at: %s is in the future (now %s)" % (value, self.stamp))
        return value

    def declare(self, incident_id: t.Optional[str]) -> None:
        severity, inc_type = self.changes.get("severity"), self.changes.get("type")
        missing = [name for name, value in (("severity", severity), ("type", inc_type)) if value is None]
        if missing:
            raise IncidentError(
                "%s: required to declare a new incident (%s); severity accepts %s and type accepts %s" % (
                    " and ".join(missing), incident_id, ", ".join(SEVERITY_ORDER), ", ".join(TYPE_ORDER)))
        given = self.started_at()
        started_at = given or self.stamp
        self.record.update(started_at=started_at, declared_at=self.stamp, severity=severity, type=inc_type,
                           status="INVESTIGATING")
        if given:
            self.note("Incident detected", "detected", started_at)
        declared = "Incident declared: %s %s" % (severity, TYPES[str(inc_type)])
        if self.changes.get("commander"):
            declared += ", commander %s" % self.changes["commander"]
        self.note(declared, "declared")

    def amend(self) -> None:
        record = self.record
        started_at = self.started_at()
        if started_at and started_at != record.get("started_at"):
            self.note("Start time corrected from %s to %s" % (record.get("started_at"), started_at), "correction")
            record["started_at"] = started_at
        severity, inc_type = self.changes.get("severity"), self.changes.get("type")
        if severity is not None and severity != record.get("severity"):
            self.note("Severity changed from %s to %s" % (record.get("severity"), severity), "severity")
            record["severity"] = severity
        if inc_type is not None and inc_type != record.get("type"):
            old = TYPES.get(record.get("type") or "", record.get("type"))
            self.note("Type changed from %s to %s" % (old, TYPES[inc_type]), "type")
            record["type"] = inc_type

    def fields(self) -> None:
        record, changes = self.record, self.changes
        commander = changes.get("commander")
        if commander is not None and commander != record.get("commander"):
            if not self.creating:
                self.note("Incident commander changed from %s to %s" % (record.get("commander") or "nobody", commander),
                          "commander")
            record["commander"] = commander
        for field in ("title", "root_cause", "resolution"):
            value = changes.get(field)
            if value is not None and value != record.get(field):
                record[field] = value
        record["symptoms"] = _union(record.get("symptoms"), changes.get("symptoms"))
        record["preventive_measures"] = _union(record.get("preventive_measures"), changes.get("preventive_measures"))

    def impact(self) -> None:
        impact = self.changes.get("impact") or {}
        current = dict(self.record.get("impact") or {})
        for key in ("affected_users", "business_impact"):
            if impact.get(key) is not None:
                current[key] = str(impact[key])
            current.setdefault(key, None)
        current["affected_services"] = _union(current.get("affected_services"), impact.get("affected_services"))
        self.record["impact"] = current

    def communication(self) -> None:
        communication = self.changes.get("communication") or {}
        current = dict(self.record.get("communication") or {})
        for key in COMMUNICATION_KEYS:
            value = communication.get(key)
            if value is None:
                continue
            if key == "service_status" and value not in SERVICE_STATUSES:
                raise IncidentError(choices_message("communication.service_status", value, SERVICE_STATUSES))
            current[key] = list(value) if key == "next_steps" else value
        self.record["communication"] = current

    def status(self, old_status: t.Optional[str]) -> None:
        status = self.changes.get("status")
        if status is None or (not self.creating and status == old_status):
            return
        record = self.record
        if not self.creating:
            check_transition(old_status, status, bool(self.changes.get("reopen")))
            if old_status == "RESOLVED":
                record.update(reopened_count=int(record.get("reopened_count") or 0) + 1, resolved_at=None,
                              duration_seconds=None)
                self.note("Incident reopened: status RESOLVED to %s" % status, "status")
            else:
                self.note("Status changed from %s to %s" % (old_status, status), "status")
        elif status != "INVESTIGATING":
            self.note("Status set to %s" % status, "status")
        record["status"] = status
        if status == "RESOLVED":
            record["resolved_at"] = self.stamp
            started = parse_time(record["started_at"], "started_at")
            record["duration_seconds"] = int((self.now - started).total_seconds())
            self.note("Incident resolved after %s" % format_duration(record["duration_seconds"]), "resolved")


def apply_changes(before: t.Optional[Record], changes: t.Mapping[str, t.Any], now: datetime.datetime,
                  incident_id: t.Optional[str] = None) -> Record:
    """The record after applying ``changes`` (module options) to ``before`` (None: a new incident).

    Pure: ``before`` is not modified. Raises IncidentError for bad input or a
    refused status change. ``changes`` keys: severity, type, status, commander,
    title, started_at, symptoms, impact, timeline, root_cause, resolution,
    preventive_measures, communication, reopen.
    """
    creating = before is None
    record = empty_record(incident_id) if before is None else copy.deepcopy(before)
    if not creating:
        # Fill keys an older or hand-edited record lacks.
        for key, value in empty_record(record.get("id")).items():
            record.setdefault(key, value)
    for name, validate in (("severity", validate_severity), ("type", validate_type), ("status", validate_status)):
        if changes.get(name) is not None:
            validate(changes[name])
    change = _Change(record, changes, now, creating)
    old_status = None if creating else record.get("status")
    if creating:
        change.declare(incident_id)
    else:
        change.amend()
    change.fields()
    change.impact()
    change.communication()
    change.status(old_status)

    timeline, _added = merge_timeline(record.get("timeline") or [], change.auto, now)
    timeline, _added = merge_timeline(timeline, changes.get("timeline") or [], now)
    record["timeline"] = timeline

    if _content(record) != _content(before):
        record["updated_at"] = change.stamp
    return record


def record_changed(before: t.Optional[Record], after: t.Optional[Record]) -> bool:
    return _content(before) != _content(after)


# ---------------------------------------------------------------------------
# cadence and escalation
# ---------------------------------------------------------------------------


def next_update(record: Record, now: datetime.datetime) -> t.Tuple[t.Optional[str], bool]:
    """``(next_update_due text or None, overdue)`` from the severity's update cadence.

    The cadence runs from the last change of the record (``updated_at``): each
    status update is expected to be recorded. When that time has passed the
    update is overdue and the next one is due one cadence from ``now``.
    None once RESOLVED.
    """
    if record.get("status") == "RESOLVED":
        return None, False
    cadence = SEVERITIES[record["severity"]]["update_seconds"]
    base = parse_time(record.get("updated_at") or record.get("declared_at") or format_time(now))
    due = base + datetime.timedelta(seconds=cadence)
    if due < now:
        return format_time(now + datetime.timedelta(seconds=cadence)), True
    return format_time(due), False


def escalation(record: Record, now: datetime.datetime) -> t.Dict[str, t.Any]:
    """Escalation triggers from the playbook for ``record`` at ``now``.

    Time-based: P0 unresolved 1 hour after start, P1 after 4 hours (P2/P3 have
    none). Impact-based hints: security incidents go to the Security Team,
    data issues to Legal for compliance.
    """
    sev = SEVERITIES.get(record.get("severity") or "", {})
    after = sev.get("escalate_after_seconds")
    result: t.Dict[str, t.Any] = {"time_based": after is not None, "after_seconds": after, "due_at": None,
                                  "due": False, "overdue_seconds": None, "reason": None, "external": []}
    if after is not None and record.get("started_at"):
        due_at = parse_time(record["started_at"]) + datetime.timedelta(seconds=after)
        result["due_at"] = format_time(due_at)
        end = parse_time(record["resolved_at"]) if record.get("resolved_at") else now
        if record.get("status") != "RESOLVED" and end >= due_at:
            result["due"] = True
            result["overdue_seconds"] = int((end - due_at).total_seconds())
            result["reason"] = "%s unresolved for more than %s: escalate to the next level" % (
                record["severity"], human_interval(after))
    if record.get("type") == "security_incident":
        result["external"].append("Security Team")
    if record.get("type") == "data_issues":
        result["external"].append("Legal Team")
    return result
