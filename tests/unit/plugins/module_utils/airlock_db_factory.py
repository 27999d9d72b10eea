# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build MCP Airlock audit databases for tests, and tamper with them.

The schema is Airlock's own (``pkg/audit/sqlite.go``): same tables, columns,
constraints and indexes, WAL mode. Events are chained exactly as Airlock
chains them: ``hash = BLAKE3(salt || payload)`` over the Go ``encoding/json``
payload built by ``plugins/module_utils/audit/chain.py``, each event's
``previous_hash`` being the hash of the event inserted before it (genesis:
``''``). Metadata is written the way Go's ``json.Marshal`` writes a map
(sorted keys, HTML escaping), or verbatim when given as bytes/str.

Every way of tampering that the verifier must tell apart has a function here:
``edit_content``, ``delete_rows``, ``rehash_row``, ``rewrite_chain``,
``add_fork``, ``add_genesis`` and ``retention_trim`` (what Airlock's retention
really does: ``DELETE ... WHERE timestamp < cutoff AND action != 'tombstone'``).
"""

from __future__ import annotations

import os
import sqlite3

from ansible_collections.airlock.incident.plugins.module_utils.audit.chain import (
    build_payload,
    event_hash,
    go_json_value,
)

#: Airlock's schema, statement for statement (pkg/audit/sqlite.go initSchema).
AIRLOCK_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    id TEXT PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    correlation_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    subject TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    metadata TEXT, -- JSON
    hash TEXT NOT NULL UNIQUE,
    previous_hash TEXT NOT NULL,
    latency_ms INTEGER DEFAULT 0,
    redaction_count INTEGER DEFAULT 0,
    created_at INTEGER DEFAULT (strftime('%s', 'now'))
);
CREATE INDEX IF NOT EXISTS idx_audit_timestamp ON audit_events(timestamp);
CREATE INDEX IF NOT EXISTS idx_audit_tenant ON audit_events(tenant);
CREATE INDEX IF NOT EXISTS idx_audit_subject ON audit_events(subject);
CREATE INDEX IF NOT EXISTS idx_audit_action ON audit_events(action);
CREATE INDEX IF NOT EXISTS idx_audit_decision ON audit_events(decision);
CREATE INDEX IF NOT EXISTS idx_audit_correlation ON audit_events(correlation_id);
CREATE INDEX IF NOT EXISTS idx_audit_created_at ON audit_events(created_at);
CREATE INDEX IF NOT EXISTS idx_audit_tenant_timestamp ON audit_events(tenant, timestamp);
CREATE INDEX IF NOT EXISTS idx_audit_subject_timestamp ON audit_events(subject, timestamp);
CREATE TABLE IF NOT EXISTS audit_metadata (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at INTEGER DEFAULT (strftime('%s', 'now'))
);
CREATE TABLE IF NOT EXISTS audit_tombstones (
    subject TEXT PRIMARY KEY,
    tombstone_event_id TEXT NOT NULL,
    created_at INTEGER DEFAULT (strftime('%s', 'now')),
    reason TEXT NOT NULL
);
"""

DEFAULT_SALT_HEX = "5a" * 16 + "c3" * 16
#: 2026-01-01T00:00:00Z in Unix nanoseconds: a fixed, readable base time.
BASE_NS = 1767225600 * 1000000000
SECOND_NS = 1000000000

TEXT_FIELDS = ("id", "correlation_id", "tenant", "subject", "action", "resource", "decision", "reason")

INSERT_SQL = (
    "INSERT INTO audit_events (id, timestamp, correlation_id, tenant, subject, action, resource, "
    "decision, reason, metadata, hash, previous_hash, latency_ms, redaction_count, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def metadata_text(metadata):
    """The metadata column as Airlock stores it: Go JSON of a map, ``null`` for None (a nil map)."""
    if metadata is None:
        return "null"
    if isinstance(metadata, bytes):
        return metadata.decode("utf-8", "surrogateescape")
    if isinstance(metadata, str):
        return metadata
    return go_json_value(metadata).decode("utf-8", "surrogateescape")


def chain_row(salt, previous_hash, event):
    """The 15-column row tuple for ``event`` (a dict) chained after ``previous_hash``."""
    meta_db = metadata_text(event.get("metadata"))
    payload = build_payload(
        event["id"], event["timestamp"], event.get("correlation_id", ""), event.get("tenant", ""),
        event.get("subject", ""), event["action"], event.get("resource", ""), event.get("decision", ""),
        event.get("reason", ""), meta_db, previous_hash,
        event.get("latency_ms", 0), event.get("redaction_count", 0),
    )
    digest = event_hash(salt, payload)
    return (
        event["id"], event["timestamp"], event.get("correlation_id", ""), event.get("tenant", ""),
        event.get("subject", ""), event["action"], event.get("resource", ""), event.get("decision", ""),
        event.get("reason", ""), meta_db, digest, previous_hash, event.get("latency_ms", 0),
        event.get("redaction_count", 0), event["timestamp"] // SECOND_NS,
    )


def row_payload(row):
    """Payload bytes for a row read with ``SELECT * FROM audit_events`` (text as str)."""
    (event_id, timestamp, correlation_id, tenant, subject, action, resource, decision, reason,
     metadata, _hash, previous_hash, latency_ms, redaction_count) = row[:14]
    return build_payload(event_id, timestamp, correlation_id, tenant, subject, action, resource,
                         decision, reason, metadata, previous_hash, latency_ms, redaction_count)


class AuditDB(object):
    """An Airlock-schema audit database with a salt and a valid chain.

    ``append`` adds one chained event and returns ``(rowid, hash)``. The
    connection stays open until ``close()`` (so a test can keep a ``-wal``
    file alive, as a running Airlock does).
    """

    def __init__(self, path, salt_hex=DEFAULT_SALT_HEX, wal=True, with_salt=True, autocheckpoint=True):
        self.path = str(path)
        self.salt_hex = salt_hex
        self.salt = bytes.fromhex(salt_hex)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        if wal:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        if not autocheckpoint:
            self.conn.execute("PRAGMA wal_autocheckpoint=0")
        self.conn.executescript(AIRLOCK_SCHEMA)
        if with_salt:
            self.conn.execute(
                "INSERT OR IGNORE INTO audit_metadata (key, value) VALUES ('hasher_salt', ?)", (salt_hex,))
        last = self.conn.execute("SELECT hash FROM audit_events ORDER BY rowid DESC LIMIT 1").fetchone()
        self.last_hash = last[0] if last else ""
        self.counter = self.conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]

    # -- building events -------------------------------------------------
    def event(self, action="tool_call", **fields):
        self.counter += 1
        event = dict(
            id=fields.pop("id", "evt-%08d" % self.counter),
            timestamp=fields.pop("timestamp", BASE_NS + self.counter * SECOND_NS),
            correlation_id=fields.pop("correlation_id", "corr-%08d" % self.counter),
            tenant=fields.pop("tenant", "acme"),
            subject=fields.pop("subject", "alice@example.com"),
            action=action,
            resource=fields.pop("resource", "mcp://docs/readme.md"),
            decision=fields.pop("decision", "allow"),
            reason=fields.pop("reason", "policy allowed"),
            metadata=fields.pop("metadata", {"tool": "read_file"}),
            latency_ms=fields.pop("latency_ms", 3),
            redaction_count=fields.pop("redaction_count", 0),
        )
        if fields:
            raise TypeError("unknown event fields: %s" % ", ".join(sorted(fields)))
        return event

    def append(self, action="tool_call", **fields):
        """Insert one chained event; returns (rowid, hash)."""
        row = chain_row(self.salt, self.last_hash, self.event(action, **fields))
        cur = self.conn.execute(INSERT_SQL, row)
        self.last_hash = row[10]
        return cur.lastrowid, row[10]

    def append_many(self, count, action="tool_call", **fields):
        rows = []
        for _unused in range(count):
            row = chain_row(self.salt, self.last_hash, self.event(action, **dict(fields)))
            self.last_hash = row[10]
            rows.append(row)
        self.conn.execute("BEGIN")
        self.conn.executemany(INSERT_SQL, rows)
        self.conn.execute("COMMIT")
        return len(rows)

    def tombstone(self, erased_subject, **fields):
        fields.setdefault("subject", "")
        fields.setdefault("resource", "")
        fields.setdefault("decision", "")
        fields.setdefault("reason", "GDPR erasure request")
        fields.setdefault("metadata", {"erased_subject": erased_subject})
        rowid, digest = self.append("tombstone", **fields)
        self.conn.execute(
            "INSERT OR REPLACE INTO audit_tombstones (subject, tombstone_event_id, reason) VALUES (?, ?, ?)",
            (erased_subject, "evt-%08d" % self.counter, "GDPR erasure request"))
        return rowid, digest

    def head(self):
        return self.conn.execute("SELECT hash FROM audit_events ORDER BY rowid DESC LIMIT 1").fetchone()[0]

    def count(self):
        return self.conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def build_db(path, events=20, **kwargs):
    """A closed database with ``events`` chained events; returns the AuditDB (closed)."""
    db = AuditDB(path, **kwargs)
    if events:
        db.append_many(events)
    db.close()
    return db


# -- tampering -------------------------------------------------------------
def _connect(path):
    return sqlite3.connect(str(path), isolation_level=None)


def _row(conn, rowid):
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT rowid AS rid, * FROM audit_events WHERE rowid = ?", (rowid,)).fetchone()
    finally:
        conn.row_factory = None
    if row is None:
        raise KeyError("no row with rowid %s" % rowid)
    return dict(row)


def _payload_of(row):
    return build_payload(row["id"], row["timestamp"], row["correlation_id"], row["tenant"], row["subject"],
                         row["action"], row["resource"], row["decision"], row["reason"], row["metadata"],
                         row["previous_hash"], row["latency_ms"], row["redaction_count"])


def edit_content(path, rowid, **changes):
    """Change columns of one row WITHOUT recomputing its hash (-> content_mismatch)."""
    conn = _connect(path)
    try:
        sets = ", ".join("%s = ?" % column for column in changes)
        conn.execute("UPDATE audit_events SET %s WHERE rowid = ?" % sets, tuple(changes.values()) + (rowid,))
    finally:
        conn.close()


def delete_rows(path, *rowids):
    """Delete rows (-> link_break at the row after the gap)."""
    conn = _connect(path)
    try:
        conn.executemany("DELETE FROM audit_events WHERE rowid = ?", [(r,) for r in rowids])
    finally:
        conn.close()


def rehash_row(path, rowid, salt_hex=DEFAULT_SALT_HEX, **changes):
    """Change a row and recompute ITS hash only (-> link_break at the next row)."""
    salt = bytes.fromhex(salt_hex)
    conn = _connect(path)
    try:
        row = _row(conn, rowid)
        row.update(changes)
        new_hash = event_hash(salt, _payload_of(row))
        sets = ", ".join("%s = ?" % column for column in changes)
        conn.execute("UPDATE audit_events SET %s, hash = ? WHERE rowid = ?" % sets,
                     tuple(changes.values()) + (new_hash, rowid))
        return new_hash
    finally:
        conn.close()


def rewrite_chain(path, from_rowid, salt_hex=DEFAULT_SALT_HEX, **changes):
    """Change one row and rebuild every hash from it to the end: a self-consistent forgery.

    Only a chain head recorded elsewhere (``expected_head``) can reveal it.
    """
    salt = bytes.fromhex(salt_hex)
    conn = _connect(path)
    try:
        rowids = [r[0] for r in conn.execute(
            "SELECT rowid FROM audit_events WHERE rowid >= ? ORDER BY rowid", (from_rowid,))]
        before = conn.execute(
            "SELECT hash FROM audit_events WHERE rowid < ? ORDER BY rowid DESC LIMIT 1", (from_rowid,)).fetchone()
        previous = before[0] if before else ""
        conn.execute("BEGIN")
        for rid in rowids:
            row = _row(conn, rid)
            if rid == from_rowid:
                row.update(changes)
            row["previous_hash"] = previous
            new_hash = event_hash(salt, _payload_of(row))
            # Park the new hash under a temporary unique value first: hash is UNIQUE.
            conn.execute(
                "UPDATE audit_events SET id = ?, timestamp = ?, correlation_id = ?, tenant = ?, subject = ?, "
                "action = ?, resource = ?, decision = ?, reason = ?, metadata = ?, previous_hash = ?, "
                "latency_ms = ?, redaction_count = ?, hash = ? WHERE rowid = ?",
                (row["id"], row["timestamp"], row["correlation_id"], row["tenant"], row["subject"],
                 row["action"], row["resource"], row["decision"], row["reason"], row["metadata"],
                 previous, row["latency_ms"], row["redaction_count"], new_hash, rid))
            previous = new_hash
        conn.execute("COMMIT")
        return previous
    finally:
        conn.close()


def add_fork(path, parent_rowid, salt_hex=DEFAULT_SALT_HEX, event_id="evt-fork"):
    """Append a validly hashed event whose parent is ``parent_rowid`` (-> fork)."""
    salt = bytes.fromhex(salt_hex)
    conn = _connect(path)
    try:
        parent = _row(conn, parent_rowid)
        event = dict(id=event_id, timestamp=parent["timestamp"] + 1, correlation_id="corr-fork",
                     tenant="acme", subject="mallory@example.com", action="tool_call",
                     resource="mcp://docs/secret.md", decision="allow", reason="policy allowed",
                     metadata={"tool": "read_file"}, latency_ms=1, redaction_count=0)
        row = chain_row(salt, parent["hash"], event)
        cur = conn.execute(INSERT_SQL, row)
        return cur.lastrowid
    finally:
        conn.close()


def add_genesis(path, salt_hex=DEFAULT_SALT_HEX, event_id="evt-genesis-2"):
    """Append a validly hashed event with ``previous_hash = ''`` (-> extra_genesis)."""
    salt = bytes.fromhex(salt_hex)
    conn = _connect(path)
    try:
        event = dict(id=event_id, timestamp=BASE_NS, correlation_id="corr-g2", tenant="acme",
                     subject="mallory@example.com", action="login", resource="", decision="allow",
                     reason="", metadata=None, latency_ms=0, redaction_count=0)
        cur = conn.execute(INSERT_SQL, chain_row(salt, "", event))
        return cur.lastrowid
    finally:
        conn.close()


def retention_trim(path, cutoff_ns):
    """Exactly Airlock's retention: delete events older than cutoff, except tombstones."""
    conn = _connect(path)
    try:
        cur = conn.execute("DELETE FROM audit_events WHERE timestamp < ? AND action != ?", (cutoff_ns, "tombstone"))
        return cur.rowcount
    finally:
        conn.close()


def timestamp_of(path, rowid):
    conn = _connect(path)
    try:
        return conn.execute("SELECT timestamp FROM audit_events WHERE rowid = ?", (rowid,)).fetchone()[0]
    finally:
        conn.close()


def hash_of(path, rowid):
    conn = _connect(path)
    try:
        return conn.execute("SELECT hash FROM audit_events WHERE rowid = ?", (rowid,)).fetchone()[0]
    finally:
        conn.close()


def file_bytes(path):
    """Bytes of a file, or None when it does not exist (for before/after comparisons)."""
    path = str(path)
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


# -- running a module in-process -------------------------------------------
def run_module(main, args, check_mode=False):
    """Run an Ansible module's ``main()`` with ``args``; returns its JSON result as a dict.

    Uses ansible-core's documented test hook (``patch_module_args``); the
    result is whatever the module printed before exiting, so a traceback
    instead of ``fail_json`` shows up as a test failure.
    """
    import contextlib
    import io
    import json

    from ansible.module_utils.testing import patch_module_args

    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    out = io.StringIO()
    with patch_module_args(args):
        with contextlib.redirect_stdout(out):
            try:
                main()
            except SystemExit:
                pass
    text = out.getvalue()
    try:
        return json.loads(text)
    except ValueError:
        raise AssertionError("module printed no JSON result:\n%s" % text)


def run_guarded(call, fifo=None, guard_seconds=120):
    """``call()`` in a thread, joined with a generous guard; its result.

    A module that blocks on ``fifo`` (opening a FIFO for reading waits for a
    writer) would hang the test run: after ``guard_seconds`` the FIFO is opened
    for writing, which releases the reader, and the test fails. Nothing is
    asserted about how long the call took.
    """
    import os
    import threading

    box = {}

    def target():
        try:
            box["result"] = call()
        except BaseException as exc:  # reported to the test, not lost in the thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(guard_seconds)
    if thread.is_alive():
        if fifo is not None:
            try:
                os.close(os.open(str(fifo), os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
            thread.join(guard_seconds)
        raise AssertionError("the call blocked on %s instead of refusing it" % (fifo,))
    if "error" in box:
        raise box["error"]
    return box["result"]
