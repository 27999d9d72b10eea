# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A worker's error is typed (issue #16): a damaged page is salvaged, a lock is reported as a lock.

Decided on the error's type (SQLite's SQLITE_CORRUPT, carried from a forked worker as
``walk.WorkerFailure.corrupt``), never on its text: the databases here live in a directory named
``malformed-corrupt`` so that every message of a lock also contains those words.
"""

from __future__ import annotations

import sqlite3

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import verify as audit_verify_utils
from ansible_collections.airlock.incident.plugins.module_utils.audit import walk as audit_walk
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import AuditDbCorrupt, AuditDbError
from ansible_collections.airlock.incident.plugins.modules import audit_verify
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory
from ansible_collections.airlock.incident.tests.unit.plugins.modules.test_audit_salvage import (
    EVENTS,
    leaf_pages,
    rowids_of_page,
)

pytest.importorskip("blake3")

if audit_walk.fork_context() is None:  # pragma: no cover - every CI platform forks
    pytest.skip("this platform cannot fork worker processes", allow_module_level=True)


@pytest.fixture
def db(tmp_path):
    directory = tmp_path / "malformed-corrupt"
    directory.mkdir()
    path = directory / "audit.db"
    factory.build_db(path, events=EVENTS)
    return path


@pytest.fixture
def small_ranges(monkeypatch):
    """Every run with workers > 1 splits even 600 rows into ranges (the default wants 50,000 per worker)."""
    plan = audit_walk.plan
    monkeypatch.setattr(audit_walk, "plan", lambda low, high, workers, _min_rows: plan(low, high, workers, 1))


def _damage_middle_page(path):
    size, pages = leaf_pages(path)
    page = pages[len(pages) // 2]
    lost = rowids_of_page(path, page)
    with open(str(path), "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xa5" * size)
    return lost


class _Lock:
    """An EXCLUSIVE lock on the database held by another connection (a writer mid-transaction)."""

    def __init__(self, path):
        self.holder = sqlite3.connect(str(path), isolation_level=None)
        self.holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        self.holder.execute("BEGIN EXCLUSIVE")
        self.holder.execute("INSERT INTO audit_metadata (key, value) VALUES ('k', 'v')")

    def release(self):
        self.holder.execute("ROLLBACK")
        self.holder.close()


def _before_workers(monkeypatch, action):
    """``action`` runs once, after the main process planned the ranges and closed its connection and
    before the workers start: whatever stops them happens in the workers only."""
    original = audit_walk.walk_parallel
    done = []

    def walk_parallel(*args, **kwargs):
        if not done:
            done.append(action())
        return original(*args, **kwargs)

    monkeypatch.setattr(audit_walk, "walk_parallel", walk_parallel)
    return done


def test_a_workers_damaged_page_is_salvaged(db, monkeypatch, small_ranges):
    lost = []
    _before_workers(monkeypatch, lambda: lost.extend(_damage_middle_page(db)))
    result = factory.run_module(audit_verify.main, {"path": str(db), "workers": 2})
    assert "failed" not in result, result["msg"]
    assert lost, "the workers did not run"
    assert result["workers"] == 2
    assert result["unreadable"] == [dict(table="audit_events", first_rowid=lost[0], last_rowid=lost[-1],
                                         rowids="%d..%d" % (lost[0], lost[-1]))]
    assert result["events_checked"] == EVENTS - len(lost) and result["valid"] is False


def test_a_workers_lock_is_reported_as_a_lock_not_salvaged(db, monkeypatch, small_ranges):
    locks = _before_workers(monkeypatch, lambda: _Lock(db))
    try:
        result = factory.run_module(audit_verify.main, {"path": str(db), "workers": 2, "busy_timeout": 0.2})
    finally:
        for lock in locks:
            lock.release()
    assert locks, "the workers did not run"
    assert result.get("failed") is True
    assert "is locked by another connection" in result["msg"] and "malformed-corrupt" in result["msg"]
    assert "unreadable" not in result and "Traceback" not in result["msg"]


def test_serial_damaged_page_is_salvaged_and_serial_lock_is_reported(db):
    lock = _Lock(db)
    try:
        result = factory.run_module(audit_verify.main, {"path": str(db), "workers": 1, "busy_timeout": 0.2})
    finally:
        lock.release()
    assert result.get("failed") is True and "is locked by another connection" in result["msg"]
    assert "unreadable" not in result
    lost = _damage_middle_page(db)
    result = factory.run_module(audit_verify.main, {"path": str(db), "workers": 1})
    assert "failed" not in result, result["msg"]
    assert result["workers"] == 1 and result["events_checked"] == EVENTS - len(lost)
    assert result["unreadable"][0]["rowids"] == "%d..%d" % (lost[0], lost[-1])


def test_the_decision_is_the_type_not_the_text():
    corrupt_words = "SQLite error on /x/malformed-corrupt/audit.db: database is locked"
    assert not audit_verify_utils._corrupt(AuditDbError(corrupt_words))
    assert not audit_verify_utils._corrupt(audit_walk.WorkerFailure(False, corrupt_words).error())
    assert audit_verify_utils._corrupt(audit_walk.WorkerFailure(True, "anything").error())
    assert isinstance(audit_walk.WorkerFailure(True, "x").error(), AuditDbCorrupt)
    locked = sqlite3.OperationalError("database is locked: malformed corrupt")
    if hasattr(locked, "sqlite_errorcode"):  # Python 3.11+: SQLite's result code decides
        locked.sqlite_errorcode = 5  # SQLITE_BUSY
        assert not audit_verify_utils._corrupt(locked)
