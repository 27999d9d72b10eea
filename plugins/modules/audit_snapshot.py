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
  idempotent:
    support: full
    description: >-
      A second run for the same destination file (same O(incident_id) and O(dest)) returns the
      existing copy's facts and changes nothing, unless O(force=true). The source is still read:
      the run fails when the source cannot be read, or when the existing copy's chain head is not
      a row of the source (a copy of another database, or a rewritten source chain).
extends_documentation_fragment:
  - airlock.incident.forensics.database
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
      - Incident identifier used in the file name when O(dest) is a directory.
      - The collection's one incident-id rule applies (letters, digits, C(.), C(_) and C(-), starting with a
        letter or digit, at most 63 characters); anything else is refused before the database is opened.
      - Give it to make reruns idempotent when O(dest) is a directory.
    type: str
  force:
    description:
      - Take a new copy even when the destination file exists, replacing it atomically.
    type: bool
    default: false
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
source_events:
  description: Number of events in the source now, when an existing copy was kept (without O(force)).
  returned: when the destination existed and was kept
  type: int
  sample: 125340
source_chain_head:
  description: Chain head of the source now, when an existing copy was kept (without O(force)).
  returned: when the destination existed and was kept
  type: str
  sample: 0b5d7e3a9c1f2e4d6b8a0c2e4f6a8b0d2c4e6f8a0b2d4c6e8f0a2b4c6d8e0f2a
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.audit.snapshot import snapshot_audit
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def run(module):
    result = snapshot_audit(module.params, module.check_mode)
    if result["changed"] and result["integrity_check"] not in (None, "ok"):
        module.warn("PRAGMA integrity_check on the copy reported problems: %s" % result["integrity_check"])
    return result


def main():
    module = AirlockModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            incident_id=dict(type="str"),
            force=dict(type="bool", default=False),
            busy_timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
