# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""log_scan on several processes gives the single-process answer (issue #15): counts, locations, samples,
signals, damaged lines, in the same order and within the same caps."""

from __future__ import annotations

import gzip
import os
import random
import tempfile

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.evidence import scan, scan_parallel
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.test_sensitive_patterns import (
    CORPUS,
    _varied_lines,
)

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
ENGINES = ["re"] + (["hyperscan"] if scan.HAS_HYPERSCAN else []) + (["accel"] if scan.HAS_ACCEL else [])
DAMAGED = ['{"ts":"yesterday","status":401}', '{"ts":1e300,"msg":"security_violation"}',
           '{"ts":-5,"status":403}']


def _write(path, lines, newline_at_end=True):
    with open(path, "wb") as handle:
        handle.write(("\n".join(lines) + ("\n" if newline_at_end and lines else "")).encode("utf-8"))
    return str(path)


def _lines(seed, count):
    rng = random.Random(seed)
    lines = [entry[0] for entry in CORPUS] + _varied_lines(count, seed) + DAMAGED * 2
    rng.shuffle(lines)
    return lines


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True)
@hypothesis.given(seed=st.integers(min_value=0, max_value=10 ** 6), count=st.integers(min_value=0, max_value=400),
                  chunk=st.integers(min_value=1, max_value=4000), workers=st.integers(min_value=2, max_value=4),
                  max_locations=st.integers(min_value=0, max_value=6), engine=st.sampled_from(ENGINES),
                  newline_at_end=st.booleans())
def test_parallel_scan_equals_the_single_process_scan(seed, count, chunk, workers, max_locations, engine,
                                                      newline_at_end):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(os.path.join(tmp, "airlock.log"), _lines(seed, count), newline_at_end)
        reference = scan.scan_files([path], bucket="5m", max_locations=max_locations, engine=engine)
        result = scan_parallel.scan_files([path], bucket="5m", max_locations=max_locations, engine=engine,
                                          chunk_size=chunk, workers=workers)
        assert result.as_dict() == reference.as_dict()


def test_a_large_file_is_split_and_every_chunk_ends_at_a_newline(tmp_path):
    path = _write(tmp_path / "airlock.log", _lines(1, 300), newline_at_end=False)
    with open(path, "rb") as handle:
        data = handle.read()
        spans = list(scan_parallel.chunk_spans(handle.fileno(), len(data), 500))
    assert len(spans) > 10
    assert [offset for offset, _length in spans] == [0] + [o + n for o, n in spans[:-1]]
    assert sum(length for _offset, length in spans) == len(data)
    assert all(data[offset + length - 1:offset + length] == b"\n" for offset, length in spans[:-1])


def test_gzip_and_several_files_keep_the_order_of_locations(tmp_path):
    plain = _write(tmp_path / "a.log", _lines(2, 300))
    packed = str(tmp_path / "b.log.gz")
    with open(plain, "rb") as source, gzip.open(packed, "wb") as target:
        target.write(source.read())
    for engine in ENGINES:
        reference = scan.scan_files([plain, packed, plain], max_locations=40, engine=engine)
        result = scan_parallel.scan_files([plain, packed, plain], max_locations=40, engine=engine,
                                          chunk_size=700, workers=3)
        assert result.as_dict() == reference.as_dict()
        assert [entry["gzip"] for entry in result.as_dict()["files"]] == [False, True, False]


def test_memory_stays_flat_because_few_chunks_are_in_flight(tmp_path, monkeypatch):
    """Never more than two chunks per worker are submitted ahead of the merge."""
    path = _write(tmp_path / "airlock.log", _lines(3, 400))
    in_flight = []
    submitted = [0]
    merged = [0]
    original_merge = scan_parallel.merge

    def counting_merge(total, part, lines_before):
        merged[0] += 1
        in_flight.append(submitted[0] - merged[0] + 1)
        original_merge(total, part, lines_before)

    original_spans = scan_parallel.chunk_spans

    def counting_spans(fd, size, chunk_size):
        for span in original_spans(fd, size, chunk_size):
            submitted[0] += 1
            yield span

    monkeypatch.setattr(scan_parallel, "merge", counting_merge)
    monkeypatch.setattr(scan_parallel, "chunk_spans", counting_spans)
    scan_parallel.scan_files([path], chunk_size=300, workers=2)
    assert submitted[0] > 20 and merged[0] == submitted[0]
    assert max(in_flight) <= 4


def test_damaged_lines_keep_their_cap_and_their_count(tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "MAX_DAMAGED", 3)  # inherited by the forked workers
    path = _write(tmp_path / "damaged.log", (DAMAGED + ['{"ts":1795860000.0,"status":200}']) * 40)
    reference = scan.scan_files([path], engine="re").as_dict()
    result = scan_parallel.scan_files([path], engine="re", chunk_size=1500, workers=2).as_dict()
    assert result == reference
    assert result["damaged_count"] >= 40 and len(result["damaged_lines"]) == 3
