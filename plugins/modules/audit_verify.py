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
  - With O(workers) above 1 the rows are split into rowid ranges re-hashed by forked worker
    processes; the links across range boundaries are checked afterwards in rowid order, so the
    result (problems, their order, counts) is the same as with one worker.
  - When the optional compiled checker C(airlock_incident_accel) is installed (C(pip install) the collection's
    C(extras/accel)), it settles each common row (nothing to escape, 64-bit integers) in C; every other row and the
    detail of every mismatch come from the Python path, so the results are the same with or without it.
  - With O(checkpoint) (an earlier result) only the rows after the checkpoint are verified;
    see O(checkpoint) and RV(not_verified) for what such a run does not prove.
  - B(Forks made by Airlock itself.) Airlock names as a new event's parent the row with the newest
    timestamp (C(GetLastHash)), so an event logged with an older timestamp just before a flush makes
    the next event name the same parent again (two children, both hashed correctly). Such a fork is
    reported as C(product_fork) with the explanation, RV(linear) is false, and RV(valid) stays true, because
    every row is exactly what Airlock wrote, and the salt lives in the same file, so a product-shaped
    fork gives an attacker nothing a self-consistent linear rewrite would not (only O(expected_head)
    detects either). A fork that does not have exactly that shape (another timestamp order, a third
    child, a row that does not re-hash, a branch that is not linear) is C(fork), tampering, and the chain is invalid.
author:
  - airlock.incident contributors (@airlock-incident)
requirements:
  - blake3 (Python package) on the host that runs the module
  - optional, airlock-incident-accel (built from C(extras/accel) of this collection) for a faster check of the common row;
    without it the same results come from the Python path
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
  workers:
    description:
      - Number of processes that re-hash rowid ranges in parallel. Default, the CPUs this process may
        run on (its affinity mask).
      - Below 50,000 rows per worker (after the checkpoint, if any) one worker is used;
        RV(workers) says how many were used. Where processes cannot be forked, one worker is used.
      - With more than one worker each worker reads in its own read transaction, so rows a live writer
        changes during the run may be seen at different moments; verify a snapshot (or use C(workers=1))
        for evidence.
    type: int
  checkpoint:
    description:
      - An earlier result to continue from, RV(checkpoint) of an earlier run, or the C(chain_head),
        C(chain_head_rowid) and C(events) of M(airlock.incident.audit_snapshot) or the evidence manifest.
      - The run proves that the checkpoint row still holds O(checkpoint.chain_head) (and, with
        O(checkpoint.events), that the same number of events lead up to it), that every later row
        re-hashes, and that the later rows continue from the checkpoint head. It does B(not) re-hash
        the rows up to the checkpoint nor check their links (RV(not_verified) says so); O(sample)
        re-hashes some of them.
      - When the checkpoint row no longer holds the head, a C(head_mismatch) problem is reported and
        every row is verified.
    type: dict
    suboptions:
      chain_head:
        description: Hash of the checkpoint row.
        type: str
        required: true
      rowid:
        description: Rowid of the checkpoint row. Without it the row is looked up by its hash.
        type: int
      events:
        description:
          - Events up to and including the checkpoint row. A different count now is a C(head_mismatch)
            (rows before the checkpoint were deleted or added); omit it when retention ran since.
        type: int
  sample:
    description:
      - With O(checkpoint), re-hash this many rows at or before the checkpoint, chosen at random, and
        check each one's link to the row before it. A number at least the rows before the checkpoint
        checks every one of them.
    type: int
    default: 0
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

- name: Next time, verify only what was written since (and re-hash 1000 older rows at random)
  airlock.incident.audit_verify:
    path: /var/lib/airlock/audit.db
    checkpoint: "{{ chain.checkpoint }}"
    sample: 1000
  register: since

- name: Stop if the audit trail was tampered with
  ansible.builtin.assert:
    that: chain.valid
    fail_msg: "Audit chain invalid: {{ chain.problem_counts }} first: {{ chain.problems[:3] }}"
"""

RETURN = r"""
valid:
  description:
    - True when no C(content_mismatch), C(link_break), C(fork), C(extra_genesis) or
      C(head_mismatch) problem was found. C(dangling_parent) and C(product_fork) are informational
      (see RV(linear)).
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
linear:
  description:
    - False when the rows are not one straight line of links (a C(link_break), C(fork),
      C(product_fork) or C(extra_genesis) was found). A chain with only C(product_fork) is valid
      but not linear.
  returned: always
  type: bool
  sample: true
workers:
  description: Number of processes that re-hashed rows.
  returned: always
  type: int
  sample: 2
incremental:
  description: True when the run started from O(checkpoint) and verified only the rows after it.
  returned: always
  type: bool
  sample: false
checkpoint:
  description:
    - What to give O(checkpoint) next time, the head, its rowid and the number of events up to it
      (C(events) is null after an incremental run from a checkpoint without C(events)). Null for an
      empty database.
  returned: always
  type: dict
  sample: {chain_head: 7a95df69c5daa2e048401ed8fd74268ff11789bc675bb3f68d3d0fdf500610aa, rowid: 125000, events: 125000}
not_verified:
  description:
    - Null after a full run. After an incremental run, the sentence that says which rows this run did
      not re-hash or link (those up to the checkpoint) and how many were sampled.
  returned: always
  type: str
sampled:
  description: Rows at or before the checkpoint re-hashed by O(sample).
  returned: always
  type: int
  sample: 0
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
            workers=dict(type="int"),
            checkpoint=dict(type="dict", options=dict(
                chain_head=dict(type="str", required=True),
                rowid=dict(type="int"),
                events=dict(type="int"),
            )),
            sample=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
