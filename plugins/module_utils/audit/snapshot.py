# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Consistent, read-only forensic copies of a live audit database (the logic of ``audit_snapshot``).

The source is opened read-only and copied with SQLite's online backup API in
one step (one read transaction: a single point in time, never restarted by the
live writer). The copy is written under a temporary name, converted to a
standalone rollback-journal file, checked with ``PRAGMA integrity_check``,
made read-only and renamed into place.
"""

from __future__ import annotations

import datetime
import errno
import os
import sqlite3
import tempfile
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    SIDE_FILES,
    AuditDbError,
    check_busy_timeout,
    check_database_file,
    check_schema,
    clash_text,
    count_events,
    describe_sqlite_error,
    file_sha256,
    last_event,
    open_readonly,
    side_file_clash,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.contract import validate_incident_id
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import fsync_dir
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import utc_stamp

SNAPSHOT_MODE = 0o444
Facts = t.Dict[str, t.Any]


def snapshot_name(incident_id: t.Optional[str], now: t.Optional[datetime.datetime] = None) -> str:
    """``airlock-audit-<incident_id>.db``, or ``airlock-audit-<UTC time>.db`` without an incident id."""
    return "airlock-audit-%s.db" % (incident_id or utc_stamp(now, fraction=False))


def snapshot_destination(dest: str, incident_id: t.Optional[str], now: t.Optional[datetime.datetime] = None) -> str:
    """The absolute destination file for ``dest``: that file, or :func:`snapshot_name` in the directory ``dest``
    names (an existing directory, or a path ending in '/'); InputError when the directory does not exist."""
    if os.path.isdir(dest) or dest.endswith(os.sep):
        if not os.path.isdir(dest):
            raise InputError("dest: directory %s does not exist" % dest)
        return os.path.abspath(os.path.join(dest, snapshot_name(incident_id, now)))
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise InputError("dest: directory %s does not exist" % parent)
    return os.path.abspath(dest)


def resolve_dest(path: str, dest: str, incident_id: t.Optional[str],
                 now: t.Optional[datetime.datetime] = None) -> str:
    """The destination file for ``dest``; InputError on an unusable incident id or destination."""
    validate_incident_id(incident_id, required=False)
    target = snapshot_destination(dest, incident_id, now)
    clash = side_file_clash(target, path)
    if clash is not None:
        raise InputError("dest: %s is the source database%s; choose another destination" % (target, clash_text(clash)))
    return target


def _db_facts(conn: sqlite3.Connection) -> Facts:
    head = last_event(conn)
    return dict(events=count_events(conn), chain_head=head[1] if head else None,
                chain_head_rowid=head[0] if head else None)


def _integrity(conn: sqlite3.Connection) -> str:
    lines = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
    return "\n".join(str(line) for line in lines)


def _file_facts(facts: Facts, copy_path: str) -> Facts:
    facts["sha256"] = file_sha256(copy_path)
    facts["size"] = os.path.getsize(copy_path)
    facts["dest"] = copy_path
    return facts


def source_facts(path: str, busy_timeout: float = 5.0) -> Facts:
    """Events and chain head of the source (what a snapshot would copy)."""
    conn = open_readonly(path, busy_timeout)
    try:
        check_schema(conn, path)
        return _db_facts(conn)
    finally:
        conn.close()


def copy_facts(copy_path: str, busy_timeout: float = 5.0) -> Facts:
    """Facts about an existing copy: sha256, size, events, chain head, integrity_check."""
    conn = open_readonly(copy_path, busy_timeout, field="dest")
    try:
        check_schema(conn, copy_path)
        facts = _db_facts(conn)
        facts["integrity_check"] = _integrity(conn)
    finally:
        conn.close()
    return _file_facts(facts, copy_path)


def _remove_quietly(path: str) -> None:
    for suffix in SIDE_FILES:
        try:
            os.unlink(path + suffix)
        except OSError:
            pass


def _backup(source: sqlite3.Connection, path: str, tmp: str) -> Facts:
    """Copy ``source`` into ``tmp`` as a standalone file; its facts."""
    check_schema(source, path)
    copy = sqlite3.connect(tmp, isolation_level=None)
    try:
        # pages=-1: the whole database in one step, i.e. one read transaction
        # on the source: a single consistent point in time, never restarted by
        # the live writer's commits.
        source.backup(copy, pages=-1)
        # A standalone file: no -wal/-shm needed to open the evidence.
        copy.execute("PRAGMA journal_mode=DELETE").fetchone()
        facts = _db_facts(copy)
        facts["integrity_check"] = _integrity(copy)
    finally:
        copy.close()
    return facts


def _is_full(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL: the copy being written ran out of space (the source is only read)."""
    return getattr(exc, "sqlite_errorcode", None) == getattr(sqlite3, "SQLITE_FULL", 13) \
        or "disk is full" in str(exc).lower()


def take_snapshot(path: str, target: str, busy_timeout: float = 5.0) -> Facts:
    """Back up ``path`` into ``target`` (atomically, mode 0444); returns the copy's facts."""
    source = open_readonly(path, busy_timeout)
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(target), suffix=".part", dir=directory)
    os.close(fd)
    try:
        try:
            facts = _backup(source, path, tmp)
        except sqlite3.Error as exc:
            if _is_full(exc):
                raise OSError(errno.ENOSPC, "no space left writing the copy (%s)" % exc) from exc
            raise
        finally:
            source.close()
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, SNAPSHOT_MODE)
        os.replace(tmp, target)
        fsync_dir(directory)
    except BaseException:
        _remove_quietly(tmp)
        raise
    return _file_facts(facts, target)


def _existing(target: str, busy_timeout: float) -> Facts:
    """The facts of the snapshot already at ``target``; AuditDbError when it is something else.

    A symbolic link is refused, not followed: opening a database through it would read (and, for a WAL
    database, create ``-wal``/``-shm`` files) wherever it points."""
    if os.path.islink(target):
        raise AuditDbError("dest: %s is a symbolic link; refusing to read or replace it (name a regular file or "
                           "a directory)" % target)
    if os.path.isdir(target) or not os.path.isfile(target):
        raise AuditDbError("dest: %s exists and is not a regular file" % target)
    try:
        return copy_facts(target, busy_timeout)
    except AuditDbError as exc:
        raise AuditDbError("dest: %s exists but is not an audit snapshot (%s); refusing to replace it "
                           "without force=true" % (target, exc.msg)) from exc


def _against_source(path: str, target: str, facts: Facts, busy_timeout: float) -> Facts:
    """Compare the existing snapshot ``facts`` with the source: the source's facts, with ``msg``.

    The snapshot is kept only when it is a copy of this source's chain (its head is a row of the source);
    AuditDbError when it is not (another database, or the source's chain was rewritten).
    """
    conn = open_readonly(path, busy_timeout)
    try:
        check_schema(conn, path)
        source = _db_facts(conn)
        found = facts["chain_head"] is None or conn.execute(
            "SELECT 1 FROM audit_events WHERE hash = ? LIMIT 1", (facts["chain_head"],)).fetchone() is not None
    finally:
        conn.close()
    extra = dict(source_events=source["events"], source_chain_head=source["chain_head"])
    if not found:
        raise AuditDbError(
            "dest: %s exists but is not a snapshot of %s: its chain head %s is not in the source (another "
            "database, or the source's chain was rewritten since); refusing to replace it without force=true"
            % (target, path, facts["chain_head"]), **dict(facts, **extra))
    newer = source["events"] - facts["events"]
    extra["msg"] = "snapshot %s already exists (%d events, head found in the source, which now has %d events%s); " \
        "use force=true for a new one" % (target, facts["events"], source["events"],
                                          ", %d newer" % newer if newer > 0 else "")
    return extra


def _snapshot(path: str, target: str, params: t.Mapping[str, t.Any], check_mode: bool) -> Facts:
    busy_timeout = params["busy_timeout"]
    check_database_file(path)  # the source first: nothing at the destination is read for a missing source
    if os.path.lexists(target) and not params["force"]:
        facts = _existing(target, busy_timeout)
        facts.update(_against_source(path, target, facts, busy_timeout))
        return facts
    if check_mode:
        facts = source_facts(path, busy_timeout)
        facts.update(sha256=None, size=None, integrity_check=None, changed=True)
        facts["msg"] = "would copy %s (%d events, head %s) to %s%s" % (
            path, facts["events"], facts["chain_head"], target,
            " replacing the existing file" if os.path.lexists(target) else "")
        return facts
    facts = take_snapshot(path, target, busy_timeout)
    facts["changed"] = True
    facts["msg"] = "copied %s to %s: %d events, head %s, integrity_check %s" % (
        path, target, facts["events"], facts["chain_head"], facts["integrity_check"])
    return facts


def snapshot_audit(params: t.Mapping[str, t.Any], check_mode: bool = False) -> Facts:
    """The ``audit_snapshot`` task: the module result with ``msg``; errors carry ``source`` and ``dest``.

    The caller warns when ``integrity_check`` is not ``ok``.
    """
    path = params["path"]
    check_busy_timeout(params["busy_timeout"])
    result: Facts = dict(changed=False, source=os.path.abspath(path))
    target = resolve_dest(path, params["dest"], params["incident_id"])
    result["dest"] = target
    try:
        result.update(_snapshot(path, target, params, check_mode))
    except AuditDbError as exc:
        exc.result = dict(result, **exc.result)
        raise
    except sqlite3.Error as exc:
        raise AuditDbError(describe_sqlite_error(exc, path, params["busy_timeout"]), **result) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise AuditDbError("dest: cannot write the snapshot %s: the destination file system is full or over "
                               "quota (%s); free space there or choose another dest (the source %s was only "
                               "read, and nothing was left behind)" % (target, exc, path), **result) from exc
        raise AuditDbError("cannot write the snapshot %s: %s" % (target, exc), **result) from exc
    return result
