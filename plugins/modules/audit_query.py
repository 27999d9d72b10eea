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
  - Subjects erased at a user's request (the product's C(audit_tombstones) table) are shown only in
    Airlock's erased form, C(erased_) followed by the lowercase hex BLAKE3-256 of the database's
    C(hasher_salt) and the subject, as the product's own query path shows them. The form replaces every
    occurrence of the subject (and of its JSON-escaped spelling) in every value the module returns or
    exports, not only the C(subject) column, because the product's tombstone event repeats the subject in
    its metadata (C(erased_subject)). Filters (O(subject)) still match the stored subject.
  - As in the product, a row whose C(subject) is an erased subject also carries C("original_subject_erased":true)
    in its C(metadata) (added to the stored JSON object; C({"original_subject_erased":true}) when the row has no
    metadata; metadata that is not a JSON object is returned as stored).
requirements:
  - blake3 (Python package) on the host that runs the module, when the database has erased subjects
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: The query runs; an export file is not written, and C(changed) says whether it would be.
  idempotent:
    support: full
    description: >-
      Without an export nothing changes. An export is rewritten only when its content differs,
      and then only with O(force=true).
extends_documentation_fragment:
  - airlock.incident.forensics.database
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
      - V(auth_failures) groups C(token_validate) denials by subject, client IP and metadata C(error)
        (why the token was refused), with first and last seen; RV(summary) gives the rate.
      - V(policy_denials) groups C(policy_evaluate) denials by resource, subject, tenant, metadata C(tool)
        and C(rule_id); RV(summary) gives the rate. Denials with a C(rule_id) of the policy mean "policy too
        strict"; a policy that is not loaded shows up as errors or an engine C(rule_id) such as
        C(policy_unavailable).
      - V(latency) reads C(latency_ms) and returns one row overall (C(dimension=overall)), then one per C(resource), per
        C(tenant) and per C(action), each with C(events), nearest-rank C(p50_ms), C(p95_ms), C(p99_ms), C(max_ms),
        C(avg_ms) and the first and last event; slowest (p95) first within each dimension. Only integer
        C(latency_ms) values are measured; RV(summary) counts the events of the window without one.
    type: str
    required: true
    choices: [deny_patterns, redactions, privilege_escalation, security_violations, events, auth_failures,
              policy_denials, latency]
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
  description:
    - For O(query=redactions), C(redaction_events) and C(total_redactions).
    - For O(query=auth_failures) and O(query=policy_denials), the rate of the action's denials in the window -
      C(events) (every event of the action), C(denials), C(deny_ratio), C(first_seen), C(last_seen) (RFC 3339
      and C(_ns)), C(minutes) (the window; an open side is closed by the first or last denial) and C(per_minute).
    - For O(query=latency), C(measured_events) (integer C(latency_ms)), C(without_latency) (NULL) and
      C(damaged_latency) (a value that is not an integer, skipped).
    - Otherwise empty.
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
    - The separate statement that produced RV(total) (and RV(summary)) for O(query=events),
      O(query=redactions) and O(query=latency).
    - Null for the grouped queries, which compute RV(total) in the same scan as the rows
      (window column C(total_events) of RV(sql), not included in RV(rows)).
  returned: always
  type: str
damaged_rows:
  description:
    - Values that could not be read as stored, one entry per value (at most 1000; RV(damaged_count)
      counts them all), that is text that is not UTF-8, such as a binary BLOB in a text column.
      The row is still returned and exported, with the undecodable bytes shown as U+FFFD.
    - C(rowid) is the event's rowid (null for the grouped queries), C(row) the 1-based position of
      the row in the result, C(column) the column, C(problem) what is wrong with it.
  returned: always
  type: list
  elements: dict
  sample: [{"rowid": 42, "row": 7, "column": "subject", "problem": "not UTF-8 text: undecodable bytes shown as U+FFFD"}]
damaged_count:
  description: Number of damaged values found (all of them, not only those in RV(damaged_rows)).
  returned: always
  type: int
  sample: 0
erased_subjects:
  description: Number of erased subjects (rows of C(audit_tombstones)) shown in the erased form.
  returned: always
  type: int
  sample: 1
erased_rows:
  description: Number of result rows (exported rows included) in which an erased subject was replaced by its erased form.
  returned: always
  type: int
  sample: 43
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
unreadable:
  description:
    - Rowid ranges SQLite could not read because a page of the database is corrupt (an empty list
      when every page read). The query ran on a private temporary copy of every readable row, so the
      rest is returned and exported; C(first_rowid)/C(last_rowid) bound the range (null means from the start or to the end).
  returned: success
  type: list
  elements: dict
  sample: [{"table": "audit_events", "first_rowid": 295, "last_rowid": 308, "rowids": "295..308"}]
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.audit.export import FORMATS
from ansible_collections.airlock.incident.plugins.module_utils.audit.query import (
    DEFAULT_ADMIN_PATTERNS,
    QUERIES,
    query_audit,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def run(module):
    return query_audit(module.params, module.check_mode)


def main():
    module = AirlockModule(
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
            export_format=dict(type="str", choices=list(FORMATS), default="csv"),
            force=dict(type="bool", default=False),
            busy_timeout=dict(type="float", default=5.0),
        ),
        mutually_exclusive=[("since", "start")],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
