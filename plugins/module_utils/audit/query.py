# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The incident-response queries on an MCP Airlock audit database (the logic of ``audit_query``).

* :func:`resolve_window` turns ``since``/``start``/``end`` into a half-open
  nanosecond window, ``start_ns <= timestamp < end_ns``;
* :func:`build_query` writes the SQL of one of :data:`QUERIES`, every value a
  bound parameter;
* :func:`run_query` runs it in one read transaction and streams the rows into
  the result (at most ``limit``) and into an :class:`~.export.Export`;
* :func:`query_audit` is the whole task: options checked before the database is
  opened, the query, the export settled.
"""

from __future__ import annotations

import sqlite3
import time
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit import export as audit_export
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    AuditDbError,
    check_busy_timeout,
    check_schema,
    describe_sqlite_error,
    open_readonly,
)
from ansible_collections.airlock.incident.plugins.module_utils.audit.salvage import describe as describe_unreadable
from ansible_collections.airlock.incident.plugins.module_utils.audit.salvage import salvaging
from ansible_collections.airlock.incident.plugins.module_utils.audit.schema import EVENTS_TABLE, event_columns_sql
from ansible_collections.airlock.incident.plugins.module_utils.audit.tombstones import Eraser
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import (
    INT64_MAX,
    DurationError,
    check_ns_range,
    check_number,
    parse_rfc3339_ns,
    parse_window,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import (
    AirlockIncidentError,
    InputError,
    choices_message,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns

#: ``(sql, params, count_sql, count_params)``: a query and the separate count of its matches (or None).
Built = t.Tuple[str, t.List[t.Any], t.Optional[str], t.Optional[t.List[t.Any]]]
Params = t.Mapping[str, t.Any]
#: The ``*_ns`` columns that get an RFC 3339 twin.
NS_COLUMNS = ("timestamp_ns", "first_seen_ns", "last_seen_ns")

QUERIES = ("deny_patterns", "redactions", "privilege_escalation", "security_violations", "events",
           "auth_failures", "policy_denials", "latency")
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
#: The largest ``limit``: ``limit + 1`` is bound as a 64-bit SQLite integer.
MAX_LIMIT = INT64_MAX - 1


def client_ip(remote_addr: t.Optional[str]) -> t.Optional[str]:
    """Python twin of CLIENT_IP_SQL (used by the tests): the host part of host:port."""
    if not remote_addr:
        return None
    if remote_addr.startswith("[") and "]" in remote_addr:
        return remote_addr[1:remote_addr.index("]")]
    if remote_addr.count(":") == 1:
        return remote_addr.split(":", 1)[0]
    return remote_addr


class QueryError(InputError):
    """Bad input, reported before the database is opened."""


def _parse_time(field: str, value: t.Optional[str]) -> t.Optional[int]:
    if value is None:
        return None
    try:
        moment = parse_rfc3339_ns(value)
    except DurationError as exc:
        raise QueryError("%s: %s" % (field, exc)) from exc
    return check_ns_range(field, moment)


def resolve_window(since: t.Optional[str] = None, start: t.Optional[str] = None, end: t.Optional[str] = None,
                   now_ns: t.Optional[int] = None) -> t.Tuple[t.Optional[int], t.Optional[int]]:
    """``(start_ns, end_ns)`` (either may be None) from the module options; raises QueryError.

    The window is half-open: ``start_ns <= timestamp < end_ns``.
    """
    if since is not None and start is not None:
        raise QueryError("since and start are mutually exclusive: give a look-back (since) or a start time")
    end_ns = _parse_time("end", end)
    start_ns = _parse_time("start", start)
    if since is not None:
        try:
            span = parse_window(since)
        except DurationError as exc:
            raise QueryError("since: %s" % exc) from exc
        if end_ns is None:
            end_ns = now_ns if now_ns is not None else time.time_ns()
        try:
            start_ns = check_ns_range("since", end_ns - span)
        except DurationError as exc:
            raise QueryError("%s (the window would start before the earliest time)" % exc) from exc
    if start_ns is not None and end_ns is not None and start_ns >= end_ns:
        raise QueryError("start (%s) must be earlier than end (%s)" % (format_ns(start_ns), format_ns(end_ns)))
    return start_ns, end_ns


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _common_filters(prefix: str, start_ns: t.Optional[int], end_ns: t.Optional[int], subject: t.Optional[str],
                    tenant: t.Optional[str]) -> t.Tuple[t.List[str], t.List[t.Any]]:
    """WHERE terms for the window and the subject/tenant filters."""
    terms = (("timestamp >= ?", start_ns), ("timestamp < ?", end_ns), ("subject = ?", subject),
             ("tenant = ?", tenant))
    where = [prefix + term for term, value in terms if value is not None]
    params = [value for _term, value in terms if value is not None]
    return where, params


class _Filters(t.NamedTuple):
    start_ns: t.Optional[int]
    end_ns: t.Optional[int]
    subject: t.Optional[str]
    tenant: t.Optional[str]
    action: t.Optional[str]
    decision: t.Optional[str]
    admin_patterns: t.List[str]

    @property
    def plus(self) -> str:
        """With a time window, a unary "+" keeps SQLite off the low-selectivity action/decision indexes.

        Without ANALYZE statistics it prefers an equality index to the timestamp
        range, which is ~10x slower for an incident-sized window of a large database.
        """
        return "+" if (self.start_ns is not None or self.end_ns is not None) else ""

    def common(self, prefix: str = "") -> t.Tuple[t.List[str], t.List[t.Any]]:
        return _common_filters(prefix, self.start_ns, self.end_ns, self.subject, self.tenant)


def _redactions(f: _Filters) -> Built:
    where, params = f.common("e.")
    sql = ("SELECT p.key AS pattern, SUM(p.value) AS hits, COUNT(DISTINCT e.rowid) AS events "
           "FROM %s AS e, json_each(CASE WHEN json_valid(e.metadata) THEN e.metadata "
           "ELSE '{}' END, '$.patterns_hit') AS p WHERE %s "
           "AND p.type = 'integer' GROUP BY p.key ORDER BY hits DESC, pattern"
           % (EVENTS_TABLE, " AND ".join(["e.action = ?"] + where)))
    count_where, count_params = f.common()
    count_sql = ("SELECT COUNT(*), COALESCE(SUM(redaction_count), 0) FROM %s WHERE " % EVENTS_TABLE
                 + " AND ".join(["action = ?"] + count_where))
    return sql, ["redact_data"] + params, count_sql, ["redact_data"] + count_params


def _events(f: _Filters) -> Built:
    where, params = f.common()
    for column, value in (("action", f.action), ("decision", f.decision)):
        if value is not None:
            where.append(f.plus + column + " = ?")
            params.append(value)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    sql = "SELECT %s FROM %s%s ORDER BY timestamp, rowid" % (event_columns_sql(), EVENTS_TABLE, clause)
    return sql, params, "SELECT COUNT(*) FROM %s%s" % (EVENTS_TABLE, clause), list(params)


def _grouped(f: _Filters, column: str, value: str, extra: t.Sequence[t.Tuple[str, t.List[t.Any]]] = ()
             ) -> t.Tuple[str, t.List[t.Any]]:
    """The WHERE clause of a grouped query: ``column = value``, the common filters and ``extra`` terms."""
    where, params = f.common()
    where.insert(0, f.plus + column + " = ?")
    params.insert(0, value)
    for term, term_params in extra:
        where.append(term)
        params.extend(term_params)
    return " WHERE " + " AND ".join(where), params


def _deny_patterns(f: _Filters) -> Built:
    clause, params = _grouped(f, "decision", "deny")
    sql = ("SELECT subject, %s AS client_ip, action, COUNT(*) AS attempts, "
           "MIN(timestamp) AS first_seen_ns, MAX(timestamp) AS last_seen_ns, %s "
           "FROM %s%s GROUP BY subject, client_ip, action "
           "ORDER BY attempts DESC, subject, client_ip, action" % (CLIENT_IP_SQL, TOTAL_SQL, EVENTS_TABLE, clause))
    return sql, params, None, None


def _security_violations(f: _Filters) -> Built:
    clause, params = _grouped(f, "action", "security_violation")
    sql = ("SELECT %s AS violation_type, %s AS client_ip, COUNT(*) AS events, "
           "COUNT(DISTINCT subject) AS subjects, MIN(timestamp) AS first_seen_ns, "
           "MAX(timestamp) AS last_seen_ns, %s FROM %s%s "
           "GROUP BY violation_type, client_ip ORDER BY events DESC, violation_type, client_ip"
           % (_JSON_TEXT % "$.violation_type", CLIENT_IP_SQL, TOTAL_SQL, EVENTS_TABLE, clause))
    return sql, params, None, None


def _privilege_escalation(f: _Filters) -> Built:
    patterns = [pattern for pattern in f.admin_patterns if pattern]
    if not patterns:
        raise QueryError("admin_patterns: give at least one non-empty pattern")
    matches = []
    like_params: t.List[t.Any] = []
    for pattern in patterns:
        like = _like_pattern(pattern)
        matches.append("resource LIKE ? ESCAPE '\\' OR reason LIKE ? ESCAPE '\\' OR metadata LIKE ? ESCAPE '\\'")
        like_params.extend([like, like, like])
    clause, params = _grouped(f, "decision", "deny", [("(" + " OR ".join(matches) + ")", like_params)])
    sql = ("SELECT subject, tenant, action, resource, %s AS tool, COUNT(*) AS attempts, "
           "MIN(timestamp) AS first_seen_ns, MAX(timestamp) AS last_seen_ns, %s FROM %s%s "
           "GROUP BY subject, tenant, action, resource, tool "
           "ORDER BY attempts DESC, subject, tenant, action, resource, tool"
           % (_JSON_TEXT % "$.tool", TOTAL_SQL, EVENTS_TABLE, clause))
    return sql, params, None, None


def _auth_failures(f: _Filters) -> Built:
    clause, params = _grouped(f, "action", "token_validate", [(f.plus + "decision = ?", ["deny"])])
    sql = ("SELECT subject, %s AS client_ip, %s AS error, COUNT(*) AS attempts, "
           "MIN(timestamp) AS first_seen_ns, MAX(timestamp) AS last_seen_ns, %s FROM %s%s "
           "GROUP BY subject, client_ip, error ORDER BY attempts DESC, subject, client_ip, error"
           % (CLIENT_IP_SQL, _JSON_TEXT % "$.error", TOTAL_SQL, EVENTS_TABLE, clause))
    return (sql, params) + _decision_counts(f, "token_validate")


def _policy_denials(f: _Filters) -> Built:
    clause, params = _grouped(f, "action", "policy_evaluate", [(f.plus + "decision = ?", ["deny"])])
    sql = ("SELECT resource, subject, tenant, %s AS tool, %s AS rule_id, COUNT(*) AS denials, "
           "MIN(timestamp) AS first_seen_ns, MAX(timestamp) AS last_seen_ns, %s FROM %s%s "
           "GROUP BY resource, subject, tenant, tool, rule_id "
           "ORDER BY denials DESC, resource, subject, tenant, tool, rule_id"
           % (_JSON_TEXT % "$.tool", _JSON_TEXT % "$.rule_id", TOTAL_SQL, EVENTS_TABLE, clause))
    return (sql, params) + _decision_counts(f, "policy_evaluate")


def _decision_counts(f: _Filters, action: str) -> t.Tuple[t.Optional[str], t.Optional[t.List[t.Any]]]:
    """Count SQL of a rate query: every event of ``action``, its denials, and the first and last denial."""
    where, params = f.common()
    sql = ("SELECT COUNT(*), COALESCE(SUM(decision = 'deny'), 0), MIN(CASE WHEN decision = 'deny' THEN timestamp END), "
           "MAX(CASE WHEN decision = 'deny' THEN timestamp END) FROM %s WHERE " % EVENTS_TABLE
           + " AND ".join([f.plus + "action = ?"] + where))
    return sql, [action] + params


#: The groupings of the latency query, in the order of its rows.
LATENCY_DIMENSIONS = ("overall", "resource", "tenant", "action")
#: Nearest-rank quantiles in integer arithmetic: rank = ceil(p * n / 100) = (p * n + 99) / 100.
_RANK = "MAX(CASE WHEN rn = (%d * n + 99) / 100 THEN ms END)"


def _latency(f: _Filters) -> Built:
    """Quantiles of ``latency_ms`` overall and by resource, tenant and action, slowest (p95) first in each.

    Only integer ``latency_ms`` values are measured; the count statement reports the
    events of the window without one (NULL or damaged) in ``summary``.
    """
    where, params = f.common()
    clause = " AND ".join(["typeof(latency_ms) = 'integer'"] + where)
    keys = ["''" if name == "overall" else "COALESCE(CAST(%s AS TEXT), '')" % name for name in LATENCY_DIMENSIONS]
    keyed = " UNION ALL ".join("SELECT '%s' AS dimension, %s AS key, ms, ts FROM w" % (name, key)
                               for name, key in zip(LATENCY_DIMENSIONS, keys))
    order = " ".join("WHEN '%s' THEN %d" % (name, index) for index, name in enumerate(LATENCY_DIMENSIONS))
    sql = ("WITH w AS (SELECT resource, tenant, action, latency_ms AS ms, timestamp AS ts FROM %s WHERE %s), "
           "g AS (%s), "
           "r AS (SELECT dimension, key, ms, ts, ROW_NUMBER() OVER (PARTITION BY dimension, key ORDER BY ms) AS rn, "
           "COUNT(*) OVER (PARTITION BY dimension, key) AS n FROM g) "
           "SELECT dimension, key, MAX(n) AS events, %s AS p50_ms, %s AS p95_ms, %s AS p99_ms, MAX(ms) AS max_ms, "
           "ROUND(AVG(ms), 1) AS avg_ms, MIN(ts) AS first_seen_ns, MAX(ts) AS last_seen_ns "
           "FROM r GROUP BY dimension, key ORDER BY CASE dimension %s END, p95_ms DESC, max_ms DESC, key"
           % (EVENTS_TABLE, clause, keyed, _RANK % 50, _RANK % 95, _RANK % 99, order))
    count_where, count_params = f.common()
    count_clause = (" WHERE " + " AND ".join(count_where)) if count_where else ""
    count_sql = ("SELECT SUM(CASE WHEN typeof(latency_ms) = 'integer' THEN 1 ELSE 0 END), "
                 "SUM(CASE WHEN latency_ms IS NULL THEN 1 ELSE 0 END), "
                 "SUM(CASE WHEN latency_ms IS NOT NULL AND typeof(latency_ms) != 'integer' THEN 1 ELSE 0 END) "
                 "FROM %s%s" % (EVENTS_TABLE, count_clause))
    return sql, params, count_sql, count_params


#: The grouped queries carry their total in a window-function column: one scan, not two.
_BUILDERS: t.Dict[str, t.Callable[[_Filters], Built]] = {
    "deny_patterns": _deny_patterns,
    "redactions": _redactions,
    "privilege_escalation": _privilege_escalation,
    "security_violations": _security_violations,
    "events": _events,
    "auth_failures": _auth_failures,
    "policy_denials": _policy_denials,
    "latency": _latency,
}
#: Queries whose count SQL gives the rate summary: (all events, denials, first and last denial) of one action.
_RATE_QUERIES = ("auth_failures", "policy_denials")


def build_query(query: str, start_ns: t.Optional[int] = None, end_ns: t.Optional[int] = None,
                subject: t.Optional[str] = None, tenant: t.Optional[str] = None, action: t.Optional[str] = None,
                decision: t.Optional[str] = None, admin_patterns: t.Optional[t.Sequence[str]] = None) -> Built:
    """``(sql, params, count_sql, count_params)`` for one of QUERIES. Values are always parameters."""
    if query not in QUERIES:
        raise QueryError(choices_message("query", query, QUERIES))
    filters = _Filters(start_ns, end_ns, subject, tenant, action, decision, list(admin_patterns or []))
    return _BUILDERS[query](filters)


#: At most this many entries in ``damaged_rows`` (``damaged_count`` counts them all).
MAX_DAMAGED = 1000
_NOT_UTF8 = "not UTF-8 text: undecodable bytes shown as U+FFFD"


def _decode(value: t.Any) -> t.Tuple[t.Any, bool]:
    """A value read with ``text_factory=bytes`` as str: ``(text, damaged)``, invalid UTF-8 replaced."""
    if not isinstance(value, (bytes, bytearray)):
        return value, False
    try:
        return bytes(value).decode("utf-8"), False
    except UnicodeDecodeError:
        return bytes(value).decode("utf-8", "replace"), True


def _finish_row(row: t.Dict[str, t.Any]) -> t.List[t.Tuple[str, str]]:
    """Decode the text of ``row`` and add RFC 3339 twins of the ``*_ns`` columns (null when the stored value
    is not an integer); the ``(column, problem)`` pairs of the values that are not UTF-8."""
    damaged = []
    for key, value in row.items():
        row[key], bad = _decode(value)
        if bad:
            damaged.append((key, _NOT_UTF8))
    for key in NS_COLUMNS:
        if key in row:
            # SQLite integers are 64-bit: every one is a time format_ns can write (1677 to 2262).
            row[key[:-3]] = format_ns(row[key]) if isinstance(row[key], int) else None
    return damaged


class _Rows:
    """The result rows (at most ``limit``), the total carried in :data:`TOTAL_COLUMN`, the export."""

    def __init__(self, columns: t.List[str], limit: int, export: t.Optional[audit_export.Export],
                 eraser: t.Optional[Eraser] = None) -> None:
        self.eraser = eraser or Eraser()
        self.erased_rows = 0
        self.total_index = columns.index(TOTAL_COLUMN) if TOTAL_COLUMN in columns else None
        self.columns = [column for column in columns if column != TOTAL_COLUMN]
        self.limit = limit
        self.export = export
        self.rows: t.List[t.Dict[str, t.Any]] = []
        self.truncated = False
        self.total: t.Optional[int] = None
        self.seen = 0
        self.damaged: t.List[t.Dict[str, t.Any]] = []
        self.damaged_count = 0

    def _damage(self, row: t.Dict[str, t.Any], found: t.List[t.Tuple[str, str]]) -> None:
        """Record the damaged columns of the row at position ``self.seen`` (rowid when the query has one)."""
        for column, problem in found:
            self.damaged_count += 1
            if len(self.damaged) < MAX_DAMAGED:
                self.damaged.append(dict(rowid=row.get("rowid"), row=self.seen, column=column, problem=problem))

    def add(self, values: t.Sequence[t.Any]) -> bool:
        """Take one row; False when no more rows are wanted."""
        if self.total_index is not None:
            values = list(values)
            self.total = values.pop(self.total_index)
        row = dict(zip(self.columns, values))
        self.seen += 1
        found = _finish_row(row)
        if found:
            self._damage(row, found)
        # erased subjects leave only in the product's erased form (rows and export alike)
        if self.eraser.row(row):
            self.erased_rows += 1
        if self.export is not None:
            self.export.write(row)
        if not self.limit or len(self.rows) < self.limit:
            self.rows.append(row)
            return True
        self.truncated = True
        return self.export is not None

    def finish_export(self) -> None:
        """An export of no rows still gets its header."""
        if self.export is not None and self.export.rows == 0:
            header = list(self.columns)
            header.extend(key[:-3] for key in NS_COLUMNS if key in header)
            self.export.header_only(header)


def _stream(conn: sqlite3.Connection, sql: str, params: t.List[t.Any], limit: int,
            export: t.Optional[audit_export.Export], eraser: Eraser) -> _Rows:
    cursor = conn.cursor()
    cursor.arraysize = 2000
    cursor.execute(sql, params)
    rows = _Rows([description[0] for description in cursor.description], limit, export, eraser)
    while True:
        batch = cursor.fetchmany()
        if not batch:
            break
        if not all(rows.add(values) for values in batch):
            break
    rows.finish_export()
    return rows


def rate_summary(counted: t.Sequence[t.Any], start_ns: t.Optional[int], end_ns: t.Optional[int]) -> t.Dict[str, t.Any]:
    """Events, denials, deny ratio, first and last denial and denials per minute over the window.

    The minutes are those of the window; an open-ended side is closed by the first or last denial.
    """
    events, denials, first, last = counted
    begin = start_ns if start_ns is not None else first
    finish = end_ns if end_ns is not None else last
    minutes = max((finish - begin) / 60e9, 1.0) if begin is not None and finish is not None else None
    return dict(events=events, denials=denials, deny_ratio=round(denials / events, 4) if events else None,
                first_seen=format_ns(first), first_seen_ns=first, last_seen=format_ns(last), last_seen_ns=last,
                per_minute=round(denials / minutes, 2) if minutes else None, minutes=round(minutes, 1) if minutes else None)


def run_query(conn: sqlite3.Connection, query: str, start_ns: t.Optional[int] = None,
              end_ns: t.Optional[int] = None, subject: t.Optional[str] = None, tenant: t.Optional[str] = None,
              action: t.Optional[str] = None, decision: t.Optional[str] = None, limit: int = 1000,
              admin_patterns: t.Optional[t.Sequence[str]] = None,
              export: t.Optional[audit_export.Export] = None, path: str = "the audit database") -> t.Dict[str, t.Any]:
    """Execute a query on an open read-only connection; returns the result dict (without export facts)."""
    sql, params, count_sql, count_params = build_query(query, start_ns, end_ns, subject, tenant, action, decision,
                                                       admin_patterns or DEFAULT_ADMIN_PATTERNS)
    conn.execute("BEGIN")  # one read snapshot for the tombstones, the count and the rows
    try:
        eraser = Eraser.load(conn, path)
        conn.text_factory = bytes  # decoded per value, so that a damaged value is found and reported
        total = 0
        summary: t.Dict[str, t.Any] = {}
        if count_sql is not None:
            counted = conn.execute(count_sql, count_params or []).fetchone()
            total = counted[0] or 0
            if query == "redactions":
                summary = dict(redaction_events=counted[0], total_redactions=counted[1])
            elif query in _RATE_QUERIES:
                summary = rate_summary(counted, start_ns, end_ns)
                total = counted[1]
            elif query == "latency":
                summary = dict(measured_events=total, without_latency=counted[1] or 0,
                               damaged_latency=counted[2] or 0)
        run_sql = sql
        run_params = list(params)
        if export is None and limit:
            run_sql = sql + " LIMIT ?"
            run_params.append(limit + 1)
        rows = _stream(conn, run_sql, run_params, limit, export, eraser)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if rows.total is not None:
        total = rows.total
    return dict(total=total, rows=rows.rows, truncated=rows.truncated, summary=eraser.value(summary), sql=run_sql,
                params=eraser.value(run_params), count_sql=count_sql, damaged_rows=rows.damaged,
                damaged_count=rows.damaged_count, erased_subjects=eraser.count, erased_rows=rows.erased_rows)


def check_options(params: Params) -> t.Tuple[t.Optional[int], t.Optional[int]]:
    """Every option checked before the database is opened: the window ``(start_ns, end_ns)``; QueryError."""
    start_ns, end_ns = resolve_window(params["since"], params["start"], params["end"])
    if params["query"] != "events":
        for name in ("action", "decision"):
            if params.get(name) is not None:
                raise QueryError("%s: only applies to query=events (query=%s fixes it itself)"
                                 % (name, params["query"]))
    if params["limit"] < 0:
        raise QueryError("limit: must be 0 (no limit) or more, got %d" % params["limit"])
    check_number("limit", params["limit"], 0, MAX_LIMIT)
    check_busy_timeout(params["busy_timeout"])
    if params["query"] == "privilege_escalation" and not [x for x in params["admin_patterns"] if x]:
        raise QueryError("admin_patterns: give at least one non-empty pattern")
    if params.get("export_path") is not None:
        try:
            audit_export.check_export_path(params["export_path"], params["path"])
        except InputError as exc:
            raise QueryError(exc.msg) from exc
    return start_ns, end_ns


def _run(params: Params, window: t.Tuple[t.Optional[int], t.Optional[int]],
         export: t.Optional[audit_export.Export]) -> t.Dict[str, t.Any]:
    path = params["path"]
    conn = open_readonly(path, params["busy_timeout"])
    try:
        check_schema(conn, path)
        result, unreadable = salvaging(
            conn, lambda c: run_query(c, params["query"], window[0], window[1], params["subject"], params["tenant"],
                                      params.get("action"), params.get("decision"), params["limit"],
                                      params["admin_patterns"], export, path),
            restart=None if export is None else export.restart)
        result["unreadable"] = unreadable
        return result
    except sqlite3.Error as exc:
        raise AuditDbError(describe_sqlite_error(exc, path, params["busy_timeout"])) from exc
    finally:
        conn.close()


def query_audit(params: Params, check_mode: bool = False) -> t.Dict[str, t.Any]:
    """The ``audit_query`` task: check, query, export; the module result (``msg`` included).

    Errors carry the window (and what was learned) in their result.
    """
    start_ns, end_ns = check_options(params)
    window = dict(start=format_ns(start_ns), start_ns=start_ns, end=format_ns(end_ns), end_ns=end_ns)
    export = None
    if params.get("export_path") is not None:
        export = audit_export.Export(params["export_path"], params["export_format"], check_mode)
    try:
        result = _run(params, (start_ns, end_ns), export)
    except BaseException as exc:
        if export is not None:
            export.discard()
        if isinstance(exc, AirlockIncidentError):
            exc.result = dict(exc.result, window=window)
        raise
    result["window"] = window
    result["changed"] = False
    msg = "%s: %d matching events, %d rows" % (params["query"], result["total"], len(result["rows"]))
    if result["damaged_count"]:
        msg += "; %d damaged value(s) reported in damaged_rows" % result["damaged_count"]
    if result["erased_rows"]:
        msg += "; %d row(s) show erased subjects as erased_<hash>" % result["erased_rows"]
    msg += describe_unreadable(result["unreadable"])
    if export is not None:
        try:
            facts, result["changed"], done = audit_export.settle(export, params["force"], check_mode)
        except AirlockIncidentError as exc:
            exc.result = dict(result, **exc.result)
            raise
        result.update(facts)
        msg += "; " + done
    result["msg"] = msg
    return result
