# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 3339 text of nanosecond times (core/timefmt.py): the fast path writes what datetime writes."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
INT64 = 2 ** 63


def by_datetime(nanoseconds, precision="ns"):
    """The reference: datetime arithmetic and strftime, as format_ns wrote every value before."""
    seconds, nanos = divmod(nanoseconds, 10 ** 9)
    base = (EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos and precision == "ns":
        return "%s.%sZ" % (base, ("%09d" % nanos).rstrip("0"))
    return base + "Z"


@pytest.mark.parametrize("nanoseconds, expected", [
    (0, "1970-01-01T00:00:00Z"),
    (1, "1970-01-01T00:00:00.000000001Z"),
    (1795860000012775130, "2026-11-28T10:00:00.01277513Z"),
    (951782400 * 10 ** 9, "2000-02-29T00:00:00Z"),
    (-1, "1969-12-31T23:59:59.999999999Z"),
    (INT64 - 1, "2262-04-11T23:47:16.854775807Z"),
    (-INT64, "1677-09-21T00:12:43.145224192Z"),
    (253402300799 * 10 ** 9, "9999-12-31T23:59:59Z"),
])
def test_known_values(nanoseconds, expected):
    assert format_ns(nanoseconds) == expected
    assert format_ns(nanoseconds, "s") == expected.split(".")[0].rstrip("Z") + "Z"


def test_past_year_9999_is_refused_as_before():
    with pytest.raises(OverflowError):
        format_ns(253402300800 * 10 ** 9)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.integers(min_value=-INT64, max_value=INT64 - 1),
                 st.integers(min_value=0, max_value=253402300799 * 10 ** 9 + 999999999)),
       st.sampled_from(["ns", "s"]))
def test_every_sqlite_integer_is_written_as_datetime_writes_it(nanoseconds, precision):
    assert format_ns(nanoseconds, precision) == by_datetime(nanoseconds, precision)
