# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Timestamps of log lines and the time buckets signals are counted in.

A line's time is RFC 3339 at the start of the line (as ``kubectl logs
--timestamps`` and zap's console encoder write it), or a zap JSON ``ts``,
``timestamp`` or ``time`` field as epoch seconds (ms/us/ns for larger numbers)
or RFC 3339 text.
"""

from __future__ import annotations

import math
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.durations import (
    DurationError,
    parse_rfc3339_ns,
    parse_window,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError

#: Used with match() at a line's first byte (so no ``^``: a chunk holds many lines).
_LINE_TS = re.compile(
    rb"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|z|[+-]\d{2}:?\d{2})[ \t]"
)
_JSON_TS_NUM = re.compile(rb'"(?:ts|timestamp|time)"[ \t]*:[ \t]*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)[,} \t]')
_JSON_TS_STR = re.compile(
    rb'"(?:ts|timestamp|time)"[ \t]*:[ \t]*"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|z|[+-]\d{2}:?\d{2})"'
)
#: Unix seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the times RFC 3339 text can show.
MIN_SECONDS = -62135596800
MAX_SECONDS = 253402300799


class DamagedTimestamp(AirlockIncidentError, ValueError):
    """A line's timestamp that is no time: infinite, not a number, or outside years 1 to 9999 (the scan reports
    the line in ``damaged_lines`` and goes on)."""


def _in_range(seconds: int) -> int:
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise DamagedTimestamp("timestamp out of range (years 1 to 9999)")
    return seconds


_TS_CACHE: t.Dict[t.Tuple[bytes, bytes, bytes], t.Union[int, bool]] = {}


def _rfc3339_seconds(date: bytes, clock: bytes, zone: bytes) -> t.Union[int, bool]:
    key = (date, clock, zone)
    cached = _TS_CACHE.get(key)
    if cached is not None:
        return cached
    zone_text = zone.decode("ascii")
    if zone_text not in ("Z", "z") and ":" not in zone_text:
        zone_text = zone_text[:3] + ":" + zone_text[3:]
    try:
        seconds = parse_rfc3339_ns("%sT%s%s" % (date.decode("ascii"), clock.decode("ascii"), zone_text)) // 10 ** 9
    except DurationError:
        seconds = False
    if len(_TS_CACHE) > 100000:
        _TS_CACHE.clear()
    _TS_CACHE[key] = seconds
    return seconds


def line_epoch_seconds(line: bytes, start: int = 0, end: t.Optional[int] = None) -> t.Optional[int]:
    """Unix seconds of the timestamp of the line ``line[start:end]``, or None when it has none we recognise.

    DamagedTimestamp when it has one that is no time (``1e400``, year 10000 after its offset).
    """
    if end is None:
        end = len(line)
    match = _LINE_TS.match(line, start, end)
    if match:
        seconds = _rfc3339_seconds(match.group(1), match.group(2), match.group(3))
        return _in_range(seconds) if seconds is not False else None
    match = _JSON_TS_NUM.search(line, start, end)
    if match:
        value = float(match.group(1))
        if not math.isfinite(value):
            raise DamagedTimestamp("timestamp %s is not a finite number" % match.group(1)[:32].decode("ascii"))
        # Integers this large are ms/us/ns since the epoch (audit exports use ns).
        if value >= 1e17:
            value /= 1e9
        elif value >= 1e14:
            value /= 1e6
        elif value >= 1e11:
            value /= 1e3
        return _in_range(int(value))
    match = _JSON_TS_STR.search(line, start, end)
    if match:
        seconds = _rfc3339_seconds(match.group(1), match.group(2), match.group(3))
        return _in_range(seconds) if seconds is not False else None
    return None


def parse_bucket(text: str) -> int:
    """Seconds in a bucket duration such as ``5m``, ``1h``, ``1d``; DurationError when invalid."""
    try:
        nanos = parse_window(text)
    except DurationError as exc:
        raise DurationError(
            "bucket: invalid duration %r; accepted values: a positive whole number of seconds written as a "
            "Go duration or days/weeks, for example 30s, 5m, 1h, 1h30m, 1d, 1w" % (text,)
        ) from exc
    if nanos % 10 ** 9:
        raise DurationError(
            "bucket: invalid duration %r; accepted values: a whole number of seconds (at least 1s), "
            "for example 30s, 5m, 1h, 1d" % (text,)
        )
    return nanos // 10 ** 9
