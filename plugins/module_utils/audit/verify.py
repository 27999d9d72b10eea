# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Verification of the hash chain of an MCP Airlock audit database (the logic of ``audit_verify``).

The rows are walked in rowid ranges (:mod:`.walk`): on one connection in one
read transaction (:func:`verify_chain`, ``workers=1``), or in forked worker
processes, one connection each, with the links across range boundaries checked
afterwards in rowid order; both give the same problems in the same order.
Problems are counted by kind and the first few are kept with details; a
tampered database is a result, never an exception.

An incremental run starts from a checkpoint (the head, rowid and event count an
earlier run or the evidence manifest recorded): it proves that the checkpoint
row still holds that head and that every later row re-hashes and continues
from it, and says plainly that the rows up to the checkpoint were not
re-verified (an optional sample re-hashes some of them).
:func:`verify_audit` is the whole task with its ``msg``.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import tempfile
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain
from ansible_collections.airlock.incident.plugins.module_utils.audit import forks as audit_forks
from ansible_collections.airlock.incident.plugins.module_utils.audit import walk as audit_walk
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    AuditDbCorrupt,
    AuditDbError,
    check_busy_timeout,
    check_schema,
    db_error,
    is_corrupt,
    open_readonly,
    read_salt,
    text,
)
from ansible_collections.airlock.incident.plugins.module_utils.audit.salvage import salvage_copy
from ansible_collections.airlock.incident.plugins.module_utils.audit.schema import EVENTS_TABLE, SELECT_CHAIN_SQL
from ansible_collections.airlock.incident.plugins.module_utils.audit.walk import (
    INFORMATIONAL,
    PARENT_SQL,
    Problems,
    short,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import INT64_MAX, check_number
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError

KINDS = ("content_mismatch", "link_break", "fork", "product_fork", "extra_genesis", "head_mismatch",
         "dangling_parent")
#: Kinds that mean the rows are not one straight line of links.
NOT_LINEAR = ("link_break", "fork", "product_fork", "extra_genesis")
FIRST_REGULAR_SQL = "SELECT rowid FROM %s WHERE action IS NOT 'tombstone' ORDER BY rowid LIMIT 1" % EVENTS_TABLE
POSITION_SQL = "SELECT COUNT(*) FROM %s WHERE rowid <= ?" % EVENTS_TABLE
#: Events up to a rowid near the head: the whole count (SQLite counts the smallest index) minus the few after.
UP_TO_SQL = "SELECT (SELECT COUNT(*) FROM {0}) - (SELECT COUNT(*) FROM {0} WHERE rowid > ?)".format(EVENTS_TABLE)
ROWID_SPAN_SQL = "SELECT (SELECT MIN(rowid) FROM {0}), (SELECT MAX(rowid) FROM {0})".format(EVENTS_TABLE)
HASH_AT_SQL = "SELECT CAST(hash AS BLOB) FROM %s WHERE rowid = ?" % EVENTS_TABLE
AT_POSITION_SQL = "SELECT rowid, id, hash FROM %s ORDER BY rowid LIMIT 1 OFFSET ?" % EVENTS_TABLE
SAMPLE_SQL = SELECT_CHAIN_SQL.replace("ORDER BY rowid", "WHERE rowid >= ? ORDER BY rowid LIMIT 1")
BEFORE_SQL = "SELECT rowid, CAST(hash AS BLOB) FROM %s WHERE rowid < ? ORDER BY rowid DESC LIMIT 1" % EVENTS_TABLE
HEX = "0123456789abcdef"


class Checkpoint(t.NamedTuple):
    """An earlier result: the head, its rowid (optional) and the events up to it (optional)."""

    chain_head: bytes
    rowid: t.Optional[int]
    events: t.Optional[int]


class Options(t.NamedTuple):
    expected_head: t.Optional[bytes] = None
    expected_events: t.Optional[int] = None
    max_problems: int = 100
    checkpoint: t.Optional[Checkpoint] = None
    sample: int = 0


class _Prepared(t.NamedTuple):
    zone_end: t.Optional[int]
    low: t.Optional[int]
    high: t.Optional[int]
    start: audit_walk.Start
    checkpoint: t.Optional[t.Tuple[int, bytes, t.Optional[int]]]  # rowid, head, events up to it (if counted)


def _resolve_checkpoint(conn: sqlite3.Connection, checkpoint: Checkpoint,
                        late: Problems) -> t.Optional[t.Tuple[int, bytes, t.Optional[int]]]:
    """The checkpoint row (rowid, head, events up to it) when it still holds the head; else a problem and None."""
    head = checkpoint.chain_head
    if checkpoint.rowid is not None:
        found = conn.execute(HASH_AT_SQL, (checkpoint.rowid,)).fetchone()
        if found is None or found[0] != head:
            late.add("head_mismatch", checkpoint.rowid, None,
                     "checkpoint: rowid %s %s, not the checkpoint head %s: the rows up to the checkpoint "
                     "were changed, so every row was verified instead"
                     % (checkpoint.rowid, "is gone" if found is None else "has hash %s" % short(found[0]),
                        short(head)))
            return None
        rowid = checkpoint.rowid
    else:
        found = conn.execute(PARENT_SQL, (head,)).fetchone()
        if found is None:
            late.add("head_mismatch", None, None,
                     "checkpoint: no row has the checkpoint head %s: the chain was rewritten or truncated, "
                     "so every row was verified instead" % short(head))
            return None
        rowid = found[0]
    events = None
    if checkpoint.events is not None:
        events = conn.execute(UP_TO_SQL, (rowid,)).fetchone()[0]
        if events != checkpoint.events:
            late.add("head_mismatch", rowid, None,
                     "checkpoint: %d events up to rowid %s were recorded, %d are there now: rows before the "
                     "checkpoint were deleted or added (if retention ran since, give the checkpoint without "
                     "events)" % (checkpoint.events, rowid, events))
    return rowid, head, events


def _prepare(conn: sqlite3.Connection, options: Options, late: Problems) -> _Prepared:
    first_regular = conn.execute(FIRST_REGULAR_SQL).fetchone()
    zone_end = first_regular[0] if first_regular else None
    low, high = conn.execute(ROWID_SPAN_SQL).fetchone()
    resolved = None
    start = audit_walk.FULL
    if options.checkpoint is not None:
        resolved = _resolve_checkpoint(conn, options.checkpoint, late)
    if resolved is not None:
        rowid, head, events = resolved
        if events is None and options.expected_events is not None:
            events = conn.execute(UP_TO_SQL, (rowid,)).fetchone()[0]
            resolved = (rowid, head, events)
        start = audit_walk.Start(events if events is not None else 1, head, rowid)
        low = rowid + 1
    return _Prepared(zone_end, low, high, start, resolved)


def _check_head(lookup: sqlite3.Cursor, problems: Problems, expected_head: t.Optional[bytes],
                expected_events: t.Optional[int], position: int,
                head_at_position: t.Optional[t.Tuple[t.Any, ...]]) -> None:
    if expected_events is not None and position < expected_events:
        problems.add("head_mismatch", None, None,
                     "the chain holds %d events but %d were recorded: it was truncated (or retention "
                     "ran since; then verify with expected_head alone)" % (position, expected_events))
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
                     % (expected_events or 0, short(stored), short(expected_head), found))
        return
    if lookup.execute(PARENT_SQL, (expected_head,)).fetchone() is None:
        problems.add("head_mismatch", None, None,
                     "no row has the expected head %s: the chain was rewritten or truncated"
                     % short(expected_head))


def _classify_forks(conn: sqlite3.Connection, salt: bytes, walk: audit_walk.Stitched, late: Problems,
                    after_rowid: t.Optional[int]) -> None:
    """Every fork: made by the product (the link break at its second child becomes a ``product_fork``),
    or tampering (a ``fork`` problem on the second child)."""
    for fork in audit_forks.find_forks(conn, after_rowid):
        if not walk.counts.get("link_break") or not audit_forks.made_by_product(conn, salt, fork):
            late.add("fork", fork.high, audit_forks.event_id_of(conn, fork.high), audit_forks.tamper_detail(fork))
            continue
        walk.counts["link_break"] -= 1
        if not walk.counts["link_break"]:
            del walk.counts["link_break"]
        walk.counts["product_fork"] = walk.counts.get("product_fork", 0) + 1
        for item in walk.items:
            if item["rowid"] == fork.high and item["kind"] == "link_break":
                item.update(kind="product_fork", detail=audit_forks.product_detail(fork))


def _sample(conn: sqlite3.Connection, salt: bytes, low: t.Optional[int], high: int, count: int,
            late: Problems) -> int:
    """Re-hash up to ``count`` random rows up to rowid ``high`` and check their links; the number checked."""
    if count <= 0 or low is None or low > high:
        return 0
    if count >= high - low + 1:  # at least as many as there are rowids: every row, in order
        picks: t.Iterable[int] = range(low, high + 1)
    else:
        chooser = random.SystemRandom()
        picks = (chooser.randint(low, high) for _attempt in range(count * 3))
    seen: t.Set[int] = set()
    for pick in picks:
        if len(seen) >= count:
            break
        row = conn.execute(SAMPLE_SQL, (pick,)).fetchone()
        if row is None or row[0] in seen or row[0] > high:
            continue
        seen.add(row[0])
        if not audit_forks.rehashes(salt, row):
            late.add("content_mismatch", row[0], row[1],
                     "sampled row before the checkpoint: stored hash %s is not the hash of its content"
                     % short(row[14]))
        before = conn.execute(BEFORE_SQL, (row[0],)).fetchone()
        if before is not None and row[11] != before[1]:
            late.add("link_break", row[0], row[1],
                     "sampled row before the checkpoint: previous_hash %s is not rowid %s's hash %s"
                     % (short(row[11]), before[0], short(before[1])))
    return len(seen)


def _finish(conn: sqlite3.Connection, salt: bytes, options: Options, prepared: _Prepared,
            walk: audit_walk.Stitched, late: Problems) -> t.Dict[str, t.Any]:
    """Everything after the walk, on one connection in a read transaction: forks, head, sample, the result."""
    first_rowid = conn.execute(ROWID_SPAN_SQL).fetchone()[0]
    head_at_position = None
    if options.expected_events is not None and walk.position >= options.expected_events:
        head_at_position = tuple(conn.execute(AT_POSITION_SQL, (options.expected_events - 1,)).fetchone())
    ckpt_rowid = prepared.checkpoint[0] if prepared.checkpoint else None
    if any(kind not in INFORMATIONAL for kind in walk.counts):
        _classify_forks(conn, salt, walk, late, ckpt_rowid)
    if options.expected_head is not None or options.expected_events is not None:
        _check_head(conn.cursor(), late, options.expected_head, options.expected_events, walk.position,
                    head_at_position)
    sampled = 0
    if prepared.checkpoint is not None:
        sampled = _sample(conn, salt, first_rowid, prepared.checkpoint[0], options.sample, late)
    return _result(options, prepared, walk, late, first_rowid, sampled)


def _result(options: Options, prepared: _Prepared, walk: audit_walk.Stitched, late: Problems,
            first_rowid: t.Any, sampled: int) -> t.Dict[str, t.Any]:
    counts = dict(walk.counts)
    for kind, count in late.counts.items():
        counts[kind] = counts.get(kind, 0) + count
    cap = max(0, options.max_problems)
    items = sorted(walk.items + late.items, key=lambda item: (item["rowid"] is None, item["rowid"] or 0))[:cap]
    walked = walk.position - prepared.start.position
    resolved = prepared.checkpoint
    head = walk.last_hash if walk.last_hash is not audit_walk.NO_ROW else None
    events = walk.position if resolved is None or resolved[2] is not None else None
    return dict(
        valid=not any(kind not in INFORMATIONAL for kind in counts),
        linear=not any(kind in NOT_LINEAR for kind in counts),
        events_checked=walked,
        chain_head=text(head),
        first_rowid=first_rowid,
        last_rowid=walk.last_rowid,
        problems=items,
        problem_counts=counts,
        problems_truncated=sum(counts.values()) > len(items),
        incremental=resolved is not None,
        checkpoint=dict(chain_head=text(head), rowid=walk.last_rowid, events=events) if head else None,
        sampled=sampled,
        not_verified=_not_verified(resolved, sampled),
        unreadable=[],  # rowid ranges a corrupt page hid; filled in by the salvage (_verify_or_salvage)
    )


def _not_verified(resolved: t.Optional[t.Tuple[int, bytes, t.Optional[int]]], sampled: int) -> t.Optional[str]:
    if resolved is None:
        return None
    rowid, _head, events = resolved
    return ("incremental run: the rows up to and including rowid %s (the checkpoint%s) were not re-hashed and "
            "their links were not checked in this run (%s); this run proves only that rowid %s still holds the "
            "checkpoint head and that every later row re-hashes and continues from it. Content edited in an "
            "earlier row without touching its hash column, for example, is found only by a full run."
            % (rowid, ", %d events" % events if events is not None else "",
               "%d of them re-hashed at random" % sampled if sampled else "none sampled", rowid))


def _begin(conn: sqlite3.Connection) -> t.Any:
    old_factory = conn.text_factory
    conn.text_factory = bytes
    conn.execute("BEGIN")
    return old_factory


def _end(conn: sqlite3.Connection, old_factory: t.Any, failed: bool) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK" if failed else "COMMIT")
    conn.text_factory = old_factory


def _walk_serial(conn: sqlite3.Connection, salt: bytes, options: Options, prepared: _Prepared,
                 late: Problems) -> t.Dict[str, t.Any]:
    """The walk as one range on ``conn`` (inside the caller's read transaction), then everything after it."""
    ranges = audit_walk.plan(prepared.low, prepared.high, 1, 1)
    results = [audit_walk.walk_range(conn, salt, prepared.zone_end, options.max_problems, low, high)
               for low, high in ranges]
    walk = audit_walk.stitch(conn, prepared.zone_end, options.max_problems, prepared.start, results)
    result = _finish(conn, salt, options, prepared, walk, late)
    result["workers"] = 1
    return result


def verify_chain(conn: sqlite3.Connection, salt: bytes, expected_head: t.Optional[str] = None,
                 expected_events: t.Optional[int] = None, max_problems: int = 100,
                 checkpoint: t.Optional[Checkpoint] = None, sample: int = 0) -> t.Dict[str, t.Any]:
    """Walk and re-hash the events on an open read-only connection (one worker); returns the result dict.

    ``conn`` must be in autocommit mode; everything runs in one read transaction.
    """
    if not audit_chain.HAS_BLAKE3:
        raise AirlockIncidentError("the blake3 Python package is required")
    options = _options(expected_head, expected_events, max_problems, checkpoint, sample)
    late = Problems(options.max_problems)
    old_factory = _begin(conn)
    failed = True
    try:
        result = _walk_serial(conn, salt, options, _prepare(conn, options, late), late)
        failed = False
    finally:
        _end(conn, old_factory, failed)
    return result


def _options(expected_head: t.Optional[str], expected_events: t.Optional[int], max_problems: int,
             checkpoint: t.Optional[Checkpoint], sample: int) -> Options:
    head = expected_head.strip().lower().encode("ascii", "replace") if expected_head else None
    return Options(head, expected_events, max_problems, checkpoint, sample)


def verify_path(path: str, busy_timeout: float, expected_head: t.Optional[str] = None,
                expected_events: t.Optional[int] = None, max_problems: int = 100,
                checkpoint: t.Optional[Checkpoint] = None, sample: int = 0, workers: int = 1,
                min_rows_per_worker: int = audit_walk.MIN_ROWS_PER_WORKER) -> t.Dict[str, t.Any]:
    """The verification of the database at ``path`` with up to ``workers`` processes.

    One worker, or too few rows to share, is :func:`verify_chain` (one read
    transaction). Otherwise the range plan is read in one transaction, every
    connection is closed, the ranges are walked by forked workers (each in its
    own read transaction) and the stitch, forks, head and sample run on a new
    connection.
    """
    if not audit_chain.HAS_BLAKE3:
        raise AirlockIncidentError("the blake3 Python package is required")
    options = _options(expected_head, expected_events, max_problems, checkpoint, sample)
    late = Problems(options.max_problems)
    conn = open_readonly(path, busy_timeout)
    try:
        salt = read_salt(conn, path, check_schema(conn, path))
        old_factory = _begin(conn)
        failed = True
        try:
            prepared = _prepare(conn, options, late)
            ranges = audit_walk.plan(prepared.low, prepared.high, workers, min_rows_per_worker)
            if len(ranges) <= 1:
                result = _walk_serial(conn, salt, options, prepared, late)
                failed = False
                return result
            failed = False
        finally:
            _end(conn, old_factory, failed)
    finally:
        conn.close()
    return _parallel(path, busy_timeout, salt, options, prepared, late, ranges, workers)


def _parallel(path: str, busy_timeout: float, salt: bytes, options: Options, prepared: _Prepared,
              late: Problems, ranges: t.Sequence[t.Tuple[int, int]], workers: int) -> t.Dict[str, t.Any]:
    results = audit_walk.walk_parallel(path, busy_timeout, salt, prepared.zone_end, options.max_problems,
                                       ranges, workers)
    conn = open_readonly(path, busy_timeout)
    try:
        old_factory = _begin(conn)
        failed = True
        try:
            if results is None:  # no processes on this platform: one range after the other, here
                results = [audit_walk.walk_range(conn, salt, prepared.zone_end, options.max_problems, low, high)
                           for low, high in ranges]
                workers = 1
            walk = audit_walk.stitch(conn, prepared.zone_end, options.max_problems, prepared.start, results)
            result = _finish(conn, salt, options, prepared, walk, late)
            failed = False
        finally:
            _end(conn, old_factory, failed)
    finally:
        conn.close()
    result["workers"] = workers
    return result


def _check_head_text(field: str, value: t.Any) -> str:
    head = str(value).strip().lower()
    if len(head) != 64 or any(char not in HEX for char in head):
        raise InputError("%s: must be 64 hexadecimal characters (a BLAKE3-256 hash), got %r" % (field, value))
    return head


def check_checkpoint(params: t.Mapping[str, t.Any]) -> t.Optional[Checkpoint]:
    """``checkpoint`` and ``sample`` checked before the database is opened; InputError naming the field."""
    checkpoint = params.get("checkpoint")
    sample = params.get("sample") or 0
    check_number("sample", sample, 0, 1000000)
    if checkpoint is None:
        if sample:
            raise InputError("sample: re-hashes rows before a checkpoint, so it needs checkpoint; got sample=%d "
                             "without one" % sample)
        return None
    if not checkpoint.get("chain_head"):
        raise InputError("checkpoint.chain_head: required (the chain_head of an earlier run or of the evidence "
                         "manifest)")
    head = _check_head_text("checkpoint.chain_head", checkpoint["chain_head"])
    for key in ("rowid", "events"):
        if checkpoint.get(key) is not None:
            check_number("checkpoint.%s" % key, checkpoint[key], 1, INT64_MAX)
    return Checkpoint(head.encode("ascii"), checkpoint.get("rowid"), checkpoint.get("events"))


def check_workers(value: t.Any) -> int:
    """``workers``: None means every CPU this process may use; InputError outside 1..256."""
    if value is None:
        return audit_walk.available_cpus()
    return int(check_number("workers", value, 1, 256))


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
    check_workers(params.get("workers"))
    check_checkpoint(params)
    if params["expected_head"] is None:
        return None
    return _check_head_text("expected_head", params["expected_head"])


def summary(result: t.Mapping[str, t.Any]) -> str:
    """The sentence of a verification: valid (with informational counts) or INVALID with the counts."""
    counts = ", ".join("%s=%d" % item for item in sorted(result["problem_counts"].items()))
    scope = ""
    if result.get("incremental"):
        scope = " (incremental: only the rows after the checkpoint; see not_verified)"
    if not result["valid"]:
        return "chain INVALID: %s%s" % (counts, scope)
    msg = "chain valid: %d events verified%s" % (result["events_checked"], scope)
    if result.get("linear") is False:
        msg += ", not linear: Airlock forked its own chain (product_fork, not tampering)"
    return msg + (" (informational: %s)" % counts if counts else "")


def _verify_params(path: str, params: t.Mapping[str, t.Any], expected_head: t.Optional[str]) -> t.Dict[str, t.Any]:
    return verify_path(path, params["busy_timeout"], expected_head, params["expected_events"],
                       params["max_problems"], check_checkpoint(params), params.get("sample") or 0,
                       check_workers(params.get("workers")))


def _corrupt(exc: BaseException) -> bool:
    """A damaged page stopped the work: SQLite's own SQLITE_CORRUPT here, or a worker's typed report of one
    (:class:`~.db.AuditDbCorrupt`, see ``walk.WorkerFailure``); never decided on an error's text."""
    return is_corrupt(exc) or isinstance(exc, AuditDbCorrupt)


def _verify_or_salvage(path: str, params: t.Mapping[str, t.Any], expected_head: t.Optional[str]) -> t.Dict[str, t.Any]:
    """The verification; when a corrupt page stops it, the verification of a private copy of every readable
    row (``audit.salvage``), with the unreadable rowid ranges in ``unreadable`` and the chain never valid
    (what could not be read could not be checked)."""
    try:
        result = _verify_params(path, params, expected_head)
        result["unreadable"] = []
        return result
    except (sqlite3.DatabaseError, AuditDbError) as exc:
        if not _corrupt(exc):
            raise
    directory = tempfile.mkdtemp(prefix="airlock-salvage-")
    try:
        conn = open_readonly(path, params["busy_timeout"])
        try:
            copy, unreadable = salvage_copy(conn, directory)
            copy.close()
        finally:
            conn.close()
        result = _verify_params(os.path.join(directory, "salvage.db"), params, expected_head)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    result["unreadable"] = [item.as_dict() for item in unreadable]
    if unreadable:
        result["valid"] = False
    return result


def verify_audit(params: t.Mapping[str, t.Any], expected_head: t.Optional[str]) -> t.Dict[str, t.Any]:
    """The ``audit_verify`` task on checked options: open read-only, check the schema, verify; with ``msg``."""
    path = params["path"]
    try:
        result = _verify_or_salvage(path, params, expected_head)
    except sqlite3.Error as exc:
        raise db_error(exc, path, params["busy_timeout"]) from exc
    result["changed"] = False
    result["msg"] = summary(result)
    return result
