# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The incident record model, its storage, and its renderings."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import threading

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.incident import model, render, store

T0 = datetime.datetime(2026, 11, 28, 16, 0, 0, tzinfo=datetime.timezone.utc)


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


def declare(**extra):
    changes = {"severity": "P0", "type": "service_outage", "title": "Gateway down", "commander": "Jane"}
    changes.update(extra)
    return model.apply_changes(None, changes, T0, "INC-20261128-160000")


# ---------------------------------------------------------------------------
# ids, severities, transitions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["INC-20261128-160000", "INC-20261128-160000-eu1", "INC-20261128-160000-A"])
def test_valid_ids(value):
    assert model.validate_id(value) == value


@pytest.mark.parametrize("value", ["INC-2026112-160000", "inc-20261128-160000", "INC-20261128-160000-",
                                   "INC-20261128-160000-a_b", "INC-20261128-160000/../x", "", None,
                                   "INC-20261128-160000\n"])
def test_invalid_ids_name_the_field_and_format(value):
    with pytest.raises(model.IncidentError, match=r"^id: invalid value .*INC-YYYYMMDD-HHMMSS"):
        model.validate_id(value)


def test_generated_id_is_utc_at_declaration():
    local = T0.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert model.generate_id(local) == "INC-20261128-160000"


def test_severity_table_matches_the_playbook():
    expected = {"P0": (15 * 60, 15 * 60, 3600), "P1": (3600, 30 * 60, 4 * 3600),
                "P2": (4 * 3600, 2 * 3600, None), "P3": (24 * 3600, 24 * 3600, None)}
    for code, (response, update, escalate) in expected.items():
        sev = model.SEVERITIES[code]
        assert (sev["response_seconds"], sev["update_seconds"], sev["escalate_after_seconds"]) == (
            response, update, escalate)


TRANSITION_TABLE = [
    ("INVESTIGATING", "IDENTIFIED", False, True),
    ("INVESTIGATING", "MONITORING", False, True),   # skipping forward is allowed
    ("INVESTIGATING", "RESOLVED", False, True),     # false alarm
    ("IDENTIFIED", "MONITORING", False, True),
    ("IDENTIFIED", "INVESTIGATING", False, True),   # wrong root cause
    ("MONITORING", "RESOLVED", False, True),
    ("MONITORING", "IDENTIFIED", False, True),      # fix did not hold
    ("RESOLVED", "INVESTIGATING", False, False),    # terminal
    ("RESOLVED", "MONITORING", False, False),
    ("RESOLVED", "INVESTIGATING", True, True),      # explicit reopen
    ("RESOLVED", "MONITORING", True, True),
    ("RESOLVED", "RESOLVED", False, True),          # no change
]


@pytest.mark.parametrize("current, target, reopen, allowed", TRANSITION_TABLE)
def test_transition_table(current, target, reopen, allowed):
    if allowed:
        model.check_transition(current, target, reopen)
    else:
        with pytest.raises(model.IncidentError, match="status: .*reopen=true .*INVESTIGATING, IDENTIFIED, MONITORING"):
            model.check_transition(current, target, reopen)


def test_unknown_status_lists_accepted_values():
    with pytest.raises(model.IncidentError, match="status: invalid value 'DONE'; accepted values: INVESTIGATING"):
        model.check_transition("INVESTIGATING", "DONE")


# ---------------------------------------------------------------------------
# record changes
# ---------------------------------------------------------------------------


def test_declaration_record():
    record = declare(symptoms=["/ready 503"], started_at="2026-11-28T15:50:00Z")
    assert record["status"] == "INVESTIGATING" and record["severity"] == "P0"
    assert record["started_at"] == "2026-11-28T15:50:00Z" and record["declared_at"] == "2026-11-28T16:00:00Z"
    assert [e["kind"] for e in record["timeline"]] == ["detected", "declared"]
    assert record["updated_at"] == "2026-11-28T16:00:00Z"


def test_declaration_needs_severity_and_type():
    with pytest.raises(model.IncidentError, match="severity and type: required to declare"):
        model.apply_changes(None, {"title": "x"}, T0, "INC-20261128-160000")


def test_future_start_is_refused():
    with pytest.raises(model.IncidentError, match="started_at: .* is in the future"):
        declare(started_at="2026-11-28T17:00:00Z")


def test_same_input_twice_changes_nothing():
    record = declare()
    again = model.apply_changes(record, {"severity": "P0", "type": "service_outage", "title": "Gateway down",
                                         "commander": "Jane", "timeline": [{"text": "Paged on-call"}]}, at(5))
    third = model.apply_changes(again, {"severity": "P0", "timeline": [{"text": "Paged on-call"}]}, at(9))
    assert not model.record_changed(again, third)
    assert third == again


def test_severity_change_is_recorded_in_the_timeline():
    record = model.apply_changes(declare(), {"severity": "P1"}, at(10))
    assert record["severity"] == "P1"
    assert record["timeline"][-1]["text"] == "Severity changed from P0 to P1"
    assert record["updated_at"] == "2026-11-28T16:10:00Z"


def test_resolution_records_time_and_duration():
    record = declare(started_at="2026-11-28T15:30:00Z")
    record = model.apply_changes(record, {"status": "RESOLVED", "resolution": "rolled back"}, at(45))
    assert record["resolved_at"] == "2026-11-28T16:45:00Z"
    assert record["duration_seconds"] == 75 * 60
    assert record["timeline"][-1]["text"] == "Incident resolved after 1h 15m 0s"


def test_reopen_clears_resolution_and_counts():
    record = model.apply_changes(declare(), {"status": "RESOLVED"}, at(20))
    with pytest.raises(model.IncidentError):
        model.apply_changes(record, {"status": "INVESTIGATING"}, at(30))
    reopened = model.apply_changes(record, {"status": "INVESTIGATING", "reopen": True}, at(30))
    assert reopened["resolved_at"] is None and reopened["duration_seconds"] is None
    assert reopened["reopened_count"] == 1


def test_lists_only_grow_and_impact_merges():
    record = declare(impact={"affected_users": "all", "affected_services": ["mcp"]})
    record = model.apply_changes(record, {"symptoms": ["a", "b"], "impact": {"affected_services": ["mcp", "idp"]}},
                                 at(1))
    record = model.apply_changes(record, {"symptoms": ["b", "c"]}, at(2))
    assert record["symptoms"] == ["a", "b", "c"]
    assert record["impact"] == {"affected_users": "all", "affected_services": ["mcp", "idp"],
                                "business_impact": None}


# ---------------------------------------------------------------------------
# timeline merge
# ---------------------------------------------------------------------------


def test_timeline_merge_is_idempotent_and_sorted():
    entries = [{"text": "restart", "time": "2026-11-28T16:05:00Z", "kind": "action", "actor": "jdoe"},
               {"text": "paged", "time": "2026-11-28T17:02:00+01:00"},
               {"text": "no time given"}]
    merged, added = model.merge_timeline([], entries, at(10))
    assert len(added) == 3
    assert [e["time"] for e in merged] == ["2026-11-28T16:02:00Z", "2026-11-28T16:05:00Z", "2026-11-28T16:10:00Z"]
    again, added_again = model.merge_timeline(merged, entries, at(20))
    assert added_again == [] and again == merged


def test_timeline_same_text_at_another_time_is_a_new_entry():
    merged, _added = model.merge_timeline([], [{"text": "retry", "time": "2026-11-28T16:00:00Z"}], T0)
    merged, added = model.merge_timeline(merged, [{"text": "retry", "time": "2026-11-28T16:01:00Z"}], T0)
    assert len(added) == 1 and len(merged) == 2


@pytest.mark.parametrize("entry, message", [
    ({"time": "2026-11-28T16:00:00Z"}, r"timeline\[0\]\.text"),
    ({"text": "x", "time": "yesterday"}, r"timeline\[0\]\.time: invalid value"),
    ({"text": "x", "when": "now"}, "unknown keys when"),
    (42, "each entry must be a mapping"),
])
def test_bad_timeline_entries(entry, message):
    with pytest.raises(model.IncidentError, match=message):
        model.merge_timeline([], [entry], T0)


# ---------------------------------------------------------------------------
# cadence and escalation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("severity, due", [("P0", "2026-11-28T16:15:00Z"), ("P1", "2026-11-28T16:30:00Z"),
                                           ("P2", "2026-11-28T18:00:00Z"), ("P3", "2026-11-29T16:00:00Z")])
def test_next_update_cadence(severity, due):
    record = declare(severity=severity)
    assert model.next_update(record, at(1)) == (due, False)


def test_overdue_update():
    record = declare()
    assert model.next_update(record, at(20)) == ("2026-11-28T16:35:00Z", True)
    resolved = model.apply_changes(record, {"status": "RESOLVED"}, at(20))
    assert model.next_update(resolved, at(40)) == (None, False)


def test_escalation_p0_after_one_hour_p1_after_four():
    p0 = declare()
    assert model.escalation(p0, at(59))["due"] is False
    esc = model.escalation(p0, at(61))
    assert esc["due"] is True and esc["due_at"] == "2026-11-28T17:00:00Z" and esc["overdue_seconds"] == 60
    assert esc["reason"] == "P0 unresolved for more than 1 hour: escalate to the next level"
    p1 = declare(severity="P1", type="security_incident")
    assert model.escalation(p1, at(239))["due"] is False and model.escalation(p1, at(240))["due"] is True
    assert "more than 4 hours" in model.escalation(p1, at(240))["reason"]
    assert model.escalation(p1, at(1))["external"] == ["Security Team"]
    p2 = declare(severity="P2")
    assert model.escalation(p2, at(10000))["time_based"] is False
    resolved = model.apply_changes(p0, {"status": "RESOLVED"}, at(30))
    assert model.escalation(resolved, at(600))["due"] is False


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------


def test_markdown_has_the_template_sections():
    record = declare(symptoms=["/ready answers 503"], impact={"affected_users": "all tenants",
                                                              "affected_services": ["mcp-airlock"],
                                                              "business_impact": "assistants offline"})
    text = render.render_markdown(record)
    for needle in ("# Incident Report: INC-20261128-160000", "**Severity**: P0 - Critical",
                   "**Type**: Service Outage", "**Start Time**: 2026-11-28T16:00:00Z",
                   "**Incident Commander**: Jane", "**Status**: INVESTIGATING", "## Initial Symptoms",
                   "- /ready answers 503", "## Impact Assessment", "- Affected Users: all tenants",
                   "- Affected Services: mcp-airlock", "- Business Impact: assistants offline", "## Timeline",
                   "- 2026-11-28T16:00:00Z: Incident declared: P0 Service Outage, commander Jane (declared)",
                   "## Root Cause", "## Resolution", "## Preventive Measures"):
        assert needle in text, needle


def test_notification_uses_the_severity_cadence():
    text = render.render_notice("notification", declare(), T0)
    assert text.startswith("Subject: [P0] MCP Airlock Incident - INC-20261128-160000\n")
    assert "We will provide updates every 15 minutes until resolved." in text
    assert "Current Status: INVESTIGATING" in text and "Incident Commander: Jane" in text
    p1 = render.render_notice("notification", declare(severity="P1"), T0)
    assert "every 30 minutes" in p1
    assert "every day until resolved" in render.render_notice("notification", declare(severity="P3"), T0)
    assert "every 2 hours until resolved" in render.render_notice("notification", declare(severity="P2"), T0)


def test_internal_notification():
    text = render.render_notice("internal", declare(communication={"war_room": "#inc-1"}), T0)
    assert "Severity: P0" in text and "Type: Service Outage" in text and "War Room: #inc-1" in text
    assert "All hands on deck for P0/P1 incidents." in text
    p3 = render.render_notice("internal", declare(severity="P3"), T0)
    assert "All hands" not in p3 and "War Room: #incident-response-INC-20261128-160000" in p3


def test_status_update_lists_actions_and_next_update():
    record = model.apply_changes(declare(), {"status": "IDENTIFIED", "timeline": [
        {"text": "Rolled back ConfigMap", "kind": "action"}], "communication": {"next_steps": ["watch"]}}, at(5))
    text = render.render_notice("update", record, at(5))
    assert "Subject: [UPDATE] MCP Airlock Incident - INC-20261128-160000" in text
    assert "Status: IDENTIFIED" in text and "Next Update: 2026-11-28T16:20:00Z" in text
    assert "Actions Taken:\n- Rolled back ConfigMap" in text and "Next Steps:\n- watch" in text


def test_resolution_notice_has_duration():
    record = declare(started_at="2026-11-28T14:58:30Z")
    record = model.apply_changes(record, {"status": "RESOLVED", "root_cause": "server.addr dropped",
                                          "resolution": "restored config", "preventive_measures": ["merge patches"]},
                                 at(60))
    text = render.render_notice("resolution", record, at(60))
    assert "Subject: [RESOLVED] MCP Airlock Incident - INC-20261128-160000" in text
    assert "Resolution Time: 2026-11-28T17:00:00Z" in text
    assert "Duration: 2h 1m 30s" in text
    assert "Root Cause:\n- server.addr dropped" in text and "Preventive Measures:\n- merge patches" in text
    with pytest.raises(model.IncidentError, match="needs status RESOLVED"):
        render.render_notice("resolution", declare(), T0)


def test_format_duration():
    assert model.format_duration(0) == "0s"
    assert model.format_duration(3600) == "1h 0m 0s"
    assert model.format_duration(90061) == "1d 1h 1m 1s"


# ---------------------------------------------------------------------------
# storage: atomic writes, locking, concurrency
# ---------------------------------------------------------------------------


def test_update_incident_writes_then_leaves_files_alone(tmp_path):
    changes = {"severity": "P1", "type": "policy_failures"}
    before, after, written, _pending = store.update_incident(str(tmp_path), "INC-20261128-160000", changes, now=T0)
    paths = store.record_paths(str(tmp_path), "INC-20261128-160000")
    assert before is None and sorted(written) == sorted([paths["record"], paths["report"]])
    assert json.load(open(paths["record"])) == after
    mtimes = (os.stat(paths["record"]).st_mtime_ns, os.stat(paths["report"]).st_mtime_ns)
    _b, _a, written, pending = store.update_incident(str(tmp_path), "INC-20261128-160000", changes, now=at(3))
    assert written == [] and pending is False
    assert (os.stat(paths["record"]).st_mtime_ns, os.stat(paths["report"]).st_mtime_ns) == mtimes


def test_check_mode_creates_nothing(tmp_path):
    target = tmp_path / "records"
    _b, after, written, pending = store.update_incident(str(target), "INC-20261128-160000",
                                                        {"severity": "P0", "type": "data_issues"}, now=T0,
                                                        check_mode=True)
    assert after["type"] == "data_issues" and written == [] and pending is True
    assert not target.exists()


def test_invalid_existing_record_is_never_overwritten(tmp_path):
    paths = store.record_paths(str(tmp_path), "INC-20261128-160000")
    os.makedirs(paths["dir"])
    with open(paths["record"], "w") as handle:
        handle.write("{broken")
    with pytest.raises(model.IncidentError, match="not a valid incident record"):
        store.update_incident(str(tmp_path), "INC-20261128-160000", {"severity": "P0"}, now=T0)
    assert open(paths["record"]).read() == "{broken"


def test_atomic_write_never_leaves_a_partial_file(tmp_path):
    target = str(tmp_path / "incident.json")
    store.atomic_write(target, "old content\n")

    class Boom(Exception):
        pass

    original = os.fsync

    def failing_fsync(fd):
        raise Boom()

    os.fsync = failing_fsync
    try:
        with pytest.raises(Boom):
            store.atomic_write(target, "new content that never lands\n" * 1000)
    finally:
        os.fsync = original
    assert open(target).read() == "old content\n"
    assert sorted(os.listdir(str(tmp_path))) == ["incident.json"], "temporary file left behind"


def test_readers_never_see_partial_records(tmp_path):
    target = str(tmp_path / "incident.json")
    big = [json.dumps({"n": i, "pad": "x" * 200000}) for i in range(2)]
    store.atomic_write(target, big[0])
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            text = open(target).read()
            try:
                json.loads(text)
            except ValueError:
                bad.append(len(text))

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(30):
        store.atomic_write(target, big[i % 2])
    stop.set()
    thread.join()
    assert bad == []


def _append_worker(args):
    directory, worker, count = args
    for i in range(count):
        store.update_incident(directory, "INC-20261128-160000",
                              {"timeline": [{"text": "worker %d entry %d" % (worker, i), "kind": "action"}]})
    return worker


def test_concurrent_writers_lose_no_entry(tmp_path):
    directory = str(tmp_path)
    store.update_incident(directory, "INC-20261128-160000", {"severity": "P0", "type": "service_outage"}, now=T0)
    workers, per_worker = 4, 15
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        pool.map(_append_worker, [(directory, w, per_worker) for w in range(workers)])
    threads = [threading.Thread(target=_append_worker, args=((directory, 100 + w, 10),)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = store.load_record(store.record_paths(directory, "INC-20261128-160000")["record"])
    texts = set(e["text"] for e in record["timeline"])
    expected = set("worker %d entry %d" % (w, i) for w in range(workers) for i in range(per_worker))
    expected |= set("worker %d entry %d" % (w, i) for w in range(100, 103) for i in range(10))
    assert expected <= texts
    assert len(record["timeline"]) == len(expected) + 1  # + the declaration


def test_resolve_id_reuses_open_incident_with_same_title(tmp_path):
    directory = str(tmp_path)
    first, reused = store.resolve_id(directory, T0, "Gateway down", "service_outage")
    assert (first, reused) == ("INC-20261128-160000", False)
    store.update_incident(directory, first, {"severity": "P0", "type": "service_outage", "title": "Gateway down"},
                          now=T0)
    assert store.resolve_id(directory, at(5), "Gateway down", "service_outage") == (first, True)
    # same second, no title match: a suffixed id, never the taken one
    second, reused = store.resolve_id(directory, T0, None)
    assert (second, reused) == ("INC-20261128-160000-2", False)
    store.update_incident(directory, first, {"status": "RESOLVED"}, now=at(10))
    assert store.resolve_id(directory, at(11), "Gateway down")[1] is False
