# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Durations and timestamps as Airlock and incident responders write them.

* ``parse_go_duration`` accepts exactly what Go's ``time.ParseDuration`` accepts
  (``720h``, ``1h30m``, ``1.5s``, ``300ms``); Airlock's config uses it, so
  ``30d`` is refused here as Airlock refuses it at start.
* ``parse_window`` accepts the look-back windows responders type (``2h``,
  ``30m``, ``7d``, ``1w``): a Go duration or whole days/weeks.
* ``parse_rfc3339_ns`` turns an RFC 3339 timestamp into Unix nanoseconds, the
  unit of ``audit_events.timestamp``.
"""

from __future__ import annotations

import datetime
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

NS = {
    "ns": 1,
    "us": 1000,
    "\u00b5s": 1000,
    "\u03bcs": 1000,
    "ms": 1000 * 1000,
    "s": 1000 * 1000 * 1000,
    "m": 60 * 1000 * 1000 * 1000,
    "h": 3600 * 1000 * 1000 * 1000,
}

_GO_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_WINDOW = re.compile(r"^(\d+)(d|w)$")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


#: Nanosecond values (durations, Unix times) are 64-bit signed integers, as in Go and SQLite.
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
#: The longest window parse_window accepts, in days (Go's longest duration, about 292 years).
MAX_WINDOW_DAYS = INT64_MAX // (86400 * 1000 * 1000 * 1000)
#: The Unix-nanosecond range as RFC 3339 text, for messages.
NS_RANGE_TEXT = "1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z"


class DurationError(InputError):
    """A duration or timestamp that cannot be parsed."""


def check_ns_range(field: str, value: int) -> int:
    """``value`` (Unix nanoseconds) when it fits 64 bits; DurationError naming ``field`` and the range."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise DurationError("%s: out of range; accepted values: times from %s (Unix nanoseconds in 64 bits)"
                            % (field, NS_RANGE_TEXT))
    return value


def check_number(field: str, value: t.Any, low: float, high: float, unit: str = "") -> t.Any:
    """``value`` when it is a finite number with ``low <= value <= high``; InputError naming the field and range.

    Refuses inf, nan and values no 64-bit or C ``int`` consumer (SQLite, sockets, ``time.sleep``) can hold,
    before anything is opened.
    """
    shown = "%g" % value if isinstance(value, float) else repr(value)
    try:
        fits = low <= value <= high
    except TypeError:
        fits = False
    if isinstance(value, bool) or not fits:
        raise InputError("%s: invalid value %s; accepted values: %s to %s%s"
                         % (field, shown, _plain(low), _plain(high), " " + unit if unit else ""))
    return value


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else "%g" % number


def parse_go_duration(text: str) -> int:
    """Nanoseconds for a Go duration string, raising DurationError like time.ParseDuration."""
    if not isinstance(text, str):
        raise DurationError("time: invalid duration %r (must be a string such as \"720h\")" % (text,))
    original = text
    sign = 1
    if text and text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise DurationError('time: invalid duration "%s"' % original)
    total = 0
    pos = 0
    while pos < len(text):
        match = _GO_PART.match(text, pos)
        if not match:
            partial = re.match(r"[\d.]*([^\d.]*)", text[pos:])
            unit = partial.group(1) if partial else ""
            if unit and not re.match(r"[\d.]", text[pos:]):
                raise DurationError('time: invalid duration "%s"' % original)
            if unit:
                raise DurationError('time: unknown unit "%s" in duration "%s"' % (unit.split()[0][:8], original))
            raise DurationError('time: missing unit in duration "%s"' % original)
        number, unit = match.group(1), match.group(2)
        if "." in number:
            whole, frac = number.split(".")
            value = int(whole or "0") * NS[unit]
            if frac:
                value += int(frac) * NS[unit] // (10 ** len(frac))
        else:
            value = int(number) * NS[unit]
        total += value
        pos = match.end()
    if total > (1 << 63) - 1:
        raise DurationError('time: invalid duration "%s"' % original)
    return sign * total


def is_go_duration(text: t.Any) -> bool:
    try:
        parse_go_duration(text)
    except DurationError:
        return False
    return True


def parse_window(text: str) -> int:
    """Nanoseconds for a look-back window: a positive Go duration or N days/weeks."""
    if not isinstance(text, str) or not text.strip():
        raise DurationError("invalid duration %r: use forms such as 30m, 2h, 7d" % (text,))
    text = text.strip()
    match = _WINDOW.match(text)
    if match:
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        value = days * 86400 * NS["s"]
    else:
        try:
            value = parse_go_duration(text)
        except DurationError:
            raise DurationError("invalid duration %r: use forms such as 30m, 2h, 7d" % (text,))
    if value <= 0:
        raise DurationError("invalid duration %r: it must be greater than zero" % (text,))
    if value > INT64_MAX:
        raise DurationError("invalid duration %r: out of range; accepted values: up to %dd (about 292 years)"
                            % (text, MAX_WINDOW_DAYS))
    return value


def parse_rfc3339_ns(text: str) -> int:
    """Unix nanoseconds for an RFC 3339 timestamp (``2026-11-28T16:00:00Z``)."""
    match = _RFC3339.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise DurationError("invalid RFC 3339 timestamp %r: use a form such as 2026-11-28T16:00:00Z" % (text,))
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    zone = match.group(8)
    try:
        if zone in ("Z", "z"):
            tz = datetime.timezone.utc
        else:
            offset = int(zone[1:3]) * 60 + int(zone[4:6])
            tz = datetime.timezone(datetime.timedelta(minutes=offset if zone[0] == "+" else -offset))
        moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)
        seconds = (moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(seconds=1)
    except (ValueError, OverflowError) as exc:
        raise DurationError("invalid RFC 3339 timestamp %r: %s; accepted values: years 0001 to 9999" % (text, exc))
    nanos = int((fraction[1:] + "000000000")[:9]) if fraction else 0
    return seconds * NS["s"] + nanos
