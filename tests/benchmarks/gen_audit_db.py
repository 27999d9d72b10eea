# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate a large, realistic, validly chained Airlock audit database.

    PYTHONPATH=.collections .venv/bin/python tests/benchmarks/gen_audit_db.py OUT.db [EVENTS]

The event mix follows the Airlock interface notes (section 5): token
validations, policy decisions, tool calls, DLP redactions with
``patterns_hit``, security violations with ``remote_addr`` (IPv4 and
bracketed IPv6, with ports), rate-limit hits and rare tombstones. About 1 % of
rows carry text that needs Go JSON escaping (non-ASCII subjects, ``&`` in
resources) so the verifier's slow path is exercised at a realistic rate.
Events are spread over 48 hours ending at 2026-01-01T00:00:00Z; the run is
deterministic for a given seed.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import time

from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.airlock_db_factory import (
    AIRLOCK_SCHEMA,
    BASE_NS,
    DEFAULT_SALT_HEX,
    INSERT_SQL,
    chain_row,
)

END_NS = BASE_NS
SPAN_NS = 48 * 3600 * 1000000000
TOOLS = ["read_file", "write_file", "search_docs", "run_query", "list_dir", "admin_console", "sudo_exec"]
PATTERNS = ["email", "ssn", "credit_card", "bearer_token", "phone"]
VIOLATIONS = ["path_traversal", "oversized_request", "invalid_jsonrpc", "forbidden_scheme"]


def _event(rng, index, timestamp):
    subject_no = rng.randrange(500)
    subject = "user%03d@example.com" % subject_no
    roll = rng.random()
    resource = "mcp://docs/file-%d.md" % rng.randrange(2000)
    if rng.random() < 0.005:
        subject = "j\u00fcrgen%03d@example.de" % subject_no
    if rng.random() < 0.005:
        resource = "mcp://search?q=a&page=%d" % rng.randrange(10)
    ip = "10.%d.%d.%d:%d" % (rng.randrange(4), rng.randrange(256), rng.randrange(1, 255), rng.randrange(1024, 65535))
    if rng.random() < 0.1:
        ip = "[2001:db8::%x]:%d" % (rng.randrange(1, 4096), rng.randrange(1024, 65535))
    event = dict(id="%016x-%08d" % (rng.getrandbits(64), index), timestamp=timestamp,
                 correlation_id="%032x" % rng.getrandbits(128), tenant="tenant-%d" % rng.randrange(8),
                 subject=subject, resource=resource, latency_ms=rng.randrange(1, 60), redaction_count=0)
    if roll < 0.25:
        event.update(action="token_validate", decision="allow", reason="token valid", resource="",
                     metadata={"tenant": event["tenant"], "groups": ["mcp.users"], "session_id": "s%d" % index})
    elif roll < 0.28:
        event.update(action="token_validate", decision="deny", reason="invalid token", resource="",
                     metadata={"path": "/mcp", "method": "POST", "error": "token expired"})
    elif roll < 0.53:
        tool = rng.choice(TOOLS[:5])
        event.update(action="policy_evaluate", decision="allow", reason="policy allowed",
                     metadata={"tool": tool, "method": "tools/call", "input_digest": "%064x" % rng.getrandbits(256),
                               "rule_id": "allow_users"})
    elif roll < 0.59:
        tool = rng.choice(TOOLS)
        event.update(action="policy_evaluate", decision="deny", reason="policy denied",
                     metadata={"tool": tool, "method": "tools/call", "input_digest": "%064x" % rng.getrandbits(256),
                               "rule_id": "deny_default"})
    elif roll < 0.74:
        event.update(action="tool_call", decision="allow", reason="", metadata={"tool": rng.choice(TOOLS[:5])})
    elif roll < 0.84:
        event.update(action="resource_read", decision="allow", reason="", metadata={"size": rng.randrange(1 << 20)})
    elif roll < 0.94:
        hits = {}
        for pattern in rng.sample(PATTERNS, rng.randrange(1, 3)):
            hits[pattern] = rng.randrange(1, 5)
        event.update(action="redact_data", decision="allow", reason="DLP patterns matched",
                     redaction_count=sum(hits.values()),
                     metadata={"tool": rng.choice(TOOLS[:5]), "direction": "response", "patterns_hit": hits,
                               "processing_time": rng.randrange(10000, 2000000), "data_size": rng.randrange(100, 1 << 16)})
    elif roll < 0.96:
        event.update(action="security_violation", decision="deny", reason="security violation",
                     metadata={"violation_type": rng.choice(VIOLATIONS), "violation": "blocked",
                               "remote_addr": ip, "user_agent": "curl/8.5.0", "method": "POST",
                               "content_length": rng.randrange(1 << 20)})
    elif roll < 0.98:
        event.update(action="rate_limit_hit", decision="deny", reason="rate limit exceeded",
                     metadata={"violation_type": "rate_limit", "limit": "200/min", "window": "1m0s"})
    elif roll < 0.9999:
        event.update(action="resource_write", decision="allow", reason="", metadata={"size": rng.randrange(4096)})
    else:
        event.update(action="tombstone", decision="", reason="GDPR erasure request", resource="",
                     subject="", metadata={"erased_subject": subject})
    return event


def generate(path, events=1000000, seed=1, salt_hex=DEFAULT_SALT_HEX):
    """Write ``events`` chained events to a new WAL database at ``path``; returns seconds taken."""
    started = time.perf_counter()
    tmp = path + ".part"
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(tmp + suffix):
            os.unlink(tmp + suffix)
    rng = random.Random(seed)
    salt = bytes.fromhex(salt_hex)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    table_ddl, _sep, rest = AIRLOCK_SCHEMA.partition("CREATE INDEX")
    conn.executescript(table_ddl)
    conn.executescript(rest[rest.index("CREATE TABLE"):])
    conn.execute("INSERT INTO audit_metadata (key, value) VALUES ('hasher_salt', ?)", (salt_hex,))
    previous = ""
    step = SPAN_NS // events
    start_ns = END_NS - SPAN_NS
    batch = []
    for index in range(events):
        timestamp = start_ns + index * step + rng.randrange(step)
        row = chain_row(salt, previous, _event(rng, index, timestamp))
        previous = row[10]
        batch.append(row)
        if len(batch) >= 50000:
            conn.execute("BEGIN")
            conn.executemany(INSERT_SQL, batch)
            conn.execute("COMMIT")
            batch = []
    if batch:
        conn.execute("BEGIN")
        conn.executemany(INSERT_SQL, batch)
        conn.execute("COMMIT")
    conn.executescript("CREATE INDEX" + rest[:rest.index("CREATE TABLE")])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    os.replace(tmp, path)
    return time.perf_counter() - started


def main(argv):
    path = argv[1]
    events = int(argv[2]) if len(argv) > 2 else 1000000
    seconds = generate(path, events)
    sys.stdout.write("generated %d events in %.1f s -> %s\n" % (events, seconds, path))


if __name__ == "__main__":
    main(sys.argv)
