# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading past corrupt SQLite pages: report what is unreadable, finish the rest.

A damaged page of ``audit_events`` makes SQLite fail every statement that
reaches it ("database disk image is malformed"), which would stop a whole
verification or query. :func:`salvaging` runs the work on the database; when it
fails that way, it copies every row SQLite can still read into a private
temporary database (the same schema and indexes; values keep their SQLite type
and their exact bytes), notes the rowid ranges it could not read, and runs the
work again on the copy. The audit database itself is only read (the copy is
made through a read-only connection); the copy is removed afterwards.

How a damaged range is found: rows are read in rowid order over the whole
signed 64-bit rowid space (SQLite rowids can be negative); when reading fails
after rowid ``a``, the smallest start ``s`` from which reading works again is
searched (exponential steps that never skip a landmark ±2**k or 0, then
bisection), and the rowids between ``a`` and the first row read again are
reported unreadable. A damaged leaf page costs about 2·log2(distance) probes
(at most about 250 from one end of the rowid space to the other). What is not
found: a readable stretch lying between two damaged stretches that one step
jumped over entirely; its rowids are inside the reported range, never lost
silently.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit.db import is_corrupt

__all__ = ["INT64_MAX", "INT64_MIN", "Unreadable", "describe", "is_corrupt", "readable_rows", "salvage_copy",
           "salvaging", "with_unreadable"]

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1

T = t.TypeVar("T")


class Unreadable(t.NamedTuple):
    """Rows of ``table`` with rowids after ``after`` and before ``before`` (None: no bound) could not be read."""

    table: str
    after: t.Optional[int]
    before: t.Optional[int]

    def as_dict(self) -> t.Dict[str, t.Any]:
        first = None if self.after is None else self.after + 1
        last = None if self.before is None else self.before - 1
        return dict(table=self.table, first_rowid=first, last_rowid=last, rowids="%s..%s" % (
            "start" if first is None else first, "end" if last is None else last))


def _text(value: t.Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


def _columns(conn: sqlite3.Connection, table: str) -> t.List[str]:
    return [_text(row[1]) for row in conn.execute("PRAGMA table_info(%s)" % _quote(table))]


def _quote(name: str) -> str:
    return '"%s"' % name.replace('"', '""')


def _probe(conn: sqlite3.Connection, sql: str, start: int) -> t.Tuple[bool, t.Any]:
    """(readable, first row) of ``sql`` (rows with rowid >= ``start``, LIMIT 1)."""
    try:
        return True, conn.execute(sql, (start,)).fetchone()
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise
        return False, None


def _landmark_after(value: int) -> int:
    """The smallest of -2**k, 0, 2**k (k = 0..62) and 2**63-1 above ``value``."""
    if value < -1:
        return -(1 << ((-value - 1).bit_length() - 1))
    if value == -1:
        return 0
    return min(1 << value.bit_length(), INT64_MAX)


def _next_readable(conn: sqlite3.Connection, sql: str, bad: int) -> t.Tuple[t.Optional[int], t.Any]:
    """The smallest start > ``bad`` from which ``sql`` reads again, and its first row; (None, None) if none.

    Steps double from ``bad`` over the whole signed 64-bit rowid space, negative rowids included, but never
    past the next landmark ``±2**k`` or 0 (:func:`_landmark_after`): rowids cluster near 0 (Airlock counts
    from 1; negative rowids are typically a few below 0), so doubling from ``-2**63`` still probes
    ..., -2, -1, 0, 1, 2, 4, ... instead of jumping from 0 to the end. Then bisection between the last
    unreadable and the first readable start."""
    low, step = bad, 1
    while True:
        start = min(low + step, _landmark_after(low))
        readable, row = _probe(conn, sql, start)
        if readable:
            high, found = start, row
            break
        if start == INT64_MAX:
            return None, None
        low, step = start, step * 2
    while high - low > 1:
        middle = (low + high) // 2
        readable, row = _probe(conn, sql, middle)
        if readable:
            high, found = middle, row
        else:
            low = middle
    return high, found


def readable_rows(conn: sqlite3.Connection, table: str, columns: t.Sequence[str],
                  unreadable: t.List[Unreadable]) -> t.Iterator[t.Tuple[t.Any, ...]]:
    """``(rowid, typeof(c1), c1, ...)`` of every row of ``table`` SQLite can read, over the whole signed
    rowid space (negative rowids too); the ranges it cannot read are appended to ``unreadable``. Rows come
    in rowid order."""
    values = ", ".join("typeof(%s), %s" % (_quote(c), _quote(c)) for c in columns)
    select = "SELECT rowid, %s FROM %s WHERE rowid >= ? ORDER BY rowid" % (values, _quote(table))
    start, last = INT64_MIN, None
    while True:
        try:
            for row in conn.execute(select, (start,)):
                last = row[0]
                yield row
                if last == INT64_MAX:
                    return
                start = last + 1
            return
        except sqlite3.DatabaseError as exc:
            if not is_corrupt(exc):
                raise
        readable, alone = _probe(conn, select + " LIMIT 1", start)
        if readable:
            # The cursor reads one row ahead: the row at ``start`` is readable, the one after it is not.
            if alone is None:
                return
            last = alone[0]
            yield alone
            if last == INT64_MAX:
                return
            start = last + 1
            continue
        nxt, found = _next_readable(conn, select + " LIMIT 1", start)
        unreadable.append(Unreadable(table, last, None if found is None else found[0]))
        if nxt is None:
            return
        start = nxt


def _insert_sql(table: str, columns: t.Sequence[str], kinds: t.Sequence[str]) -> str:
    values = ", ".join("CAST(? AS TEXT)" if kind == "text" else "?" for kind in kinds)
    return "INSERT INTO %s (rowid, %s) VALUES (?, %s)" % (_quote(table), ", ".join(_quote(c) for c in columns), values)


def _copy_table(conn: sqlite3.Connection, copy: sqlite3.Connection, table: str,
                unreadable: t.List[Unreadable]) -> None:
    columns = _columns(conn, table)
    statements: t.Dict[t.Tuple[str, ...], str] = {}
    for row in readable_rows(conn, table, columns, unreadable):
        kinds = tuple(_text(kind) for kind in row[1::2])
        values = row[2::2]
        sql = statements.get(kinds)
        if sql is None:
            sql = statements[kinds] = _insert_sql(table, columns, kinds)
        copy.execute(sql, (row[0],) + tuple(values))


def salvage_copy(conn: sqlite3.Connection, directory: str) -> t.Tuple[sqlite3.Connection, t.List[Unreadable]]:
    """A database in ``directory`` with the schema, indexes and every readable row of ``conn``'s tables."""
    old_factory = conn.text_factory
    conn.text_factory = bytes
    copy = sqlite3.connect(os.path.join(directory, "salvage.db"), isolation_level=None)
    unreadable: t.List[Unreadable] = []
    try:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                            "AND name NOT LIKE 'sqlite_%' AND type IN ('table', 'index')").fetchall()
        schema = [(_text(kind), _text(name), _text(sql)) for kind, name, sql in rows]
        copy.execute("BEGIN")
        for kind, name, sql in schema:
            if kind == "table":
                copy.execute(sql)
                _copy_table(conn, copy, name, unreadable)
        for kind, name, sql in schema:
            if kind == "index":
                try:
                    copy.execute(sql)
                except sqlite3.IntegrityError:
                    pass  # a UNIQUE index the damaged rows no longer satisfy: look-ups still work without it
        copy.execute("COMMIT")
    except BaseException:
        copy.close()
        raise
    finally:
        conn.text_factory = old_factory
    return copy, unreadable


def salvaging(conn: sqlite3.Connection, work: t.Callable[[sqlite3.Connection], T],
              restart: t.Optional[t.Callable[[], None]] = None) -> t.Tuple[T, t.List[t.Dict[str, t.Any]]]:
    """``(work(conn), [])``; when a corrupt page stops it: ``(work(copy), unreadable ranges)`` on a salvage copy
    (:func:`salvage_copy`). ``restart`` undoes what the failed attempt produced (an export's rows)."""
    try:
        return work(conn), []
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    if restart is not None:
        restart()
    directory = tempfile.mkdtemp(prefix="airlock-salvage-")
    try:
        copy, unreadable = salvage_copy(conn, directory)
        try:
            return work(copy), [item.as_dict() for item in unreadable]
        finally:
            copy.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def describe(unreadable: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """``"; unreadable (damaged pages): audit_events rowids 294..307"`` or nothing."""
    if not unreadable:
        return ""
    return "; unreadable (damaged pages), reported in unreadable: %s" % ", ".join(
        "%s rowids %s" % (item["table"], item["rowids"]) for item in unreadable)


def with_unreadable(conn: sqlite3.Connection, verify: t.Callable[[sqlite3.Connection], t.Dict[str, t.Any]]
                    ) -> t.Dict[str, t.Any]:
    """``verify(conn)`` through :func:`salvaging`, with ``unreadable`` in its result; a chain with unreadable
    rows is never reported valid (what could not be read could not be checked)."""
    result, unreadable = salvaging(conn, verify)
    result["unreadable"] = unreadable
    if unreadable:
        result["valid"] = False
    return result
