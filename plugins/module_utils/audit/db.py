# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only access to an MCP Airlock audit database, shared by the audit modules.

* ``open_readonly`` checks the file first (exists, regular, readable, SQLite
  header) and opens it through a ``file:...?mode=ro`` URI with
  ``PRAGMA query_only``: nothing here can write to the database file.
* ``check_schema`` / ``read_salt`` refuse files that are SQLite but not an
  Airlock audit database, with a message that says what is missing.
* ``describe_sqlite_error`` turns SQLite's terse errors (locked, not a
  database, malformed, unable to open) into messages an operator can act on.

WAL caveat: a read-only connection to a WAL database still needs the
``-shm`` shared-memory index. When the live Airlock holds the database open
those files exist and readers only take read locks in ``-shm``; when nothing
has the database open, SQLite creates empty ``-wal``/``-shm`` files beside it
(the database file itself is never modified).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3

from urllib.parse import quote as _quote

from ansible_collections.airlock.incident.plugins.module_utils.audit.chain import parse_salt
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError

SQLITE_HEADER = b"SQLite format 3\x00"

#: Columns of ``audit_events`` that the hash covers, plus the hash itself.
REQUIRED_COLUMNS = (
    "id", "timestamp", "correlation_id", "tenant", "subject", "action", "resource", "decision",
    "reason", "metadata", "hash", "previous_hash", "latency_ms", "redaction_count",
)



class AuditDbError(AirlockIncidentError):
    """The audit database cannot be used; ``msg`` says why and what to do."""


def readonly_uri(path):
    """``file:`` URI that opens ``path`` read-only (never creates it)."""
    return "file:%s?mode=ro" % _quote(os.path.abspath(path), safe="/")


def check_database_file(path, field="path"):
    """Fail early, with a clear message, on a missing, unreadable or non-SQLite file."""
    if not path:
        raise AuditDbError("%s: no database path given" % field)
    if not os.path.exists(path):
        raise AuditDbError("%s: %s does not exist" % (field, path))
    if os.path.isdir(path):
        raise AuditDbError("%s: %s is a directory, not an SQLite database file" % (field, path))
    if not os.access(path, os.R_OK):
        raise AuditDbError("%s: %s is not readable by this user (uid %d)" % (field, path, os.getuid()))
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except (IOError, OSError) as exc:
        raise AuditDbError("%s: cannot read %s: %s" % (field, path, exc))
    if not header:
        raise AuditDbError("%s: %s is empty (0 bytes), not an MCP Airlock audit database" % (field, path))
    if header != SQLITE_HEADER:
        raise AuditDbError(
            "%s: %s is not an SQLite database (its first bytes are not 'SQLite format 3'); "
            "point it at Airlock's audit.database file (e.g. /var/lib/airlock/audit.db)" % (field, path))


def describe_sqlite_error(exc, path, busy_timeout=None):
    """An actionable message for an sqlite3 exception raised while reading ``path``."""
    text = str(exc)
    lower = text.lower()
    if "locked" in lower or "busy" in lower:
        waited = "" if busy_timeout is None else " for %ss (busy_timeout)" % busy_timeout
        return ("%s is locked by another connection%s (%s): a writer holds an exclusive lock "
                "(EXCLUSIVE transaction or locking_mode=EXCLUSIVE). Retry later or raise busy_timeout; "
                "nothing was read or written" % (path, waited, text))
    if "not a database" in lower or "encrypted" in lower:
        return "%s is not an SQLite database, or is encrypted (%s)" % (path, text)
    if "malformed" in lower or "corrupt" in lower:
        return ("%s is corrupt (%s). Keep the file as evidence, do not run VACUUM or .recover on it; "
                "work on a copy (sqlite3 copy.db '.recover')" % (path, text))
    if "unable to open" in lower or "readonly" in lower or "read-only" in lower:
        return ("cannot open %s read-only (%s): check permissions; a WAL database also needs its -shm "
                "file, or a writable directory to create it" % (path, text))
    if "disk i/o" in lower:
        return "I/O error reading %s (%s)" % (path, text)
    return "SQLite error on %s: %s" % (path, text)


def open_readonly(path, busy_timeout=5.0, field="path"):
    """A read-only connection to ``path`` (autocommit mode, ``query_only`` on).

    Raises AuditDbError with an actionable message; never creates the file.
    """
    check_database_file(path, field)
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=float(busy_timeout),
                               isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise AuditDbError(describe_sqlite_error(exc, path, busy_timeout))
    try:
        conn.execute("PRAGMA query_only = ON")
        # Touch the schema now so that locked / corrupt / not-a-database
        # errors surface here, before any work starts.
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise AuditDbError(describe_sqlite_error(exc, path, busy_timeout))
    return conn


def table_names(conn):
    return set(text(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


def check_schema(conn, path):
    """Raise AuditDbError unless ``audit_events`` has every hashed column."""
    encoding = text(conn.execute("PRAGMA encoding").fetchone()[0])
    if str(encoding).upper() != "UTF-8":
        raise AuditDbError("%s uses text encoding %s; Airlock audit databases are UTF-8" % (path, encoding))
    tables = table_names(conn)
    if "audit_events" not in tables:
        raise AuditDbError(
            "%s has no audit_events table: not an MCP Airlock audit database (tables: %s)"
            % (path, ", ".join(sorted(tables)) or "none"))
    columns = set(text(row[1]) for row in conn.execute("PRAGMA table_info(audit_events)"))
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise AuditDbError("%s: audit_events lacks the column(s) %s: not an MCP Airlock audit database"
                           % (path, ", ".join(missing)))
    return tables


def read_salt(conn, path, tables=None):
    """The 32-byte ``hasher_salt`` from ``audit_metadata``; AuditDbError when absent or malformed."""
    if tables is None:
        tables = table_names(conn)
    if "audit_metadata" not in tables:
        raise AuditDbError("%s has no audit_metadata table, so no hasher_salt: the hash chain cannot be "
                           "verified (Airlock creates it with the database)" % path)
    row = conn.execute("SELECT CAST(value AS BLOB) FROM audit_metadata WHERE key = 'hasher_salt'").fetchone()
    if row is None or row[0] is None:
        raise AuditDbError("%s: audit_metadata has no hasher_salt row: the hash chain cannot be verified" % path)
    try:
        return parse_salt(bytes(row[0]))
    except ValueError as exc:
        raise AuditDbError("%s: hasher_salt is malformed (%s)" % (path, exc))


def text(value):
    """A value read with ``text_factory=bytes`` as str (invalid UTF-8 becomes U+FFFD)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


def decode_text(data):
    """``text_factory`` for result rows: decode UTF-8, never fail on a tampered byte."""
    return data.decode("utf-8", "replace")


def last_event(conn):
    """``(rowid, hash, id)`` of the highest rowid (the chain head), or None when empty."""
    row = conn.execute(
        "SELECT rowid, CAST(hash AS BLOB), CAST(id AS BLOB) FROM audit_events ORDER BY rowid DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return row[0], text(row[1]), text(row[2])


def count_events(conn):
    return conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]


def file_sha256(path, chunk=1024 * 1024):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def same_file(first, second):
    """True when two paths name the same file (or the same not-yet-existing path)."""
    try:
        return os.path.samefile(first, second)
    except (IOError, OSError):
        return os.path.realpath(first) == os.path.realpath(second)
