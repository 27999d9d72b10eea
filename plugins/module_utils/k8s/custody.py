# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The local side of an in-pod audit snapshot: where it goes, the chain-of-custody record, and keeping it.

* :func:`resolve_dest`: the destination file (a file, or a directory);
* :class:`Base64Decoder` and :func:`copy_to_temp`: the copy arrives as base64 text in arbitrary pieces and is
  written block by block;
* :func:`local_facts`: events, chain head and integrity of the local copy (read-only; only rollback-journal
  files made by the module are opened);
* :func:`existing_snapshot`: a rerun finds the snapshot already there and verifies it against its record;
* :func:`custody_record` and :func:`keep`: the record written next to the snapshot (``<file>.custody.json``), and
  placing both without replacing anything (an existing snapshot is kept under a ``.superseded-<UTC>`` name).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import os
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit import db as audit_db
from ansible_collections.airlock.incident.plugins.module_utils.audit.snapshot import snapshot_destination
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import fsync_dir
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import utc_stamp
from ansible_collections.airlock.incident.plugins.module_utils.evidence import hashing, store
from ansible_collections.airlock.incident.plugins.module_utils.k8s.pod_exec import PodEvidenceError, check_ok

TRANSPORT = "base64 over the Kubernetes exec stream (stdout), decoded block by block"
CUSTODY_FORMAT = "airlock.incident/k8s-audit-snapshot/v1"

Obj = t.Dict[str, t.Any]


def resolve_dest(dest: str, incident_id: t.Optional[str], moment: t.Optional[datetime.datetime] = None) -> str:
    """The local destination file for ``dest`` (a file, or a directory / path ending in '/')."""
    try:
        target = snapshot_destination(dest, incident_id, moment)
    except InputError as exc:
        raise PodEvidenceError(exc.msg) from exc
    if os.path.basename(target).startswith("."):
        raise PodEvidenceError("dest: %s starts with '.', which is reserved for temporary files" % target)
    return target


def custody_path(target: str) -> str:
    """The chain-of-custody record kept next to a snapshot."""
    return target + ".custody.json"


class Base64Decoder:
    """Decodes base64 text arriving in arbitrary pieces (line breaks anywhere) into a binary sink."""

    def __init__(self, sink: t.BinaryIO) -> None:
        self.sink = sink
        self.pending = ""
        self.size = 0
        self.text_chars = 0

    def feed(self, text: str) -> None:
        """Decode what arrived (whole 4-character groups; the rest waits for the next piece)."""
        if not text:
            return
        self.text_chars += len(text)
        data = self.pending + "".join(text.split())
        usable = len(data) - len(data) % 4
        self.pending = data[usable:]
        if usable:
            try:
                block = base64.b64decode(data[:usable], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise PodEvidenceError("the copy stream is not valid base64 (%s): the transfer was corrupted" % exc) from exc
            self.sink.write(block)
            self.size += len(block)

    def close(self) -> None:
        """Fail when the stream ended in the middle of a base64 group."""
        if self.pending.strip():
            raise PodEvidenceError("the copy stream ended in the middle of a base64 block (%d characters left): "
                                   "the transfer was cut short" % len(self.pending))


def copy_argv(pod_path: str) -> t.List[str]:
    """The in-pod command that sends a file out: base64 text on stdout (the image has BusyBox ``base64``)."""
    return ["base64", pod_path]


def copy_to_temp(ex: t.Any, pod_path: str, directory: str, name: str) -> str:
    """Copy the in-pod file ``pod_path`` out (``base64`` on the exec stream, decoded block by block, never held in
    memory) into a new temporary file in ``directory`` named after ``name``, synced to disk; its path.

    The caller verifies it (size, SHA-256) and places or discards it; on a failure here it is removed."""
    fd, temp = hashing.temp_path(directory, name)
    try:
        with os.fdopen(fd, "wb") as out:
            decoder = Base64Decoder(out)
            check_ok(ex.run(copy_argv(pod_path), on_stdout=decoder.feed), ex.where(),
                     "copying %s out of the pod (base64)" % pod_path)
            decoder.close()
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        hashing.discard(temp)
        raise
    return temp


def _sqlite_mode(path: str) -> t.Optional[t.Tuple[int, int]]:
    """Bytes 18-19 of an SQLite file (1,1 rollback journal; 2,2 WAL), or None."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except (IOError, OSError):
        return None
    if len(header) < 20:
        return None
    return header[18], header[19]


def local_facts(path: str) -> Obj:
    """events, chain head and integrity of a local snapshot (read-only; WAL-format files are refused)."""
    if _sqlite_mode(path) != (1, 1):
        raise PodEvidenceError("%s is not a self-contained SQLite file in rollback-journal mode (header bytes 18-19 "
                               "%r); it was not made by this module" % (path, _sqlite_mode(path)))
    conn = audit_db.open_readonly(path, 5.0, field="dest")
    try:
        audit_db.check_schema(conn, path)
        head = audit_db.last_event(conn)
        lines = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        return dict(events=audit_db.count_events(conn), chain_head=head[1] if head else None,
                    chain_head_rowid=head[0] if head else None,
                    integrity_check="\n".join(str(line) for line in lines))
    finally:
        conn.close()


def read_custody(target: str) -> t.Optional[Obj]:
    """The custody record of a snapshot, or None when absent or unreadable."""
    path = custody_path(target)
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (IOError, OSError, ValueError):
        return None


def evidence_item(target: str, facts: Obj, custody: Obj) -> Obj:
    """The item to hand to airlock.incident.evidence (same shape as the host audit snapshot's)."""
    return dict(
        name=os.path.basename(target),
        src=target,
        kind="audit_snapshot",
        chain_head=facts.get("chain_head") or "",
        events=facts.get("events") or 0,
        source="airlock.incident.k8s_audit_snapshot pod=%s/%s container=%s db_path=%s" % (
            custody.get("namespace"), custody.get("pod"), custody.get("container"), custody.get("db_path")),
        description="sqlite3 .backup in the pod; in-pod sha256 %s, local sha256 %s, %s bytes, copied as %s" % (
            custody.get("pod_sha256"), custody.get("local_sha256"), custody.get("local_size"), TRANSPORT),
    )


def supersede(target: str, moment: datetime.datetime) -> str:
    """Keep an existing snapshot (and its custody record) under a .superseded-<UTC> name; returns the new name."""
    base = "%s.superseded-%s" % (target, utc_stamp(moment, fraction=False))
    candidate = base
    counter = 1
    while os.path.lexists(candidate):
        counter += 1
        candidate = "%s-%d" % (base, counter)
    os.rename(target, candidate)
    if os.path.lexists(custody_path(target)):
        os.rename(custody_path(target), custody_path(candidate))
    return candidate


def existing_snapshot(target: str, result: Obj) -> Obj:
    """The result for a snapshot that is already there (nothing is exec'd): its facts, hashes and custody record.

    Refuses a file that is not an audit snapshot, and a snapshot whose sha256 no longer matches its record.
    """
    if not os.path.isfile(target):
        raise PodEvidenceError("dest: %s exists and is not a regular file" % target, **result)
    try:
        facts = local_facts(target)
    except AirlockIncidentError as exc:
        raise PodEvidenceError("dest: %s exists but is not an audit snapshot (%s); refusing to replace it without "
                               "force=true" % (target, exc.msg), **result) from exc
    digest = store.hash_file(target)
    custody = read_custody(target) or {}
    result.update(facts, sha256=digest.sha256, local_sha256=digest.sha256, blake3=digest.blake3,
                  size=digest.size, pod_sha256=custody.get("pod_sha256"), pod=custody.get("pod"),
                  custody=custody, custody_path=custody_path(target) if custody else None,
                  pod_tmp=custody.get("pod_tmp"), pod_tmp_removed=custody.get("pod_tmp_removed"),
                  evidence_item=evidence_item(target, facts, custody))
    if custody.get("local_sha256") and custody["local_sha256"] != digest.sha256:
        raise PodEvidenceError("dest: %s no longer has the sha256 recorded in %s (%s, now %s): the snapshot was "
                               "modified after collection"
                               % (target, custody_path(target), custody["local_sha256"], digest.sha256), **result)
    result["msg"] = "snapshot %s already exists (%d events, head %s); nothing was exec'd: use force=true for a new one" % (
        target, facts["events"], facts["chain_head"])
    return result


def custody_record(target: str, moment: datetime.datetime, where: Obj, copy: Obj, digest: t.Any,
                   commands: t.List[Obj]) -> Obj:
    """The chain-of-custody record of a snapshot.

    ``where``: api_server, namespace, deployment, container, db_path, db_size, pod_tmp, pod_tmp_removed and the pod
    summary; ``copy``: pod_sha256 and pod_size measured in the pod; ``digest``: the local hashes.
    """
    custody = dict(
        format=CUSTODY_FORMAT,
        file=os.path.basename(target),
        collected_at=store.rfc3339(moment),
        collector=store.collector(),
        tool=store.tool_info(),
        transport=TRANSPORT,
        local_sha256=digest.sha256,
        local_blake3=digest.blake3,
        local_size=digest.size,
        hashes_match=True,
        commands=commands,
    )
    custody.update(where)
    custody.update(copy)
    return custody


def keep(local_tmp: str, target: str, custody: Obj, exists: bool, moment: datetime.datetime) -> t.Optional[str]:
    """Place the verified copy under ``target`` and its custody record next to it, replacing nothing: an existing
    snapshot is first kept under a ``.superseded-<UTC>`` name (returned)."""
    directory = os.path.dirname(target)
    superseded = supersede(target, moment) if exists else None
    store.place_new(local_tmp, target)
    record_tmp = hashing.bytes_to_temp(store.render_manifest(custody), directory, os.path.basename(custody_path(target)))
    try:
        store.place_new(record_tmp, custody_path(target))
    except BaseException:
        hashing.discard(record_tmp)
        raise
    fsync_dir(directory)
    return superseded
