# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MCP Airlock audit hash chain, byte for byte.

Airlock hashes every audit event as
``lowercase hex(BLAKE3-256(salt_bytes || payload))`` where ``payload`` is Go's
``encoding/json`` output for a struct with 13 fields in a fixed order. The
``metadata`` column holds JSON text that Go pasted into the payload verbatim
(a ``json.RawMessage``), so it is never parsed and re-serialised here.

This module is the single implementation of that payload for the collection
(the audit modules verify with it) and for the lab (which writes with it). Both
are pinned by the Go encoder's own vectors in ``tests/unit``.

Only the standard library is needed to build payloads; hashing needs the
``blake3`` package, imported lazily so that importing this file never fails on
a target host without it.
"""

from __future__ import annotations

import math
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.optional import optional_import

_blake3, BLAKE3_IMPORT_ERROR = optional_import("blake3")
HAS_BLAKE3 = _blake3 is not None
#: The optional compiled checker (``extras/accel``): the fast path of the verifier in C, same answers.
_accel, ACCEL_IMPORT_ERROR = optional_import("airlock_incident_accel")

#: A text value as read from SQLite (bytes with ``CAST(... AS BLOB)``), or str, or NULL.
Text = t.Union[bytes, bytearray, str, None]

# Bytes that force the slow path: controls, quote, backslash, the HTML
# characters Go escapes, and every non-ASCII byte (which needs UTF-8 checks).
_NEEDS_WORK = re.compile(rb'[\x00-\x1f"\\<>&\x80-\xff]')

_SHORT_ESCAPES = {
    0x22: b'\\"',
    0x5C: b"\\\\",
    0x0A: b"\\n",
    0x0D: b"\\r",
    0x09: b"\\t",
    0x08: b"\\b",  # Go >= 1.22 (Go 1.19 wrote \u0008)
    0x0C: b"\\f",  # Go >= 1.22 (Go 1.19 wrote \u000c)
}


def _escape_table() -> t.Dict[int, bytes]:
    table = {}
    for code in range(0x20):
        table[code] = b"\\u%04x" % code
    table.update(_SHORT_ESCAPES)
    for char in b"<>&":
        table[char] = b"\\u%04x" % char
    return table


_ASCII_ESCAPES = _escape_table()
_REPLACEMENT = b"\\ufffd"


def _utf8_sequence_length(data: bytes, index: int) -> int:
    """Length of the valid UTF-8 sequence starting at ``index``, or 0 if invalid.

    Mirrors Go's ``utf8.DecodeRune``: overlong forms, surrogates and code points
    above U+10FFFF are invalid and consume exactly one byte.
    """
    first = data[index]
    size = len(data)
    if 0xC2 <= first <= 0xDF:
        need, low, high = 1, 0x80, 0xBF
    elif first == 0xE0:
        need, low, high = 2, 0xA0, 0xBF
    elif 0xE1 <= first <= 0xEC or 0xEE <= first <= 0xEF:
        need, low, high = 2, 0x80, 0xBF
    elif first == 0xED:
        need, low, high = 2, 0x80, 0x9F
    elif first == 0xF0:
        need, low, high = 3, 0x90, 0xBF
    elif 0xF1 <= first <= 0xF3:
        need, low, high = 3, 0x80, 0xBF
    elif first == 0xF4:
        need, low, high = 3, 0x80, 0x8F
    else:
        return 0
    if index + need >= size:
        return 0
    second = data[index + 1]
    if not low <= second <= high:
        return 0
    for offset in range(2, need + 1):
        if not 0x80 <= data[index + offset] <= 0xBF:
            return 0
    return need + 1


#: The ASCII bytes Go escapes; in valid UTF-8 without U+2028/U+2029 they are the only ones.
_ASCII_NEEDS_WORK = re.compile(rb'[\x00-\x1f"\\<>&]')
_LINE_SEPARATORS = (b"\xe2\x80\xa8", b"\xe2\x80\xa9")


def _escape_ascii(match: re.Match[bytes]) -> bytes:
    return _ASCII_ESCAPES[match.group()[0]]


def go_json_string(data: Text) -> bytes:
    """Encode ``data`` (bytes or str) as Go >= 1.22 ``encoding/json`` does, quotes included."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    elif data is None:
        data = b""
    else:
        data = bytes(data)
    if _NEEDS_WORK.search(data) is None:
        return b'"' + data + b'"'
    try:
        # Python's strict decoder refuses what Go's utf8.DecodeRune refuses (overlong forms,
        # surrogates, above U+10FFFF, cut sequences): valid text only needs its ASCII escapes.
        data.decode("utf-8")
    except UnicodeDecodeError:
        return go_json_string_bytewise(data)
    if _LINE_SEPARATORS[0] in data or _LINE_SEPARATORS[1] in data:
        return go_json_string_bytewise(data)
    return b'"' + _ASCII_NEEDS_WORK.sub(_escape_ascii, data) + b'"'


def go_json_string_bytewise(data: bytes) -> bytes:
    """``go_json_string`` byte by byte, as Go's encoder walks a string (any bytes, valid UTF-8 or not)."""
    out = bytearray(b'"')
    index = 0
    size = len(data)
    while index < size:
        byte = data[index]
        if byte < 0x80:
            escaped = _ASCII_ESCAPES.get(byte)
            if escaped is None:
                out.append(byte)
            else:
                out += escaped
            index += 1
            continue
        length = _utf8_sequence_length(data, index)
        if length == 0:
            out += _REPLACEMENT
            index += 1
            continue
        sequence = data[index:index + length]
        if sequence == b"\xe2\x80\xa8":
            out += b"\\u2028"
        elif sequence == b"\xe2\x80\xa9":
            out += b"\\u2029"
        else:
            out += sequence
        index += length
    out += b'"'
    return bytes(out)


def _go_float(value: float) -> bytes:
    """Format a float as Go's encoding/json does: shortest digits, 'f' form unless
    the exponent is < -6 or >= 21, where it uses 'e' form with e-7/e+21 exponents."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError("json: unsupported value: %r" % value)
    if value == 0:
        return b"-0" if math.copysign(1.0, value) < 0 else b"0"
    sign = "-" if value < 0 else ""
    # repr() gives the shortest round-tripping digits, as Go's strconv does.
    text = repr(abs(value))
    mantissa, _e, exponent_text = text.partition("e")
    exponent = int(exponent_text) if exponent_text else 0
    integer, _dot, fraction = mantissa.partition(".")
    digits = (integer + fraction).lstrip("0")
    # decimal point position relative to the start of ``digits``
    point = len(integer) + exponent - (len(integer + fraction) - len((integer + fraction).lstrip("0")))
    digits = digits.rstrip("0") or "0"
    decimal_exponent = point - 1  # value = 0.d1d2... * 10**point = d1.d2... * 10**(point-1)
    magnitude = abs(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        head, tail = digits[0], digits[1:]
        body = head + ("." + tail if tail else "")
        exp_sign = "-" if decimal_exponent < 0 else "+"
        return ("%s%se%s%d" % (sign, body, exp_sign, abs(decimal_exponent))).encode("ascii")
    if point <= 0:
        body = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        body = digits + "0" * (point - len(digits))
    else:
        body = digits[:point] + "." + digits[point:]
    return (sign + body).encode("ascii")


def go_json_value(value: t.Any) -> bytes:
    """Encode a Python value as Go's ``json.Marshal`` would encode the same Go value.

    Maps are written with sorted keys (Go sorts map keys), compact, HTML-escaped.
    Used by the lab to produce metadata text exactly as Airlock stores it.
    """
    if value is None:
        return b"null"
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, (str, bytes, bytearray)):
        return go_json_string(value)
    if isinstance(value, dict):
        items = sorted((str(key), item) for key, item in value.items())
        return b"{" + b",".join(go_json_string(key) + b":" + go_json_value(item) for key, item in items) + b"}"
    if isinstance(value, (list, tuple)):
        return b"[" + b",".join(go_json_value(item) for item in value) + b"]"
    raise TypeError("json: unsupported type: %s" % type(value).__name__)


def _int_bytes(value: t.Any) -> bytes:
    return str(int(value or 0)).encode("ascii")


def build_payload(event_id: Text, timestamp: t.Any, correlation_id: Text, tenant: Text, subject: Text,
                  action: Text, resource: Text, decision: Text, reason: Text, metadata: Text,
                  previous_hash: Text, latency_ms: t.Any, redaction_count: t.Any) -> bytes:
    """The exact bytes Airlock hashes for one event.

    Text arguments may be bytes (as read from SQLite with ``CAST(... AS BLOB)``)
    or str. ``metadata`` is the stored JSON text; SQL NULL is written as ``null``.
    """
    if metadata is None or metadata == b"" or metadata == "":
        metadata_bytes = b"null"
    elif isinstance(metadata, str):
        metadata_bytes = metadata.encode("utf-8", "surrogateescape")
    else:
        metadata_bytes = bytes(metadata)
    return b"".join((
        b'{"id":', go_json_string(event_id),
        b',"timestamp":', _int_bytes(timestamp),
        b',"correlation_id":', go_json_string(correlation_id),
        b',"tenant":', go_json_string(tenant),
        b',"subject":', go_json_string(subject),
        b',"action":', go_json_string(action),
        b',"resource":', go_json_string(resource),
        b',"decision":', go_json_string(decision),
        b',"reason":', go_json_string(reason),
        b',"metadata":', metadata_bytes,
        b',"previous_hash":', go_json_string(previous_hash),
        b',"latency_ms":', _int_bytes(latency_ms),
        b',"redaction_count":', _int_bytes(redaction_count),
        b"}",
    ))


def parse_salt(salt_hex: t.Union[bytes, str, None]) -> bytes:
    """Decode the ``hasher_salt`` metadata value; raises ValueError when malformed."""
    if isinstance(salt_hex, bytes):
        salt_hex = salt_hex.decode("ascii", "replace")
    salt_hex = (salt_hex or "").strip()
    if len(salt_hex) != 64 or salt_hex.lower() != salt_hex:
        raise ValueError("hasher_salt must be 64 lowercase hex characters, got %d characters" % len(salt_hex))
    return bytes.fromhex(salt_hex)


def event_hash(salt: bytes, payload: bytes) -> str:
    """``lowercase hex(BLAKE3-256(salt || payload))``. Requires the blake3 package."""
    if not HAS_BLAKE3:
        raise RuntimeError("the blake3 Python package is required to compute Airlock audit hashes")
    hasher = _blake3.blake3(salt)
    hasher.update(payload)
    return hasher.hexdigest()


# -- fast path ----------------------------------------------------------------
#: The payload with every field in place, for ``bytes % tuple`` formatting. Valid
#: only when no text field needs escaping (see ``fast_payload``).
PAYLOAD_TEMPLATE = (
    b'{"id":"%s","timestamp":%d,"correlation_id":"%s","tenant":"%s","subject":"%s",'
    b'"action":"%s","resource":"%s","decision":"%s","reason":"%s","metadata":%s,'
    b'"previous_hash":"%s","latency_ms":%d,"redaction_count":%d}'
)

#: Bytes Go's encoder writes unchanged: printable ASCII except ``"`` ``\\`` ``<`` ``>`` ``&``.
#: ``text.translate(None, SAFE_STRING_BYTES)`` is empty exactly when ``text``
#: needs no escaping (one C-level pass, much cheaper than the general encoder).
SAFE_STRING_BYTES = bytes(byte for byte in range(0x20, 0x7F) if byte not in b'"\\<>&')


#: PAYLOAD_TEMPLATE cut at its fields, and each field's kind for the compiled checker: ``s`` a text field
#: (written only when it needs no escaping), ``d`` an integer, ``r`` the metadata (raw JSON, ``null`` when
#: NULL or empty).
PAYLOAD_PIECES = tuple(re.split(rb"%[sd]", PAYLOAD_TEMPLATE))
PAYLOAD_KINDS = "".join("r" if piece.endswith(b'"metadata":') else kind.decode("ascii")
                        for piece, kind in zip(PAYLOAD_PIECES, re.findall(rb"%([sd])", PAYLOAD_TEMPLATE)))


def compiled_checker(salt: bytes) -> t.Any:
    """The compiled row checker for ``salt`` when ``airlock_incident_accel`` is installed, else None.

    ``checker.check(event_id, timestamp, correlation_id, tenant, subject, action, resource, decision, reason,
    metadata, previous_hash, latency_ms, redaction_count, stored)`` is True when the row is the common case
    (the fast path of :func:`fast_payload`) and its salted BLAKE3 equals ``stored``; False when it is the
    common case and does not; None when it is not the common case, which the Python path then handles.
    Its answers are the Python path's (tests/unit/plugins/module_utils/test_audit_accel.py compares them on generated rows).
    """
    if _accel is None:
        return None
    return _accel.ChainChecker(salt, PAYLOAD_PIECES, PAYLOAD_KINDS, SAFE_STRING_BYTES)


def fast_payload(event_id: t.Any, timestamp: t.Any, correlation_id: t.Any, tenant: t.Any, subject: t.Any,
                 action: t.Any, resource: t.Any, decision: t.Any, reason: t.Any, metadata: t.Any,
                 previous_hash: t.Any, latency_ms: t.Any, redaction_count: t.Any) -> t.Optional[bytes]:
    """``build_payload`` for the common row, or None when the fast path does not apply.

    Applies when the nine text fields are bytes with nothing to escape and the
    three numbers are ints; the result is then byte-identical to
    ``build_payload``. The verifier inlines the same test in its loop.
    """
    texts = (event_id, correlation_id, tenant, subject, action, resource, decision, reason, previous_hash)
    try:
        if b"|".join(texts).translate(None, SAFE_STRING_BYTES):
            return None
        if not (isinstance(timestamp, int) and isinstance(latency_ms, int) and isinstance(redaction_count, int)):
            return None
        if metadata is not None and not isinstance(metadata, bytes):
            return None
        return PAYLOAD_TEMPLATE % (event_id, timestamp, correlation_id, tenant, subject, action, resource,
                                   decision, reason, metadata or b"null", previous_hash, latency_ms,
                                   redaction_count)
    except TypeError:
        return None
