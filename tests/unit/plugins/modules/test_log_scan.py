# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airlock.incident.log_scan end to end (main()) on real files."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.airlock.incident.plugins.module_utils.evidence import patterns as sp
from ansible_collections.airlock.incident.plugins.module_utils.evidence import scan
from ansible_collections.airlock.incident.plugins.modules import log_scan

CARD = "5555555555554444"
CARD_LUHN_INVALID = "5555555555554445"
SSN = "078-05-1120"
JWT = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IiLCJ0ZW5hbnQiOiJhY21lIiwiZ3JvdXBzIjpbImFkbWluIl19."
       "dGhpcy1pcy1ub3QtYS1yZWFsLXNpZ25hdHVyZS0xMjM0")
SECRET = "correct-horse-battery-staple"
AWS = "AKIAZZZZYYYYXXXXWWWW"

LINES = [
    '{"level":"info","ts":1795860000.5,"msg":"request completed","status":200}',
    '{"level":"debug","ts":1795860010.0,"msg":"upstream request","body":"{\\"card\\":\\"%s\\"}"}' % CARD,
    '{"level":"debug","ts":1795860020.0,"msg":"upstream request","body":"{\\"card\\":\\"%s\\"}"}'
    % CARD_LUHN_INVALID,
    '{"level":"warn","ts":1795860030.0,"msg":"Token validation failed","path":"/mcp"}',
    '{"level":"debug","ts":1795860400.0,"msg":"headers","Authorization":"Bearer %s"}' % JWT,
    '{"level":"info","ts":"2026-11-28T10:07:00Z","msg":"http request","status":401}',
    "2026-11-28T10:08:00.000000001Z config client_secret=%s aws=%s ssn %s" % (SECRET, AWS, SSN),
    '{"level":"error","ts":1795860600.0,"msg":"security violation","action":"security_violation"}',
    '{"level":"info","msg":"http request","status":403}',
]


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            log_scan.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def logs(tmp_path):
    plain = tmp_path / "pod-logs.txt"
    plain.write_text("\n".join(LINES) + "\n")
    rotated = tmp_path / "airlock.log.1"  # gzip without a .gz name
    with gzip.open(str(rotated), "wt") as handle:
        handle.write("\n".join(LINES) + "\n")
    return tmp_path, str(plain), str(rotated)


def test_findings_signals_and_no_leak(capsys, logs):
    _tmp, plain, _rotated = logs
    result = run_module(capsys, {"paths": [plain], "bucket": "5m"})
    assert "failed" not in result and result["changed"] is False
    assert result["findings"] == {"ssn": 1, "credit_card": 1, "password": 1, "jwt": 1, "bearer_token": 1,
                                  "api_key": 1, "email": 0}
    assert result["locations"]["credit_card"] == ["%s:2" % plain]  # the Luhn-invalid line 3 is not counted
    assert result["candidate_lines"]["credit_card"] == 2
    assert result["locations"]["password"] == ["%s:7" % plain]
    assert result["sensitive_data_found"] is True
    assert result["signals"]["401"] == {"2026-11-28T10:00:00Z": 1, "2026-11-28T10:05:00Z": 1}
    assert result["signals"]["403"] == {"unknown": 1}
    assert result["signals"]["security_violation"] == {"2026-11-28T10:10:00Z": 1}
    assert result["lines_scanned"] == len(LINES)
    assert result["engine"] == ("accel" if scan.HAS_ACCEL else "hyperscan" if scan.HAS_HYPERSCAN else "re")
    text = json.dumps(result)
    for secret in (CARD, CARD_LUHN_INVALID, SSN, JWT, JWT[:30], SECRET, AWS):
        assert secret not in text, secret
    assert result["samples"]["credit_card"][0]["masked"] == "5555********4444"
    assert result["samples"]["jwt"][0]["masked"].startswith(u"eyJh\u2026(")


def test_gzip_input_and_globs(capsys, logs):
    tmp, plain, rotated = logs
    result = run_module(capsys, {"paths": [str(tmp / "*")], "patterns": ["credit_card", "ssn"]})
    assert [f["path"] for f in result["files"]] == sorted([plain, rotated])
    assert [f["gzip"] for f in result["files"]] == [True, False]  # airlock.log.1 sorts first
    assert result["findings"] == {"ssn": 2, "credit_card": 2}
    assert result["locations"]["credit_card"] == ["%s:2" % rotated, "%s:2" % plain]
    assert result["bytes_scanned"] == 2 * len("\n".join(LINES) + "\n")


def test_engines_give_the_same_module_result(capsys, logs):
    _tmp, plain, _rotated = logs
    results = [run_module(capsys, {"paths": [plain], "engine": engine})
               for engine in ["re"] + (["hyperscan"] if scan.HAS_HYPERSCAN else [])
               + (["accel"] if scan.HAS_ACCEL else [])]
    for result in results:
        result.pop("engine")
        result.pop("invocation", None)
    assert all(r == results[0] for r in results)


def test_engine_accel_without_a_matching_build_fails_naming_the_field(capsys, logs, monkeypatch):
    _tmp, plain, _rotated = logs
    monkeypatch.setattr(scan, "HAS_ACCEL", False)
    monkeypatch.setattr(scan, "ACCEL_PROBLEM", "the installed airlock-incident-accel was built for other patterns")
    result = run_module(capsys, {"paths": [plain], "engine": "accel"})
    assert result["failed"] is True
    assert result["msg"].startswith("engine: accel is not available here: the installed airlock-incident-accel")
    assert "accepted values here: auto, " in result["msg"] and result["msg"].endswith("re")
    result = run_module(capsys, {"paths": [plain]})  # auto falls back to the next engine
    assert "failed" not in result and result["engine"] == ("hyperscan" if scan.HAS_HYPERSCAN else "re")


def test_check_mode_is_the_same_read(capsys, logs):
    _tmp, plain, _rotated = logs
    normal = run_module(capsys, {"paths": [plain]})
    checked = run_module(capsys, {"paths": [plain], "_ansible_check_mode": True})
    normal.pop("invocation", None)
    checked.pop("invocation", None)
    assert checked == normal and checked["changed"] is False


def test_max_locations_truncates_lists_not_counts(capsys, tmp_path):
    path = tmp_path / "many.log"
    path.write_text("".join("user%d@example.com\n" % n for n in range(50)))
    result = run_module(capsys, {"paths": [str(path)], "patterns": ["email"], "max_locations": 5})
    assert result["findings"]["email"] == 50
    assert len(result["locations"]["email"]) == 5 and len(result["samples"]["email"]) == 5
    assert result["locations_truncated"]["email"] is True


def test_unknown_pattern_fails_naming_field_and_values(capsys, logs):
    _tmp, plain, _rotated = logs
    result = run_module(capsys, {"paths": [plain], "patterns": ["ssn", "passport"]})
    assert result["failed"] is True
    assert "patterns" in result["msg"] and "passport" in result["msg"]
    assert all(name in result["msg"] for name in sp.PATTERN_NAMES)


def test_bad_bucket_fails_naming_field_and_forms(capsys, logs):
    _tmp, plain, _rotated = logs
    result = run_module(capsys, {"paths": [plain], "bucket": "5 minutes"})
    assert result["failed"] is True
    assert "bucket" in result["msg"] and "5m" in result["msg"] and "1h" in result["msg"]


def test_missing_file_is_a_failure_not_a_clean_result(capsys, tmp_path):
    result = run_module(capsys, {"paths": [str(tmp_path / "incident-logs.txt")]})
    assert result["failed"] is True and "does not exist" in result["msg"]
    result = run_module(capsys, {"paths": [str(tmp_path / "*.log")]})
    assert result["failed"] is True and "matches no file" in result["msg"]


def test_negative_max_locations(capsys, logs):
    _tmp, plain, _rotated = logs
    result = run_module(capsys, {"paths": [plain], "max_locations": -1})
    assert result["failed"] is True and "max_locations" in result["msg"]


def test_corrupt_gzip_fails_cleanly(capsys, tmp_path):
    path = tmp_path / "broken.log"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage-that-is-not-deflate")
    result = run_module(capsys, {"paths": [str(path)]})
    assert result["failed"] is True and "reading logs failed" in result["msg"]


# -- hostile inputs (issue #16) ----------------------------------------------------------
def test_a_fifo_among_the_paths_is_refused_not_waited_on(capsys, tmp_path):
    from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

    fifo = tmp_path / "pipe.log"
    os.mkfifo(str(fifo))
    result = factory.run_guarded(lambda: run_module(capsys, dict(paths=[str(fifo)])), fifo=fifo)
    assert result["failed"] is True and "paths:" in result["msg"] and "FIFO" in result["msg"], result["msg"]


@pytest.mark.parametrize("engine", ["re", "hyperscan", "accel"])
def test_a_fifo_swapped_in_after_the_check_is_refused_on_the_descriptor(tmp_path, engine):
    if engine == "hyperscan" and not scan.HAS_HYPERSCAN or engine == "accel" and not scan.HAS_ACCEL:
        pytest.skip("%s is not installed" % engine)
    from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError
    from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

    fifo = tmp_path / "pipe.log"
    os.mkfifo(str(fifo))

    def call():
        try:
            scan.scan_files([str(fifo)], engine=engine)
        except InputError as exc:
            return exc.msg
        return "no refusal"
    msg = factory.run_guarded(call, fifo=fifo)
    assert msg.startswith("paths:") and "FIFO" in msg, msg


DAMAGED = [
    '{"ts":1795860000.0,"msg":"http request","status":401}',
    '{"ts":1e400,"msg":"http request","status":401}',
    "9999-12-31T23:59:59-01:00 Token validation failed",
    '{"ts":99999999999999999999999999,"status":403}',
    '{"ts":1e300,"msg":"security_violation"}',
    '{"ts":1795860060.0,"msg":"http request","status":401,"card":"%s"}' % CARD,
]


@pytest.mark.parametrize("engine", ["re", "hyperscan", "accel"])
def test_damaged_timestamps_are_reported_and_the_file_finishes(capsys, tmp_path, engine):
    if engine == "hyperscan" and not scan.HAS_HYPERSCAN or engine == "accel" and not scan.HAS_ACCEL:
        pytest.skip("%s is not installed" % engine)
    path = tmp_path / "damaged.log"
    path.write_text("\n".join(DAMAGED) + "\n")
    result = run_module(capsys, dict(paths=[str(path)], engine=engine))
    assert "failed" not in result, result.get("msg")
    assert [(item["path"], item["line"]) for item in result["damaged_lines"]] == [
        (str(path), 2), (str(path), 3), (str(path), 4), (str(path), 5)]
    assert result["damaged_count"] == 4 and "4 damaged line(s)" in result["msg"]
    assert result["lines_scanned"] == 6 and result["findings"]["credit_card"] == 1
    assert result["signals"]["401"] == {"2026-11-28T10:00:00Z": 2, "unknown": 2}
    assert result["signal_lines"] == {"401": 4, "403": 1, "security_violation": 1}


def test_out_of_range_bucket_and_max_locations_are_refused(capsys, logs):
    _tmp, plain, _rotated = logs
    result = run_module(capsys, dict(paths=[plain], bucket="1000000000d"))
    assert result["failed"] is True and "bucket" in result["msg"] and "1d" in result["msg"]
    result = run_module(capsys, dict(paths=[plain], max_locations=10 ** 25))
    assert result["failed"] is True and result["msg"].startswith("max_locations: invalid value ")
    assert "an integer from -9223372036854775808 to 9223372036854775807" in result["msg"]


# -- property-based: any options, any lines: a result or a failure naming a field -------
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
_ODD = ["1h", "5m", "1d", "106751d", "106752d", "1000000000d", "0s", "1.5s", "-1h", "inf", "nan", "", "1e400"]
_NUMBERS = st.one_of(st.integers(min_value=-10 ** 30, max_value=10 ** 30),
                     st.sampled_from(["1e12", "abc", "1.5", 2 ** 63]))
_LINE_BITS = st.sampled_from([
    '{"ts":1e400,"status":401}', '{"ts":NaN,"status":401}', '{"ts":%d,"status":403}' % 10 ** 30,
    "9999-12-31T23:59:59-01:00 401 Unauthorized", "0001-01-01T00:00:00+01:00 403 Forbidden",
    "10000-01-01T00:00:00Z security_violation", '{"time":"9999-12-31T23:59:59-23:59","code":401}',
    "card %s status 401" % CARD, "\xff\xfe", ""])


@hypothesis.settings(max_examples=60, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(
    options=st.fixed_dictionaries({}, optional={
        "bucket": st.one_of(st.text(max_size=12), st.sampled_from(_ODD)),
        "max_locations": _NUMBERS,
        "engine": st.sampled_from(["auto", "re", "hyperscan", "accel"]),
        "patterns": st.lists(st.sampled_from(list(sp.PATTERN_NAMES)), max_size=3)}),
    lines=st.lists(st.one_of(_LINE_BITS, st.text(max_size=40)), max_size=8))
def test_log_scan_succeeds_or_names_a_field(capsys, tmp_path_factory, options, lines):
    path = tmp_path_factory.getbasetemp() / "fuzz.log"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
    args = dict(options, paths=[str(path)])
    if not {"hyperscan": scan.HAS_HYPERSCAN, "accel": scan.HAS_ACCEL}.get(args.get("engine"), True):
        args["engine"] = "re"
    result = run_module(capsys, args)
    if result.get("failed"):
        assert any(name in result["msg"] for name in args), result["msg"]
    else:
        assert isinstance(result["lines_scanned"], int)
        assert all(isinstance(item["line"], int) for item in result["damaged_lines"])
