# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parallel verification gives the single-worker answer, item for item (issue #15), on damaged chains."""

from __future__ import annotations

import os
import sqlite3
import tempfile

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import walk as audit_walk
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import open_readonly, read_salt
from ansible_collections.airlock.incident.plugins.module_utils.audit.verify import verify_chain, verify_path
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("blake3")
st = hypothesis.strategies

if audit_walk.fork_context() is None:  # pragma: no cover - every CI platform forks
    pytest.skip("this platform cannot fork worker processes", allow_module_level=True)


def serial(path, **options):
    conn = open_readonly(str(path))
    try:
        return verify_chain(conn, read_salt(conn, str(path)), **options)
    finally:
        conn.close()


def parallel(path, workers, **options):
    return verify_path(str(path), 5.0, workers=workers, min_rows_per_worker=1, **options)


def same(first, second):
    first, second = dict(first), dict(second)
    first.pop("workers"), second.pop("workers")
    assert first == second


def _garbage(path, rowid):
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE audit_events SET latency_ms = 'slow', previous_hash = X'00ff' WHERE rowid = ?", (rowid,))
    conn.commit()
    conn.close()


def _damage(path, action, rowid):
    try:
        _damage_once(path, action, rowid)
    except sqlite3.IntegrityError:  # the same fork or genesis row twice: once is enough
        pass


def _damage_once(path, action, rowid):
    """One kind of damage at (about) ``rowid``; ignores rows that are gone."""
    exists = sqlite3.connect(str(path)).execute("SELECT 1 FROM audit_events WHERE rowid = ?", (rowid,)).fetchone()
    if not exists:
        return
    if action == "edit":
        factory.edit_content(path, rowid, subject="mallory@example.com")
    elif action == "delete":
        factory.delete_rows(path, rowid)
    elif action == "rehash":
        factory.rehash_row(path, rowid, reason="nothing to see")
    elif action == "fork":
        factory.add_fork(path, parent_rowid=rowid, event_id="evt-fork-%d" % rowid)
    elif action == "genesis":
        factory.add_genesis(path, event_id="evt-genesis-%d" % rowid)
    elif action == "retention":
        factory.retention_trim(path, factory.timestamp_of(path, rowid))
    elif action == "garbage":
        _garbage(path, rowid)


damages = st.lists(st.tuples(st.sampled_from(["edit", "delete", "rehash", "fork", "genesis", "retention",
                                              "garbage"]),
                             st.integers(min_value=1, max_value=60)), max_size=8)


@hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
@hypothesis.given(events=st.integers(min_value=0, max_value=60), damage=damages,
                  workers=st.integers(min_value=2, max_value=5), max_problems=st.integers(min_value=0, max_value=6),
                  lookups=st.sampled_from([0, 1, 3, audit_walk.DETAIL_LOOKUPS]))
def test_parallel_equals_serial_on_random_damaged_chains(events, damage, workers, max_problems, lookups):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "audit.db")
        factory.build_db(path, events=events)
        for action, rowid in damage:
            _damage(path, action, rowid)
        saved = audit_walk.DETAIL_LOOKUPS
        audit_walk.DETAIL_LOOKUPS = lookups
        try:
            expected = serial(path, max_problems=max_problems)
            got = parallel(path, workers, max_problems=max_problems)
        finally:
            audit_walk.DETAIL_LOOKUPS = saved
        assert got["workers"] == workers or got["events_checked"] <= 1
        same(expected, got)


def test_parallel_finds_a_break_on_a_range_boundary(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=40)
    # Four ranges of ten rowids: 11 starts the second, so its link is checked by the stitch.
    factory.rehash_row(path, 10, reason="edited")
    factory.edit_content(path, 11, subject="mallory@example.com")
    expected = serial(path)
    got = parallel(path, 4)
    same(expected, got)
    assert [(p["kind"], p["rowid"]) for p in got["problems"]] == [("content_mismatch", 11), ("link_break", 11)]
    assert got["valid"] is False and got["workers"] == 4


def test_parallel_clean_chain_and_head(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=50)
    head = factory.hash_of(path, 50)
    got = parallel(path, 3, expected_head=head, expected_events=50)
    assert got["valid"] is True and got["linear"] is True and got["problems"] == []
    assert got["events_checked"] == 50 and got["chain_head"] == head and got["workers"] == 3
    assert got["checkpoint"] == dict(chain_head=head, rowid=50, events=50)


def test_few_rows_are_walked_by_one_worker(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=30)
    got = verify_path(str(path), 5.0, workers=8)
    assert got["workers"] == 1 and got["valid"] is True


def test_plan_covers_every_rowid_once():
    for low, high, workers, minimum in ((1, 1, 4, 1), (1, 10, 3, 1), (5, 1000003, 2, 50000), (1, 7, 4, 2)):
        ranges = audit_walk.plan(low, high, workers, minimum)
        covered = [rowid for start, end in ranges for rowid in range(start, end + 1)]
        assert covered == list(range(low, high + 1))
    assert audit_walk.plan(None, None, 2, 1) == []
