# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_query on real Airlock-schema databases: windows, groupings, exports, input checks."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import time

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns
from ansible_collections.airlock.incident.plugins.module_utils.audit import query as audit_query_utils
from ansible_collections.airlock.incident.plugins.modules import audit_query
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

pytest.importorskip("blake3")

S = factory.SECOND_NS
T0 = factory.BASE_NS  # 2026-01-01T00:00:00Z


def query(path, check_mode=False, **args):
    args["path"] = str(path)
    return factory.run_module(audit_query.main, args, check_mode=check_mode)


def violation(db, remote_addr, violation_type="path_traversal", subject="mallory@example.com", **fields):
    meta = {"violation_type": violation_type, "violation": "blocked", "user_agent": "curl/8",
            "method": "POST", "content_length": 10}
    if remote_addr is not None:
        meta["remote_addr"] = remote_addr
    return db.append("security_violation", decision="deny", subject=subject, reason="security violation",
                     metadata=meta, **fields)


@pytest.fixture
def incident_db(tmp_path):
    """A small incident: denies from two IPs (v4 and v6), redactions, admin attempts."""
    path = tmp_path / "audit.db"
    db = factory.AuditDB(path)
    ts = [T0]

    def at():
        ts[0] += S
        return ts[0]

    for _unused in range(4):
        violation(db, "203.0.113.7:51234", timestamp=at())
    for port in (40000, 40001):
        violation(db, "[2001:db8::7]:%d" % port, violation_type="oversized_request", timestamp=at())
    violation(db, "[::1]:8080", subject="alice@example.com", timestamp=at())
    violation(db, None, subject="alice@example.com", timestamp=at())
    for _unused in range(3):
        db.append("token_validate", decision="deny", subject="eve@example.com", resource="", reason="invalid token",
                  metadata={"path": "/mcp", "method": "POST", "error": "token expired"}, timestamp=at())
    db.append("policy_evaluate", decision="deny", subject="eve@example.com", reason="policy denied",
              metadata={"tool": "admin_console", "method": "tools/call", "rule_id": "deny_default",
                        "input_digest": "ab" * 32}, timestamp=at())
    db.append("resource_read", decision="deny", subject="eve@example.com", resource="file:///etc/sudoers",
              reason="policy denied", metadata={"tool": "read_file"}, timestamp=at())
    db.append("policy_evaluate", decision="deny", subject="admin@example.com", reason="policy denied",
              metadata={"tool": "read_file", "method": "tools/call", "rule_id": "deny_default",
                        "input_digest": "cd" * 32}, timestamp=at())
    db.append("policy_evaluate", decision="allow", subject="ops@example.com", reason="policy allowed",
              metadata={"tool": "admin_console", "method": "tools/call", "rule_id": "allow_ops",
                        "input_digest": "ef" * 32}, timestamp=at())
    db.append("policy_evaluate", decision="deny", subject="eve@example.com", reason="policy denied",
              metadata={"tool": "break_glass", "method": "tools/call", "rule_id": "deny_default",
                        "input_digest": "01" * 32}, timestamp=at())
    db.append("redact_data", decision="allow", reason="DLP patterns matched", redaction_count=3,
              metadata={"tool": "read_file", "direction": "response", "patterns_hit": {"email": 2, "ssn": 1},
                        "processing_time": 1000, "data_size": 100}, timestamp=at())
    db.append("redact_data", decision="allow", reason="DLP patterns matched", redaction_count=4,
              metadata={"tool": "read_file", "direction": "response", "patterns_hit": {"email": 4},
                        "processing_time": 1000, "data_size": 100}, timestamp=at())
    db.append("redact_data", decision="allow", reason="DLP patterns matched", redaction_count=0,
              metadata="not json {", timestamp=at())
    db.append("tool_call", decision="allow", subject="bob@example.com", tenant="globex",
              metadata={"tool": "search_docs", "note": 'comma, "quote"\nnewline'}, timestamp=at())
    db.close()
    return path


# -- time windows -------------------------------------------------------------
def test_window_boundaries_are_start_inclusive_end_exclusive(tmp_path):
    path = tmp_path / "audit.db"
    db = factory.AuditDB(path)
    start, end = T0 + 10 * S + 500, T0 + 20 * S + 500
    stamps = [start - 1, start, start + 1, end - 1, end, end + 1]
    for stamp in stamps:
        db.append("tool_call", timestamp=stamp)
    db.close()
    result = query(path, query="events", start=format_ns(start), end=format_ns(end))
    assert format_ns(start) == "2026-01-01T00:00:10.0000005Z"
    assert [row["timestamp_ns"] for row in result["rows"]] == [start, start + 1, end - 1]
    assert result["total"] == 3
    assert result["window"] == dict(start=format_ns(start), start_ns=start, end=format_ns(end), end_ns=end)
    assert result["changed"] is False


def test_playbook_datetime_window_is_always_empty_ours_is_not(tmp_path):
    path = tmp_path / "audit.db"
    db = factory.AuditDB(path)
    now = time.time_ns()
    db.append("tool_call", decision="deny", timestamp=now - 3 * 3600 * S)   # outside 2h
    db.append("tool_call", decision="deny", timestamp=now - 3600 * S)       # inside
    db.append("tool_call", decision="deny", timestamp=now - 60 * S)         # inside
    db.close()
    conn = sqlite3.connect(str(path))
    playbook = conn.execute(
        "SELECT * FROM audit_events WHERE timestamp > datetime('now', '-2 hours')").fetchall()
    conn.close()
    assert playbook == []  # integer vs text: always false
    result = query(path, query="events", since="2h")
    assert result["total"] == 2
    assert [row["timestamp_ns"] for row in result["rows"]] == [now - 3600 * S, now - 60 * S]
    assert result["window"]["end_ns"] - result["window"]["start_ns"] == 2 * 3600 * S


def test_since_with_end_looks_back_from_end(incident_db):
    result = query(incident_db, query="events", since="3s", end=format_ns(T0 + 4 * S))
    assert [row["timestamp_ns"] for row in result["rows"]] == [T0 + S, T0 + 2 * S, T0 + 3 * S]


def test_days_window(incident_db):
    result = query(incident_db, query="events", since="7d", end=format_ns(T0 + 3600 * S))
    assert result["total"] == 20


# -- the analysis queries -----------------------------------------------------
def test_deny_patterns_groups_by_subject_ip_action(incident_db):
    result = query(incident_db, query="deny_patterns")
    rows = result["rows"]
    assert result["total"] == 15
    assert rows[0] == dict(rows[0], subject="mallory@example.com", client_ip="203.0.113.7",
                           action="security_violation", attempts=4)
    by_key = dict(((r["subject"], r["client_ip"], r["action"]), r["attempts"]) for r in rows)
    assert by_key[("mallory@example.com", "2001:db8::7", "security_violation")] == 2  # ports merged
    assert by_key[("alice@example.com", "::1", "security_violation")] == 1
    assert by_key[("alice@example.com", None, "security_violation")] == 1
    assert by_key[("eve@example.com", None, "token_validate")] == 3
    assert [r["attempts"] for r in rows] == sorted((r["attempts"] for r in rows), reverse=True)
    assert rows[0]["first_seen"] == format_ns(rows[0]["first_seen_ns"])
    assert "source_ip" not in result["sql"] and "remote_addr" in result["sql"]


@pytest.mark.parametrize("remote_addr, expected", [
    ("203.0.113.7:51234", "203.0.113.7"),
    ("[2001:db8::7]:443", "2001:db8::7"),
    ("[::1]:8080", "::1"),
    ("[::]:80", "::"),
    ("[2001:db8::]:80", "2001:db8::"),
    ("10.0.0.1", "10.0.0.1"),
    ("::1", "::1"),
    ("", None),
    (None, None),
])
def test_client_ip_sql_strips_the_port(tmp_path, remote_addr, expected):
    assert audit_query_utils.client_ip(remote_addr) == expected
    conn = sqlite3.connect(":memory:")
    metadata = json.dumps({"remote_addr": remote_addr}) if remote_addr is not None else "{}"
    got = conn.execute("SELECT %s FROM (SELECT ? AS metadata)" % audit_query_utils.CLIENT_IP_SQL, (metadata,)).fetchone()
    conn.close()
    assert got[0] == expected


def test_redactions_totals(incident_db):
    result = query(incident_db, query="redactions")
    assert result["summary"] == dict(redaction_events=3, total_redactions=7)
    assert result["total"] == 3
    assert result["rows"] == [dict(pattern="email", hits=6, events=2), dict(pattern="ssn", hits=1, events=1)]


def test_auth_failures_rate_and_groups(incident_db):
    result = query(incident_db, query="auth_failures")
    assert result["total"] == 3
    assert [(r["subject"], r["client_ip"], r["error"], r["attempts"]) for r in result["rows"]] == [
        ("eve@example.com", None, "token expired", 3)]
    summary = result["summary"]
    assert (summary["events"], summary["denials"], summary["deny_ratio"]) == (3, 3, 1.0)
    assert summary["first_seen_ns"] == T0 + 9 * S and summary["last_seen_ns"] == T0 + 11 * S
    # an open window is closed by the first and last denial, at least one minute
    assert summary["minutes"] == 1.0 and summary["per_minute"] == 3.0


def test_auth_failures_per_minute_over_a_window(incident_db):
    result = query(incident_db, query="auth_failures", start=format_ns(T0), end=format_ns(T0 + 600 * S))
    assert result["summary"]["minutes"] == 10.0 and result["summary"]["per_minute"] == 0.3


def test_policy_denials_tell_resource_subject_tenant_and_rule(incident_db):
    result = query(incident_db, query="policy_denials")
    assert result["total"] == 3
    assert sorted((r["subject"], r["tool"], r["rule_id"], r["denials"]) for r in result["rows"]) == [
        ("admin@example.com", "read_file", "deny_default", 1),
        ("eve@example.com", "admin_console", "deny_default", 1),
        ("eve@example.com", "break_glass", "deny_default", 1)]
    assert (result["summary"]["events"], result["summary"]["denials"], result["summary"]["deny_ratio"]) == (4, 3, 0.75)


def test_rate_queries_on_an_empty_window(incident_db):
    result = query(incident_db, query="policy_denials", start=format_ns(T0 + 10 ** 6 * S))
    assert result["total"] == 0 and result["rows"] == []
    assert result["summary"]["events"] == 0 and result["summary"]["deny_ratio"] is None


def test_privilege_escalation_definition(incident_db):
    result = query(incident_db, query="privilege_escalation")
    found = sorted((r["subject"], r["action"], r["resource"], r["tool"]) for r in result["rows"])
    assert found == [
        ("eve@example.com", "policy_evaluate", "mcp://docs/readme.md", "admin_console"),
        ("eve@example.com", "resource_read", "file:///etc/sudoers", "read_file"),
    ]
    # allowed admin use and an admin user denied an ordinary tool are not escalation attempts
    assert result["total"] == 2

    custom = query(incident_db, query="privilege_escalation", admin_patterns=["break_glass"])
    assert [r["tool"] for r in custom["rows"]] == ["break_glass"]
    # '_' is a literal, not a LIKE wildcard
    assert query(incident_db, query="privilege_escalation", admin_patterns=["break_gl_ss"])["total"] == 0


def test_security_violations_grouped_by_type_and_ip(incident_db):
    result = query(incident_db, query="security_violations")
    assert result["total"] == 8
    groups = dict(((r["violation_type"], r["client_ip"]), r["events"]) for r in result["rows"])
    assert groups == {("path_traversal", "203.0.113.7"): 4, ("oversized_request", "2001:db8::7"): 2,
                      ("path_traversal", "::1"): 1, ("path_traversal", None): 1}


def test_events_filters_and_limit(incident_db):
    result = query(incident_db, query="events", subject="eve@example.com", decision="deny", limit=2)
    assert result["total"] == 6
    assert len(result["rows"]) == 2 and result["truncated"] is True
    assert all(r["subject"] == "eve@example.com" and r["decision"] == "deny" for r in result["rows"])
    assert query(incident_db, query="events", tenant="globex")["total"] == 1
    assert query(incident_db, query="events", action="redact_data")["total"] == 3


def test_values_are_bound_never_interpolated(incident_db):
    hostile = "x' OR '1'='1"
    result = query(incident_db, query="events", subject=hostile)
    assert result["total"] == 0
    assert hostile not in result["sql"] and hostile in result["params"]
    assert result["sql"].count("?") == len(result["params"])


# -- export -------------------------------------------------------------------
def test_csv_export_has_a_header_and_reimports(incident_db, tmp_path):
    target = tmp_path / "events.csv"
    result = query(incident_db, query="events", export_path=str(target), limit=5)
    assert result["changed"] is True and result["exported_rows"] == 20 and len(result["rows"]) == 5
    with open(str(target), newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames[:3] == ["rowid", "id", "timestamp_ns"]
    assert len(rows) == 20
    note = [r for r in rows if r["tenant"] == "globex"][0]
    assert json.loads(note["metadata"])["note"] == 'comma, "quote"\nnewline'
    assert int(rows[0]["timestamp_ns"]) == T0 + S
    assert oct(os.stat(str(target)).st_mode & 0o777) == "0o600"
    # the header lets sqlite3 .import build a proper table (the playbook's export had none)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE imported (%s)" % ", ".join('"%s"' % name for name in reader.fieldnames))
    conn.executemany("INSERT INTO imported VALUES (%s)" % ", ".join("?" * len(reader.fieldnames)),
                     [[r[name] for name in reader.fieldnames] for r in rows])
    assert conn.execute("SELECT COUNT(*) FROM imported WHERE decision = 'deny'").fetchone()[0] == 15


def test_csv_export_of_an_empty_result_still_has_a_header(incident_db, tmp_path):
    target = tmp_path / "none.csv"
    query(incident_db, query="deny_patterns", subject="nobody", export_path=str(target))
    assert target.read_text().strip().split(",")[:3] == ["subject", "client_ip", "action"]


def test_jsonl_export(incident_db, tmp_path):
    target = tmp_path / "denies.jsonl"
    result = query(incident_db, query="deny_patterns", export_path=str(target), export_format="jsonl")
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert lines == result["rows"]


def test_export_rerun_and_overwrite_rules(incident_db, tmp_path):
    target = tmp_path / "export.csv"
    window = dict(start=format_ns(T0), end=format_ns(T0 + 100 * S))
    first = query(incident_db, query="events", export_path=str(target), **window)
    assert first["changed"] is True
    content = target.read_bytes()
    again = query(incident_db, query="events", export_path=str(target), **window)
    assert again["changed"] is False and again["export_sha256"] == first["export_sha256"]

    other = query(incident_db, query="events", export_path=str(target), subject="eve@example.com", **window)
    assert other["failed"] is True and "force=true" in other["msg"]
    assert target.read_bytes() == content

    forced = query(incident_db, query="events", export_path=str(target), subject="eve@example.com", force=True,
                   **window)
    assert forced["changed"] is True and target.read_bytes() != content
    assert sorted(os.listdir(str(tmp_path))) == ["audit.db", "audit.db-shm", "audit.db-wal", "export.csv"] or \
        sorted(os.listdir(str(tmp_path))) == ["audit.db", "export.csv"]


def test_export_check_mode_writes_nothing(incident_db, tmp_path):
    target = tmp_path / "export.csv"
    result = query(incident_db, check_mode=True, query="events", export_path=str(target))
    assert result["changed"] is True and "would write 20 rows" in result["msg"]
    assert not target.exists()
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith(".export")]
    real = query(incident_db, query="events", export_path=str(target))
    assert real["export_sha256"] == result["export_sha256"]
    assert query(incident_db, check_mode=True, query="events", export_path=str(target))["changed"] is False


# -- input errors come before the database is touched --------------------------
@pytest.mark.parametrize("args, words", [
    (dict(query="who_knows"), ["query", "deny_patterns"]),
    (dict(query="events", since="2 hours"), ["since", "2h"]),
    (dict(query="events", since="-2h"), ["since"]),
    (dict(query="events", start="2026-01-02T00:00:00Z", end="2026-01-01T00:00:00Z"), ["must be earlier"]),
    (dict(query="events", start="yesterday"), ["start", "RFC 3339"]),
    (dict(query="events", since="2h", start="2026-01-01T00:00:00Z"), ["mutually exclusive"]),
    (dict(query="deny_patterns", action="login"), ["action", "query=events"]),
    (dict(query="events", limit=-1), ["limit"]),
])
def test_bad_input_fails_before_the_file_is_opened(tmp_path, args, words):
    result = query(tmp_path / "does-not-exist.db", **args)
    assert result["failed"] is True
    assert "does not exist" not in result["msg"]
    for word in words:
        assert word in result["msg"], result["msg"]


def test_unusable_database_fails_cleanly(tmp_path):
    path = tmp_path / "audit.db"
    path.write_bytes(b"\x00" * 4096)
    result = query(path, query="events")
    assert result["failed"] is True and "not an SQLite database" in result["msg"]


def test_locked_database_fails_cleanly(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=3)
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO audit_metadata (key, value) VALUES ('k', 'v')")
    try:
        result = query(path, query="events", busy_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result["failed"] is True and "locked" in result["msg"]


def test_source_is_not_modified(tmp_path):
    path = tmp_path / "audit.db"
    airlock = factory.AuditDB(path, autocheckpoint=False)
    airlock.append_many(20, decision="deny")
    before = [factory.file_bytes(str(path) + suffix) for suffix in ("", "-wal")]
    for name in audit_query_utils.QUERIES:
        assert "failed" not in query(path, query=name)
    after = [factory.file_bytes(str(path) + suffix) for suffix in ("", "-wal")]
    airlock.close()
    assert before[1] and after == before


def test_sql_for_a_window_uses_the_timestamp_index(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=3)
    sql, params, _count_sql, _count_params = audit_query_utils.build_query("deny_patterns", T0, T0 + S)
    conn = sqlite3.connect(str(path))
    plan = " ".join(str(row) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    conn.close()
    assert "idx_audit_timestamp" in plan


def test_csv_buffering_handles_large_exports(tmp_path):
    path = tmp_path / "audit.db"
    db = factory.AuditDB(path)
    db.append_many(3000, metadata={"tool": "x" * 500})
    db.close()
    target = tmp_path / "big.csv"
    result = query(path, query="events", export_path=str(target), limit=1)
    with open(str(target), newline="") as handle:
        assert sum(1 for _unused in csv.reader(io.StringIO(handle.read()))) == 3001
    assert result["exported_rows"] == 3000 and result["total"] == 3000


def test_export_never_targets_the_database(incident_db):
    before = factory.file_bytes(incident_db)
    result = query(incident_db, query="events", export_path=str(incident_db), force=True)
    assert result["failed"] is True and "is the database" in result["msg"]
    assert factory.file_bytes(incident_db) == before


def test_tampered_timestamps_still_export(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=3)
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE audit_events SET timestamp = 'yesterday' WHERE rowid = 1")
    conn.commit()
    conn.close()
    target = tmp_path / "out.csv"
    result = query(path, query="events", export_path=str(target))
    assert result["exported_rows"] == 3
    with open(str(target), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["timestamp"] for r in rows].count("") == 1
