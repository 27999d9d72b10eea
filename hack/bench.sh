#!/usr/bin/env bash
# make bench: the speed and memory figures of tests/benchmarks/, each printed
# beside its reference measured in the same run. Generated inputs (a
# 1,000,000-event audit DB, a 1 GiB log and file, and for log_scan's flat-memory
# figure that log repeated to 10 GiB) are cached under .lab/bench.
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
export PYTHONPATH="$ROOT/.collections${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$VENV/bin:$PATH"
for bench in tests/benchmarks/bench_*.py; do
  step "$bench"
  "$VENV/bin/python" "$bench" "$@" || die "$bench failed"
  done_step
done
