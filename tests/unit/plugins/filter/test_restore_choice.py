# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.airlock.incident.plugins.filter import restore_choice as module

FilterModule = module.FilterModule


def restore_choice(backups, **kwargs):
    """The filter as the role calls it: the integrity loop results and the verify loop results."""
    return module.restore_choice([dict(b["integrity"], database=b["backup"]) for b in backups],
                                 verify=[b["verify"] for b in backups], **kwargs)


NOW = "2026-12-05T12:00:00Z"


def _backup(stamp, events=100, ok=True, valid=True, counts=None, last="2026-12-05T10:00:00.123456789Z"):
    return {"backup": "/b/airlock-audit-%s.db" % stamp,
            "integrity": {"ok": ok, "events": events, "chain_head": "h%s" % stamp, "last_event_at": last,
                          "msg": "intact" if ok else "fails integrity_check"},
            "verify": {"valid": valid, "msg": "chain valid" if valid else "chain NOT valid",
                       "problem_counts": counts or {}}}


UNREADABLE = {"readable": False, "events": None, "last_event_at": None}


def test_newest_verifying_backup_chosen_older_and_bad_ones_listed():
    result = restore_choice([_backup("20261205T090000Z", 90), _backup("20261205T110000Z", 120, valid=False,
                                                                      counts={"content_mismatch": 1}),
                             _backup("20261205T100000Z", 100)], live=UNREADABLE, now=NOW, recorded_events=130)
    assert result["choice"]["backup"] == "/b/airlock-audit-20261205T100000Z.db"
    assert result["rejected"] == [{"backup": "/b/airlock-audit-20261205T110000Z.db",
                                   "reason": "chain does not verify: chain NOT valid"}]
    assert result["events_lost"] == 30 and result["events_lost_is_minimum"] is True
    assert result["seconds_lost"] == 7200
    assert "at least 30 events" in result["text"] and "2h00m00s" in result["text"]


def test_loss_counted_against_a_readable_live_database():
    live = {"readable": True, "events": 150, "last_event_at": "2026-12-05T10:30:00Z"}
    result = restore_choice([_backup("1", 100)], live=live, now=NOW)
    assert result["events_lost"] == 50 and result["events_lost_is_minimum"] is False
    assert result["seconds_lost"] == 1800
    assert "would lose 50 events, 0h30m00s" in result["text"]


def test_unknown_loss_said_so():
    result = restore_choice([_backup("1")], live=UNREADABLE, now=NOW)
    assert result["events_lost"] is None and "unknown number of events" in result["text"]


def test_head_mismatch_and_damaged_backups_rejected():
    result = restore_choice([_backup("2", valid=False, counts={"head_mismatch": 1}), _backup("1", ok=False)],
                            live=UNREADABLE, now=NOW)
    assert result["choice"] is None
    assert result["rejected"][0]["reason"].startswith("does not contain the recorded chain head")
    assert result["rejected"][1]["reason"].startswith("damaged")
    assert result["text"].startswith("no backup qualifies: 2 examined")


def test_unverified_backup_is_not_chosen():
    entry = _backup("1")
    entry["verify"] = {"skipped": True}
    assert restore_choice([entry], live=UNREADABLE, now=NOW)["choice"] is None


def test_no_backups():
    assert restore_choice([], live=UNREADABLE, now=NOW)["text"].startswith("no backup qualifies: 0 examined")


@pytest.mark.parametrize("kwargs, message", [
    ({"candidates": "x"}, "expects the results of audit_integrity"),
    ({"verify": [{}]}, "verify must be the results of audit_verify over the same 0 backups"),
    ({"live": "x"}, "live must be"),
    ({"now": "noon"}, "now must be a UTC time"),
    ({"recorded_events": -1}, "recorded_events must be a whole number"),
])
def test_refusals(kwargs, message):
    args = dict(candidates=[], verify=[], live=UNREADABLE, now=NOW, recorded_events=0)
    args.update(kwargs)
    with pytest.raises(AnsibleFilterError, match=message):
        module.restore_choice(args.pop("candidates"), **args)


def test_registered():
    assert FilterModule().filters()["restore_choice"] is module.restore_choice
