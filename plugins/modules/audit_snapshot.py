#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_snapshot
short_description: Take a consistent, read-only forensic copy of a live MCP Airlock audit database
version_added: "0.1.0"
description:
  - Copies an MCP Airlock SQLite audit database with SQLite's online backup API while Airlock
    keeps writing to it. The copy is one consistent point in time (a single read transaction),
    which hashing or C(cp)-ing C(audit.db) under a live WAL writer is not.
  - The source is opened read-only (SQLite URI C(mode=ro) and C(PRAGMA query_only)); the module
    never writes to it and takes no write lock, so it cannot wedge Airlock's writer.
  - The copy is written under a temporary name in the destination directory, converted to a
    single self-contained file (rollback-journal mode, so it opens without C(-wal)/C(-shm)
    files), checked with C(PRAGMA integrity_check), made read-only (mode C(0444)) and renamed
    into place atomically.
  - Returns what evidence needs recorded beside it, the copy's SHA-256, the number of events,
    and the chain head (hash of the highest rowid), to be checked later with
    M(airlock.incident.audit_verify).
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: Reads the source and reports what would be copied; creates nothing.
  diff_mode:
    support: none
    description: There is nothing to show a diff of.
  platform:
    support: full
    platforms: posix
    description: Runs where the database file is, usually on the Airlock host or against a copy.
  idempotent:
    support: full
    description: >-
      A second run for the same destination file (same O(incident_id) and O(dest)) returns the
      existing copy's facts and changes nothing, unless O(force=true).
options:
  path:
    description:
      - Path of the live audit database (Airlock's C(audit.database), e.g.
        C(/var/lib/airlock/audit.db)).
    type: path
    required: true
  dest:
    description:
      - Destination file, or an existing directory (or a path ending in C(/)) in which the copy is
        named C(airlock-audit-<incident_id>.db), or C(airlock-audit-<UTC time>.db) without
        O(incident_id).
      - The parent directory must exist. O(dest) may not be the source database or one of its
        C(-wal), C(-shm) or C(-journal) files.
    type: path
    required: true
  incident_id:
    description:
      - Incident identifier used in the file name when O(dest) is a directory (letters, digits,
        C(.), C(_) and C(-); at most 128 characters).
      - Give it to make reruns idempotent when O(dest) is a directory.
    type: str
  force:
    description:
      - Take a new copy even when the destination file exists, replacing it atomically.
    type: bool
    default: false
  busy_timeout:
    description: Seconds to wait for a lock held by another connection before failing.
    type: float
    default: 5.0
notes:
  - "WAL caveat: a read-only connection to a WAL database needs the C(-shm) shared-memory index.
    While Airlock runs, C(-wal) and C(-shm) exist and the module only takes read locks in C(-shm),
    as any reader does. If nothing has the database open and those files are absent, SQLite
    creates them (empty) beside the database. The database file and the C(-wal) file are never
    modified."
  - A WAL database in a read-only directory without its C(-shm) file cannot be opened; copy the
    database together with its C(-wal) file first, or run where the directory is writable.
  - The copy differs from the source only in the journal-mode bytes of its header (18-19); its
    content pages are those of the source at the moment of the backup.
  - Undo by deleting the copy (it is mode C(0444), so remove it with C(state=absent) of
    M(ansible.builtin.file) or C(rm -f)).
seealso:
  - module: airlock.incident.audit_verify
  - module: airlock.incident.audit_query
"""

EXAMPLES = r"""
- name: Preserve the audit log as evidence
  airlock.incident.audit_snapshot:
    path: /var/lib/airlock/audit.db
    dest: /srv/evidence/INC-2026-0042/
    incident_id: INC-2026-0042
  register: snap

- name: Record the chain head beside the evidence
  ansible.builtin.copy:
    dest: /srv/evidence/INC-2026-0042/audit-chain-head.txt
    content: |
      file={{ snap.dest }}
      sha256={{ snap.sha256 }}
      events={{ snap.events }}
      chain_head={{ snap.chain_head }}
    mode: "0444"
"""

RETURN = r"""
dest:
  description: Path of the copy (in check mode, the path it would have).
  returned: always
  type: str
  sample: /srv/evidence/INC-2026-0042/airlock-audit-INC-2026-0042.db
sha256:
  description: SHA-256 of the copy (null in check mode when no copy exists yet).
  returned: always
  type: str
  sample: 4f0c1f0c6bd1c3a0b4a5d2e59e0f8ad1b44e1f3a9e1d8c3b2a1f0e9d8c7b6a59
events:
  description: Number of rows in C(audit_events) of the copy (of the source in check mode).
  returned: always
  type: int
  sample: 125000
chain_head:
  description: C(hash) of the event with the highest rowid in the copy (null when it has no events).
  returned: always
  type: str
  sample: 7a95df69c5daa2e048401ed8fd74268ff11789bc675bb3f68d3d0fdf500610aa
chain_head_rowid:
  description: Rowid of that event.
  returned: always
  type: int
  sample: 125000
integrity_check:
  description: Result of C(PRAGMA integrity_check) on the copy, C(ok) when sound (null in check mode).
  returned: always
  type: str
  sample: ok
size:
  description: Size of the copy in bytes (null in check mode when no copy exists yet).
  returned: always
  type: int
  sample: 92274688
source:
  description: Absolute path of the source database.
  returned: always
  type: str
  sample: /var/lib/airlock/audit.db
"""

import datetime
import os
import re
import sqlite3
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    AuditDbError,
    check_schema,
    count_events,
    describe_sqlite_error,
    file_sha256,
    last_event,
    open_readonly,
    same_file,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import fsync_dir

INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SIDE_FILES = ("", "-wal", "-shm", "-journal")


def resolve_dest(path, dest, incident_id, now=None):
    """The destination file for ``dest``; raises AuditDbError on an unusable destination."""
    if incident_id is not None and not INCIDENT_ID.match(incident_id):
        raise AuditDbError("incident_id: %r is not usable in a file name; use letters, digits, '.', '_' "
                           "and '-' (at most 128 characters, starting with a letter or digit)" % incident_id)
    is_directory = os.path.isdir(dest) or dest.endswith(os.sep)
    if is_directory:
        if not os.path.isdir(dest):
            raise AuditDbError("dest: directory %s does not exist" % dest)
        if incident_id:
            name = "airlock-audit-%s.db" % incident_id
        else:
            moment = now or datetime.datetime.now(datetime.timezone.utc)
            name = "airlock-audit-%s.db" % moment.strftime("%Y%m%dT%H%M%SZ")
        target = os.path.join(dest, name)
    else:
        target = dest
        parent = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(parent):
            raise AuditDbError("dest: directory %s does not exist" % parent)
    target = os.path.abspath(target)
    for suffix in SIDE_FILES:
        if same_file(target, path + suffix):
            raise AuditDbError("dest: %s is the source database%s; choose another destination"
                               % (target, " (%s file)" % suffix if suffix else ""))
    return target


def copy_facts(copy_path, busy_timeout=5.0):
    """Facts about an existing copy: sha256, size, events, chain head, integrity_check."""
    conn = open_readonly(copy_path, busy_timeout, field="dest")
    try:
        check_schema(conn, copy_path)
        facts = _db_facts(conn)
        facts["integrity_check"] = _integrity(conn)
    finally:
        conn.close()
    facts["sha256"] = file_sha256(copy_path)
    facts["size"] = os.path.getsize(copy_path)
    facts["dest"] = copy_path
    return facts


def _db_facts(conn):
    head = last_event(conn)
    return dict(events=count_events(conn), chain_head=head[1] if head else None,
                chain_head_rowid=head[0] if head else None)


def _integrity(conn):
    lines = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
    return "\n".join(str(line) for line in lines)


def _remove_quietly(path):
    for suffix in SIDE_FILES:
        try:
            os.unlink(path + suffix)
        except OSError:
            pass


def take_snapshot(path, target, busy_timeout=5.0):
    """Back up ``path`` into ``target`` (atomically, mode 0444); returns the copy's facts."""
    source = open_readonly(path, busy_timeout)
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(target), suffix=".part", dir=directory)
    os.close(fd)
    try:
        try:
            check_schema(source, path)
            copy = sqlite3.connect(tmp, isolation_level=None)
            try:
                # pages=-1: the whole database in one step, i.e. one read
                # transaction on the source: a single consistent point in time,
                # never restarted by the live writer's commits.
                source.backup(copy, pages=-1)
                # A standalone file: no -wal/-shm needed to open the evidence.
                copy.execute("PRAGMA journal_mode=DELETE").fetchone()
                facts = _db_facts(copy)
                facts["integrity_check"] = _integrity(copy)
            finally:
                copy.close()
        finally:
            source.close()
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)
        fsync_dir(directory)
    except BaseException:
        _remove_quietly(tmp)
        raise
    facts["sha256"] = file_sha256(target)
    facts["size"] = os.path.getsize(target)
    facts["dest"] = target
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            incident_id=dict(type="str"),
            force=dict(type="bool", default=False),
            busy_timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    path = p["path"]
    if p["busy_timeout"] < 0:
        module.fail_json(msg="busy_timeout: must be 0 or more seconds")
    result = dict(changed=False, source=os.path.abspath(path))
    try:
        target = resolve_dest(path, p["dest"], p["incident_id"])
        result["dest"] = target
        if os.path.lexists(target) and not p["force"]:
            if os.path.isdir(target) or not os.path.isfile(target):
                raise AuditDbError("dest: %s exists and is not a regular file" % target)
            try:
                facts = copy_facts(target, p["busy_timeout"])
            except AuditDbError as exc:
                raise AuditDbError("dest: %s exists but is not an audit snapshot (%s); refusing to replace it "
                                   "without force=true" % (target, exc.msg))
            result.update(facts)
            result["msg"] = "snapshot %s already exists (%d events); use force=true for a new one" % (
                target, facts["events"])
            module.exit_json(**result)
        if module.check_mode:
            conn = open_readonly(path, p["busy_timeout"])
            try:
                check_schema(conn, path)
                facts = _db_facts(conn)
            finally:
                conn.close()
            result.update(facts, sha256=None, size=None, integrity_check=None, changed=True)
            result["msg"] = "would copy %s (%d events, head %s) to %s%s" % (
                path, facts["events"], facts["chain_head"], target,
                " replacing the existing file" if os.path.lexists(target) else "")
            module.exit_json(**result)
        facts = take_snapshot(path, target, p["busy_timeout"])
    except AuditDbError as exc:
        result.update(exc.result)
        module.fail_json(msg=exc.msg, **result)
    except sqlite3.Error as exc:
        module.fail_json(msg=describe_sqlite_error(exc, path, p["busy_timeout"]), **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write the snapshot %s: %s" % (result.get("dest"), exc), **result)
    result.update(facts, changed=True)
    result["msg"] = "copied %s to %s: %d events, head %s, integrity_check %s" % (
        path, target, facts["events"], facts["chain_head"], facts["integrity_check"])
    if facts["integrity_check"] != "ok":
        module.warn("PRAGMA integrity_check on the copy reported problems: %s" % facts["integrity_check"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
