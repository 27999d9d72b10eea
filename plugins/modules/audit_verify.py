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
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
    description: There is nothing to show a diff of.
  platform:
    support: full
    platforms: posix
    description: Runs where the database file is, usually on the Airlock host or against a copy.
  idempotent:
    support: full
    description: It never changes anything.
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
  busy_timeout:
    description:
      - Seconds to wait for a lock held by another connection before failing.
    type: float
    default: 5.0
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
"""

import sqlite3

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    AuditDbError,
    check_schema,
    describe_sqlite_error,
    open_readonly,
    read_salt,
    text,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns

INFORMATIONAL = ("dangling_parent",)
KINDS = ("content_mismatch", "link_break", "fork", "extra_genesis", "head_mismatch", "dangling_parent")

# Plain columns: with text_factory=bytes TEXT arrives as bytes, exactly as
# CAST(... AS BLOB) would give it. A value of another type (NULL, a number in a
# text column) sends the row to the slow path, which re-reads it with
# audit_chain.SELECT_CHAIN_SQL's casts.
WALK_SQL = (
    "SELECT rowid, id, timestamp, correlation_id, tenant, subject, action, resource, decision, reason, "
    "metadata, previous_hash, latency_ms, redaction_count, hash FROM audit_events ORDER BY rowid"
)
ROW_SQL = audit_chain.SELECT_CHAIN_SQL.replace("ORDER BY rowid", "WHERE rowid = ?")
# Hashes are read as bytes; a bytes parameter binds as a BLOB, which never
# equals TEXT, hence the CAST (the UNIQUE index on hash is still used).
PARENT_SQL = "SELECT rowid FROM audit_events WHERE hash = CAST(? AS TEXT) ORDER BY rowid LIMIT 1"
FIRST_REGULAR_SQL = "SELECT rowid FROM audit_events WHERE action IS NOT 'tombstone' ORDER BY rowid LIMIT 1"
FORK_SQL = (
    "SELECT previous_hash, COUNT(*), MIN(rowid), MAX(rowid) FROM audit_events "
    "WHERE previous_hash IS NOT NULL AND previous_hash != '' "
    "GROUP BY previous_hash HAVING COUNT(*) > 1 ORDER BY MAX(rowid)"
)
EVENT_ID_SQL = "SELECT id FROM audit_events WHERE rowid = ?"
POSITION_SQL = "SELECT COUNT(*) FROM audit_events WHERE rowid <= ?"
_NO_ROW = object()
#: Parent look-ups only add detail outside the retention zone; cap them so a
#: thoroughly shuffled table (or one without the UNIQUE index on hash) stays fast.
DETAIL_LOOKUPS = 10000


class _Problems(object):
    """Counts every problem, keeps the first ``cap`` (by rowid) with details."""

    def __init__(self, cap):
        self.cap = max(0, cap)
        self.counts = {}
        self.walk = []  # found in rowid order during the walk
        self.late = []  # forks and head checks, found after the walk

    def add(self, kind, rowid, event_id, detail, late=False):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        bucket = self.late if late else self.walk
        if len(bucket) < self.cap:
            bucket.append(dict(kind=kind, rowid=rowid, event_id=text(event_id), detail=detail))

    def first(self):
        """The first ``cap`` problems by rowid (problems without a row last)."""
        merged = sorted(self.walk + self.late, key=lambda item: (item["rowid"] is None, item["rowid"] or 0))
        return merged[:self.cap]

    def serious(self):
        return sum(count for kind, count in self.counts.items() if kind not in INFORMATIONAL)


def _short(value):
    value = text(value)
    if isinstance(value, str) and len(value) > 16:
        return value[:16] + "..."
    return repr(value) if value in ("", None) else value


def verify_chain(conn, salt, expected_head=None, expected_events=None, max_problems=100):
    """Walk and re-hash every event on an open read-only connection; returns the result dict.

    ``conn`` must be in autocommit mode; the walk runs in one read transaction.
    """
    if not audit_chain.HAS_BLAKE3:
        raise RuntimeError("the blake3 Python package is required")
    blake3 = audit_chain._blake3.blake3
    template = audit_chain.PAYLOAD_TEMPLATE
    safe = audit_chain.SAFE_STRING_BYTES
    build_payload = audit_chain.build_payload
    problems = _Problems(max_problems)
    walk_problems = 0
    expected_head_bytes = expected_head.strip().lower().encode("ascii", "replace") if expected_head else None

    old_factory = conn.text_factory
    conn.text_factory = bytes
    conn.execute("BEGIN")
    try:
        first_regular = conn.execute(FIRST_REGULAR_SQL).fetchone()
        retention_zone_end = first_regular[0] if first_regular else None
        lookup = conn.cursor()
        lookups_left = [DETAIL_LOOKUPS]

        def parent_rowid(previous_hash, always=False):
            if not always:
                if lookups_left[0] <= 0:
                    return "unknown"
                lookups_left[0] -= 1
            found = lookup.execute(PARENT_SQL, (previous_hash,)).fetchone()
            return found[0] if found else None

        def link_problem(position, rowid, event_id, previous_hash, prev_rowid, prev_hash, timestamp):
            if not isinstance(previous_hash, bytes):
                problems.add("link_break", rowid, event_id, "previous_hash is %r, not text" % (previous_hash,))
                return 1
            if position == 1:
                if previous_hash == b"":
                    return
                parent = parent_rowid(previous_hash, always=True)
                if parent is None:
                    problems.add("dangling_parent", rowid, event_id,
                                 "the oldest surviving row (%s) names a parent that is not in the database: "
                                 "deleted by retention (compare with audit.retention), or the oldest rows "
                                 "were removed" % _when(timestamp))
                    return
                problems.add("link_break", rowid, event_id,
                             "the first row names rowid %s, which comes after it, as its parent" % parent)
                return 1
            if previous_hash == b"":
                problems.add("extra_genesis", rowid, event_id,
                             "empty previous_hash after rowid %s: a second chain start" % prev_rowid)
                return 1
            in_zone = retention_zone_end is None or rowid <= retention_zone_end
            parent = parent_rowid(previous_hash, always=in_zone)
            if parent is None and in_zone:
                problems.add("dangling_parent", rowid, event_id,
                             "parent not in the database, and every row before this one is a tombstone "
                             "(rowid %s): a retention gap after a surviving tombstone" % prev_rowid)
                return
            if parent is None:
                gap = ""
                if isinstance(rowid, int) and isinstance(prev_rowid, int) and rowid - prev_rowid > 1:
                    gap = "; rowids %d..%d are missing (deleted rows)" % (prev_rowid + 1, rowid - 1)
                elif isinstance(rowid, int) and isinstance(prev_rowid, int):
                    gap = "; no rowid is missing, so rowid %d was re-hashed or replaced" % prev_rowid
                problems.add("link_break", rowid, event_id,
                             "previous_hash %s is the hash of no row (rowid %s has %s)%s"
                             % (_short(previous_hash), prev_rowid, _short(prev_hash), gap))
            elif parent == "unknown":
                problems.add("link_break", rowid, event_id,
                             "previous_hash %s does not match rowid %s's hash %s"
                             % (_short(previous_hash), prev_rowid, _short(prev_hash)))
            else:
                problems.add("link_break", rowid, event_id,
                             "previous_hash names rowid %s, not the preceding rowid %s (rows reordered, "
                             "or a fork)" % (parent, prev_rowid))
            return 1

        # The hot loop: one row per iteration, kept free of anything that is
        # not needed for every row (the head position and the first rowid are
        # read with separate indexed queries afterwards).
        salted_template = salt.replace(b"%", b"%%") + template
        join = b"".join
        position = 0
        last_hash = _NO_ROW  # differs from every value, NULL included, so row 1 is always examined
        last_rowid = None
        for position, (rowid, event_id, timestamp, correlation_id, tenant, subject, action, resource, decision,
                       reason, metadata, previous_hash, latency_ms, redaction_count, stored) \
                in enumerate(conn.execute(WALK_SQL), 1):
            try:
                if join((event_id, correlation_id, tenant, subject, action, resource, decision, reason,
                         previous_hash)).translate(None, safe):
                    # Something to escape: the general Go encoder.
                    salted = salt + build_payload(event_id, timestamp, correlation_id, tenant, subject, action,
                                                  resource, decision, reason, metadata, previous_hash,
                                                  latency_ms, redaction_count)
                else:
                    salted = salted_template % (event_id, timestamp, correlation_id, tenant, subject, action,
                                                resource, decision, reason, metadata or b"null", previous_hash,
                                                latency_ms, redaction_count)
            except (TypeError, ValueError):
                # NULL or a non-text value somewhere: re-read the row with casts.
                payload = _slow_payload(lookup, rowid, build_payload)
                salted = None if payload is None else salt + payload
            if salted is None:
                walk_problems += 1
                problems.add("content_mismatch", rowid, event_id,
                             "a numeric column holds a non-integer value, so the row cannot be hashed as "
                             "Airlock wrote it")
            elif blake3(salted).hexdigest().encode() != stored:
                walk_problems += 1
                problems.add("content_mismatch", rowid, event_id,
                             "stored hash %s but the content hashes to %s"
                             % (_short(stored), blake3(salted).hexdigest()[:16] + "..."))
            if previous_hash != last_hash:
                walk_problems += link_problem(position, rowid, event_id, previous_hash, last_rowid,
                                              last_hash, timestamp) or 0
            last_hash = stored
            last_rowid = rowid

        first_rowid = conn.execute("SELECT MIN(rowid) FROM audit_events").fetchone()[0]
        head_at_position = None
        if expected_events is not None and position >= expected_events:
            found = conn.execute("SELECT rowid, id, hash FROM audit_events ORDER BY rowid LIMIT 1 OFFSET ?",
                                 (expected_events - 1,)).fetchone()
            head_at_position = tuple(found)

        # Forks: two rows naming one parent. When every hash and every link
        # checked out, a fork is impossible (each row's parent is the row before
        # it, and equal parents would mean equal payloads back to the first row,
        # which the checks above report), so the GROUP BY scan only runs when
        # the walk found something.
        if walk_problems:
            for parent_hash, children, low, high in _stream(conn, FORK_SQL):
                parent = parent_rowid(parent_hash, always=True)
                found = lookup.execute(EVENT_ID_SQL, (high,)).fetchone()
                problems.add("fork", high, found[0] if found else None,
                             "%d rows (rowids %s..%s) name the same parent %s (rowid %s)"
                             % (children, low, high, _short(parent_hash), parent), late=True)

        if expected_head_bytes is not None or expected_events is not None:
            _check_head(conn, lookup, problems, expected_head_bytes, expected_events, position, head_at_position)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.text_factory = old_factory

    items = problems.first()
    return dict(
        valid=problems.serious() == 0,
        events_checked=position,
        chain_head=text(last_hash) if position else None,
        first_rowid=first_rowid,
        last_rowid=last_rowid,
        problems=items,
        problem_counts=dict(problems.counts),
        problems_truncated=sum(problems.counts.values()) > len(items),
    )


def _when(timestamp):
    try:
        return format_ns(int(timestamp))
    except (TypeError, ValueError, OverflowError):
        return "timestamp %r" % (text(timestamp),)


def _stream(conn, sql):
    cursor = conn.cursor()
    cursor.arraysize = 1000
    cursor.execute(sql)
    while True:
        rows = cursor.fetchmany()
        if not rows:
            return
        yield from rows


def _slow_payload(cursor, rowid, build_payload):
    """Payload for a row whose values are not plain text/integers, read with explicit casts."""
    row = cursor.execute(ROW_SQL, (rowid,)).fetchone()
    try:
        return build_payload(*row[1:14])
    except (TypeError, ValueError):
        return None


def _check_head(conn, lookup, problems, expected_head, expected_events, position, head_at_position):
    if expected_events is not None and position < expected_events:
        problems.add("head_mismatch", None, None,
                     "the chain holds %d events but %d were recorded: it was truncated (or retention "
                     "ran since; then verify with expected_head alone)" % (position, expected_events), late=True)
        return
    if expected_head is None:
        return
    if head_at_position is not None:
        rowid, event_id, stored = head_at_position
        if stored == expected_head:
            return
        where = lookup.execute(PARENT_SQL, (expected_head,)).fetchone()
        if where:
            found = "the expected head is at rowid %s (position %s)" % (
                where[0], lookup.execute(POSITION_SQL, (where[0],)).fetchone()[0])
        else:
            found = "no row has the expected head: the chain was rewritten"
        problems.add("head_mismatch", rowid, event_id,
                     "event %d has hash %s, expected %s; %s"
                     % (expected_events, _short(stored), _short(expected_head), found), late=True)
        return
    if lookup.execute(PARENT_SQL, (expected_head,)).fetchone() is None:
        problems.add("head_mismatch", None, None,
                     "no row has the expected head %s: the chain was rewritten or truncated"
                     % _short(expected_head), late=True)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            expected_head=dict(type="str"),
            expected_events=dict(type="int"),
            max_problems=dict(type="int", default=100),
            busy_timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    if params["max_problems"] < 0:
        module.fail_json(msg="max_problems: must be 0 or more, got %d" % params["max_problems"])
    if params["expected_events"] is not None and params["expected_events"] < 1:
        module.fail_json(msg="expected_events: must be 1 or more, got %d" % params["expected_events"])
    if params["busy_timeout"] < 0:
        module.fail_json(msg="busy_timeout: must be 0 or more seconds")
    expected_head = params["expected_head"]
    if expected_head is not None:
        expected_head = expected_head.strip().lower()
        if len(expected_head) != 64 or any(char not in "0123456789abcdef" for char in expected_head):
            module.fail_json(msg="expected_head: must be 64 hexadecimal characters (a BLAKE3-256 hash), "
                                 "got %r" % params["expected_head"])
    if not audit_chain.HAS_BLAKE3:
        module.fail_json(msg=missing_required_lib("blake3"), exception=audit_chain.BLAKE3_IMPORT_ERROR)

    conn = None
    try:
        conn = open_readonly(path, params["busy_timeout"])
        tables = check_schema(conn, path)
        salt = read_salt(conn, path, tables)
        result = verify_chain(conn, salt, expected_head, params["expected_events"], params["max_problems"])
    except AuditDbError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    except sqlite3.Error as exc:
        module.fail_json(msg=describe_sqlite_error(exc, path, params["busy_timeout"]))
    finally:
        if conn is not None:
            conn.close()

    counts = result["problem_counts"]
    if result["valid"]:
        msg = "chain valid: %d events verified" % result["events_checked"]
        if counts:
            msg += " (informational: %s)" % ", ".join("%s=%d" % item for item in sorted(counts.items()))
    else:
        msg = "chain INVALID: %s" % ", ".join("%s=%d" % item for item in sorted(counts.items()))
    module.exit_json(changed=False, msg=msg, **result)


if __name__ == "__main__":
    main()
