#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_restore
short_description: Put a verified backup in place of a damaged or lost MCP Airlock audit database
version_added: "0.1.0"
description:
  - Replaces the audit database at O(path) with the backup O(backup), for an incident, after confirmation.
  - The damaged files (the database and its C(-wal), C(-shm), C(-journal)) are never deleted - they are moved
    into a new directory C(damaged-<incident_id>-<action>-<UTC time>) under O(keep_dir). A missing database (lost)
    is simply restored.
  - The backup must be an Airlock audit database that passes C(PRAGMA integrity_check); it is copied with SQLite's
    online backup API into a temporary file beside O(path) and renamed into place, so O(path) holds either
    nothing or the whole backup. The file keeps the damaged file's mode (V(0640) when it was missing).
  - The restore is recorded in C(audit-restore-<incident_id>-<action>.json) in O(keep_dir) - the backup's SHA-256,
    events and chain head, what was moved where. A rerun with the same backup recognises it and changes nothing;
    another backup for the same C(<incident_id>/<action>) is refused until the first is reverted.
  - Verify the backup's hash chain first (M(airlock.incident.audit_verify), with the recorded head); the
    data_issues role does, and chooses the newest backup that verifies.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: The backup is checked and what would be moved and copied is reported; nothing is written.
  diff_mode:
    support: none
    description: Nothing is shown as a diff (the result says what was moved and restored).
  idempotent:
    support: full
    description: A rerun with the same backup (or a second revert) changes nothing.
  platform:
    support: full
    platforms: posix
    description: Runs where the database file is.
extends_documentation_fragment:
  - airlock.incident.action
  - airlock.incident.action.named
options:
  path:
    description:
      - The live audit database (Airlock's C(audit.database)). It and its side files must be regular files or
        absent; its directory must exist.
    type: path
    required: true
  backup:
    description: The backup to restore (a file written by M(airlock.incident.audit_snapshot)). Required with
      O(state=restored).
    type: path
  keep_dir:
    description: Existing directory of the case where the damaged files and the restore record are kept.
    type: path
    required: true
  state:
    description:
      - V(restored) puts O(backup) in place. V(reverted) undoes the restore recorded for O(incident_id) and
        O(action) - the restored database is moved aside into C(restored-<incident_id>-<action>-<UTC time>) under
        O(keep_dir) and the kept damaged files are put back.
    type: str
    choices: [restored, reverted]
    default: restored
  action:
    default: restore
  incident_id:
    required: true
  busy_timeout:
    description: Seconds to wait for a lock on the backup, from 0 to 2147483.
    type: float
    default: 5.0
notes:
  - Stop Airlock before the restore and start it afterwards; a running Airlock keeps writing into the file it has
    open, which after the move is the kept damaged copy. The data_issues role restarts it right after the restore
    and verifies it.
  - Events written after the backup was taken are not in it; the data_issues role states how many and over what time
    before it asks for confirmation.
seealso:
  - module: airlock.incident.audit_integrity
  - module: airlock.incident.audit_verify
  - module: airlock.incident.audit_snapshot
"""

EXAMPLES = r"""
- name: Restore the newest verified backup in place of the corrupt database
  airlock.incident.audit_restore:
    path: /var/lib/airlock/audit.db
    backup: /var/backups/airlock/airlock-audit-20261205T020000Z.db
    keep_dir: /srv/incidents/INC-20261205-101500
    incident_id: INC-20261205-101500
    confirm: INC-20261205-101500

- name: Undo it (put the damaged files back)
  airlock.incident.audit_restore:
    path: /var/lib/airlock/audit.db
    keep_dir: /srv/incidents/INC-20261205-101500
    incident_id: INC-20261205-101500
    confirm: INC-20261205-101500
    state: reverted
"""

RETURN = r"""
state:
  description: O(state).
  returned: success
  type: str
chain_head:
  description: Chain head of the restored backup.
  returned: state=restored
  type: str
events:
  description: Events in the restored backup.
  returned: state=restored
  type: int
backup_sha256:
  description: SHA-256 of the backup file.
  returned: state=restored
  type: str
moved:
  description: The files that were at O(path) (the database and side files) and were moved.
  returned: state=restored
  type: list
  elements: str
kept:
  description: Where those files are now.
  returned: state=restored
  type: list
  elements: str
kept_dir:
  description: The directory of the kept damaged files (null when the database was missing).
  returned: state=restored
  type: str
record:
  description: The restore record.
  returned: success
  type: str
undo:
  description: How to undo the restore (this module with O(state=reverted)).
  returned: state=restored
  type: dict
"""


from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.audit.restore import restore_audit
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def run(module):
    return restore_audit(module.params, module.check_mode)


def main():
    module = AirlockModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            backup=dict(type="path"),
            keep_dir=dict(type="path", required=True),
            state=dict(type="str", default="restored", choices=["restored", "reverted"]),
            incident_id=dict(type="str", required=True),
            confirm=dict(type="str"),
            action=dict(type="str", default="restore"),
            busy_timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
