# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_snapshot: consistent copies of a live WAL database, idempotency, check mode, failures."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
import time

import pytest

from ansible_collections.airlock.incident.plugins.modules import audit_snapshot, audit_verify
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

pytest.importorskip("blake3")


def snapshot(path, dest, check_mode=False, **args):
    args.update(path=str(path), dest=str(dest))
    return factory.run_module(audit_snapshot.main, args, check_mode=check_mode)


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "live" / "audit.db"
    path.parent.mkdir()
    factory.build_db(path, events=25)
    return path


@pytest.fixture
def evidence(tmp_path):
    directory = tmp_path / "evidence"
    directory.mkdir()
    return directory


class Writer(threading.Thread):
    """Keeps inserting chained events into the live database, as Airlock does."""

    def __init__(self, path):
        super(Writer, self).__init__()
        self.db = factory.AuditDB(path)
        self.stop = threading.Event()
        self.written = 0
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.db.append_many(3)
                self.written += 3
        except Exception as exc:  # surfaced by the test
            self.error = exc
        finally:
            self.db.close()


def test_snapshot_of_a_live_database_under_a_writer_verifies(db_path, evidence):
    writer = Writer(db_path)
    writer.start()
    try:
        while writer.written < 300:
            time.sleep(0.01)
        result = snapshot(db_path, evidence, incident_id="INC-7")
        written_at_snapshot = writer.written
        while writer.written < written_at_snapshot + 150:  # it kept writing afterwards
            time.sleep(0.01)
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    assert result["changed"] is True and result["integrity_check"] == "ok"
    copy = evidence / "airlock-audit-INC-7.db"
    assert result["dest"] == str(copy)
    assert 25 + 300 <= result["events"]
    assert result["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert result["size"] == copy.stat().st_size
    assert stat.S_IMODE(copy.stat().st_mode) == 0o444
    # one self-contained file: rollback-journal header, no side files, no temp files left
    assert copy.read_bytes()[18:20] == b"\x01\x01"
    assert sorted(os.listdir(str(evidence))) == ["airlock-audit-INC-7.db"]

    check = factory.run_module(audit_verify.main, dict(path=str(copy), expected_head=result["chain_head"],
                                                       expected_events=result["events"]))
    assert check["valid"] is True and check["problem_counts"] == {}
    assert check["events_checked"] == result["events"]
    # the head is the live chain's row at that position: the copy is a prefix of the live chain
    assert factory.hash_of(db_path, result["chain_head_rowid"]) == result["chain_head"]
    live = sqlite3.connect(str(db_path))
    assert live.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0] > result["events"]
    live.close()


def test_source_bytes_and_wal_are_unchanged(tmp_path, evidence):
    path = tmp_path / "audit.db"
    airlock = factory.AuditDB(path, autocheckpoint=False)  # open, with frames in the WAL
    airlock.append_many(60)
    before = [factory.file_bytes(str(path) + suffix) for suffix in ("", "-wal")]
    assert before[1]
    result = snapshot(path, evidence / "copy.db")
    after = [factory.file_bytes(str(path) + suffix) for suffix in ("", "-wal")]
    airlock.close()
    assert result["changed"] is True and result["events"] == 60
    assert after == before


def test_rerun_is_idempotent_and_force_replaces(db_path, evidence):
    first = snapshot(db_path, evidence, incident_id="INC-1")
    copy = evidence / "airlock-audit-INC-1.db"
    mtime = copy.stat().st_mtime_ns
    db = factory.AuditDB(db_path)
    db.append_many(5)
    db.close()

    again = snapshot(db_path, evidence, incident_id="INC-1")
    assert again["changed"] is False
    for key in ("dest", "sha256", "events", "chain_head", "integrity_check", "size"):
        assert again[key] == first[key], key
    assert copy.stat().st_mtime_ns == mtime

    forced = snapshot(db_path, evidence, incident_id="INC-1", force=True)
    assert forced["changed"] is True
    assert forced["events"] == first["events"] + 5 and forced["sha256"] != first["sha256"]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o444
    assert sorted(os.listdir(str(evidence))) == ["airlock-audit-INC-1.db"]


def test_dest_file_path_is_used_as_given(db_path, evidence):
    result = snapshot(db_path, evidence / "audit-copy.sqlite")
    assert result["dest"] == str(evidence / "audit-copy.sqlite") and result["events"] == 25


def test_without_incident_id_the_name_carries_the_time(db_path, evidence):
    result = snapshot(db_path, str(evidence) + os.sep)
    name = os.path.basename(result["dest"])
    assert name.startswith("airlock-audit-") and name.endswith("Z.db")


def test_check_mode_creates_nothing(db_path, evidence):
    result = snapshot(db_path, evidence, check_mode=True, incident_id="INC-2")
    assert result["changed"] is True
    assert result["events"] == 25 and result["sha256"] is None
    assert "would copy" in result["msg"]
    assert os.listdir(str(evidence)) == []

    snapshot(db_path, evidence, incident_id="INC-2")
    again = snapshot(db_path, evidence, check_mode=True, incident_id="INC-2")
    assert again["changed"] is False and again["sha256"]


def test_existing_unrelated_file_is_not_overwritten(db_path, evidence):
    target = evidence / "airlock-audit-INC-3.db"
    target.write_text("operator notes\n")
    result = snapshot(db_path, evidence, incident_id="INC-3")
    assert result["failed"] is True and "force=true" in result["msg"]
    assert target.read_text() == "operator notes\n"


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_refuses_to_write_over_the_source(tmp_path, suffix):
    path = tmp_path / "audit.db"
    writer = factory.AuditDB(path, autocheckpoint=False)
    writer.append_many(3)
    before = factory.file_bytes(str(path) + suffix)
    result = snapshot(path, str(path) + suffix, force=True)
    after = factory.file_bytes(str(path) + suffix)
    writer.close()
    assert result["failed"] is True and "is the source database" in result["msg"]
    assert before is not None and after == before


def test_bad_incident_id_fails_before_anything(db_path, evidence):
    result = snapshot(db_path, evidence, incident_id="../../etc/passwd")
    assert result["failed"] is True and "incident_id" in result["msg"]
    assert os.listdir(str(evidence)) == []


def test_missing_dest_directory(db_path, tmp_path):
    result = snapshot(db_path, tmp_path / "nowhere" / "copy.db")
    assert result["failed"] is True and "does not exist" in result["msg"]


@pytest.mark.parametrize("kind", ["missing", "not_sqlite", "no_schema"])
def test_unusable_sources_fail_cleanly_and_leave_nothing(tmp_path, evidence, kind):
    path = tmp_path / "audit.db"
    if kind == "not_sqlite":
        path.write_text("id,timestamp\n1,2\n")
    elif kind == "no_schema":
        conn = sqlite3.connect(str(path))
        conn.execute("CREATE TABLE t (x)")
        conn.close()
    result = snapshot(path, evidence, incident_id="INC-4")
    assert result["failed"] is True and "Traceback" not in result["msg"]
    assert {"missing": "does not exist", "not_sqlite": "not an SQLite database",
            "no_schema": "no audit_events table"}[kind] in result["msg"]
    assert os.listdir(str(evidence)) == []


def test_locked_source_fails_cleanly(tmp_path, evidence):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=5)
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO audit_metadata (key, value) VALUES ('k', 'v')")
    try:
        result = snapshot(path, evidence, incident_id="INC-5", busy_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result["failed"] is True and "locked" in result["msg"]
    assert os.listdir(str(evidence)) == []


def test_corrupt_source_fails_cleanly_and_leaves_nothing(tmp_path, evidence):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=200)
    data = bytearray(factory.file_bytes(path))
    for offset in range(4096, len(data), 7):
        data[offset] = 0xA5
    path.write_bytes(bytes(data))
    result = snapshot(path, evidence, incident_id="INC-6")
    assert result["failed"] is True and "corrupt" in result["msg"] and "Traceback" not in result["msg"]
    assert os.listdir(str(evidence)) == []
