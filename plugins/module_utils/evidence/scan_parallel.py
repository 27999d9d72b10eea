# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``log_scan`` on every core: a plain log file cut at line boundaries, the chunks counted by forked workers.

The parent opens the file once (:func:`.scan._open_log`, which refuses what is
not a regular file), cuts it into chunks that end just after a newline, and
hands offsets to forked worker processes, which read their chunk with
``os.pread`` from the inherited descriptor (the path is never opened again)
and count it with the same :class:`.scan._LineProcessor` as the single-process
scan. The parent merges the partial results in file order: counts are summed,
line numbers shifted by the lines of the chunks before, and locations, samples
and damaged lines kept in the order and within the caps of a single-process
scan, so the answer is the same.

At most two chunks per worker are in flight, so memory does not grow with the
file's size. Compressed files, small files and ``workers=1`` use the
single-process scan.
"""

from __future__ import annotations

import collections
import os
import typing as t
import zlib

from ansible_collections.airlock.incident.plugins.module_utils.core.durations import check_number
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.evidence import scan
from ansible_collections.airlock.incident.plugins.module_utils.evidence.patterns import select_patterns
from ansible_collections.airlock.incident.plugins.module_utils.evidence.timestamps import parse_bucket

#: What a forked worker needs, set in the parent just before the workers are forked.
_STATE: t.Dict[str, t.Any] = {}
#: Bytes read at a time while looking for the newline that ends a chunk.
PROBE = 64 * 1024


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_workers(value: t.Any) -> int:
    """``workers``: None means every CPU this process may use; InputError outside 1..256."""
    if value is None:
        return available_cpus()
    return int(check_number("workers", value, 1, 256))


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    pieces = []
    while length > 0:
        piece = os.pread(fd, length, offset)
        if not piece:
            break
        pieces.append(piece)
        length -= len(piece)
        offset += len(piece)
    return b"".join(pieces)


def chunk_spans(fd: int, size: int, chunk_size: int) -> t.Iterator[t.Tuple[int, int]]:
    """(offset, length) of chunks of about ``chunk_size`` bytes, each ending just after a newline
    (the last one at ``size``)."""
    start = 0
    while start < size:
        probe = start + max(1, chunk_size) - 1
        cut = size
        while probe < size:
            block = os.pread(fd, min(PROBE, size - probe), probe)
            if not block:
                break
            newline = block.find(b"\n")
            if newline >= 0:
                cut = probe + newline + 1
                break
            probe += len(block)
        yield start, cut - start
        start = cut


def _count_chunk(offset: int, length: int) -> t.Tuple[scan.ScanResult, int, bool]:
    """In a worker: count one chunk as if it were a whole file; (result, newlines, ends with a newline)."""
    state = _STATE
    chunk = _pread_all(state["fd"], length, offset)
    result = scan.ScanResult(state["names"], state["bucket_seconds"], state["max_locations"])
    processor = scan._LineProcessor(result, state["specs"])
    matcher = state["matcher"]
    if matcher is not None:
        newlines = matcher.count(processor, state["label"], chunk, 0)
    else:
        processor.process_chunk(state["label"], chunk, 0)
        newlines = chunk.count(b"\n")
    return result, newlines, chunk.endswith(b"\n")


def _shift(location: str, lines_before: int) -> str:
    label, _colon, lineno = location.rpartition(":")
    return "%s:%d" % (label, int(lineno) + lines_before)


def merge(total: scan.ScanResult, part: scan.ScanResult, lines_before: int) -> None:
    """Add the counts of ``part`` (a chunk counted from line 1) to ``total``, as a single-process scan would."""
    for name in total.names:
        total.findings[name] += part.findings[name]
        total.matched_lines[name] += part.matched_lines[name]
        total.candidate_lines[name] += part.candidate_lines[name]
        locations = total.locations[name]
        samples = total.samples[name]
        masked_by_location: t.Dict[str, t.List[str]] = collections.defaultdict(list)
        for sample in part.samples[name]:
            masked_by_location[sample["location"]].append(sample["masked"])
        for location in part.locations[name]:
            if len(locations) >= total.max_locations:
                break
            room = total.max_locations - len(samples)
            shifted = _shift(location, lines_before)
            locations.append(shifted)
            samples.extend(dict(location=shifted, masked=masked)
                           for masked in masked_by_location.get(location, [])[:room])
    for name, counts in part.signals.items():
        into = total.signals[name]
        for bucket, count in counts.items():
            into[bucket] = into.get(bucket, 0) + count
        total.signal_lines[name] += part.signal_lines[name]
    for damaged in part.damaged_lines:
        total.damaged(damaged["path"], damaged["line"] + lines_before, damaged["problem"])
    total.damaged_count += part.damaged_count - len(part.damaged_lines)


def _scan_parallel(path: str, fd: int, total: scan.ScanResult, workers: int,
                   chunk_size: int) -> t.Optional[t.Dict[str, t.Any]]:
    """Count the plain file open as ``fd`` with forked workers; its entry of ``files``, or None
    where processes cannot be forked."""
    try:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    except (ImportError, ValueError, OSError, NotImplementedError):
        return None
    size = os.fstat(fd).st_size
    _STATE["fd"] = fd
    _STATE["label"] = path
    lines = 0
    scanned = 0
    ends_with_newline = True
    with executor:
        pending: t.Deque[t.Any] = collections.deque()

        def take() -> None:
            nonlocal lines, ends_with_newline
            part, newlines, ends = pending.popleft().result()
            merge(total, part, lines)
            lines += newlines
            ends_with_newline = ends

        for offset, length in chunk_spans(fd, size, chunk_size):
            pending.append(executor.submit(_count_chunk, offset, length))
            scanned += length
            if len(pending) >= 2 * workers:
                take()
        while pending:
            take()
    if not ends_with_newline:
        lines += 1
    return dict(path=path, gzip=False, lines=lines, bytes=scanned)


def _scan_one(path: str, processor: t.Any, matcher: t.Any, workers: int, chunk_size: int) -> t.Dict[str, t.Any]:
    fobj, compressed, raw = scan._open_log(path)
    try:
        if not compressed and workers > 1 and os.fstat(raw.fileno()).st_size >= 2 * chunk_size:
            entry = _scan_parallel(path, raw.fileno(), processor.result, workers, chunk_size)
            if entry is not None:
                return entry
    finally:
        fobj.close()
        raw.close()
    return scan._scan_file(path, processor, matcher, chunk_size)


def scan_files(paths: t.Iterable[str], names: t.Optional[t.Iterable[str]] = None, bucket: str = "1h",
               max_locations: int = 100, engine: str = "auto", chunk_size: int = scan.CHUNK_SIZE,
               workers: int = 1) -> scan.ScanResult:
    """:func:`.scan.scan_files` with up to ``workers`` processes per plain file of two chunks or more."""
    specs = select_patterns(names)
    bucket_seconds = parse_bucket(bucket)
    engine = scan._engine(engine)
    result = scan.ScanResult([s.name for s in specs], bucket_seconds, max_locations)
    result.engine = engine
    processor = scan._LineProcessor(result, specs)
    matcher = scan.make_matcher(engine, specs, bucket_seconds)
    _STATE.clear()
    _STATE.update(names=result.names, bucket_seconds=bucket_seconds, max_locations=max_locations, specs=specs,
                  matcher=matcher)
    try:
        for path in paths:
            entry = _scan_one(path, processor, matcher, workers, chunk_size)
            result.lines_scanned += entry["lines"]
            result.bytes_scanned += entry["bytes"]
            result.files.append(entry)
    finally:
        _STATE.clear()
    return result


def scan_logs(params: t.Mapping[str, t.Any], paths: t.List[str]) -> t.Dict[str, t.Any]:
    """The ``log_scan`` task on checked options, on ``workers`` processes: the module result with ``msg``."""
    workers = check_workers(params.get("workers"))
    try:
        result = scan_files(paths, names=params["patterns"], bucket=params["bucket"],
                            max_locations=params["max_locations"], engine=params["engine"],
                            workers=workers).as_dict()
    except (OSError, EOFError, zlib.error) as exc:
        raise AirlockIncidentError("reading logs failed: %s" % exc) from exc
    result["workers"] = workers
    result["changed"] = False
    result["msg"] = scan.summary(result)
    return result
