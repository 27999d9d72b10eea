# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit logic in module_utils, without a module: schema, windows, SQL, exports, verification, snapshots."""

from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import export as audit_export
from ansible_collections.airlock.incident.plugins.module_utils.audit import query as audit_query
from ansible_collections.airlock.incident.plugins.module_utils.audit import schema
from ansible_collections.airlock.incident.plugins.module_utils.audit import snapshot as audit_snapshot
from ansible_collections.airlock.incident.plugins.module_utils.audit import verify as audit_verify
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import AuditDbError
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

S = factory.SECOND_NS
T0 = factory.BASE_NS


def test_errors_follow_the_one_error_model():
    assert issubclass(AuditDbError, AirlockIncidentError)
    assert issubclass(audit_query.QueryError, InputError)


def test_schema_lists_the_hashed_columns_once():
    assert schema.REQUIRED_COLUMNS == (
        "id", "timestamp", "correlation_id", "tenant", "subject", "action", "resource", "decision",
        "reason", "metadata", "hash", "previous_hash", "latency_ms", "redaction_count")
    assert sorted(schema.PAYLOAD_FIELDS + ("hash",)) == sorted(schema.REQUIRED_COLUMNS)
    assert schema.SELECT_CHAIN_SQL.count("CAST(") == 11  # 10 text fields and the hash
    assert schema.WALK_SQL.startswith("SELECT rowid, id, timestamp,") and "CAST" not in schema.WALK_SQL
    assert schema.SELECT_CHAIN_ROW_SQL.endswith("WHERE rowid = ?")
    assert "timestamp AS timestamp_ns" in schema.event_columns_sql()


def test_resolve_window_is_half_open_and_checked():
    assert audit_query.resolve_window() == (None, None)
    assert audit_query.resolve_window(since="2h", now_ns=10 * 3600 * S) == (8 * 3600 * S, 10 * 3600 * S)
    assert audit_query.resolve_window(start="2026-01-01T00:00:00Z") == (T0, None)
    with pytest.raises(audit_query.QueryError, match="mutually exclusive"):
        audit_query.resolve_window(since="2h", start="2026-01-01T00:00:00Z")
    with pytest.raises(audit_query.QueryError, match="^end: ") as info:
        audit_query.resolve_window(end="tomorrow")
    assert info.value.__cause__ is not None
    with pytest.raises(audit_query.QueryError, match="must be earlier"):
        audit_query.resolve_window(start="2026-01-02T00:00:00Z", end="2026-01-01T00:00:00Z")


@pytest.mark.parametrize("query", audit_query.QUERIES)
def test_build_query_binds_every_value(query):
    sql, params, count_sql, count_params = audit_query.build_query(query, T0, T0 + S, subject="x' OR 1=1 --",
                                                                   tenant="acme",
                                                                   admin_patterns=audit_query.DEFAULT_ADMIN_PATTERNS)
    assert "x' OR" not in sql and "x' OR 1=1 --" in params
    assert sql.count("?") == len(params)
    assert (count_sql is None) == (query not in ("events", "redactions", "auth_failures", "policy_denials", "latency"))
    if count_sql is not None:
        assert count_sql.count("?") == len(count_params)


def test_build_query_refusals():
    with pytest.raises(audit_query.QueryError, match="accepted values: deny_patterns"):
        audit_query.build_query("nope")
    with pytest.raises(audit_query.QueryError, match="admin_patterns"):
        audit_query.build_query("privilege_escalation", admin_patterns=["", ""])


def _params(tmp_path, **extra):
    params = dict(path=str(tmp_path / "audit.db"), query="events", since=None, start=None, end=None,
                  subject=None, tenant=None, action=None, decision=None, limit=10,
                  admin_patterns=list(audit_query.DEFAULT_ADMIN_PATTERNS), export_path=None, export_format="csv",
                  force=False, busy_timeout=5.0)
    params.update(extra)
    return params


def test_check_options_refuses_before_the_database_is_opened(tmp_path):
    with pytest.raises(audit_query.QueryError, match="action: only applies to query=events"):
        audit_query.check_options(_params(tmp_path, query="deny_patterns", action="x"))
    with pytest.raises(audit_query.QueryError, match="is the database"):
        audit_query.check_options(_params(tmp_path, export_path=str(tmp_path / "audit.db-wal")))
    with pytest.raises(audit_query.QueryError, match="is a directory"):
        audit_query.check_options(_params(tmp_path, export_path=str(tmp_path)))
    assert not os.path.exists(str(tmp_path / "audit.db"))


def test_query_audit_returns_msg_and_window(tmp_path):
    factory.build_db(tmp_path / "audit.db", events=3)
    result = audit_query.query_audit(_params(tmp_path))
    assert result["msg"] == "events: 3 matching events, 3 rows" and result["changed"] is False
    assert result["window"]["start"] is None


def test_export_settle_rules(tmp_path):
    target = str(tmp_path / "out.jsonl")
    first = audit_export.Export(target, "jsonl", check_mode=False)
    first.write(dict(a=1))
    facts, changed, sentence = audit_export.settle(first, force=False, check_mode=False)
    assert changed and facts["exported_rows"] == 1 and sentence.startswith("wrote 1 rows")
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    again = audit_export.Export(target, "jsonl", check_mode=True)
    again.write(dict(a=1))
    assert audit_export.settle(again, force=False, check_mode=True)[1] is False
    other = audit_export.Export(target, "jsonl", check_mode=False)
    other.write(dict(a=2))
    with pytest.raises(AirlockIncidentError, match="force=true") as info:
        audit_export.settle(other, force=False, check_mode=False)
    assert info.value.result["exported_rows"] == 1
    assert sorted(os.listdir(str(tmp_path))) == ["out.jsonl"]


def test_verify_options_and_summary():
    params = dict(max_problems=10, expected_events=None, busy_timeout=1.0, expected_head=" " + "AB" * 32 + " ")
    assert audit_verify.check_options(params) == "ab" * 32
    for bad, field in ((dict(params, expected_head="xyz"), "expected_head"),
                       (dict(params, max_problems=-1), "max_problems"),
                       (dict(params, expected_events=0), "expected_events")):
        with pytest.raises(InputError, match=field):
            audit_verify.check_options(bad)
    assert audit_verify.summary(dict(valid=True, events_checked=4, problem_counts={})) == "chain valid: 4 events verified"
    assert audit_verify.summary(dict(valid=True, events_checked=4, problem_counts={"dangling_parent": 1})) == (
        "chain valid: 4 events verified (informational: dangling_parent=1)")
    assert audit_verify.summary(dict(valid=False, events_checked=4, problem_counts={"fork": 2})) == (
        "chain INVALID: fork=2")


def test_verify_audit_on_a_factory_database(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=5)
    result = audit_verify.verify_audit(dict(path=str(path), busy_timeout=1.0, expected_events=None,
                                            max_problems=10), None)
    assert result["valid"] is True and result["events_checked"] == 5
    assert result["msg"] == "chain valid: 5 events verified"


def test_resolve_dest_uses_the_contract_rule(tmp_path):
    db = str(tmp_path / "audit.db")
    dest = str(tmp_path) + os.sep
    assert audit_snapshot.resolve_dest(db, dest, "INC-1") == str(tmp_path / "airlock-audit-INC-1.db")
    moment = datetime.datetime(2026, 11, 28, 10, 15, tzinfo=datetime.timezone.utc)
    assert audit_snapshot.resolve_dest(db, dest, None, now=moment).endswith("airlock-audit-20261128T101500Z.db")
    for bad in ("../x", "a" * 64, "-lead"):
        with pytest.raises(InputError, match="incident_id"):
            audit_snapshot.resolve_dest(db, dest, bad)
    with pytest.raises(InputError, match="is the source database"):
        audit_snapshot.resolve_dest(db, db + "-shm", "INC-1")
    with pytest.raises(InputError, match="does not exist"):
        audit_snapshot.resolve_dest(db, str(tmp_path / "missing" / "x.db"), None)


def test_snapshot_audit_check_mode_creates_nothing(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=2)
    result = audit_snapshot.snapshot_audit(dict(path=str(path), dest=str(tmp_path) + os.sep, incident_id="INC-9",
                                                force=False, busy_timeout=1.0), check_mode=True)
    assert result["changed"] is True and result["events"] == 2 and result["msg"].startswith("would copy")
    # only SQLite's own -wal/-shm beside the source (see the module's WAL caveat), no copy
    assert not [name for name in os.listdir(str(tmp_path)) if not name.startswith("audit.db")]
