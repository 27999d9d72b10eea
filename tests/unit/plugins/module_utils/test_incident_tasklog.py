# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The task log of the timeline callback: entries, the incident a result names, appending to a real record."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.incident import model, store, tasklog

T0 = datetime.datetime(2026, 11, 28, 16, 0, 0, tzinfo=datetime.timezone.utc)


def test_task_entry():
    entry = tasklog.task_entry("Restart  the\nservice", "gw1", "changed", T0, 2.345)
    assert entry == {"time": "2026-11-28T16:00:00Z", "kind": "task", "actor": "ansible",
                     "text": "Task Restart the service on gw1: changed (2.3 s)"}
    with pytest.raises(ValueError, match="accepted values: ok, changed, failed, unreachable"):
        tasklog.task_entry("x", "h", "skipped", T0, 0)


def test_incident_of_needs_a_record_path_matching_the_id():
    assert tasklog.incident_of({"id": "INC-1", "record_path": "/srv/inc/INC-1/incident.json"}) == ("/srv/inc", "INC-1")
    assert tasklog.incident_of({"id": "INC-1", "record_path": "/srv/inc/INC-2/incident.json"}) is None
    assert tasklog.incident_of({"changed": True}) is None


def test_append_merges_into_the_record_and_reruns_add_nothing(tmp_path):
    directory = str(tmp_path)
    store.update_incident(directory, "INC-20261128-160000", {"severity": "P1", "type": "service_outage"}, now=T0)
    entries = [tasklog.task_entry("Probe", "localhost", "ok", T0, 0.2),
               tasklog.task_entry("Restart", "localhost", "failed", T0 + datetime.timedelta(seconds=5), 1)]
    assert tasklog.append(directory, "INC-20261128-160000", entries, now=T0 + datetime.timedelta(seconds=9)) == 2
    assert tasklog.append(directory, "INC-20261128-160000", entries, now=T0 + datetime.timedelta(seconds=9)) == 0
    with open(os.path.join(directory, "INC-20261128-160000", "incident.json")) as handle:
        record = json.load(handle)
    assert [e["text"] for e in record["timeline"] if e["kind"] == "task"] == [
        "Task Probe on localhost: ok (0.2 s)", "Task Restart on localhost: failed (1.0 s)"]
    with open(os.path.join(directory, "INC-20261128-160000", "incident.md")) as handle:
        assert "Task Restart on localhost: failed (1.0 s) (task, ansible)" in handle.read()


def test_append_never_declares(tmp_path):
    with pytest.raises(model.IncidentError, match="required to declare"):
        tasklog.append(str(tmp_path), "INC-20261128-160000", [tasklog.task_entry("x", "h", "ok", T0, 0)])
    assert os.listdir(str(tmp_path)) == []
