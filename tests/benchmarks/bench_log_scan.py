#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of airlock.incident.log_scan against ``grep -E -c`` on a 1 GiB Airlock log.

Run from the repository root (takes a few minutes on 2 cores; the corpus is
generated once and cached)::

    PYTHONPATH=.collections .venv/bin/python tests/benchmarks/bench_log_scan.py
    PYTHONPATH=.collections .venv/bin/python tests/benchmarks/bench_log_scan.py --size-mib 128 --skip-re

What it prints, each figure beside its reference measured in the same run:

* the scan throughput of the engine ``engine=auto`` picks (the compiled scanner
  of extras/accel when installed, else hyperscan) in one process and with
  ``workers`` = the CPUs available (``scan_parallel``) vs ``grep -E -c`` with the
  alternation of the same patterns (target, issue 15: >= 2x with the workers;
  answers identical to the single process), and the hyperscan engine beside it;
* peak RSS of a scan of the corpus beside a scan of a file ``--rss-multiple``
  times larger (the corpus repeated; 10 GiB by default): target, the same RSS;
* per pattern, the candidate line count of the engine vs ``grep -E -c`` with
  that pattern alone (target: identical);
* the full findings of the engine vs the hyperscan engine and the pure-Python
  ``re`` reference engine over the whole file (target: identical), and the
  reference engine's own throughput;
* the module run through ``ansible localhost -m``: start-up overhead (same
  module on a one-line file) reported apart from the work.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DIR = os.path.join(ROOT, ".lab", "bench")

TENANTS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell"]
TOOLS = ["read_file", "list_dir", "search_code", "run_query", "fetch_url", "git_log", "write_file"]
SUBJECTS = ["alice@acme.io", "svc-ci", "bob", "carol", "dave", "svc-indexer", "erin", "frank"]
METHODS = ["tools/call", "tools/list", "resources/read", "resources/list", "prompts/get", "ping"]
ERRORS = ["token is expired", "signature is invalid", "audience mismatch", "unknown kid", "token used before issued"]
FIRST = ["john", "jane", "maria", "wei", "olga", "ahmed", "lena", "raj"]
LAST = ["doe", "smith", "garcia", "chen", "ivanova", "khan", "berg", "patel"]
DOMAINS = ["example.com", "mail.example.org", "corp.acme.io", "globex.net"]
START_TS = 1795860000.0  # 2026-11-28T10:00:00Z


def _luhn_complete(prefix, length, rng):
    body = prefix + "".join(str(rng.randrange(10)) for dummy in range(length - len(prefix) - 1))
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return body + str((10 - total % 10) % 10)


def _card(rng):
    prefix, length = rng.choice([("4", 16), ("51", 16), ("2221", 16), ("37", 15), ("6011", 16), ("4", 19)])
    number = _luhn_complete(prefix, length, rng)
    if rng.random() < 0.35:  # a Luhn-invalid look-alike
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    style = rng.random()
    if length == 16 and style < 0.2:
        return " ".join(number[i:i + 4] for i in range(0, 16, 4))
    if length == 16 and style < 0.35:
        return "-".join(number[i:i + 4] for i in range(0, 16, 4))
    return number


def _b64(rng, n):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for dummy in range(n))


def _jwt(rng):
    header = json.dumps({"alg": "RS256", "kid": _b64(rng, 8), "typ": "JWT"}, separators=(",", ":"))
    payload = json.dumps({"sub": rng.choice(SUBJECTS), "tenant": rng.choice(TENANTS), "n": _b64(rng, 60)},
                         separators=(",", ":"))
    return "%s.%s.%s" % (_b64url(header), _b64url(payload), _b64(rng, 86))


def _b64url(text):
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _line(rng, ts, hexpool):
    """One realistic Airlock log line (bytes, newline included)."""
    roll = rng.random()
    corr = rng.choice(hexpool)[:16]
    tenant = rng.choice(TENANTS)
    if roll < 0.40:
        return (
            '{"level":"info","ts":%.6f,"caller":"server/proxy.go:%d","msg":"request completed",'
            '"correlation_id":"%s","tenant":"%s","subject":"%s","method":"%s","tool":"%s","status":200,'
            '"latency_ms":%d,"bytes":%d,"remote_addr":"10.%d.%d.%d:%d","upstream":"mcp-%s-%d"}\n'
            % (ts, rng.randrange(80, 400), corr, tenant, rng.choice(SUBJECTS), rng.choice(METHODS),
               rng.choice(TOOLS), rng.randrange(1, 900), rng.randrange(100, 2000000), rng.randrange(256),
               rng.randrange(256), rng.randrange(256), rng.randrange(1024, 65535), tenant, rng.randrange(9))
        )
    if roll < 0.50:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
        return (
            '%s.%09dZ {"level":"info","ts":%.6f,"caller":"policy/engine.go:%d","msg":"policy decision",'
            '"tenant":"%s","tool":"%s","decision":"allow","rule_id":"allow_%s","input_digest":"%s","cache_hit":%s}\n'
            % (stamp, rng.randrange(10 ** 9), ts, rng.randrange(100, 300), tenant, rng.choice(TOOLS), tenant,
               rng.choice(hexpool), rng.choice(["true", "false"]))
        )
    if roll < 0.60:
        return (
            '{"id":"%s","timestamp":%d,"correlation_id":"%s","tenant":"%s","subject":"%s","action":"tool_call",'
            '"resource":"mcp://%s/%s","decision":"allow","reason":"ok","metadata":{"tool":"%s","method":"tools/call"},'
            '"hash":"%s","previous_hash":"%s","latency_ms":%d,"redaction_count":0,"created_at":%d}\n'
            % (corr, int(ts * 1e9) + rng.randrange(10 ** 6), corr, tenant, rng.choice(SUBJECTS), tenant,
               rng.choice(TOOLS), rng.choice(TOOLS), rng.choice(hexpool), rng.choice(hexpool), rng.randrange(900),
               int(ts))
        )
    if roll < 0.66:
        return (
            '{"level":"debug","ts":%.6f,"msg":"runtime stats","goroutines":%d,"heap_objects":%d,'
            '"memory_usage_bytes":%d,"cpu_usage_percent":%.2f,"gc_pause_ns":%d,"active_connections":%d,'
            '"requests_total":%d}\n'
            % (ts, rng.randrange(20, 2000), rng.randrange(10 ** 5, 10 ** 7), rng.randrange(10 ** 7, 4 * 10 ** 8),
               rng.random() * 100, rng.randrange(10 ** 4, 10 ** 7), rng.randrange(1000), rng.randrange(10 ** 9))
        )
    if roll < 0.71:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
        return "%s.%03dZ\tINFO\tserver/connection.go:%d\tSSE heartbeat sent\t{\"connection_id\": \"%s\", \"tenant\": \"%s\"}\n" % (
            stamp, rng.randrange(1000), rng.randrange(50, 200), rng.choice(hexpool)[:32], tenant)
    if roll < 0.76:
        return (
            '{"level":"info","ts":%.6f,"msg":"redaction applied","tenant":"%s","tool":"%s","direction":"response",'
            '"patterns_hit":{"email":%d,"ssn":%d,"credit_card":%d},"processing_time":%d,"data_size":%d}\n'
            % (ts, tenant, rng.choice(TOOLS), rng.randrange(5), rng.randrange(3), rng.randrange(2),
               rng.randrange(10 ** 4, 10 ** 7), rng.randrange(100, 10 ** 6))
        )
    if roll < 0.80:
        return (
            '{"level":"warn","ts":%.6f,"caller":"auth/middleware.go:%d","msg":"Token validation failed",'
            '"error":"%s","path":"/mcp","method":"POST","correlation_id":"%s"}\n'
            % (ts, rng.randrange(90, 130), rng.choice(ERRORS), corr)
        )
    if roll < 0.84:
        status = rng.choice([401, 403, 403, 404, 429, 500, 502])
        return (
            '{"level":"info","ts":"%s","msg":"http request","method":"POST","path":"/mcp","status":%d,'
            '"duration_ms":%d,"remote_addr":"198.51.100.%d:%d","user_agent":"mcp-client/1.%d"}\n'
            % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % rng.randrange(1000), status,
               rng.randrange(1, 3000), rng.randrange(256), rng.randrange(1024, 65535), rng.randrange(9))
        )
    if roll < 0.845:
        return (
            '{"level":"error","ts":%.6f,"msg":"security violation detected","action":"security_violation",'
            '"violation_type":"path_traversal","attempted_path":"../../etc/passwd","remote_addr":"203.0.113.%d:%d",'
            '"user_agent":"curl/8.%d"}\n' % (ts, rng.randrange(256), rng.randrange(1024, 65535), rng.randrange(9))
        )
    if roll < 0.86:
        name = "%s.%s" % (rng.choice(FIRST), rng.choice(LAST))
        kind = rng.random()
        if kind < 0.3:
            body = '{\\"name\\":\\"%s\\",\\"email\\":\\"%s@%s\\",\\"ssn\\":\\"%03d-%02d-%04d\\"}' % (
                name, name, rng.choice(DOMAINS), rng.randrange(1, 900), rng.randrange(1, 100), rng.randrange(1, 10000))
        elif kind < 0.6:
            body = '{\\"customer\\":\\"%s\\",\\"card\\":\\"%s\\",\\"amount\\":%d}' % (name, _card(rng), rng.randrange(10 ** 5))
        elif kind < 0.8:
            body = '{\\"username\\":\\"%s\\",\\"password\\":\\"%s\\"}' % (name, _b64(rng, rng.randrange(8, 20)))
        else:
            body = '{\\"config\\":{\\"api_key\\":\\"%s\\",\\"aws\\":\\"AKIA%s\\"}}' % (
                _b64(rng, 32), "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for dummy in range(16)))
        return '{"level":"debug","ts":%.6f,"msg":"upstream request","tenant":"%s","tool":"%s","body":"%s"}\n' % (
            ts, tenant, rng.choice(TOOLS), body)
    if roll < 0.87:
        return (
            '{"level":"debug","ts":%.6f,"msg":"forwarding headers","headers":{"Authorization":"Bearer %s",'
            '"X-Correlation-ID":"%s"}}\n' % (ts, _jwt(rng), corr)
        )
    if roll < 0.875:
        return (
            '{"level":"warn","ts":%.6f,"msg":"upstream auth","client_secret":"%s","api_secret=%s","sk":"sk-proj-%s"}\n'
            % (ts, _b64(rng, 24), _b64(rng, 20), _b64(rng, 40))
        )
    return (
        '{"level":"info","ts":%.6f,"caller":"server/server.go:%d","msg":"tools listed","tenant":"%s","count":%d,'
        '"latency_ms":%d,"session_id":"%s"}\n'
        % (ts, rng.randrange(100, 500), tenant, rng.randrange(1, 40), rng.randrange(1, 90), rng.choice(hexpool)[:32])
    )


def generate_corpus(path, size_bytes, seed=20261128):
    """Write ``size_bytes`` (rounded up to a whole line) of log lines to ``path`` atomically."""
    rng = random.Random(seed)
    hexpool = ["%064x" % rng.getrandbits(256) for dummy in range(4096)]
    tmp = path + ".partial"
    written = 0
    ts = START_TS
    with open(tmp, "wb") as out:
        batch = []
        while written < size_bytes:
            ts += rng.random() * 0.004
            line = _line(rng, ts, hexpool).encode("ascii")
            batch.append(line)
            written += len(line)
            if len(batch) >= 20000:
                out.write(b"".join(batch))
                batch = []
        out.write(b"".join(batch))
    os.replace(tmp, path)
    return path


def ensure_corpus(size_mib, directory=DEFAULT_DIR):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "airlock-%dmib.log" % size_mib)
    if not os.path.exists(path):
        started = time.time()
        sys.stdout.write("generating %s ... " % path)
        sys.stdout.flush()
        generate_corpus(path, size_mib * 1024 * 1024)
        sys.stdout.write("%.0f s\n" % (time.time() - started))
    return path


def _timed(func):
    started = time.perf_counter()
    value = func()
    return value, time.perf_counter() - started


def _cpu():
    """CPU seconds (user + sys) of this process and of its waited-for children (grep, scan workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _timed_cpu(func):
    """(value, wall seconds, CPU seconds): CPU time is what the load of a shared machine changes least."""
    cpu = _cpu()
    value, seconds = _timed(func)
    return value, seconds, _cpu() - cpu


def _grep_count(expression, path):
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run(["grep", "-a", "-E", "-c", "-e", expression, path], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode not in (0, 1) or proc.stderr:
        raise RuntimeError("grep failed: %s" % proc.stderr.decode())
    return int(proc.stdout.strip())


def _hyperscan_alone(matcher, path, scan):
    """Read the file in the engine's chunks and run its hyperscan database with a callback that only counts:
    what the engine costs without any Python per line. Returns the number of reports."""
    reports = [0]

    def on_match(_id, _start, _end, _flags, _ctx):
        reports[0] += 1

    with open(path, "rb") as handle:
        for chunk in scan._iter_chunks(handle, scan.CHUNK_SIZE):
            matcher.db.scan(chunk, match_event_handler=on_match)
    return reports[0]


def _hot_lines(matcher, path, scan):
    """Lines where a trigger or a signal fired (the lines the engine hands to Python)."""
    with open(path, "rb") as handle:
        return sum(len(matcher.hot_lines(chunk)) for chunk in scan._iter_chunks(handle, scan.CHUNK_SIZE))


def _where_hyperscan_goes(path, scan, sp, hs_cpu, grep_cpu, workers, lines_scanned):
    matcher, _seconds, compile_cpu = _timed_cpu(lambda: scan._HyperscanMatcher(sp.select_patterns(None)))
    reports, _seconds, hs_alone_cpu = _timed_cpu(lambda: _hyperscan_alone(matcher, path, scan))
    hot = _hot_lines(matcher, path, scan)
    python_cpu = max(hs_cpu - hs_alone_cpu - compile_cpu, 0.0)
    share = 100.0 * hot / max(1, lines_scanned)
    per_line = 1e6 * python_cpu / max(1, hot)
    print("  where one process's CPU goes: compiling the hyperscan database %.2f s; hyperscan alone (read + scan,"
          " a counting callback for each of its %d reports) %.2f s; the rest, %.2f s, is Python on the %d lines"
          " where a trigger fired (%.1f%% of %d lines): %.1f us per such line"
          % (compile_cpu, reports, hs_alone_cpu, python_cpu, hot, share, lines_scanned, per_line))
    allowed = grep_cpu * workers / 2.0
    budget = allowed - hs_alone_cpu
    print("  for 2x grep on %d free cores one process may spend %.2f s of CPU in all: %.2f s beside hyperscan,"
          " i.e. %.1f us per triggered line" % (workers, allowed, budget, 1e6 * budget / max(1, hot)))


def _where_accel_goes(path, scan, sp, engine_cpu, lines_scanned):
    """The compiled scanner alone (read + scan, nothing handed to Python) beside the whole engine."""
    specs = sp.select_patterns(None)
    matcher = scan._AccelMatcher(specs, 300)
    handed = [0]

    def alone():
        with open(path, "rb") as handle:
            for chunk in scan._iter_chunks(handle, scan.CHUNK_SIZE):
                handed[0] += len(matcher.scanner.scan(chunk, [0] * len(specs))[3])

    _value, _seconds, alone_cpu = _timed_cpu(alone)
    print("  where one process's CPU goes: the compiled scanner alone (read + scan) %.2f s; the rest, %.2f s, is"
          " Python: chunking, merging, and the %d of %d lines the scanner hands back (not sure of them, or the"
          " first matched lines of each pattern, for locations and samples)"
          % (alone_cpu, max(engine_cpu - alone_cpu, 0.0), handed[0], lines_scanned))


def _mbps(nbytes, seconds):
    return nbytes / seconds / 1e6


def _row(label, ours, reference, unit, target=None):
    ratio = ours / reference if reference else float("inf")
    verdict = ""
    if target is not None:
        verdict = "PASS" if ratio >= target else "MISS (target %.1fx)" % target
    print("  %-44s %10.1f %-5s  reference %10.1f %-5s  ratio %5.2fx  %s" % (label, ours, unit, reference, unit, ratio, verdict))


RSS_PROBE = (
    "import resource, subprocess, sys\n"
    "subprocess.check_call([sys.executable, '-c', %r, sys.argv[1], sys.argv[2]])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    % "import sys\n"
      "from ansible_collections.airlock.incident.plugins.module_utils.evidence import scan_parallel\n"
      "scan_parallel.scan_files([sys.argv[1]], bucket='5m', workers=int(sys.argv[2]))\n")


def _peak_rss_mb(path, workers):
    """Peak RSS (MB) of the largest process of a fresh scan (RUSAGE_CHILDREN in an intermediate process)."""
    output = subprocess.check_output([sys.executable, "-c", RSS_PROBE, path, str(workers)], env=os.environ)
    return int(output.decode().split()[-1]) / 1024.0


def _flat_rss(path, size, multiple, workers):
    big = "%s.x%d" % (path, multiple)
    if not os.path.exists(big) or os.path.getsize(big) != size * multiple:
        sys.stdout.write("\nbuilding %s (%d copies of the corpus) ... " % (big, multiple))
        sys.stdout.flush()
        with open(big + ".partial", "wb") as out:
            for dummy in range(multiple):
                with open(path, "rb") as source:
                    while True:
                        block = source.read(8 * 1024 * 1024)
                        if not block:
                            break
                        out.write(block)
        os.rename(big + ".partial", big)
        print("done")
    small = _peak_rss_mb(path, workers)
    large, seconds = _timed(lambda: _peak_rss_mb(big, workers))
    print("\npeak RSS of a scan (%d workers; largest process), memory flat in the file's size:" % workers)
    print("  %.1f GiB file: %.1f MB   %.1f GiB file: %.1f MB (scanned in %.0f s)   (target: the same: %s)"
          % (size / 2.0 ** 30, small, size * multiple / 2.0 ** 30, large, seconds,
             "MET" if large <= small * 1.1 + 5 else "NOT MET"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", default=DEFAULT_DIR)
    parser.add_argument("--skip-re", action="store_true", help="skip the slow pure-Python reference pass")
    parser.add_argument("--skip-per-pattern-grep", action="store_true")
    parser.add_argument("--skip-module", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rss-multiple", type=int, default=10,
                        help="RSS of the corpus beside a file this many times larger (0: skip)")
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.join(ROOT, ".collections"))
    from ansible_collections.airlock.incident.plugins.module_utils.evidence import patterns as sp
    from ansible_collections.airlock.incident.plugins.module_utils.evidence import scan, scan_parallel

    path = ensure_corpus(args.size_mib, args.dir)
    size = os.path.getsize(path)
    print("corpus: %s (%d bytes)" % (path, size))

    # Warm the page cache so that every contender reads from memory.
    _res, cat_s = _timed(lambda: subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True))
    _res, cat_s = _timed(lambda: subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True))
    print("page-cache read (cat > /dev/null): %.0f MB/s" % _mbps(size, cat_s))

    expressions = sp.grep_expressions()
    combined = "|".join("(%s)" % e for e in expressions.values())
    engine = scan._engine("auto")  # what the module runs: accel, else hyperscan, else re
    print("engine: %s (engine=auto)%s" % (
        engine, "" if scan.HAS_ACCEL else "; the compiled scanner is not available here: %s" % scan.ACCEL_PROBLEM))
    # grep and the engine run interleaved, best of --repeat each, so that the load of a
    # shared machine weighs on both alike.
    grep_s = hs_s = par_s = grep_cpu = hs_cpu = par_cpu = float("inf")
    workers = scan_parallel.available_cpus()
    for dummy in range(args.repeat):
        grep_all, seconds, cpu = _timed_cpu(lambda: _grep_count(combined, path))
        grep_s, grep_cpu = min(grep_s, seconds), min(grep_cpu, cpu)
        result, seconds, cpu = _timed_cpu(lambda: scan.scan_files([path], engine=engine, bucket="5m"))
        hs_s, hs_cpu = min(hs_s, seconds), min(hs_cpu, cpu)
        parallel, seconds, cpu = _timed_cpu(lambda: scan_parallel.scan_files([path], engine=engine, bucket="5m",
                                                                             workers=workers))
        par_s, par_cpu = min(par_s, seconds), min(par_cpu, cpu)
    hs = result.as_dict()
    hs_any = hs["candidate_lines"]
    print("\nthroughput (all %d patterns + %d signals, one pass; best of %d interleaved runs; load average %s):"
          % (len(sp.PATTERN_NAMES), len(sp.SIGNAL_NAMES), args.repeat,
             " ".join("%.1f" % x for x in os.getloadavg())))
    _row("log_scan %s, 1 process vs grep -E -c" % engine, _mbps(size, hs_s), _mbps(size, grep_s), "MB/s")
    _row("log_scan %s, %d workers vs grep -E -c" % (engine, workers), _mbps(size, par_s), _mbps(size, grep_s),
         "MB/s", target=2.0)
    print("  (grep -E -c with the alternation counted %d lines; grep %.2f s, 1 process %.2f s, %d workers %.2f s)"
          % (grep_all, grep_s, hs_s, workers, par_s))
    print("  CPU time (user+sys; best of %d): grep %.2f s, 1 process %.2f s, %d workers %.2f s in all their processes"
          % (args.repeat, grep_cpu, hs_cpu, workers, par_cpu))
    _row("log_scan, 1 process, per CPU second", _mbps(size, hs_cpu), _mbps(size, grep_cpu), "MB/s")
    _row("%d workers on %d free cores (CPU projection)" % (workers, workers),
         _mbps(size, par_cpu / workers), _mbps(size, grep_cpu), "MB/s", target=2.0)
    print("  (the projection divides the CPU time of all %d processes by %d; it is not a measurement)"
          % (workers + 1, workers))
    if engine == "accel":
        _where_accel_goes(path, scan, sp, hs_cpu, result.lines_scanned)
    elif engine == "hyperscan":
        _where_hyperscan_goes(path, scan, sp, hs_cpu, grep_cpu, workers, result.lines_scanned)
    projection = grep_cpu / (par_cpu / workers)
    print("  target >= 2x grep -E -c with %d workers: %s (measured wall %.2fx, CPU projection %.2fx)"
          % (workers, "MET" if min(grep_s / par_s, projection) >= 2.0 else "NOT MET", grep_s / par_s, projection))
    others = {}
    if engine == "accel" and scan.HAS_HYPERSCAN:
        hyper, seconds, cpu = _timed_cpu(lambda: scan_parallel.scan_files([path], engine="hyperscan", bucket="5m",
                                                                          workers=workers))
        others["hyperscan"] = hyper.as_dict()
        _row("for reference: hyperscan engine, %d workers" % workers, _mbps(size, seconds), _mbps(size, grep_s),
             "MB/s")

    failures = []
    same_parallel = parallel.as_dict() == hs
    print("  %d workers vs 1 process (findings, locations, samples, signals, counts): %s"
          % (workers, "identical" if same_parallel else "DIFFERENT"))
    if not same_parallel:
        failures.append("parallel-vs-single")
    if not args.skip_per_pattern_grep:
        print("\ncandidate lines per pattern, engine vs grep -E -c with that pattern alone:")
        for name, expression in expressions.items():
            count, seconds = _timed(lambda e=expression: _grep_count(e, path))
            if name.startswith("signal:"):
                ours = hs["signal_lines"][name.split(":", 1)[1]]
            else:
                ours = hs_any[name]
            same = ours == count
            if not same:
                failures.append(name)
            print("  %-26s engine %9d   grep %9d   %s   (grep %.1f s, %.0f MB/s)"
                  % (name, ours, count, "identical" if same else "DIFFERENT", seconds, _mbps(size, seconds)))

    print("\nfindings (validated: Luhn, SSN rules, JWT header, no placeholder):")
    for name in sp.PATTERN_NAMES:
        print("  %-14s %8d findings on %8d lines (of %8d candidate lines)"
              % (name, hs["findings"][name], hs["matched_lines"][name], hs["candidate_lines"][name]))
    print("  signals: %s" % ", ".join("%s=%d" % (k, v) for k, v in hs["signal_lines"].items()))
    print("  lines scanned %d, bytes %d" % (hs["lines_scanned"], hs["bytes_scanned"]))

    if not args.skip_re:
        ref, re_s = _timed(lambda: scan.scan_files([path], engine="re", bucket="5m"))
        others["re"] = ref.as_dict()
        print("\nreference engine (pure-Python re, every line x every pattern):")
        _row("log_scan engine=re vs grep -E -c", _mbps(size, re_s), _mbps(size, grep_s), "MB/s")
    ours = dict(hs, engine=None)
    for other_name, other in others.items():
        theirs = dict(other, engine=None)
        same = ours == theirs
        if not same:
            failures.append("%s-vs-%s" % (engine, other_name))
            for key in ours:
                if ours[key] != theirs[key]:
                    print("  DIFFERENT %s:\n    %-9s %s\n    %-9s %s" % (
                        key, engine, json.dumps(ours[key])[:400], other_name, json.dumps(theirs[key])[:400]))
        print("  %s and %s results (findings, locations, samples, signals, counts): %s"
              % (engine, other_name, "identical" if same else "DIFFERENT"))

    if not args.skip_module:
        env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                   ANSIBLE_NOCOLOR="1")
        ansible = os.path.join(ROOT, ".venv", "bin", "ansible")
        tiny = os.path.join(args.dir, "tiny.log")
        with open(tiny, "w") as handle:
            handle.write('{"level":"info","ts":1795860000.0,"msg":"ok"}\n')

        def run(target):
            proc = subprocess.run([ansible, "localhost", "-m", "airlock.incident.log_scan", "-a",
                                   json.dumps({"paths": [target], "bucket": "5m"})], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
            if proc.returncode != 0:
                raise RuntimeError(proc.stdout.decode()[-2000:] + proc.stderr.decode()[-2000:])
            return proc

        overhead_s = total_s = float("inf")
        for dummy in range(args.repeat):
            overhead_s = min(overhead_s, _timed(lambda: run(tiny))[1])
            total_s = min(total_s, _timed(lambda: run(path))[1])
        work_s = max(total_s - overhead_s, 1e-9)
        print("\nmodule through `ansible localhost -m airlock.incident.log_scan`:")
        print("  start-up overhead (one-line file): %.2f s; total on the corpus: %.2f s; work: %.2f s"
              % (overhead_s, total_s, work_s))
        _row("module work vs grep -E -c", _mbps(size, work_s), _mbps(size, grep_s), "MB/s", target=5.0)

    if args.rss_multiple > 1:
        _flat_rss(path, size, args.rss_multiple, workers)

    print("\nresult: %s" % ("all counts identical" if not failures else "DIFFERENCES in %s" % ", ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
