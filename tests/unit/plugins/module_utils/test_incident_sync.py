# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of the record store (incident/sync): the three-way merge, credential masking, the size limit."""

from __future__ import annotations

import copy
import datetime

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.incident import sync
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import IncidentError, apply_changes

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def declared():
    return apply_changes(None, {"severity": "P0", "type": "service_outage", "title": "down", "commander": "ann",
                                "timeline": [{"text": "gateway down", "kind": "detection"}]}, T0, "INC-20260101-120000")


def later(record, minutes, **changes):
    return apply_changes(record, changes, T0 + datetime.timedelta(minutes=minutes))


def texts(record):
    return [entry["text"] for entry in record["timeline"]]


def test_concurrent_jobs_keep_both_timelines_and_their_own_fields():
    base = declared()
    ours = later(base, 5, status="IDENTIFIED", timeline=[{"text": "restart approved", "kind": "action"}])
    theirs = later(base, 6, commander="bob", timeline=[{"text": "status update sent", "kind": "communication"}])
    merged = sync.merge_records(base, ours, theirs)
    assert "restart approved" in texts(merged) and "status update sent" in texts(merged)
    assert merged["status"] == "IDENTIFIED"  # ours changed it
    assert merged["commander"] == "bob"  # theirs changed it, ours did not
    assert merged["updated_at"] == max(ours["updated_at"], theirs["updated_at"])
    assert [e["time"] for e in merged["timeline"]] == sorted(e["time"] for e in merged["timeline"])


def test_merge_is_idempotent_and_never_duplicates_entries():
    base = declared()
    ours = later(base, 5, timeline=[{"text": "a", "kind": "note"}])
    merged = sync.merge_records(base, ours, ours)
    assert merged == ours
    again = sync.merge_records(merged, merged, merged)
    assert again == merged


def test_without_a_base_the_newer_record_gives_the_fields():
    old = declared()
    new = later(old, 10, status="RESOLVED", resolution="restarted")
    stale = later(old, 1, timeline=[{"text": "local note", "kind": "note"}])
    merged = sync.merge_records(None, stale, new)
    assert merged["status"] == "RESOLVED"
    assert "local note" in texts(merged)
    assert sync.merge_records(None, None, new) == new and sync.merge_records(None, new, None) == new
    assert sync.merge_records(None, None, None) is None


def test_credentials_are_masked_everywhere_in_the_record():
    record = declared()
    record["timeline"].append({"time": "2026-01-01T12:01:00Z", "text": "curl -H 'Authorization: Bearer abcdefghijkl'",
                               "kind": "note", "actor": None})
    record["communication"] = {"war_room": "https://user:hunter2secret@chat.example.com/room?token=zzz123"}
    masked, count = sync.without_credentials(record)
    text = sync.object_data(masked, {})[sync.RECORD_KEY]
    assert count == 2
    assert "abcdefghijkl" not in text and "hunter2secret" not in text and "zzz123" not in text
    assert record["communication"]["war_room"].startswith("https://user:hunter2secret")  # the input is not modified
    assert sync.without_credentials(masked) == (masked, 0)


def test_a_record_over_one_mib_is_refused_with_its_size():
    record = declared()
    record["timeline"] = [{"time": "2026-01-01T12:00:%02dZ" % (i % 60), "text": "x" * 1024, "kind": "note", "actor": None}
                          for i in range(1100)]
    data = sync.object_data(record, sync.default_handoff(record))
    with pytest.raises(IncidentError, match=r"INC-20260101-120000 is \d+ bytes \(1100 timeline entries\) and "
                                            r"ConfigMap ns/x holds at most 1048576 bytes") as caught:
        sync.check_size(data, record, "ConfigMap ns/x")
    assert caught.value.result["size"] > sync.MAX_DATA_BYTES
    small = declared()
    sync.check_size(sync.object_data(small, sync.default_handoff(small)), small, "ConfigMap ns/x")


def test_data_size_counts_keys_and_utf8_bytes():
    assert sync.data_size({"ab": "é"}) == 4


@pytest.mark.parametrize("text, message", [
    ("{", "invalid JSON"),
    ("[]", "no id"),
    ('{"title": "x"}', "no id"),
])
def test_a_stored_text_that_is_no_record_is_refused(text, message):
    with pytest.raises(IncidentError, match=message):
        sync.parse_record(text, "ConfigMap ns/x")


def test_state_and_handoff_files(tmp_path):
    case = str(tmp_path)
    assert sync.read_state(case) == {}
    sync.write_state(case, {"resource_version": "7", "base": declared()})
    assert sync.read_state(case)["resource_version"] == "7"
    (tmp_path / sync.STATE_FILE).write_text("not json")
    assert sync.read_state(case) == {}
    handoff = sync.default_handoff(declared())
    assert handoff == {"id": "INC-20260101-120000", "status": "INVESTIGATING",
                       "record": "INC-20260101-120000/incident.json", "report": "INC-20260101-120000/incident.md"}
    assert sync.write_handoff(case, handoff) is True
    assert sync.write_handoff(case, copy.deepcopy(handoff)) is False
    assert sync.read_handoff(case) == handoff
    assert sync.write_handoff(case, None) is False
