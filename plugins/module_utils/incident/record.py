# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The incident record of the MCP Airlock incident-response playbook.

A record is one JSON document at ``<directory>/<id>/incident.json``; the
Markdown report next to it (``incident.md``) is always rendered from it.

Model (from the operator playbook, "Incident Classification" and
"Communication Procedures"):

* ids ``INC-YYYYMMDD-HHMMSS`` (UTC at declaration) with an optional
  ``-suffix`` of letters and digits;
* severities P0-P3 with their response time and status-update cadence;
* the six incident types as slugs;
* statuses INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED (see
  ``TRANSITIONS``);
* a timeline of ``{time, text, kind, actor}`` entries in UTC, merged
  idempotently (``merge_timeline``).

Writers take an exclusive ``fcntl.flock`` on a sibling lock file, re-read the
record under the lock, apply their change, and replace the file atomically, so
concurrent writers never lose each other's entries and readers never see a
partial file.
"""

from __future__ import annotations

import copy
import datetime
import errno
import json
import os
import re

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

from ansible_collections.airlock.incident.plugins.module_utils.core import fileutil
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, choices_message
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import DurationError, parse_rfc3339_ns

SCHEMA_VERSION = 1
RECORD_FILE = "incident.json"
REPORT_FILE = "incident.md"
LOCK_FILE = ".incident.lock"
DIRECTORY_LOCK_FILE = ".airlock-incident.lock"
FILE_MODE = 0o640
DIR_MODE = 0o750

ID_PATTERN = r"^INC-\d{8}-\d{6}(-[A-Za-z0-9]+)?$"
_ID_RE = re.compile(ID_PATTERN)

#: Severity levels: playbook table "Severity Levels" and "Update Schedule";
#: ``escalate_after`` from "Escalation Triggers" (time-based).
SEVERITIES = {
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
TRANSITIONS = {
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


def utcnow():
    """The current UTC time, whole seconds."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def format_time(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_NAIVE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$")


def parse_time(value, field="time"):
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
        match = _NAIVE.match(text)
        if not match:
            raise IncidentError(
                "%s: invalid value %r; use an RFC 3339 UTC time such as 2026-11-28T16:00:00Z" % (field, value))
        try:
            moment = datetime.datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)),
                                       int(match.group(4)), int(match.group(5)), int(match.group(6) or 0),
                                       tzinfo=datetime.timezone.utc)
        except ValueError as exc:
            raise IncidentError("%s: invalid value %r: %s" % (field, value, exc))
        return moment
    return datetime.datetime.fromtimestamp(nanos // 1000000000, tz=datetime.timezone.utc)


def format_duration(seconds):
    """``1d 2h 3m 4s`` style text for a number of seconds (leading zero units left out)."""
    if seconds is None:
        return NOT_SET
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    for amount, unit in ((days, "d"), (hours, "h"), (minutes, "m")):
        if amount or parts:
            parts.append("%d%s" % (amount, unit))
    parts.append("%ds" % secs)
    return " ".join(parts)


def _human_interval(seconds, every=False):
    """``1 hour``, ``4 hours``, ``15 minutes``; with ``every``, ``day``/``hour`` for a single unit."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            if count == 1:
                return unit if every else "1 " + unit
            return "%d %ss" % (count, unit)
    return "%d seconds" % seconds


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


def validate_id(incident_id):
    if not isinstance(incident_id, str) or not _ID_RE.fullmatch(incident_id):
        raise IncidentError(
            "id: invalid value %r; it must look like INC-YYYYMMDD-HHMMSS with an optional -suffix of "
            "letters and digits, for example INC-20261128-160000 or INC-20261128-160000-db" % (incident_id,))
    return incident_id


def generate_id(now, suffix=None):
    base = "INC-" + now.astimezone(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return base if suffix is None else "%s-%s" % (base, suffix)


def validate_severity(value):
    if value not in SEVERITIES:
        raise IncidentError(choices_message("severity", value, SEVERITY_ORDER))
    return value


def validate_type(value):
    if value not in TYPES:
        raise IncidentError(choices_message("type", value, TYPE_ORDER))
    return value


def validate_status(value):
    if value not in STATUSES:
        raise IncidentError(choices_message("status", value, STATUSES))
    return value


def allowed_next(status, reopen=False):
    """Statuses a record in ``status`` may move to (``reopen`` unlocks RESOLVED)."""
    if status == "RESOLVED":
        return list(REOPEN_TARGETS) if reopen else []
    return list(TRANSITIONS.get(status, []))


def check_transition(current, target, reopen=False):
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


def normalize_entry(entry, index=None):
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


def _entry_key(entry, with_time=True):
    key = (entry.get("text"), entry.get("kind") or "note", entry.get("actor") or None)
    return (entry.get("time"),) + key if with_time else key


def merge_timeline(existing, additions, now):
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


def _union(existing, additions):
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


def empty_record(incident_id):
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


def _content(record):
    """The record without ``updated_at``: what decides whether anything changed."""
    if record is None:
        return None
    stripped = dict(record)
    stripped.pop("updated_at", None)
    return stripped


def apply_changes(before, changes, now, incident_id=None):
    """The record after applying ``changes`` (module options) to ``before`` (None: a new incident).

    Pure: ``before`` is not modified. Raises IncidentError for bad input or a
    refused status change. ``changes`` keys: severity, type, status, commander,
    title, started_at, symptoms, impact, timeline, root_cause, resolution,
    preventive_measures, communication, reopen.
    """
    creating = before is None
    record = empty_record(incident_id) if creating else copy.deepcopy(before)
    if not creating:
        # Fill keys an older or hand-edited record lacks.
        for key, value in empty_record(record.get("id")).items():
            record.setdefault(key, value)
    auto = []
    stamp = format_time(now)

    severity = changes.get("severity")
    inc_type = changes.get("type")
    status = changes.get("status")
    if severity is not None:
        validate_severity(severity)
    if inc_type is not None:
        validate_type(inc_type)
    if status is not None:
        validate_status(status)

    if creating:
        missing = [name for name, value in (("severity", severity), ("type", inc_type)) if value is None]
        if missing:
            raise IncidentError(
                "%s: required to declare a new incident (%s); severity accepts %s and type accepts %s" % (
                    " and ".join(missing), incident_id, ", ".join(SEVERITY_ORDER), ", ".join(TYPE_ORDER)))
        started = changes.get("started_at")
        started_at = format_time(parse_time(started, "started_at")) if started else stamp
        if started_at > stamp:
            raise IncidentError("started_at: %s is in the future (now %s)" % (started_at, stamp))
        record["started_at"] = started_at
        record["declared_at"] = stamp
        record["severity"] = severity
        record["type"] = inc_type
        record["status"] = "INVESTIGATING"
        if changes.get("started_at"):
            auto.append({"time": started_at, "text": "Incident detected", "kind": "detected"})
        declared = "Incident declared: %s %s" % (severity, TYPES[inc_type])
        if changes.get("commander"):
            declared += ", commander %s" % changes["commander"]
        auto.append({"time": stamp, "text": declared, "kind": "declared"})
    else:
        if changes.get("started_at"):
            started_at = format_time(parse_time(changes["started_at"], "started_at"))
            if started_at != record.get("started_at"):
                if started_at > stamp:
                    raise IncidentError("started_at: %s is in the future (now %s)" % (started_at, stamp))
                auto.append({"time": stamp, "text": "Start time corrected from %s to %s"
                             % (record.get("started_at"), started_at), "kind": "correction"})
                record["started_at"] = started_at
        if severity is not None and severity != record.get("severity"):
            auto.append({"time": stamp, "text": "Severity changed from %s to %s" % (record.get("severity"), severity),
                         "kind": "severity"})
            record["severity"] = severity
        if inc_type is not None and inc_type != record.get("type"):
            old = TYPES.get(record.get("type"), record.get("type"))
            auto.append({"time": stamp, "text": "Type changed from %s to %s" % (old, TYPES[inc_type]), "kind": "type"})
            record["type"] = inc_type

    commander = changes.get("commander")
    if commander is not None and commander != record.get("commander"):
        if not creating:
            auto.append({"time": stamp, "text": "Incident commander changed from %s to %s"
                         % (record.get("commander") or "nobody", commander), "kind": "commander"})
        record["commander"] = commander

    for field in ("title", "root_cause", "resolution"):
        value = changes.get(field)
        if value is not None and value != record.get(field):
            record[field] = value

    record["symptoms"] = _union(record.get("symptoms"), changes.get("symptoms"))
    record["preventive_measures"] = _union(record.get("preventive_measures"), changes.get("preventive_measures"))

    impact = changes.get("impact") or {}
    current_impact = dict(record.get("impact") or {})
    for key in ("affected_users", "business_impact"):
        if impact.get(key) is not None:
            current_impact[key] = str(impact[key])
        current_impact.setdefault(key, None)
    current_impact["affected_services"] = _union(current_impact.get("affected_services"),
                                                 impact.get("affected_services"))
    record["impact"] = current_impact

    communication = changes.get("communication") or {}
    current_comm = dict(record.get("communication") or {})
    for key in COMMUNICATION_KEYS:
        value = communication.get(key)
        if value is None:
            continue
        if key == "service_status" and value not in SERVICE_STATUSES:
            raise IncidentError(choices_message("communication.service_status", value, SERVICE_STATUSES))
        current_comm[key] = list(value) if key == "next_steps" else value
    record["communication"] = current_comm

    old_status = record.get("status") if not creating else None
    if status is not None and (creating or status != old_status):
        if not creating:
            check_transition(old_status, status, bool(changes.get("reopen")))
            if old_status == "RESOLVED":
                record["reopened_count"] = int(record.get("reopened_count") or 0) + 1
                record["resolved_at"] = None
                record["duration_seconds"] = None
                auto.append({"time": stamp, "text": "Incident reopened: status RESOLVED to %s" % status,
                             "kind": "status"})
            else:
                auto.append({"time": stamp, "text": "Status changed from %s to %s" % (old_status, status),
                             "kind": "status"})
        elif status != "INVESTIGATING":
            auto.append({"time": stamp, "text": "Status set to %s" % status, "kind": "status"})
        record["status"] = status
        if status == "RESOLVED":
            record["resolved_at"] = stamp
            started = parse_time(record["started_at"], "started_at")
            record["duration_seconds"] = int((now - started).total_seconds())
            auto.append({"time": stamp, "text": "Incident resolved after %s"
                         % format_duration(record["duration_seconds"]), "kind": "resolved"})

    timeline, _added = merge_timeline(record.get("timeline") or [], auto, now)
    timeline, _added = merge_timeline(timeline, changes.get("timeline") or [], now)
    record["timeline"] = timeline

    if _content(record) != _content(before):
        record["updated_at"] = stamp
    return record


def record_changed(before, after):
    return _content(before) != _content(after)


# ---------------------------------------------------------------------------
# cadence and escalation
# ---------------------------------------------------------------------------


def next_update(record, now):
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


def escalation(record, now):
    """Escalation triggers from the playbook for ``record`` at ``now``.

    Time-based: P0 unresolved 1 hour after start, P1 after 4 hours (P2/P3 have
    none). Impact-based hints: security incidents go to the Security Team,
    data issues to Legal for compliance.
    """
    sev = SEVERITIES.get(record.get("severity"), {})
    after = sev.get("escalate_after_seconds")
    result = {"time_based": after is not None, "after_seconds": after, "due_at": None, "due": False,
              "overdue_seconds": None, "reason": None, "external": []}
    if after is not None and record.get("started_at"):
        due_at = parse_time(record["started_at"]) + datetime.timedelta(seconds=after)
        result["due_at"] = format_time(due_at)
        end = parse_time(record["resolved_at"]) if record.get("resolved_at") else now
        if record.get("status") != "RESOLVED" and end >= due_at:
            result["due"] = True
            result["overdue_seconds"] = int((end - due_at).total_seconds())
            result["reason"] = "%s unresolved for more than %s: escalate to the next level" % (
                record["severity"], _human_interval(after))
    if record.get("type") == "security_incident":
        result["external"].append("Security Team")
    if record.get("type") == "data_issues":
        result["external"].append("Legal Team")
    return result


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------


def _inline(value, default=NOT_SET):
    if value is None or value == "" or value == []:
        return default
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return " ".join(str(value).split("\n")).strip() or default


def _bullets(items, default=NOT_SET):
    items = [item for item in (items or []) if item not in (None, "")]
    if not items:
        return ["- %s" % default]
    return ["- %s" % _inline(item) for item in items]


def _severity_label(code):
    sev = SEVERITIES.get(code)
    return "%s - %s" % (code, sev["name"]) if sev else _inline(code)


def render_markdown(record):
    """The playbook's incident report (Incident Declaration template) from a record."""
    lines = [
        "<!-- Generated by airlock.incident.incident from incident.json; edits here are overwritten. -->",
        "# Incident Report: %s" % record["id"],
        "",
    ]
    if record.get("title"):
        lines += ["**Title**: %s  " % _inline(record["title"])]
    lines += [
        "**Severity**: %s  " % _severity_label(record.get("severity")),
        "**Type**: %s  " % TYPES.get(record.get("type"), _inline(record.get("type"))),
        "**Start Time**: %s  " % _inline(record.get("started_at")),
        "**Incident Commander**: %s  " % _inline(record.get("commander")),
        "**Status**: %s  " % record.get("status"),
    ]
    if record.get("resolved_at"):
        lines += [
            "**Resolved**: %s  " % record["resolved_at"],
            "**Duration**: %s  " % format_duration(record.get("duration_seconds")),
        ]
    impact = record.get("impact") or {}
    lines += [
        "",
        "## Initial Symptoms",
    ] + _bullets(record.get("symptoms")) + [
        "",
        "## Impact Assessment",
        "- Affected Users: %s" % _inline(impact.get("affected_users")),
        "- Affected Services: %s" % _inline(impact.get("affected_services")),
        "- Business Impact: %s" % _inline(impact.get("business_impact")),
        "",
        "## Timeline",
    ]
    for entry in record.get("timeline") or []:
        suffix = []
        if entry.get("kind") and entry["kind"] != "note":
            suffix.append(entry["kind"])
        if entry.get("actor"):
            suffix.append(entry["actor"])
        lines.append("- %s: %s%s" % (entry.get("time"), _inline(entry.get("text")),
                                     (" (%s)" % ", ".join(suffix)) if suffix else ""))
    if not record.get("timeline"):
        lines.append("- %s" % NOT_SET)
    lines += [
        "",
        "## Root Cause",
        _inline(record.get("root_cause"), "Not yet identified."),
        "",
        "## Resolution",
        _inline(record.get("resolution"), "Not yet resolved."),
        "",
        "## Preventive Measures",
    ] + _bullets(record.get("preventive_measures")) + [""]
    return "\n".join(lines)


def _impact_lines(record):
    impact = record.get("impact") or {}
    lines = []
    if impact.get("business_impact"):
        lines.append(_inline(impact["business_impact"]))
    if impact.get("affected_users"):
        lines.append("Affected users: %s" % _inline(impact["affected_users"]))
    if impact.get("affected_services"):
        lines.append("Affected functionality: %s" % _inline(impact["affected_services"]))
    for symptom in record.get("symptoms") or []:
        lines.append(_inline(symptom))
    return _bullets(lines, "Impact is being assessed")


def _service_status(record):
    comm = record.get("communication") or {}
    if comm.get("service_status"):
        return comm["service_status"]
    if record.get("status") == "RESOLVED":
        return "UP"
    return "DOWN" if record.get("type") == "service_outage" and record.get("severity") == "P0" else "DEGRADED"


def render_notice(kind, record, now):
    """The text of a playbook communication template for ``record``.

    ``kind``: ``notification`` (P0/P1 incident notification), ``internal``
    (internal team notification), ``update`` (status update) or ``resolution``.
    """
    comm = record.get("communication") or {}
    iid = record["id"]
    sev = record.get("severity")
    if kind == "notification":
        cadence = _human_interval(SEVERITIES[sev]["update_seconds"], every=True)
        lines = [
            "Subject: [%s] MCP Airlock Incident - %s" % (sev, iid),
            "",
            "We are investigating an incident affecting MCP Airlock service.",
            "",
            "Incident ID: %s" % iid,
        ]
        if record.get("title"):
            lines.append("Summary: %s" % _inline(record["title"]))
        lines += [
            "Severity: %s" % sev,
            "Start Time: %s" % record.get("started_at"),
            "Current Status: %s" % record.get("status"),
            "",
            "Impact:",
        ] + _impact_lines(record) + [
            "",
            "We will provide updates every %s until resolved." % cadence,
            "",
            "Incident Commander: %s" % _inline(record.get("commander")),
            "Status Page: %s" % _inline(comm.get("status_page"), "n/a"),
        ]
    elif kind == "internal":
        impact = record.get("impact") or {}
        user_impact = impact.get("business_impact") or impact.get("affected_users")
        lines = [
            "\U0001F6A8 MCP Airlock Incident - %s" % iid,
            "",
            "Severity: %s" % sev,
            "Type: %s" % TYPES.get(record.get("type"), record.get("type")),
            "Commander: %s" % _inline(record.get("commander")),
            "",
            "Quick Status:",
            "- Service Status: %s" % _service_status(record),
            "- User Impact: %s" % _inline(user_impact, "being assessed"),
            "- ETA: %s" % _inline(comm.get("eta"), "unknown"),
            "",
            "War Room: %s" % _inline(comm.get("war_room"), "#incident-response-%s" % iid),
            "Bridge: %s" % _inline(comm.get("bridge"), "n/a"),
        ]
        if sev in ("P0", "P1"):
            lines += ["", "All hands on deck for P0/P1 incidents."]
    elif kind == "update":
        due, _overdue = next_update(record, now)
        actions = [entry["text"] for entry in record.get("timeline") or [] if entry.get("kind") == "action"][-10:]
        situation = comm.get("current_situation")
        if not situation and record.get("timeline"):
            situation = record["timeline"][-1].get("text")
        impact = record.get("impact") or {}
        lines = [
            "Subject: [UPDATE] MCP Airlock Incident - %s" % iid,
            "",
            "Incident ID: %s" % iid,
            "Status: %s" % record.get("status"),
            "Next Update: %s" % (due or "none (resolved)"),
            "",
            "Current Situation:",
        ] + _bullets([situation]) + [
            "",
            "Actions Taken:",
        ] + _bullets(actions, "none recorded yet") + [
            "",
            "Next Steps:",
        ] + _bullets(comm.get("next_steps"), "to be decided") + [
            "",
            "Impact:",
            "- %s" % _inline(impact.get("business_impact") or impact.get("affected_users"), "being assessed"),
            "- Services affected: %s" % _inline(impact.get("affected_services"), "being assessed"),
            "",
            "ETA: %s" % _inline(comm.get("eta"), "unknown"),
        ]
    elif kind == "resolution":
        if record.get("status") != "RESOLVED":
            raise IncidentError("notify: a resolution notice needs status RESOLVED (the incident is %s)"
                                % record.get("status"))
        lines = [
            "Subject: [RESOLVED] MCP Airlock Incident - %s" % iid,
            "",
            "The MCP Airlock incident has been resolved.",
            "",
            "Incident ID: %s" % iid,
            "Resolution Time: %s" % record.get("resolved_at"),
            "Duration: %s" % format_duration(record.get("duration_seconds")),
            "",
            "Root Cause:",
        ] + _bullets([record.get("root_cause")], "under investigation") + [
            "",
            "Resolution:",
        ] + _bullets([record.get("resolution")]) + [
            "",
            "Preventive Measures:",
        ] + _bullets(record.get("preventive_measures"), "to be defined in the post-incident review") + [
            "",
            "Post-Incident Review:",
            "- Scheduled for: %s" % _inline(comm.get("review_scheduled"), "to be scheduled"),
            "- Meeting Link: %s" % _inline(comm.get("review_link"), "n/a"),
            "",
            "Thank you for your patience during this incident.",
        ]
    else:
        raise IncidentError(choices_message("notify", kind, NOTICE_KINDS))
    return "\n".join(lines) + "\n"


def auto_notice_kind(before, after):
    """Which notice ``notify=auto`` renders for a change from ``before`` to ``after``."""
    if before is None:
        return "notification" if after.get("severity") in ("P0", "P1") else "internal"
    if after.get("status") == "RESOLVED" and before.get("status") != "RESOLVED":
        return "resolution"
    if record_changed(before, after):
        return "update"
    return "none"


# ---------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------


def record_paths(directory, incident_id):
    base = os.path.join(directory, incident_id)
    return {
        "dir": base,
        "record": os.path.join(base, RECORD_FILE),
        "report": os.path.join(base, REPORT_FILE),
        "lock": os.path.join(base, LOCK_FILE),
    }


def dump_record(record):
    return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_record(path):
    """The record at ``path``, or None if there is none; IncidentError if unreadable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise IncidentError("cannot read %s: %s" % (path, exc))
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise IncidentError("%s is not a valid incident record (invalid JSON: %s); fix or move it, "
                            "it is never overwritten" % (path, exc))
    if not isinstance(record, dict) or not record.get("id"):
        raise IncidentError("%s is not a valid incident record (no id); fix or move it, it is never overwritten"
                            % path)
    return record


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def atomic_write(path, text, mode=FILE_MODE):
    """Write ``text`` to ``path`` atomically (see fileutil.atomic_write); an existing file keeps its mode."""
    fileutil.atomic_write(path, text.encode("utf-8"), default_mode=mode)


class FileLock(object):
    """An exclusive ``fcntl.flock`` on ``path`` (created if missing) for a ``with`` block."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        try:
            if fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None
        return False


def ensure_dir(path):
    try:
        os.makedirs(path, DIR_MODE)
    except OSError as exc:
        if exc.errno != errno.EEXIST or not os.path.isdir(path):
            raise


def write_incident(paths, record):
    """Write record and report where their content differs; return the list of paths written."""
    written = []
    record_text = dump_record(record)
    if read_text(paths["record"]) != record_text:
        atomic_write(paths["record"], record_text)
        written.append(paths["record"])
    report_text = render_markdown(record)
    if read_text(paths["report"]) != report_text:
        atomic_write(paths["report"], report_text)
        written.append(paths["report"])
    return written


def update_incident(directory, incident_id, changes, now=None, check_mode=False):
    """Apply ``changes`` to the incident ``incident_id`` under ``directory``.

    Returns ``(before, after, written_paths, report_pending)``. The read, merge
    and write happen under an exclusive lock on ``<id>/.incident.lock``, so
    concurrent callers serialise and none loses an entry. In check mode nothing
    is created (no directory, no lock file); the record is read as it is.
    """
    now = now or utcnow()
    paths = record_paths(directory, incident_id)
    if check_mode:
        before = load_record(paths["record"])
        after = apply_changes(before, changes, now, incident_id)
        report_pending = read_text(paths["report"]) != render_markdown(after)
        return before, after, [], report_pending
    # Validate on the current record first, so bad input fails before anything is created.
    apply_changes(load_record(paths["record"]), changes, now, incident_id)
    ensure_dir(paths["dir"])
    with FileLock(paths["lock"]):
        before = load_record(paths["record"])
        after = apply_changes(before, changes, now, incident_id)
        written = write_incident(paths, after)
    return before, after, written, bool(written)


def list_records(directory):
    """Every readable record directly under ``directory`` (unreadable ones are skipped)."""
    records = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return records
    for name in names:
        if not _ID_RE.fullmatch(name):
            continue
        try:
            record = load_record(os.path.join(directory, name, RECORD_FILE))
        except IncidentError:
            continue
        if record is not None:
            records.append(record)
    return records


def resolve_id(directory, now, title=None, inc_type=None, check_mode=False):
    """The id to use when the caller gave none: ``(id, reused)``.

    If ``title`` is given and exactly one open (not RESOLVED) incident in
    ``directory`` has that title (and ``inc_type``, when given), its id is
    reused, so a rerun of the same declaration task does not open a second
    incident; several matches are an error asking for an explicit id. Else a
    new ``INC-YYYYMMDD-HHMMSS`` id is generated from ``now``; if it is taken, a
    numeric suffix is added. Outside check mode the new id's directory is
    created exclusively to claim it.
    """
    if title:
        matches = [rec for rec in list_records(directory)
                   if rec.get("title") == title and rec.get("status") != "RESOLVED"
                   and (inc_type is None or rec.get("type") == inc_type)]
        if len(matches) == 1:
            return matches[0]["id"], True
        if len(matches) > 1:
            raise IncidentError("id: %d open incidents in %s have the title %r (%s); pass id to choose one"
                                % (len(matches), directory, title, ", ".join(rec["id"] for rec in matches)))
    for attempt in range(0, 100):
        candidate = generate_id(now, None if attempt == 0 else str(attempt + 1))
        target = os.path.join(directory, candidate)
        if check_mode:
            if not os.path.exists(target):
                return candidate, False
            continue
        try:
            ensure_dir(directory)
            os.mkdir(target, DIR_MODE)
            return candidate, False
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
    raise IncidentError("id: could not generate a free id in %s; pass id explicitly" % directory)


def directory_lock(directory):
    """A lock on the whole records directory (used while choosing a new id)."""
    ensure_dir(directory)
    return FileLock(os.path.join(directory, DIRECTORY_LOCK_FILE))
