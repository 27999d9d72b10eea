# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's audit database is Airlock's: schema, WAL, salt, and a chain recomputed independently here."""

from __future__ import annotations

import json
import os
import re
import sqlite3

import blake3
import pytest

EXPECTED_INDEXES = {
    "idx_audit_timestamp": ["timestamp"],
    "idx_audit_tenant": ["tenant"],
    "idx_audit_subject": ["subject"],
    "idx_audit_action": ["action"],
    "idx_audit_decision": ["decision"],
    "idx_audit_correlation": ["correlation_id"],
    "idx_audit_created_at": ["created_at"],
    "idx_audit_tenant_timestamp": ["tenant", "timestamp"],
    "idx_audit_subject_timestamp": ["subject", "timestamp"],
}
EVENT_COLUMNS = [
    ("id", "TEXT", 0, 1), ("timestamp", "INTEGER", 1, 0), ("correlation_id", "TEXT", 1, 0),
    ("tenant", "TEXT", 1, 0), ("subject", "TEXT", 1, 0), ("action", "TEXT", 1, 0), ("resource", "TEXT", 1, 0),
    ("decision", "TEXT", 1, 0), ("reason", "TEXT", 1, 0), ("metadata", "TEXT", 0, 0), ("hash", "TEXT", 1, 0),
    ("previous_hash", "TEXT", 1, 0), ("latency_ms", "INTEGER", 0, 0), ("redaction_count", "INTEGER", 0, 0),
    ("created_at", "INTEGER", 0, 0),
]


def _go_string(value):
    """Go encoding/json for a string, written from the rules in the interface notes (not the collection's code)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    out = ['"']
    for char in value:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char in "\n\r\t\b\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}[char])
        elif code < 0x20 or char in "<>&" or code in (0x2028, 0x2029):
            out.append("\\u%04x" % code)
        else:
            out.append(char)
    out.append('"')
    return "".join(out).encode("utf-8")


def _payload(row):
    (event_id, timestamp, correlation_id, tenant, subject, action, resource, decision, reason, metadata,
     previous_hash, latency_ms, redaction_count) = row
    parts = [b'{"id":', _go_string(event_id), b',"timestamp":', str(timestamp).encode(),
             b',"correlation_id":', _go_string(correlation_id), b',"tenant":', _go_string(tenant),
             b',"subject":', _go_string(subject), b',"action":', _go_string(action),
             b',"resource":', _go_string(resource), b',"decision":', _go_string(decision),
             b',"reason":', _go_string(reason), b',"metadata":', metadata if metadata is not None else b"null",
             b',"previous_hash":', _go_string(previous_hash), b',"latency_ms":', str(latency_ms or 0).encode(),
             b',"redaction_count":', str(redaction_count or 0).encode(), b"}"]
    return b"".join(parts)


def verify(db_path):
    """(content_mismatch_rowids, link_break_rowids, genesis_rowids, count) walking by rowid."""
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    conn.text_factory = bytes
    salt = bytes.fromhex(conn.execute("SELECT value FROM audit_metadata WHERE key='hasher_salt'").fetchone()[0]
                         .decode())
    rows = conn.execute("SELECT rowid, id, timestamp, correlation_id, tenant, subject, action, resource, decision, "
                        "reason, metadata, previous_hash, latency_ms, redaction_count, hash FROM audit_events "
                        "ORDER BY rowid").fetchall()
    conn.close()
    mismatches, breaks, genesis = [], [], []
    previous = None
    for row in rows:
        rowid, stored = row[0], row[-1].decode()
        digest = blake3.blake3(salt + _payload(row[1:-1])).hexdigest()
        if digest != stored:
            mismatches.append(rowid)
        prev_hash = row[11].decode()
        if prev_hash == "":
            genesis.append(rowid)
        elif previous is not None and prev_hash != previous:
            breaks.append(rowid)
        previous = stored
    return mismatches, breaks, genesis, len(rows)


@pytest.fixture(scope="module")
def audited_lab(documented_lab):
    documented_lab.json("traffic", "--count", "8")
    documented_lab.json("drill", "attack", "--count", "3")
    documented_lab.json("drill", "pii", "--count", "1")
    return documented_lab


def test_schema_indexes_and_tables_are_airlocks(audited_lab):
    conn = sqlite3.connect("file:%s?mode=ro" % audited_lab.state()["db"], uri=True)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"audit_events", "audit_metadata", "audit_tombstones"}
    columns = [(r[1], r[2], r[3], r[5]) for r in conn.execute("PRAGMA table_info(audit_events)")]
    assert columns == EVENT_COLUMNS
    indexes = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index' AND name LIKE 'idx_%'"):
        indexes[name] = [r[2] for r in conn.execute("PRAGMA index_info(%s)" % name)]
    assert indexes == EXPECTED_INDEXES
    assert [r[1] for r in conn.execute("PRAGMA table_info(audit_tombstones)")] == [
        "subject", "tombstone_event_id", "created_at", "reason"]
    assert [r[1] for r in conn.execute("PRAGMA table_info(audit_metadata)")] == ["key", "value", "created_at"]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    salt = conn.execute("SELECT value FROM audit_metadata WHERE key='hasher_salt'").fetchall()
    assert len(salt) == 1 and re.fullmatch(r"[0-9a-f]{64}", salt[0][0])
    conn.close()


def test_units_and_metadata_shapes(audited_lab):
    conn = sqlite3.connect("file:%s?mode=ro" % audited_lab.state()["db"], uri=True)
    first = conn.execute("SELECT previous_hash FROM audit_events ORDER BY rowid LIMIT 1").fetchone()[0]
    assert first == ""
    ts, created = conn.execute("SELECT timestamp, created_at FROM audit_events ORDER BY rowid DESC LIMIT 1").fetchone()
    assert ts > 10 ** 18 and abs(ts // 10 ** 9 - created) <= 2  # ns vs s
    for action, keys in (("policy_evaluate", ["input_digest", "method", "rule_id", "tool"]),
                         ("security_violation", ["attempted_path", "method", "remote_addr", "user_agent",
                                                 "violation", "violation_type"]),
                         ("redact_data", ["data_size", "direction", "patterns_hit", "processing_time", "tool"])):
        text = conn.execute("SELECT metadata FROM audit_events WHERE action=? ORDER BY rowid DESC LIMIT 1",
                            (action,)).fetchone()[0]
        assert sorted(json.loads(text)) == keys
        assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))  # Go map order
    assert conn.execute("SELECT COUNT(*) FROM audit_events WHERE action != 'redact_data' AND redaction_count != 0")\
        .fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM audit_events WHERE metadata LIKE '%source_ip%'").fetchone()[0] == 0
    conn.close()


def test_chain_recomputed_independently(audited_lab):
    mismatches, breaks, genesis, count = verify(audited_lab.state()["db"])
    assert count > 20
    assert mismatches == [] and breaks == [] and genesis == [1]


def test_writer_keeps_going_while_a_reader_holds_a_snapshot(audited_lab):
    db = audited_lab.state()["db"]
    reader = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    reader.execute("BEGIN")
    before = reader.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]
    audited_lab.json("traffic", "--count", "4")
    assert reader.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0] == before  # snapshot
    reader.execute("COMMIT")
    assert reader.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0] > before
    reader.close()


def test_tamper_audit_breaks_exactly_one_row(fresh_lab):
    # documented: the release writes no audit events (like the real binary)
    lab = fresh_lab("start", "--profile", "documented")
    lab.json("traffic", "--count", "6")
    lab.json("drill", "attack", "--count", "3")
    assert verify(lab.state()["db"])[:2] == ([], [])
    result = lab.json("drill", "tamper-audit", "--rowid", "3")
    assert result["rowid"] == 3
    mismatches, breaks, genesis, _ = verify(lab.state()["db"])
    assert mismatches == [3] and breaks == [] and genesis == [1]
    # a deny row gets its decision flipped, the classic cover-up
    conn = sqlite3.connect("file:%s?mode=ro" % lab.state()["db"], uri=True)
    deny_rowid = conn.execute("SELECT rowid FROM audit_events WHERE decision='deny' ORDER BY rowid LIMIT 1")\
        .fetchone()[0]
    conn.close()
    flipped = lab.json("drill", "tamper-audit", "--rowid", str(deny_rowid))
    assert (flipped["column"], flipped["before"], flipped["after"]) == ("decision", "deny", "allow")
    assert verify(lab.state()["db"])[0] == sorted({3, deny_rowid})
    # the live writer keeps chaining after the edit
    lab.json("traffic", "--count", "2")
    assert verify(lab.state()["db"])[1] == []


def test_pii_drill_can_log_the_unredacted_body(fresh_lab):
    # The documented profile: the release answers no upstream, so nothing reaches redaction.
    lab = fresh_lab("start", "--profile", "documented")
    plain = lab.json("drill", "pii", "--count", "2")
    assert plain["logged_unredacted"] is False
    with open(lab.state()["log"], encoding="utf-8") as handle:
        assert "123-45-6789" not in handle.read()
    leaked = lab.json("drill", "pii", "--count", "2", "--log-unredacted")
    assert leaked["logged_unredacted"] is True and leaked["responses_redacted"] == 2
    with open(lab.state()["log"], encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if "Upstream response" in line]
    assert len(lines) == 2 and "123-45-6789" in lines[0]["body"]


def test_the_release_profile_writes_no_audit_database(fresh_lab):
    lab = fresh_lab("start", "--profile", "release")
    lab.json("traffic", "--count", "5")
    assert not os.path.exists(lab.state()["db"])
    assert not [name for name in os.listdir(lab.dir) if ".db" in name]
    refused = lab.run("drill", "audit-db", "--mode", "corrupt", check=False)
    assert refused.returncode == 2 and "writes no audit database" in refused.stderr


def test_audit_db_drill_corrupts_then_deletes(fresh_lab):
    lab = fresh_lab("start", "--profile", "documented")
    lab.json("traffic", "--count", "30")
    db = lab.state()["db"]
    result = lab.json("drill", "audit-db", "--mode", "corrupt")
    assert result["pages"]
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        conn.execute("SELECT COUNT(*), MAX(hash) FROM audit_events").fetchone()
    conn.close()
    with open(db, "rb") as handle:
        assert handle.read(16) == b"SQLite format 3\x00"
    deleted = lab.json("drill", "audit-db", "--mode", "delete")
    assert db in deleted["removed"]
    assert not os.path.exists(db)
