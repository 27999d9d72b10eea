# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sensitive-data patterns: validators, masking, timestamps, and hyperscan == re == grep."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.evidence import patterns as sp
from ansible_collections.airlock.incident.plugins.module_utils.evidence import scan
from ansible_collections.airlock.incident.plugins.module_utils.evidence import timestamps
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import DurationError

needs_hyperscan = pytest.mark.skipif(not scan.HAS_HYPERSCAN, reason="hyperscan is not installed")

VISA = "4111111111111111"
VISA_BAD = "4111111111111112"
AMEX = "378282246310005"
MC2 = "2223003122003222"
JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsInRlbmFudCI6ImFjbWUifQ."
       "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU")
AWS = "AKIAIOSFODNN7EXAMPLE"
OPENAI = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
PASSWORD = "Tr0ub4dor!3xyz"

#: Lines a responder meets, each with what must be found in it.
CORPUS = [
    ('{"level":"info","ts":1795860000.25,"msg":"request completed","status":200,"latency_ms":12}', {}),
    ('{"level":"debug","ts":1795860001.5,"msg":"upstream request","body":"{\\"card\\":\\"%s\\"}"}' % VISA,
     {"credit_card": 1}),
    ('{"level":"debug","ts":1795860002.0,"msg":"upstream request","body":"{\\"card\\":\\"%s\\"}"}' % VISA_BAD,
     {}),
    ("2026-11-28T08:00:03.123456789Z card 4111 1111 1111 1111 and 4111-1111-1111-1111 amex 3782 822463 10005", {"credit_card": 3}),
    ("epoch ns 1795860000123456789 and ms 1795860000123 are not cards", {}),
    ("customer ssn 123-45-6789, bad ones 000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000", {"ssn": 1}),
    ('{"ts":"2026-11-28T08:07:00Z","msg":"login","password":"%s","user":"bob"}' % PASSWORD, {"password": 1}),
    ('{"ts":"2026-11-28T08:07:01Z","msg":"login","body":"{\\"password\\":\\"%s\\"}"}' % PASSWORD, {"password": 1}),
    ("db_password=%s client_secret: abcdefgh1234 api_secret='zzzzyyyy'" % PASSWORD, {"password": 3}),
    ('password=*** pwd=[REDACTED] "secret":"" secret=null passwd=<redacted> "password": "****"', {}),
    ('{"headers":{"Authorization":"Bearer %s"}}' % JWT, {"jwt": 1, "bearer_token": 1}),
    ("authorization: bearer abcdefghijklmnop0123 and Bearer short", {"bearer_token": 1}),
    ("not a jwt: eyJub3Rqc29u.eyJhbGljZSJ9.abc", {}),
    ("keys %s %s sk_live_abcdefghijklmnop1234 api_key=abcd1234efgh5678 x-api-key: \"zz99yy88xx77\"" % (AWS, OPENAI),
     {"api_key": 5}),
    ("contact john.doe@example.com or ops+oncall@mail.example.org; not user@localhost", {"email": 2}),
    ('{"level":"warn","ts":1795860300.0,"caller":"auth/middleware.go:97","msg":"Token validation failed"}', {}),
    ('10.0.0.1 - - "POST /mcp HTTP/1.1" 401 123', {}),
    ('{"ts":"2026-11-28T08:05:10+01:00","msg":"http request","status":403}', {}),
    ('2026-11-28T08:10:00.000+0000\tWARN\tpolicy\tInsufficient permissions\t{"tenant": "acme"}', {}),
    ('{"level":"error","msg":"security violation detected","action":"security_violation"}', {}),
    ("status=4010 code=1403 HTTP/1.1\" 4030 are not 401/403", {}),
    ("", {}),
    ("caf\xe9 na\xefve unicode line with 4012888888881881 inside", {"credit_card": 1}),
]


def _write(path, lines, newline_at_end=True):
    data = "\n".join(lines) + ("\n" if newline_at_end else "")
    with open(path, "wb") as handle:
        handle.write(data.encode("utf-8"))
    return str(path)


@pytest.fixture
def corpus_file(tmp_path):
    return _write(tmp_path / "airlock.log", [entry[0] for entry in CORPUS])


def _varied_lines(count, seed):
    """Random mixtures of the corpus lines' pieces, digits and noise (for engine equality)."""
    rng = random.Random(seed)
    pieces = []
    for line, dummy in CORPUS:
        pieces.extend(line.split(" "))
    pieces.extend([VISA, VISA_BAD, AMEX, MC2, JWT, AWS, OPENAI, "123-45-6789", "a@b.io", "Bearer",
                   "password=", '"status":401', "HTTP/1.1\" 403", "1795860000.5", "2026-11-28T08:00:00Z"])
    lines = []
    for dummy in range(count):
        words = [rng.choice(pieces) for dummy in range(rng.randrange(1, 12))]
        if rng.random() < 0.3:
            words.append("".join(rng.choice("0123456789 -") for dummy in range(rng.randrange(10, 40))))
        if rng.random() < 0.2:
            words.insert(0, '{"ts":%d.%d,' % (1795860000 + rng.randrange(7200), rng.randrange(1000)))
        lines.append(rng.choice([" ", "", "\t", ","]).join(words))
    return lines


def test_luhn():
    assert sp.luhn_valid(VISA) and sp.luhn_valid(AMEX) and sp.luhn_valid(MC2) and sp.luhn_valid("79927398713")
    assert not sp.luhn_valid(VISA_BAD) and not sp.luhn_valid("79927398710") and not sp.luhn_valid("4111x111")


def test_masking_keeps_a_prefix_and_the_length_only():
    assert sp.mask_card(VISA) == "4111********1111"
    assert sp.mask_card("4111 1111 1111 1111") == "4111********1111"
    assert sp.mask(JWT) == u"eyJh\u2026(%d chars)" % len(JWT)
    # short secrets show nothing at all
    assert sp.mask("hunter2") == u"\u2026(7 chars)"
    assert sp.mask("abcdefgh") == u"ab\u2026(8 chars)"


def test_each_corpus_line_finds_what_it_should(tmp_path):
    for index, (line, expected) in enumerate(CORPUS):
        path = _write(tmp_path / ("line%d.log" % index), [line])
        result = scan.scan_files([path], engine="re").as_dict()
        found = dict((name, count) for name, count in result["findings"].items() if count)
        assert found == expected, (line, found)


def test_findings_locations_and_signals(corpus_file):
    result = scan.scan_files([corpus_file], bucket="5m", engine="re").as_dict()
    assert result["findings"]["credit_card"] == 5
    # the Luhn-invalid look-alike and the epoch timestamps are candidates at most, never findings
    assert result["candidate_lines"]["credit_card"] > result["matched_lines"]["credit_card"]
    assert result["locations"]["credit_card"] == [
        "%s:2" % corpus_file, "%s:4" % corpus_file, "%s:23" % corpus_file]
    assert result["locations"]["ssn"] == ["%s:6" % corpus_file]
    assert result["lines_scanned"] == len(CORPUS)
    assert result["bytes_scanned"] == os.path.getsize(corpus_file)
    assert result["sensitive_data_found"] is True
    signals = result["signals"]
    # zap float ts 1795860300.0 = 10:05:00Z; HTTP/1.1" 401 has no timestamp -> unknown
    assert signals["401"] == {"2026-11-28T10:05:00Z": 1, "unknown": 1}
    # "+01:00" -> 07:05:10Z; zap console "+0000" offset at line start -> 08:10:00Z
    assert signals["403"] == {"2026-11-28T07:05:00Z": 1, "2026-11-28T08:10:00Z": 1}
    assert signals["security_violation"] == {"unknown": 1}
    assert result["signal_lines"] == {"401": 2, "403": 2, "security_violation": 1}


def test_no_secret_in_the_result(corpus_file):
    result = scan.scan_files([corpus_file], engine="re").as_dict()
    text = json.dumps(result, ensure_ascii=False)
    for secret in (VISA, "4111 1111 1111 1111", AMEX, "123-45-6789", JWT, JWT[:40], AWS, OPENAI, PASSWORD,
                   "abcd1234efgh5678", "abcdefgh1234", "zzzzyyyy", "john.doe@example.com",
                   "sk_live_abcdefghijklmnop1234", "abcdefghijklmnop0123", "4012888888881881"):
        assert secret not in text, secret
    masked = [s["masked"] for s in result["samples"]["credit_card"]]
    assert masked[0] == "4111********1111"
    assert u"password=\u2026(14 chars)" in [s["masked"] for s in result["samples"]["password"]]


def test_bucket_widths_group_lines(tmp_path):
    lines = ['{"ts":%d.5,"status":401}' % (1795860000 + step * 60) for step in range(10)]
    path = _write(tmp_path / "b.log", lines)
    five = scan.scan_files([path], bucket="5m", engine="re").as_dict()["signals"]["401"]
    assert five == {"2026-11-28T10:00:00Z": 5, "2026-11-28T10:05:00Z": 5}
    hour = scan.scan_files([path], bucket="1h", engine="re").as_dict()["signals"]["401"]
    assert hour == {"2026-11-28T10:00:00Z": 10}


def test_timestamp_forms():
    assert timestamps.line_epoch_seconds(b'{"ts":1795860000.9}') == 1795860000
    assert timestamps.line_epoch_seconds(b'{"timestamp":1795860000123456789,"x":1}') == 1795860000
    assert timestamps.line_epoch_seconds(b'{"time":1795860000123}') == 1795860000
    assert timestamps.line_epoch_seconds(b'{"ts":"2026-11-28T10:00:00.5Z"}') == 1795860000
    assert timestamps.line_epoch_seconds(b"2026-11-28T12:00:00+02:00 msg") == 1795860000
    assert timestamps.line_epoch_seconds(b"2026-11-28T12:00:00.000+0200\tINFO") == 1795860000
    assert timestamps.line_epoch_seconds(b"2026-11-28T08:00:00 no zone") is None
    assert timestamps.line_epoch_seconds(b"no timestamp at all") is None


@pytest.mark.parametrize("text", ["5x", "0s", "-1h", "1.5s", "", "500ms"])
def test_bad_bucket_names_the_field_and_forms(text):
    with pytest.raises(DurationError) as info:
        timestamps.parse_bucket(text)
    assert "bucket" in str(info.value) and "5m" in str(info.value)


def test_good_buckets():
    assert timestamps.parse_bucket("5m") == 300 and timestamps.parse_bucket("1h30m") == 5400 and timestamps.parse_bucket("1d") == 86400


def test_unknown_pattern_names_the_accepted_values():
    with pytest.raises(sp.ScanError) as info:
        sp.select_patterns(["ssn", "passport"])
    message = str(info.value)
    assert "patterns" in message and "'passport'" in message
    for name in sp.PATTERN_NAMES:
        assert name in message


def test_expand_paths(tmp_path):
    one = _write(tmp_path / "a.log", ["x"])
    two = _write(tmp_path / "b.log", ["y"])
    assert scan.expand_paths([str(tmp_path / "*.log"), one]) == [one, two]
    with pytest.raises(sp.ScanError, match="does not exist"):
        scan.expand_paths([str(tmp_path / "missing.log")])
    with pytest.raises(sp.ScanError, match="matches no file"):
        scan.expand_paths([str(tmp_path / "*.txt")])
    with pytest.raises(sp.ScanError, match="not a regular file"):
        scan.expand_paths([str(tmp_path)])


def test_gzip_is_detected_by_magic_bytes_not_extension(tmp_path, corpus_file):
    with open(corpus_file, "rb") as handle:
        raw = handle.read()
    disguised = tmp_path / "rotated.log"  # gzip content, .log name
    with gzip.open(str(disguised), "wb") as handle:
        handle.write(raw)
    plain = tmp_path / "plain.gz"  # plain content, .gz name
    plain.write_bytes(raw)
    reference = scan.scan_files([corpus_file], engine="re").as_dict()
    for path, compressed in ((str(disguised), True), (str(plain), False)):
        result = scan.scan_files([path], engine="re").as_dict()
        assert result["files"][0]["gzip"] is compressed
        assert result["findings"] == reference["findings"]
        assert result["bytes_scanned"] == len(raw)


def _comparable(result):
    data = result.as_dict()
    data["engine"] = None
    return data


@needs_hyperscan
def test_hyperscan_equals_re_on_a_varied_corpus(tmp_path):
    lines = [entry[0] for entry in CORPUS] + _varied_lines(3000, seed=7)
    path = _write(tmp_path / "varied.log", lines, newline_at_end=False)
    reference = scan.scan_files([path], bucket="5m", max_locations=10000, engine="re")
    fast = scan.scan_files([path], bucket="5m", max_locations=10000, engine="hyperscan")
    assert fast.engine == "hyperscan" and reference.engine == "re"
    assert _comparable(fast) == _comparable(reference)
    assert sum(reference.findings.values()) > 500  # the corpus really exercises every pattern
    assert all(reference.findings[name] for name in sp.PATTERN_NAMES)
    # small chunks cut lines everywhere: same answer
    chunked = scan.scan_files([path], bucket="5m", max_locations=10000, engine="hyperscan", chunk_size=97)
    assert _comparable(chunked) == _comparable(reference)


@needs_hyperscan
def test_engines_agree_on_pattern_subsets_and_truncation(tmp_path):
    path = _write(tmp_path / "varied.log", _varied_lines(800, seed=11))
    for names in (["credit_card"], ["email", "jwt"], ["password", "api_key", "bearer_token"]):
        reference = scan.scan_files([path], names=names, max_locations=3, engine="re")
        fast = scan.scan_files([path], names=names, max_locations=3, engine="hyperscan")
        assert _comparable(fast) == _comparable(reference)
        assert set(reference.findings) == set(names)
        for name in names:
            assert len(reference.locations[name]) <= 3
            assert reference.as_dict()["locations_truncated"][name] == (reference.matched_lines[name] > 3)


@pytest.mark.skipif(shutil.which("grep") is None, reason="grep is not installed")
def test_candidate_lines_equal_grep_counts(tmp_path):
    path = _write(tmp_path / "varied.log", [entry[0] for entry in CORPUS] + _varied_lines(1500, seed=3))
    result = scan.scan_files([path], engine="re").as_dict()
    env = dict(os.environ, LC_ALL="C")
    for name, expression in sp.grep_expressions().items():
        proc = subprocess.run(["grep", "-a", "-E", "-c", "-e", expression, path], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        assert proc.stderr == b"", (name, proc.stderr)
        count = int(proc.stdout)
        if name.startswith("signal:"):
            assert result["signal_lines"][name[7:]] == count, name
        else:
            assert result["candidate_lines"][name] == count, name


def test_chunks_cut_at_newlines_and_keep_long_lines_whole(tmp_path):
    long_line = b"x" * 1000 + b" 4111111111111111 " + b"y" * 1000
    path = tmp_path / "long.log"
    path.write_bytes(b"short\n" + long_line + b"\nlast line without newline")
    with open(str(path), "rb") as handle:
        chunks = list(scan._iter_chunks(handle, 64))
    assert b"".join(chunks) == path.read_bytes()
    assert all(c.endswith(b"\n") for c in chunks[:-1])
    assert long_line + b"\n" in chunks
    result = scan.scan_files([str(path)], engine="re", chunk_size=64).as_dict()
    assert result["locations"]["credit_card"] == ["%s:2" % path] and result["lines_scanned"] == 3
