# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import shutil

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import integrity as audit_integrity
from ansible_collections.airlock.incident.plugins.module_utils.audit import restore as audit_restore
from ansible_collections.airlock.incident.plugins.module_utils.audit import snapshot as audit_snapshot
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

INC = "INC-20261205-101500"


def _corrupt(path, page_from=2, pages=3, page_size=4096):
    """Overwrite whole pages after the header page with garbage (the header stays valid SQLite)."""
    with open(path, "r+b") as handle:
        handle.seek(page_size * (page_from - 1))
        handle.write(b"\xa5" * page_size * pages)


# ------------------------------------------------------------------ integrity
def test_intact_database(tmp_path):
    db = factory.build_db(tmp_path / "audit.db", events=30)
    facts = audit_integrity.check_integrity(str(tmp_path / "audit.db"))
    assert facts["ok"] is True and facts["problems"] == []
    assert facts["events"] == 30 and facts["chain_head"] == db.last_hash
    assert facts["last_event_at"].endswith("Z")
    assert facts["changed"] is False and "intact" in facts["msg"]


def test_missing_database_is_a_result(tmp_path):
    facts = audit_integrity.check_integrity(str(tmp_path / "gone.db"))
    assert facts["ok"] is False and facts["problems"] == ["missing"] and facts["exists"] is False
    assert "does not exist" in facts["msg"]


def test_empty_and_not_sqlite(tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "text.db").write_text("hello, not a database" * 10)
    assert audit_integrity.check_integrity(str(tmp_path / "empty.db"))["problems"] == ["empty"]
    assert audit_integrity.check_integrity(str(tmp_path / "text.db"))["problems"] == ["not_sqlite"]


def test_corrupt_pages_found(tmp_path):
    factory.build_db(tmp_path / "audit.db", events=400, wal=False)
    _corrupt(str(tmp_path / "audit.db"))
    facts = audit_integrity.check_integrity(str(tmp_path / "audit.db"))
    assert facts["ok"] is False
    assert set(facts["problems"]) & {"integrity_check", "unreadable"}
    assert "fails integrity_check" in facts["msg"] or "cannot be read" in facts["msg"]


def test_no_events_table(tmp_path):
    import sqlite3
    conn = sqlite3.connect(str(tmp_path / "other.db"))
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    facts = audit_integrity.check_integrity(str(tmp_path / "other.db"))
    assert facts["problems"] == ["no_events_table"] and facts["tables"] == ["t"]


def test_directory_refused(tmp_path):
    with pytest.raises(InputError, match="path: .* is a directory"):
        audit_integrity.check_integrity(str(tmp_path))


def test_max_problems_refused(tmp_path):
    with pytest.raises(InputError, match="max_problems: invalid value 0; accepted values: 1 to 10000"):
        audit_integrity.check_integrity(str(tmp_path / "x.db"), max_problems=0)


# ------------------------------------------------------------------ restore
@pytest.fixture
def case(tmp_path):
    live_dir = tmp_path / "var"
    keep = tmp_path / "case"
    backups = tmp_path / "backups"
    for d in (live_dir, keep, backups):
        d.mkdir()
    live = live_dir / "audit.db"
    db = factory.AuditDB(live)
    db.append_many(50)
    backup = str(backups / "airlock-audit-1.db")
    audit_snapshot.take_snapshot(str(live), backup)
    backup_head = db.last_hash
    db.append_many(10)
    db.close()
    return {"live": str(live), "keep": str(keep), "backup": backup, "head": backup_head}


def _params(case, **kw):
    params = dict(path=case["live"], backup=case["backup"], keep_dir=case["keep"], state="restored",
                  incident_id=INC, confirm=INC, action="restore", busy_timeout=5.0)
    params.update(kw)
    return params


def test_restore_replaces_corrupt_db_keeps_damaged_files_and_reruns_unchanged(case):
    _corrupt(case["live"])
    damaged = open(case["live"], "rb").read()
    result = audit_restore.restore_audit(_params(case))
    assert result["changed"] is True
    assert result["events"] == 50 and result["chain_head"] == case["head"]
    assert audit_integrity.check_integrity(case["live"])["chain_head"] == case["head"]
    kept_db = [p for p in result["kept"] if p.endswith("audit.db")][0]
    assert open(kept_db, "rb").read() == damaged
    assert result["undo"]["state"] == "reverted"
    record = json.load(open(result["record"]))
    assert record["incident_id"] == INC and record["backup_sha256"] == result["backup_sha256"]
    again = audit_restore.restore_audit(_params(case))
    assert again["changed"] is False and "already restored" in again["msg"]


def test_restore_of_a_deleted_database(case):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(case["live"] + suffix):
            os.unlink(case["live"] + suffix)
    result = audit_restore.restore_audit(_params(case))
    assert result["changed"] is True and result["moved"] == [] and result["kept_dir"] is None
    assert audit_integrity.check_integrity(case["live"])["events"] == 50


def test_check_mode_changes_nothing(case):
    before = sorted(os.listdir(os.path.dirname(case["live"])))
    result = audit_restore.restore_audit(_params(case, confirm=None), check_mode=True)
    assert result["changed"] is True and result["msg"].startswith("Check mode: would move")
    assert sorted(os.listdir(os.path.dirname(case["live"]))) == before
    assert os.listdir(case["keep"]) == []


def test_revert_puts_the_damaged_files_back(case):
    original = open(case["live"], "rb").read()
    audit_restore.restore_audit(_params(case))
    reverted = audit_restore.restore_audit(_params(case, state="reverted", backup=None))
    assert reverted["changed"] is True
    assert open(case["live"], "rb").read() == original
    assert audit_restore.restore_audit(_params(case, state="reverted", backup=None))["changed"] is False


@pytest.mark.parametrize("changes, message", [
    ({"confirm": "nope"}, "confirm: must equal incident_id"),
    ({"incident_id": "bad id"}, "incident_id: invalid value"),
    ({"action": "Bad Action"}, "action: invalid value"),
    ({"backup": None}, "backup: required with state=restored"),
    ({"keep_dir": "/nonexistent/case"}, "keep_dir: .* is not an existing directory"),
])
def test_refusals_touch_nothing(case, changes, message):
    before = open(case["live"], "rb").read()
    with pytest.raises(InputError, match=message):
        audit_restore.restore_audit(_params(case, **changes))
    assert open(case["live"], "rb").read() == before and os.listdir(case["keep"]) == []


def test_backup_that_fails_integrity_refused(case, tmp_path):
    bad = str(tmp_path / "bad.db")
    factory.build_db(bad, events=400, wal=False)
    _corrupt(bad)
    with pytest.raises(InputError, match="backup: "):
        audit_restore.restore_audit(_params(case, backup=bad))
    assert os.listdir(case["keep"]) == []


def test_backup_is_the_live_db_refused(case):
    with pytest.raises(InputError, match="is the live database"):
        audit_restore.restore_audit(_params(case, backup=case["live"]))


def test_link_at_the_live_path_refused(case, tmp_path):
    os.unlink(case["live"] + "-wal") if os.path.exists(case["live"] + "-wal") else None
    os.symlink(str(tmp_path / "elsewhere"), case["live"] + "-wal")
    with pytest.raises(InputError, match="is a symbolic link"):
        audit_restore.restore_audit(_params(case))


def test_another_backup_for_the_same_action_refused(case, tmp_path):
    audit_restore.restore_audit(_params(case))
    other = str(tmp_path / "other.db")
    shutil.copy(case["backup"], other)
    factory_db = factory.AuditDB(other, wal=False)
    factory_db.append_many(1)
    factory_db.close()
    with pytest.raises(InputError, match="already restored"):
        audit_restore.restore_audit(_params(case, backup=other))
