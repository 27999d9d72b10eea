# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic of the in-pod audit snapshot: validation, commands, output and status parsing, base64, pod choice."""

from __future__ import annotations

import base64
import io
import json
import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.k8s import custody
from ansible_collections.airlock.incident.plugins.module_utils.k8s import objects
from ansible_collections.airlock.incident.plugins.module_utils.k8s import pod_evidence as pe
from ansible_collections.airlock.incident.plugins.module_utils.k8s import pod_exec


def params(**over):
    base = dict(namespace="airlock-system", request_timeout=10.0, name="airlock", container="airlock", pod=None,
                incident_id=None, db_path="/var/lib/airlock/audit.db", pod_tmp_dir="/tmp", exec_timeout=600,
                dest="/srv/evidence/")
    base.update(over)
    return base


def test_defaults_validate():
    assert pe.validate(params()) == []


@pytest.mark.parametrize("field,value", [
    ("db_path", "audit.db"),
    ("db_path", "/var/lib/airlock/audit db"),
    ("db_path", "/var/lib/airlock/'x"),
    ("db_path", "/var/lib/../etc/passwd"),
    ("db_path", "/var/lib/airlock/"),
    ("pod_tmp_dir", "tmp"),
    ("pod_tmp_dir", "/tmp;rm"),
])
def test_bad_paths_are_named(field, value):
    errors = pe.validate(params(**{field: value}))
    assert errors and all(e.startswith(field + ":") for e in errors)


def test_every_bad_option_is_reported_at_once():
    errors = pe.validate(params(container="Air_lock", exec_timeout=0, incident_id="../x", pod="Bad Pod",
                                namespace="NS"))
    joined = "; ".join(errors)
    for field in ("container:", "exec_timeout:", "incident_id:", "pod:", "namespace:"):
        assert field in joined


def test_commands_use_no_shell():
    tmp = pe.pod_temp_path("/tmp", token="ab" * 16)
    assert tmp == "/tmp/airlock-audit-snapshot-%s.db" % ("ab" * 16)
    steps = pe.plan("/var/lib/airlock/audit.db", tmp)
    assert [s[0] for s in steps] == ["wc", "df", "sqlite3", "sqlite3", "sha256sum", "wc", "base64", "rm"]
    assert steps[2] == ["sqlite3", "-readonly", "/var/lib/airlock/audit.db", ".backup " + tmp]
    assert steps[-1] == ["rm", "-f", tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"]
    assert not any(os.path.basename(step[0]) in ("sh", "ash", "bash") for step in steps)


def test_argv_text_quotes_what_needs_it():
    assert pod_exec.argv_text(["sqlite3", "/a.db", ".backup /t.db"]) == "sqlite3 /a.db '.backup /t.db'"


def test_parse_sha256sum():
    digest = "a" * 64
    assert pe.parse_sha256sum("%s  /tmp/x.db\n" % digest, "/tmp/x.db") == digest
    assert pe.parse_sha256sum("%s */tmp/x.db\n" % digest.upper(), "/tmp/x.db") == digest
    with pytest.raises(pod_exec.PodEvidenceError):
        pe.parse_sha256sum("%s  /tmp/other.db\n" % digest, "/tmp/x.db")


def test_parse_wc_with_missing_wal():
    out = "  77824 /var/lib/airlock/audit.db\n"
    assert pe.parse_wc(out, "/var/lib/airlock/audit.db") == 77824
    assert pe.parse_wc(out, "/var/lib/airlock/audit.db-wal", required=False) is None
    both = "4096 /d/a.db\n4128 /d/a.db-wal\n8224 total\n"
    assert pe.parse_wc(both, "/d/a.db") + pe.parse_wc(both, "/d/a.db-wal") == 8224


def test_parse_df_posix_and_busybox():
    gnu = "Filesystem     1024-blocks    Used Available Capacity Mounted on\n/dev/sda1 100 40 60 40% /tmp\n"
    busybox = "Filesystem           1024-blocks    Used Available Capacity Mounted on\ntmpfs                   512000       0    512000   0% /tmp\n"
    assert pe.parse_df(gnu) == 60 * 1024
    assert pe.parse_df(busybox) == 512000 * 1024
    with pytest.raises(pod_exec.PodEvidenceError):
        pe.parse_df("df: /nope: No such file or directory\n")


def status(**fields):
    return json.dumps(fields)


def test_exec_status_success_and_exit_codes():
    assert pod_exec.parse_exec_status(status(status="Success")) == (0, None, False)
    nonzero = status(status="Failure", reason="NonZeroExitCode", message="command terminated with non-zero exit code",
                     details=dict(causes=[dict(reason="ExitCode", message="3")]))
    assert pod_exec.parse_exec_status(nonzero) == (3, None, False)
    # kwok's local exec (and some runtimes) only say it in the message.
    kwok = status(status="Failure", reason="InternalError",
                  message="Internal error occurred: error executing command in container: cmd wait: sqlite3 x: exit status 1")
    assert pod_exec.parse_exec_status(kwok) == (1, None, False)


def test_exec_status_missing_executable():
    runc = status(status="Failure", reason="InternalError", message=(
        'Internal error occurred: error executing command in container: failed to exec in container: '
        'OCI runtime exec failed: exec failed: unable to start container process: exec: "sqlite3": '
        'executable file not found in $PATH: unknown'))
    rc, error, missing = pod_exec.parse_exec_status(runc)
    assert rc is None and missing and "sqlite3" in error
    res = pod_exec.ExecResult(["sqlite3", "-readonly", "/db", ".backup /t"])
    res.rc, res.error, res.missing = rc, error, missing
    with pytest.raises(pod_exec.PodEvidenceError, match="sqlite3 is not available in container airlock"):
        pod_exec.check_ok(res, "container airlock of pod ns/p", "sqlite3 .backup")


def test_exec_status_without_status():
    assert pod_exec.parse_exec_status("")[1] == "the exec stream closed without an exit status"
    assert pod_exec.parse_exec_status("not json")[0] is None


def test_check_ok_surfaces_stderr():
    res = pod_exec.ExecResult(["sqlite3", "-readonly", "/x", ".backup /t"])
    res.rc, res.stderr = 1, "Error: file is not a database\n"
    with pytest.raises(pod_exec.PodEvidenceError) as exc:
        pod_exec.check_ok(res, "container airlock of pod ns/p", "sqlite3 .backup of /x")
    assert "exit code 1" in exc.value.msg and "file is not a database" in exc.value.msg


def test_base64_decoder_any_split():
    data = os.urandom(10000) + b"\x00\xff" * 100
    text = base64.encodebytes(data).decode("ascii")  # 76-column lines like base64(1)
    for step in (1, 3, 7, 76, 77, 4096):
        sink = io.BytesIO()
        decoder = custody.Base64Decoder(sink)
        for i in range(0, len(text), step):
            decoder.feed(text[i:i + step])
        decoder.close()
        assert sink.getvalue() == data
        assert decoder.size == len(data)


def test_base64_decoder_rejects_corruption_and_truncation():
    decoder = custody.Base64Decoder(io.BytesIO())
    with pytest.raises(pod_exec.PodEvidenceError, match="not valid base64"):
        decoder.feed("QUJD\ufffdREVG\n")
    decoder = custody.Base64Decoder(io.BytesIO())
    decoder.feed("QUJDRE")
    with pytest.raises(pod_exec.PodEvidenceError, match="cut short"):
        decoder.close()


def pod(name, created="2026-11-28T10:00:00Z", phase="Running", ready=True, running=True, container="airlock",
        deleting=False):
    meta = dict(name=name, creationTimestamp=created, uid="uid-" + name)
    if deleting:
        meta["deletionTimestamp"] = "2026-11-28T11:00:00Z"
    state = dict(running=dict(startedAt=created)) if running else dict(waiting=dict(reason="CrashLoopBackOff"))
    return dict(
        metadata=meta,
        spec=dict(nodeName="node-1", containers=[dict(name=container)]),
        status=dict(phase=phase, conditions=[dict(type="Ready", status="True" if ready else "False")],
                    containerStatuses=[dict(name=container, ready=ready, state=state, image="img", imageID="id")]),
    )


def test_choose_pod_oldest_ready():
    chosen, skipped = pe.choose_pod([
        pod("b", created="2026-11-28T09:00:00Z"),
        pod("a", created="2026-11-28T10:00:00Z"),
        pod("c", created="2026-11-28T08:00:00Z", ready=False),
        pod("d", created="2026-11-28T07:00:00Z", running=False, ready=False),
        pod("e", created="2026-11-28T06:00:00Z", deleting=True),
        pod("f", created="2026-11-28T05:00:00Z", phase="Pending", running=False, ready=False),
        pod("g", container="sidecar"),
    ], "airlock")
    assert chosen["metadata"]["name"] == "b"
    text = " ".join(skipped)
    assert "pod c is running but not ready" in text
    assert "container airlock of pod d is not running (waiting)" in text
    assert "pod e is terminating" in text
    assert "pod f is Pending" in text
    assert "pod g has no container airlock" in text


def test_choose_pod_none_ready():
    chosen, skipped = pe.choose_pod([pod("a", ready=False)], "airlock")
    assert chosen is None and skipped == ["pod a is running but not ready"]


def test_selector_of():
    dep = dict(spec=dict(selector=dict(
        matchLabels={"app.kubernetes.io/name": "airlock", "app.kubernetes.io/instance": "airlock"},
        matchExpressions=[dict(key="tier", operator="In", values=["a", "b"]), dict(key="x", operator="DoesNotExist")])))
    assert objects.label_selector(dep["spec"]["selector"]) == (
        "app.kubernetes.io/instance=airlock,app.kubernetes.io/name=airlock,tier in (a,b),!x")


def test_resolve_dest(tmp_path):
    assert custody.resolve_dest(str(tmp_path) + "/", "INC-1") == str(tmp_path / "airlock-audit-INC-1.db")
    assert custody.resolve_dest(str(tmp_path / "x.db"), None) == str(tmp_path / "x.db")
    with pytest.raises(pod_exec.PodEvidenceError, match="dest: directory"):
        custody.resolve_dest(str(tmp_path / "missing" / "x.db"), None)
    with pytest.raises(pod_exec.PodEvidenceError, match="reserved for temporary files"):
        custody.resolve_dest(str(tmp_path / ".x.db"), None)
