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
import typing as t

from urllib.parse import quote as _quote

from ansible_collections.airlock.incident.plugins.module_utils.audit.chain import parse_salt
from ansible_collections.airlock.incident.plugins.module_utils.audit.schema import (
    EVENTS_TABLE,
    METADATA_TABLE,
    REQUIRED_COLUMNS,
    SALT_KEY,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import check_number
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import check_regular, read_head

SQLITE_HEADER = b"SQLite format 3\x00"
#: The database file and the files SQLite keeps beside it.
SIDE_FILES = ("", "-wal", "-shm", "-journal")


#: SQLite keeps its busy timeout in milliseconds in a C int.
MAX_BUSY_TIMEOUT = 2147483


def check_busy_timeout(value: t.Any) -> float:
    """``busy_timeout`` when it is a finite number of seconds SQLite can wait; InputError otherwise."""
    return float(check_number("busy_timeout", value, 0, MAX_BUSY_TIMEOUT, "seconds"))


class AuditDbError(AirlockIncidentError):
    """The audit database cannot be used; ``msg`` says why and what to do."""


class AuditDbCorrupt(AuditDbError):
    """A damaged page of the audit database stopped the work (SQLite's SQLITE_CORRUPT); readable rows can be
    salvaged (``audit.salvage``), unlike a lock, a permission or an I/O error."""


#: SQLite's primary result code for a damaged file ("database disk image is malformed").
SQLITE_CORRUPT = 11


def is_corrupt(exc: BaseException) -> bool:
    """True for SQLite's error about a damaged file (malformed image, corrupt page), not locks or I/O.

    Decided on SQLite's result code where Python exposes it (3.11+); older Pythons only have SQLite's text."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == SQLITE_CORRUPT
    text_ = str(exc).lower()
    return "malformed" in text_ or "corrupt" in text_


def db_error(exc: BaseException, path: str, busy_timeout: t.Optional[float] = None) -> AuditDbError:
    """The AuditDbError for an sqlite3 exception: :class:`AuditDbCorrupt` for a damaged page."""
    kind = AuditDbCorrupt if is_corrupt(exc) else AuditDbError
    return kind(describe_sqlite_error(exc, path, busy_timeout))


def readonly_uri(path: str) -> str:
    """``file:`` URI that opens ``path`` read-only (never creates it)."""
    return "file:%s?mode=ro" % _quote(os.path.abspath(path), safe="/")


def check_database_file(path: str, field: str = "path") -> None:
    """Fail early, with a clear message, on a missing, unreadable or non-SQLite file."""
    if not path:
        raise AuditDbError("%s: no database path given" % field)
    if not os.path.exists(path):
        raise AuditDbError("%s: %s does not exist" % (field, path))
    try:
        # A FIFO, socket or device would block SQLite (and us) for ever: refused by type first,
        # then read with O_NONBLOCK and checked again on the descriptor.
        check_regular(path, field, "an SQLite database file")
        if not os.access(path, os.R_OK):
            raise AuditDbError("%s: %s is not readable by this user (uid %d)" % (field, path, os.getuid()))
        header = read_head(path, field, len(SQLITE_HEADER), "an SQLite database file")
    except InputError as exc:
        raise AuditDbError(exc.msg) from exc
    except (IOError, OSError) as exc:
        raise AuditDbError("%s: cannot read %s: %s" % (field, path, exc)) from exc
    if not header:
        raise AuditDbError("%s: %s is empty (0 bytes), not an MCP Airlock audit database" % (field, path))
    if header != SQLITE_HEADER:
        raise AuditDbError(
            "%s: %s is not an SQLite database (its first bytes are not 'SQLite format 3'); "
            "point it at Airlock's audit.database file (e.g. /var/lib/airlock/audit.db)" % (field, path))


def describe_sqlite_error(exc: BaseException, path: str, busy_timeout: t.Optional[float] = None) -> str:
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


def open_readonly(path: str, busy_timeout: float = 5.0, field: str = "path") -> sqlite3.Connection:
    """A read-only connection to ``path`` (autocommit mode, ``query_only`` on).

    Raises AuditDbError with an actionable message; never creates the file.
    """
    check_database_file(path, field)
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=float(busy_timeout),
                               isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise db_error(exc, path, busy_timeout) from exc
    try:
        conn.execute("PRAGMA query_only = ON")
        # Touch the schema now so that locked / corrupt / not-a-database
        # errors surface here, before any work starts.
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise db_error(exc, path, busy_timeout) from exc
    return conn


def table_names(conn: sqlite3.Connection) -> t.Set[str]:
    return set(text(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


def check_schema(conn: sqlite3.Connection, path: str) -> t.Set[str]:
    """Raise AuditDbError unless ``audit_events`` has every hashed column."""
    encoding = text(conn.execute("PRAGMA encoding").fetchone()[0])
    if str(encoding).upper() != "UTF-8":
        raise AuditDbError("%s uses text encoding %s; Airlock audit databases are UTF-8" % (path, encoding))
    tables = table_names(conn)
    if EVENTS_TABLE not in tables:
        raise AuditDbError(
            "%s has no %s table: not an MCP Airlock audit database (tables: %s)"
            % (path, EVENTS_TABLE, ", ".join(sorted(tables)) or "none"))
    columns = set(text(row[1]) for row in conn.execute("PRAGMA table_info(%s)" % EVENTS_TABLE))
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise AuditDbError("%s: %s lacks the column(s) %s: not an MCP Airlock audit database"
                           % (path, EVENTS_TABLE, ", ".join(missing)))
    return tables


def read_salt(conn: sqlite3.Connection, path: str, tables: t.Optional[t.Set[str]] = None) -> bytes:
    """The 32-byte ``hasher_salt`` from ``audit_metadata``; AuditDbError when absent or malformed."""
    if tables is None:
        tables = table_names(conn)
    if METADATA_TABLE not in tables:
        raise AuditDbError("%s has no %s table, so no %s: the hash chain cannot be "
                           "verified (Airlock creates it with the database)" % (path, METADATA_TABLE, SALT_KEY))
    row = conn.execute("SELECT CAST(value AS BLOB) FROM %s WHERE key = ?" % METADATA_TABLE, (SALT_KEY,)).fetchone()
    if row is None or row[0] is None:
        raise AuditDbError("%s: %s has no %s row: the hash chain cannot be verified"
                           % (path, METADATA_TABLE, SALT_KEY))
    try:
        return parse_salt(bytes(row[0]))
    except ValueError as exc:
        raise AuditDbError("%s: %s is malformed (%s)" % (path, SALT_KEY, exc)) from exc


def text(value: t.Any) -> t.Any:
    """A value read with ``text_factory=bytes`` as str (invalid UTF-8 becomes U+FFFD)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


def decode_text(data: bytes) -> str:
    """``text_factory`` for result rows: decode UTF-8, never fail on a tampered byte."""
    return data.decode("utf-8", "replace")


def last_event(conn: sqlite3.Connection) -> t.Optional[t.Tuple[int, t.Any, t.Any]]:
    """``(rowid, hash, id)`` of the highest rowid (the chain head), or None when empty."""
    row = conn.execute(
        "SELECT rowid, CAST(hash AS BLOB), CAST(id AS BLOB) FROM audit_events ORDER BY rowid DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return row[0], text(row[1]), text(row[2])


def count_events(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]


def file_sha256(path: str, chunk: int = 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def same_file(first: str, second: str) -> bool:
    """True when two paths name the same file (or the same not-yet-existing path)."""
    try:
        return os.path.samefile(first, second)
    except (IOError, OSError):
        return os.path.realpath(first) == os.path.realpath(second)


def side_file_clash(target: str, database: str) -> t.Optional[str]:
    """The suffix (``""``, ``-wal`` ...) of the database file ``target`` names, or None when it names none."""
    for suffix in SIDE_FILES:
        if same_file(target, database + suffix):
            return suffix
    return None


def clash_text(suffix: str) -> str:
    """`` (-wal file)`` for a side file, nothing for the database file itself."""
    return " (%s file)" % suffix if suffix else ""
