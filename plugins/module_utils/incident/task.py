# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What ``airlock.incident.incident`` does: declare or update one incident record and say so.

Everything that can be refused is refused before the file system is touched
(:func:`precheck`, :func:`check_new`); the record is then changed under its
lock (:func:`.store.update_incident`) and the result carries the record, the
notice to send and the update and escalation schedule (:func:`finish`).
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.incident.model import (
    IncidentError,
    Record,
    escalation,
    next_update,
    normalize_entry,
    parse_time,
    record_changed,
    utcnow,
    validate_id,
)
from ansible_collections.airlock.incident.plugins.module_utils.incident.render import auto_notice_kind, render_notice
from ansible_collections.airlock.incident.plugins.module_utils.incident.series import add_series, normalize
from ansible_collections.airlock.incident.plugins.module_utils.incident.store import (
    check_directory,
    directory_lock,
    dump_record,
    load_record,
    record_paths,
    resolve_id,
    update_incident,
)

#: The options that change the record (passed to :func:`.store.update_incident`).
CHANGE_KEYS = ("severity", "type", "status", "commander", "title", "started_at", "symptoms", "impact", "timeline",
               "root_cause", "resolution", "preventive_measures", "communication", "reopen")

Outcome = t.Tuple[t.Optional[Record], Record, t.List[str], bool]


def precheck(params: t.Mapping[str, t.Any]) -> None:
    """Validate everything that can be checked before touching the file system."""
    check_directory(params["directory"])
    if params["id"] is not None:
        validate_id(params["id"])
    if params["started_at"]:
        parse_time(params["started_at"], "started_at")
    for index, entry in enumerate(params["timeline"] or []):
        normalize_entry(entry, index)
    if params.get("series") is not None:
        normalize(params["series"])


def check_new(params: t.Mapping[str, t.Any], existing: t.Optional[Record], what: str) -> None:
    """Refuse, before anything is written, input that cannot declare or notify."""
    if existing is None:
        missing = [name for name in ("severity", "type") if params[name] is None]
        if missing:
            raise IncidentError("%s: required to declare %s; severity accepts P0, P1, P2, P3 and type accepts "
                                "service_outage, security_incident, performance_degradation, "
                                "authentication_issues, policy_failures, data_issues"
                                % (" and ".join(missing), what))
    if params["notify"] == "resolution":
        status = params["status"] or (existing or {}).get("status") or "INVESTIGATING"
        if status != "RESOLVED":
            raise IncidentError("notify: a resolution notice needs status RESOLVED (the incident would be %s); "
                                "set status: RESOLVED or choose notify: update" % status)


def message(check_mode: bool, incident_id: str, before: t.Optional[Record], after: Record, changed: bool) -> str:
    """The human sentence of the result."""
    if before is None:
        verb = "would declare" if check_mode else "declared"
        return "%s incident %s (%s %s)" % (verb, incident_id, after.get("severity"), after.get("type"))
    if not changed:
        return "incident %s is up to date (status %s); nothing to do" % (incident_id, after.get("status"))
    verb = "would update" if check_mode else "updated"
    return "%s incident %s (status %s)" % (verb, incident_id, after.get("status"))


def finish(params: t.Mapping[str, t.Any], check_mode: bool, diff: bool, now: datetime.datetime, incident_id: str,
           id_reused: bool, outcome: Outcome) -> t.Dict[str, t.Any]:
    """The module result for ``outcome`` (of :func:`.store.update_incident`); ``diff`` adds the record's diff."""
    before, after, _written, report_pending = outcome
    paths = record_paths(params["directory"], incident_id)
    changed = record_changed(before, after) or report_pending
    series = None
    if params.get("series") is not None:
        series = add_series(params["directory"], incident_id, params["series"], check_mode=check_mode)
        changed = changed or series["changed"]
    kind = params["notify"]
    if kind == "auto":
        kind = auto_notice_kind(before, after)
    notice = "" if kind == "none" else render_notice(kind, after, now)
    due, overdue = next_update(after, now)
    result = dict(
        changed=changed,
        id=incident_id,
        id_reused=id_reused,
        created=before is None,
        incident=after,
        record_path=paths["record"],
        report_path=paths["report"],
        notice_kind=kind,
        notice=notice,
        next_update_due=due,
        update_overdue=overdue,
        escalation=escalation(after, now),
        series_path=series["path"] if series else None,
        series_added=series["added"] if series else 0,
        msg=message(check_mode, incident_id, before, after, changed),
    )
    if diff:
        result["diff"] = dict(
            before="" if before is None else dump_record(before),
            after=dump_record(after),
            before_header=paths["record"],
            after_header=paths["record"],
        )
    return result


def _run(params: t.Mapping[str, t.Any], check_mode: bool, diff: bool, now: datetime.datetime) -> t.Dict[str, t.Any]:
    directory = params["directory"]
    changes = dict((key, params[key]) for key in CHANGE_KEYS)
    precheck(params)

    incident_id = params["id"]
    id_reused = False
    if incident_id is None:
        # Decide without writing anything whether this declares a new incident, to refuse bad input first.
        candidate, would_reuse = resolve_id(directory, now, params["title"], params["type"], check_mode=True)
        existing = load_record(record_paths(directory, candidate)["record"]) if would_reuse else None
        check_new(params, existing, "a new incident")
        if check_mode:
            incident_id, id_reused = resolve_id(directory, now, params["title"], params["type"], check_mode=True)
        else:
            with directory_lock(directory):
                incident_id, id_reused = resolve_id(directory, now, params["title"], params["type"])
                if not id_reused:
                    # Declare while holding the directory lock, so a concurrent rerun finds this title.
                    return finish(params, check_mode, diff, now, incident_id, id_reused,
                                  update_incident(directory, incident_id, changes, now=now))
    else:
        paths = record_paths(directory, incident_id)
        existing = load_record(paths["record"])
        check_new(params, existing, "the new incident %s (no record at %s)" % (incident_id, paths["record"]))
    outcome = update_incident(directory, incident_id, changes, now=now, check_mode=check_mode)
    return finish(params, check_mode, diff, now, incident_id, id_reused, outcome)


def run(params: t.Mapping[str, t.Any], check_mode: bool, diff: bool = False,
        now: t.Optional[datetime.datetime] = None) -> t.Dict[str, t.Any]:
    """Declare or update the incident the module's ``params`` describe; the module result.

    Without ``params["id"]`` an id is generated, or the open incident with the same title and type is reused
    (an AWX rerun of a declaration finds its incident). I/O errors become IncidentError with the cause chained.
    """
    try:
        return _run(params, check_mode, diff, now or utcnow())
    except (IOError, OSError) as exc:
        raise IncidentError("incident record I/O error: %s" % exc) from exc
