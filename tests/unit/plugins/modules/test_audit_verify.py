# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_verify on real SQLite databases built with Airlock's schema, clean and tampered."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit.chain import event_hash
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns
from ansible_collections.airlock.incident.plugins.modules import audit_verify
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

pytest.importorskip("blake3")

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "module_utils", "fixtures", "go_json_vectors.json")


def verify(path, **args):
    args["path"] = str(path)
    return factory.run_module(audit_verify.main, args)


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=30)
    return path


def test_clean_chain_is_valid(db_path):
    db = factory.AuditDB(db_path)
    head, count = db.head(), db.count()
    db.close()
    result = verify(db_path)
    assert result["valid"] is True
    assert result["changed"] is False
    assert result["events_checked"] == count == 30
    assert result["chain_head"] == head
    assert result["problems"] == [] and result["problem_counts"] == {}
    assert (result["first_rowid"], result["last_rowid"]) == (1, 30)


def test_rows_hashed_over_go_payloads_verify(tmp_path):
    """Rows whose stored hash is BLAKE3 over Go's own payload bytes (awkward strings, invalid
    UTF-8, null/empty metadata) must not be reported as content mismatches."""
    with open(FIXTURE) as handle:
        vectors = json.load(handle)["vectors"]
    path = tmp_path / "vectors.db"
    db = factory.AuditDB(path)
    salt = db.salt
    for vector in vectors:
        payload = bytes.fromhex(vector["payload_hex"])
        payload = payload.replace(b"\\u0008", b"\\b").replace(b"\\u000c", b"\\f")  # Go >= 1.22
        field = dict((name, bytes.fromhex(vector[name + "_hex"]))
                     for name in ("id", "correlation_id", "tenant", "subject", "action", "resource",
                                  "decision", "reason", "metadata", "previous_hash"))
        db.conn.execute(
            "INSERT INTO audit_events (id, timestamp, correlation_id, tenant, subject, action, resource, decision, "
            "reason, metadata, hash, previous_hash, latency_ms, redaction_count) VALUES (CAST(? AS TEXT), ?, "
            "CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), "
            "CAST(? AS TEXT), CAST(? AS TEXT), ?, CAST(? AS TEXT), ?, ?)",
            (field["id"], vector["timestamp"], field["correlation_id"], field["tenant"], field["subject"],
             field["action"], field["resource"], field["decision"], field["reason"], field["metadata"],
             event_hash(salt, payload), field["previous_hash"], vector["latency_ms"], vector["redaction_count"]))
    db.close()
    result = verify(path)
    assert result["events_checked"] == 4
    # The vectors' previous_hash values are not a chain ('', 'abc', 'def', ''), so links are
    # reported, but every content hash must match Go's bytes.
    assert "content_mismatch" not in result["problem_counts"]
    assert result["problem_counts"]["extra_genesis"] == 1


def test_edited_content_is_a_content_mismatch(db_path):
    factory.edit_content(db_path, 12, subject="mallory@example.com")
    result = verify(db_path)
    assert result["valid"] is False
    assert result["problem_counts"] == {"content_mismatch": 1}
    problem = result["problems"][0]
    assert (problem["kind"], problem["rowid"], problem["event_id"]) == ("content_mismatch", 12, "evt-00000012")


def test_edited_metadata_text_is_caught_even_when_json_is_equivalent(db_path):
    # Same JSON value, different text: Airlock hashed the text, so this is tampering.
    factory.edit_content(db_path, 5, metadata='{ "tool": "read_file" }')
    result = verify(db_path)
    assert result["problem_counts"] == {"content_mismatch": 1}
    assert result["problems"][0]["rowid"] == 5


def test_deleted_row_is_a_link_break_at_the_next_row(db_path):
    factory.delete_rows(db_path, 17)
    result = verify(db_path)
    assert result["valid"] is False
    assert result["problem_counts"] == {"link_break": 1}
    problem = result["problems"][0]
    assert problem["rowid"] == 18
    assert "rowids 17..17 are missing" in problem["detail"]
    assert result["events_checked"] == 29


def test_rehashed_row_breaks_the_link_of_the_next_row(db_path):
    factory.rehash_row(db_path, 9, reason="nothing to see")
    result = verify(db_path)
    assert result["valid"] is False
    assert result["problem_counts"] == {"link_break": 1}
    problem = result["problems"][0]
    assert problem["rowid"] == 10
    assert "re-hashed" in problem["detail"]


def test_rewritten_chain_is_caught_only_by_the_recorded_head(db_path):
    recorded_head = factory.hash_of(db_path, 30)
    new_head = factory.rewrite_chain(db_path, 10, subject="someone-else@example.com")
    assert new_head != recorded_head
    assert verify(db_path)["valid"] is True  # self-consistent forgery

    result = verify(db_path, expected_head=recorded_head, expected_events=30)
    assert result["valid"] is False
    assert result["problem_counts"] == {"head_mismatch": 1}
    assert result["problems"][0]["rowid"] == 30
    assert "rewritten" in result["problems"][0]["detail"]

    result = verify(db_path, expected_head=recorded_head)
    assert result["valid"] is False and result["problem_counts"] == {"head_mismatch": 1}


def test_recorded_head_still_verifies_after_the_chain_grew(db_path):
    recorded_head = factory.hash_of(db_path, 30)
    db = factory.AuditDB(db_path)
    db.append_many(5)
    db.close()
    result = verify(db_path, expected_head=recorded_head.upper(), expected_events=30)
    assert result["valid"] is True and result["problem_counts"] == {}
    assert result["events_checked"] == 35


def test_truncated_self_consistent_chain_is_caught_by_expected_events(db_path):
    recorded_head = factory.hash_of(db_path, 30)
    factory.delete_rows(db_path, 26, 27, 28, 29, 30)
    assert verify(db_path)["valid"] is True
    result = verify(db_path, expected_events=30)
    assert result["valid"] is False and result["problem_counts"] == {"head_mismatch": 1}
    assert "truncated" in result["problems"][0]["detail"]
    result = verify(db_path, expected_head=recorded_head)
    assert result["valid"] is False and result["problem_counts"] == {"head_mismatch": 1}


def test_fork_is_reported(db_path):
    fork_rowid = factory.add_fork(db_path, parent_rowid=20)
    result = verify(db_path)
    assert result["valid"] is False
    assert result["problem_counts"]["fork"] == 1
    fork = [p for p in result["problems"] if p["kind"] == "fork"][0]
    assert fork["rowid"] == fork_rowid and fork["event_id"] == "evt-fork"
    assert "rowids 21..%d" % fork_rowid in fork["detail"] and "(rowid 20)" in fork["detail"]


def test_second_genesis_is_reported(db_path):
    rowid = factory.add_genesis(db_path)
    result = verify(db_path)
    assert result["valid"] is False
    assert result["problem_counts"] == {"extra_genesis": 1}
    assert result["problems"][0]["rowid"] == rowid


def test_retention_trimmed_start_is_informational(db_path):
    cutoff = factory.timestamp_of(db_path, 11)
    removed = factory.retention_trim(db_path, cutoff)
    assert removed == 10
    result = verify(db_path)
    assert result["valid"] is True
    assert result["problem_counts"] == {"dangling_parent": 1}
    assert result["problems"][0]["rowid"] == 11
    assert format_ns(cutoff) in result["problems"][0]["detail"]
    assert result["events_checked"] == 20


def test_tombstones_surviving_retention_are_informational(tmp_path):
    path = tmp_path / "audit.db"
    db = factory.AuditDB(path)
    db.append_many(5)
    db.tombstone("bob@example.com")      # rowid 6
    db.append_many(5)
    db.tombstone("carol@example.com")    # rowid 12
    db.append_many(10)                   # rowids 13..22
    db.close()
    factory.retention_trim(path, factory.timestamp_of(path, 16))
    conn = sqlite3.connect(str(path))
    survivors = [r[0] for r in conn.execute("SELECT rowid FROM audit_events ORDER BY rowid")]
    conn.close()
    assert survivors == [6, 12] + list(range(16, 23))

    result = verify(path)
    assert result["valid"] is True
    assert result["problem_counts"] == {"dangling_parent": 3}
    assert [p["rowid"] for p in result["problems"]] == [6, 12, 16]
    assert "tombstone" in result["problems"][2]["detail"]


def test_deleting_the_row_after_a_recent_tombstone_is_still_tampering(tmp_path):
    path = tmp_path / "audit.db"
    db = factory.AuditDB(path)
    db.append_many(10)
    db.tombstone("bob@example.com")      # rowid 11
    db.append_many(10)
    db.close()
    factory.delete_rows(path, 12)
    result = verify(path)
    assert result["valid"] is False
    assert result["problem_counts"] == {"link_break": 1}
    assert result["problems"][0]["rowid"] == 13


def test_reordered_rows_are_link_breaks_not_retention(db_path):
    # Move the genesis row to the end: the new first row's parent exists, later in the table.
    conn = sqlite3.connect(str(db_path))
    conn.execute("UPDATE audit_events SET rowid = 100 WHERE rowid = 1")
    conn.commit()
    conn.close()
    result = verify(db_path)
    assert result["valid"] is False
    assert result["problem_counts"] == {"link_break": 1, "extra_genesis": 1}
    first = result["problems"][0]
    assert first["rowid"] == 2 and "rowid 100" in first["detail"]


def test_problems_are_capped_and_counted(db_path):
    for rowid in (25, 3, 14, 7, 20):
        factory.edit_content(db_path, rowid, reason="edited")
    result = verify(db_path, max_problems=3)
    assert result["problem_counts"] == {"content_mismatch": 5}
    assert [p["rowid"] for p in result["problems"]] == [3, 7, 14]
    assert result["problems_truncated"] is True


def test_garbage_values_are_problems_not_crashes(db_path):
    conn = sqlite3.connect(str(db_path))
    conn.execute("UPDATE audit_events SET timestamp = 'yesterday' WHERE rowid = 4")
    conn.execute("UPDATE audit_events SET latency_ms = NULL, metadata = NULL WHERE rowid = 6")
    conn.execute("UPDATE audit_events SET hash = X'00ff' WHERE rowid = 8")
    conn.commit()
    conn.close()
    result = verify(db_path)
    assert result["valid"] is False
    assert [p["rowid"] for p in result["problems"] if p["kind"] == "content_mismatch"] == [4, 6, 8]


def test_null_previous_hash_on_the_first_row_is_not_retention(db_path):
    # A rebuilt table without Airlock's NOT NULL constraints, holding a NULL parent.
    conn = sqlite3.connect(str(db_path))
    conn.executescript("CREATE TABLE rebuilt AS SELECT * FROM audit_events ORDER BY rowid; "
                       "DROP TABLE audit_events; ALTER TABLE rebuilt RENAME TO audit_events; "
                       "UPDATE audit_events SET previous_hash = NULL WHERE rowid = 1;")
    conn.close()
    result = verify(db_path)
    assert result["valid"] is False
    assert result["problems"][0]["kind"] in ("content_mismatch", "link_break")
    assert "dangling_parent" not in result["problem_counts"]
    assert result["problem_counts"]["link_break"] == 1


def test_null_metadata_and_latency_hash_like_go(tmp_path):
    # Go writes a nil map as null and a NULL integer would be 0: the slow path must agree.
    path = tmp_path / "audit.db"
    db = factory.AuditDB(path)
    db.append("login", metadata=None, latency_ms=0)
    db.close()
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE audit_events SET metadata = NULL, latency_ms = NULL")
    conn.commit()
    conn.close()
    assert verify(path)["valid"] is True


def test_empty_database_is_valid_and_has_no_head(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=0)
    result = verify(path)
    assert result["valid"] is True and result["events_checked"] == 0 and result["chain_head"] is None


def test_source_files_are_not_modified(tmp_path):
    path = tmp_path / "audit.db"
    writer = factory.AuditDB(path, autocheckpoint=False)  # keeps a -wal file with frames, like Airlock
    writer.append_many(40)
    before = [factory.file_bytes(str(path) + suffix) for suffix in ("", "-wal")]
    assert before[1]  # the WAL really holds data
    result = verify(path)
    after = [factory.file_bytes(str(path) + suffix) for suffix in ("", "-wal")]
    writer.close()
    assert result["valid"] is True and result["events_checked"] == 40
    assert after == before


def test_check_mode_gives_the_same_answer(db_path):
    factory.edit_content(db_path, 2, subject="x")
    normal = verify(db_path)
    checked = factory.run_module(audit_verify.main, dict(path=str(db_path)), check_mode=True)
    assert checked["valid"] is False and checked["problem_counts"] == normal["problem_counts"]


# -- files that are not a usable audit database: clean failures --------------
def _assert_clean_failure(result, *words):
    assert result.get("failed") is True, result
    assert "exception" not in result and "Traceback" not in result["msg"]
    for word in words:
        assert word in result["msg"], result["msg"]


def test_missing_file(tmp_path):
    result = verify(tmp_path / "nope.db")
    _assert_clean_failure(result, "does not exist")
    assert not (tmp_path / "nope.db").exists()


def test_not_sqlite(tmp_path):
    path = tmp_path / "audit.db"
    path.write_text("this is a CSV export, not a database\n")
    _assert_clean_failure(verify(path), "not an SQLite database")


def test_empty_file(tmp_path):
    path = tmp_path / "audit.db"
    path.write_bytes(b"")
    _assert_clean_failure(verify(path), "empty")


def test_corrupt_file(db_path):
    data = bytearray(factory.file_bytes(db_path))
    page = 4096
    for offset in range(page, len(data), 7):
        data[offset] = 0xA5
    with open(str(db_path), "wb") as handle:
        handle.write(bytes(data[:16]) + bytes(data[16:]))
    _assert_clean_failure(verify(db_path), "corrupt")


def test_sqlite_without_airlock_schema(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE notes (x)")
    conn.close()
    _assert_clean_failure(verify(path), "no audit_events table")


def test_missing_salt(tmp_path):
    path = tmp_path / "audit.db"
    db = factory.AuditDB(path, with_salt=False)
    db.append_many(3)
    db.close()
    _assert_clean_failure(verify(path), "hasher_salt")


def test_malformed_salt(db_path):
    conn = sqlite3.connect(str(db_path))
    conn.execute("UPDATE audit_metadata SET value = 'XYZ' WHERE key = 'hasher_salt'")
    conn.commit()
    conn.close()
    _assert_clean_failure(verify(db_path), "hasher_salt is malformed")


def test_locked_database(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=5)
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO audit_metadata (key, value) VALUES ('k', 'v')")
    try:
        result = verify(path, busy_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _assert_clean_failure(result, "locked")


def test_bad_expected_head_fails_before_opening(tmp_path):
    result = verify(tmp_path / "nope.db", expected_head="not-a-hash")
    _assert_clean_failure(result, "expected_head")
