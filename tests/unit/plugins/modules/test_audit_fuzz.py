# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property-based tests of the audit entry points (issue #16).

Hypothesis generates option values (text, huge numbers, inf/nan, odd
timestamps); the contract is: the module succeeds, or it fails with a message
that names one of the options it was given; never an uncaught exception.
"""

from __future__ import annotations

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit.query import QUERIES
from ansible_collections.airlock.incident.plugins.module_utils.core import durations
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError
from ansible_collections.airlock.incident.plugins.modules import audit_query, audit_verify
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("blake3")
st = hypothesis.strategies
given = hypothesis.given
settings = hypothesis.settings(max_examples=60, deadline=None, derandomize=True)

ODD_TIMES = ["1000000d", "106751d", "106752d", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
             "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59", "10000-01-01T00:00:00Z",
             "2026-01-01T00:00:00Z", "2026-01-01T00:00:05.5Z", "2262-04-11T23:47:16.854775808Z",
             "1677-09-21T00:12:43.145224191Z", "2h", "-2h", "0", "1e400", "inf", "nan", "", " ",
             "99999999999999999999h", "1.5s", "7d", "1w", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z"]
texts = st.one_of(st.text(max_size=24), st.sampled_from(ODD_TIMES))
#: Values for ``type: float`` options; ``type: int`` options get :data:`integers` (``inf``/``nan``, which
#: crash ansible-core 2.19's check_type_int, are refused by AirlockModule first).
numbers = st.one_of(
    st.integers(min_value=-10 ** 30, max_value=10 ** 30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["inf", "-inf", "nan", "1e12", "1e400", "-1", "0", "abc", 2147483, 2147484,
                     2 ** 63 - 2, 2 ** 63 - 1, 2 ** 63]),
)
integers = st.one_of(
    st.integers(min_value=-10 ** 30, max_value=10 ** 30),
    st.sampled_from(["1e12", "-1", "0", "abc", "1.5", 2147483, 2 ** 63 - 2, 2 ** 63 - 1, 2 ** 63, "inf", "-inf",
                     "nan", "1e400", "1e999999999", float("inf"), float("nan")]),
)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "audit.db"
    factory.build_db(path, events=8)
    return path


def assert_contract(result, args):
    if not result.get("failed"):
        return
    msg = result.get("msg", "")
    assert "Traceback" not in msg
    assert any(name in msg for name in args), "failure names no option: %r for %r" % (msg, args)


@settings
@given(args=st.fixed_dictionaries(
    {"query": st.sampled_from(QUERIES)},
    optional={"since": texts, "start": texts, "end": texts, "limit": integers, "busy_timeout": numbers,
              "subject": st.text(max_size=8), "admin_patterns": st.lists(st.text(max_size=6), max_size=3)}))
def test_audit_query_succeeds_or_names_a_field(db_path, args):
    args = dict(args, path=str(db_path))
    assert_contract(factory.run_module(audit_query.main, args), args)


@settings
@given(args=st.fixed_dictionaries(
    {},
    optional={"expected_head": st.one_of(st.text(max_size=70), st.sampled_from(["a" * 64, "A" * 64, "g" * 64])),
              "expected_events": integers, "max_problems": integers, "busy_timeout": numbers}))
def test_audit_verify_succeeds_or_names_a_field(db_path, args):
    args = dict(args, path=str(db_path))
    assert_contract(factory.run_module(audit_verify.main, args), args)


@settings
@given(text=texts)
def test_durations_parse_or_refuse_with_an_input_error(text):
    for parse in (durations.parse_window, durations.parse_rfc3339_ns, durations.parse_go_duration):
        try:
            value = parse(text)
        except InputError:
            continue
        assert isinstance(value, int)


@settings
@given(value=numbers)
def test_number_checks_refuse_with_an_input_error(value):
    try:
        checked = durations.check_number("busy_timeout", value, 0, 2147483, "seconds")
    except InputError as exc:
        assert exc.msg.startswith("busy_timeout:") and "0 to 2147483 seconds" in exc.msg
    else:
        assert 0 <= checked <= 2147483
