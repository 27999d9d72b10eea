# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sensitive-data pattern catalogue: patterns, signals, validators, masking.

One definition of every pattern serves the scanning engines of :mod:`.scan`
and ``grep -E`` in the benchmarks (:func:`ere`), so that their answers can be
compared line for line.

Patterns are written in the subset of syntax they all understand alike:
capturing groups only, explicit character classes, ``\\b``, bounded
repeats; ``\\t``/``\\r``/``\\n`` escapes are rewritten for ``grep``. Nothing
in a pattern can match a newline, so a match never spans lines.

A *finding* is a match that passes its validator (Luhn for card numbers,
SSN area/group/serial rules, a JSON header for JWTs, no placeholder for
passwords). Findings are reported as counts and ``file:line`` locations and,
for samples, masked: the secret itself never leaves this module.

*Signals* are lines that show an HTTP 401, an HTTP 403 or an Airlock
``security_violation``; they are counted per time bucket (:mod:`.timestamps`).
"""

from __future__ import annotations

import base64
import json
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import ScanError

ELLIPSIS = u"\u2026"
#: ``(buf, start, end) -> (lowest start, highest end)`` of any match in a line (start -1: none possible).
Span = t.Callable[[bytes, int, int], t.Tuple[int, int]]


def _ci(word: str) -> str:
    """A case-insensitive spelling of ``word`` built from character classes."""
    out = []
    for char in word:
        if char.isalpha():
            out.append("[%s%s]" % (char.upper(), char.lower()))
        else:
            out.append(char)
    return "".join(out)


def _alt(*parts: str) -> str:
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
#: The common ``[2-6][0-9]{3}`` is factored out: hyperscan then checks the word boundary once per
#: candidate start instead of once per alternative (a third less of its time on the benchmark).
_CREDIT_CARD_TRIGGER = r"\b[2-6][0-9]{3}" + _alt(
    "[0-9]{9}",
    "[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}",
    "[ -][0-9]{6}[ -][0-9]{5}",
)

_STATUS_KEYS = r"\b" + _alt(*[_ci(k) for k in ("status_code", "statuscode", "http_status", "status", "code")])


def _status(code: str, reason_phrase: str, messages: t.List[str]) -> str:
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


def luhn_valid(digits: str) -> bool:
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


def _valid_card(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _valid_ssn(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_PLACEHOLDERS = frozenset(
    ("null", "none", "nil", "true", "false", "redacted", "[redacted]", "<redacted>", "hidden", "masked",
     "changeme_redacted", "undefined", "****", "xxxx", "$", "{", "[")
)


def _valid_secret_value(text: str) -> bool:
    lowered = text.lower()
    if lowered in _PLACEHOLDERS or lowered.startswith(("[redacted", "${", "{{", "<redacted", "%(")):
        return False
    # Only masking characters: already redacted.
    return bool(text.strip("*xX#.\u2022"))


def _valid_jwt(text: str) -> bool:
    header = text.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        value = json.loads(decoded.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(value, dict)


# ------------------------------------------------------------------- masking


def mask(value: str, keep: int = 4) -> str:
    """``value`` reduced to a few leading characters and its length: ``eyJh…(312 chars)``.

    At most a quarter of the value is ever shown, and nothing of values shorter than 8 characters.
    """
    shown = min(keep, len(value) // 4) if len(value) >= 8 else 0
    return u"%s%s(%d chars)" % (value[:shown], ELLIPSIS, len(value))


def mask_card(value: str) -> str:
    """A card number with all but the first and last four digits starred: ``4111********1111``."""
    digits = value.replace(" ", "").replace("-", "")
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


class PatternSpec:
    """One sensitive-data pattern: regex, hyperscan trigger, validator, masker.

    ``literals``: lowercase byte strings of which at least one occurs in every
    line the regex matches (lowercased); the reference engine checks them
    before running the regex, which changes no answer and spares most lines.
    """

    def __init__(self, name: str, regex: str, trigger: t.Optional[str] = None,
                 validator: t.Optional[t.Callable[[str], bool]] = None, keep: int = 4,
                 masker: t.Optional[t.Callable[[str], str]] = None, label: bool = False,
                 literals: t.Optional[t.Sequence[bytes]] = None, start_hint: t.Optional[Span] = None) -> None:
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

    def extract(self, buf: bytes, start: int, end: int, want_samples: int) -> t.Tuple[int, bool, t.List[str]]:
        """Findings in the line ``buf[start:end]`` (no newline inside; ``buf`` may be a whole chunk).

        Returns (validated findings, whether the regex matched at all, up to ``want_samples``
        masked findings). Matching with pos/endpos is matching the line alone: the byte before
        a line is a newline, and nothing in a pattern matches one.
        """
        valid = 0
        matched = False
        masked_list: t.List[str] = []
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

    def count(self, buf: bytes, start: int, end: int) -> t.Tuple[int, bool]:
        """``extract(buf, start, end, 0)`` without the masked list: (validated findings, matched at all).

        For a pattern without a validator every match is a finding, so the matches are only counted.
        """
        if self.start_hint is not None:
            start, end = self.start_hint(buf, start, end)
            if start < 0:
                return 0, False
        if self.validator is None:
            found = len(self.compiled.findall(buf, start, end))
            return found, found > 0
        validator = self.validator
        valid = 0
        matched = False
        has_value_group = self._has_value_group
        for match in self.compiled.finditer(buf, start, end):
            matched = True
            value = match.group("v") if has_value_group else None
            if value is None:
                value = match.group(0)
            if validator(value.decode("utf-8", "replace")):
                valid += 1
        return valid, matched


_EMAIL_LOCAL_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-"
_EMAIL_DOMAIN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-"


def _email_span(buf: bytes, start: int, end: int) -> t.Tuple[int, int]:
    """Every email lies between the local-part run before the first '@' and the domain run after the last."""
    first_at = buf.find(b"@", start, end)
    if first_at < 0:
        return -1, end
    last_at = buf.rfind(b"@", start, end)
    return (start + len(buf[start:first_at].rstrip(_EMAIL_LOCAL_CHARS)),
            end - len(buf[last_at + 1:end].lstrip(_EMAIL_DOMAIN_CHARS)))


def _jwt_span(buf: bytes, start: int, end: int) -> t.Tuple[int, int]:
    return buf.find(b"eyJ", start, end), end


def _ssn_span(buf: bytes, start: int, end: int) -> t.Tuple[int, int]:
    dash = buf.find(b"-", start, end)
    if dash < 0:
        return -1, end
    return max(start, dash - 3), end


def _keyword_span(keywords: t.List[bytes]) -> Span:
    """Matches start at one of ``keywords`` (lowercase; matched case-insensitively)."""

    def span(buf: bytes, start: int, end: int) -> t.Tuple[int, int]:
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
SIGNAL_RES = tuple((name, re.compile(regex.encode("ascii"))) for name, regex in SIGNALS)
SIGNAL_LITERALS = (
    (b"401", b"token validation failed", b"token extraction failed"),
    (b"403", b"insufficient permissions"),
    (b"security",),
)


def ere(regex: str) -> str:
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


def hs_expression(regex: str) -> bytes:
    """``regex`` as a hyperscan expression (bytes): named groups become plain groups."""
    return regex.replace("(?P<v>", "(").encode("ascii")


def grep_expressions(names: t.Optional[t.Iterable[str]] = None) -> t.Dict[str, str]:
    """name -> ERE for the selected patterns and every signal (for ``grep -E -c``)."""
    out = {}
    for spec in PATTERNS:
        if names is None or spec.name in names:
            out[spec.name] = ere(spec.regex)
    for name, regex in SIGNALS:
        out["signal:" + name] = ere(regex)
    return out


def select_patterns(names: t.Optional[t.Iterable[str]]) -> t.List[PatternSpec]:
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
