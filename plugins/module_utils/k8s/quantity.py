# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes resource quantities (``512Mi``, ``1Gi``, ``500m``, ``2``, ``1e3``), exactly.

Implements the grammar of ``k8s.io/apimachinery/pkg/api/resource.Quantity``::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | +<number> | -<number>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

Values are kept as :class:`fractions.Fraction` (no float rounding), so
``1024Mi == 1Gi`` and ``0.5 == 500m`` compare equal. :func:`canonical` gives
the form the API server stores (``1024Mi`` -> ``1Gi``, ``1000m`` -> ``1``,
``0.5`` -> ``500m``, ``1e3`` -> ``1e3``), following ``Quantity.CanonicalizeBytes``.
"""

from __future__ import annotations

import re
from fractions import Fraction
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

BINARY_SI = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
DECIMAL_SUFFIX = dict((v, k) for k, v in DECIMAL_SI.items())
BINARY_SUFFIX = dict([(0, "")] + [(v, k) for k, v in BINARY_SI.items()])

#: Formats, as Kubernetes names them.
BINARY = "BinarySI"
DECIMAL = "DecimalSI"
EXPONENT = "DecimalExponent"

#: Largest decimal exponent accepted (|e| <= 30); Kubernetes itself has no use for more.
MAX_EXPONENT = 30

_NUMBER = re.compile(r"^([+-]?)([0-9]+\.?[0-9]*|\.[0-9]+)(.*)$")
_EXPONENT = re.compile(r"^[eE]([+-]?[0-9]+)$")

#: What the accepted forms look like, for error messages.
FORMS = "a Kubernetes quantity such as 500m, 0.5, 2, 128Mi, 1Gi, 1.5Gi, 1G, 1e9 (suffixes n u m k M G T P E, Ki Mi Gi Ti Pi Ei, e<N>)"
#: The largest amount the API server can hold (int64); larger values are silently clamped by it.
MAX_VALUE = 2 ** 63 - 1
#: Resource names whose values are counted in whole bytes.
BYTE_RESOURCES = ("memory", "ephemeral-storage")


class QuantityError(InputError):
    """A string that is not a Kubernetes quantity, or a value a field does not accept."""


class Quantity:
    """An exact quantity: ``value`` (Fraction) and the ``format`` its suffix implies."""

    __slots__ = ("value", "format", "text")

    def __init__(self, value: t.Union[int, Fraction], fmt: str = DECIMAL, text: t.Optional[str] = None) -> None:
        self.value = Fraction(value)
        self.format = fmt
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def __gt__(self, other: Quantity) -> bool:
        return self.value > other.value

    def __ge__(self, other: Quantity) -> bool:
        return self.value >= other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return "Quantity(%r)" % (self.text or canonical_of(self),)

    def __str__(self) -> str:
        return canonical_of(self)


def to_text(value: t.Any) -> t.Optional[str]:
    """A YAML scalar (``2``, ``0.5``, ``"1Gi"``) as quantity text; None for booleans and other types."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if text not in ("inf", "-inf", "nan") else None
    if isinstance(value, str):
        return value
    return None


def parse(text: t.Any) -> Quantity:
    """Parse quantity text into a :class:`Quantity`; raise :class:`QuantityError` when it is not one."""
    raw = to_text(text)
    if raw is None:
        raise QuantityError("%r is not a quantity; accepted values: %s" % (text, FORMS))
    if not raw or raw != raw.strip():
        raise QuantityError("%r is not a quantity (empty or surrounded by spaces); accepted values: %s" % (raw, FORMS))
    match = _NUMBER.match(raw)
    if not match:
        raise QuantityError("%r is not a quantity; accepted values: %s" % (raw, FORMS))
    sign, number, suffix = match.groups()
    try:
        value = Fraction(number if not number.endswith(".") else number[:-1])
    except (ValueError, ZeroDivisionError) as exc:
        raise QuantityError("%r is not a quantity; accepted values: %s" % (raw, FORMS)) from exc
    if sign == "-":
        value = -value
    if suffix in BINARY_SI:
        return Quantity(value * (1024 ** BINARY_SI[suffix]), BINARY, raw)
    if suffix in DECIMAL_SI:
        return Quantity(value * Fraction(10) ** DECIMAL_SI[suffix], DECIMAL, raw)
    exp = _EXPONENT.match(suffix)
    if exp:
        power = int(exp.group(1))
        if abs(power) > MAX_EXPONENT:
            raise QuantityError("%r: exponent %d is out of range (at most e%d)" % (raw, power, MAX_EXPONENT))
        return Quantity(value * Fraction(10) ** power, EXPONENT, raw)
    raise QuantityError("%r has an unknown suffix %r; accepted values: %s" % (raw, suffix, FORMS))


def _round_up_nano(value: Fraction) -> Fraction:
    """Kubernetes keeps at most nano precision and rounds up (away from zero)."""
    scaled = value * 10 ** 9
    if scaled.denominator == 1:
        return value
    whole = -((-scaled.numerator) // scaled.denominator) if value > 0 else scaled.numerator // scaled.denominator
    return Fraction(whole, 10 ** 9)


def canonical_of(q: Quantity) -> str:
    """Canonical text of a :class:`Quantity`, as the API server stores it."""
    value = _round_up_nano(q.value)
    if value == 0:
        return "0"
    fmt = q.format
    if fmt == BINARY and (-1024 < value < 1024 or value.denominator != 1):
        fmt = DECIMAL
    sign = "-" if value < 0 else ""
    mag = abs(value)
    if fmt == BINARY:
        number = mag.numerator
        power = 0
        while number % 1024 == 0 and power < 6:
            number //= 1024
            power += 1
        return "%s%d%s" % (sign, number, BINARY_SUFFIX[power])
    # Decimal: integer mantissa, exponent a multiple of 3.
    exponent = 0
    while mag.denominator != 1:
        mag *= 10
        exponent -= 1
    mantissa = mag.numerator
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    extra = exponent % 3
    mantissa *= 10 ** extra
    exponent -= extra
    if fmt == EXPONENT:
        suffix = "e%d" % exponent if exponent else ""
    elif exponent in DECIMAL_SUFFIX:
        suffix = DECIMAL_SUFFIX[exponent]
    else:
        suffix = "e%d" % exponent
    return "%s%d%s" % (sign, mantissa, suffix)


def canonical(text: t.Any) -> str:
    """Canonical text of quantity text: ``canonical("1024Mi") == "1Gi"``."""
    return canonical_of(parse(text))


def equal(a: t.Any, b: t.Any) -> bool:
    """True when two quantity texts denote the same amount (None equals only None)."""
    if a is None or b is None:
        return a is None and b is None
    return parse(a) == parse(b)


def check_resource(field: str, resource: str, text: t.Any) -> Quantity:
    """Parse the value of a container resource and check it is usable for that resource.

    ``field`` names the option for the message (``limits.memory``). Returns the Quantity.
    """
    try:
        q = parse(text)
    except QuantityError as exc:
        raise QuantityError("%s: %s" % (field, exc)) from exc
    if q.value < 0:
        raise QuantityError("%s: %r is negative; accepted values: a quantity >= 0" % (field, q.text))
    if q.value > MAX_VALUE:
        raise QuantityError("%s: %r is larger than Kubernetes can store (2^63-1); accepted values: %s" % (field, q.text, FORMS))
    if resource == "cpu" and (q.value * 1000).denominator != 1:
        raise QuantityError("%s: %r is finer than 1m (one thousandth of a core), which Kubernetes cannot enforce; "
                            "accepted values: whole millicores such as 250m, 0.25, 1, 1.5" % (field, q.text))
    if resource in BYTE_RESOURCES and q.value.denominator != 1:
        raise QuantityError("%s: %r is not a whole number of bytes; accepted values: bytes or Ki/Mi/Gi "
                            "(e.g. 512Mi, 1Gi, 1.5Gi) or k/M/G (e.g. 500M)" % (field, q.text))
    return q
