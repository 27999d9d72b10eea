# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s_audit_restore's pure parts: the claim that holds the database, the restore pod, the backup as SQL chunks
loaded with the real sqlite3 CLI exactly as the pod runs them (argv, no shell), the row-count check, the moves.
The API side runs in the k8s_data_issues target."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import sqlite3
import subprocess

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s import audit_restore as ar
from ansible_collections.airlock.incident.plugins.module_utils.k8s import audit_restore_run as restore_run
from ansible_collections.airlock.incident.plugins.module_utils.k8s.pod_exec import ExecResult
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory


def _dep(mounts=None, volumes=None):
    return {"spec": {"replicas": 0, "template": {"spec": {
        "securityContext": {"runAsNonRoot": True, "fsGroup": 10001},
        "tolerations": [{"key": "k", "operator": "Exists"}],
        "containers": [{"name": "airlock", "image": "ghcr.io/ik-labs/mcp-airlock:1.4.0",
                        "securityContext": {"readOnlyRootFilesystem": True},
                        "volumeMounts": mounts if mounts is not None else [
                            {"name": "config", "mountPath": "/etc/airlock"},
                            {"name": "data", "mountPath": "/var/lib/airlock"},
                            {"name": "tmp", "mountPath": "/tmp"}]}],
        "volumes": volumes if volumes is not None else [
            {"name": "config", "configMap": {"name": "airlock-config"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "airlock-data"}},
            {"name": "tmp", "emptyDir": {}}]}}}}


def test_the_claim_mounted_at_the_database_directory():
    assert ar.data_mount(_dep(), "airlock", "/var/lib/airlock/audit.db", None) == ("data", "airlock-data", "/var/lib/airlock")
    assert ar.data_mount(_dep(), "airlock", "/var/lib/airlock/sub/audit.db", None)[1] == "airlock-data"
    assert ar.data_mount(_dep(), "airlock", "/elsewhere/audit.db", "data") == ("data", "airlock-data", "/var/lib/airlock")


@pytest.mark.parametrize("container,db,volume,field", [
    ("airlock", "/tmp/audit.db", None, "db_path"),          # an emptyDir is no claim
    ("airlock", "/var/lib/airlockx/audit.db", None, "db_path"),
    ("airlock", "/var/lib/airlock/audit.db", "tmp", "volume"),
    ("gateway", "/var/lib/airlock/audit.db", None, "container"),
])
def test_refusals_name_the_field(container, db, volume, field):
    with pytest.raises(ValueError) as err:
        ar.data_mount(_dep(), container, db, volume)
    assert str(err.value).startswith(field + ": ")


def test_restore_pod_keeps_image_contexts_placement_and_claim():
    pod = ar.restore_pod(_dep(), "airlock", "airlock-restore-inc-1-restore", "data", "airlock-data", "/var/lib/airlock", "INC-1/restore")
    spec = pod["spec"]
    c = spec["containers"][0]
    assert (c["name"], c["image"], c["command"]) == ("airlock", "ghcr.io/ik-labs/mcp-airlock:1.4.0", ["sleep", "3600"])
    assert c["securityContext"] == {"readOnlyRootFilesystem": True}
    assert c["volumeMounts"] == [{"name": "data", "mountPath": "/var/lib/airlock"}]
    assert spec["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "airlock-data"}}]
    assert spec["securityContext"]["fsGroup"] == 10001 and spec["tolerations"][0]["key"] == "k"
    assert spec["restartPolicy"] == "Never" and pod["metadata"]["annotations"][ar.ANNOTATION] == "INC-1/restore"


@pytest.mark.parametrize("incident,action", [("INC-20261205-130000", "restore-20261205t130500z"), ("x" * 80, "restore"),
                                             ("INC_1.2", "a")])
def test_pod_names_are_dns_labels(incident, action):
    name = ar.pod_name(incident, action)
    assert len(name) <= 63 and ar._NAME_OK.match(name)
    assert name == ar.pod_name(incident, action)


def _rows(path):
    conn = sqlite3.connect(str(path))
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {name: sorted(conn.execute('SELECT * FROM "%s"' % name).fetchall(), key=repr) for name in tables}
    finally:
        conn.close()


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 CLI (what the pod runs) is not installed")
def test_backup_round_trips_through_sql_chunks_loaded_by_the_sqlite3_cli(tmp_path):
    backup = tmp_path / "backup.db"
    factory.build_db(backup, events=300)
    chunks, counts = ar.dump_chunks(str(backup), limit=4096)
    assert len(chunks) > 1 and all(len(c) <= 4096 + len("BEGIN;\n\nCOMMIT;") for c in chunks)
    assert counts["audit_events"] == 300
    restored = tmp_path / "restored.db"
    for chunk in chunks:
        subprocess.run(["sqlite3", "-bail", str(restored), chunk], check=True, capture_output=True)
    assert _rows(restored) == _rows(backup)
    out = subprocess.run(["sqlite3", "-readonly", str(restored), ar.count_sql(counts)], check=True, capture_output=True, text=True)
    assert ar.parse_counts(out.stdout) == counts
    ok = subprocess.run(["sqlite3", "-readonly", str(restored), "PRAGMA integrity_check;"], check=True, capture_output=True, text=True)
    assert ok.stdout.strip() == "ok"


def test_a_statement_over_the_limit_is_refused(tmp_path):
    backup = tmp_path / "backup.db"
    factory.build_db(backup, events=3)
    with pytest.raises(ValueError) as err:
        ar.dump_chunks(str(backup), limit=50)
    assert str(err.value).startswith("backup: ")


def test_the_backup_is_opened_read_only(tmp_path):
    backup = tmp_path / "backup.db"
    factory.build_db(backup, events=5)
    before = backup.read_bytes()
    ar.dump_chunks(str(backup))
    assert backup.read_bytes() == before


def test_counts_and_moves():
    assert ar.parse_counts("audit_events|300\nodd line\nx|y\nmeta|1\n") == {"audit_events": 300, "meta": 1}
    assert "UNION ALL" in ar.count_sql({"a": 1, "b'c": 2}) and "'b''c'" in ar.count_sql({"b'c": 2})
    assert ar.count_sql({}) == "SELECT 1 WHERE 0;"
    assert ar.moves("/d/a.db", "/d/a.db.damaged-r", ["", "-wal"]) == [
        ["mv", "/d/a.db", "/d/a.db.damaged-r"], ["mv", "/d/a.db-wal", "/d/a.db.damaged-r-wal"]]
    assert ar.moves("/d/a.db", "/x", []) == []


class LocalExec:
    """Runs the restore pod's argvs on this machine (the same coreutils/BusyBox commands, no shell)."""

    def __init__(self):
        self.history = []

    def where(self):
        return "local test pod"

    def run(self, argv, on_stdout=None):
        res = ExecResult(argv)
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        res.rc, res.stdout, res.stderr = proc.returncode, proc.stdout, proc.stderr
        if on_stdout is not None:
            # The exec stream delivers stdout in pieces of any size.
            for start in range(0, len(proc.stdout), 7):
                on_stdout(proc.stdout[start:start + 7])
            res.stdout = ""
        self.history.append(res)
        return res


class TamperingExec(LocalExec):
    """A transfer that changes one byte of what the pod sends (the copy must not be kept)."""

    def run(self, argv, on_stdout=None):
        if argv[0] == "base64" and on_stdout is not None:
            with open(argv[1], "rb") as handle:
                data = bytearray(handle.read())
            data[0] ^= 1
            on_stdout(base64.b64encode(bytes(data)).decode("ascii"))
            res = ExecResult(argv)
            res.rc = 0
            self.history.append(res)
            return res
        return super().run(argv, on_stdout)


def test_the_files_moved_aside_are_hashed_before_the_move(tmp_path):
    db = str(tmp_path / "audit.db")
    incoming = str(tmp_path / ".airlock-restore-r.db")
    for path, content in ((db, b"damaged main"), (db + "-wal", b"damaged wal"), (incoming, b"restored")):
        with open(path, "wb") as handle:
            handle.write(content)
    aside = db + ".damaged-r"
    moved, digests, copies = restore_run.swap(LocalExec(), db, aside, incoming)
    assert moved == ["", "-wal"] and copies == []
    assert digests == {aside: hashlib.sha256(b"damaged main").hexdigest(),
                       aside + "-wal": hashlib.sha256(b"damaged wal").hexdigest()}
    with open(aside, "rb") as handle:
        assert handle.read() == b"damaged main"
    with open(db, "rb") as handle:
        assert handle.read() == b"restored"
    # Nothing at the path: nothing hashed, nothing moved.
    assert restore_run.swap(LocalExec(), str(tmp_path / "none.db"), str(tmp_path / "none.aside"), None) == ([], {}, [])


def _claim(tmp_path):
    claim = tmp_path / "claim"
    claim.mkdir()
    db = str(claim / "audit.db")
    incoming = str(claim / ".airlock-restore-r.db")
    # Bytes no SQLite backup would copy: the damaged database as it is, with its WAL.
    for path, content in ((db, b"SQLite format 3\x00" + bytes(range(256)) * 40), (db + "-wal", b"\x00damaged wal"),
                          (incoming, b"restored")):
        with open(path, "wb") as handle:
            handle.write(content)
    copies = tmp_path / "copies"
    copies.mkdir()
    return db, incoming, db + ".damaged-r", str(copies)


def test_the_damaged_files_are_copied_out_verified_before_they_are_moved(tmp_path):
    db, incoming, aside, copy_dir = _claim(tmp_path)
    with open(db, "rb") as handle:
        original = handle.read()
    moved, digests, copies = restore_run.swap(LocalExec(), db, aside, incoming, copy_dir)
    assert moved == ["", "-wal"]
    assert [c["path"] for c in copies] == [os.path.join(copy_dir, "audit.db.damaged-r"),
                                           os.path.join(copy_dir, "audit.db.damaged-r-wal")]
    assert [(c["found_at"], c["kept_at"]) for c in copies] == [(db, aside), (db + "-wal", aside + "-wal")]
    for copy in copies:
        assert copy["sha256"] == digests[copy["kept_at"]]
        assert stat.S_IMODE(os.stat(copy["path"]).st_mode) == 0o444
        with open(copy["path"], "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == copy["sha256"]
    with open(copies[0]["path"], "rb") as handle:
        assert handle.read() == original
    assert sorted(os.listdir(copy_dir)) == ["audit.db.damaged-r", "audit.db.damaged-r-wal"]  # no temp file left


def test_a_copy_that_differs_from_the_pod_is_not_kept_and_nothing_moves(tmp_path):
    db, incoming, aside, copy_dir = _claim(tmp_path)
    with pytest.raises(AirlockIncidentError, match="chain of custody broken.*nothing was moved"):
        restore_run.swap(TamperingExec(), db, aside, incoming, copy_dir)
    assert os.listdir(copy_dir) == []
    assert os.path.exists(db) and os.path.exists(db + "-wal") and not os.path.exists(aside)


def test_an_existing_copy_is_never_overwritten(tmp_path):
    db, incoming, aside, copy_dir = _claim(tmp_path)
    with open(os.path.join(copy_dir, "audit.db.damaged-r-wal"), "wb") as handle:
        handle.write(b"something else")
    with pytest.raises(AirlockIncidentError, match="^damaged_copy_dir: .* already exists with other content"):
        restore_run.swap(LocalExec(), db, aside, incoming, copy_dir)
    assert os.listdir(copy_dir) == ["audit.db.damaged-r-wal"] and os.path.exists(db) and not os.path.exists(aside)
    with open(os.path.join(copy_dir, "audit.db.damaged-r-wal"), "rb") as handle:
        assert handle.read() == b"something else"
    # An identical copy (an interrupted run) is kept and the restore goes on.
    os.unlink(os.path.join(copy_dir, "audit.db.damaged-r-wal"))
    shutil.copyfile(db + "-wal", os.path.join(copy_dir, "audit.db.damaged-r-wal"))
    moved, digests, copies = restore_run.swap(LocalExec(), db, aside, incoming, copy_dir)
    assert moved == ["", "-wal"] and len(copies) == 2 and os.path.exists(aside)


class _Module:
    check_mode = False

    def __init__(self, **params):
        self.params = params


@pytest.mark.parametrize("state,make,expected", [
    ("reverted", "dir", "damaged_copy_dir: only with state=restored"),
    ("restored", "link", "damaged_copy_dir: "),
    ("restored", "missing", "damaged_copy_dir: "),
])
def test_damaged_copy_dir_refusals_name_the_field(tmp_path, monkeypatch, state, make, expected):
    target = tmp_path / "copies"
    if make == "dir":
        target.mkdir()
    elif make == "link":
        (tmp_path / "real").mkdir()
        target.symlink_to(tmp_path / "real")
    backup = tmp_path / "backup.db"
    backup.write_bytes(b"x")
    monkeypatch.setattr(restore_run, "deployment_action_errors", lambda params, check, what: [])
    errors = restore_run.validate(_Module(db_path="/var/lib/airlock/audit.db", state=state, backup=str(backup),
                                          damaged_copy_dir=str(target), exec_timeout=600))
    assert [e for e in errors if e.startswith(expected)], errors
