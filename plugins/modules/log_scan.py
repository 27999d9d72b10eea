#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: log_scan
short_description: Scan Airlock logs for leaked sensitive data and count 401/403/security-violation lines
version_added: "0.1.0"
description:
  - Scans log files (plain or gzip, detected by magic bytes, not by extension) for sensitive data
    that should never reach a log (the Data Breach Response step "verify no sensitive data in logs"),
    and counts HTTP 401, HTTP 403 and C(security_violation) lines per time bucket.
  - Reports, per pattern, the number of findings and their C(file:line) locations, never the
    secret itself; samples are masked to a few leading characters and the length, for example
    C(4111********1111), or C(eyJh…) and the length in characters.
  - Card numbers are counted only when they pass the Luhn check; SSNs only with a valid area,
    group and serial; JWTs only when the header decodes to JSON; password, token and key values
    that are already redacted placeholders (C(***), C([REDACTED]), C(null)) are not counted.
  - Uses the fastest engine installed, all with identical results. The compiled scanner
    (Python package C(airlock-incident-accel), built from the collection's C(extras/accel))
    counts the common lines in C and hands every line it is not sure of to the Python code of the
    other engines. hyperscan (Python package C(hyperscan)) finds candidate lines over large chunks
    and they are validated in Python. Without either, the module falls back, with a warning, to a
    pure-Python C(re) engine, much more slowly.
  - Read-only; never reports a change.
author:
  - airlock.incident contributors (@airlock-incident)
requirements:
  - airlock-incident-accel (Python package built from C(extras/accel), optional; the fastest engine)
  - hyperscan (Python package, optional; without it and the above the slower C(re) engine is used)
extends_documentation_fragment:
  - airlock.incident.forensics
  - airlock.incident.forensics.read_only
attributes:
  platform:
    support: full
    platforms: posix
    description: Runs on the host that holds the log files.
options:
  paths:
    description:
      - Log files to scan. Globs are expanded (C(incidents/INC-1/evidence/*.log*)).
      - Each file is read as gzip when it starts with the gzip magic bytes, as plain text otherwise.
      - A path that does not exist, a glob that matches nothing or a directory fails the task, so
        a typo never reads as "no sensitive data found".
    type: list
    elements: str
    required: true
  patterns:
    description:
      - Sensitive-data patterns to look for. V(password) covers secret-looking key=value and JSON
        pairs (C(password), C(passwd), C(pwd), C(passphrase), C(secret), C(client_secret),
        C(api_secret), C(secret_key), C(private_key)); V(api_key) covers C(sk-...),
        C(sk_live_...), C(AKIA...), C(ghp_...), C(xox?-...), C(AIza...) and C(api_key=...) pairs.
    type: list
    elements: str
    choices: [ssn, credit_card, password, jwt, bearer_token, api_key, email]
    default: [ssn, credit_card, password, jwt, bearer_token, api_key, email]
  bucket:
    description:
      - Width of the time buckets for RV(signals), a whole number of seconds written as a Go
        duration or in days/weeks (V(30s), V(5m), V(1h), V(1d)). Buckets start at multiples of
        the width since the Unix epoch, in UTC.
    type: str
    default: 1h
  max_locations:
    description:
      - Maximum number of C(file:line) locations (and of masked samples) returned per pattern.
        RV(findings) always counts everything.
    type: int
    default: 100
  engine:
    description:
      - V(auto) uses the compiled scanner when it is installed (and built for this version's
        patterns), else hyperscan when it is installed, else the C(re) engine.
      - V(accel) and V(hyperscan) fail when their package is not installed. V(re) forces the
        pure-Python engine. Every engine gives the same answer.
    type: str
    choices: [auto, accel, hyperscan, re]
    default: auto
  workers:
    description:
      - Processes that count one plain (not gzip) file of 32 MiB or more in parallel, in chunks
        cut at line boundaries, read from the descriptor opened once. The answer (counts,
        locations, samples, damaged lines and their order) is the same as with one process,
        and memory does not grow with the file's size (two chunks of 16 MiB per worker at most).
      - Default, the CPUs this process may run on. Gzip files are read by one process.
      - With more than one worker, bytes appended to a file while it is scanned are not read.
    type: int
notes:
  - Timestamps are read from RFC 3339 text at the start of a line (C(kubectl logs --timestamps),
    zap's console encoder, including offsets written C(+0200)), else from a JSON C(ts),
    C(timestamp) or C(time) field holding epoch seconds (or ms/us/ns for larger integers, as in
    audit exports) or RFC 3339 text. Lines without one are counted in the C(unknown) bucket.
  - A 401 line has an HTTP status 401 in a C(status)/C(status_code)/C(code) field, an access-log
    C(HTTP/1.1" 401), C(401 Unauthorized), or Airlock's own C(Token validation failed) /
    C(Token extraction failed) messages (Airlock logs no status for those). A 403 line likewise
    with 403, C(403 Forbidden) or C(Insufficient permissions). A C(security_violation) line
    contains C(security_violation) or C(security violation) in any case.
  - Unlike the operator playbook's C(grep -E "(ssn|social|credit.*card|password)" ... || echo "No
    sensitive data found"), this looks for the data rather than the words, and a missing file fails
    instead of reading as a clean result.
seealso:
  - module: airlock.incident.evidence
"""

EXAMPLES = r"""
- name: Verify no sensitive data leaked into the collected logs
  airlock.incident.log_scan:
    paths:
      - "incidents/{{ airlock_incident_id }}/evidence/pod-logs.txt"
      - /var/log/airlock/*.log.gz
    bucket: 5m
  register: leak

- name: Stop and escalate when sensitive data is in the logs
  ansible.builtin.assert:
    that: not leak.sensitive_data_found
    fail_msg: "Sensitive data in logs: {{ leak.findings }} at {{ leak.locations }}"

- name: Only card numbers and SSNs, a few locations each
  airlock.incident.log_scan:
    paths: [incident-logs.txt]
    patterns: [credit_card, ssn]
    max_locations: 10
  register: pii

- name: Show the 401 rate per 5 minutes
  ansible.builtin.debug:
    var: leak.signals['401']
"""

RETURN = r"""
msg:
  description: What was scanned and what was found.
  returned: always
  type: str
  sample: "scanned 1200 lines in 1 file(s): sensitive data found (credit_card=3); signal lines 401=252"
findings:
  description: Pattern name -> number of validated findings (occurrences).
  returned: always
  type: dict
  sample: {ssn: 0, credit_card: 3, password: 1, jwt: 12, bearer_token: 12, api_key: 0, email: 40}
matched_lines:
  description: Pattern name -> number of lines with at least one validated finding.
  returned: always
  type: dict
  sample: {ssn: 0, credit_card: 2, password: 1, jwt: 12, bearer_token: 12, api_key: 0, email: 38}
candidate_lines:
  description:
    - Pattern name -> number of lines the pattern matches before validation (what C(grep -E -c)
      with the same expression counts; for example card-like numbers that fail the Luhn check).
  returned: always
  type: dict
  sample: {ssn: 0, credit_card: 5, password: 1, jwt: 12, bearer_token: 12, api_key: 0, email: 38}
locations:
  description: Pattern name -> up to O(max_locations) C(file:line) of lines with findings, in scan order.
  returned: always
  type: dict
  sample: {credit_card: ["incidents/INC-1/evidence/pod-logs.txt:1042"]}
locations_truncated:
  description: Pattern name -> true when more lines had findings than RV(locations) lists.
  returned: always
  type: dict
  sample: {credit_card: false}
samples:
  description:
    - Pattern name -> up to O(max_locations) masked findings with their location. Never the secret
      itself - a few leading characters and the length, card numbers as first and last four digits.
  returned: always
  type: dict
  sample: {credit_card: [{location: "pod-logs.txt:1042", masked: "4111********1111"}]}
signals:
  description:
    - C(401), C(403) and C(security_violation) -> bucket start (RFC 3339 UTC) or C(unknown) -> lines.
  returned: always
  type: dict
  sample: {"401": {"2026-11-28T10:00:00Z": 12, "2026-11-28T10:05:00Z": 240}, "403": {}, "security_violation": {unknown: 1}}
signal_lines:
  description: C(401), C(403) and C(security_violation) -> total lines.
  returned: always
  type: dict
  sample: {"401": 252, "403": 0, "security_violation": 1}
sensitive_data_found:
  description: True when any pattern has a finding.
  returned: always
  type: bool
  sample: true
lines_scanned:
  description: Lines read, over every file (decompressed).
  returned: always
  type: int
  sample: 4718592
bytes_scanned:
  description: Bytes read, over every file (decompressed).
  returned: always
  type: int
  sample: 1073741824
files:
  description: Every scanned file with C(path), C(gzip) (detected from the magic bytes), C(lines) and C(bytes).
  returned: always
  type: list
  elements: dict
  sample: [{path: pod-logs.txt, gzip: false, lines: 1200, bytes: 350000}]
damaged_lines:
  description:
    - Lines that could not be read as they claim (at most 1000; RV(damaged_count) counts them all),
      each with C(path), C(line) (1-based line number) and C(problem), for example a timestamp of
      C(1e400) or one that falls in year 10000. The line is still scanned and counted in the
      C(unknown) time bucket; the scan finishes the file.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "pod-logs.txt", "line": 1042, "problem": "timestamp 1e400 is not a finite number; counted in the unknown bucket"}]
damaged_count:
  description: Number of damaged lines (all of them, not only those in RV(damaged_lines)).
  returned: always
  type: int
  sample: 0
workers:
  description: Processes allowed to count a large plain file (O(workers) or the CPUs available).
  returned: always
  type: int
  sample: 2
engine:
  description: The engine that ran, C(accel), C(hyperscan) or C(re).
  returned: always
  type: str
  sample: accel
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module
from ansible_collections.airlock.incident.plugins.module_utils.evidence import scan, scan_parallel
from ansible_collections.airlock.incident.plugins.module_utils.evidence.patterns import PATTERN_NAMES


def run(module):
    engine = module.params["engine"]
    if engine == "hyperscan" and not scan.HAS_HYPERSCAN:
        raise AirlockIncidentError(missing_required_lib("hyperscan") + " (engine=hyperscan; use engine=auto or re "
                                   "to scan without it)", exception=str(scan.HYPERSCAN_IMPORT_ERROR))
    running = scan._engine(engine)  # engine=accel without a build for these patterns: refused, naming why
    scan_parallel.check_workers(module.params.get("workers"))
    paths = scan.check_options(module.params)
    if engine == "auto" and running == "re":
        module.warn("neither airlock-incident-accel nor hyperscan is installed: scanning with the pure-Python re "
                    "engine (same results, much slower); install one of them (extras/accel, or the hyperscan "
                    "Python package) for large logs")
    return scan_parallel.scan_logs(module.params, paths)


def main():
    module = AirlockModule(
        argument_spec=dict(
            paths=dict(type="list", elements="str", required=True),
            patterns=dict(type="list", elements="str", choices=list(PATTERN_NAMES), default=list(PATTERN_NAMES)),
            bucket=dict(type="str", default="1h"),
            max_locations=dict(type="int", default=100),
            engine=dict(type="str", choices=["auto"] + list(scan.ENGINES), default="auto"),
            workers=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
