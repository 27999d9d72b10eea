# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile inputs for audit_query, audit_verify and audit_snapshot (issue #16).

Non-regular files are refused before they block, damaged rows are reported and
the rest is returned, out-of-range values are refused naming the field and the
range, and audit_snapshot checks the source and blames a full destination.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import socket
import sqlite3

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import snapshot as snapshot_utils
from ansible_collections.airlock.incident.plugins.modules import audit_query, audit_snapshot, audit_verify
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

pytest.importorskip("blake3")

MODULES = {
    "audit_query": (audit_query.main, dict(query="events")),
    "audit_verify": (audit_verify.main, dict()),
    "audit_snapshot": (audit_snapshot.main, dict(incident_id="INC-9")),
}


def run(name, path, tmp_path, **extra):
    main, args = MODULES[name]
    args = dict(args, path=str(path), **extra)
    if name == "audit_snapshot":
        dest = tmp_path / "evidence"
        dest.mkdir(exist_ok=True)
        args.setdefault("dest", str(dest))
    return factory.run_module(main, args)


# -- non-regular files are refused before they are opened ------------------------------
@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_fifo_as_the_database_is_refused_not_waited_on(tmp_path, name):
    fifo = tmp_path / "audit.db"
    os.mkfifo(str(fifo))
    result = factory.run_guarded(lambda: run(name, fifo, tmp_path), fifo=fifo)
    assert result["failed"] is True
    assert "path:" in result["msg"] and "FIFO" in result["msg"] and "regular file" in result["msg"], result["msg"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_socket_or_directory_as_the_database_is_refused(tmp_path, name):
    sock_path = tmp_path / "audit.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(sock_path))
        result = run(name, sock_path, tmp_path)
    finally:
        server.close()
    assert result["failed"] is True and "path:" in result["msg"] and "socket" in result["msg"], result["msg"]
    result = run(name, tmp_path, tmp_path)
    assert result["failed"] is True and "path:" in result["msg"] and "directory" in result["msg"], result["msg"]


def test_a_fifo_swapped_in_after_the_type_check_is_refused_on_the_descriptor(tmp_path, monkeypatch):
    """The race: the path passes the stat() check, then becomes a FIFO; the O_NONBLOCK open refuses it."""
    from ansible_collections.airlock.incident.plugins.module_utils.audit import db as audit_db

    fifo = tmp_path / "audit.db"
    os.mkfifo(str(fifo))
    monkeypatch.setattr(audit_db, "check_regular", lambda *args, **kwargs: None)
    result = factory.run_guarded(lambda: run("audit_query", fifo, tmp_path), fifo=fifo)
    assert result["failed"] is True and "path:" in result["msg"] and "FIFO" in result["msg"], result["msg"]


# -- damaged rows: reported by rowid and column, the rest returned ----------------------
@pytest.fixture
def damaged_db(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=6)
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE audit_events SET subject = X'ff00fe', decision = 'deny' WHERE rowid = 2")
    conn.execute("UPDATE audit_events SET reason = CAST(X'6f6b80' AS TEXT) WHERE rowid = 3")
    conn.execute("UPDATE audit_events SET metadata = X'7b2280' WHERE rowid = 4")
    conn.commit()
    conn.close()
    return path


def test_a_non_utf8_blob_does_not_fail_the_query(damaged_db, tmp_path):
    result = run("audit_query", damaged_db, tmp_path)
    assert "failed" not in result, result.get("msg")
    assert result["total"] == 6 and len(result["rows"]) == 6
    damaged = dict(((item["rowid"], item["column"]), item) for item in result["damaged_rows"])
    assert set(damaged) == {(2, "subject"), (3, "reason"), (4, "metadata")}
    assert result["damaged_count"] == 3 and "damaged" in result["msg"]
    rows = dict((row["rowid"], row) for row in result["rows"])
    assert rows[2]["subject"] == "\ufffd\x00\ufffd" and rows[3]["reason"] == "ok\ufffd"
    assert rows[4]["metadata"] == '{"\ufffd'
    assert rows[5]["subject"] and "damaged_rows" in json.dumps(result)


def test_a_damaged_group_key_is_reported_by_row(damaged_db, tmp_path):
    result = run("audit_query", damaged_db, tmp_path, query="deny_patterns")
    assert "failed" not in result, result.get("msg")
    assert [(item["rowid"], item["column"]) for item in result["damaged_rows"]] == [(None, "subject")]
    assert result["rows"][result["damaged_rows"][0]["row"] - 1]["subject"] == "\ufffd\x00\ufffd"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_exports_of_damaged_rows_finish_and_leave_no_temp_file(damaged_db, tmp_path, fmt):
    out = tmp_path / "out"
    out.mkdir()
    target = out / ("events." + fmt)
    result = run("audit_query", damaged_db, tmp_path, export_path=str(target), export_format=fmt)
    assert "failed" not in result, result.get("msg")
    assert result["exported_rows"] == 6 and os.listdir(str(out)) == [target.name]
    with open(str(target), encoding="utf-8", newline="") as handle:
        if fmt == "jsonl":
            rows = [json.loads(line) for line in handle]
        else:
            rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and rows[1]["subject"] == "\ufffd\x00\ufffd"


def test_an_export_that_fails_midway_leaves_no_temp_file(damaged_db, tmp_path, monkeypatch):
    from ansible_collections.airlock.incident.plugins.module_utils.audit import export as audit_export

    def broken(self, row):
        raise OSError(errno.EIO, "simulated write error")

    monkeypatch.setattr(audit_export.Export, "write", broken)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError):
        run("audit_query", damaged_db, tmp_path, export_path=str(out / "e.jsonl"), export_format="jsonl")
    assert os.listdir(str(out)) == []


def test_verify_reports_unreadable_rows_by_rowid_and_walks_the_rest(damaged_db, tmp_path):
    result = run("audit_verify", damaged_db, tmp_path, max_problems=50)
    assert "failed" not in result, result.get("msg")
    assert result["events_checked"] == 6 and result["valid"] is False
    assert sorted(set(p["rowid"] for p in result["problems"] if p["kind"] == "content_mismatch")) == [2, 3, 4]


# -- out-of-range values are refused naming the field and the accepted range ------------
RANGE = "1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z"


@pytest.mark.parametrize("args, words", [
    (dict(since="1000000d"), ["since", "106751d"]),
    (dict(since="106751d", end="1700-01-01T00:00:00Z"), ["since", RANGE]),
    (dict(start="0001-01-01T00:00:00Z"), ["start", RANGE]),
    (dict(start="9999-12-31T23:59:59Z"), ["start", RANGE]),
    (dict(start="10000-01-01T00:00:00Z"), ["start", "RFC 3339"]),
    (dict(end="0000-01-01T00:00:00Z"), ["end", "years 0001 to 9999"]),
    (dict(limit=10 ** 25), ["limit", "an integer from -9223372036854775808 to 9223372036854775807"]),
    (dict(limit=2 ** 63 - 1), ["limit", "0 to 9223372036854775806"]),
    (dict(busy_timeout="inf"), ["busy_timeout", "0 to 2147483 seconds"]),
    (dict(busy_timeout="nan"), ["busy_timeout", "0 to 2147483 seconds"]),
    (dict(busy_timeout=-1), ["busy_timeout", "0 to 2147483 seconds"]),
    (dict(busy_timeout=1e12), ["busy_timeout", "0 to 2147483 seconds"]),
])
def test_query_refuses_out_of_range_values_before_opening(tmp_path, args, words):
    result = run("audit_query", tmp_path / "does-not-exist.db", tmp_path, **args)
    assert result["failed"] is True and "does not exist" not in result["msg"]
    for word in words:
        assert word in result["msg"], result["msg"]


@pytest.mark.parametrize("name, args, words", [
    ("audit_verify", dict(busy_timeout="inf"), ["busy_timeout", "2147483"]),
    ("audit_verify", dict(max_problems=10 ** 25), ["max_problems", "9223372036854775807"]),
    ("audit_verify", dict(expected_events=10 ** 25), ["expected_events", "9223372036854775807"]),
    ("audit_snapshot", dict(busy_timeout="nan"), ["busy_timeout", "2147483"]),
    ("audit_snapshot", dict(busy_timeout=1e12), ["busy_timeout", "2147483"]),
])
def test_verify_and_snapshot_refuse_out_of_range_values(tmp_path, name, args, words):
    result = run(name, tmp_path / "does-not-exist.db", tmp_path, **args)
    assert result["failed"] is True and "does not exist" not in result["msg"]
    for word in words:
        assert word in result["msg"], result["msg"]


def test_values_at_the_edges_of_the_ranges_are_accepted(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=3)
    result = run("audit_query", path, tmp_path, limit=9223372036854775806, busy_timeout=2147483,
                 start="1677-09-21T00:12:43.145224192Z", end="2262-04-11T23:47:16.854775807Z")
    assert "failed" not in result and result["total"] == 3, result.get("msg")
    assert run("audit_query", path, tmp_path, since="106751d")["total"] == 3


# -- audit_snapshot: an existing destination is compared with the source ----------------
@pytest.fixture
def snap_setup(tmp_path):
    source = tmp_path / "live" / "audit.db"
    source.parent.mkdir()
    factory.build_db(source, events=10)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    return source, evidence


def snapshot(path, dest, **args):
    args.update(path=str(path), dest=str(dest))
    return factory.run_module(audit_snapshot.main, args)


def test_existing_snapshot_is_checked_against_the_source(snap_setup):
    source, evidence = snap_setup
    first = snapshot(source, evidence, incident_id="INC-1")
    db = factory.AuditDB(source)
    db.append_many(4)
    db.close()
    again = snapshot(source, evidence, incident_id="INC-1")
    assert again["changed"] is False and again["events"] == first["events"] == 10
    assert again["source_events"] == 14 and again["source_chain_head"] != first["chain_head"]
    assert "4 newer" in again["msg"] and "force=true" in again["msg"]


def test_existing_snapshot_of_another_database_is_not_reported_as_done(snap_setup, tmp_path):
    source, evidence = snap_setup
    other = tmp_path / "other.db"
    factory.build_db(other, events=5, salt_hex="11" * 32)
    snapshot(other, evidence / "copy.db")
    before = factory.file_bytes(evidence / "copy.db")
    result = snapshot(source, evidence / "copy.db")
    assert result["failed"] is True and "dest:" in result["msg"] and "not a snapshot of" in result["msg"]
    assert factory.file_bytes(evidence / "copy.db") == before


def test_existing_snapshot_with_an_unreadable_source_fails(snap_setup, tmp_path):
    source, evidence = snap_setup
    snapshot(source, evidence, incident_id="INC-1")
    result = snapshot(tmp_path / "gone.db", evidence, incident_id="INC-1")
    assert result["failed"] is True and "does not exist" in result["msg"]


@pytest.mark.parametrize("how", ["sqlite_full", "fsync_enospc", "edquot"])
def test_a_full_destination_is_blamed_not_the_source(snap_setup, monkeypatch, how):
    source, evidence = snap_setup
    if how == "sqlite_full":
        def full(*_args, **_kwargs):
            raise sqlite3.OperationalError("database or disk is full")
        monkeypatch.setattr(snapshot_utils, "_backup", full)
    else:
        code = errno.ENOSPC if how == "fsync_enospc" else getattr(errno, "EDQUOT", errno.ENOSPC)
        real_fsync = os.fsync

        def fsync(fd):
            if os.path.basename(os.readlink("/proc/self/fd/%d" % fd)).endswith(".part"):
                raise OSError(code, os.strerror(code))
            return real_fsync(fd)
        if not os.path.isdir("/proc/self/fd"):
            pytest.skip("needs /proc/self/fd")
        monkeypatch.setattr(os, "fsync", fsync)
    result = snapshot(source, evidence, incident_id="INC-1")
    assert result["failed"] is True
    assert result["msg"].startswith("dest:") and "destination file system is full" in result["msg"], result["msg"]
    assert "corrupt" not in result["msg"] and "locked" not in result["msg"]
    assert os.listdir(str(evidence)) == []
