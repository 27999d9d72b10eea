#!/usr/bin/env bash
# ansible-test sanity, offline-safe, with no ignore entries.
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
# ansible-test 2.19 bootstraps pip in each per-test venv by downloading
# get-pip 24.2 from bootstrap.pypa.io, which is unreachable on offline CI
# machines. It first looks for a cached copy; this stand-in uses the
# interpreter's bundled ensurepip, then pip-installs whatever arguments
# ansible-test passes (from the PyPI mirror that is reachable).
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
cat >"$cache/get_pip_24_2.py" <<'PY'
"""Offline stand-in for get-pip.py 24.2 (written by airlock.incident hack/sanity.sh)."""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
args = [a for a in sys.argv[1:] if not a.startswith("--no-")] or ["pip==24.2"]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
PY
dest="$(hack/stage-collection.sh sanity | tail -n1)"
cd "$dest" || exit 1
"$VENV/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
