# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Airlock's SQLite audit store: the same schema, salt, payload and hash chain.

One writer (a lock around one connection) keeps the chain linear: rowid
order is chain order, as in Airlock. Every event is committed at once so
other processes (forensics modules, tests) see it immediately; they should
open the file read-only.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
import uuid

from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain

#: The schema of ``pkg/audit/sqlite.go`` (initSchema), verbatim.
SCHEMA_SQL = """
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

-- Indexes for common queries
CREATE INDEX IF NOT EXISTS idx_audit_timestamp ON audit_events(timestamp);
CREATE INDEX IF NOT EXISTS idx_audit_tenant ON audit_events(tenant);
CREATE INDEX IF NOT EXISTS idx_audit_subject ON audit_events(subject);
CREATE INDEX IF NOT EXISTS idx_audit_action ON audit_events(action);
CREATE INDEX IF NOT EXISTS idx_audit_decision ON audit_events(decision);
CREATE INDEX IF NOT EXISTS idx_audit_correlation ON audit_events(correlation_id);
CREATE INDEX IF NOT EXISTS idx_audit_created_at ON audit_events(created_at);

-- Composite index for common filter combinations
CREATE INDEX IF NOT EXISTS idx_audit_tenant_timestamp ON audit_events(tenant, timestamp);
CREATE INDEX IF NOT EXISTS idx_audit_subject_timestamp ON audit_events(subject, timestamp);

-- Table for storing hasher salt (for chain validation)
CREATE TABLE IF NOT EXISTS audit_metadata (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at INTEGER DEFAULT (strftime('%s', 'now'))
);

-- Table for tracking tombstoned subjects
CREATE TABLE IF NOT EXISTS audit_tombstones (
    subject TEXT PRIMARY KEY,
    tombstone_event_id TEXT NOT NULL,
    created_at INTEGER DEFAULT (strftime('%s', 'now')),
    reason TEXT NOT NULL
);
"""

ACTIONS = (
    "login", "logout", "token_validate", "policy_evaluate", "resource_read", "resource_write",
    "tool_call", "redact_data", "rate_limit_hit", "security_violation", "tombstone",
    "retention_cleanup",
)


class AuditStore:
    """The single writer of one audit database."""

    def __init__(self, path, logger=None):
        self.path = path
        self.logger = logger
        self._lock = threading.Lock()
        self._conn = None
        self._salt = None
        self._last_hash = ""
        self.last_error = None
        self.last_error_at = 0.0
        self.events_written = 0
        self.open()

    def open(self):
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA_SQL)
        row = conn.execute("SELECT value FROM audit_metadata WHERE key = 'hasher_salt'").fetchone()
        if row is None:
            salt_hex = secrets.token_bytes(32).hex()
            conn.execute("INSERT INTO audit_metadata (key, value) VALUES ('hasher_salt', ?)", (salt_hex,))
        else:
            salt_hex = row[0]
        self._salt = audit_chain.parse_salt(salt_hex)
        last = conn.execute("SELECT hash FROM audit_events ORDER BY rowid DESC LIMIT 1").fetchone()
        self._last_hash = last[0] if last else ""
        self._conn = conn

    @property
    def salt_hex(self):
        return self._salt.hex()

    def close(self):
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def log_event(self, action, decision, reason, correlation_id="", tenant="", subject="", resource="",
                  metadata=None, latency_ms=0, redaction_count=0, empty_metadata=False):
        """Append one event to the chain; returns its id, or None if the write failed.

        ``metadata`` is a dict encoded exactly as Go's json.Marshal does
        (sorted keys); None with ``empty_metadata`` False is stored as ``{}``
        (Airlock's builder always starts from an empty map).
        """
        if metadata is None:
            metadata = {}
        metadata_text = audit_chain.go_json_value(metadata).decode("utf-8", "surrogateescape")
        event_id = str(uuid.uuid4())
        timestamp = time.time_ns()
        with self._lock:
            if self._conn is None:
                self._fail("audit store is closed")
                return None
            previous = self._last_hash
            payload = audit_chain.build_payload(
                event_id, timestamp, correlation_id, tenant, subject, action, resource, decision,
                reason, metadata_text, previous, latency_ms, redaction_count)
            digest = audit_chain.event_hash(self._salt, payload)
            try:
                self._conn.execute(
                    "INSERT INTO audit_events (id, timestamp, correlation_id, tenant, subject, action, "
                    "resource, decision, reason, metadata, hash, previous_hash, latency_ms, redaction_count) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (event_id, timestamp, correlation_id, tenant, subject, action, resource, decision,
                     reason, metadata_text, digest, previous, int(latency_ms), int(redaction_count)))
            except sqlite3.Error as exc:
                self._fail("failed to insert event %s: %s" % (event_id, exc))
                return None
            self._last_hash = digest
            self.events_written += 1
            self.last_error = None
        return event_id

    def _fail(self, message):
        self.last_error = message
        self.last_error_at = time.time()
        if self.logger:
            self.logger.error("Failed to write audit event", error=message, component="audit")

    def health(self):
        """(ok, message) for the readiness check."""
        with self._lock:
            if self._conn is None:
                return False, "audit store is closed"
            try:
                self._conn.execute("SELECT 1 FROM audit_metadata LIMIT 1").fetchone()
            except sqlite3.Error as exc:
                return False, "audit database unreadable: %s" % exc
        if self.last_error:
            return False, self.last_error
        if not os.access(self.path, os.W_OK):
            return False, "audit database is not writable"
        return True, "ok"
