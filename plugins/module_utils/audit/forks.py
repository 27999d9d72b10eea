# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Forks in an audit chain: the ones MCP Airlock makes itself, told apart from tampering.

Airlock picks a new event's parent with ``GetLastHash``, the row with the
newest *timestamp*. When an event with an older timestamp than its
predecessor is the last one written before a flush, the next event names that
predecessor again: two rows, both hashed correctly, name one parent. That is a
*product fork* (kind ``product_fork``, informational): the chain is not linear,
but every row is exactly what Airlock wrote.

A fork is classified as made by the product only when all of these hold:

* exactly two rows name the parent, and the parent is in the database;
* the first child is the row right after the parent, and the rows from it up
  to the second child form a linear branch (each names the row before);
* the parent has the newest timestamp of the rows from it up to the second
  child (so ``GetLastHash`` returned it);
* the parent and every row of the branch and the second child re-hash to their
  stored hashes;
* the branch is at most :data:`MAX_BRANCH` rows (Airlock flushes far more often).

Anything else stays a ``fork`` (serious). Note that the salt lives in the same
file: whoever can write the database can forge any row, product-shaped fork or
linear chain alike; only a recorded head (``expected_head``) detects a rewrite.
"""

from __future__ import annotations

import sqlite3
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain
from ansible_collections.airlock.incident.plugins.module_utils.audit.schema import EVENTS_TABLE, SELECT_CHAIN_SQL
from ansible_collections.airlock.incident.plugins.module_utils.audit.walk import PARENT_SQL, short

MAX_BRANCH = 10000
FORK_SQL = (
    "SELECT previous_hash, COUNT(*), MIN(rowid), MAX(rowid) FROM %s "
    "WHERE previous_hash IS NOT NULL AND previous_hash != '' %%s"
    "GROUP BY previous_hash HAVING COUNT(*) > 1 ORDER BY MAX(rowid)" % EVENTS_TABLE
)
#: Only forks with a child after the checkpoint (incremental runs).
AFTER_SQL = ("AND previous_hash IN (SELECT previous_hash FROM %s WHERE rowid > %%d) " % EVENTS_TABLE)
EVENT_ID_SQL = "SELECT id FROM %s WHERE rowid = ?" % EVENTS_TABLE
#: Airlock writes every previous_hash as TEXT; a BLOB that reads as the same bytes is not its work.
TEXT_LINKS_SQL = "SELECT COUNT(*) FROM %s WHERE rowid IN (?, ?) AND typeof(previous_hash) = 'text'" % EVENTS_TABLE
BRANCH_SQL = SELECT_CHAIN_SQL.replace("ORDER BY rowid", "WHERE rowid >= ? AND rowid <= ? ORDER BY rowid")


class Fork(t.NamedTuple):
    parent_hash: bytes
    children: int
    low: int
    high: int
    parent: t.Optional[int]


def find_forks(conn: sqlite3.Connection, after_rowid: t.Optional[int] = None) -> t.Iterator[Fork]:
    """Every group of rows naming one parent (with a child after ``after_rowid`` when given)."""
    where = AFTER_SQL % int(after_rowid) if after_rowid is not None else ""
    lookup = conn.cursor()
    for parent_hash, children, low, high in conn.execute(FORK_SQL % where).fetchall():
        found = lookup.execute(PARENT_SQL, (parent_hash,)).fetchone()
        yield Fork(parent_hash, children, low, high, found[0] if found else None)


def rehashes(salt: bytes, row: t.Sequence[t.Any]) -> bool:
    try:
        payload = audit_chain.build_payload(*row[1:14])
    except (TypeError, ValueError):
        return False
    return audit_chain.event_hash(salt, payload).encode() == row[14]


def made_by_product(conn: sqlite3.Connection, salt: bytes, fork: Fork) -> bool:
    """True when the fork is the one ``GetLastHash`` makes (see the module docstring)."""
    if fork.children != 2 or fork.parent is None or not fork.parent < fork.low < fork.high:
        return False
    if fork.high - fork.parent > MAX_BRANCH:
        return False
    if conn.execute(TEXT_LINKS_SQL, (fork.low, fork.high)).fetchone()[0] != 2:
        return False
    rows = conn.execute(BRANCH_SQL, (fork.parent, fork.high)).fetchall()
    if not rows or rows[0][0] != fork.parent or rows[1][0] != fork.low or rows[-1][0] != fork.high:
        return False
    parent_timestamp = rows[0][2]
    for before, row in zip(rows, rows[1:-1]):
        if row[11] != before[14] or not _is_older_or_same(row[2], parent_timestamp):
            return False
    return rows[-1][11] == fork.parent_hash and all(rehashes(salt, row) for row in rows)


def _is_older_or_same(timestamp: t.Any, parent_timestamp: t.Any) -> bool:
    return isinstance(timestamp, int) and isinstance(parent_timestamp, int) and timestamp <= parent_timestamp


def product_detail(fork: Fork) -> str:
    return ("made by Airlock, not tampering: rowids %s and %s both name rowid %s (%s) and every row re-hashes; "
            "rowid %s has an older timestamp than rowid %s, so Airlock's GetLastHash (newest timestamp) gave "
            "rowid %s's parent as rowid %s again. The chain is not linear here"
            % (fork.low, fork.high, fork.parent, short(fork.parent_hash), fork.high - 1, fork.parent,
               fork.high, fork.parent))


def tamper_detail(fork: Fork) -> str:
    return ("%d rows (rowids %s..%s) name the same parent %s (rowid %s), and Airlock's own GetLastHash "
            "does not explain it: tampering" % (fork.children, fork.low, fork.high, short(fork.parent_hash),
                                                fork.parent))


def event_id_of(conn: sqlite3.Connection, rowid: int) -> t.Any:
    found = conn.execute(EVENT_ID_SQL, (rowid,)).fetchone()
    return found[0] if found else None
