#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_integrity
short_description: Say whether an MCP Airlock audit database file is present, SQLite and intact
version_added: "0.1.0"
description:
  - Looks at an audit database file, read-only, and reports how it is damaged, if it is - missing, empty,
    not an SQLite database, unreadable, failing C(PRAGMA integrity_check), or without an C(audit_events)
    table - and, where the table reads, its event count, chain head and the time of its last event.
  - A damaged or missing database is a result (RV(ok=false) and RV(problems)), never a task failure, so that
    the data-issues response can record the damaged state and go on. The task fails only on a refused option.
  - This is the SQLite side of the check; the BLAKE3 hash chain is verified by M(airlock.incident.audit_verify).
author:
  - airlock.incident contributors (@airlock-incident)
extends_documentation_fragment:
  - airlock.incident.forensics.read_only
  - airlock.incident.forensics.database
options:
  path:
    description:
      - The audit database (Airlock's C(audit.database)), or a backup of it. Opened read-only (SQLite URI
        C(mode=ro), C(PRAGMA query_only)). A path that exists but is not a regular file is refused.
    type: path
    required: true
  max_problems:
    description: Lines of C(PRAGMA integrity_check) returned at most, from 1 to 10000.
    type: int
    default: 100
notes:
  - Like every reader of a WAL database, the module needs the C(-shm) file or a writable directory to create it.
seealso:
  - module: airlock.incident.audit_verify
  - module: airlock.incident.audit_restore
"""

EXAMPLES = r"""
- name: Is the live audit database intact?
  airlock.incident.audit_integrity:
    path: /var/lib/airlock/audit.db
  register: live_db

- name: Say how it is damaged
  ansible.builtin.debug:
    msg: "{{ live_db.msg }}"
  when: not live_db.ok
"""

RETURN = r"""
ok:
  description: True when the file exists, is SQLite, passes C(integrity_check) and has the C(audit_events) table.
  returned: always
  type: bool
  sample: false
problems:
  description: What is wrong, in order - V(missing), V(empty), V(not_sqlite), V(unreadable), V(no_events_table),
    V(integrity_check).
  returned: always
  type: list
  elements: str
  sample: [integrity_check]
integrity_problems:
  description: The lines of C(PRAGMA integrity_check) when it did not say C(ok) (at most O(max_problems)).
  returned: always
  type: list
  elements: str
  sample: ["*** in database main ***\nTree 2 page 7 cell 0: invalid page number 4278190080"]
exists:
  description: Whether the file exists.
  returned: always
  type: bool
size:
  description: Size in bytes (null when missing).
  returned: always
  type: int
side_files:
  description: Size of each side file present (C(-wal), C(-shm), C(-journal)).
  returned: always
  type: dict
  sample: {"-wal": 32992, "-shm": 32768}
readable:
  description: Whether the schema and the integrity check could be read.
  returned: always
  type: bool
events:
  description: Number of events (null when the table does not read).
  returned: always
  type: int
chain_head:
  description: Hash of the event with the highest rowid (null when there is none or the table does not read).
  returned: always
  type: str
last_event_at:
  description: Time of the event with the highest rowid (RFC 3339, UTC; null when unknown).
  returned: always
  type: str
tables:
  description: The tables of the database.
  returned: always
  type: list
  elements: str
error:
  description: Why the file could not be read.
  returned: when the file could not be read
  type: str
database:
  description: O(path).
  returned: always
  type: str
"""


from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.audit.integrity import check_integrity
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def run(module):
    return check_integrity(module.params["path"], module.params["busy_timeout"], module.params["max_problems"])


def main():
    module = AirlockModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            max_problems=dict(type="int", default=100),
            busy_timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
