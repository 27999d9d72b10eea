# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_chain.py against payloads produced by Go's own encoding/json.

The fixture was made with Go 1.19. Airlock requires Go >= 1.22, whose only
difference for these inputs is that ``\\b`` and ``\\f`` are written as short
escapes instead of ``\\u0008``/``\\u000c``; only vector id-2 contains those
bytes, and the adjustment is applied explicitly (and checked) below.
"""

from __future__ import annotations

import json
import os
import random

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain
from ansible_collections.airlock.incident.plugins.module_utils.audit.chain import (
    build_payload,
    event_hash,
    fast_payload,
    go_json_string,
    parse_salt,
)

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "go_json_vectors.json")
TEXT_FIELDS = ("id", "correlation_id", "tenant", "subject", "action", "resource", "decision", "reason",
               "metadata", "previous_hash")


def _vectors():
    with open(FIXTURE) as handle:
        return json.load(handle)["vectors"]


def _args(vector):
    fields = dict((name, bytes.fromhex(vector[name + "_hex"])) for name in TEXT_FIELDS)
    return (fields["id"], vector["timestamp"], fields["correlation_id"], fields["tenant"], fields["subject"],
            fields["action"], fields["resource"], fields["decision"], fields["reason"], fields["metadata"],
            fields["previous_hash"], vector["latency_ms"], vector["redaction_count"])


def go122_payload(vector):
    """The fixture's Go 1.19 payload, as Go >= 1.22 writes it (\\b and \\f short escapes)."""
    payload = bytes.fromhex(vector["payload_hex"])
    if vector["id_hex"] == b"id-2".hex():
        assert b"\\u0008" in payload and b"\\u000c" in payload
        payload = payload.replace(b"\\u0008", b"\\b").replace(b"\\u000c", b"\\f")
    else:
        assert b"\\u0008" not in payload and b"\\u000c" not in payload
    return payload


def test_fixture_has_the_documented_vectors():
    vectors = _vectors()
    assert [bytes.fromhex(v["id_hex"]) for v in vectors] == [b"id-1", b"id-2", b"id-3", b"id-4"]


@pytest.mark.parametrize("index", range(4))
def test_build_payload_matches_go(index):
    vector = _vectors()[index]
    assert build_payload(*_args(vector)) == go122_payload(vector)


def test_id2_differs_from_go119_only_in_b_and_f_escapes():
    vector = _vectors()[1]
    ours = build_payload(*_args(vector))
    go119 = bytes.fromhex(vector["payload_hex"])
    assert ours != go119
    assert ours.replace(b"\\b", b"\\u0008").replace(b"\\f", b"\\u000c") == go119


@pytest.mark.parametrize("index", range(4))
def test_build_payload_accepts_str_like_sqlite_text(index):
    vector = _vectors()[index]
    args = [a.decode("utf-8", "surrogateescape") if isinstance(a, bytes) else a for a in _args(vector)]
    assert build_payload(*args) == go122_payload(vector)


def test_go_string_escapes_exactly():
    assert go_json_string(b"<a&b>") == b'"\\u003ca\\u0026b\\u003e"'
    assert go_json_string("\u2028\u2029") == b'"\\u2028\\u2029"'
    assert go_json_string(b"\x7f/") == b'"\x7f/"'
    assert go_json_string(b"\x01\x1f") == b'"\\u0001\\u001f"'
    assert go_json_string(b"\xff\xc3") == b'"\\ufffd\\ufffd"'  # every invalid byte
    assert go_json_string(b"\xed\xa0\x80") == b'"\\ufffd\\ufffd\\ufffd"'  # surrogate: invalid in Go
    assert go_json_string(b"\xf0\x9f\x98\x80") == b'"\xf0\x9f\x98\x80"'


def test_event_hash_is_salted_blake3_hex():
    blake3 = pytest.importorskip("blake3")
    salt = bytes(range(32))
    payload = b'{"id":"x"}'
    assert event_hash(salt, payload) == blake3.blake3(salt + payload).hexdigest()
    assert event_hash(salt, payload) != event_hash(bytes(32), payload)
    assert len(event_hash(salt, payload)) == 64


def test_parse_salt_rules():
    assert parse_salt("ab" * 32) == bytes([0xAB]) * 32
    for bad in ("AB" * 32, "ab" * 31, "", "zz" * 32):
        with pytest.raises(ValueError):
            parse_salt(bad)


# -- the fast path used by audit_verify --------------------------------------
@pytest.mark.parametrize("index", range(4))
def test_fast_payload_is_exact_or_declines(index):
    vector = _vectors()[index]
    fast = fast_payload(*_args(vector))
    if index == 0 or index == 2:  # nothing to escape
        assert fast == go122_payload(vector)
    else:  # id-2 and id-4 need escaping: the fast path must decline
        assert fast is None


def test_fast_payload_never_disagrees_with_build_payload():
    rng = random.Random(7)
    alphabet = [bytes([b]) for b in range(0x20, 0x7F)]
    alphabet += [b'"', b"\\", b"<", b">", b"&", b"\x00", b"\n", b"\xff", b"\xc3\xa9", b"\xe2\x80\xa8", b"\x7f"]
    declined = exact = 0
    for _unused in range(3000):
        texts = [b"".join(rng.choice(alphabet) for _unused in range(rng.randrange(0, 6))) for _unused in range(9)]
        metadata = rng.choice([None, b"", b"null", b"{}", b'{"a":"<x>"}', b'{"remote_addr":"[::1]:80"}'])
        args = (texts[0], rng.randrange(1 << 62), texts[1], texts[2], texts[3], texts[4], texts[5], texts[6],
                texts[7], metadata, texts[8], rng.randrange(100), rng.randrange(5))
        fast = fast_payload(*args)
        if fast is None:
            declined += 1
        else:
            exact += 1
            assert fast == build_payload(*args)
    assert declined and exact  # both branches were exercised


def test_safe_bytes_are_exactly_what_go_writes_raw():
    for byte in range(256):
        raw = go_json_string(bytes([byte])) == b'"' + bytes([byte]) + b'"'
        in_safe = bytes([byte]) in audit_chain.SAFE_STRING_BYTES
        if in_safe:
            assert raw, byte
        elif byte < 0x80:
            # unsafe ASCII is escaped, except DEL, which Go writes raw but the fast path leaves to the slow one
            assert not raw or byte == 0x7F, byte
