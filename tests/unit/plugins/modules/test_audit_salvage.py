# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A corrupt SQLite page does not stop audit_verify or audit_query (issue #16, damaged data).

A leaf page of ``audit_events`` is overwritten in a real database; the modules
must report the rowids they could not read and finish with every other row.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import salvage
from ansible_collections.airlock.incident.plugins.modules import audit_query, audit_verify
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

pytest.importorskip("blake3")

EVENTS = 600


def leaf_pages(path):
    conn = sqlite3.connect(str(path))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [row[0] for row in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'audit_events' AND pagetype = 'leaf' ORDER BY pageno")]
        rowids = {}
        for page in pages:
            rowids[page] = None
        return size, pages
    finally:
        conn.close()


def rowids_of_page(path, page):
    """The rowids stored on a table leaf page, read from the intact file (SQLite's own page layout)."""
    conn = sqlite3.connect(str(path))
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    with open(str(path), "rb") as handle:
        handle.seek((page - 1) * size)
        data = handle.read(size)
    assert data[0] == 13, "not a table leaf page"
    cells = int.from_bytes(data[3:5], "big")
    found = []
    for index in range(cells):
        offset = int.from_bytes(data[8 + 2 * index:10 + 2 * index], "big")
        offset = varint(data, offset)[1]  # past the payload size
        rowid = varint(data, offset)[0]
        found.append(rowid)
    return found


def varint(data, offset):
    value = 0
    for index in range(9):
        byte = data[offset + index]
        if index == 8:
            return (value << 8) | byte, offset + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, offset + index + 1
    raise AssertionError("unreachable")


@pytest.fixture
def damaged(tmp_path):
    """A 600-event database whose middle leaf page of audit_events is garbage; (path, its rowids)."""
    path = tmp_path / "audit.db"
    factory.build_db(path, events=EVENTS)
    size, pages = leaf_pages(path)
    page = pages[len(pages) // 2]
    lost = rowids_of_page(path, page)
    assert lost and 1 < lost[0] and lost[-1] < EVENTS
    with open(str(path), "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xa5" * size)
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        conn.execute("SELECT * FROM audit_events ORDER BY rowid").fetchall()
    conn.close()
    return path, lost


def digest(path):
    with open(str(path), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_verify_reports_the_unreadable_rowids_and_checks_the_rest(damaged):
    path, lost = damaged
    before = digest(path)
    result = factory.run_module(audit_verify.main, {"path": str(path)})
    assert result["unreadable"] == [dict(table="audit_events", first_rowid=lost[0], last_rowid=lost[-1],
                                         rowids="%d..%d" % (lost[0], lost[-1]))]
    assert result["events_checked"] == EVENTS - len(lost)
    assert result["valid"] is False
    assert result["last_rowid"] == EVENTS
    # the row after the hole names a parent that could not be read: one link break, every other row verified
    assert result["problem_counts"] == {"link_break": 1}
    assert "unreadable (damaged pages)" in result["msg"] and "%d..%d" % (lost[0], lost[-1]) in result["msg"]
    assert digest(path) == before, "the audit database was modified"


def test_query_returns_every_readable_row_and_exports_them_once(damaged, tmp_path):
    path, lost = damaged
    export = tmp_path / "events.jsonl"
    result = factory.run_module(audit_query.main, {"path": str(path), "query": "events", "limit": 10000,
                                                   "export_path": str(export), "export_format": "jsonl"})
    assert "failed" not in result, result["msg"]
    assert result["unreadable"][0]["first_rowid"] == lost[0] and result["unreadable"][0]["last_rowid"] == lost[-1]
    assert result["total"] == EVENTS - len(lost) == len(result["rows"])
    lines = export.read_text().splitlines()
    assert len(lines) == EVENTS - len(lost)
    ids = [json.loads(line)["id"] for line in lines]
    assert len(set(ids)) == len(ids)
    assert [name for name in os.listdir(str(tmp_path)) if name.endswith(".tmp")] == []
    assert "unreadable" in result["msg"]


def test_an_intact_database_reports_nothing_unreadable(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=30)
    result = factory.run_module(audit_verify.main, {"path": str(path)})
    assert result["unreadable"] == [] and result["valid"] is True
    result = factory.run_module(audit_query.main, {"path": str(path), "query": "events"})
    assert result["unreadable"] == [] and "unreadable" not in result["msg"]


def test_other_errors_are_not_salvaged(tmp_path):
    conn = sqlite3.connect(":memory:")

    def work(_conn):
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError):
        salvage.salvaging(conn, work)


def test_a_damaged_first_and_last_page_are_bounded_by_start_and_end(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=EVENTS)
    size, pages = leaf_pages(path)
    ordered = sorted(pages, key=lambda page: rowids_of_page(path, page)[0])
    first, last = ordered[0], ordered[-1]
    first_rows, last_rows = rowids_of_page(path, first), rowids_of_page(path, last)
    with open(str(path), "r+b") as handle:
        for page in (first, last):
            handle.seek((page - 1) * size)
            handle.write(b"\x00" * 8 + b"\xa5" * (size - 8))
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, isolation_level=None)
    unreadable = []
    rows = list(salvage.readable_rows(conn, "audit_events", ["id"], unreadable))
    conn.close()
    assert [row[0] for row in rows] == list(range(first_rows[-1] + 1, last_rows[0]))
    assert [item.as_dict()["rowids"] for item in unreadable] == ["start..%d" % first_rows[-1],
                                                                 "%d..end" % last_rows[0]]


def test_a_corrupt_index_page_loses_no_row(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=EVENTS)
    conn = sqlite3.connect(str(path))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    page = conn.execute("SELECT pageno FROM dbstat WHERE name = 'idx_audit_timestamp' AND pagetype = 'leaf' "
                        "ORDER BY pageno").fetchall()[1][0]
    conn.close()
    with open(str(path), "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xa5" * size)
    result = factory.run_module(audit_query.main, {"path": str(path), "query": "events", "limit": 10000,
                                                   "start": "2000-01-01T00:00:00Z"})
    assert "failed" not in result, result["msg"]
    assert result["total"] == EVENTS and result["unreadable"] == []


# -- negative rowids (SQLite rowids are signed 64-bit) -------------------------------------------------------
SHIFT = 400


def signed(rowid):
    return rowid - (1 << 64) if rowid >= (1 << 63) else rowid


def _renumbered_db(path):
    """600 events renumbered to rowids -399..200 (same order, same chain)."""
    factory.build_db(path, events=EVENTS)
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE audit_events SET rowid = rowid - ?", (SHIFT,))
    conn.commit()
    conn.close()


def _negative_db(path):
    """600 events renumbered to rowids -399..200 (same order, same chain); a leaf page of negative rowids
    (not the first) overwritten; returns the lost rowids."""
    _renumbered_db(path)
    size, pages = leaf_pages(path)
    by_first = sorted(pages, key=lambda page: signed(rowids_of_page(path, page)[0]))
    page = next(page for page in by_first[1:] if signed(rowids_of_page(path, page)[-1]) < -20)
    lost = [signed(rowid) for rowid in rowids_of_page(path, page)]
    assert lost[0] > -SHIFT + 1 and lost[-1] < 0
    with open(str(path), "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xa5" * size)
    return lost


def test_negative_rowids_after_a_damaged_page_are_salvaged(tmp_path):
    path = tmp_path / "audit.db"
    lost = _negative_db(path)
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, isolation_level=None)
    unreadable = []
    rows = [row[0] for row in salvage.readable_rows(conn, "audit_events", ["id"], unreadable)]
    conn.close()
    everything = list(range(1 - SHIFT, EVENTS - SHIFT + 1))
    assert rows == [rowid for rowid in everything if rowid not in lost]
    assert [item.as_dict()["rowids"] for item in unreadable] == ["%d..%d" % (lost[0], lost[-1])]
    before = digest(path)
    result = factory.run_module(audit_verify.main, {"path": str(path), "workers": 1})
    assert result["unreadable"] == [dict(table="audit_events", first_rowid=lost[0], last_rowid=lost[-1],
                                         rowids="%d..%d" % (lost[0], lost[-1]))]
    assert result["events_checked"] == EVENTS - len(lost)
    assert result["first_rowid"] == 1 - SHIFT and result["last_rowid"] == EVENTS - SHIFT
    assert result["problem_counts"] == {"link_break": 1} and result["valid"] is False
    assert digest(path) == before


def test_a_damaged_first_page_of_negative_rowids_is_bounded_by_start(tmp_path):
    path = tmp_path / "audit.db"
    _renumbered_db(path)
    size, pages = leaf_pages(path)
    first = min(pages, key=lambda page: signed(rowids_of_page(path, page)[0]))
    first_rows = [signed(rowid) for rowid in rowids_of_page(path, first)]
    with open(str(path), "r+b") as handle:
        handle.seek((first - 1) * size)
        handle.write(b"\x00" * 8 + b"\xa5" * (size - 8))
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, isolation_level=None)
    unreadable = []
    rows = [row[0] for row in salvage.readable_rows(conn, "audit_events", ["id"], unreadable)]
    conn.close()
    assert rows == list(range(first_rows[-1] + 1, EVENTS - SHIFT + 1))
    assert [item.as_dict()["rowids"] for item in unreadable] == ["start..%d" % first_rows[-1]]


def test_the_search_probes_every_power_of_two_near_zero():
    landmarks = []
    value = salvage.INT64_MIN
    while value < salvage.INT64_MAX:
        value = salvage._landmark_after(value)
        landmarks.append(value)
    assert landmarks[:2] == [-(2 ** 62), -(2 ** 61)]
    assert landmarks[61:66] == [-2, -1, 0, 1, 2]
    assert landmarks[-2:] == [2 ** 62, 2 ** 63 - 1]
    assert landmarks == sorted(set(landmarks))
