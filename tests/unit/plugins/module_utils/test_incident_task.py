# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What airlock.incident.incident does (incident/task.py), without a module, at a fixed time."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.incident import task
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import IncidentError

T0 = datetime.datetime(2026, 11, 28, 16, 0, 0, tzinfo=datetime.timezone.utc)
IID = "INC-20261128-160000"


def params(directory, **extra):
    base = dict((key, None) for key in task.CHANGE_KEYS)
    base.update(directory=str(directory), id=IID, reopen=False, notify="auto", severity="P0", type="service_outage",
                title="Gateway down")
    base.update(extra)
    return base


@pytest.mark.parametrize("extra, message", [
    ({"id": "INC-1"}, "id: invalid value 'INC-1'"),
    ({"started_at": "last tuesday"}, "started_at: invalid value"),
    ({"timeline": [{"time": "2026-11-28T16:00:00Z"}]}, "timeline[0].text"),
])
def test_precheck_refuses_naming_the_field(tmp_path, extra, message):
    with pytest.raises(IncidentError) as info:
        task.precheck(params(tmp_path, **extra))
    assert message in info.value.msg


def test_precheck_accepts_good_input(tmp_path):
    task.precheck(params(tmp_path, id=None, started_at="2026-11-28T15:00:00Z",
                         timeline=[{"text": "paged", "time": "2026-11-28T16:00:00Z"}]))


def test_check_new_needs_severity_and_type_to_declare(tmp_path):
    with pytest.raises(IncidentError) as info:
        task.check_new(params(tmp_path, severity=None, type=None), None, "a new incident")
    assert info.value.msg.startswith("severity and type: required to declare a new incident; severity accepts P0, "
                                     "P1, P2, P3 and type accepts service_outage, ")
    task.check_new(params(tmp_path, severity=None, type=None), {"status": "INVESTIGATING"}, "a new incident")


def test_check_new_refuses_a_resolution_notice_of_an_open_incident(tmp_path):
    with pytest.raises(IncidentError) as info:
        task.check_new(params(tmp_path, notify="resolution"), {"status": "MONITORING"}, "x")
    assert info.value.msg == ("notify: a resolution notice needs status RESOLVED (the incident would be MONITORING); "
                              "set status: RESOLVED or choose notify: update")
    task.check_new(params(tmp_path, notify="resolution"), {"status": "RESOLVED"}, "x")
    task.check_new(params(tmp_path, notify="resolution", status="RESOLVED", resolution="done"), None, "x")


@pytest.mark.parametrize("check_mode, before, changed, expected", [
    (False, None, True, "declared incident %s (P0 service_outage)" % IID),
    (True, None, True, "would declare incident %s (P0 service_outage)" % IID),
    (False, {}, False, "incident %s is up to date (status IDENTIFIED); nothing to do" % IID),
    (False, {}, True, "updated incident %s (status IDENTIFIED)" % IID),
    (True, {}, True, "would update incident %s (status IDENTIFIED)" % IID),
])
def test_message(check_mode, before, changed, expected):
    after = {"severity": "P0", "type": "service_outage", "status": "IDENTIFIED"}
    assert task.message(check_mode, IID, before, after, changed) == expected


def test_run_declares_then_finds_nothing_to_do(tmp_path):
    result = task.run(params(tmp_path), False, now=T0)
    assert result["changed"] is True and result["created"] is True and result["id"] == IID
    assert result["msg"] == "declared incident %s (P0 service_outage)" % IID and "diff" not in result
    assert json.load(open(result["record_path"])) == result["incident"]
    assert result["incident"]["declared_at"] == "2026-11-28T16:00:00Z"
    again = task.run(params(tmp_path), False, diff=True, now=T0)
    assert again["changed"] is False and again["notice_kind"] == "none"
    assert again["diff"]["before"] == again["diff"]["after"] and again["diff"]["before_header"] == result["record_path"]


def test_run_in_check_mode_writes_nothing(tmp_path):
    target = tmp_path / "records"
    result = task.run(params(target), True, diff=True, now=T0)
    assert result["changed"] is True and result["msg"].startswith("would declare")
    assert result["diff"]["before"] == "" and json.loads(result["diff"]["after"])["id"] == IID
    assert not target.exists()


def test_run_without_an_id_generates_it_from_the_time_then_reuses_it(tmp_path):
    first = task.run(params(tmp_path, id=None), False, now=T0)
    assert first["id"] == IID and first["id_reused"] is False
    later = T0 + datetime.timedelta(minutes=5)
    rerun = task.run(params(tmp_path, id=None), False, now=later)
    assert rerun["id"] == IID and rerun["id_reused"] is True and rerun["changed"] is False
    assert [name for name in os.listdir(str(tmp_path)) if name.startswith("INC-")] == [IID]


def test_run_refuses_before_writing(tmp_path):
    target = tmp_path / "records"
    with pytest.raises(IncidentError, match="^type: required to declare the new incident %s" % IID):
        task.run(params(target, type=None), False, now=T0)
    with pytest.raises(IncidentError, match="^severity: required to declare a new incident"):
        task.run(params(target, id=None, severity=None), False, now=T0)
    assert not target.exists()


def test_run_turns_io_errors_into_incident_errors(tmp_path, monkeypatch):
    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(task, "update_incident", disk_full)
    with pytest.raises(IncidentError) as info:
        task.run(params(tmp_path), False, now=T0)
    assert info.value.msg == "incident record I/O error: [Errno 28] No space left on device"
    assert isinstance(info.value.__cause__, OSError)
