# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The compiled checker (extras/accel) gives the Python path's answers (issue #15).

For any row, ``ChainChecker.check`` may only say True where the Python path finds the row intact and
False where it finds a content mismatch; it must settle every common row (so these tests fail if it
never runs); and a verification with it equals one without it, problem for problem, on damaged chains,
with one worker and with several.
"""

from __future__ import annotations

import os
import tempfile
from binascii import hexlify

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain
from ansible_collections.airlock.incident.plugins.module_utils.audit.verify import verify_path
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.test_audit_parallel import (
    _damage,
    damages,
    serial,
)

hypothesis = pytest.importorskip("hypothesis")
blake3 = pytest.importorskip("blake3")
accel = pytest.importorskip("airlock_incident_accel", reason="airlock_incident_accel is not installed "
                            "(make venv builds extras/accel): the compiled checker's tests were skipped")
st = hypothesis.strategies

SALT = bytes(range(32))
TEXTS = (0, 2, 3, 4, 5, 6, 7, 8, 10)  # the text fields, by position in the payload
INTS = (1, 11, 12)

safe_text = st.binary(max_size=40).map(lambda b: bytes(c for c in b if c in audit_chain.SAFE_STRING_BYTES))
text = st.one_of(safe_text, st.binary(max_size=12), st.none(), st.text(max_size=4),
                 st.integers(min_value=-3, max_value=3), st.just(b"a" * 9000))
number = st.one_of(st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1), st.integers(), st.none(),
                   st.floats(allow_nan=False, allow_infinity=False), st.binary(max_size=4), st.booleans())
metadata = st.one_of(st.none(), st.just(b""), st.binary(max_size=20), st.just(b'{"k":"v"}'), st.text(max_size=3),
                     st.integers(min_value=0, max_value=2))


def python_verdict(fields, stored):
    """The Python path of walk_range for one row: True intact, False mismatch, None the slow re-read."""
    (event_id, timestamp, correlation_id, tenant, subject, action, resource, decision, reason, meta,
     previous_hash, latency_ms, redaction_count) = fields
    template = SALT.replace(b"%", b"%%") + audit_chain.PAYLOAD_TEMPLATE
    try:
        if b"".join((event_id, correlation_id, tenant, subject, action, resource, decision, reason,
                     previous_hash)).translate(None, audit_chain.SAFE_STRING_BYTES):
            salted = SALT + audit_chain.build_payload(*fields)
        else:
            salted = template % (event_id, timestamp, correlation_id, tenant, subject, action, resource, decision,
                                 reason, meta or b"null", previous_hash, latency_ms, redaction_count)
    except (TypeError, ValueError):
        return None
    return hexlify(blake3.blake3(salted).digest()) == stored


def common(fields):
    """The rows the checker must settle: safe text, 64-bit integers, bytes or NULL metadata, a small payload."""
    # No subclass of bytes or int is generated except bool, which the checker leaves to Python.
    texts_ok = all(isinstance(fields[i], bytes) and not fields[i].translate(None, audit_chain.SAFE_STRING_BYTES)
                   for i in TEXTS)
    ints_ok = all(isinstance(fields[i], int) and not isinstance(fields[i], bool) and -(2 ** 63) <= fields[i] < 2 ** 63
                  for i in INTS)
    meta_ok = fields[9] is None or isinstance(fields[9], bytes)
    small = texts_ok and sum(len(fields[i]) for i in TEXTS) + len(fields[9] or b"") < 7000
    return texts_ok and ints_ok and meta_ok and small


@hypothesis.settings(max_examples=3000, deadline=None, derandomize=True)
@hypothesis.given(fields=st.tuples(text, number, text, text, text, text, text, text, text, metadata, text, number,
                                   number),
                  stored=st.sampled_from(["right", "wrong", "upper", "short", "text", "none"]))
def test_the_checker_says_what_the_python_path_says(fields, stored):
    checker = audit_chain.compiled_checker(SALT)
    try:
        payload = audit_chain.PAYLOAD_TEMPLATE % (fields[:9] + (fields[9] or b"null",) + fields[10:])
        good = blake3.blake3(SALT + payload).hexdigest().encode("ascii")
    except TypeError:
        good = b"0" * 64
    value = dict(right=good, wrong=b"f" * 64, upper=good.upper(), short=good[:63], text=good.decode("ascii"),
                 none=None)[stored]
    got = checker.check(*fields, value)
    expected = python_verdict(fields, value)
    if common(fields):
        assert got is not None, "the checker must settle a common row"
        assert got is expected
    else:
        assert got is None or got is expected


def test_the_template_cut_for_the_checker():
    assert audit_chain.PAYLOAD_KINDS == "sdsssssssrsdd"
    assert len(audit_chain.PAYLOAD_PIECES) == 14 and audit_chain.PAYLOAD_PIECES[9].endswith(b'"metadata":')


def test_an_intact_row_and_its_edit():
    checker = audit_chain.compiled_checker(SALT)
    fields = (b"evt-1", 1764547200000000000, b"corr", b"tenant", b"alice@example.com", b"tools/call",
              b"mcp://fs/read", b"allow", b"ok", b'{"k":1}', b"0" * 64, 12, 0)
    payload = audit_chain.build_payload(*fields)
    stored = blake3.blake3(SALT + payload).hexdigest().encode("ascii")
    assert checker.check(*fields, stored) is True
    assert checker.check(*fields[:4], b"mallory@example.com", *fields[5:], stored) is False
    assert checker.check(*fields[:8], b"<script>", *fields[9:], stored) is None  # Go escapes <: Python decides
    assert accel.blake3_hex(SALT + payload) == stored


def test_bad_construction_names_the_field():
    with pytest.raises(ValueError, match="kinds"):
        accel.ChainChecker(SALT, audit_chain.PAYLOAD_PIECES, "x" * 13, audit_chain.SAFE_STRING_BYTES)
    with pytest.raises(ValueError, match="pieces"):
        accel.ChainChecker(SALT, audit_chain.PAYLOAD_PIECES[:-1], audit_chain.PAYLOAD_KINDS,
                           audit_chain.SAFE_STRING_BYTES)
    checker = audit_chain.compiled_checker(SALT)
    with pytest.raises(TypeError, match="14 arguments"):
        checker.check(b"only one")


@hypothesis.settings(max_examples=40, deadline=None, derandomize=True)
@hypothesis.given(events=st.integers(min_value=0, max_value=60), damage=damages,
                  workers=st.integers(min_value=1, max_value=4), max_problems=st.integers(min_value=0, max_value=6))
def test_verification_with_the_checker_equals_verification_without(events, damage, workers, max_problems):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "audit.db")
        factory.build_db(path, events=events)
        for action, rowid in damage:
            try:
                _damage(path, action, rowid)
            except ValueError:  # the factory cannot re-hash a row that "garbage" made unhashable
                pass
        saved = audit_chain._accel
        audit_chain._accel = None
        try:
            expected = serial(path, max_problems=max_problems)
        finally:
            audit_chain._accel = saved
        got = verify_path(path, 5.0, workers=workers, min_rows_per_worker=1, max_problems=max_problems)
        expected.pop("workers", None)
        got.pop("workers", None)
        assert got == expected


def test_the_verifier_uses_the_checker(tmp_path, monkeypatch):
    """The verifier asks the checker about every row, and on an intact chain of common rows the checker settles
    each one (so the compiled path is the one that runs, not only the fallback)."""
    path = tmp_path / "audit.db"
    factory.build_db(path, events=25)
    calls = []

    class Counting:
        def __init__(self, salt):
            self.inner = accel.ChainChecker(salt, audit_chain.PAYLOAD_PIECES, audit_chain.PAYLOAD_KINDS,
                                            audit_chain.SAFE_STRING_BYTES)

        def check(self, *args):
            answer = self.inner.check(*args)
            calls.append(answer)
            return answer

    monkeypatch.setattr(audit_chain, "compiled_checker", Counting)
    got = serial(path)
    assert got["valid"] is True and got["events_checked"] == 25
    assert calls == [True] * 25
