# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The log scanning engines (the logic of ``log_scan``).

Three engines pick the lines; one :class:`_LineProcessor` counts them, with the
extraction, validation and masking of :mod:`.patterns`, so their answers are
the same:

* the pure-Python reference engine (``engine="re"``): every line, every
  pattern, with :mod:`re` on bytes. Straightforward, always available, slow
  (tens of MB/s on digit-dense logs);
* the hyperscan engine (``engine="hyperscan"``): hyperscan scans large chunks
  in block mode for cheap *trigger* expressions (each a necessary condition of
  its pattern, built so that it reports few matches) and for the signal
  expressions themselves; only the patterns that fired on a line are run on it;
* the compiled scanner (``engine="accel"``, the optional package built from
  ``extras/accel``): one pass in C that settles the common case of every
  pattern, signal and timestamp exactly as :mod:`re` does, and hands each line it
  is not sure of (and the first matched lines of a pattern, for locations and
  samples) to the same Python counting as the hyperscan engine. It is used only
  when it was built for exactly these patterns (:func:`accel_rules_digest`), and
  ``tests/unit/plugins/module_utils/test_scan_accel.py`` holds it to the ``re``
  engine on generated hostile logs.

Files are read in chunks cut at a newline, gzip detected by its magic bytes.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import typing as t
import zlib

from ansible_collections.airlock.incident.plugins.module_utils.core.durations import DurationError
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import (
    AirlockIncidentError,
    InputError,
    choices_message,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.optional import optional_import
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import file_kind, open_input
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns
from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import ScanError
from ansible_collections.airlock.incident.plugins.module_utils.evidence import timestamps
from ansible_collections.airlock.incident.plugins.module_utils.evidence.patterns import (
    PATTERN_NAMES,
    PATTERNS,
    SIGNAL_LITERALS,
    SIGNAL_NAMES,
    SIGNAL_RES,
    SIGNALS,
    PatternSpec,
    hs_expression,
    select_patterns,
)
from ansible_collections.airlock.incident.plugins.module_utils.evidence.timestamps import (
    DamagedTimestamp,
    line_epoch_seconds,
    parse_bucket,
)

_hyperscan, HYPERSCAN_IMPORT_ERROR = optional_import("hyperscan")
HAS_HYPERSCAN = _hyperscan is not None
_accel, ACCEL_IMPORT_ERROR = optional_import("airlock_incident_accel")

#: What the compiled scanner (extras/accel, src/logscan.c) implements besides the expressions the digest
#: below covers: change this text with any change to a validator (Luhn, the SSN rules) or to the bucket rules.
ACCEL_RULES = "ssn: area not 000/666/9xx, group not 00, serial not 0000; card: Luhn over 13-19 digits; " \
              "email: no validator; buckets: timestamps.line_epoch_seconds, first = s - s % bucket"


def accel_rules_digest() -> str:
    """SHA-256 of every expression and rule the compiled scanner reimplements: the scanner is used only
    when it was built for exactly these (its LOGSCAN_PATTERNS_SHA256), so a change here cannot make the
    engines disagree."""
    digest = hashlib.sha256()
    for spec in PATTERNS:
        digest.update(("%s\0%s\0" % (spec.name, spec.regex)).encode("utf-8"))
    for name, regex in SIGNALS:
        digest.update(("%s\0%s\0" % (name, regex)).encode("utf-8"))
    for expression in (timestamps._LINE_TS, timestamps._JSON_TS_NUM, timestamps._JSON_TS_STR):
        digest.update(expression.pattern + b"\0")
    digest.update(ACCEL_RULES.encode("utf-8"))
    return digest.hexdigest()


if _accel is None:
    ACCEL_PROBLEM: t.Optional[str] = "the package airlock-incident-accel (extras/accel) is not installed (%s)" % (
        ACCEL_IMPORT_ERROR,)
elif getattr(_accel, "LOGSCAN_PATTERNS_SHA256", None) != accel_rules_digest():
    ACCEL_PROBLEM = ("the installed airlock-incident-accel has no log scanner for these patterns (it was built from "
                     "another version of the collection); reinstall it from extras/accel")
else:
    ACCEL_PROBLEM = None
HAS_ACCEL = ACCEL_PROBLEM is None

ENGINES = ("accel", "hyperscan", "re")
#: Bytes read per chunk; chunks are cut at a newline.
CHUNK_SIZE = 16 * 1024 * 1024
UNKNOWN_BUCKET = "unknown"
GZIP_MAGIC = b"\x1f\x8b"
#: At most this many entries in ``damaged_lines`` (``damaged_count`` counts them all).
MAX_DAMAGED = 1000
#: A line of a chunk where a trigger fired: (start, end, pattern indexes, signal indexes).
HotLine = t.Tuple[int, int, t.List[int], t.List[int]]


class ScanResult:
    """Counts accumulated over every scanned file."""

    def __init__(self, names: t.Iterable[str], bucket_seconds: int, max_locations: int) -> None:
        self.names = tuple(names)
        self.bucket_seconds = bucket_seconds
        self.max_locations = max_locations
        self.findings = dict((n, 0) for n in self.names)
        self.matched_lines = dict((n, 0) for n in self.names)
        self.candidate_lines = dict((n, 0) for n in self.names)
        self.locations: t.Dict[str, t.List[str]] = dict((n, []) for n in self.names)
        self.samples: t.Dict[str, t.List[t.Dict[str, str]]] = dict((n, []) for n in self.names)
        self.signals: t.Dict[str, t.Dict[str, int]] = dict((n, {}) for n in SIGNAL_NAMES)
        self.signal_lines = dict((n, 0) for n in SIGNAL_NAMES)
        self.lines_scanned = 0
        self.bytes_scanned = 0
        self.files: t.List[t.Dict[str, t.Any]] = []
        self.engine: t.Optional[str] = None
        self.damaged_lines: t.List[t.Dict[str, t.Any]] = []
        self.damaged_count = 0

    def damaged(self, label: str, lineno: int, problem: str) -> None:
        """Report a line that could not be read as it claims to be (the scan goes on)."""
        self.damaged_count += 1
        if len(self.damaged_lines) < MAX_DAMAGED:
            self.damaged_lines.append(dict(path=label, line=lineno, problem=problem))

    def as_dict(self) -> t.Dict[str, t.Any]:
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
            damaged_lines=list(self.damaged_lines),
            damaged_count=self.damaged_count,
        )


class _LineProcessor:
    """Counting, shared by both engines: the same extraction (PatternSpec.extract), validation,
    masking and time buckets, whichever engine picked the lines."""

    def __init__(self, result: ScanResult, specs: t.List[PatternSpec]) -> None:
        self.result = result
        self.specs = specs
        self.bucket_seconds = result.bucket_seconds
        self._bucket_names: t.Dict[int, str] = {}

    def bucket_of(self, buf: bytes, start: int, end: int, where: t.Callable[[], t.Tuple[str, int]]) -> str:
        """The time bucket ('2026-11-28T10:00:00Z' or 'unknown') of the line ``buf[start:end]``.

        A timestamp that is no time is reported as a damaged line (``where()`` gives its file and line
        number) and the line counts as ``unknown``.
        """
        try:
            seconds = line_epoch_seconds(buf, start, end)
            if seconds is None:
                return UNKNOWN_BUCKET
            return self.bucket_name(seconds - seconds % self.bucket_seconds)
        except (DamagedTimestamp, OverflowError) as exc:
            label, lineno = where()
            self.result.damaged(label, lineno, "%s; counted in the %s bucket" % (exc, UNKNOWN_BUCKET))
            return UNKNOWN_BUCKET

    def bucket_name(self, first: int) -> str:
        """The name of the bucket that starts at Unix second ``first``."""
        name = self._bucket_names.get(first)
        if name is None:
            name = format_ns(first * 10 ** 9, "s")
            self._bucket_names[first] = name
        return name

    def process(self, label: str, lineno: int, line: bytes) -> None:
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
        for index, (name, regex) in enumerate(SIGNAL_RES):
            for literal in SIGNAL_LITERALS[index]:
                if literal in low:
                    break
            else:
                continue
            if regex.search(line) is None:
                continue
            if bucket is None:
                bucket = self.bucket_of(line, 0, len(line), lambda: (label, lineno))
            counts = result.signals[name]
            counts[bucket] = counts.get(bucket, 0) + 1
            result.signal_lines[name] += 1

    def process_chunk(self, label: str, chunk: bytes, lines_before: int) -> None:
        """Count every line of a chunk (reference engine)."""
        lineno = lines_before
        pieces = chunk.split(b"\n")
        if chunk.endswith(b"\n"):
            pieces.pop()
        for line in pieces:
            lineno += 1
            self.process(label, lineno, line)

    def process_hot(self, label: str, chunk: bytes, hot: t.List[HotLine], lines_before: int) -> None:
        """Count the hot lines of a chunk (hyperscan engine): the same extraction as process(),
        run on the chunk with pos/endpos instead of copying each line out.

        Line numbers are counted only for what needs one (a location, a damaged timestamp), and
        once a pattern's locations are full its lines are only counted (PatternSpec.count).
        """
        result = self.result
        specs = self.specs
        max_locations = result.max_locations
        findings = result.findings
        matched_lines = result.matched_lines
        candidate_lines = result.candidate_lines
        locations_of = result.locations
        samples_of = result.samples
        signals = result.signals
        signal_lines = result.signal_lines
        bucket_of = self.bucket_of
        count = chunk.count
        cursor = [0, lines_before]  # [offset, newlines before it]: line numbers advance with the lines

        def line_number(offset: int) -> int:
            cursor[1] += count(b"\n", cursor[0], offset)
            cursor[0] = offset
            return cursor[1] + 1

        for start, end, pattern_idx, signal_idx in hot:
            for index in pattern_idx:
                spec = specs[index]
                name = spec.name
                locations = locations_of[name]
                if len(locations) < max_locations:
                    valid, matched, masked = spec.extract(chunk, start, end,
                                                          max_locations - len(samples_of[name]))
                else:
                    valid, matched = spec.count(chunk, start, end)
                    masked = []
                if not matched:
                    continue
                candidate_lines[name] += 1
                if not valid:
                    continue
                findings[name] += valid
                matched_lines[name] += 1
                if len(locations) < max_locations:
                    location = "%s:%d" % (label, line_number(start))
                    locations.append(location)
                    samples = samples_of[name]
                    for item in masked:
                        samples.append(dict(location=location, masked=item))
            if signal_idx:
                bucket = bucket_of(chunk, start, end, lambda: (label, line_number(start)))
                for index in signal_idx:
                    name = SIGNAL_NAMES[index]
                    counts = signals[name]
                    counts[bucket] = counts.get(bucket, 0) + 1
                    signal_lines[name] += 1

    def process_settled(self, counts: t.Sequence[t.Tuple[int, int, int]], signal_lines: t.Sequence[int],
                        buckets: t.Sequence[t.Tuple[int, t.Optional[int], int]]) -> None:
        """Add what the compiled scanner settled in a chunk: per pattern (candidate lines, matched lines,
        findings), lines per signal, and (signal, first second of the bucket or None for unknown, lines)."""
        result = self.result
        for spec, (candidate, matched, found) in zip(self.specs, counts):
            name = spec.name
            result.candidate_lines[name] += candidate
            result.matched_lines[name] += matched
            result.findings[name] += found
        for index, lines in enumerate(signal_lines):
            result.signal_lines[SIGNAL_NAMES[index]] += lines
        for index, first, lines in buckets:
            bucket = UNKNOWN_BUCKET if first is None else self.bucket_name(first)
            counts_of = result.signals[SIGNAL_NAMES[index]]
            counts_of[bucket] = counts_of.get(bucket, 0) + lines


def _iter_chunks(fobj: t.Any, size: int) -> t.Generator[bytes, None, None]:
    """Chunks of ``fobj`` cut just after a newline (the last one may end without one).

    A line longer than ``size`` is collected in pieces and joined once (no quadratic copying).
    """
    pending: t.List[bytes] = []
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


def _open_log(path: str) -> t.Tuple[t.Any, bool, t.BinaryIO]:
    """A binary file object for ``path``, decompressed when it starts with the gzip magic bytes."""
    # O_NONBLOCK and a check on the descriptor: a path swapped for a FIFO after expand_paths is refused.
    raw = os.fdopen(open_input(path, "paths"), "rb")
    try:
        magic = raw.read(2)
        raw.seek(0)
    except Exception:
        raw.close()
        raise
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), True, raw
    return raw, False, raw


def _has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def expand_paths(paths: t.Optional[t.Sequence[t.Any]]) -> t.List[str]:
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
            if os.path.isdir(expanded):
                raise ScanError("paths: %r is not a regular file (use a glob such as %s/*.log)" % (entry, entry))
            if not os.path.isfile(expanded):
                raise ScanError("paths: %r is %s, not a regular file; accepted values: log files or globs"
                                % (entry, file_kind(os.stat(expanded).st_mode)))
            if not os.access(expanded, os.R_OK):
                raise ScanError("paths: %r is not readable" % (entry,))
            matches = [expanded]
        for match in matches:
            key = os.path.realpath(match)
            if key not in seen:
                seen.add(key)
                out.append(match)
    return out


class _HyperscanMatcher:
    """Block-mode hyperscan database over every selected trigger and signal."""

    def __init__(self, specs: t.List[PatternSpec]) -> None:
        expressions = [hs_expression(s.trigger) for s in specs]
        expressions.extend(hs_expression(regex) for _name, regex in SIGNALS)
        self.n_patterns = len(specs)
        self.db = _hyperscan.Database(mode=_hyperscan.HS_MODE_BLOCK)
        self.db.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            flags=[0] * len(expressions),
        )

    def hot_lines(self, chunk: bytes) -> t.List[HotLine]:
        """[(line_start, line_end, pattern ids, signal ids)] for the lines where a trigger fired, in order."""
        hits: t.List[t.Tuple[int, int]] = []
        append = hits.append

        def on_match(expr_id: int, _start: int, end: int, _flags: int, _ctx: t.Any) -> None:
            append((end, expr_id))

        self.db.scan(chunk, match_event_handler=on_match)
        if not hits:
            return []
        hits.sort()
        lines: t.List[HotLine] = []
        line_end = -1
        patterns: t.List[int] = []
        signals: t.List[int] = []
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

    def count(self, processor: _LineProcessor, label: str, chunk: bytes, lines_before: int) -> int:
        """Count one chunk into ``processor``: hyperscan picks the lines, Python counts them; its newlines."""
        processor.process_hot(label, chunk, self.hot_lines(chunk), lines_before)
        return chunk.count(b"\n")


class _AccelMatcher:
    """The compiled scanner (extras/accel): it settles the common lines in C and hands the rest to the
    Python counting of the hyperscan engine (process_hot), so the answer is the same."""

    def __init__(self, specs: t.List[PatternSpec], bucket_seconds: int) -> None:
        self.scanner = _accel.LogScanner([s.name for s in specs], bucket_seconds)

    def count(self, processor: _LineProcessor, label: str, chunk: bytes, lines_before: int) -> int:
        """Count one chunk into ``processor``; its newlines. The scanner also hands back the first matched
        lines of each pattern that has room for locations, so that Python writes them and their samples in
        line order."""
        result = processor.result
        rooms = [max(0, result.max_locations - len(result.locations[s.name])) for s in processor.specs]
        counts, signal_lines, buckets, hot, newlines = self.scanner.scan(chunk, rooms)
        processor.process_settled(counts, signal_lines, buckets)
        processor.process_hot(label, chunk, hot, lines_before)
        return newlines


Matcher = t.Union[_HyperscanMatcher, _AccelMatcher]


def _engine(engine: str) -> str:
    """The engine that will run for ``engine`` (``auto``: the compiled scanner, else hyperscan, else re);
    ScanError."""
    if engine == "auto":
        engine = "accel" if HAS_ACCEL else "hyperscan" if HAS_HYPERSCAN else "re"
    if engine == "accel" and not HAS_ACCEL:
        raise ScanError("engine: accel is not available here: %s; accepted values here: auto, %sre"
                        % (ACCEL_PROBLEM, "hyperscan, " if HAS_HYPERSCAN else ""))
    if engine == "hyperscan" and not HAS_HYPERSCAN:
        raise ScanError("engine: hyperscan is not installed")
    if engine not in ENGINES:
        raise ScanError(choices_message("engine", engine, ("auto",) + ENGINES))
    return engine


def make_matcher(engine: str, specs: t.List[PatternSpec], bucket_seconds: int) -> t.Optional[Matcher]:
    """The line picker of ``engine`` (as _engine() returned it); None for the reference engine."""
    if engine == "accel":
        return _AccelMatcher(specs, bucket_seconds)
    if engine == "hyperscan":
        return _HyperscanMatcher(specs)
    return None


def _scan_file(path: str, processor: _LineProcessor, matcher: t.Optional[Matcher],
               chunk_size: int) -> t.Dict[str, t.Any]:
    """Count one file into ``processor``'s result; its entry of ``files``."""
    fobj, compressed, raw = _open_log(path)
    lines = 0
    size = 0
    ends_with_newline = True
    chunks: t.Optional[t.Generator[bytes, None, None]] = None
    try:
        chunks = _iter_chunks(fobj, chunk_size)
        for chunk in chunks:
            size += len(chunk)
            if matcher is not None:
                lines += matcher.count(processor, path, chunk, lines)
            else:
                processor.process_chunk(path, chunk, lines)
                lines += chunk.count(b"\n")
            ends_with_newline = chunk.endswith(b"\n")
        if not ends_with_newline:
            lines += 1
    finally:
        if chunks is not None:
            chunks.close()
        fobj.close()
        raw.close()
    return dict(path=path, gzip=compressed, lines=lines, bytes=size)


def scan_files(paths: t.Iterable[str], names: t.Optional[t.Iterable[str]] = None, bucket: str = "1h",
               max_locations: int = 100, engine: str = "auto", chunk_size: int = CHUNK_SIZE) -> ScanResult:
    """Scan ``paths`` (already expanded) and return a ScanResult.

    ``engine``: ``accel``, ``hyperscan``, ``re`` or ``auto`` (the first of them that is installed).
    """
    specs = select_patterns(names)
    bucket_seconds = parse_bucket(bucket)
    engine = _engine(engine)
    result = ScanResult([s.name for s in specs], bucket_seconds, max_locations)
    result.engine = engine
    processor = _LineProcessor(result, specs)
    matcher = make_matcher(engine, specs, bucket_seconds)
    for path in paths:
        entry = _scan_file(path, processor, matcher, chunk_size)
        result.lines_scanned += entry["lines"]
        result.bytes_scanned += entry["bytes"]
        result.files.append(entry)
    return result


def check_options(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """The files to scan, after every option was checked; InputError naming every bad option."""
    errors = []
    try:
        parse_bucket(params["bucket"])
    except DurationError as exc:
        errors.append(exc.msg)
    if params["max_locations"] < 0:
        errors.append("max_locations: invalid value %d; accepted values: 0 or more" % params["max_locations"])
    if not params["patterns"]:
        errors.append("patterns: give at least one of %s" % ", ".join(PATTERN_NAMES))
    paths: t.List[str] = []
    try:
        select_patterns(params["patterns"])
        paths = expand_paths(params["paths"])
    except ScanError as exc:
        errors.append(exc.msg)
    if errors:
        raise InputError("; ".join(errors))
    return paths


def summary(result: t.Mapping[str, t.Any]) -> str:
    """The sentence of a scan: what was read and what was found."""
    found = ", ".join("%s=%d" % (name, count) for name, count in result["findings"].items() if count)
    signals = ", ".join("%s=%d" % (name, count) for name, count in result["signal_lines"].items() if count)
    return "scanned %d lines in %d file(s): %s%s%s" % (
        result["lines_scanned"], len(result["files"]),
        "sensitive data found (%s)" % found if found else "no sensitive data found",
        "; signal lines %s" % signals if signals else "",
        "; %d damaged line(s) reported in damaged_lines" % result["damaged_count"] if result["damaged_count"] else "")


def scan_logs(params: t.Mapping[str, t.Any], paths: t.List[str]) -> t.Dict[str, t.Any]:
    """The ``log_scan`` task on checked options: the module result with ``msg``."""
    try:
        result = scan_files(paths, names=params["patterns"], bucket=params["bucket"],
                            max_locations=params["max_locations"], engine=params["engine"]).as_dict()
    except (OSError, EOFError, zlib.error) as exc:
        raise AirlockIncidentError("reading logs failed: %s" % exc) from exc
    result["changed"] = False
    result["msg"] = summary(result)
    return result
