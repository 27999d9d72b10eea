# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.airlock.incident.plugins.filter.breach_scope import FilterModule, breach_scope

T0 = 1_764_900_000_000_000_000


def _row(action, ts, subject="alice", tenant="acme", resource="search_docs", correlation="c1", decision="allow",
         metadata=None, redaction_count=None):
    return {"action": action, "timestamp_ns": T0 + ts, "subject": subject, "tenant": tenant, "resource": resource,
            "correlation_id": correlation, "decision": decision, "metadata": metadata,
            "redaction_count": redaction_count}


def _redact(ts, correlation, hits, **kw):
    return _row("redact_data", ts, correlation=correlation, metadata=json.dumps({"patterns_hit": hits}),
                redaction_count=sum(v for v in hits.values() if isinstance(v, int)), **kw)


def test_served_with_and_without_redactions():
    rows = [
        _redact(1, "c1", {"ssn": 1, "email": 2}),
        _row("tool_call", 2, correlation="c1"),
        _row("tool_call", 3, correlation="c2", subject="bob", tenant="staff"),
        _row("resource_read", 4, correlation="c3", resource="file:///docs/a.md"),
        _row("tool_call", 5, correlation="c4", decision="deny", subject="eve"),
    ]
    scope = breach_scope(rows, internal_tenants=["staff"])
    assert scope["served"]["events"] == 3
    assert scope["redacted"]["events"] == 1
    assert scope["redacted"]["redaction_events"] == 1
    assert scope["redacted"]["redactions"] == 3
    assert scope["redacted"]["patterns"] == {"ssn": 1, "email": 2}
    assert scope["data_types"] == ["email", "ssn"]
    assert scope["unredacted"]["events"] == 2
    assert scope["unredacted"]["subjects"] == ["alice", "bob"]
    assert scope["unredacted"]["resources"] == ["file:///docs/a.md", "search_docs"]
    assert "eve" not in scope["served"]["subjects"]
    assert scope["internal_subjects"] == 1 and scope["external_subjects"] == 1
    assert scope["first_event"].startswith("2025-12-05T02:00:00.000000001")
    assert scope["last_event"].endswith("005Z")
    alice = [s for s in scope["subjects"] if s["subject"] == "alice"][0]
    assert (alice["served"], alice["redacted"], alice["unredacted"], alice["redactions"]) == (2, 1, 1, 3)
    assert scope["subjects"][0]["subject"] == "alice"


def test_event_without_correlation_is_never_counted_as_redacted():
    rows = [_redact(1, "", {"ssn": 1}), _row("tool_call", 2, correlation="")]
    scope = breach_scope(rows)
    assert scope["unredacted"]["events"] == 1 and scope["redacted"]["events"] == 0


def test_damaged_rows_counted_and_skipped():
    rows = [_row("tool_call", 1), {"action": "tool_call", "timestamp_ns": "x"}, "garbage", {"timestamp_ns": 5},
            _redact(2, "c9", {"ssn": "many", "card": 2}), _row("redact_data", 3, metadata="{not json")]
    scope = breach_scope(rows)
    assert scope["events"] == 6 and scope["damaged_rows"] == 3
    assert scope["redacted"]["patterns"] == {"card": 2}


def test_no_events():
    scope = breach_scope([])
    assert scope["first_event"] is None and scope["served"]["events"] == 0 and scope["subjects"] == []


@pytest.mark.parametrize("rows, tenants, message", [
    ("rows", None, "expects a list"),
    ([], "staff", "internal_tenants must be a list"),
    ([], [1], "internal_tenants must be a list"),
])
def test_refusals(rows, tenants, message):
    with pytest.raises(AnsibleFilterError, match=message):
        breach_scope(rows, internal_tenants=tenants)


def test_registered():
    assert FilterModule().filters()["breach_scope"] is breach_scope
