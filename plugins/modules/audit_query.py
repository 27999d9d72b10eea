#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_query
short_description: Run incident-response queries on an MCP Airlock audit database
version_added: "0.1.0"
description:
  - Runs the security and data-breach investigation queries of the Airlock incident-response
    playbook against an audit database (or a snapshot of it), read-only, with the mistakes of
    the playbook's SQL corrected.
  - Time windows compare the nanosecond C(timestamp) column with nanosecond bounds. (The
    playbook's C(timestamp > datetime('now','-2 hours')) compares an integer with text and is
    always false.)
  - The client address is taken from metadata C(remote_addr) (C(host:port), IPv6 as
    C([addr]:port)), with the port removed. The playbook's C(source_ip) key does not exist.
  - Every value is bound as an SQL parameter; the SQL executed is returned with its
    placeholders.
  - Optionally exports every matching row as CSV (with a header row) or JSON Lines, written
    atomically.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: The query runs; an export file is not written, and C(changed) says whether it would be.
  diff_mode:
    support: none
    description: There is nothing to show a diff of.
  platform:
    support: full
    platforms: posix
    description: Runs where the database file is, usually on the Airlock host or against a copy.
  idempotent:
    support: full
    description: >-
      Without an export nothing changes. An export is rewritten only when its content differs,
      and then only with O(force=true).
options:
  path:
    description:
      - Path of the audit database or of a snapshot. Opened read-only.
    type: path
    required: true
  query:
    description:
      - V(deny_patterns) groups C(decision = 'deny') events by subject, client IP (from
        metadata C(remote_addr), port removed; null when the event has none, which is the case
        for every action but C(security_violation)) and action, most attempts first.
      - V(redactions) covers C(redact_data) events. RV(summary) holds the number of events and
        the sum of C(redaction_count); RV(rows) holds one row per DLP pattern with the sum of its
        counts in metadata C(patterns_hit) and the number of events that hit it.
      - V(privilege_escalation) finds denied attempts on administrative tools or resources,
        that is C(decision = 'deny') events whose C(resource), C(reason) or metadata text
        contains one of O(admin_patterns) (case-insensitive substring). The subject and tenant
        are not searched, so an administrator denied something ordinary is not counted, and
        allowed events are never counted. Grouped by subject, tenant, action, resource and
        metadata C(tool).
      - V(security_violations) groups C(security_violation) events by metadata
        C(violation_type) and client IP.
      - V(events) returns the matching events themselves, oldest first, filtered by
        O(subject), O(tenant), O(action) and O(decision).
    type: str
    required: true
    choices: [deny_patterns, redactions, privilege_escalation, security_violations, events]
  since:
    description:
      - Look-back window ending now (or at O(end)), such as C(30m), C(2h), C(7d), C(1w), or any
        Go duration. Mutually exclusive with O(start).
    type: str
  start:
    description:
      - Start of the window (inclusive), RFC 3339, e.g. C(2026-11-28T14:00:00Z). Fractions
        down to nanoseconds are honoured.
    type: str
  end:
    description:
      - End of the window (exclusive), RFC 3339. Defaults to now when O(since) is given,
        otherwise the window is open-ended.
    type: str
  subject:
    description: Only events of this subject (exact match). Applies to every query.
    type: str
  tenant:
    description: Only events of this tenant (exact match). Applies to every query.
    type: str
  action:
    description:
      - Only events with this action (exact match), e.g. C(policy_evaluate). Only with
        O(query=events); the other queries fix the action or decision themselves.
    type: str
  decision:
    description:
      - Only events with this decision (C(allow), C(deny), C(error), or whatever is stored).
        Only with O(query=events).
    type: str
  limit:
    description:
      - Maximum number of entries returned in RV(rows). C(0) means no limit (mind the size of
        the result). RV(total) and an export always cover every match.
    type: int
    default: 1000
  admin_patterns:
    description:
      - Case-insensitive substrings that mark an administrative tool, resource or group for
        O(query=privilege_escalation).
    type: list
    elements: str
    default: [admin, sudo, root, escalat, privilege]
  export_path:
    description:
      - Write every matching row (not only the first O(limit)) to this file.
      - Written to a temporary file in the same directory, then renamed, with mode C(0600).
        An existing file with different content is not replaced unless O(force=true); an
        existing file with the same content is left alone (C(changed=false)).
    type: path
  export_format:
    description:
      - C(csv) writes a header row with the column names, then one row per result (RFC 4180
        quoting; re-imports cleanly). C(jsonl) writes one JSON object per line.
    type: str
    choices: [csv, jsonl]
    default: csv
  force:
    description: Replace an existing O(export_path) whose content differs.
    type: bool
    default: false
  busy_timeout:
    description: Seconds to wait for a lock held by another connection before failing.
    type: float
    default: 5.0
notes:
  - Window boundaries are half-open, C(start <= timestamp < end), so consecutive windows never
    count an event twice. With O(since) the end is the time the module ran, and it is returned
    in RV(window).
  - Metadata that is not valid JSON is treated as empty (no client IP, no patterns); such rows
    still count in RV(total).
seealso:
  - module: airlock.incident.audit_snapshot
  - module: airlock.incident.audit_verify
"""

EXAMPLES = r"""
- name: Who was denied most in the last two hours
  airlock.incident.audit_query:
    path: /var/lib/airlock/audit.db
    query: deny_patterns
    since: 2h
  register: denies

- name: Redaction effectiveness over the last day
  airlock.incident.audit_query:
    path: "{{ snap.dest }}"
    query: redactions
    since: 24h

- name: Privilege-escalation attempts, with the organisation's own admin tool names
  airlock.incident.audit_query:
    path: "{{ snap.dest }}"
    query: privilege_escalation
    start: "2026-11-28T14:00:00Z"
    end: "2026-11-28T16:00:00Z"
    admin_patterns: [admin, sudo, root, escalat, privilege, break_glass]

- name: Export one subject's events as CSV for the timeline
  airlock.incident.audit_query:
    path: "{{ snap.dest }}"
    query: events
    subject: mallory@example.com
    start: "2026-11-28T14:00:00Z"
    end: "2026-11-28T16:00:00Z"
    export_path: /srv/evidence/INC-2026-0042/mallory-events.csv
    export_format: csv
"""

RETURN = r"""
total:
  description: Number of events matching the query, window and filters (not the number of rows).
  returned: always
  type: int
  sample: 1342
rows:
  description:
    - Result rows (at most O(limit)), as dictionaries keyed by column name.
    - Times are returned both as Unix nanoseconds (C(*_ns)) and RFC 3339 text.
  returned: always
  type: list
  elements: dict
  sample:
    - subject: mallory@example.com
      client_ip: 203.0.113.7
      action: security_violation
      attempts: 57
      first_seen: "2026-11-28T14:02:11.5Z"
      last_seen: "2026-11-28T15:58:40.25Z"
truncated:
  description: True when RV(rows) was cut at O(limit).
  returned: always
  type: bool
  sample: false
summary:
  description: For O(query=redactions), C(redaction_events) and C(total_redactions); otherwise empty.
  returned: always
  type: dict
  sample: {"redaction_events": 120, "total_redactions": 311}
window:
  description: The window applied, C(start)/C(end) as RFC 3339 and C(start_ns)/C(end_ns); null when open.
  returned: always
  type: dict
  sample: {"start": "2026-11-28T14:00:00Z", "start_ns": 1795874400000000000,
           "end": "2026-11-28T16:00:00Z", "end_ns": 1795881600000000000}
sql:
  description: The SQL statement that produced RV(rows), with C(?) placeholders.
  returned: always
  type: str
params:
  description: The values bound to the placeholders of RV(sql), in order.
  returned: always
  type: list
  elements: raw
count_sql:
  description:
    - The separate statement that produced RV(total) (and RV(summary)) for O(query=events) and
      O(query=redactions).
    - Null for the grouped queries, which compute RV(total) in the same scan as the rows
      (window column C(total_events) of RV(sql), not included in RV(rows)).
  returned: always
  type: str
export_path:
  description: Path of the export file, when O(export_path) was given.
  returned: when export_path is set
  type: str
export_sha256:
  description: SHA-256 of the export content.
  returned: when export_path is set
  type: str
exported_rows:
  description: Number of rows in the export (every match, regardless of O(limit)).
  returned: when export_path is set
  type: int
"""

import csv
import hashlib
import io
import json
import os
import sqlite3
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    AuditDbError,
    check_schema,
    decode_text,
    describe_sqlite_error,
    file_sha256,
    open_readonly,
    same_file,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import (
    DurationError,
    parse_rfc3339_ns,
    parse_window,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import fsync_dir

QUERIES = ("deny_patterns", "redactions", "privilege_escalation", "security_violations", "events")
DEFAULT_ADMIN_PATTERNS = ["admin", "sudo", "root", "escalat", "privilege"]

# Client IP from metadata remote_addr ("1.2.3.4:5555", "[::1]:8080"), port removed.
# The CASE on instr() keeps JSON parsing to the few rows that carry the key.
_REMOTE_ADDR = ("(CASE WHEN instr(metadata, '\"remote_addr\"') > 0 AND json_valid(metadata) "
                "THEN json_extract(metadata, '$.remote_addr') END)")
CLIENT_IP_SQL = (
    "(SELECT CASE"
    " WHEN ra IS NULL OR ra = '' THEN NULL"
    " WHEN substr(ra, 1, 1) = '[' AND instr(ra, ']') > 0 THEN substr(ra, 2, instr(ra, ']') - 2)"
    " WHEN instr(ra, ':') > 0 AND instr(substr(ra, instr(ra, ':') + 1), ':') = 0"
    " THEN substr(ra, 1, instr(ra, ':') - 1)"
    " ELSE ra END FROM (SELECT %s AS ra))" % _REMOTE_ADDR
)
_JSON_TEXT = "(CASE WHEN json_valid(metadata) THEN json_extract(metadata, '%s') END)"
#: Number of events behind all groups (before LIMIT), computed in the same scan.
TOTAL_COLUMN = "total_events"
TOTAL_SQL = "SUM(COUNT(*)) OVER () AS " + TOTAL_COLUMN


def client_ip(remote_addr):
    """Python twin of CLIENT_IP_SQL (used by the tests): the host part of host:port."""
    if not remote_addr:
        return None
    if remote_addr.startswith("[") and "]" in remote_addr:
        return remote_addr[1:remote_addr.index("]")]
    if remote_addr.count(":") == 1:
        return remote_addr.split(":", 1)[0]
    return remote_addr


class QueryError(Exception):
    """Bad input, reported before the database is opened."""


def resolve_window(since=None, start=None, end=None, now_ns=None):
    """``(start_ns, end_ns)`` (either may be None) from the module options; raises QueryError.

    The window is half-open: ``start_ns <= timestamp < end_ns``.
    """
    if since is not None and start is not None:
        raise QueryError("since and start are mutually exclusive: give a look-back (since) or a start time")
    start_ns = end_ns = None
    if end is not None:
        try:
            end_ns = parse_rfc3339_ns(end)
        except DurationError as exc:
            raise QueryError("end: %s" % exc)
    if start is not None:
        try:
            start_ns = parse_rfc3339_ns(start)
        except DurationError as exc:
            raise QueryError("start: %s" % exc)
    if since is not None:
        try:
            span = parse_window(since)
        except DurationError as exc:
            raise QueryError("since: %s" % exc)
        if end_ns is None:
            end_ns = now_ns if now_ns is not None else time.time_ns()
        start_ns = end_ns - span
    if start_ns is not None and end_ns is not None and start_ns >= end_ns:
        raise QueryError("start (%s) must be earlier than end (%s)" % (format_ns(start_ns), format_ns(end_ns)))
    return start_ns, end_ns


def _like_pattern(text):
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _common_filters(prefix, start_ns, end_ns, subject, tenant):
    """WHERE terms for the window and the subject/tenant filters."""
    where = []
    params = []
    if start_ns is not None:
        where.append(prefix + "timestamp >= ?")
        params.append(start_ns)
    if end_ns is not None:
        where.append(prefix + "timestamp < ?")
        params.append(end_ns)
    if subject is not None:
        where.append(prefix + "subject = ?")
        params.append(subject)
    if tenant is not None:
        where.append(prefix + "tenant = ?")
        params.append(tenant)
    return where, params


def build_query(query, start_ns=None, end_ns=None, subject=None, tenant=None, action=None, decision=None,
                admin_patterns=None):
    """``(sql, params, count_sql, count_params)`` for one of QUERIES. Values are always parameters."""
    if query not in QUERIES:
        raise QueryError("query: invalid value %r; accepted values: %s" % (query, ", ".join(QUERIES)))
    if query == "redactions":
        where, params = _common_filters("e.", start_ns, end_ns, subject, tenant)
        sql = ("SELECT p.key AS pattern, SUM(p.value) AS hits, COUNT(DISTINCT e.rowid) AS events "
               "FROM audit_events AS e, json_each(CASE WHEN json_valid(e.metadata) THEN e.metadata "
               "ELSE '{}' END, '$.patterns_hit') AS p WHERE %s "
               "AND p.type = 'integer' GROUP BY p.key ORDER BY hits DESC, pattern"
               % " AND ".join(["e.action = ?"] + where))
        count_where, count_params = _common_filters("", start_ns, end_ns, subject, tenant)
        count_sql = ("SELECT COUNT(*), COALESCE(SUM(redaction_count), 0) FROM audit_events WHERE "
                     + " AND ".join(["action = ?"] + count_where))
        return sql, ["redact_data"] + params, count_sql, ["redact_data"] + count_params

    where, params = _common_filters("", start_ns, end_ns, subject, tenant)
    # With a time window, a unary "+" keeps SQLite off the low-selectivity
    # action/decision indexes (without ANALYZE statistics it prefers an
    # equality index to the timestamp range, which is ~10x slower for an
    # incident-sized window of a large database).
    plus = "+" if (start_ns is not None or end_ns is not None) else ""
    if query == "events":
        if action is not None:
            where.append(plus + "action = ?")
            params.append(action)
        if decision is not None:
            where.append(plus + "decision = ?")
            params.append(decision)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        sql = ("SELECT rowid AS rowid, id, timestamp AS timestamp_ns, correlation_id, tenant, subject, action, "
               "resource, decision, reason, metadata, latency_ms, redaction_count, hash, previous_hash, created_at "
               "FROM audit_events%s ORDER BY timestamp, rowid" % clause)
        return sql, params, "SELECT COUNT(*) FROM audit_events" + clause, list(params)

    if query == "deny_patterns":
        where.insert(0, plus + "decision = ?")
        params.insert(0, "deny")
        clause = " WHERE " + " AND ".join(where)
        sql = ("SELECT subject, %s AS client_ip, action, COUNT(*) AS attempts, "
               "MIN(timestamp) AS first_seen_ns, MAX(timestamp) AS last_seen_ns, %s "
               "FROM audit_events%s GROUP BY subject, client_ip, action "
               "ORDER BY attempts DESC, subject, client_ip, action" % (CLIENT_IP_SQL, TOTAL_SQL, clause))
    elif query == "security_violations":
        where.insert(0, plus + "action = ?")
        params.insert(0, "security_violation")
        clause = " WHERE " + " AND ".join(where)
        sql = ("SELECT %s AS violation_type, %s AS client_ip, COUNT(*) AS events, "
               "COUNT(DISTINCT subject) AS subjects, MIN(timestamp) AS first_seen_ns, "
               "MAX(timestamp) AS last_seen_ns, %s FROM audit_events%s "
               "GROUP BY violation_type, client_ip ORDER BY events DESC, violation_type, client_ip"
               % (_JSON_TEXT % "$.violation_type", CLIENT_IP_SQL, TOTAL_SQL, clause))
    else:  # privilege_escalation
        patterns = [pattern for pattern in (admin_patterns or []) if pattern]
        if not patterns:
            raise QueryError("admin_patterns: give at least one non-empty pattern")
        where.insert(0, plus + "decision = ?")
        params.insert(0, "deny")
        matches = []
        for pattern in patterns:
            like = _like_pattern(pattern)
            matches.append("resource LIKE ? ESCAPE '\\' OR reason LIKE ? ESCAPE '\\' "
                           "OR metadata LIKE ? ESCAPE '\\'")
            params.extend([like, like, like])
        where.append("(" + " OR ".join(matches) + ")")
        clause = " WHERE " + " AND ".join(where)
        sql = ("SELECT subject, tenant, action, resource, %s AS tool, COUNT(*) AS attempts, "
               "MIN(timestamp) AS first_seen_ns, MAX(timestamp) AS last_seen_ns, %s FROM audit_events%s "
               "GROUP BY subject, tenant, action, resource, tool "
               "ORDER BY attempts DESC, subject, tenant, action, resource, tool"
               % (_JSON_TEXT % "$.tool", TOTAL_SQL, clause))
    # The grouped queries carry their total in a window-function column: one scan, not two.
    return sql, params, None, None


def _finish_row(row):
    """Add RFC 3339 twins of the ``*_ns`` columns (null when the stored value is not an integer)."""
    for key in ("timestamp_ns", "first_seen_ns", "last_seen_ns"):
        if key in row:
            row[key[:-3]] = format_ns(row[key]) if isinstance(row[key], int) else None
    return row


class _Export(object):
    """Streams rows into a hash and, unless check mode, a temp file next to the target."""

    def __init__(self, path, fmt, check_mode):
        self.path = path
        self.fmt = fmt
        self.digest = hashlib.sha256()
        self.rows = 0
        self.tmp = None
        self.handle = None
        self.buffer = io.StringIO()
        self.writer = None
        if not check_mode:
            directory = os.path.dirname(os.path.abspath(path))
            fd, self.tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
            self.handle = os.fdopen(fd, "wb")

    def _emit(self):
        data = self.buffer.getvalue().encode("utf-8")
        self.buffer.seek(0)
        self.buffer.truncate(0)
        self.digest.update(data)
        if self.handle is not None:
            self.handle.write(data)

    def write(self, row):
        if self.fmt == "csv":
            if self.writer is None:
                self.writer = csv.DictWriter(self.buffer, fieldnames=list(row.keys()), lineterminator="\r\n")
                self.writer.writeheader()
            self.writer.writerow(row)
        else:
            self.buffer.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            self.buffer.write("\n")
        self.rows += 1
        if self.buffer.tell() > 1 << 20:
            self._emit()

    def header_only(self, columns):
        if self.fmt == "csv" and self.writer is None:
            self.writer = csv.DictWriter(self.buffer, fieldnames=columns, lineterminator="\r\n")
            self.writer.writeheader()

    def close(self):
        self._emit()
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None
        return self.digest.hexdigest()

    def discard(self):
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.tmp and os.path.exists(self.tmp):
            os.unlink(self.tmp)


def run_query(conn, query, start_ns=None, end_ns=None, subject=None, tenant=None, action=None, decision=None,
              limit=1000, admin_patterns=None, export=None):
    """Execute a query on an open read-only connection; returns the result dict (without export facts)."""
    sql, params, count_sql, count_params = build_query(query, start_ns, end_ns, subject, tenant, action, decision,
                                                       admin_patterns or DEFAULT_ADMIN_PATTERNS)
    conn.text_factory = decode_text
    conn.execute("BEGIN")  # one read snapshot for the count and the rows
    try:
        total = 0
        summary = {}
        if count_sql is not None:
            counted = conn.execute(count_sql, count_params).fetchone()
            total = counted[0]
            if query == "redactions":
                summary = dict(redaction_events=counted[0], total_redactions=counted[1])
        run_sql = sql
        run_params = list(params)
        if export is None and limit:
            run_sql = sql + " LIMIT ?"
            run_params.append(limit + 1)
        cursor = conn.cursor()
        cursor.arraysize = 2000
        cursor.execute(run_sql, run_params)
        columns = [description[0] for description in cursor.description]
        total_index = columns.index(TOTAL_COLUMN) if TOTAL_COLUMN in columns else None
        if total_index is not None:
            del columns[total_index]
        rows = []
        truncated = False
        while True:
            batch = cursor.fetchmany()
            if not batch:
                break
            for values in batch:
                if total_index is not None:
                    values = list(values)
                    total = values.pop(total_index)
                row = _finish_row(dict(zip(columns, values)))
                if export is not None:
                    export.write(row)
                if not limit or len(rows) < limit:
                    rows.append(row)
                else:
                    truncated = True
                    if export is None:
                        break
        if export is not None and export.rows == 0:
            header = list(columns)
            for key in ("timestamp_ns", "first_seen_ns", "last_seen_ns"):
                if key in header:
                    header.append(key[:-3])
            export.header_only(header)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return dict(total=total, rows=rows, truncated=truncated, summary=summary, sql=run_sql, params=run_params,
                count_sql=count_sql)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            query=dict(type="str", required=True, choices=list(QUERIES)),
            since=dict(type="str"),
            start=dict(type="str"),
            end=dict(type="str"),
            subject=dict(type="str"),
            tenant=dict(type="str"),
            action=dict(type="str"),
            decision=dict(type="str"),
            limit=dict(type="int", default=1000),
            admin_patterns=dict(type="list", elements="str", default=list(DEFAULT_ADMIN_PATTERNS)),
            export_path=dict(type="path"),
            export_format=dict(type="str", choices=["csv", "jsonl"], default="csv"),
            force=dict(type="bool", default=False),
            busy_timeout=dict(type="float", default=5.0),
        ),
        mutually_exclusive=[("since", "start")],
        supports_check_mode=True,
    )
    p = module.params
    path = p["path"]
    # -- every input is checked before the database is opened ---------------
    try:
        start_ns, end_ns = resolve_window(p["since"], p["start"], p["end"])
        if p["query"] != "events":
            for name in ("action", "decision"):
                if p[name] is not None:
                    raise QueryError("%s: only applies to query=events (query=%s fixes it itself)"
                                     % (name, p["query"]))
        if p["limit"] < 0:
            raise QueryError("limit: must be 0 (no limit) or more, got %d" % p["limit"])
        if p["busy_timeout"] < 0:
            raise QueryError("busy_timeout: must be 0 or more seconds")
        if p["query"] == "privilege_escalation" and not [x for x in p["admin_patterns"] if x]:
            raise QueryError("admin_patterns: give at least one non-empty pattern")
        export_path = p["export_path"]
        if export_path is not None:
            directory = os.path.dirname(os.path.abspath(export_path))
            if os.path.isdir(export_path):
                raise QueryError("export_path: %s is a directory; give a file name" % export_path)
            if not os.path.isdir(directory):
                raise QueryError("export_path: directory %s does not exist" % directory)
            for suffix in ("", "-wal", "-shm", "-journal"):
                if same_file(export_path, path + suffix):
                    raise QueryError("export_path: %s is the database%s; choose another file"
                                     % (export_path, " (%s file)" % suffix if suffix else ""))
    except QueryError as exc:
        module.fail_json(msg=str(exc))

    window = dict(start=format_ns(start_ns), start_ns=start_ns, end=format_ns(end_ns), end_ns=end_ns)
    export = None
    conn = None
    try:
        conn = open_readonly(path, p["busy_timeout"])
        check_schema(conn, path)
        if export_path is not None:
            export = _Export(export_path, p["export_format"], module.check_mode)
        result = run_query(conn, p["query"], start_ns, end_ns, p["subject"], p["tenant"], p["action"],
                           p["decision"], p["limit"], p["admin_patterns"], export)
    except AuditDbError as exc:
        if export is not None:
            export.discard()
        module.fail_json(msg=exc.msg, window=window, **exc.result)
    except QueryError as exc:
        if export is not None:
            export.discard()
        module.fail_json(msg=str(exc), window=window)
    except sqlite3.Error as exc:
        if export is not None:
            export.discard()
        module.fail_json(msg=describe_sqlite_error(exc, path, p["busy_timeout"]), window=window)
    finally:
        if conn is not None:
            conn.close()

    result["window"] = window
    changed = False
    msg = "%s: %d matching events, %d rows" % (p["query"], result["total"], len(result["rows"]))
    if export is not None:
        digest = export.close()
        result.update(export_path=export_path, export_sha256=digest, exported_rows=export.rows)
        existing = file_sha256(export_path) if os.path.isfile(export_path) else None
        if existing == digest:
            export.discard()
            msg += "; export %s already holds this content" % export_path
        elif existing is not None and not p["force"]:
            export.discard()
            module.fail_json(msg="export_path: %s exists with different content (sha256 %s); refusing to replace it "
                                 "without force=true (or choose another file name)" % (export_path, existing),
                             **result)
        elif module.check_mode:
            changed = True
            msg += "; would write %d rows to %s" % (export.rows, export_path)
        else:
            os.chmod(export.tmp, 0o600)
            os.replace(export.tmp, export_path)
            fsync_dir(os.path.dirname(os.path.abspath(export_path)))
            changed = True
            msg += "; wrote %d rows to %s" % (export.rows, export_path)
    module.exit_json(changed=changed, msg=msg, **result)


if __name__ == "__main__":
    main()
