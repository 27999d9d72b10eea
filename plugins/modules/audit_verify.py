#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_verify
short_description: Verify the BLAKE3 hash chain of an MCP Airlock audit database
version_added: "0.1.0"
description:
  - Independently verifies every event of an MCP Airlock SQLite audit database, read-only.
  - Walks the events by rowid (insertion order, which is chain order), recomputes every
    hash as C(BLAKE3(salt || payload)) over Go's C(encoding/json) payload with the stored
    metadata text verbatim, and checks every C(previous_hash) against the hash of the row
    before it.
  - Reports content mismatches, link breaks, forks (two rows naming one parent), extra
    genesis rows, and a head that does not match a chain head recorded elsewhere. A missing
    parent left by Airlock's retention (the oldest surviving row, or a row in the leading run
    of surviving C(tombstone) rows) is reported as informational C(dangling_parent) and does
    not make the chain invalid.
  - A tampered database is a result (RV(valid=false)), never a task failure. The task fails
    only when the file cannot be read as an Airlock audit database (missing, not SQLite,
    corrupt, locked, no C(audit_events) table, no C(hasher_salt)).
  - The salt is stored in the same file, so anyone who can write the database can rebuild a
    self-consistent chain. Only O(expected_head) (and O(expected_events)), recorded when the
    evidence was collected, can detect such a rewrite.
  - Memory use is bounded on any database size (rows are streamed, problems are capped).
author:
  - airlock.incident contributors (@airlock-incident)
requirements:
  - blake3 (Python package) on the host that runs the module
extends_documentation_fragment:
  - airlock.incident.forensics.read_only
  - airlock.incident.forensics.database
options:
  path:
    description:
      - Path of the audit database (Airlock's C(audit.database), e.g. C(/var/lib/airlock/audit.db)),
        or of a snapshot made by M(airlock.incident.audit_snapshot).
      - Opened read-only (SQLite URI C(mode=ro) and C(PRAGMA query_only)).
    type: path
    required: true
  expected_head:
    description:
      - Chain head (hash of the highest rowid) recorded when the evidence was collected,
        for example RV(airlock.incident.audit_snapshot#module:chain_head).
      - With O(expected_events), the row at that position (1-based, in rowid order) must
        have this hash; without it, some row must have it. Otherwise a C(head_mismatch)
        problem is reported.
      - If retention has deleted rows since the head was recorded, positions have shifted;
        give O(expected_head) alone in that case.
    type: str
  expected_events:
    description:
      - Number of events recorded with O(expected_head) at collection time.
      - Alone, the chain must hold at least this many events, otherwise C(head_mismatch)
        reports a truncated chain.
    type: int
  max_problems:
    description:
      - Maximum number of entries returned in RV(problems) (the first ones in rowid order).
        RV(problem_counts) always counts every problem.
    type: int
    default: 100
notes:
  - Verification runs inside one read transaction, so a live writer does not disturb it;
    rows written after it starts are not checked. For evidence, verify a snapshot made by
    M(airlock.incident.audit_snapshot).
  - Unlike the operator playbook's C(LEFT JOIN) query, the genesis row and the oldest row after
    retention are not reported as broken, and content tampering and forks are detected.
seealso:
  - module: airlock.incident.audit_snapshot
  - module: airlock.incident.audit_query
"""

EXAMPLES = r"""
- name: Snapshot the live audit database
  airlock.incident.audit_snapshot:
    path: /var/lib/airlock/audit.db
    dest: /srv/evidence/
    incident_id: INC-2026-0042
  register: snap

- name: Verify the snapshot against the head recorded at collection time
  airlock.incident.audit_verify:
    path: "{{ snap.dest }}"
    expected_head: "{{ snap.chain_head }}"
    expected_events: "{{ snap.events }}"
  register: chain

- name: Stop if the audit trail was tampered with
  ansible.builtin.assert:
    that: chain.valid
    fail_msg: "Audit chain invalid: {{ chain.problem_counts }} first: {{ chain.problems[:3] }}"
"""

RETURN = r"""
valid:
  description:
    - True when no C(content_mismatch), C(link_break), C(fork), C(extra_genesis) or
      C(head_mismatch) problem was found. C(dangling_parent) is informational.
  returned: always
  type: bool
  sample: true
events_checked:
  description: Number of events walked and re-hashed.
  returned: always
  type: int
  sample: 125000
chain_head:
  description: Stored hash of the event with the highest rowid (empty database gives null).
  returned: always
  type: str
  sample: 7a95df69c5daa2e048401ed8fd74268ff11789bc675bb3f68d3d0fdf500610aa
problems:
  description:
    - The first O(max_problems) problems in rowid order.
    - C(kind) is one of C(content_mismatch) (stored hash differs from the recomputed one),
      C(link_break) (C(previous_hash) is not the hash of the row before it), C(fork) (several
      rows name the same parent; reported on the last of them), C(extra_genesis) (a row after
      the first with an empty C(previous_hash)), C(head_mismatch), C(dangling_parent)
      (informational, a parent deleted by retention).
  returned: always
  type: list
  elements: dict
  sample:
    - kind: content_mismatch
      rowid: 42
      event_id: 3f0c...-00000041
      detail: "stored hash 1b2c... but the content hashes to 9e8d..."
problem_counts:
  description: Number of problems of each kind (all of them, not only those listed).
  returned: always
  type: dict
  sample: {"content_mismatch": 1, "dangling_parent": 1}
problems_truncated:
  description: True when more problems were found than O(max_problems).
  returned: always
  type: bool
  sample: false
first_rowid:
  description: Lowest rowid in the table (null when empty).
  returned: always
  type: int
  sample: 1
last_rowid:
  description: Highest rowid in the table (null when empty).
  returned: always
  type: int
  sample: 125000
unreadable:
  description:
    - Rowid ranges SQLite could not read because a page of the database is corrupt (an empty list
      when every page read). The verification ran on a private temporary copy of every readable row, so the
      rest is verified and the chain is reported invalid; C(first_rowid)/C(last_rowid) bound the range (null means from the start or to the end).
  returned: success
  type: list
  elements: dict
  sample: [{"table": "audit_events", "first_rowid": 295, "last_rowid": 308, "rowids": "295..308"}]
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain
from ansible_collections.airlock.incident.plugins.module_utils.audit.salvage import describe
from ansible_collections.airlock.incident.plugins.module_utils.audit.verify import check_options, verify_audit
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def run(module):
    expected_head = check_options(module.params)
    if not audit_chain.HAS_BLAKE3:
        raise AirlockIncidentError(missing_required_lib("blake3"), exception=str(audit_chain.BLAKE3_IMPORT_ERROR))
    result = verify_audit(module.params, expected_head)
    result["msg"] += describe(result["unreadable"])
    return result


def main():
    module = AirlockModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            expected_head=dict(type="str"),
            expected_events=dict(type="int"),
            max_problems=dict(type="int", default=100),
            busy_timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
