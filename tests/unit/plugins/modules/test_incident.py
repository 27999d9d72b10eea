# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airlock.incident.incident end to end (main()) on real files."""

from __future__ import annotations

import json
import os
import re

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.airlock.incident.plugins.modules import incident

IID = "INC-20261128-160000"


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            incident.main()
    return json.loads(capsys.readouterr().out)


def declare_args(directory, **extra):
    args = {"directory": str(directory), "id": IID, "severity": "P0", "type": "service_outage",
            "title": "Gateway down", "commander": "Jane", "symptoms": ["/ready answers 503"],
            "impact": {"affected_users": "all tenants", "affected_services": ["mcp-airlock"]}}
    args.update(extra)
    return args


def snapshot(directory):
    found = {}
    for root, _dirs, files in os.walk(str(directory)):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[path] = (handle.read(), os.stat(path).st_mtime_ns)
    return found


def test_declare_then_rerun_changes_nothing(tmp_path, capsys):
    result = run_module(capsys, declare_args(tmp_path))
    assert result["changed"] is True and result["created"] is True and result["id"] == IID
    assert result["record_path"] == str(tmp_path / IID / "incident.json")
    assert result["notice_kind"] == "notification"
    assert "Subject: [P0] MCP Airlock Incident - %s" % IID in result["notice"]
    assert json.load(open(result["record_path"])) == result["incident"]
    report = open(result["report_path"]).read()
    assert "# Incident Report: %s" % IID in report and "- /ready answers 503" in report
    assert result["escalation"]["time_based"] is True and result["escalation"]["due"] is False
    assert result["next_update_due"] is not None

    before = snapshot(tmp_path)
    again = run_module(capsys, declare_args(tmp_path))
    assert again["changed"] is False and again["created"] is False
    assert again["notice_kind"] == "none" and again["notice"] == ""
    assert snapshot(tmp_path) == before


def test_check_mode_writes_nothing_and_shows_the_diff(tmp_path, capsys):
    target = tmp_path / "records"
    result = run_module(capsys, declare_args(target, _ansible_check_mode=True, _ansible_diff=True))
    assert result["changed"] is True and result["incident"]["severity"] == "P0"
    assert result["diff"]["before"] == "" and json.loads(result["diff"]["after"])["id"] == IID
    assert not target.exists()

    run_module(capsys, declare_args(target))
    before = snapshot(target)
    result = run_module(capsys, {"directory": str(target), "id": IID, "status": "IDENTIFIED",
                                 "_ansible_check_mode": True, "_ansible_diff": True})
    assert result["changed"] is True and result["incident"]["status"] == "IDENTIFIED"
    assert json.loads(result["diff"]["before"])["status"] == "INVESTIGATING"
    assert snapshot(target) == before


def test_severity_change_updates_and_is_in_the_timeline(tmp_path, capsys):
    run_module(capsys, declare_args(tmp_path))
    result = run_module(capsys, declare_args(tmp_path, severity="P1"))
    assert result["changed"] is True and result["incident"]["severity"] == "P1"
    assert result["incident"]["timeline"][-1]["text"] == "Severity changed from P0 to P1"
    assert result["notice_kind"] == "update"
    assert "**Severity**: P1 - High" in open(result["report_path"]).read()


def test_invalid_transition_names_allowed_states(tmp_path, capsys):
    run_module(capsys, declare_args(tmp_path, status="RESOLVED", resolution="false alarm"))
    before = snapshot(tmp_path)
    result = run_module(capsys, {"directory": str(tmp_path), "id": IID, "status": "MONITORING"})
    assert result["failed"] is True
    assert "RESOLVED, which is terminal" in result["msg"] and "INVESTIGATING, IDENTIFIED, MONITORING" in result["msg"]
    assert snapshot(tmp_path) == before
    reopened = run_module(capsys, {"directory": str(tmp_path), "id": IID, "status": "MONITORING", "reopen": True})
    assert reopened["changed"] is True and reopened["incident"]["reopened_count"] == 1


def test_resolution_notice_and_duration(tmp_path, capsys):
    run_module(capsys, declare_args(tmp_path, started_at="2026-11-28T15:00:00Z"))
    result = run_module(capsys, {"directory": str(tmp_path), "id": IID, "status": "RESOLVED",
                                 "root_cause": "server.addr dropped", "resolution": "restored config",
                                 "preventive_measures": ["merge ConfigMap changes"]})
    record = result["incident"]
    assert record["resolved_at"] is not None and record["duration_seconds"] > 0
    assert result["notice_kind"] == "resolution"
    assert "Subject: [RESOLVED] MCP Airlock Incident - %s" % IID in result["notice"]
    assert re.search(r"^Duration: (\d+d )?\d+h \d+m \d+s$", result["notice"], re.M)
    assert result["next_update_due"] is None and result["escalation"]["due"] is False


@pytest.mark.parametrize("args, message", [
    ({"id": "INC-1"}, "id: invalid value 'INC-1'"),
    ({"id": IID, "severity": "P0"}, "type: required to declare the new incident"),
    ({"id": IID, "severity": "P0", "type": "service_outage", "started_at": "last tuesday"},
     "started_at: invalid value"),
    ({"id": IID, "severity": "P0", "type": "service_outage", "timeline": [{"time": "2026-11-28T16:00:00Z"}]},
     r"timeline[0].text"),
    ({"id": IID, "severity": "P0", "type": "service_outage", "notify": "resolution"}, "needs status RESOLVED"),
    ({"id": IID, "severity": "P5", "type": "service_outage"}, "severity"),
])
def test_bad_input_fails_before_touching_anything(tmp_path, capsys, args, message):
    target = tmp_path / "records"
    args = dict(args, directory=str(target))
    result = run_module(capsys, args)
    assert result["failed"] is True and message in result["msg"]
    assert not target.exists()


def test_omitted_id_generates_then_reuses_the_open_incident(tmp_path, capsys):
    args = declare_args(tmp_path)
    del args["id"]
    first = run_module(capsys, args)
    assert re.match(r"^INC-\d{8}-\d{6}$", first["id"]) and first["id_reused"] is False
    # an AWX rerun of the same declaration task finds it instead of opening a second incident
    rerun = run_module(capsys, args)
    assert rerun["id"] == first["id"] and rerun["id_reused"] is True and rerun["changed"] is False
    assert [name for name in os.listdir(str(tmp_path)) if name.startswith("INC-")] == [first["id"]]


def test_timeline_entries_appended_once(tmp_path, capsys):
    run_module(capsys, declare_args(tmp_path))
    entries = [{"text": "Rolled back ConfigMap", "kind": "action", "actor": "jdoe"},
               {"text": "Paged DB team", "time": "2026-11-28T16:05:00Z"}]
    first = run_module(capsys, {"directory": str(tmp_path), "id": IID, "timeline": entries, "notify": "update"})
    second = run_module(capsys, {"directory": str(tmp_path), "id": IID, "timeline": entries, "notify": "update"})
    assert first["changed"] is True and second["changed"] is False
    assert len(second["incident"]["timeline"]) == len(first["incident"]["timeline"])
    assert "Actions Taken:\n- Rolled back ConfigMap" in second["notice"]


# ---------------------------------------------------------------- links (issue #16)


@pytest.mark.parametrize("name", ["incident.json", "incident.md"])
def test_a_record_file_linked_outside_is_refused_and_its_target_untouched(tmp_path, capsys, name):
    directory = tmp_path / "incidents"
    run_module(capsys, declare_args(directory))
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"precious, not the collection's\n")
    path = directory / IID / name
    path.unlink()
    os.symlink(str(outside), str(path))
    for extra in ({"severity": "P1"}, {"status": "IDENTIFIED"}):
        result = run_module(capsys, declare_args(directory, **extra))
        assert result["failed"] is True and str(path) in result["msg"] and "symbolic link" in result["msg"]
        assert outside.read_bytes() == b"precious, not the collection's\n"
        assert os.path.islink(str(path))


def test_a_dangling_lock_link_is_refused_and_its_target_not_created(tmp_path, capsys):
    directory = tmp_path / "incidents"
    os.makedirs(str(directory / IID))
    target = tmp_path / "created-through-the-lock"
    os.symlink(str(target), str(directory / IID / ".incident.lock"))
    result = run_module(capsys, declare_args(directory))
    assert result["failed"] is True and ".incident.lock" in result["msg"] and "symbolic link" in result["msg"]
    assert not os.path.lexists(str(target))
    assert os.listdir(str(directory / IID)) == [".incident.lock"]


def test_an_incident_directory_that_is_a_link_is_refused(tmp_path, capsys):
    directory = tmp_path / "incidents"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    directory.mkdir()
    os.symlink(str(elsewhere), str(directory / IID))
    result = run_module(capsys, declare_args(directory))
    assert result["failed"] is True and IID in result["msg"] and "symbolic link" in result["msg"]
    assert os.listdir(str(elsewhere)) == []


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_directory_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch, value):
    monkeypatch.chdir(str(tmp_path))
    result = run_module(capsys, declare_args(value))
    assert result["failed"] is True and result["msg"].startswith("directory: invalid value")
    assert "accepted values" in result["msg"]
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("bad_id", ["INC-\u0662\u0660\u0662\u0666\u0661\u0661\u0662\u0668-160000",
                                    "INC-20261128-16000\uff10"])
def test_non_ascii_digits_are_refused_in_the_id(tmp_path, capsys, bad_id):
    result = run_module(capsys, declare_args(tmp_path / "incidents", id=bad_id))
    assert result["failed"] is True and result["msg"].startswith("id: invalid value")
    assert not os.path.exists(str(tmp_path / "incidents"))
