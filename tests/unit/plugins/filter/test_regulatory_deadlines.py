# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.airlock.incident.plugins.filter.regulatory_deadlines import FilterModule, regulatory_deadlines

GDPR = {"name": "GDPR", "hours": 72, "notify": "the supervisory authority", "reference": "Art. 33"}


def test_gdpr_is_72_hours_after_discovery_in_utc():
    [entry] = regulatory_deadlines("2026-12-05T14:03:00Z", [GDPR])
    assert entry["deadline"] == "2026-12-08T14:03:00Z"
    assert entry["discovered_at"] == "2026-12-05T14:03:00Z"
    assert entry["notify"] == "the supervisory authority"
    assert "overdue" not in entry
    assert entry["text"] == ("Regulatory clock GDPR (Art. 33) - notify the supervisory authority by 2026-12-08T14:03:00Z, "
                             "72 h after discovery at 2026-12-05T14:03:00Z")
    assert entry["timeline_entry"] == {"kind": "note", "text": entry["text"]}


def test_offset_discovery_time_gives_utc_deadline():
    [entry] = regulatory_deadlines("2026-12-05T15:03:00+01:00", [GDPR])
    assert entry["discovered_at"] == "2026-12-05T14:03:00Z"
    assert entry["deadline"] == "2026-12-08T14:03:00Z"


def test_deadline_across_a_month_and_year_end():
    [entry] = regulatory_deadlines("2026-12-30T23:30:00Z", [GDPR])
    assert entry["deadline"] == "2027-01-02T23:30:00Z"


def test_rules_sorted_soonest_first_undated_last():
    rules = [GDPR, {"name": "CCPA", "notify": "affected residents"}, {"name": "DPA", "hours": "24"}]
    result = regulatory_deadlines("2026-12-05T00:00:00Z", rules)
    assert [e["name"] for e in result] == ["DPA", "GDPR", "CCPA"]
    assert result[0]["deadline"] == "2026-12-06T00:00:00Z"
    assert result[2]["deadline"] is None
    assert "no fixed deadline" in result[2]["text"] and "affected residents" in result[2]["text"]


def test_fractional_hours():
    [entry] = regulatory_deadlines("2026-12-05T00:00:00Z", [{"name": "x", "hours": 1.5}])
    assert entry["deadline"] == "2026-12-05T01:30:00Z"


def test_rule_that_does_not_apply_is_left_out():
    assert regulatory_deadlines("2026-12-05T00:00:00Z", [dict(GDPR, applies=False)]) == []


def test_now_gives_remaining_and_overdue():
    [entry] = regulatory_deadlines("2026-12-05T00:00:00Z", [GDPR], now="2026-12-07T12:00:00Z")
    assert entry["overdue"] is False
    assert entry["remaining_hours"] == 12.0
    [late] = regulatory_deadlines("2026-12-05T00:00:00Z", [GDPR], now="2026-12-08T01:00:00Z")
    assert late["overdue"] is True
    assert late["remaining_hours"] == -1.0
    assert late["text"] == entry["text"]


@pytest.mark.parametrize("hours", [0, -1, "72h", True, 10000, float("nan")])
def test_bad_hours_refused_naming_the_rule(hours):
    with pytest.raises(AnsibleFilterError, match=r"rules\[1\]\.hours must be a number of hours > 0"):
        regulatory_deadlines("2026-12-05T00:00:00Z", [GDPR, {"name": "x", "hours": hours}])


@pytest.mark.parametrize("rule, message", [
    ({"hours": 72}, r"rules\[0\]\.name must be a non-empty string"),
    ({"name": "x", "hour": 72}, r"rules\[0\] has unknown keys hour; accepted keys: name, hours"),
    ({"name": "x", "applies": "yes"}, r"rules\[0\]\.applies must be true or false"),
    ({"name": "x", "notify": 3}, r"rules\[0\]\.notify must be a string"),
    ("GDPR", r"rules\[0\] must be a mapping"),
])
def test_bad_rules_refused(rule, message):
    with pytest.raises(AnsibleFilterError, match=message):
        regulatory_deadlines("2026-12-05T00:00:00Z", [rule])


@pytest.mark.parametrize("text", ["2026-12-05 14:03", "2026-12-05T14:03:00", "yesterday", None, "2026-02-30T00:00:00Z"])
def test_bad_discovery_time_refused(text):
    with pytest.raises(AnsibleFilterError, match="discovered_at"):
        regulatory_deadlines(text, [GDPR])


def test_rules_must_be_a_list():
    with pytest.raises(AnsibleFilterError, match="rules must be a list"):
        regulatory_deadlines("2026-12-05T00:00:00Z", GDPR)


def test_registered():
    assert FilterModule().filters()["regulatory_deadlines"] is regulatory_deadlines
