# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cheaper paths of audit_verify (issue #15, round two) give the same bytes and the same answers:
go_json_string's escape-only path for valid UTF-8, one BLAKE3 hasher reset per row (and its stand-in for
blake3 packages without ``reset``)."""

from __future__ import annotations

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.audit import chain as audit_chain
from ansible_collections.airlock.incident.plugins.module_utils.audit import walk as audit_walk
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import open_readonly, read_salt
from ansible_collections.airlock.incident.plugins.module_utils.audit.verify import verify_chain
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
#: Bytes around every rule: escapes, HTML characters, DEL, U+2028/9, cut and overlong sequences, surrogates.
PIECES = [b"a", b" ", b'"', b"\\", b"<", b">", b"&", b"\x00", b"\x08", b"\x0c", b"\x1f", b"\x7f", b"\xc3\xa9",
          b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xe2\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf0\x9f\x98\x80",
          b"\xf4\x90\x80\x80", b"\xff", b"\xef\xbf\xbf"]


@hypothesis.settings(max_examples=500, deadline=None, derandomize=True)
@hypothesis.given(pieces=st.lists(st.sampled_from(PIECES), max_size=12), noise=st.binary(max_size=16))
def test_go_json_string_equals_the_bytewise_encoder(pieces, noise):
    data = b"".join(pieces) + noise
    assert audit_chain.go_json_string(data) == audit_chain.go_json_string_bytewise(data)


@hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
@hypothesis.given(text=st.text(max_size=20))
def test_go_json_string_equals_the_bytewise_encoder_on_text(text):
    data = text.encode("utf-8", "surrogatepass")
    assert audit_chain.go_json_string(data) == audit_chain.go_json_string_bytewise(data)
    assert audit_chain.go_json_string(b"<\xe2\x80\xa8&") == b'"\\u003c\\u2028\\u0026"'


def _verify(path):
    conn = open_readonly(str(path))
    try:
        return verify_chain(conn, read_salt(conn, str(path)))
    finally:
        conn.close()


@pytest.mark.parametrize("reset", [True, False])
def test_the_reused_hasher_finds_every_edited_row(tmp_path, monkeypatch, reset):
    pytest.importorskip("blake3")
    if not reset:  # a blake3 package without reset(): the stand-in builds one hasher per row
        blake3 = audit_chain._blake3.blake3
        monkeypatch.setattr(audit_walk, "reusable_hasher", lambda: audit_walk._Rehasher(blake3))
    path = tmp_path / "audit.db"
    factory.build_db(path, events=30)
    clean = _verify(path)
    assert clean["valid"] is True and clean["events_checked"] == 30
    factory.edit_content(path, 7, subject="mallory@example.com")
    factory.edit_content(path, 8, reason='quote " and <html> \xe9')
    factory.rehash_row(path, 20, reason="edited and rehashed")
    got = _verify(path)
    assert got["valid"] is False
    assert [(p["kind"], p["rowid"]) for p in got["problems"]] == [
        ("content_mismatch", 7), ("content_mismatch", 8), ("link_break", 21)]
