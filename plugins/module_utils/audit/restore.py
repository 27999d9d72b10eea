# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Put a verified backup in place of a damaged or lost audit database (the logic of ``audit_restore``).

The damaged files (the database and its ``-wal``/``-shm``/``-journal``) are never deleted: they are
moved into a directory of the case, and a record of the restore (``<incident_id>/<action>``, the
backup's SHA-256 and chain head, what was moved where) is written beside them. A rerun with the same
backup recognises the record and changes nothing; ``state=reverted`` moves the damaged files back.
The backup is copied with SQLite's online backup API into a temporary file in the database's
directory and renamed into place, so the live path holds either the old files or the whole backup.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import shutil
import sqlite3
import stat
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    SIDE_FILES,
    AuditDbError,
    check_busy_timeout,
    file_sha256,
    open_readonly,
)
from ansible_collections.airlock.incident.plugins.module_utils.audit.snapshot import copy_facts
from ansible_collections.airlock.incident.plugins.module_utils.core.contract import action_errors
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import (
    atomic_write,
    check_regular,
    create_temp,
    file_kind,
    fsync_dir,
    lstat_or_none,
    open_dir,
    read_regular,
)

Facts = t.Dict[str, t.Any]
STATES = ("restored", "reverted")


class RestoreError(AirlockIncidentError):
    """The restore could not be completed; ``msg`` says what was done and where the files are."""


def record_path(keep_dir: str, incident_id: str, action: str) -> str:
    """The restore record of ``<incident_id>/<action>`` in ``keep_dir``."""
    return os.path.join(keep_dir, "audit-restore-%s-%s.json" % (incident_id, action))


def _check_live_path(path: str) -> None:
    """The live database path and its side files are regular files or absent, in a real directory."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError("path: the directory %s of the database does not exist; accepted values: a database path "
                         "in an existing directory" % directory)
    for suffix in SIDE_FILES:
        info = lstat_or_none(path + suffix)
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise InputError("path: %s%s is %s, not a regular file; refused (nothing was moved)"
                             % (path, suffix, file_kind(info.st_mode)))


def check_options(params: t.Mapping[str, t.Any], check_mode: bool) -> None:
    """Every refusal, before anything is read or changed."""
    errors = action_errors(params, check_mode, "replace the audit database with a backup",
                           ("incident_id", "action", "confirm"))
    if params["state"] not in STATES:
        errors.append("state: invalid value %r; accepted values: %s" % (params["state"], ", ".join(STATES)))
    if errors:
        raise InputError("; ".join(errors))
    check_busy_timeout(params["busy_timeout"])
    keep = params["keep_dir"]
    if not os.path.isdir(keep):
        raise InputError("keep_dir: %s is not an existing directory; accepted values: a directory of the case" % keep)
    _check_live_path(params["path"])
    if params["state"] == "restored":
        if not params.get("backup"):
            raise InputError("backup: required with state=restored; accepted values: the path of a backup file")
        try:
            check_regular(params["backup"], "backup", "a backup file")
        except FileNotFoundError as exc:
            raise InputError("backup: %s does not exist" % params["backup"]) from exc
        if os.path.abspath(params["backup"]) in [os.path.abspath(params["path"]) + s for s in SIDE_FILES]:
            raise InputError("backup: %s is the live database (path) itself; accepted values: a backup elsewhere"
                             % params["backup"])


def _read_record(path: str) -> t.Optional[Facts]:
    data = read_regular(path)
    if data is None:
        return None
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise RestoreError("the restore record %s is not JSON (%s); move it away to restore again" % (path, exc)) from exc
    if not isinstance(record, dict):
        raise RestoreError("the restore record %s is not a JSON object; move it away to restore again" % path)
    return record


def _move(source: str, target_dir: str) -> str:
    """Move ``source`` into ``target_dir`` (copy and remove across file systems); the new path."""
    target = os.path.join(target_dir, os.path.basename(source))
    if lstat_or_none(target) is not None:
        raise RestoreError("%s exists already; nothing more was moved" % target)
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        with open(source, "rb") as src, open(target, "xb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
        os.unlink(source)
    return target


def _stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _existing(path: str) -> t.List[str]:
    return [path + suffix for suffix in SIDE_FILES if lstat_or_none(path + suffix) is not None]


def _place_backup(backup: str, path: str, mode: int, busy_timeout: float) -> None:
    """Copy ``backup`` (online backup API, read-only) to a temp file beside ``path`` and rename it into place."""
    directory, name = os.path.split(os.path.abspath(path))
    dir_fd = open_dir(directory)
    try:
        fd, temp = create_temp(dir_fd, name, ".restore", mode)
        os.close(fd)
        temp_path = os.path.join(directory, temp)
        try:
            source = open_readonly(backup, busy_timeout, field="backup")
            try:
                copy = sqlite3.connect(temp_path, isolation_level=None)
                try:
                    source.backup(copy, pages=-1)
                    copy.execute("PRAGMA journal_mode=DELETE").fetchone()
                finally:
                    copy.close()
            finally:
                source.close()
            os.chmod(temp_path, mode)
            if lstat_or_none(name, dir_fd) is not None:
                raise RestoreError("%s appeared while the backup was copied (is Airlock still writing?); "
                                   "nothing was replaced" % path)
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            for suffix in SIDE_FILES:
                try:
                    os.unlink(temp_path + suffix)
                except OSError:
                    pass
            raise
        fsync_dir(directory)
    finally:
        os.close(dir_fd)


def _restore(params: t.Mapping[str, t.Any], check_mode: bool, record_file: str) -> Facts:
    path, backup = params["path"], params["backup"]
    busy = float(params["busy_timeout"])
    sha = file_sha256(backup)
    record = _read_record(record_file)
    if record is not None and record.get("state") == "restored":
        if record.get("backup_sha256") != sha:
            raise InputError("backup: %s/%s already restored %s (sha256 %s) in place of %s; revert it first "
                             "(state=reverted) or use another action"
                             % (params["incident_id"], params["action"], record.get("backup"),
                                record.get("backup_sha256"), path))
        return dict(record, changed=False, record=record_file,
                    msg="%s was already restored from %s for %s/%s (record %s)"
                        % (path, record.get("backup"), params["incident_id"], params["action"], record_file))
    try:
        facts = copy_facts(backup, busy)
    except AuditDbError as exc:
        raise InputError("backup: %s" % exc) from exc
    except sqlite3.Error as exc:
        raise InputError("backup: %s cannot be read (%s); choose another backup" % (backup, exc)) from exc
    if facts.get("integrity_check") != "ok":
        raise InputError("backup: %s fails integrity_check (%s); choose another backup" % (backup, facts["integrity_check"]))
    current = _existing(path)
    kept_dir = os.path.join(params["keep_dir"], "damaged-%s-%s-%s" % (params["incident_id"], params["action"], _stamp()))
    mode = stat.S_IMODE(os.stat(path).st_mode) if path in current else 0o640
    result: Facts = dict(state="restored", incident_id=params["incident_id"], action=params["action"], database=path,
                         backup=os.path.abspath(backup), backup_sha256=sha, chain_head=facts["chain_head"],
                         events=facts["events"], moved=current, kept_dir=kept_dir if current else None,
                         kept=[os.path.join(kept_dir, os.path.basename(p)) for p in current])
    if check_mode:
        return dict(result, changed=True, record=record_file,
                    msg="Check mode: would move %s into %s and put %s (%d events, chain head %s) at %s"
                        % (", ".join(current) or "nothing (the database is missing)", kept_dir, backup,
                           facts["events"], facts["chain_head"], path))
    if current:
        os.mkdir(kept_dir, 0o700)
        for item in current:
            _move(item, kept_dir)
    try:
        _place_backup(backup, path, mode, busy)
    except (OSError, sqlite3.Error, AuditDbError) as exc:
        raise RestoreError("the damaged files are in %s, but the backup could not be put in place: %s"
                           % (kept_dir, exc), **result) from exc
    result["restored_at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    atomic_write(record_file, (json.dumps(result, indent=2, sort_keys=True) + "\n").encode("utf-8"), 0o600)
    return dict(result, changed=True, record=record_file,
                msg="Restored %s from %s (%d events, chain head %s); the damaged files are kept in %s"
                    % (path, backup, facts["events"], facts["chain_head"], kept_dir if current else "(none: it was missing)"))


def _revert(params: t.Mapping[str, t.Any], check_mode: bool, record_file: str) -> Facts:
    path = params["path"]
    record = _read_record(record_file)
    if record is None or record.get("state") != "restored":
        return dict(changed=False, record=record_file, state="reverted",
                    msg="nothing to revert: no restore recorded for %s/%s in %s"
                        % (params["incident_id"], params["action"], params["keep_dir"]))
    kept = [p for p in record.get("kept") or [] if isinstance(p, str)]
    missing = [p for p in kept if lstat_or_none(p) is None]
    if missing:
        raise RestoreError("cannot revert: the kept files %s are gone" % ", ".join(missing))
    aside = os.path.join(params["keep_dir"], "restored-%s-%s-%s" % (params["incident_id"], params["action"], _stamp()))
    current = _existing(path)
    if check_mode:
        return dict(changed=True, record=record_file, state="reverted",
                    msg="Check mode: would move %s into %s and put back %s"
                        % (", ".join(current) or "nothing", aside, ", ".join(kept) or "nothing"))
    if current:
        os.mkdir(aside, 0o700)
        for item in current:
            _move(item, aside)
    directory = os.path.dirname(os.path.abspath(path))
    for item in kept:
        _move(item, directory)
    record.update(state="reverted", reverted_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  restored_copy_dir=aside if current else None)
    atomic_write(record_file, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"), 0o600)
    return dict(record, changed=True, record=record_file,
                msg="Reverted the restore of %s: the files kept in %s are back; the restored copy is in %s"
                    % (path, record.get("kept_dir"), aside if current else "(none)"))


def restore_audit(params: t.Mapping[str, t.Any], check_mode: bool = False) -> Facts:
    """The ``audit_restore`` task: refuse or restore or revert; the module result with ``msg`` and ``undo``."""
    check_options(params, check_mode)
    record_file = record_path(params["keep_dir"], params["incident_id"], params["action"])
    if params["state"] == "reverted":
        return _revert(params, check_mode, record_file)
    result = _restore(params, check_mode, record_file)
    result["undo"] = {"module": "airlock.incident.audit_restore", "state": "reverted", "path": params["path"],
                      "keep_dir": params["keep_dir"], "incident_id": params["incident_id"], "action": params["action"],
                      "note": "stop Airlock first; the restored copy is moved aside, the damaged files put back"}
    return result
