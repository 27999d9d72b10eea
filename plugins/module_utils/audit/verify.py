# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Verification of the hash chain of an MCP Airlock audit database (the logic of ``audit_verify``).

:func:`verify_chain` walks every event by rowid in one read transaction,
re-hashes it (the fast ``bytes % tuple`` payload when nothing needs escaping,
the Go encoder of :mod:`.chain` otherwise) and checks every ``previous_hash``
against the row before it. Problems are counted by kind and the first few are
kept with details; a tampered database is a result, never an exception.
:func:`verify_audit` is the whole task with its ``msg``.
"""

from __future__ import annotations

import sqlite3
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    AuditDbError,
    check_busy_timeout,
    check_schema,
    describe_sqlite_error,
    open_readonly,
    read_salt,
    text,
)
from ansible_collections.airlock.incident.plugins.module_utils.audit.salvage import with_unreadable
from ansible_collections.airlock.incident.plugins.module_utils.audit.schema import (
    EVENTS_TABLE,
    SELECT_CHAIN_ROW_SQL,
    WALK_SQL,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import INT64_MAX, check_number
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns

INFORMATIONAL = ("dangling_parent",)
KINDS = ("content_mismatch", "link_break", "fork", "extra_genesis", "head_mismatch", "dangling_parent")

# Hashes are read as bytes; a bytes parameter binds as a BLOB, which never
# equals TEXT, hence the CAST (the UNIQUE index on hash is still used).
PARENT_SQL = "SELECT rowid FROM %s WHERE hash = CAST(? AS TEXT) ORDER BY rowid LIMIT 1" % EVENTS_TABLE
FIRST_REGULAR_SQL = "SELECT rowid FROM %s WHERE action IS NOT 'tombstone' ORDER BY rowid LIMIT 1" % EVENTS_TABLE
FORK_SQL = (
    "SELECT previous_hash, COUNT(*), MIN(rowid), MAX(rowid) FROM %s "
    "WHERE previous_hash IS NOT NULL AND previous_hash != '' "
    "GROUP BY previous_hash HAVING COUNT(*) > 1 ORDER BY MAX(rowid)" % EVENTS_TABLE
)
EVENT_ID_SQL = "SELECT id FROM %s WHERE rowid = ?" % EVENTS_TABLE
POSITION_SQL = "SELECT COUNT(*) FROM %s WHERE rowid <= ?" % EVENTS_TABLE
FIRST_ROWID_SQL = "SELECT MIN(rowid) FROM %s" % EVENTS_TABLE
AT_POSITION_SQL = "SELECT rowid, id, hash FROM %s ORDER BY rowid LIMIT 1 OFFSET ?" % EVENTS_TABLE
_NO_ROW = object()
#: Parent look-ups only add detail outside the retention zone; cap them so a
#: thoroughly shuffled table (or one without the UNIQUE index on hash) stays fast.
DETAIL_LOOKUPS = 10000
HEX = "0123456789abcdef"


class _Problems:
    """Counts every problem, keeps the first ``cap`` (by rowid) with details."""

    def __init__(self, cap: int) -> None:
        self.cap = max(0, cap)
        self.counts: t.Dict[str, int] = {}
        self.walk: t.List[t.Dict[str, t.Any]] = []  # found in rowid order during the walk
        self.late: t.List[t.Dict[str, t.Any]] = []  # forks and head checks, found after the walk

    def add(self, kind: str, rowid: t.Any, event_id: t.Any, detail: str, late: bool = False) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        bucket = self.late if late else self.walk
        if len(bucket) < self.cap:
            bucket.append(dict(kind=kind, rowid=rowid, event_id=text(event_id), detail=detail))

    def first(self) -> t.List[t.Dict[str, t.Any]]:
        """The first ``cap`` problems by rowid (problems without a row last)."""
        merged = sorted(self.walk + self.late, key=lambda item: (item["rowid"] is None, item["rowid"] or 0))
        return merged[:self.cap]

    def serious(self) -> int:
        return sum(count for kind, count in self.counts.items() if kind not in INFORMATIONAL)


def _short(value: t.Any) -> t.Any:
    value = text(value)
    if isinstance(value, str) and len(value) > 16:
        return value[:16] + "..."
    return repr(value) if value in ("", None) else value


def _when(timestamp: t.Any) -> str:
    try:
        return format_ns(int(timestamp))
    except (TypeError, ValueError, OverflowError):
        return "timestamp %r" % (text(timestamp),)


def _stream(conn: sqlite3.Connection, sql: str) -> t.Iterator[t.Tuple[t.Any, ...]]:
    cursor = conn.cursor()
    cursor.arraysize = 1000
    cursor.execute(sql)
    while True:
        rows = cursor.fetchmany()
        if not rows:
            return
        yield from rows


def _slow_payload(cursor: sqlite3.Cursor, rowid: int) -> t.Optional[bytes]:
    """Payload for a row whose values are not plain text/integers, read with explicit casts."""
    row = cursor.execute(SELECT_CHAIN_ROW_SQL, (rowid,)).fetchone()
    try:
        return audit_chain.build_payload(*row[1:14])
    except (TypeError, ValueError):
        return None


class _Links:
    """Explains a ``previous_hash`` that is not the hash of the row before it."""

    def __init__(self, conn: sqlite3.Connection, problems: _Problems) -> None:
        first_regular = conn.execute(FIRST_REGULAR_SQL).fetchone()
        #: The leading run of tombstones that Airlock's retention leaves: a missing parent there is expected.
        self.retention_zone_end = first_regular[0] if first_regular else None
        self.lookup = conn.cursor()
        self.lookups_left = DETAIL_LOOKUPS
        self.problems = problems

    def parent_rowid(self, previous_hash: t.Any, always: bool = False) -> t.Any:
        """Rowid of the row whose hash is ``previous_hash``, None, or "unknown" once the look-ups ran out."""
        if not always:
            if self.lookups_left <= 0:
                return "unknown"
            self.lookups_left -= 1
        found = self.lookup.execute(PARENT_SQL, (previous_hash,)).fetchone()
        return found[0] if found else None

    def first_row(self, rowid: int, event_id: t.Any, previous_hash: bytes, timestamp: t.Any) -> int:
        """The first row: a genesis, a parent gone to retention, or a link forward (a serious problem)."""
        if previous_hash == b"":
            return 0
        parent = self.parent_rowid(previous_hash, always=True)
        if parent is None:
            self.problems.add("dangling_parent", rowid, event_id,
                              "the oldest surviving row (%s) names a parent that is not in the database: "
                              "deleted by retention (compare with audit.retention), or the oldest rows "
                              "were removed" % _when(timestamp))
            return 0
        self.problems.add("link_break", rowid, event_id,
                          "the first row names rowid %s, which comes after it, as its parent" % parent)
        return 1

    def problem(self, position: int, rowid: int, event_id: t.Any, previous_hash: t.Any, prev_rowid: t.Any,
                prev_hash: t.Any, timestamp: t.Any) -> int:
        """Record why the link of this row differs from the row before; the number of serious problems (0/1)."""
        problems = self.problems
        if not isinstance(previous_hash, bytes):
            problems.add("link_break", rowid, event_id, "previous_hash is %r, not text" % (previous_hash,))
            return 1
        if position == 1:
            return self.first_row(rowid, event_id, previous_hash, timestamp)
        if previous_hash == b"":
            problems.add("extra_genesis", rowid, event_id,
                         "empty previous_hash after rowid %s: a second chain start" % prev_rowid)
            return 1
        in_zone = self.retention_zone_end is None or rowid <= self.retention_zone_end
        parent = self.parent_rowid(previous_hash, always=in_zone)
        if parent is None and in_zone:
            problems.add("dangling_parent", rowid, event_id,
                         "parent not in the database, and every row before this one is a tombstone "
                         "(rowid %s): a retention gap after a surviving tombstone" % prev_rowid)
            return 0
        problems.add("link_break", rowid, event_id, _break_detail(parent, rowid, previous_hash, prev_rowid, prev_hash))
        return 1


def _break_detail(parent: t.Any, rowid: t.Any, previous_hash: bytes, prev_rowid: t.Any, prev_hash: t.Any) -> str:
    if parent is None:
        gap = ""
        if isinstance(rowid, int) and isinstance(prev_rowid, int) and rowid - prev_rowid > 1:
            gap = "; rowids %d..%d are missing (deleted rows)" % (prev_rowid + 1, rowid - 1)
        elif isinstance(rowid, int) and isinstance(prev_rowid, int):
            gap = "; no rowid is missing, so rowid %d was re-hashed or replaced" % prev_rowid
        return "previous_hash %s is the hash of no row (rowid %s has %s)%s" % (
            _short(previous_hash), prev_rowid, _short(prev_hash), gap)
    if parent == "unknown":
        return "previous_hash %s does not match rowid %s's hash %s" % (
            _short(previous_hash), prev_rowid, _short(prev_hash))
    return "previous_hash names rowid %s, not the preceding rowid %s (rows reordered, or a fork)" % (
        parent, prev_rowid)


class _Walk(t.NamedTuple):
    position: int
    serious: int
    last_hash: t.Any
    last_rowid: t.Any


def _walk(conn: sqlite3.Connection, salt: bytes, links: _Links, problems: _Problems) -> _Walk:
    """The hot loop: one row per iteration, kept free of anything that is not needed for every row.

    The head position and the first rowid are read with separate indexed queries afterwards.
    """
    blake3 = audit_chain._blake3.blake3
    safe = audit_chain.SAFE_STRING_BYTES
    build_payload = audit_chain.build_payload
    salted_template = salt.replace(b"%", b"%%") + audit_chain.PAYLOAD_TEMPLATE
    join = b"".join
    serious = 0
    position = 0
    last_hash: t.Any = _NO_ROW  # differs from every value, NULL included, so row 1 is always examined
    last_rowid = None
    for position, (rowid, event_id, timestamp, correlation_id, tenant, subject, action, resource, decision,
                   reason, metadata, previous_hash, latency_ms, redaction_count, stored) \
            in enumerate(conn.execute(WALK_SQL), 1):
        salted: t.Optional[bytes]
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
            payload = _slow_payload(links.lookup, rowid)
            salted = None if payload is None else salt + payload
        if salted is None:
            serious += 1
            problems.add("content_mismatch", rowid, event_id,
                         "a numeric column holds a non-integer value, so the row cannot be hashed as "
                         "Airlock wrote it")
        elif blake3(salted).hexdigest().encode() != stored:
            serious += 1
            problems.add("content_mismatch", rowid, event_id,
                         "stored hash %s but the content hashes to %s"
                         % (_short(stored), blake3(salted).hexdigest()[:16] + "..."))
        if previous_hash != last_hash:
            serious += links.problem(position, rowid, event_id, previous_hash, last_rowid, last_hash, timestamp)
        last_hash = stored
        last_rowid = rowid
    return _Walk(position, serious, last_hash, last_rowid)


def _forks(conn: sqlite3.Connection, links: _Links, problems: _Problems) -> None:
    """Two rows naming one parent.

    When every hash and every link checked out, a fork is impossible (each
    row's parent is the row before it, and equal parents would mean equal
    payloads back to the first row, which the walk reports), so the GROUP BY
    scan only runs when the walk found something.
    """
    for parent_hash, children, low, high in _stream(conn, FORK_SQL):
        parent = links.parent_rowid(parent_hash, always=True)
        found = links.lookup.execute(EVENT_ID_SQL, (high,)).fetchone()
        problems.add("fork", high, found[0] if found else None,
                     "%d rows (rowids %s..%s) name the same parent %s (rowid %s)"
                     % (children, low, high, _short(parent_hash), parent), late=True)


def _check_head(lookup: sqlite3.Cursor, problems: _Problems, expected_head: t.Optional[bytes],
                expected_events: t.Optional[int], position: int,
                head_at_position: t.Optional[t.Tuple[t.Any, ...]]) -> None:
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
                     % (expected_events or 0, _short(stored), _short(expected_head), found), late=True)
        return
    if lookup.execute(PARENT_SQL, (expected_head,)).fetchone() is None:
        problems.add("head_mismatch", None, None,
                     "no row has the expected head %s: the chain was rewritten or truncated"
                     % _short(expected_head), late=True)


def verify_chain(conn: sqlite3.Connection, salt: bytes, expected_head: t.Optional[str] = None,
                 expected_events: t.Optional[int] = None, max_problems: int = 100) -> t.Dict[str, t.Any]:
    """Walk and re-hash every event on an open read-only connection; returns the result dict.

    ``conn`` must be in autocommit mode; the walk runs in one read transaction.
    """
    if not audit_chain.HAS_BLAKE3:
        raise AirlockIncidentError("the blake3 Python package is required")
    problems = _Problems(max_problems)
    expected_head_bytes = expected_head.strip().lower().encode("ascii", "replace") if expected_head else None

    old_factory = conn.text_factory
    conn.text_factory = bytes
    conn.execute("BEGIN")
    try:
        links = _Links(conn, problems)
        walk = _walk(conn, salt, links, problems)
        first_rowid = conn.execute(FIRST_ROWID_SQL).fetchone()[0]
        head_at_position = None
        if expected_events is not None and walk.position >= expected_events:
            head_at_position = tuple(conn.execute(AT_POSITION_SQL, (expected_events - 1,)).fetchone())
        if walk.serious:
            _forks(conn, links, problems)
        if expected_head_bytes is not None or expected_events is not None:
            _check_head(links.lookup, problems, expected_head_bytes, expected_events, walk.position,
                        head_at_position)
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
        events_checked=walk.position,
        chain_head=text(walk.last_hash) if walk.position else None,
        first_rowid=first_rowid,
        last_rowid=walk.last_rowid,
        problems=items,
        problem_counts=dict(problems.counts),
        problems_truncated=sum(problems.counts.values()) > len(items),
    )


def check_options(params: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """Every option checked before the database is opened: the normalised ``expected_head``; InputError."""
    if params["max_problems"] < 0:
        raise InputError("max_problems: must be 0 or more, got %d" % params["max_problems"])
    if params["expected_events"] is not None and params["expected_events"] < 1:
        raise InputError("expected_events: must be 1 or more, got %d" % params["expected_events"])
    check_busy_timeout(params["busy_timeout"])
    check_number("max_problems", params["max_problems"], 0, INT64_MAX)
    if params["expected_events"] is not None:
        check_number("expected_events", params["expected_events"], 1, INT64_MAX)
    expected_head = params["expected_head"]
    if expected_head is None:
        return None
    expected_head = expected_head.strip().lower()
    if len(expected_head) != 64 or any(char not in HEX for char in expected_head):
        raise InputError("expected_head: must be 64 hexadecimal characters (a BLAKE3-256 hash), "
                         "got %r" % params["expected_head"])
    return expected_head


def summary(result: t.Mapping[str, t.Any]) -> str:
    """The sentence of a verification: valid (with informational counts) or INVALID with the counts."""
    counts = ", ".join("%s=%d" % item for item in sorted(result["problem_counts"].items()))
    if not result["valid"]:
        return "chain INVALID: %s" % counts
    msg = "chain valid: %d events verified" % result["events_checked"]
    return msg + (" (informational: %s)" % counts if counts else "")


def verify_audit(params: t.Mapping[str, t.Any], expected_head: t.Optional[str]) -> t.Dict[str, t.Any]:
    """The ``audit_verify`` task on checked options: open read-only, check the schema, verify; with ``msg``."""
    path = params["path"]
    conn = open_readonly(path, params["busy_timeout"])
    try:
        tables = check_schema(conn, path)
        salt = read_salt(conn, path, tables)
        result = with_unreadable(conn, lambda c: verify_chain(
            c, salt, expected_head, params["expected_events"], params["max_problems"]))
    except sqlite3.Error as exc:
        raise AuditDbError(describe_sqlite_error(exc, path, params["busy_timeout"])) from exc
    finally:
        conn.close()
    result["changed"] = False
    result["msg"] = summary(result)
    return result
