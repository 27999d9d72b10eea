# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.airlock.incident.plugins.filter.review import review


def _record(**extra):
    record = {
        "id": "INC-20261128-100000",
        "severity": "P0",
        "started_at": "2026-11-28T10:00:00Z",
        "declared_at": "2026-11-28T10:04:10Z",
        "resolved_at": "2026-11-28T11:30:00Z",
        "timeline": [
            {"time": "2026-11-28T10:20:00Z", "kind": "action", "text": "Restarted the service"},
            {"time": "2026-11-28T10:04:10Z", "kind": "declared", "text": "Incident declared"},
            {"time": "2026-11-28T10:10:00Z", "kind": "status", "text": "INVESTIGATING to IDENTIFIED"},
            {"time": "2026-11-28T10:45:00Z", "kind": "action", "text": "Rolled back the policy"},
        ],
    }
    record.update(extra)
    return record


def test_durations_come_from_the_recorded_timeline():
    figures = review(_record())
    assert figures["seconds"] == {"acknowledge": 250, "engage": 600, "mitigate": 1200, "resolve": 5400}
    assert figures["time_to_acknowledge"] == "4m 10s"
    assert figures["time_to_resolve"] == "1h 30m"
    assert figures["actions"] == ["10:20:00 Restarted the service", "10:45:00 Rolled back the policy"]


def test_p0_resolved_after_an_hour_crossed_the_escalation_trigger():
    assert review(_record())["escalated_late"] is True
    assert review(_record(resolved_at="2026-11-28T10:50:00Z"))["escalated_late"] is False
    assert review(_record(severity="P2"))["escalated_late"] is False


def test_open_incident_has_no_resolution_time():
    figures = review(_record(resolved_at=None))
    assert figures["time_to_resolve"] is None
    assert figures["seconds"]["resolve"] is None
    assert figures["escalated_late"] is False


def test_rejects_what_is_not_a_record_and_bad_times():
    with pytest.raises(AnsibleFilterError, match="incident record"):
        review({"status": "RESOLVED"})
    with pytest.raises(AnsibleFilterError, match="RFC 3339"):
        review(_record(started_at="yesterday"))
