# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters the notify role calls: refusals become filter errors naming the field."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.filter.communication_due import communication_due
from ansible_collections.airlock.incident.plugins.filter.notify_outcomes import notify_outcomes
from ansible_collections.airlock.incident.plugins.filter.notify_plan import notify_plan

RECORD = {"id": "INC-20261128-160000", "severity": "P1", "type": "service_outage", "status": "INVESTIGATING",
          "started_at": "2026-11-28T16:00:00Z", "declared_at": "2026-11-28T16:00:00Z", "root_cause": "known",
          "impact": {}, "timeline": []}


def test_notify_plan_names_a_bad_channel_and_refuses_a_bad_kind():
    plan = notify_plan([{"name": "x", "type": "fax"}], kind="notification", key="notification", text="t",
                       incident_id="INC-1")
    assert plan["send"] == [] and plan["problems"][0].startswith("airlock_incident_notify_channels[0] (x).type")
    with pytest.raises(AnsibleFilterError, match=r"notify_plan: airlock_incident_notify_kind: invalid value 'fax'"):
        notify_plan([], kind="fax", key="k", text="t", incident_id="INC-1")


def test_notify_plan_and_outcomes_round_trip():
    plan = notify_plan([{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:1/x"}], kind="update",
                       key="update@x", text="Subject: s\n\nbody\n", incident_id="INC-1", record=None, only=None)
    entries = notify_outcomes([{"item": plan["send"][0]}], plan=plan)
    assert entries == [{"text": "[update@x] delivered to hook (webhook)", "kind": "delivery"}]
    with pytest.raises(AnsibleFilterError, match="plan must be"):
        notify_outcomes([], plan={})


def test_communication_due_reads_json_text_and_refuses_a_bad_time():
    due = communication_due([json.dumps(RECORD)], now="2026-11-28T16:31:00Z")
    assert due[0]["status_update"]["key"] == "update@2026-11-28T16:30:00Z"
    assert communication_due([json.dumps(RECORD)], now="2026-11-28T16:29:00Z") == []
    with pytest.raises(AnsibleFilterError, match="now: invalid value"):
        communication_due([RECORD], now="soon")


@pytest.mark.parametrize("runs", [0, -1, "two", True])
def test_communication_due_refuses_runs_that_are_not_a_positive_count(runs):
    with pytest.raises(AnsibleFilterError, match="runs: invalid value"):
        communication_due([RECORD], now="2026-11-28T16:31:00Z", runs=runs)
