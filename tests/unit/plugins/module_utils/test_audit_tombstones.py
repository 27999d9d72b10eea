# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Erased subjects leave audit_query only in Airlock's erased form (rows, params, export)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import blake3
import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import query as audit_query
from ansible_collections.airlock.incident.plugins.module_utils.audit.tombstones import Eraser, mark_erased
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

ERASED = "alice@example.com"


def _expected(salt_hex, subject):
    # the product: fmt.Sprintf("erased_%x", blake3(salt || subject))
    return "erased_" + blake3.blake3(bytes.fromhex(salt_hex) + subject.encode()).hexdigest()


def _params(tmp_path, **extra):
    params = dict(path=str(tmp_path / "audit.db"), query="events", since=None, start=None, end=None,
                  subject=None, tenant=None, action=None, decision=None, limit=0,
                  admin_patterns=list(audit_query.DEFAULT_ADMIN_PATTERNS), export_path=None, export_format="jsonl",
                  force=False, busy_timeout=5.0)
    params.update(extra)
    return params


@pytest.fixture
def erased_db(tmp_path):
    db = factory.AuditDB(tmp_path / "audit.db")
    db.append_many(3, subject=ERASED, decision="deny", reason="denied <%s>" % ERASED)
    db.append("tool_call", subject="bob@example.com", metadata={"peer": ERASED, "tool": "admin_exec"})
    db.append("tool_call", subject="alice@example.com.evil", decision="deny")
    db.tombstone(ERASED)
    db.close()
    return db


@pytest.mark.parametrize("query", list(audit_query.QUERIES))
def test_no_query_returns_an_erased_subject_in_clear_text(tmp_path, erased_db, query):
    result = audit_query.query_audit(_params(tmp_path, query=query, subject=ERASED if query != "events" else None))
    text = json.dumps(result)
    assert ERASED not in text.replace(ERASED + ".evil", "")  # only the other, longer subject remains
    assert result["erased_subjects"] == 1


def test_rows_show_the_products_erased_form(tmp_path, erased_db):
    form = _expected(erased_db.salt_hex, ERASED)
    result = audit_query.query_audit(_params(tmp_path, export_path=str(tmp_path / "out.jsonl")))
    subjects = [row["subject"] for row in result["rows"]]
    assert subjects[:3] == [form] * 3 and subjects[3] == "bob@example.com"
    # a longer subject that contains the erased one keeps only its other characters in clear text
    assert subjects[4] == form + ".evil"
    assert result["rows"][0]["reason"] == "denied <%s>" % form
    assert json.loads(result["rows"][3]["metadata"])["peer"] == form
    tombstone = result["rows"][-1]
    assert tombstone["action"] == "tombstone" and json.loads(tombstone["metadata"]) == {"erased_subject": form}
    assert result["erased_rows"] == 6 and "show erased subjects" in result["msg"]
    exported = (tmp_path / "out.jsonl").read_text()
    assert ERASED not in exported.replace(ERASED + ".evil", "") and form in exported
    assert audit_query.query_audit(_params(tmp_path, query="deny_patterns"))["rows"][0]["subject"] in (
        form, form + ".evil")


def test_without_tombstones_nothing_changes(tmp_path):
    factory.build_db(tmp_path / "audit.db", events=2)
    result = audit_query.query_audit(_params(tmp_path))
    assert [row["subject"] for row in result["rows"]] == [ERASED, ERASED]
    assert result["erased_subjects"] == 0 and result["erased_rows"] == 0


def test_eraser_replaces_the_go_json_spelling_and_never_the_empty_subject():
    eraser = Eraser({"a<b>@x": "erased_1", "": "erased_empty"})
    assert eraser.value({"k": '{"s":"a\\u003cb\\u003e@x"}', "a<b>@x": ["a<b>@x", 3]}) == \
        {"k": '{"s":"erased_1"}', "erased_1": ["erased_1", 3]}
    assert eraser.value("nothing here") == "nothing here" and eraser.count == 1


def test_rows_of_an_erased_subject_carry_the_products_erasure_key(tmp_path):
    # the product (applyTombstoneRedactionWithMap): an event whose subject is tombstoned
    # shows subject erased_<hash> and metadata["original_subject_erased"] = true
    db = factory.AuditDB(tmp_path / "audit.db")
    db.append("tool_call", subject=ERASED, metadata={"tool": "read", "peer": ERASED})
    db.append("tool_call", subject=ERASED, metadata=None)
    db.append("tool_call", subject="alice@example.com.evil", metadata={"tool": "read"})
    db.append("tool_call", subject="bob@example.com", metadata={"peer": ERASED})
    db.tombstone(ERASED)
    db.close()
    form = _expected(db.salt_hex, ERASED)
    rows = audit_query.query_audit(_params(tmp_path, export_path=str(tmp_path / "out.jsonl")))["rows"]
    metadata = [json.loads(row["metadata"]) if row["metadata"] else row["metadata"] for row in rows]
    assert metadata[0] == {"tool": "read", "peer": form, "original_subject_erased": True}
    assert metadata[1] == {"original_subject_erased": True}
    # a longer subject is not the erased one, nor is a row that only mentions it, nor the tombstone event
    assert "original_subject_erased" not in metadata[2]
    assert metadata[3] == {"peer": form}
    assert "original_subject_erased" not in metadata[4] and rows[4]["action"] == "tombstone"
    exported = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert json.loads(exported[0]["metadata"])["original_subject_erased"] is True


@pytest.mark.parametrize("stored, expected", [
    (None, '{"original_subject_erased":true}'),
    ("", '{"original_subject_erased":true}'),
    ("null", '{"original_subject_erased":true}'),
    ("{}", '{"original_subject_erased":true}'),
    ('{"b": 1, "a":"x"} ', '{"b": 1, "a":"x","original_subject_erased":true}'),
    ('{"original_subject_erased":false}', '{"original_subject_erased":true}'),
    ("not json", "not json"),
    ("[1]", "[1]"),
])
def test_mark_erased_keeps_the_stored_text_and_adds_the_key(stored, expected):
    assert mark_erased(stored) == expected


# -- a database the product's own audit code wrote (AIRLOCK_CHAINGEN) --------------------------------
def test_a_chaingen_edge_database_shows_erased_rows_in_the_products_shape(tmp_path):
    binary = os.environ.get("AIRLOCK_CHAINGEN")
    if not binary:
        sys.stdout.write("skipped: AIRLOCK_CHAINGEN is not set, so the tombstone test on a database written by "
                         "the product's own code did not run\n")
        pytest.skip("AIRLOCK_CHAINGEN is not set")
    path = tmp_path / "audit.db"
    subprocess.run([binary, "gen", "-db", str(path), "-n", "400", "-edge", "-seed", "7"], check=True,
                   stdout=subprocess.PIPE)
    conn = sqlite3.connect(str(path))
    conn.text_factory = bytes  # the edge cases include text that is not UTF-8
    stored = {key.decode(): subject.decode("utf-8", "replace")
              for key, subject in conn.execute("SELECT id, subject FROM audit_events").fetchall()}
    (salt,) = conn.execute("SELECT value FROM audit_metadata WHERE key = 'hasher_salt'").fetchone()
    conn.close()
    assert ERASED in stored.values()
    result = audit_query.query_audit(_params(path.parent, export_path=str(tmp_path / "out.jsonl")))
    assert ERASED not in json.dumps(result) and ERASED not in (tmp_path / "out.jsonl").read_text()
    form = _expected(salt.decode(), ERASED)
    erased = [row for row in result["rows"] if stored[row["id"]] == ERASED]
    kept = [row for row in result["rows"] if stored[row["id"]] != ERASED]
    assert erased and kept
    assert all(row["subject"] == form and json.loads(row["metadata"])["original_subject_erased"] is True
               for row in erased)
    assert not any("original_subject_erased" in (row["metadata"] or "") for row in kept)
