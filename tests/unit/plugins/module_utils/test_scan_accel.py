# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The compiled log scanner (extras/accel, engine ``accel``) gives the ``re`` engine's answer (issue #15).

The scanner reimplements the common case of every pattern, signal and timestamp in C and hands every
line it is not sure of back to Python. These tests hold it to the reference engine on hostile generated
logs (counts, locations, masked samples, signal buckets, damaged lines), check that it really settles the
common lines itself (so they fail if it hands everything back), and that it is only used when it was built
for the patterns this collection has.
"""

from __future__ import annotations

import base64
import json
import os
import random
import tempfile
import zlib

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.evidence import patterns as sp
from ansible_collections.airlock.incident.plugins.module_utils.evidence import scan, scan_parallel
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.test_sensitive_patterns import (
    CORPUS,
    _varied_lines,
    _write,
)

hypothesis = pytest.importorskip("hypothesis")
accel = pytest.importorskip("airlock_incident_accel", reason="airlock_incident_accel is not installed "
                            "(make venv builds extras/accel): the compiled scanner's tests were skipped")
st = hypothesis.strategies


def _b64url(text):
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


HEADERS = ['{"alg":"RS256","typ":"JWT"}', '{"a":[1,-2.5e3,{"b":null}],"c":"\\u00e9\\n"}', '{}', '{ "a" : true }',
           '{"a":1,}', '{"a":NaN,"b":-Infinity}', '{"a":01}', '{"a":"\x01"}', '{"a":"\u00e9"}', '{"a":1}x',
           '{"a":[1,]}', '{"a":1.}', '{"a":1e}', '{"a":"\\x"}', '{"a":"\\u12"}', '{' * 40 + '}' * 40]
FRAGMENTS = [
    # cards and look-alikes
    "4111111111111111", "4111111111111112", "378282246310005", "4111 1111 1111 1111", "4111-1111-1111-1111",
    "3714 496353 98431", "3714-496353 98431", "2223003122003222", "6011000990139424", "1234567890123",
    "41111111111111111111", "4111 1111 1111 111", "0", "7", "42",
    # SSNs and look-alikes
    "123-45-6789", "000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "1234-56-7890",
    "2026-11-28",
    # emails
    "a.b@c.io", "-@x.io", "x@y", "a@b.c", "a@b.cc.dd", "a@b.cc-x@y.zz", "user%tag+1@example.com", "_@_.co",
    "@", "alice@acme.io", ".@..aa",
    # passwords and API keys, placeholders and masks
    "password=", "passwd: ", "Passphrase = ", 'pwd\\":\\"', "secret_key='", "SecretKey:", "private_key=",
    "api_key=", "API-KEY: ", 'apikey":"', "client_secret", "null", "[redacted]", "***", "xX.", "${VAR}",
    "hunter2", "12345678", "sk-" + "a" * 20, "sk-proj-" + "Ab1_-" * 5, "sk_live_" + "A1" * 8, "rk_test_" + "z" * 16,
    "AKIA" + "ABCDEFGHIJ234567", "ASIA" + "ABCDEFGHIJ23456", "ghp_" + "a1" * 18, "xoxb-" + "1-a" * 4,
    "AIza" + "B" * 35, "AIza" + "B" * 34, "AIza" + "C" * 35 + "-sk-" + "d" * 20, "sk-" + "b" * 19, "xoxz-1234567890",
    "ghq_" + "a1" * 18, "AKIA" + "ABCDEFGHIJ2345678",
    # JWTs and bearer tokens
    "eyJ", ".", ".eyJzdWIiOiIxIn0", ".sig", "Bearer ", "bearer\t", "BEARER  ", "x" * 16, "xXxX.xxxxxxxxxxxx",
    "abc123~+/=-._abcdef",
    # signals
    "status=401", '"status":403', "status_code: 401", "Status = \\\"403", "http_status:'401'", "xstatus=401",
    "HTTP/1.1 401", 'HTTP/2" 403', "HTTP/ 401", "401 Unauthorized", "403 Forbidden", "401 Unauthorizedx",
    "Token validation failed", "Token extraction failed", "Insufficient permissions", "security_violation",
    "Security Violation", "securityviolation", "4011", "x401", "code = 403",
    # timestamps, good and damaged
    '{"ts":1795860000.5,', '"ts": 1795860000123,', '"timestamp":1795860000123456789}', '"time":"2026-11-28T10:05:00Z"',
    '"ts":"2026-11-28T10:05:00.5+05:30"', '"ts":1e400,', '"ts":"9999-12-31T23:59:59-23:59"', '"ts":-5,',
    '"ts":"1969-12-31T23:59:59Z"', '"ts":"2026-11-28T10:05:00+24:00"', '"time":"2026-11-28T10:05:00-0560"',
    '"ts":"2026-02-30T10:00:00Z"', '"ts":12.,', '"ts":"x",', '"ts":7 ',
    # noise
    " ", " ", "-", "_", "\t", "\r", "\xe9", "\u2022", "\x00", ",", ";", "&", "}", "{", "\\", "'", '"', "=", ":",
]
FRAGMENTS += ["gh%s_%s" % (kind, "Zz9" * 12) for kind in "ousr"] + ["xox%s-1234567890" % kind for kind in "aprs"]
FRAGMENTS += ["eyJ" + _b64url(header)[3:] for header in HEADERS]
FRAGMENTS += ["eyJ" + _b64url(header)[3:] + "." + "eyJ" + _b64url('{"sub":"a"}')[3:] + ".c2ln" for header in HEADERS]
LINE_STARTS = ["", "", "", "2026-11-28T10:00:00Z ", "2026-11-28 10:00:00.123+0530\t", "2026-13-28T10:00:00Z ",
               "0001-01-01T00:00:00+01:00 ", "2026-11-28T10:00:00+2400 ", "2026-11-28T10:00:00z\t", "2026-11-28T10:00:00Z"]

line_strategy = st.tuples(st.sampled_from(LINE_STARTS), st.lists(st.sampled_from(FRAGMENTS), max_size=14)).map(
    lambda parts: parts[0] + "".join(parts[1]))


def _scan(path, engine, **kwargs):
    try:
        result = scan.scan_files([path], engine=engine, **kwargs).as_dict()
    except (OSError, EOFError, zlib.error) as exc:  # e.g. bytes that start like gzip and end early
        return "unreadable: %s" % type(exc).__name__
    result["engine"] = None
    return result


def test_the_scanner_is_built_for_these_patterns():
    # A change to patterns.py, timestamps.py or scan.ACCEL_RULES must come with the same change to
    # extras/accel/src/logscan.c and its LOGSCAN_PATTERNS_SHA256; until then engine=auto does not use it.
    assert accel.LOGSCAN_PATTERNS_SHA256 == scan.accel_rules_digest()
    assert scan.HAS_ACCEL
    assert scan._engine("auto") == "accel"


@hypothesis.settings(max_examples=400, deadline=None, derandomize=True)
@hypothesis.given(lines=st.lists(line_strategy, min_size=1, max_size=25), max_locations=st.sampled_from([0, 1, 3, 100]),
                  bucket=st.sampled_from(["5m", "1h", "7s"]))
def test_generated_hostile_lines_give_the_reference_answer(lines, max_locations, bucket):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(os.path.join(tmp, "airlock.log"), lines)
        reference = _scan(path, "re", max_locations=max_locations, bucket=bucket)
        assert _scan(path, "accel", max_locations=max_locations, bucket=bucket) == reference


@hypothesis.settings(max_examples=200, deadline=None, derandomize=True)
@hypothesis.given(data=st.binary(max_size=600), max_locations=st.sampled_from([0, 2]))
def test_arbitrary_bytes_give_the_reference_answer(data, max_locations):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "airlock.log")
        with open(path, "wb") as handle:
            handle.write(data)
        assert _scan(path, "accel", max_locations=max_locations) == _scan(path, "re", max_locations=max_locations)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8)


@hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
@hypothesis.given(value=json_values, spaces=st.sampled_from(["", " ", "\t\n\r "]),
                  cut=st.integers(min_value=0, max_value=60), ensure_ascii=st.booleans())
def test_jwt_headers_are_judged_as_json_loads_judges_them(value, spaces, cut, ensure_ascii):
    # Whole and truncated JSON texts of every kind, as the header of a token: only objects are JWT headers.
    text = spaces + json.dumps(value, ensure_ascii=ensure_ascii) + spaces
    for header in (text, text[:cut]):
        encoded = _b64url(header)
        line = "tok %s.eyJzdWIiOiJhIn0.c2ln x" % encoded
        with tempfile.TemporaryDirectory() as tmp:
            path = _write(os.path.join(tmp, "airlock.log"), [line, line.replace("tok ", "Bearer ")])
            assert _scan(path, "accel", max_locations=0) == _scan(path, "re", max_locations=0), header


@pytest.mark.parametrize("max_locations", [0, 1, 4, 100])
def test_the_test_corpus_and_damaged_lines_give_the_reference_answer(tmp_path, max_locations):
    lines = [entry[0] for entry in CORPUS] + _varied_lines(1500, seed=31)
    lines += ['{"ts":1e400,"status":401}', '{"ts":1e300,"msg":"security_violation"}', '{"ts":-5,"status":403}']
    path = _write(tmp_path / "airlock.log", lines)
    reference = _scan(path, "re", max_locations=max_locations, bucket="5m")
    for chunk_size in (scan.CHUNK_SIZE, 211):
        assert _scan(path, "accel", max_locations=max_locations, bucket="5m", chunk_size=chunk_size) == reference
    parallel = scan_parallel.scan_files([path], engine="accel", bucket="5m", max_locations=max_locations,
                                        chunk_size=2048, workers=2).as_dict()
    assert dict(parallel, engine=None) == reference
    assert reference["damaged_count"] == 2  # 1e400 and 1e300; "-5" is no timestamp (unknown bucket)


@pytest.mark.parametrize("line", [
    # found by fuzzing: a value with a NUL after "{" is no placeholder "{"
    "secret_key='{\x001234567890123",
    "password={\x00", "api_key=null\x00\x00\x00\x00\x00", "Bearer xxxxxxxxxxxxxxx\x00",
    # the exact repeats of api_key: AIza takes 35 bytes, not more, so an sk- key may follow
    "AIza" + "C" * 35 + "-sk-" + "d" * 20, "AKIA" + "ABCDEFGHIJ2345678 sk-" + "e" * 19,
])
def test_lines_found_by_fuzzing_give_the_reference_answer(tmp_path, line):
    path = _write(tmp_path / "airlock.log", [line, line])
    assert _scan(path, "accel", max_locations=1) == _scan(path, "re", max_locations=1)


def test_common_lines_are_settled_in_c():
    # What the benchmark's log is made of: the scanner must answer these itself (no line for Python) once
    # the locations are full, or the engine is the hyperscan engine's speed at best.
    rng = random.Random(7)
    lines = [
        '{"level":"info","ts":1795860000.25,"msg":"request completed","subject":"alice@acme.io","status":200}',
        '{"level":"warn","ts":1795860001.5,"caller":"auth/middleware.go:112","msg":"Token validation failed"}',
        '{"level":"info","ts":"2026-11-28T10:00:00.123Z","msg":"http request","status":403}',
        '2026-11-28T10:00:00.123Z\tINFO\tserver/connection.go:88\tSSE heartbeat sent',
        '{"msg":"upstream request","body":"{\\"card\\":\\"4111 1111 1111 1111\\",\\"ssn\\":\\"123-45-6789\\"}"}',
        '{"msg":"upstream request","body":"{\\"username\\":\\"x\\",\\"password\\":\\"hunter22\\"}"}',
        '{"msg":"forwarding headers","headers":{"Authorization":"Bearer %s"}}' % (
            "eyJ" + _b64url('{"alg":"RS256","typ":"JWT"}')[3:] + ".eyJzdWIiOiJhIn0.c2ln"),
        '{"msg":"upstream auth","client_secret":"abcdefgh","api_secret=abcdefgh","sk":"sk-proj-%s"}' % ("a" * 30),
        '{"level":"error","ts":1795860002,"msg":"security violation detected","action":"security_violation"}',
    ]
    chunk = ("\n".join(rng.choice(lines) for dummy in range(500)) + "\n").encode("ascii")
    names = list(sp.PATTERN_NAMES)
    scanner = accel.LogScanner(names, 300)
    counts, signal_lines, buckets, hot, newlines = scanner.scan(chunk, [0] * len(names))
    assert hot == []
    assert newlines == 500
    assert all(count[0] for count in counts), counts  # every pattern matched somewhere
    assert all(signal_lines) and buckets
    # With room for locations, the first matched lines of each pattern go to Python, in line order.
    hot = scanner.scan(chunk, [2] * len(names))[3]
    assert 0 < len(hot) <= 2 * len(names)
    assert [line[0] for line in hot] == sorted(line[0] for line in hot)


def test_the_scanner_refuses_what_it_was_not_built_for():
    with pytest.raises(ValueError, match="unknown or repeated pattern"):
        accel.LogScanner(["ssn", "phone"], 300)
    with pytest.raises(ValueError, match="bucket_seconds"):
        accel.LogScanner(["ssn"], 0)
    with pytest.raises(ValueError, match="rooms"):
        accel.LogScanner(["ssn"], 60).scan(b"x\n", [0, 0])
