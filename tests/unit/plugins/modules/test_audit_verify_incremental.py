# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_verify from a checkpoint (issue #15), and forks the product makes itself (issue #10 item 7)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit.verify import verify_path
from ansible_collections.airlock.incident.plugins.modules import audit_verify
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

pytest.importorskip("blake3")

SECOND_NS = 1000000000


def verify(path, **args):
    args["path"] = str(path)
    return factory.run_module(audit_verify.main, args)


@pytest.fixture
def grown(tmp_path):
    """30 events verified (the checkpoint), then 10 more appended."""
    path = tmp_path / "audit.db"
    factory.build_db(path, events=30)
    first = verify(path)
    assert first["valid"] is True
    db = factory.AuditDB(path)
    db.append_many(10)
    db.close()
    return path, first["checkpoint"]


def test_checkpoint_continues_and_verifies_only_the_new_rows(grown):
    path, checkpoint = grown
    assert checkpoint == dict(chain_head=factory.hash_of(path, 30), rowid=30, events=30)
    result = verify(path, checkpoint=checkpoint)
    assert result["valid"] is True and result["incremental"] is True
    assert result["events_checked"] == 10
    assert result["checkpoint"] == dict(chain_head=factory.hash_of(path, 40), rowid=40, events=40)
    assert "rowid 30" in result["not_verified"] and "not re-hashed" in result["not_verified"]
    assert "incremental" in result["msg"]
    # The next run continues from this one and has nothing to do.
    again = verify(path, checkpoint=result["checkpoint"])
    assert again["valid"] is True and again["events_checked"] == 0 and again["chain_head"] == factory.hash_of(path, 40)


def test_a_full_run_says_nothing_is_left_unverified(grown):
    path, _checkpoint = grown
    result = verify(path)
    assert result["incremental"] is False and result["not_verified"] is None and result["events_checked"] == 40


def test_tampering_after_the_checkpoint_is_found(grown):
    path, checkpoint = grown
    factory.edit_content(path, 35, subject="mallory@example.com")
    result = verify(path, checkpoint=checkpoint)
    assert result["valid"] is False
    assert [(p["kind"], p["rowid"]) for p in result["problems"]] == [("content_mismatch", 35)]


def test_new_rows_must_continue_from_the_checkpoint_head(grown):
    path, checkpoint = grown
    factory.delete_rows(path, 31)
    result = verify(path, checkpoint=checkpoint)
    assert result["valid"] is False
    assert [(p["kind"], p["rowid"]) for p in result["problems"]] == [("link_break", 32)]


def test_an_edit_before_the_checkpoint_is_not_proven_without_a_sample(grown):
    """The documented limit: an incremental run trusts the rows up to the checkpoint."""
    path, checkpoint = grown
    factory.edit_content(path, 5, subject="mallory@example.com")
    assert verify(path, checkpoint=checkpoint)["valid"] is True
    sampled = verify(path, checkpoint=checkpoint, sample=1000)  # more than the rows: every one of them
    assert sampled["sampled"] == 30
    assert sampled["valid"] is False
    assert [(p["kind"], p["rowid"]) for p in sampled["problems"]] == [("content_mismatch", 5)]
    assert "sampled" in sampled["problems"][0]["detail"]
    assert verify(path)["problem_counts"] == {"content_mismatch": 1}


def test_a_rewritten_checkpoint_row_falls_back_to_a_full_run(grown):
    path, checkpoint = grown
    factory.rewrite_chain(path, 20, reason="rewritten")
    result = verify(path, checkpoint=checkpoint)
    assert result["valid"] is False and result["incremental"] is False
    assert result["problem_counts"] == {"head_mismatch": 1}
    assert result["events_checked"] == 40
    assert "every row was verified instead" in result["problems"][0]["detail"]


def test_a_checkpoint_from_the_evidence_manifest_has_no_rowid(grown):
    path, checkpoint = grown
    result = verify(path, checkpoint=dict(chain_head=checkpoint["chain_head"], events=30))
    assert result["valid"] is True and result["incremental"] is True and result["events_checked"] == 10


def test_rows_deleted_before_the_checkpoint_are_caught_by_its_event_count(grown):
    path, checkpoint = grown
    factory.retention_trim(path, factory.timestamp_of(path, 3))
    result = verify(path, checkpoint=checkpoint)
    assert result["valid"] is False and result["problem_counts"] == {"head_mismatch": 1}
    assert "30 events up to rowid 30 were recorded, 28 are there now" in result["problems"][0]["detail"]
    # Retention ran: the checkpoint without its count still continues.
    assert verify(path, checkpoint=dict(chain_head=checkpoint["chain_head"], rowid=30))["valid"] is True


@pytest.mark.parametrize("args, field", [
    (dict(sample=3), "sample"),
    (dict(checkpoint=dict(chain_head="abc")), "checkpoint.chain_head"),
    (dict(checkpoint=dict(chain_head="a" * 64, rowid=0)), "checkpoint.rowid"),
    (dict(workers=0), "workers"),
])
def test_bad_options_are_refused_before_opening(tmp_path, args, field):
    result = verify(tmp_path / "missing.db", **args)
    assert result["failed"] is True and field in result["msg"]
    assert "does not exist" not in result["msg"]


# -- forks -----------------------------------------------------------------------------------
def _forked(path, older_by_ns):
    """rows 1..10, row 11 with a timestamp ``older_by_ns`` before row 10 naming row 10, row 12 naming row 10
    again: what Airlock's GetLastHash writes when ``older_by_ns`` > 0."""
    db = factory.AuditDB(path)
    db.append_many(10)
    parent = db.last_hash
    ten = factory.BASE_NS + 10 * SECOND_NS
    db.append(timestamp=ten - older_by_ns)
    db.last_hash = parent
    db.append(timestamp=ten + SECOND_NS)
    db.append_many(3)
    db.close()


def test_a_fork_the_product_makes_is_told_from_tampering(tmp_path):
    path = tmp_path / "audit.db"
    _forked(path, older_by_ns=60 * SECOND_NS)
    result = verify(path)
    assert result["valid"] is True and result["linear"] is False
    assert result["problem_counts"] == {"product_fork": 1}
    problem = result["problems"][0]
    assert (problem["kind"], problem["rowid"]) == ("product_fork", 12)
    assert "made by Airlock, not tampering" in problem["detail"] and "rowid 10" in problem["detail"]
    assert "not linear" in result["msg"]


def test_the_same_shape_with_a_newer_timestamp_is_tampering(tmp_path):
    path = tmp_path / "audit.db"
    _forked(path, older_by_ns=-SECOND_NS // 2)  # row 11 is newer than row 10: GetLastHash would name it
    result = verify(path)
    assert result["valid"] is False and result["linear"] is False
    assert result["problem_counts"] == {"link_break": 1, "fork": 1}
    fork = [p for p in result["problems"] if p["kind"] == "fork"][0]
    assert fork["rowid"] == 12 and "tampering" in fork["detail"]


def test_an_edited_branch_of_a_product_fork_is_tampering(tmp_path):
    path = tmp_path / "audit.db"
    _forked(path, older_by_ns=60 * SECOND_NS)
    factory.edit_content(path, 11, reason="edited")
    result = verify(path)
    assert result["valid"] is False
    assert result["problem_counts"] == {"content_mismatch": 1, "link_break": 1, "fork": 1}


def test_an_appended_fork_stays_tampering(tmp_path):
    path = tmp_path / "audit.db"
    factory.build_db(path, events=30)
    factory.add_fork(path, parent_rowid=20)
    result = verify(path)
    assert result["valid"] is False and result["linear"] is False and "product_fork" not in result["problem_counts"]


# -- the product's own databases (AIRLOCK_CHAINGEN) ------------------------------------------------
_SAID = []


def _chaingen(tmp_path, *flags):
    binary = os.environ.get("AIRLOCK_CHAINGEN")
    if not binary:
        if not _SAID:
            _SAID.append(True)
            sys.stdout.write("skipped: AIRLOCK_CHAINGEN is not set, so the tests on databases written by the "
                             "product's own code did not run\n")
        pytest.skip("AIRLOCK_CHAINGEN is not set")
    path = tmp_path / "product.db"
    subprocess.run([binary, "gen", "-db", str(path)] + list(flags), check=True, stdout=subprocess.PIPE)
    return path


def test_product_forks_in_a_chaingen_database(tmp_path):
    path = _chaingen(tmp_path, "-n", "3000", "-fork")
    result = verify(path)
    assert result["valid"] is True and result["linear"] is False, result["problems"]
    assert result["problem_counts"] == {"product_fork": 2}
    assert [p["rowid"] for p in result["problems"]] == [1601, 2701]
    assert all("made by Airlock" in p["detail"] for p in result["problems"])
    parallel = verify_path(str(path), 5.0, workers=3, min_rows_per_worker=1)
    assert parallel.pop("workers") == 3
    assert parallel == dict((key, value) for key, value in result.items()
                            if key not in ("workers", "changed", "msg", "invocation"))


def test_tampering_with_a_chaingen_fork_is_still_tampering(tmp_path):
    path = _chaingen(tmp_path, "-n", "2000", "-fork")
    factory.edit_content(path, 1600, reason="edited")
    result = verify(path)
    assert result["valid"] is False
    assert result["problem_counts"] == {"content_mismatch": 1, "link_break": 1, "fork": 1}


def test_a_chaingen_database_without_forks_is_linear_and_continues_from_a_checkpoint(tmp_path):
    path = _chaingen(tmp_path, "-n", "2000", "-edge")
    full = verify(path, workers=2)
    assert full["valid"] is True and full["linear"] is True, full["problems"]
    checkpoint = dict(full["checkpoint"], rowid=1500, chain_head=factory.hash_of(path, 1500), events=None)
    result = verify(path, checkpoint=checkpoint)
    assert result["valid"] is True and result["events_checked"] == full["events_checked"] - 1500 > 0


def test_a_blob_link_in_the_product_shape_is_tampering(tmp_path):
    path = tmp_path / "audit.db"
    _forked(path, older_by_ns=60 * SECOND_NS)
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE audit_events SET previous_hash = CAST(previous_hash AS BLOB) WHERE rowid IN (11, 12)")
    conn.commit()
    conn.close()
    result = verify(path)
    assert result["valid"] is False and "product_fork" not in result["problem_counts"]
    assert result["problem_counts"]["fork"] == 1
