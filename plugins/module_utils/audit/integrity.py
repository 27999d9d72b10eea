# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The state of an audit database file (the logic of ``audit_integrity``): present, SQLite, intact.

A damaged or missing database is the answer, never a failure: data-issue response starts here and
needs to know *how* the file is damaged (missing, empty, not SQLite, malformed pages, no audit table).
Only an option that cannot be acted on (a path that is a directory or a device) is refused.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    SIDE_FILES,
    AuditDbError,
    check_busy_timeout,
    count_events,
    last_event,
    open_readonly,
    table_names,
)
from ansible_collections.airlock.incident.plugins.module_utils.audit.schema import EVENTS_TABLE
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import file_kind
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns

#: The first 16 bytes of every SQLite 3 database file.
SQLITE_MAGIC = b"SQLite format 3\x00"
#: At most this many lines of PRAGMA integrity_check are returned.
MAX_PROBLEMS = 100

Facts = t.Dict[str, t.Any]


def _side_files(path: str) -> t.Dict[str, int]:
    """Size of each side file present (``-wal``, ``-shm``, ``-journal``)."""
    sizes = {}
    for suffix in [suffix for suffix in SIDE_FILES if suffix]:
        try:
            info = os.lstat(path + suffix)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            sizes[suffix] = info.st_size
    return sizes


def _file_state(path: str) -> t.Tuple[Facts, t.Optional[str]]:
    """(facts about the file, the problem that stops reading it or None)."""
    facts: Facts = {"database": path, "exists": False, "size": None, "side_files": _side_files(path)}
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return facts, "missing"
    if not stat.S_ISREG(info.st_mode):
        raise InputError("path: %s is %s, not an SQLite database file; accepted values: the path of a regular file"
                         % (path, file_kind(info.st_mode)))
    facts.update(exists=True, size=info.st_size)
    if info.st_size == 0:
        return facts, "empty"
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        facts["error"] = "cannot read %s: %s" % (path, exc)
        return facts, "unreadable"
    if header != SQLITE_MAGIC:
        return facts, "not_sqlite"
    return facts, None


def _content(conn: sqlite3.Connection, facts: Facts, max_problems: int) -> None:
    """Add the integrity check and, where the table reads, events and chain head to ``facts``."""
    try:
        lines = [str(row[0]) for row in conn.execute("PRAGMA integrity_check(%d)" % max_problems)]
    except sqlite3.DatabaseError as exc:
        lines = ["integrity_check stopped: %s" % exc]
    facts["integrity_problems"] = [] if lines == ["ok"] else lines
    tables = table_names(conn)
    facts["tables"] = sorted(tables)
    if EVENTS_TABLE not in tables:
        facts["problems"].append("no_events_table")
        return
    head = last_event(conn)
    facts["events"] = count_events(conn)
    facts["chain_head"] = str(head[1]) if head and head[1] is not None else None
    stamp = conn.execute("SELECT timestamp FROM %s ORDER BY rowid DESC LIMIT 1" % EVENTS_TABLE).fetchone()
    facts["last_event_at"] = format_ns(stamp[0]) if stamp and isinstance(stamp[0], int) else None


def check_integrity(path: str, busy_timeout: float = 5.0, max_problems: int = MAX_PROBLEMS) -> Facts:
    """The state of the database at ``path`` (see module ``audit_integrity``); the result with ``msg``."""
    busy_timeout = check_busy_timeout(busy_timeout)
    if not isinstance(max_problems, int) or isinstance(max_problems, bool) or not 1 <= max_problems <= 10000:
        raise InputError("max_problems: invalid value %r; accepted values: 1 to 10000" % (max_problems,))
    facts, problem = _file_state(path)
    facts.update(problems=[problem] if problem else [], integrity_problems=[], events=None, chain_head=None,
                 last_event_at=None, readable=False, tables=[])
    if problem is None:
        try:
            conn = open_readonly(path, busy_timeout)
        except AuditDbError as exc:
            facts["problems"].append("unreadable")
            facts["error"] = str(exc)
        else:
            try:
                _content(conn, facts, max_problems)
                facts["readable"] = True
            except sqlite3.Error as exc:
                facts["problems"].append("unreadable")
                facts["error"] = "SQLite error reading %s: %s" % (path, exc)
            finally:
                conn.close()
    if facts["integrity_problems"]:
        facts["problems"].append("integrity_check")
    facts["ok"] = not facts["problems"]
    facts["changed"] = False
    facts["msg"] = _message(facts)
    return facts


def _message(facts: Facts) -> str:
    path = facts["database"]
    if facts["ok"]:
        return "%s is intact: integrity_check ok, %s events, chain head %s" % (path, facts["events"], facts["chain_head"])
    words = {"missing": "does not exist", "empty": "is empty (0 bytes)", "not_sqlite": "is not an SQLite database",
             "unreadable": "cannot be read", "no_events_table": "has no audit_events table",
             "integrity_check": "fails integrity_check (%d problems, first: %s)"
                                % (len(facts["integrity_problems"]), (facts["integrity_problems"] or [""])[0])}
    return "%s %s" % (path, "; ".join(words[p] for p in facts["problems"]))
