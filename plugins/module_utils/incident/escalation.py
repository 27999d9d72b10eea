# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What communication an open incident is due: its status-update slot and its escalations.

Pure functions of a record (:mod:`.model`) and the time.

Status updates run on fixed slots counted from the declaration: a P0 is due
an update at declaration + 15 min, + 30 min, ...; slot 0 is the declaration's
own notification. A slot is taken once its update is rendered
(``[update@<slot>] ...`` in the timeline, kind ``notice``), so a scheduled run
sends each slot once and a missed slot is not sent late: only the latest one is.
A channel that did not take the slot's update (``[update@<slot>] not delivered
to NAME ...``) and has no delivery for it is tried again by the next scheduled
run within the same slot, up to ``runs`` runs per slot in all, each retry
recorded (``[update@<slot>] Status update N retried for NAME (run 2 of 3)``);
a channel that took the update never gets it twice.

Escalation follows the operator playbook ("Escalation Procedures"): five
internal levels and four external contacts, reached by these triggers, all
computed from the record:

* time: unresolved past the severity's limit (P0 1 hour, P1 4 hours) reaches
  level 2, and each further period one level more (P0: 2 h level 3, 3 h
  level 4, 4 h level 5);
* impact: a customer-facing incident (P0, or affected users recorded) reaches
  level 2; a P0 is business-critical and involves the Executive Team;
* complexity: no root cause recorded after the severity's response time
  (P0 15 min, P1 1 h, P2 4 h, P3 24 h), or more than one affected service,
  reaches level 2;
* security or data involvement: a security incident involves the Security
  Team; a data issue the Legal Team and the Security Team.

Level 1 (the on-call engineer) is engaged by the declaration's notices; an
escalation notice goes to each level from 2 up to the one reached and to each
external contact involved, once (``[escalation@level-3] ...``, kind
``escalation``). Vendor Support is involved only when asked (``force``).
"""

from __future__ import annotations

import datetime
import json
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.incident.delivery import (
    DELIVERED,
    FAILED,
    DeliveryError,
    recorded_keys,
)
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import (
    SEVERITIES,
    TYPES,
    IncidentError,
    Record,
    format_time,
    human_interval,
    parse_time,
)

#: The playbook's internal escalation levels (1 to 5), default names.
LEVELS = ["On-call engineer", "Senior engineer/Team lead", "Engineering manager", "Director of Engineering",
          "CTO/VP Engineering"]
#: The playbook's external contacts, default names.
EXTERNAL = {"vendor_support": "Vendor Support", "security_team": "Security Team", "legal_team": "Legal Team",
            "executive_team": "Executive Team"}
UPDATE_KIND, ESCALATION_KIND = "notice", "escalation"
#: Scheduled runs that may send one slot's update (the first and its retries), by default.
SLOT_RUNS = 3


def _elapsed(record: Record, now: datetime.datetime) -> int:
    start = parse_time(record.get("started_at") or record.get("declared_at") or format_time(now))
    return max(0, int((now - start).total_seconds()))


def slot_outcomes(record: Record, key: str) -> t.Tuple[t.List[str], int]:
    """``(channels still failing for key, runs so far)``: failed and never delivered; the first run and each retry."""
    failed: t.List[str] = []
    delivered: t.Set[str] = set()
    runs = 0
    prefix = "[%s] " % key
    for entry in record.get("timeline") or []:
        text = entry.get("text") if isinstance(entry, dict) else None
        if not isinstance(text, str) or not text.startswith(prefix):
            continue
        rest = text[len(prefix):]
        kind = entry.get("kind")
        if kind == UPDATE_KIND and rest.startswith("Status update "):
            runs += 1
        elif kind in (DELIVERED, FAILED):
            words = rest.split(" ")
            name = words[2] if kind == DELIVERED and len(words) > 2 else (words[3] if len(words) > 3 else "")
            if kind == DELIVERED and rest.startswith("delivered to "):
                delivered.add(name)
            elif kind == FAILED and rest.startswith("not delivered to ") and name not in failed:
                failed.append(name)
    return [name for name in failed if name not in delivered], runs


def update_slot(record: Record, now: datetime.datetime, runs: int = SLOT_RUNS) -> t.Optional[t.Dict[str, t.Any]]:
    """The status update due now, or None (resolved, not yet due, already sent to every channel, or out of runs).

    ``key``, ``slot``, ``number``, ``stamp``, ``entry`` (the timeline text that takes the run) and ``retry``: the
    channel names to try again when the slot's update was sent already (an empty list for a first send).
    """
    if record.get("status") == "RESOLVED" or record.get("severity") not in SEVERITIES:
        return None
    cadence = SEVERITIES[record["severity"]]["update_seconds"]
    base = parse_time(record.get("declared_at") or record.get("started_at") or format_time(now))
    number = int((now - base).total_seconds()) // cadence
    if number < 1:
        return None
    slot = format_time(base + datetime.timedelta(seconds=number * cadence))
    key = "update@%s" % slot
    due = {"key": key, "slot": slot, "number": number, "stamp": slot.replace("-", "").replace(":", ""), "retry": []}
    if key not in recorded_keys(record, [UPDATE_KIND]):
        due["entry"] = "[%s] Status update %d sent (every %s)" % (key, number, human_interval(cadence))
        return due
    failing, done = slot_outcomes(record, key)
    if not failing or done >= max(1, runs):
        return None
    due["retry"] = failing
    due["entry"] = "[%s] Status update %d retried for %s (run %d of %d)" % (
        key, number, ", ".join(failing), done + 1, max(1, runs))
    return due


def _time_level(record: Record, elapsed: int) -> t.Tuple[int, t.List[str]]:
    after = SEVERITIES.get(record.get("severity") or "", {}).get("escalate_after_seconds")
    if not after or elapsed < after:
        return 1, []
    level = min(len(LEVELS), 1 + elapsed // after)
    return level, ["time: %s unresolved for more than %s" % (record["severity"], human_interval(after * (level - 1)))]


def _other_triggers(record: Record, elapsed: int) -> t.Tuple[int, t.List[str], t.List[str]]:
    """``(level, reasons, external keys)`` from impact, complexity and security or data involvement."""
    level, reasons, external = 1, [], []
    impact = record.get("impact") or {}
    severity = record.get("severity")
    if severity == "P0" or impact.get("affected_users"):
        level = 2
        reasons.append("impact: customer-facing (%s)" % ("P0" if severity == "P0" else "affected users recorded"))
    if severity == "P0":
        external.append("executive_team")
    response = SEVERITIES.get(severity or "", {}).get("response_seconds")
    if response and not record.get("root_cause") and elapsed >= response:
        level = 2
        reasons.append("complexity: root cause unknown after %s" % human_interval(response))
    if len(impact.get("affected_services") or []) > 1:
        level = 2
        reasons.append("complexity: %d systems involved" % len(impact["affected_services"]))
    if record.get("type") == "security_incident":
        external.append("security_team")
        reasons.append("security: security incident")
    if record.get("type") == "data_issues":
        external += ["legal_team", "security_team"]
        reasons.append("data: data involvement")
    return level, reasons, external


def _contacts(levels: t.Any, external: t.Any) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.Dict[str, t.Dict[str, t.Any]]]:
    levels = levels or []
    if not isinstance(levels, list) or len(levels) > len(LEVELS) or not all(isinstance(i, dict) for i in levels):
        raise DeliveryError("airlock_incident_escalation_levels: a list of at most 5 mappings (name, channels) is required")
    if not isinstance(external or {}, dict) or any(key not in EXTERNAL for key in external or {}):
        raise DeliveryError("airlock_incident_escalation_external: accepted keys: %s" % ", ".join(sorted(EXTERNAL)))
    merged = []
    for index, default in enumerate(LEVELS):
        given = levels[index] if index < len(levels) else {}
        merged.append({"name": given.get("name") or default, "channels": list(given.get("channels") or [])})
    teams = {}
    for key, default in EXTERNAL.items():
        given = (external or {}).get(key) or {}
        teams[key] = {"name": given.get("name") or default, "channels": list(given.get("channels") or [])}
    return merged, teams


def escalation_plan(record: Record, now: datetime.datetime, levels: t.Any = None, external: t.Any = None,
                    force: t.Optional[t.Sequence[str]] = None) -> t.Dict[str, t.Any]:
    """The level reached, why, and the escalations not yet recorded (each with its key, contacts and notice)."""
    merged, teams = _contacts(levels, external)
    result: t.Dict[str, t.Any] = {"level": 1, "reasons": [], "external": [], "pending": []}
    if record.get("status") == "RESOLVED" or not record.get("severity"):
        return result
    elapsed = _elapsed(record, now)
    time_level, reasons = _time_level(record, elapsed)
    other_level, other_reasons, external_keys = _other_triggers(record, elapsed)
    external_keys += [key for key in force or [] if key in EXTERNAL]
    level = max(time_level, other_level)
    reasons += other_reasons
    result.update(level=level, reasons=reasons, external=sorted(set(external_keys)))
    done = recorded_keys(record, [ESCALATION_KIND])
    targets = [("level-%d" % number, "level %d (%s)" % (number, merged[number - 1]["name"]),
                merged[number - 1]["channels"]) for number in range(2, level + 1)]
    targets += [(key, teams[key]["name"], teams[key]["channels"]) for key in result["external"]]
    for target, label, channels in targets:
        key = "escalation@%s" % target
        if key in done:
            continue
        result["pending"].append({
            "key": key, "target": target, "label": label, "channels": channels,
            "entry": "[%s] Escalated to %s: %s" % (key, label, "; ".join(reasons) or "requested"),
            "notice": render_escalation(record, label, reasons, now),
        })
    return result


def render_escalation(record: Record, label: str, reasons: t.Sequence[str], now: datetime.datetime) -> str:
    """The escalation notice for ``label`` (a level or an external contact)."""
    comm = record.get("communication") or {}
    iid = record.get("id")
    lines = [
        "Subject: [ESCALATION %s] MCP Airlock Incident - %s" % (record.get("severity"), iid),
        "",
        "The MCP Airlock incident %s is escalated to %s." % (iid, label),
        "",
        "Incident ID: %s" % iid,
        "Severity: %s" % record.get("severity"),
        "Type: %s" % TYPES.get(record.get("type") or "", record.get("type")),
        "Status: %s" % record.get("status"),
        "Started: %s (%s ago)" % (record.get("started_at"), human_interval(max(60, _elapsed(record, now) // 60 * 60))),
        "Incident Commander: %s" % (record.get("commander") or "unassigned"),
        "Root Cause: %s" % (record.get("root_cause") or "not yet identified"),
        "",
        "Why:",
    ]
    lines += ["- %s" % reason for reason in reasons] or ["- requested"]
    lines += [
        "",
        "War Room: %s" % (comm.get("war_room") or "#incident-response-%s" % iid),
        "Bridge: %s" % (comm.get("bridge") or "n/a"),
    ]
    return "\n".join(lines) + "\n"


def _load(item: t.Any) -> t.Tuple[t.Optional[Record], t.Optional[str]]:
    """``(record, None)`` for a record or its JSON text, ``(None, why)`` for a damaged one."""
    if isinstance(item, str):
        try:
            item = json.loads(item)
        except ValueError as exc:
            return None, "not JSON (%s)" % exc
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("timeline", []), list):
        return None, "not an incident record (no id or timeline)"
    return item, None


def _summary(record: Record, update: t.Optional[t.Dict[str, t.Any]], plan: t.Dict[str, t.Any]) -> str:
    parts = []
    if update is not None and update["retry"]:
        parts.append("status update %d (slot %s) retried for %s"
                     % (update["number"], update["slot"], ", ".join(update["retry"])))
    elif update is not None:
        parts.append("status update %d (slot %s)" % (update["number"], update["slot"]))
    if plan["pending"]:
        parts.append("escalation to %s" % ", ".join(item["label"] for item in plan["pending"]))
    return "%s %s %s: %s" % (record["id"], record.get("severity"), record.get("status"), "; ".join(parts))


def communication_due(records: t.Iterable[t.Any], now: datetime.datetime, levels: t.Any = None, external: t.Any = None,
                      force: t.Optional[t.Sequence[str]] = None, runs: int = SLOT_RUNS) -> t.List[t.Dict[str, t.Any]]:
    """For each open incident (a record or its JSON text): the update due (or None) and the pending escalations.

    ``runs``: scheduled runs that may send one slot's update (the first and the retries of channels that failed).
    Incidents with nothing due are left out; a damaged record is reported (``damaged: true``) and skipped.
    """
    due = []
    for index, item in enumerate(records or []):
        record, problem = _load(item)
        if record is None:
            due.append({"id": "record %d" % index, "damaged": True, "summary": "record %d skipped: %s" % (index, problem)})
            continue
        if record.get("status") == "RESOLVED":
            continue
        try:
            update = update_slot(record, now, runs)
            plan = escalation_plan(record, now, levels, external, force)
        except IncidentError as exc:
            due.append({"id": record["id"], "damaged": True, "summary": "%s skipped: %s" % (record["id"], exc)})
            continue
        if update is None and not plan["pending"]:
            continue
        due.append({"id": record["id"], "damaged": False, "severity": record.get("severity"), "type": record.get("type"),
                    "status_update": update, "escalation": plan, "summary": _summary(record, update, plan)})
    return due
