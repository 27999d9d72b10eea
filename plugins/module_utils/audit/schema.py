# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MCP Airlock audit schema as the collection reads it, written once.

Airlock (``pkg/audit/sqlite.go``) keeps one table of events, ``audit_events``,
and one of settings, ``audit_metadata`` (which holds the ``hasher_salt``).
Every column list and every statement that names the hashed columns is built
here from :data:`PAYLOAD_FIELDS`, so the verifier, the query module and the
schema check cannot disagree about them. The collection never creates an
audit database (the test factory in ``tests/unit`` writes Airlock's DDL on its
own, independently of this file, to test it).
"""

from __future__ import annotations

EVENTS_TABLE = "audit_events"
METADATA_TABLE = "audit_metadata"
SALT_KEY = "hasher_salt"

#: Columns of the hashed struct, in the order Go's encoder writes them.
PAYLOAD_FIELDS = (
    "id",
    "timestamp",
    "correlation_id",
    "tenant",
    "subject",
    "action",
    "resource",
    "decision",
    "reason",
    "metadata",
    "previous_hash",
    "latency_ms",
    "redaction_count",
)
#: The stored hash of an event.
HASH_COLUMN = "hash"
#: Columns of ``audit_events`` in table order (``created_at`` is not hashed).
TABLE_COLUMNS = PAYLOAD_FIELDS[:10] + (HASH_COLUMN,) + PAYLOAD_FIELDS[10:] + ("created_at",)
#: Columns an audit database must have: the hashed ones and the hash itself, in table order.
REQUIRED_COLUMNS = TABLE_COLUMNS[:-1]
#: Hashed columns that hold integers; every other hashed column holds text.
INTEGER_FIELDS = ("timestamp", "latency_ms", "redaction_count")


def _cast(column: str) -> str:
    return column if column in INTEGER_FIELDS else "CAST(%s AS BLOB)" % column


#: The hashed columns read as raw bytes, in chain (rowid) order, then the stored hash.
#: ``CAST(... AS BLOB)`` keeps invalid UTF-8 exactly as stored.
SELECT_CHAIN_SQL = "SELECT rowid, %s, CAST(%s AS BLOB) FROM %s ORDER BY rowid" % (
    ", ".join(_cast(column) for column in PAYLOAD_FIELDS), HASH_COLUMN, EVENTS_TABLE)

#: :data:`SELECT_CHAIN_SQL` for one row (``?`` is its rowid).
SELECT_CHAIN_ROW_SQL = SELECT_CHAIN_SQL.replace("ORDER BY rowid", "WHERE rowid = ?")

#: The same columns without casts: with ``text_factory=bytes`` TEXT arrives as
#: bytes, exactly as the casts would give it, and a value of another type (NULL,
#: a number in a text column) is told apart by its Python type.
WALK_SQL = "SELECT rowid, %s, %s FROM %s ORDER BY rowid" % (", ".join(PAYLOAD_FIELDS), HASH_COLUMN, EVENTS_TABLE)


def event_columns_sql() -> str:
    """The select list of the ``events`` query: rowid, every column, the timestamp as ``timestamp_ns``."""
    columns = ["timestamp AS timestamp_ns" if column == "timestamp" else column for column in TABLE_COLUMNS]
    return "rowid AS rowid, " + ", ".join(columns)
