# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sensitive-data patterns, validators, masking and the log scanning engine.

One definition of every pattern serves three engines, so that their answers
can be compared line for line:

* the pure-Python reference engine (``engine="re"``): every line, every
  pattern, with :mod:`re` on bytes. Straightforward, always available, slow
  (tens of MB/s on digit-dense logs);
* the hyperscan engine (``engine="hyperscan"``): hyperscan scans large chunks
  in block mode for cheap *trigger* expressions (each a necessary condition of
  its pattern, built so that it reports few matches) and for the signal
  expressions themselves; only the patterns that fired on a line are run on it,
  by the same Python extraction, validation and masking code as the reference
  engine;
* ``grep -E`` in the benchmarks (:func:`ere`), to prove the candidate line
  counts are the ones a responder would get by hand.

Patterns are written in the subset of syntax the three understand alike:
capturing groups only, explicit character classes, ``\\b``, bounded
repeats; ``\\t``/``\\r``/``\\n`` escapes are rewritten for ``grep``. Nothing
in a pattern can match a newline, so a match never spans lines.

A *finding* is a match that passes its validator (Luhn for card numbers,
SSN area/group/serial rules, a JSON header for JWTs, no placeholder for
passwords). Findings are reported as counts and ``file:line`` locations and,
for samples, masked: the secret itself never leaves this module.

*Signals* are lines that show an HTTP 401, an HTTP 403 or an Airlock
``security_violation``; they are counted per time bucket, taken from the
line's timestamp (RFC 3339 at the start of the line, as ``kubectl logs
--timestamps`` and zap's console encoder write it, or a zap JSON ``ts``
field as float epoch seconds or RFC 3339 text).
"""

from __future__ import annotations

import base64
import glob
import gzip
import json
import os
import re

from ansible_collections.airlock.incident.plugins.module_utils.core.durations import (
    DurationError,
    parse_rfc3339_ns,
    parse_window,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns

try:
    import hyperscan as _hyperscan

    HAS_HYPERSCAN = True
    HYPERSCAN_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - exercised on hosts without hyperscan
    _hyperscan = None
    HAS_HYPERSCAN = False
    HYPERSCAN_IMPORT_ERROR = _exc

#: Bytes read per chunk; chunks are cut at a newline.
CHUNK_SIZE = 16 * 1024 * 1024
ELLIPSIS = u"\u2026"
UNKNOWN_BUCKET = "unknown"
GZIP_MAGIC = b"\x1f\x8b"


def _ci(word):
    """A case-insensitive spelling of ``word`` built from character classes."""
    out = []
    for char in word:
        if char.isalpha():
            out.append("[%s%s]" % (char.upper(), char.lower()))
        else:
            out.append(char)
    return "".join(out)


def _alt(*parts):
    return "(" + "|".join(parts) + ")"


# Pieces shared by several patterns (Python regex syntax, see ere() for grep).
#: Separator between a key and its value: ``=``, ``:``, JSON quotes, escaped JSON quotes.
_SEP = r"""\\?["']?[ \t]*[=:][ \t]*\\?["']?"""
#: One character of an unquoted or quoted value.
_VAL = r"""[^ \t\r\n"'\\,;&}]"""
_B64URL = r"[A-Za-z0-9_-]"

_PASSWORD_KEYS = _alt(
    *[_ci(k) for k in ("password", "passwd", "passphrase", "pwd", "secret_key", "secretkey", "secret",
                       "private_key")]
)
_PASSWORD = _PASSWORD_KEYS + _SEP + "(?P<v>" + _VAL + "+)"
_PASSWORD_TRIGGER = _PASSWORD_KEYS + _SEP + _VAL

_JWT = r"\beyJ" + _B64URL + r"+\.eyJ" + _B64URL + r"+\." + _B64URL + "*"
_JWT_TRIGGER = r"\beyJ" + _B64URL + r"+\.eyJ"

_BEARER_CLASS = "[A-Za-z0-9._~+/=-]"
_BEARER = r"\b" + _ci("bearer") + r"[ \t]+(?P<v>" + _BEARER_CLASS + "{16,})"
_BEARER_TRIGGER = r"\b" + _ci("bearer") + r"[ \t]+" + _BEARER_CLASS + "{16}"

_API_KEY_NAME = _ci("api") + "[_-]?" + _ci("key")
_API_KEY = _alt(
    r"\bsk-[A-Za-z0-9_-]{20,}",
    r"\b[rs]k_(live|test)_[A-Za-z0-9]{16,}",
    r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{36,}",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    r"\bAIza[0-9A-Za-z_-]{35}",
    _API_KEY_NAME + _SEP + "(?P<v>" + _VAL + "{8,})",
)
_API_KEY_TRIGGER = _alt(
    r"\bsk-[A-Za-z0-9_-]{20}",
    r"\b[rs]k_(live|test)_[A-Za-z0-9]{16}",
    r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{36}",
    r"\bxox[abprs]-[A-Za-z0-9-]{10}",
    r"\bAIza[0-9A-Za-z_-]{35}",
    _API_KEY_NAME + _SEP + _VAL + "{8}",
)

_EMAIL = r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
_EMAIL_TRIGGER = r"[A-Za-z0-9._%+-]@[A-Za-z0-9.-]+\.[A-Za-z]{2}"

_SSN = r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b"

# Card numbers start with 2-6 (Mastercard 2-series and 5, Amex/Diners/JCB 3, Visa 4,
# Discover 6): this keeps epoch timestamps in ms/ns (1...) out of the candidates.
_CREDIT_CARD = _alt(
    "[2-6][0-9]{12,18}",
    "[2-6][0-9]{3}( [0-9]{4}){3}",
    "[2-6][0-9]{3}(-[0-9]{4}){3}",
    "3[47][0-9]{2}[ -][0-9]{6}[ -][0-9]{5}",
)
_CREDIT_CARD = r"\b" + _CREDIT_CARD + r"\b"
#: Cheaper for hyperscan on digit-dense logs than the exact pattern (fixed lengths, no trailing
#: boundary): every card the pattern matches starts with one of these.
_CREDIT_CARD_TRIGGER = r"\b" + _alt(
    "[2-6][0-9]{12}",
    "[2-6][0-9]{3}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}",
    "3[47][0-9]{2}[ -][0-9]{6}[ -][0-9]{5}",
)

_STATUS_KEYS = r"\b" + _alt(*[_ci(k) for k in ("status_code", "statuscode", "http_status", "status", "code")])


def _status(code, reason_phrase, messages):
    alts = [
        _STATUS_KEYS + _SEP + code + r"\b",
        'HTTP/[0-9.]+"?' + r"[ \t]+" + code + r"\b",
        r"\b" + code + " " + reason_phrase + r"\b",
    ]
    alts.extend(messages)
    return _alt(*alts)


#: Airlock's own auth middleware logs these without a status code (pkg/auth/middleware.go).
_SIGNAL_401 = _status("401", "Unauthorized", ["Token validation failed", "Token extraction failed"])
_SIGNAL_403 = _status("403", "Forbidden", ["Insufficient permissions"])
_SIGNAL_SECURITY = _ci("security") + "[_ ]" + _ci("violation")


# ---------------------------------------------------------------- validators


def luhn_valid(digits):
    """True when the string of digits passes the Luhn check."""
    total = 0
    parity = len(digits) % 2
    for index, char in enumerate(digits):
        value = ord(char) - 48
        if value < 0 or value > 9:
            return False
        if index % 2 == parity:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _valid_card(text):
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _valid_ssn(text):
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_PLACEHOLDERS = frozenset(
    ("null", "none", "nil", "true", "false", "redacted", "[redacted]", "<redacted>", "hidden", "masked",
     "changeme_redacted", "undefined", "****", "xxxx", "$", "{", "[")
)


def _valid_secret_value(text):
    lowered = text.lower()
    if lowered in _PLACEHOLDERS or lowered.startswith(("[redacted", "${", "{{", "<redacted", "%(")):
        return False
    # Only masking characters: already redacted.
    return bool(text.strip("*xX#.\u2022"))


def _valid_jwt(text):
    header = text.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        value = json.loads(decoded.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(value, dict)


# ------------------------------------------------------------------- masking


def mask(value, keep=4):
    """``value`` reduced to a few leading characters and its length: ``eyJh…(312 chars)``.

    At most a quarter of the value is ever shown, and nothing of values shorter than 8 characters.
    """
    shown = min(keep, len(value) // 4) if len(value) >= 8 else 0
    return u"%s%s(%d chars)" % (value[:shown], ELLIPSIS, len(value))


def mask_card(value):
    """A card number with all but the first and last four digits starred: ``4111********1111``."""
    digits = value.replace(" ", "").replace("-", "")
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


class PatternSpec(object):
    """One sensitive-data pattern: regex, hyperscan trigger, validator, masker.

    ``literals``: lowercase byte strings of which at least one occurs in every
    line the regex matches (lowercased); the reference engine checks them
    before running the regex, which changes no answer and spares most lines.
    """

    def __init__(self, name, regex, trigger=None, validator=None, keep=4, masker=None, label=False, literals=None,
                 start_hint=None):
        self.name = name
        self.regex = regex
        self.trigger = trigger or regex
        self.validator = validator
        self.keep = keep
        self.masker = masker
        self.label = label
        self.literals = tuple(literals) if literals else None
        self.compiled = re.compile(regex.encode("ascii"))
        self._has_value_group = "v" in self.compiled.groupindex
        self.start_hint = start_hint

    def extract(self, buf, start, end, want_samples):
        """Findings in the line ``buf[start:end]`` (no newline inside; ``buf`` may be a whole chunk).

        Returns (validated findings, whether the regex matched at all, up to ``want_samples``
        masked findings). Matching with pos/endpos is matching the line alone: the byte before
        a line is a newline, and nothing in a pattern matches one.
        """
        valid = 0
        matched = False
        masked_list = []
        if self.start_hint is not None:
            start, end = self.start_hint(buf, start, end)
            if start < 0:
                return valid, matched, masked_list
        for match in self.compiled.finditer(buf, start, end):
            matched = True
            value = match.group("v") if self._has_value_group else None
            if value is None:
                value = match.group(0)
            value = value.decode("utf-8", "replace")
            if self.validator is not None and not self.validator(value):
                continue
            valid += 1
            if len(masked_list) < want_samples:
                if self.masker is not None:
                    masked = self.masker(value)
                else:
                    masked = mask(value, self.keep)
                if self.label:
                    masked = u"%s=%s" % (match.group(1).decode("ascii", "replace"), masked)
                masked_list.append(masked)
        return valid, matched, masked_list


_EMAIL_LOCAL_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-"
_EMAIL_DOMAIN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-"


def _email_span(buf, start, end):
    """Every email lies between the local-part run before the first '@' and the domain run after the last."""
    first_at = buf.find(b"@", start, end)
    if first_at < 0:
        return -1, end
    last_at = buf.rfind(b"@", start, end)
    return (start + len(buf[start:first_at].rstrip(_EMAIL_LOCAL_CHARS)),
            end - len(buf[last_at + 1:end].lstrip(_EMAIL_DOMAIN_CHARS)))


def _jwt_span(buf, start, end):
    return buf.find(b"eyJ", start, end), end


def _ssn_span(buf, start, end):
    dash = buf.find(b"-", start, end)
    if dash < 0:
        return -1, end
    return max(start, dash - 3), end


def _keyword_span(keywords):
    """Matches start at one of ``keywords`` (lowercase; matched case-insensitively)."""

    def span(buf, start, end):
        low = buf[start:end].lower()
        found = [p for p in (low.find(k) for k in keywords) if p >= 0]
        return (start + min(found) if found else -1), end

    return span


# start_hint: (lowest start, highest end) of any match in a line (start -1: no match possible), so
# the regex skips what cannot match; the same code runs in both engines.
PATTERNS = (
    PatternSpec("ssn", _SSN, validator=_valid_ssn, keep=0, literals=[b"-"], start_hint=_ssn_span),
    PatternSpec("credit_card", _CREDIT_CARD, trigger=_CREDIT_CARD_TRIGGER, validator=_valid_card, masker=mask_card),
    PatternSpec("password", _PASSWORD, trigger=_PASSWORD_TRIGGER, validator=_valid_secret_value, keep=0,
                label=True, literals=[b"passw", b"pwd", b"passphrase", b"secret", b"private_key"],
                start_hint=_keyword_span([b"passw", b"pwd", b"passphrase", b"secret", b"private_key"])),
    PatternSpec("jwt", _JWT, trigger=_JWT_TRIGGER, validator=_valid_jwt, literals=[b"eyj"], start_hint=_jwt_span),
    PatternSpec("bearer_token", _BEARER, trigger=_BEARER_TRIGGER, validator=_valid_secret_value,
                literals=[b"bearer"]),
    PatternSpec("api_key", _API_KEY, trigger=_API_KEY_TRIGGER, validator=_valid_secret_value,
                literals=[b"sk-", b"k_live_", b"k_test_", b"akia", b"asia", b"gh", b"xox", b"aiza", b"api"],
                start_hint=_keyword_span([b"sk-", b"rk_live_", b"sk_live_", b"rk_test_", b"sk_test_", b"akia",
                                          b"asia", b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"xox", b"aiza",
                                          b"api"])),
    PatternSpec("email", _EMAIL, trigger=_EMAIL_TRIGGER, keep=2, literals=[b"@"], start_hint=_email_span),
)
PATTERN_NAMES = tuple(p.name for p in PATTERNS)
_PATTERN_BY_NAME = dict((p.name, p) for p in PATTERNS)

#: Signal name -> regex (a line counts once per signal), and the literals one of which it needs.
SIGNALS = (
    ("401", _SIGNAL_401),
    ("403", _SIGNAL_403),
    ("security_violation", _SIGNAL_SECURITY),
)
SIGNAL_NAMES = tuple(name for name, _regex in SIGNALS)
_SIGNAL_RES = tuple((name, re.compile(regex.encode("ascii"))) for name, regex in SIGNALS)
_SIGNAL_LITERALS = (
    (b"401", b"token validation failed", b"token extraction failed"),
    (b"403", b"insufficient permissions"),
    (b"security",),
)


def ere(regex):
    """``regex`` rewritten for ``grep -E`` (GNU, ``LC_ALL=C``), which has no escapes inside brackets.

    ``\\t``/``\\r`` become the characters themselves, ``\\n`` disappears (grep
    never sees a newline inside a line), a backslash inside brackets stays a
    single literal backslash, ``(?P<v>`` becomes ``(``.
    """
    regex = regex.replace("(?P<v>", "(")
    out = []
    in_class = False
    index = 0
    while index < len(regex):
        char = regex[index]
        if char == "\\" and index + 1 < len(regex):
            nxt = regex[index + 1]
            index += 2
            if nxt == "t":
                out.append("\t")
            elif nxt == "r":
                out.append("\r")
            elif nxt == "n":
                if not in_class:
                    raise ValueError("newline outside a character class")
            elif in_class:
                out.append(nxt)
            else:
                out.append("\\" + nxt)
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            # A leading ^ or ] belongs to the class.
            if regex[index + 1:index + 2] == "^":
                out.append("^")
                index += 1
        elif char == "]" and in_class:
            in_class = False
            out.append(char)
        else:
            out.append(char)
        index += 1
    return "".join(out)


def hs_expression(regex):
    """``regex`` as a hyperscan expression (bytes): named groups become plain groups."""
    return regex.replace("(?P<v>", "(").encode("ascii")


def grep_expressions(names=None):
    """name -> ERE for the selected patterns and every signal (for ``grep -E -c``)."""
    out = {}
    for spec in PATTERNS:
        if names is None or spec.name in names:
            out[spec.name] = ere(spec.regex)
    for name, regex in SIGNALS:
        out["signal:" + name] = ere(regex)
    return out


# ---------------------------------------------------------------- timestamps

#: Used with match() at a line's first byte (so no ``^``: a chunk holds many lines).
_LINE_TS = re.compile(
    rb"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|z|[+-]\d{2}:?\d{2})[ \t]"
)
_JSON_TS_NUM = re.compile(rb'"(?:ts|timestamp|time)"[ \t]*:[ \t]*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)[,} \t]')
_JSON_TS_STR = re.compile(
    rb'"(?:ts|timestamp|time)"[ \t]*:[ \t]*"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|z|[+-]\d{2}:?\d{2})"'
)
_TS_CACHE = {}


def _rfc3339_seconds(date, clock, zone):
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


def line_epoch_seconds(line, start=0, end=None):
    """Unix seconds of the timestamp of the line ``line[start:end]``, or None when it has none we recognise."""
    if end is None:
        end = len(line)
    match = _LINE_TS.match(line, start, end)
    if match:
        seconds = _rfc3339_seconds(match.group(1), match.group(2), match.group(3))
        return seconds if seconds is not False else None
    match = _JSON_TS_NUM.search(line, start, end)
    if match:
        value = float(match.group(1))
        # Integers this large are ms/us/ns since the epoch (audit exports use ns).
        if value >= 1e17:
            value /= 1e9
        elif value >= 1e14:
            value /= 1e6
        elif value >= 1e11:
            value /= 1e3
        return int(value)
    match = _JSON_TS_STR.search(line, start, end)
    if match:
        seconds = _rfc3339_seconds(match.group(1), match.group(2), match.group(3))
        return seconds if seconds is not False else None
    return None


def parse_bucket(text):
    """Seconds in a bucket duration such as ``5m``, ``1h``, ``1d``; DurationError when invalid."""
    try:
        nanos = parse_window(text)
    except DurationError:
        raise DurationError(
            "bucket: invalid duration %r; accepted values: a positive whole number of seconds written as a "
            "Go duration or days/weeks, for example 30s, 5m, 1h, 1h30m, 1d, 1w" % (text,)
        )
    if nanos % 10 ** 9:
        raise DurationError(
            "bucket: invalid duration %r; accepted values: a whole number of seconds (at least 1s), "
            "for example 30s, 5m, 1h, 1d" % (text,)
        )
    return nanos // 10 ** 9


# --------------------------------------------------------------- the engine


class ScanError(Exception):
    """A scan that cannot start (bad pattern name, missing file)."""


class ScanResult(object):
    """Counts accumulated over every scanned file."""

    def __init__(self, names, bucket_seconds, max_locations):
        self.names = tuple(names)
        self.bucket_seconds = bucket_seconds
        self.max_locations = max_locations
        self.findings = dict((n, 0) for n in self.names)
        self.matched_lines = dict((n, 0) for n in self.names)
        self.candidate_lines = dict((n, 0) for n in self.names)
        self.locations = dict((n, []) for n in self.names)
        self.samples = dict((n, []) for n in self.names)
        self.signals = dict((n, {}) for n in SIGNAL_NAMES)
        self.signal_lines = dict((n, 0) for n in SIGNAL_NAMES)
        self.lines_scanned = 0
        self.bytes_scanned = 0
        self.files = []
        self.engine = None

    def as_dict(self):
        truncated = dict((n, self.matched_lines[n] > len(self.locations[n])) for n in self.names)
        return dict(
            engine=self.engine,
            findings=dict(self.findings),
            matched_lines=dict(self.matched_lines),
            candidate_lines=dict(self.candidate_lines),
            locations=dict((n, list(v)) for n, v in self.locations.items()),
            locations_truncated=truncated,
            samples=dict((n, list(v)) for n, v in self.samples.items()),
            signals=dict((n, dict(sorted(v.items()))) for n, v in self.signals.items()),
            signal_lines=dict(self.signal_lines),
            lines_scanned=self.lines_scanned,
            bytes_scanned=self.bytes_scanned,
            files=list(self.files),
            sensitive_data_found=any(self.findings.values()),
        )


class _LineProcessor(object):
    """Counting, shared by both engines: the same extraction (PatternSpec.extract), validation,
    masking and time buckets, whichever engine picked the lines."""

    def __init__(self, result, specs):
        self.result = result
        self.specs = specs
        self.bucket_seconds = result.bucket_seconds
        self._bucket_names = {}

    def bucket_of(self, buf, start, end):
        """The time bucket ('2026-11-28T10:00:00Z' or 'unknown') of the line ``buf[start:end]``."""
        seconds = line_epoch_seconds(buf, start, end)
        if seconds is None:
            return UNKNOWN_BUCKET
        first = seconds - seconds % self.bucket_seconds
        name = self._bucket_names.get(first)
        if name is None:
            name = format_ns(first * 10 ** 9, "s")
            self._bucket_names[first] = name
        return name

    def process(self, label, lineno, line):
        """Count one line (reference engine): every pattern and signal, each after a cheap
        test for a literal it needs."""
        result = self.result
        max_locations = result.max_locations
        low = line.lower()
        for spec in self.specs:
            if spec.literals is not None:
                for literal in spec.literals:
                    if literal in low:
                        break
                else:
                    continue
            name = spec.name
            locations = result.locations[name]
            samples = result.samples[name]
            room = max_locations - len(samples) if len(locations) < max_locations else 0
            valid, matched, masked = spec.extract(line, 0, len(line), room)
            if not matched:
                continue
            result.candidate_lines[name] += 1
            if not valid:
                continue
            result.findings[name] += valid
            result.matched_lines[name] += 1
            if len(locations) < max_locations:
                location = "%s:%d" % (label, lineno)
                locations.append(location)
                for item in masked:
                    samples.append(dict(location=location, masked=item))
        bucket = None
        for index, (name, regex) in enumerate(_SIGNAL_RES):
            for literal in _SIGNAL_LITERALS[index]:
                if literal in low:
                    break
            else:
                continue
            if regex.search(line) is None:
                continue
            if bucket is None:
                bucket = self.bucket_of(line, 0, len(line))
            counts = result.signals[name]
            counts[bucket] = counts.get(bucket, 0) + 1
            result.signal_lines[name] += 1

    def process_hot(self, label, chunk, hot, lines_before):
        """Count the hot lines of a chunk (hyperscan engine): the same extraction as process(),
        run on the chunk with pos/endpos instead of copying each line out."""
        result = self.result
        specs = self.specs
        max_locations = result.max_locations
        findings = result.findings
        matched_lines = result.matched_lines
        candidate_lines = result.candidate_lines
        signals = result.signals
        signal_lines = result.signal_lines
        position = 0
        before = lines_before
        count = chunk.count
        for start, end, pattern_idx, signal_idx in hot:
            for index in pattern_idx:
                spec = specs[index]
                name = spec.name
                locations = result.locations[name]
                room = max_locations - len(result.samples[name]) if len(locations) < max_locations else 0
                valid, matched, masked = spec.extract(chunk, start, end, room)
                if not matched:
                    continue
                candidate_lines[name] += 1
                if not valid:
                    continue
                findings[name] += valid
                matched_lines[name] += 1
                if len(locations) < max_locations:
                    before += count(b"\n", position, start)
                    position = start
                    location = "%s:%d" % (label, before + 1)
                    locations.append(location)
                    samples = result.samples[name]
                    for item in masked:
                        samples.append(dict(location=location, masked=item))
            if signal_idx:
                bucket = self.bucket_of(chunk, start, end)
                for index in signal_idx:
                    name = SIGNAL_NAMES[index]
                    counts = signals[name]
                    counts[bucket] = counts.get(bucket, 0) + 1
                    signal_lines[name] += 1


def _iter_chunks(fobj, size):
    """Chunks of ``fobj`` cut just after a newline (the last one may end without one).

    A line longer than ``size`` is collected in pieces and joined once (no quadratic copying).
    """
    pending = []
    while True:
        block = fobj.read(size)
        if not block:
            if pending:
                yield b"".join(pending)
            return
        cut = block.rfind(b"\n")
        if cut < 0:
            pending.append(block)
            continue
        if pending:
            pending.append(block[:cut + 1])
            yield b"".join(pending)
        else:
            yield block if cut == len(block) - 1 else block[:cut + 1]
        pending = [block[cut + 1:]] if cut < len(block) - 1 else []


def _open_log(path):
    """A binary file object for ``path``, decompressed when it starts with the gzip magic bytes."""
    raw = open(path, "rb")
    try:
        magic = raw.read(2)
        raw.seek(0)
    except Exception:
        raw.close()
        raise
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), True, raw
    return raw, False, raw


def _has_glob(text):
    return any(c in text for c in "*?[")


def expand_paths(paths):
    """Files named by ``paths`` (globs expanded, sorted per glob, duplicates dropped).

    Raises ScanError naming the first path that is missing, matches nothing, or is not a file.
    """
    if not paths:
        raise ScanError("paths: at least one file or glob is required")
    out = []
    seen = set()
    for entry in paths:
        if not isinstance(entry, str) or not entry:
            raise ScanError("paths: invalid entry %r; accepted values: file paths or globs" % (entry,))
        expanded = os.path.expanduser(entry)
        if _has_glob(expanded):
            matches = sorted(glob.glob(expanded))
            matches = [m for m in matches if os.path.isfile(m)]
            if not matches:
                raise ScanError("paths: %r matches no file" % (entry,))
        else:
            if not os.path.exists(expanded):
                raise ScanError("paths: %r does not exist" % (entry,))
            if not os.path.isfile(expanded):
                raise ScanError("paths: %r is not a regular file (use a glob such as %s/*.log)" % (entry, entry))
            if not os.access(expanded, os.R_OK):
                raise ScanError("paths: %r is not readable" % (entry,))
            matches = [expanded]
        for match in matches:
            key = os.path.realpath(match)
            if key not in seen:
                seen.add(key)
                out.append(match)
    return out


def select_patterns(names):
    """PatternSpecs for ``names`` (None = all), in canonical order; ScanError for an unknown name."""
    if names is None:
        return list(PATTERNS)
    unknown = [n for n in names if n not in _PATTERN_BY_NAME]
    if unknown:
        raise ScanError(
            "patterns: unknown pattern name(s) %s; accepted values: %s"
            % (", ".join(repr(n) for n in unknown), ", ".join(PATTERN_NAMES))
        )
    wanted = set(names)
    return [p for p in PATTERNS if p.name in wanted]


class _HyperscanMatcher(object):
    """Block-mode hyperscan database over every selected trigger and signal."""

    def __init__(self, specs):
        expressions = [hs_expression(s.trigger) for s in specs]
        expressions.extend(hs_expression(regex) for _name, regex in SIGNALS)
        self.n_patterns = len(specs)
        self.db = _hyperscan.Database(mode=_hyperscan.HS_MODE_BLOCK)
        self.db.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            flags=[0] * len(expressions),
        )

    def hot_lines(self, chunk):
        """[(line_start, line_end, pattern ids, signal ids)] for the lines where a trigger fired, in order."""
        hits = []
        append = hits.append

        def on_match(expr_id, _start, end, _flags, _ctx):
            append((end, expr_id))

        self.db.scan(chunk, match_event_handler=on_match)
        if not hits:
            return []
        hits.sort()
        lines = []
        line_end = -1
        patterns = signals = None
        rfind = chunk.rfind
        find = chunk.find
        n_patterns = self.n_patterns
        for end, expr_id in hits:
            if end > line_end:
                start = rfind(b"\n", 0, end) + 1
                line_end = find(b"\n", end)
                if line_end < 0:
                    line_end = len(chunk)
                patterns = []
                signals = []
                lines.append((start, line_end, patterns, signals))
            if expr_id < n_patterns:
                if expr_id not in patterns:
                    patterns.append(expr_id)
            elif expr_id - n_patterns not in signals:
                signals.append(expr_id - n_patterns)
        return lines


def scan_files(paths, names=None, bucket="1h", max_locations=100, engine="auto", chunk_size=CHUNK_SIZE):
    """Scan ``paths`` (already expanded) and return a ScanResult.

    ``engine``: ``hyperscan``, ``re`` or ``auto`` (hyperscan when importable).
    """
    specs = select_patterns(names)
    bucket_seconds = parse_bucket(bucket)
    if engine == "auto":
        engine = "hyperscan" if HAS_HYPERSCAN else "re"
    if engine == "hyperscan" and not HAS_HYPERSCAN:
        raise ScanError("engine: hyperscan is not installed")
    if engine not in ("hyperscan", "re"):
        raise ScanError("engine: invalid value %r; accepted values: auto, hyperscan, re" % (engine,))
    result = ScanResult([s.name for s in specs], bucket_seconds, max_locations)
    result.engine = engine
    processor = _LineProcessor(result, specs)
    matcher = _HyperscanMatcher(specs) if engine == "hyperscan" else None
    for path in paths:
        fobj, compressed, raw = _open_log(path)
        lines = 0
        size = 0
        ends_with_newline = True
        chunks = None
        try:
            if matcher is not None:
                chunks = ((c, matcher.hot_lines(c)) for c in _iter_chunks(fobj, chunk_size))
            else:
                chunks = ((c, None) for c in _iter_chunks(fobj, chunk_size))
            for chunk, hot in chunks:
                size += len(chunk)
                if hot is not None:
                    processor.process_hot(path, chunk, hot, lines)
                else:
                    lineno = lines
                    pieces = chunk.split(b"\n")
                    if chunk.endswith(b"\n"):
                        pieces.pop()
                    for line in pieces:
                        lineno += 1
                        processor.process(path, lineno, line)
                newlines = chunk.count(b"\n")
                lines += newlines
                ends_with_newline = chunk.endswith(b"\n")
            if not ends_with_newline:
                lines += 1
        finally:
            if chunks is not None:
                chunks.close()
            fobj.close()
            raw.close()
        result.lines_scanned += lines
        result.bytes_scanned += size
        result.files.append(dict(path=path, gzip=compressed, lines=lines, bytes=size))
    return result
