# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shortcuts of the hyperscan engine (issue #15, round two) change no answer: counting a line once a
pattern's locations are full (PatternSpec.count), the factored card trigger, lazy line numbers."""

from __future__ import annotations

import re

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.evidence import patterns as sp
from ansible_collections.airlock.incident.plugins.module_utils.evidence import scan
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.test_sensitive_patterns import (
    AMEX,
    CORPUS,
    VISA,
    _varied_lines,
    _write,
)

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
needs_hyperscan = pytest.mark.skipif(not scan.HAS_HYPERSCAN, reason="hyperscan is not installed")
LINES = [entry[0] for entry in CORPUS] + _varied_lines(1500, seed=23)


def test_count_is_extract_without_the_samples_on_every_corpus_line():
    hits = dict((spec.name, 0) for spec in sp.PATTERNS)
    for line in LINES:
        data = b"\n" + line.encode("utf-8") + b"\n"
        for spec in sp.PATTERNS:
            valid, matched, masked = spec.extract(data, 1, len(data) - 1, 0)
            assert masked == []
            assert spec.count(data, 1, len(data) - 1) == (valid, matched), (spec.name, line)
            hits[spec.name] += valid
    assert all(hits.values()), hits  # every pattern, with and without a validator, was exercised


@hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
@hypothesis.given(text=st.lists(st.sampled_from([VISA, AMEX, "4111 1111 1111 1111", "5500-0000-0000-0004",
                                                 "123-45-6789", "a.b@c.io", "-@x.io", "password=", "***",
                                                 "Bearer ", "x" * 16, "eyJhIjoxfQ", ".", "sk-", "0", "9",
                                                 " ", "-", "_", "@", "\t", "\xe9"]), max_size=12))
def test_count_equals_extract_on_generated_lines(text):
    data = "".join(text).encode("utf-8")
    for spec in sp.PATTERNS:
        valid, matched, dummy = spec.extract(data, 0, len(data), 0)
        assert spec.count(data, 0, len(data)) == (valid, matched)


@needs_hyperscan
@hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
@hypothesis.given(digits=st.text(alphabet="0123456789 -ab", min_size=0, max_size=40))
def test_the_card_trigger_fires_on_every_line_the_card_pattern_matches(digits):
    card = next(spec for spec in sp.PATTERNS if spec.name == "credit_card")
    trigger = re.compile(card.trigger.encode("ascii"))
    data = digits.encode("ascii")
    if card.compiled.search(data):
        assert trigger.search(data), digits


@needs_hyperscan
@pytest.mark.parametrize("max_locations", [0, 1, 4])
def test_full_locations_and_damaged_lines_keep_the_reference_answer(tmp_path, max_locations):
    # Damaged timestamps after many hot lines: their line numbers come from the lazy counter.
    lines = LINES + ['{"ts":1e400,"status":401}', '{"ts":1e300,"msg":"security_violation"}']
    lines = lines + LINES[:200] + ['{"ts":"9999-12-31T23:59:59-23:59","status":403}']
    path = _write(tmp_path / "varied.log", lines)
    reference = scan.scan_files([path], bucket="5m", max_locations=max_locations, engine="re").as_dict()
    for chunk_size in (scan.CHUNK_SIZE, 211):
        for engine in ["hyperscan"] + (["accel"] if scan.HAS_ACCEL else []):
            fast = scan.scan_files([path], bucket="5m", max_locations=max_locations, engine=engine,
                                   chunk_size=chunk_size).as_dict()
            assert dict(fast, engine=None) == dict(reference, engine=None), engine
    assert reference["damaged_count"] == 3
    assert [entry["line"] for entry in reference["damaged_lines"]] == [len(LINES) + 1, len(LINES) + 2, len(lines)]
