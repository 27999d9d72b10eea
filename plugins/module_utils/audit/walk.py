# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The walk of :mod:`.verify`: rowid ranges re-hashed one by one or in parallel, then stitched.

A range is walked by :func:`walk_range` on one connection: every row is
re-hashed and every ``previous_hash`` checked against the row before it,
except the first row of the range, whose predecessor lives in the range
before. :func:`stitch` checks those first rows in the main process, in rowid
order, and merges the ranges' problems so that the result is the same, item
for item and in the same order, whether the table was walked as one range on
one connection or as many ranges in worker processes.

Workers are forked processes (:func:`walk_parallel`); every SQLite connection
of the parent is closed before they start (SQLite's locks do not survive a
fork) and each worker opens its own read-only connection.
"""

from __future__ import annotations

import os
import sqlite3
import typing as t
from binascii import hexlify

from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    AuditDbCorrupt,
    AuditDbError,
    describe_sqlite_error,
    is_corrupt,
    open_readonly,
    text,
)
from ansible_collections.airlock.incident.plugins.module_utils.audit.schema import (
    EVENTS_TABLE,
    SELECT_CHAIN_ROW_SQL,
    WALK_SQL,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns

INFORMATIONAL = ("dangling_parent", "product_fork")
# Hashes are read as bytes; a bytes parameter binds as a BLOB, which never
# equals TEXT, hence the CAST (the UNIQUE index on hash is still used).
PARENT_SQL = "SELECT rowid FROM %s WHERE hash = CAST(? AS TEXT) ORDER BY rowid LIMIT 1" % EVENTS_TABLE
RANGE_SQL = WALK_SQL.replace("ORDER BY rowid", "WHERE rowid >= ? AND rowid <= ? ORDER BY rowid")
#: Parent look-ups only add detail outside the retention zone; the first this many are
#: made, later link breaks say "does not match" without naming the parent row.
DETAIL_LOOKUPS = 10000
#: Below this many rows per worker, forking costs more than it saves.
MIN_ROWS_PER_WORKER = 50000
#: Ranges per worker: smaller ranges even out a core that another process slows down.
RANGES_PER_WORKER = 4
NO_ROW = object()


class Problems:
    """Counts every problem, keeps the first ``cap`` found with details."""

    def __init__(self, cap: int) -> None:
        self.cap = max(0, cap)
        self.counts: t.Dict[str, int] = {}
        self.items: t.List[t.Dict[str, t.Any]] = []

    def full(self) -> bool:
        return len(self.items) >= self.cap

    def add(self, kind: str, rowid: t.Any, event_id: t.Any, detail: str,
            raw: t.Optional[t.Tuple[t.Any, ...]] = None) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.items) < self.cap:
            item = dict(kind=kind, rowid=rowid, event_id=text(event_id), detail=detail)
            if raw is not None:
                item["_break"] = raw
            self.items.append(item)


def short(value: t.Any) -> t.Any:
    value = text(value)
    if isinstance(value, str) and len(value) > 16:
        return value[:16] + "..."
    return repr(value) if value in ("", None) else value


def _when(timestamp: t.Any) -> str:
    try:
        return format_ns(int(timestamp))
    except (TypeError, ValueError, OverflowError):
        return "timestamp %r" % (text(timestamp),)


def break_detail(parent: t.Any, rowid: t.Any, previous_hash: bytes, prev_rowid: t.Any, prev_hash: t.Any) -> str:
    if parent is None:
        gap = ""
        if isinstance(rowid, int) and isinstance(prev_rowid, int) and rowid - prev_rowid > 1:
            gap = "; rowids %d..%d are missing (deleted rows)" % (prev_rowid + 1, rowid - 1)
        elif isinstance(rowid, int) and isinstance(prev_rowid, int):
            gap = "; no rowid is missing, so rowid %d was re-hashed or replaced" % prev_rowid
        return "previous_hash %s is the hash of no row (rowid %s has %s)%s" % (
            short(previous_hash), prev_rowid, short(prev_hash), gap)
    if parent == "unknown":
        return "previous_hash %s does not match rowid %s's hash %s" % (
            short(previous_hash), prev_rowid, short(prev_hash))
    return "previous_hash names rowid %s, not the preceding rowid %s (rows reordered, or a fork)" % (
        parent, prev_rowid)


class Links:
    """Explains a ``previous_hash`` that is not the hash of the row before it."""

    def __init__(self, conn: sqlite3.Connection, problems: Problems, zone_end: t.Optional[int]) -> None:
        #: The leading run of tombstones that Airlock's retention leaves: a missing parent there is expected.
        self.retention_zone_end = zone_end
        self.lookup = conn.cursor()
        self.problems = problems

    def parent_rowid(self, previous_hash: t.Any) -> t.Any:
        found = self.lookup.execute(PARENT_SQL, (previous_hash,)).fetchone()
        return found[0] if found else None

    def first_row(self, rowid: int, event_id: t.Any, previous_hash: bytes, timestamp: t.Any) -> int:
        """The first row: a genesis, a parent gone to retention, or a link forward (a serious problem)."""
        if previous_hash == b"":
            return 0
        parent = self.parent_rowid(previous_hash)
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
        if in_zone:
            parent = self.parent_rowid(previous_hash)
            if parent is None:
                problems.add("dangling_parent", rowid, event_id,
                             "parent not in the database, and every row before this one is a tombstone "
                             "(rowid %s): a retention gap after a surviving tombstone" % prev_rowid)
                return 0
            problems.add("link_break", rowid, event_id,
                         break_detail(parent, rowid, previous_hash, prev_rowid, prev_hash))
            return 1
        if problems.full():  # counted, not listed: no look-up needed
            problems.add("link_break", rowid, event_id, "")
            return 1
        raw = (previous_hash, prev_rowid, prev_hash)
        problems.add("link_break", rowid, event_id,
                     break_detail(self.parent_rowid(previous_hash), rowid, previous_hash, prev_rowid, prev_hash),
                     raw=raw)
        return 1


def _slow_payload(cursor: sqlite3.Cursor, rowid: int) -> t.Optional[bytes]:
    """Payload for a row whose values are not plain text/integers, read with explicit casts."""
    row = cursor.execute(SELECT_CHAIN_ROW_SQL, (rowid,)).fetchone()
    try:
        return audit_chain.build_payload(*row[1:14])
    except (TypeError, ValueError):
        return None


class _Rehasher:
    """``reset``/``update``/``digest`` for a blake3 package without ``reset`` (before 0.3): a new hasher each time."""

    def __init__(self, blake3: t.Callable[[], t.Any]) -> None:
        self._blake3 = blake3
        self._hasher = blake3()

    def reset(self) -> None:
        self._hasher = self._blake3()

    def update(self, data: bytes) -> None:
        self._hasher.update(data)

    def digest(self) -> bytes:
        return t.cast(bytes, self._hasher.digest())


def reusable_hasher() -> t.Any:
    """One BLAKE3 hasher reset for every row: cheaper than a new one per row (no object to build)."""
    blake3 = audit_chain._blake3.blake3
    hasher = blake3()
    return hasher if hasattr(hasher, "reset") else _Rehasher(blake3)


class RangeResult(t.NamedTuple):
    """What one range gives the stitch: its rows, its first row's link data, its problems."""

    rows: int
    first: t.Optional[t.Tuple[t.Any, ...]]  # rowid, event_id, previous_hash, timestamp
    last: t.Optional[t.Tuple[t.Any, ...]]  # rowid, stored hash
    items: t.List[t.Dict[str, t.Any]]
    counts: t.Dict[str, int]


def walk_range(conn: sqlite3.Connection, salt: bytes, zone_end: t.Optional[int], cap: int,
               low: int, high: int) -> RangeResult:
    """The hot loop over rowids ``low..high``: one row per iteration, nothing that is not needed for every row.

    ``conn`` has ``text_factory=bytes``. The first row's link is left to :func:`stitch`.
    """
    problems = Problems(cap)
    links = Links(conn, problems, zone_end)
    blake3 = audit_chain._blake3.blake3
    hasher = reusable_hasher()
    reset, update, digest = hasher.reset, hasher.update, hasher.digest
    safe = audit_chain.SAFE_STRING_BYTES
    build_payload = audit_chain.build_payload
    salted_template = salt.replace(b"%", b"%%") + audit_chain.PAYLOAD_TEMPLATE
    join = b"".join
    checker = audit_chain.compiled_checker(salt)
    check = None if checker is None else checker.check
    count = 0
    first = None
    last_hash: t.Any = NO_ROW
    last_rowid = None
    for (rowid, event_id, timestamp, correlation_id, tenant, subject, action, resource, decision,
         reason, metadata, previous_hash, latency_ms, redaction_count, stored) in conn.execute(RANGE_SQL, (low, high)):
        # The compiled checker (when installed) settles the common intact row; every other row, and the
        # detail of a mismatch, comes from the Python path below.
        if check is None or check(event_id, timestamp, correlation_id, tenant, subject, action, resource, decision,
                                  reason, metadata, previous_hash, latency_ms, redaction_count, stored) is not True:
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
                problems.add("content_mismatch", rowid, event_id,
                             "a numeric column holds a non-integer value, so the row cannot be hashed as "
                             "Airlock wrote it")
            else:
                reset()
                update(salted)
                if hexlify(digest()) != stored:
                    problems.add("content_mismatch", rowid, event_id,
                                 "stored hash %s but the content hashes to %s"
                                 % (short(stored), blake3(salted).hexdigest()[:16] + "..."))
        if previous_hash != last_hash:
            if last_hash is NO_ROW:
                first = (rowid, event_id, previous_hash, timestamp)
            else:
                links.problem(2, rowid, event_id, previous_hash, last_rowid, last_hash, timestamp)
        last_hash = stored
        last_rowid = rowid
        count += 1
    last = None if last_rowid is None else (last_rowid, last_hash)
    return RangeResult(count, first, last, problems.items, problems.counts)


class Start(t.NamedTuple):
    """The state before the first range: nothing (a full walk) or a verified checkpoint."""

    position: int
    last_hash: t.Any
    last_rowid: t.Any


FULL = Start(0, NO_ROW, None)


class Stitched(t.NamedTuple):
    position: int
    last_hash: t.Any
    last_rowid: t.Any
    items: t.List[t.Dict[str, t.Any]]
    counts: t.Dict[str, int]


def _merge_counts(total: t.Dict[str, int], more: t.Mapping[str, int]) -> None:
    for kind, count in more.items():
        total[kind] = total.get(kind, 0) + count


def stitch(conn: sqlite3.Connection, zone_end: t.Optional[int], cap: int, start: Start,
           ranges: t.Sequence[RangeResult]) -> Stitched:
    """Check each range's first link against the range before, in rowid order; merge the problems."""
    items: t.List[t.Dict[str, t.Any]] = []
    counts: t.Dict[str, int] = {}
    position, last_hash, last_rowid = start
    for result in ranges:
        if not result.rows or result.first is None or result.last is None:
            continue
        rowid, event_id, previous_hash, timestamp = result.first
        boundary = Problems(cap)
        if previous_hash != last_hash:
            Links(conn, boundary, zone_end).problem(position + 1, rowid, event_id, previous_hash, last_rowid,
                                                    last_hash if last_hash is not NO_ROW else None, timestamp)
        split = 0
        while split < len(result.items) and result.items[split]["rowid"] == rowid:
            split += 1
        if len(items) < cap:
            items.extend(result.items[:split] + boundary.items + result.items[split:])
        _merge_counts(counts, result.counts)
        _merge_counts(counts, boundary.counts)
        position += result.rows
        last_rowid, last_hash = result.last
    return Stitched(position, last_hash, last_rowid, finish_details(items[:cap]), counts)


def finish_details(items: t.List[t.Dict[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
    """Only the first :data:`DETAIL_LOOKUPS` link breaks outside the retention zone name their parent."""
    looked_up = 0
    for item in items:
        raw = item.pop("_break", None)
        if raw is None:
            continue
        looked_up += 1
        if looked_up > DETAIL_LOOKUPS:
            item["detail"] = break_detail("unknown", item["rowid"], *raw)
    return items


def plan(low: t.Optional[int], high: t.Optional[int], workers: int, min_rows: int) -> t.List[t.Tuple[int, int]]:
    """Rowid ranges covering ``low..high``: one range for a small span, else equal spans."""
    if low is None or high is None or high < low:
        return []
    span = high - low + 1
    parts = 1 if workers <= 1 else min(workers * RANGES_PER_WORKER, max(1, span // max(1, min_rows)))
    step = -(-span // parts)
    return [(start, min(high, start + step - 1)) for start in range(low, high + 1, step)]


class WorkerFailure(t.NamedTuple):
    """A worker's error, typed: ``corrupt`` when a damaged page stopped it (salvageable), else a lock,
    permission or I/O error to report as such."""

    corrupt: bool
    msg: str

    def error(self) -> AuditDbError:
        return (AuditDbCorrupt if self.corrupt else AuditDbError)(self.msg)


def _worker(path: str, busy_timeout: float, salt: bytes, zone_end: t.Optional[int], cap: int,
            low: int, high: int) -> t.Union[RangeResult, WorkerFailure]:
    """One range in a worker process, on its own connection; an error comes back as a :class:`WorkerFailure`."""
    os.environ["RUST_BACKTRACE"] = "0"
    try:
        conn = open_readonly(path, busy_timeout)
    except AuditDbError as exc:
        return WorkerFailure(isinstance(exc, AuditDbCorrupt), exc.msg)
    try:
        conn.text_factory = bytes
        conn.execute("BEGIN")
        result = walk_range(conn, salt, zone_end, cap, low, high)
        conn.execute("COMMIT")
        return result
    except sqlite3.Error as exc:
        return WorkerFailure(is_corrupt(exc), describe_sqlite_error(exc, path, busy_timeout))
    finally:
        conn.close()


def fork_context() -> t.Any:
    """The ``fork`` multiprocessing context, or None where processes cannot be forked."""
    try:
        import multiprocessing

        return multiprocessing.get_context("fork")
    except (ImportError, ValueError):
        return None


def walk_parallel(path: str, busy_timeout: float, salt: bytes, zone_end: t.Optional[int], cap: int,
                  ranges: t.Sequence[t.Tuple[int, int]], workers: int) -> t.Optional[t.List[RangeResult]]:
    """Every range walked by ``workers`` forked processes; None when processes cannot be started.

    The caller must hold no open SQLite connection (a forked child must not inherit SQLite's lock state).
    """
    context = fork_context()
    if context is None:
        return None
    try:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    except (ImportError, OSError, NotImplementedError):
        return None
    with executor:
        futures = [executor.submit(_worker, path, busy_timeout, salt, zone_end, cap, low, high)
                   for low, high in ranges]
        results = [future.result() for future in futures]
    for result in results:
        if isinstance(result, WorkerFailure):
            raise result.error()
    return t.cast(t.List[RangeResult], results)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
