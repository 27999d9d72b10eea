# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airlock.incident.evidence end to end (main()) on real files and a real loopback HTTP server."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.airlock.incident.plugins.module_utils.core import fileutil
from ansible_collections.airlock.incident.plugins.module_utils.evidence import bundle as bundle_mod
from ansible_collections.airlock.incident.plugins.module_utils.evidence import hashing, journal, store
from ansible_collections.airlock.incident.plugins.modules import evidence

blake3 = pytest.importorskip("blake3")

INCIDENT = "INC-20261128-101500"
HEAD = "7a95df69c5daa2e048401ed8fd74268ff11789bc675bb3f68d3d0fdf500610aa"
READY_503 = b'{"status":"not_ready","checks":{"audit":"unhealthy"},"timestamp":"2026-11-28T10:15:00Z"}'


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            evidence.main()
    return json.loads(capsys.readouterr().out)


def tree(path):
    """Everything observable about a directory tree: names, modes, sizes, mtimes, inodes, content hashes."""
    if not os.path.exists(path):
        return None
    out = {".": (os.stat(path).st_mode, os.stat(path).st_mtime_ns, sorted(os.listdir(path)))}
    for root, dirs, files in os.walk(path):
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            info = os.lstat(full)
            digest = None
            if stat.S_ISREG(info.st_mode):
                with open(full, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            out[os.path.relpath(full, path)] = (info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino, digest)
    return out


def _make_writable_and_write(path, data):
    os.chmod(path, 0o644)
    with open(path, "wb") as handle:
        handle.write(data)


class _Handler(BaseHTTPRequestHandler):
    counter = 0

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path == "/ready":
            status, body = 503, READY_503
        elif self.path == "/counter":
            _Handler.counter += 1
            status, body = 200, b"requests so far: %d\n" % _Handler.counter
        elif self.path == "/info":
            status, body = 200, b'{"service":"mcp-airlock","version":"dev"}'
        else:
            status, body = 404, b"404 page not found\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "kubectl-logs.txt"
    # more than one hash buffer, so streaming is exercised
    path.write_bytes(b"".join(b"line %07d {\"level\":\"info\"}\n" % n for n in range(60000)))
    return str(path)


@pytest.fixture
def bundle(tmp_path):
    return str(tmp_path / "incidents" / INCIDENT / "evidence")


def _items(src, http_url):
    return [
        {"name": "pod-logs.txt", "src": src, "kind": "log",
         "source": "kubectl logs -n airlock-system -l app.kubernetes.io/name=airlock --since=2h"},
        {"name": "pods.yaml", "content": "apiVersion: v1\nkind: List\nitems: []\n", "kind": "state",
         "description": "kubectl get all -o yaml"},
        {"name": "ready.json", "url": http_url + "/ready", "kind": "health"},
    ]


def test_collect_records_custody_and_sha256sum_accepts_it(capsys, src, bundle, http_url):
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": _items(src, http_url)})
    assert "failed" not in result, result.get("msg")
    assert result["changed"] is True
    assert result["changed_items"] == ["pod-logs.txt", "pods.yaml", "ready.json"]
    assert result["manifest_path"] == os.path.join(bundle, "manifest.json")
    with open(result["manifest_path"], "rb") as handle:
        raw = handle.read()
    assert result["manifest_sha256"] == hashlib.sha256(raw).hexdigest()
    manifest = json.loads(raw)
    assert manifest["incident_id"] == INCIDENT and manifest["format"] == store.MANIFEST_FORMAT
    by_name = dict((i["name"], i) for i in manifest["items"])
    with open(src, "rb") as handle:
        src_bytes = handle.read()
    logs = by_name["pod-logs.txt"]
    assert logs["sha256"] == hashlib.sha256(src_bytes).hexdigest()
    assert logs["blake3"] == blake3.blake3(src_bytes).hexdigest()
    assert logs["size"] == len(src_bytes) and logs["origin"] == "src" and logs["origin_ref"] == src
    assert logs["source"].startswith("kubectl logs")
    assert logs["collected_at"].endswith("Z") and "T" in logs["collected_at"]
    assert logs["collector"]["user"] and logs["collector"]["host"]
    assert logs["tool"]["collection_version"] == "0.1.0" and logs["tool"]["ansible_core"]
    assert logs["tool"]["python"].count(".") == 2
    # the 503 body of /ready is evidence too
    ready = by_name["ready.json"]
    assert ready["http_status"] == 503 and ready["sha256"] == hashlib.sha256(READY_503).hexdigest()
    with open(os.path.join(bundle, "ready.json"), "rb") as handle:
        assert handle.read() == READY_503
    assert [h["action"] for h in manifest["history"]] == ["added"] * 3
    # read-only files, the bundle's own files included
    for name in ("pod-logs.txt", "pods.yaml", "ready.json", "manifest.json", "manifest.json.sha256", "SHA256SUMS"):
        assert stat.S_IMODE(os.stat(os.path.join(bundle, name)).st_mode) == 0o444, name
    assert sorted(os.listdir(bundle)) == sorted(
        ["pod-logs.txt", "pods.yaml", "ready.json", "manifest.json", "manifest.json.sha256", "SHA256SUMS"])
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    for sums in ("SHA256SUMS", "manifest.json.sha256"):
        proc = subprocess.run(["sha256sum", "-c", "--strict", sums], cwd=bundle, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=bundle, stdout=subprocess.PIPE, check=False)
    assert proc.stdout.decode().count(": OK") == 3


def test_rerun_is_idempotent_and_rewrites_nothing(capsys, src, bundle, http_url):
    items = _items(src, http_url)
    first = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": items})
    before = tree(bundle)
    second = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": items})
    assert "failed" not in second, second.get("msg")
    assert second["changed"] is False and second["changed_items"] == []
    assert second["manifest_sha256"] == first["manifest_sha256"]
    assert tree(bundle) == before


def test_different_content_is_never_overwritten_silently(capsys, src, bundle, http_url):
    run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": _items(src, http_url)})
    before = tree(bundle)
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT,
                                 "items": [{"name": "pods.yaml", "content": "kind: Other\n"}]})
    assert result["failed"] is True
    assert "pods.yaml" in result["msg"] and "force" in result["msg"] and "never overwritten" in result["msg"]
    assert tree(bundle) == before


def test_changed_url_body_is_refused_without_touching_the_bundle(capsys, bundle, http_url):
    items = [{"name": "counter.txt", "url": http_url + "/counter", "kind": "metrics"}]
    first = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": items})
    assert "failed" not in first, first.get("msg")
    before = tree(bundle)
    again = run_module(capsys, {"path": bundle, "incident_id": INCIDENT,
                                "items": items + [{"name": "other.txt", "content": "x"}]})
    assert again["failed"] is True and "counter.txt" in again["msg"]
    assert tree(bundle) == before  # neither the fetched body nor other.txt was staged in the bundle
    forced = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": items, "force": True})
    assert "failed" not in forced, forced.get("msg")
    current = [i for i in forced["items"] if i["name"] == "counter.txt"][0]
    with open(os.path.join(bundle, "counter.txt"), "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == current["sha256"]


def test_force_keeps_the_superseded_copy(capsys, src, bundle, http_url):
    first = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": _items(src, http_url)})
    old_sha = dict((i["name"], i["sha256"]) for i in first["items"])["pods.yaml"]
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "force": True,
                                 "items": [{"name": "pods.yaml", "content": "kind: Other\n", "kind": "state"}]})
    assert "failed" not in result, result.get("msg")
    assert result["changed"] is True and result["changed_items"] == ["pods.yaml"]
    (old_name,) = result["superseded"]
    assert old_name.startswith("pods.yaml.superseded-") and old_name.endswith("Z")
    with open(os.path.join(bundle, old_name), "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == old_sha
    with open(os.path.join(bundle, "pods.yaml"), "rb") as handle:
        assert handle.read() == b"kind: Other\n"
    manifest = json.load(open(os.path.join(bundle, "manifest.json")))
    by_name = dict((i["name"], i) for i in manifest["items"])
    assert by_name[old_name]["status"] == "superseded" and by_name[old_name]["sha256"] == old_sha
    assert by_name["pods.yaml"]["status"] == "current" and by_name["pods.yaml"]["replaces_sha256"] == old_sha
    assert [h["action"] for h in manifest["history"]][-2:] == ["superseded", "added"]
    assert manifest["history"][-2]["superseded_copy"] == old_name
    assert stat.S_IMODE(os.stat(os.path.join(bundle, old_name)).st_mode) == 0o444
    verify = run_module(capsys, {"path": bundle, "state": "verify"})
    assert verify["verified"] is True, verify["mismatches"]
    with open(os.path.join(bundle, "SHA256SUMS")) as handle:
        assert old_name in handle.read()


def test_verify_detects_modified_missing_and_extra(capsys, src, bundle, http_url):
    run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": _items(src, http_url)})
    clean = run_module(capsys, {"path": bundle, "state": "verify"})
    assert clean["changed"] is False and clean["verified"] is True and clean["mismatches"] == []
    recorded = dict((i["name"], i["sha256"]) for i in clean["items"])

    _make_writable_and_write(os.path.join(bundle, "pods.yaml"), b"tampered\n")
    os.chmod(bundle, 0o750)
    os.unlink(os.path.join(bundle, "ready.json"))
    with open(os.path.join(bundle, "planted.txt"), "wb") as handle:
        handle.write(b"not collected\n")
    before = tree(bundle)
    result = run_module(capsys, {"path": bundle, "state": "verify"})
    assert result["verified"] is False and result["changed"] is False
    by_name = dict((m["name"], m) for m in result["mismatches"])
    assert by_name["pods.yaml"] == {"name": "pods.yaml", "expected_sha256": recorded["pods.yaml"],
                                    "actual_sha256": hashlib.sha256(b"tampered\n").hexdigest(),
                                    "reason": "modified"}
    assert by_name["ready.json"]["reason"] == "missing" and by_name["ready.json"]["actual_sha256"] is None
    assert by_name["planted.txt"]["reason"] == "extra"
    assert by_name["planted.txt"]["actual_sha256"] == hashlib.sha256(b"not collected\n").hexdigest()
    assert set(by_name) == {"pods.yaml", "ready.json", "planted.txt"}
    assert tree(bundle) == before  # verify never changes anything


def test_verify_detects_an_edited_manifest(capsys, src, bundle, http_url):
    run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": _items(src, http_url)})
    path = os.path.join(bundle, "manifest.json")
    manifest = json.load(open(path))
    manifest["items"][0]["source"] = "something else"
    _make_writable_and_write(path, json.dumps(manifest).encode())
    result = run_module(capsys, {"path": bundle, "state": "verify"})
    assert result["verified"] is False
    assert [m["reason"] for m in result["mismatches"] if m["name"] == "manifest.json"] == ["modified"]
    # and the bundle is not extended on top of an altered manifest
    refused = run_module(capsys, {"path": bundle, "incident_id": INCIDENT,
                                  "items": [{"name": "more.txt", "content": "x"}]})
    assert refused["failed"] is True and "manifest.json" in refused["msg"] and "verify" in refused["msg"]
    assert not os.path.exists(os.path.join(bundle, "more.txt"))


def test_check_mode_writes_nothing(capsys, src, bundle, http_url):
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": _items(src, http_url),
                                 "_ansible_check_mode": True, "_ansible_diff": True})
    assert "failed" not in result, result.get("msg")
    assert result["changed"] is True and result["changed_items"] == ["pod-logs.txt", "pods.yaml", "ready.json"]
    assert result["manifest_sha256"] is None
    assert not os.path.exists(os.path.dirname(bundle))  # not even the directory
    assert [i["name"] for i in result["diff"]["after"]["items"]] == ["pod-logs.txt", "pods.yaml", "ready.json"]
    assert result["diff"]["before"]["items"] == []
    # on an existing bundle, adding and force-replacing in check mode leaves it byte-identical
    run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": _items(src, http_url)})
    before = tree(bundle)
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "force": True, "_ansible_check_mode": True,
                                 "items": [{"name": "pods.yaml", "content": "changed\n"},
                                           {"name": "new.txt", "src": src}]})
    assert "failed" not in result, result.get("msg")
    assert result["changed"] is True and sorted(result["changed_items"]) == ["new.txt", "pods.yaml"]
    assert len(result["superseded"]) == 1
    assert tree(bundle) == before


def test_diff_shows_item_lists(capsys, src, bundle, http_url):
    run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": _items(src, http_url)[:1]})
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "_ansible_diff": True,
                                 "items": [{"name": "notes.txt", "content": "first responder notes\n"}]})
    assert [i["name"] for i in result["diff"]["before"]["items"]] == ["pod-logs.txt"]
    assert [i["name"] for i in result["diff"]["after"]["items"]] == ["notes.txt", "pod-logs.txt"]
    notes = result["diff"]["after"]["items"][0]
    assert notes["sha256"] == hashlib.sha256(b"first responder notes\n").hexdigest()


def test_audit_snapshot_requirement(capsys, src, bundle, http_url, tmp_path):
    missing = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "require_audit_snapshot": True,
                                  "items": _items(src, http_url)})
    assert missing["failed"] is True
    assert "require_audit_snapshot" in missing["msg"] and "chain head" in missing["msg"]
    assert not os.path.exists(bundle)

    snapshot = tmp_path / "audit-snapshot.db"
    snapshot.write_bytes(b"SQLite format 3\x00" + b"\x00" * 4080)
    items = _items(src, http_url) + [{"name": "audit.db", "src": str(snapshot), "kind": "audit_snapshot",
                                      "chain_head": HEAD, "events": 125000}]
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "require_audit_snapshot": True,
                                 "items": items})
    assert "failed" not in result, result.get("msg")
    assert result["audit_snapshot"] == {"name": "audit.db", "chain_head": HEAD, "events": 125000}
    manifest = json.load(open(os.path.join(bundle, "manifest.json")))
    audit = [i for i in manifest["items"] if i["name"] == "audit.db"][0]
    assert audit["kind"] == "audit_snapshot" and audit["chain_head"] == HEAD and audit["events"] == 125000
    # later additions to the bundle satisfy the requirement through the recorded snapshot
    later = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "require_audit_snapshot": True,
                                "items": [{"name": "late.txt", "content": "x"}]})
    assert "failed" not in later, later.get("msg")
    verify = run_module(capsys, {"path": bundle, "state": "verify", "require_audit_snapshot": True})
    assert verify["verified"] is True


def test_audit_snapshot_needs_its_chain_head(capsys, tmp_path, bundle):
    snapshot = tmp_path / "audit.db"
    snapshot.write_bytes(b"x")
    for extra, needle in (({}, "chain_head and events"),
                          ({"chain_head": "ABC", "events": 3}, "64 lowercase hex"),
                          ({"chain_head": "", "events": 3}, "chain_head is required")):
        item = dict({"name": "audit.db", "src": str(snapshot), "kind": "audit_snapshot"}, **extra)
        result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": [item]})
        assert result["failed"] is True and needle in result["msg"], result["msg"]
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT,
                                 "items": [{"name": "x.txt", "content": "x", "chain_head": HEAD, "events": 1}]})
    assert result["failed"] is True and "only accepted with kind audit_snapshot" in result["msg"]
    assert not os.path.exists(bundle)


@pytest.mark.parametrize("item, needles", [
    ({"name": "x.txt", "src": "/etc/hostname", "content": "x"}, ["items[0]", "exactly one source", "src, content, url",
                                                                 "got src, content"]),
    ({"name": "x.txt"}, ["items[0]", "exactly one source", "got none"]),
    ({"name": "../escape.txt", "content": "x"}, ["items[0]", "name", "path separator"]),
    ({"name": "..hidden", "content": "x"}, ["items[0]", "name", ".."]),
    ({"name": "manifest.json", "content": "x"}, ["items[0]", "reserved"]),
    ({"name": "a.txt", "url": "ftp://example.com/a"}, ["items[0]", "url scheme", "http, https"]),
    ({"name": "a.txt", "src": "/nonexistent/file"}, ["items[0]", "does not exist"]),
])
def test_bad_items_fail_before_anything_is_touched(capsys, bundle, item, needles):
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT,
                                 "items": [{"name": "good.txt", "content": "ok"}, item]})
    assert result["failed"] is True
    msg = result["msg"].replace("items[1]", "items[0]")
    for needle in needles:
        assert needle in msg, (needle, result["msg"])
    assert not os.path.exists(os.path.dirname(bundle))


def test_unknown_kind_names_accepted_values(capsys, bundle):
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT,
                                 "items": [{"name": "a.txt", "content": "x", "kind": "screenshot"}]})
    assert result["failed"] is True and "kind" in result["msg"] and "audit_snapshot" in result["msg"]
    assert not os.path.exists(bundle)


def test_existing_stray_file_is_not_overwritten(capsys, bundle):
    os.makedirs(bundle)
    with open(os.path.join(bundle, "notes.txt"), "wb") as handle:
        handle.write(b"typed by hand\n")
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT,
                                 "items": [{"name": "notes.txt", "content": "from the play\n"}]})
    assert result["failed"] is True and "notes.txt" in result["msg"]
    with open(os.path.join(bundle, "notes.txt"), "rb") as handle:
        assert handle.read() == b"typed by hand\n"
    # ... but the file written there by a redirect can be adopted in place
    adopted = run_module(capsys, {"path": bundle, "incident_id": INCIDENT,
                                  "items": [{"name": "notes.txt", "src": os.path.join(bundle, "notes.txt")}]})
    assert "failed" not in adopted, adopted.get("msg")
    assert stat.S_IMODE(os.stat(os.path.join(bundle, "notes.txt")).st_mode) == 0o444
    assert run_module(capsys, {"path": bundle, "state": "verify"})["verified"] is True


def test_bundle_of_another_incident_is_refused(capsys, bundle):
    run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "items": [{"name": "a.txt", "content": "a"}]})
    result = run_module(capsys, {"path": bundle, "incident_id": "INC-OTHER",
                                 "items": [{"name": "b.txt", "content": "b"}]})
    assert result["failed"] is True and INCIDENT in result["msg"] and "INC-OTHER" in result["msg"]


def test_unreachable_url_fails_and_leaves_nothing(capsys, bundle):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = run_module(capsys, {"path": bundle, "incident_id": INCIDENT, "timeout": 2,
                                 "items": [{"name": "info.json", "url": "http://user:pw@127.0.0.1:%d/info" % port}]})
    assert result["failed"] is True and "info.json" in result["msg"]
    assert "pw@" not in result["msg"]
    assert not os.path.exists(os.path.dirname(os.path.dirname(bundle)))  # incidents/ was not left behind


@pytest.mark.parametrize("kernel_copy", [True, False])
@pytest.mark.parametrize("parallel", [False, True])
def test_hashing_and_copying_match_hashlib_and_blake3(tmp_path, parallel, kernel_copy):
    path = tmp_path / "blob.bin"
    data = os.urandom(5 * 65536 + 12345)
    path.write_bytes(data)
    expected = (len(data), hashlib.sha256(data).hexdigest(), blake3.blake3(data).hexdigest())
    digest = hashing.hash_file(str(path), buffer_size=65536, parallel=parallel)
    assert (digest.size, digest.sha256, digest.blake3) == expected
    temp, digest = hashing.copy_to_temp(str(path), str(tmp_path), "copy", buffer_size=65536, parallel=parallel,
                                        kernel_copy=kernel_copy)
    assert (digest.size, digest.sha256, digest.blake3) == expected
    with open(temp, "rb") as handle:
        assert handle.read() == data  # two reused buffers: no block was overwritten before it was hashed
    assert os.stat(temp).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("errno_value", [errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP])
def test_copy_falls_back_to_blocks_where_the_kernel_cannot_copy(tmp_path, monkeypatch, errno_value):
    path = tmp_path / "blob.bin"
    data = os.urandom(3 * 65536 + 7)
    path.write_bytes(data)
    calls = []

    def refuse(*args):
        calls.append(args)
        raise OSError(errno_value, os.strerror(errno_value))

    monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    temp, digest = hashing.copy_to_temp(str(path), str(tmp_path), "copy", buffer_size=65536)
    assert calls, "the kernel copy was not tried"
    assert digest == hashing.hash_bytes(data)
    with open(temp, "rb") as handle:
        assert handle.read() == data


def test_copy_without_copy_file_range(tmp_path, monkeypatch):
    path = tmp_path / "blob.bin"
    data = os.urandom(65536 + 3)
    path.write_bytes(data)
    monkeypatch.delattr(os, "copy_file_range", raising=False)
    temp, digest = hashing.copy_to_temp(str(path), str(tmp_path), "copy", buffer_size=4096)
    assert digest == hashing.hash_bytes(data)
    with open(temp, "rb") as handle:
        assert handle.read() == data


def test_copy_of_a_file_whose_size_the_kernel_does_not_know(tmp_path):
    """/proc files report size 0: the kernel copy ends at once, the rest is read."""
    with open("/proc/self/mountinfo", "rb") as handle:
        before = handle.read()
    temp, digest = hashing.copy_to_temp("/proc/self/mountinfo", str(tmp_path), "mountinfo")
    with open(temp, "rb") as handle:
        copied = handle.read()
    assert len(copied) > 0 and digest == hashing.hash_bytes(copied)
    assert copied.splitlines()[0] == before.splitlines()[0]


def test_copy_on_a_full_disk_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(65536))
    bundle = tmp_path / "bundle"
    bundle.mkdir()

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "copy_file_range", full, raising=False)
    with pytest.raises(OSError) as info:
        hashing.copy_to_temp(str(path), str(bundle), "copy")
    assert info.value.errno == errno.ENOSPC
    assert os.listdir(str(bundle)) == []


# ------------------------------------------- hostile files, crashes and full disks (issue #16)

ITEMS = [{"name": "pods.yaml", "content": "kind: List\n", "kind": "state"},
         {"name": "notes.txt", "content": "first look\n"}]


def collect(capsys, bundle, items=None, **extra):
    """One state=present run (ITEMS by default)."""
    args = {"path": bundle, "incident_id": INCIDENT, "items": ITEMS if items is None else items}
    args.update(extra)
    return run_module(capsys, args)


def verify(capsys, bundle):
    return run_module(capsys, {"path": bundle, "state": "verify"})


def _writable(bundle):
    os.chmod(bundle, 0o750)


def test_verify_flags_an_item_replaced_by_a_symlink_without_following_it(capsys, bundle, tmp_path):
    collect(capsys, bundle)
    outside = tmp_path / "outside.yaml"
    outside.write_bytes(b"kind: List\n")  # same content: only lstat tells it apart
    _writable(bundle)
    os.unlink(os.path.join(bundle, "pods.yaml"))
    os.symlink(str(outside), os.path.join(bundle, "pods.yaml"))
    result = verify(capsys, bundle)
    assert result["verified"] is False
    assert [(m["name"], m["reason"]) for m in result["mismatches"]] == [("pods.yaml", "symlink")]


def test_verify_flags_a_fifo_without_blocking(capsys, bundle):
    collect(capsys, bundle)
    _writable(bundle)
    os.unlink(os.path.join(bundle, "notes.txt"))
    os.mkfifo(os.path.join(bundle, "notes.txt"))
    os.mkfifo(os.path.join(bundle, "planted"))
    result = verify(capsys, bundle)
    reasons = dict((m["name"], m["reason"]) for m in result["mismatches"])
    assert reasons == {"notes.txt": "not_regular", "planted": "extra"}


def test_a_linked_manifest_is_refused_and_its_target_untouched(capsys, bundle, tmp_path):
    collect(capsys, bundle)
    outside = tmp_path / "outside.json"
    outside.write_bytes(b"not the collection's\n")
    _writable(bundle)
    manifest = os.path.join(bundle, "manifest.json")
    os.unlink(manifest)
    os.symlink(str(outside), manifest)
    result = collect(capsys, bundle, [{"name": "more.txt", "content": "x"}])
    assert result["failed"] is True and manifest in result["msg"] and "symbolic link" in result["msg"]
    assert outside.read_bytes() == b"not the collection's\n"
    assert os.path.islink(manifest) and not os.path.exists(os.path.join(bundle, "more.txt"))
    checked = verify(capsys, bundle)
    assert checked["verified"] is False
    assert ("manifest.json", "symlink") in [(m["name"], m["reason"]) for m in checked["mismatches"]]


def test_a_killed_run_leaves_leftovers_that_verify_ignores_and_the_next_run_removes(capsys, bundle):
    collect(capsys, bundle)
    _writable(bundle)
    staging = os.path.join(bundle, ".staging-20261128T102104Z-0badc0de")
    os.mkdir(staging)
    with open(os.path.join(staging, ".big.log.abcdef.partial"), "wb") as handle:
        handle.write(b"half a co")
    with open(os.path.join(bundle, ".old.log.xyz123.partial"), "wb") as handle:  # the previous layout
        handle.write(b"half")
    checked = verify(capsys, bundle)
    assert checked["verified"] is True, checked["mismatches"]
    assert checked["leftovers"] == [".old.log.xyz123.partial", ".staging-20261128T102104Z-0badc0de"]
    assert "interrupted" in checked["msg"]
    result = collect(capsys, bundle, ITEMS + [{"name": "big.log", "content": "all of it\n"}])
    assert "failed" not in result, result.get("msg")
    assert result["changed_items"] == ["big.log"] and len(result["recovered"]) == 2
    assert sorted(os.listdir(bundle)) == ["SHA256SUMS", "big.log", "manifest.json", "manifest.json.sha256",
                                          "notes.txt", "pods.yaml"]
    assert verify(capsys, bundle)["verified"] is True


def _disk_full_on(monkeypatch, name):
    real = fileutil.atomic_write

    def atomic_write(path, data, *args, **kwargs):
        if os.path.basename(path) == name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data, *args, **kwargs)

    monkeypatch.setattr(fileutil, "atomic_write", atomic_write)


def test_a_full_disk_while_publishing_is_completed_by_the_next_run(capsys, bundle, monkeypatch):
    collect(capsys, bundle)
    _disk_full_on(monkeypatch, "manifest.json")
    items = ITEMS + [{"name": "new.txt", "content": "after the outage\n"}]
    failed = collect(capsys, bundle, items)
    monkeypatch.undo()
    assert failed["failed"] is True and "No space left" in failed["msg"] and "next run" in failed["msg"]
    pending = verify(capsys, bundle)
    assert pending["leftovers"] and "state=present" in pending["msg"]
    again = collect(capsys, bundle, items)  # the same task again: no name is refused for ever
    assert "failed" not in again, again.get("msg")
    assert again["changed"] is False and "completed the interrupted collection" in again["recovered"][0]
    assert verify(capsys, bundle)["verified"] is True
    names = [i["name"] for i in json.load(open(os.path.join(bundle, "manifest.json")))["items"]]
    assert names == ["pods.yaml", "notes.txt", "new.txt"]


def test_a_full_disk_while_staging_leaves_the_bundle_as_it_was(capsys, bundle, monkeypatch):
    collect(capsys, bundle)
    before = tree(bundle)

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileutil.os, "write", full)
    failed = collect(capsys, bundle, ITEMS + [{"name": "new.txt", "content": "x" * 10000}])
    monkeypatch.undo()
    assert failed["failed"] is True and "No space left" in failed["msg"]
    after = tree(bundle)
    assert after.pop(".")[2] == before.pop(".")[2]  # the same names (the staging directory came and went)
    assert after == before
    assert "failed" not in collect(capsys, bundle, ITEMS + [{"name": "new.txt", "content": "x"}])


def test_two_runs_into_one_bundle_wait_for_each_other(tmp_path, monkeypatch):
    path = str(tmp_path / "evidence")
    params = dict(path=path, incident_id=INCIDENT, state="present", force=False, require_audit_snapshot=False,
                  timeout=30.0, validate_certs=True, ca_path=None, url_max_bytes=1024)
    real_flock = bundle_mod.fcntl.flock
    interleaved = []

    def flock(fd, operation):
        if not interleaved:
            # The first run has read the (missing) bundle; another run collects before it gets the lock.
            interleaved.append(None)
            interleaved[0] = bundle_mod.run_present(dict(params, items=[dict(name="a.txt", content="a")]))
        return real_flock(fd, operation)

    monkeypatch.setattr(bundle_mod.fcntl, "flock", flock)
    result = bundle_mod.run_present(dict(params, items=[dict(name="b.txt", content="b")]))
    assert interleaved[0]["changed_items"] == ["a.txt"]
    assert result["changed_items"] == ["b.txt"] and [i["name"] for i in result["items"]] == ["a.txt", "b.txt"]


def test_a_versioned_url_item_records_each_new_body(capsys, bundle, http_url):
    items = [{"name": "counter.txt", "url": http_url + "/counter", "kind": "metrics", "versioned": True}]
    first = collect(capsys, bundle, items)
    second = collect(capsys, bundle, items)
    assert "failed" not in second, second.get("msg")
    assert second["changed_items"] == ["counter.txt"] and len(second["superseded"]) == 1
    assert first["items"][0]["sha256"] == [i for i in second["items"] if i["status"] == "superseded"][0]["sha256"]
    assert verify(capsys, bundle)["verified"] is True


def test_journal_leftover_names_are_only_the_collections():
    assert journal.LEFTOVER_RE.match(".staging-20261128T102104Z-0badc0de")
    assert journal.LEFTOVER_RE.match(".pods.yaml.1a2b.partial")
    assert not journal.LEFTOVER_RE.match("planted") and not journal.LEFTOVER_RE.match(".staging-../x")
