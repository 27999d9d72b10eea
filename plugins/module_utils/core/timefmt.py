# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time stamps as every module writes them: RFC 3339 UTC text and file-name stamps."""

from __future__ import annotations

import datetime
import time
import typing as t

NS_PER_SECOND = 10 ** 9
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
#: 10000-01-01T00:00:00Z: seconds from 0 up to this one are written from ``time.gmtime`` (several times
#: faster than datetime, the same text); others go through datetime, which refuses years past 9999.
_FAST_END = 253402300800


@t.overload
def format_ns(nanoseconds: int, precision: str = "ns") -> str: ...


@t.overload
def format_ns(nanoseconds: None, precision: str = "ns") -> None: ...


def format_ns(nanoseconds: t.Optional[int], precision: str = "ns") -> t.Optional[str]:
    """RFC 3339 UTC text for Unix nanoseconds, ``None`` for ``None``.

    ``precision="ns"`` keeps the fraction when there is one
    (``2026-01-01T00:00:00.000000001Z``); ``precision="s"`` drops it
    (``2026-01-01T00:00:00Z``), for values that are compared as text.
    """
    if nanoseconds is None:
        return None
    if precision not in ("ns", "s"):
        raise ValueError("precision: invalid value %r; accepted values: ns, s" % (precision,))
    seconds, nanos = divmod(int(nanoseconds), NS_PER_SECOND)
    if 0 <= seconds < _FAST_END:
        base = "%04d-%02d-%02dT%02d:%02d:%02d" % time.gmtime(seconds)[:6]
    else:
        base = (_EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos and precision == "ns":
        return "%s.%sZ" % (base, ("%09d" % nanos).rstrip("0"))
    return base + "Z"


def utc_now() -> datetime.datetime:
    """The current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def utc_stamp(moment: t.Optional[datetime.datetime] = None, fraction: bool = True) -> str:
    """A sortable stamp for file names: ``20261128T163501.123456Z`` (``20261128T163501Z`` without ``fraction``)."""
    moment = (moment or utc_now()).astimezone(datetime.timezone.utc)
    if fraction:
        return moment.strftime("%Y%m%dT%H%M%S.") + "%06dZ" % moment.microsecond
    return moment.strftime("%Y%m%dT%H%M%SZ")
