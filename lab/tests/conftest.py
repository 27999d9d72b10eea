# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures that start and stop real lab processes on 127.0.0.1 in temporary directories.

Run: ``.venv/bin/python -m pytest lab/tests -q`` from the repository root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

LAB_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(LAB_ROOT)
LAUNCHER = os.path.join(LAB_ROOT, "bin", "airlock-lab")

for _path in (os.path.join(REPO_ROOT, ".collections"), LAB_ROOT):
    if _path not in sys.path:
        sys.path.insert(0, _path)


class CLI:
    """Runs ``lab/bin/airlock-lab --dir DIR ...`` as a real subprocess."""

    def __init__(self, lab_dir, env=None):
        self.dir = str(lab_dir)
        self.env = dict(os.environ)
        self.env.pop("LAB_HEARTBEAT_SECONDS", None)
        for name in list(self.env):
            if name.startswith("AIRLOCK_"):
                del self.env[name]
        self.env.update(env or {})

    def run(self, *args, check=True, timeout=60, env=None):
        merged = dict(self.env)
        merged.update(env or {})
        result = subprocess.run([sys.executable, LAUNCHER, "--dir", self.dir] + [str(a) for a in args],
                                capture_output=True, text=True, timeout=timeout, env=merged)
        if check and result.returncode != 0:
            raise AssertionError("airlock-lab %s failed (%d): %s%s" % (" ".join(map(str, args)), result.returncode,
                                                                       result.stdout, result.stderr))
        return result

    def json(self, *args, **kwargs):
        return json.loads(self.run(*args, **kwargs).stdout)

    def state(self):
        with open(os.path.join(self.dir, "state.json")) as handle:
            return json.load(handle)

    @property
    def url(self):
        return self.state()["url"]

    def token(self, *args):
        return self.run("token", *args).stdout.strip()

    def log_records(self):
        records = []
        with open(os.path.join(self.dir, "airlock.log")) as handle:
            for line in handle:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass
        return records

    def wait_log(self, predicate, timeout=60.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for record in self.log_records():
                if predicate(record):
                    return record
            time.sleep(0.05)
        return None


def _start(tmp_path_factory, name, *args, env=None):
    lab_dir = tmp_path_factory.mktemp(name)
    cli = CLI(lab_dir, env=env)
    cli.start_result = cli.json("start", *args)
    return cli


@pytest.fixture(scope="session")
def release_lab(tmp_path_factory):
    """A release-profile lab with upstreams; heartbeats every second so framing tests stay fast."""
    cli = _start(tmp_path_factory, "release", "--profile", "release", env={"LAB_HEARTBEAT_SECONDS": "1"})
    yield cli
    cli.run("stop", check=False)


@pytest.fixture(scope="session")
def documented_lab(tmp_path_factory):
    cli = _start(tmp_path_factory, "documented", "--profile", "documented")
    yield cli
    cli.run("drill", "clear", "all", check=False)
    cli.run("stop", check=False)


@pytest.fixture
def fresh_lab(tmp_path):
    """A factory for a lab of its own (stopped at teardown)."""
    started = []

    def factory(*args, env=None, name="lab"):
        cli = CLI(tmp_path / name, env=env)
        started.append(cli)
        if args:  # fresh_lab("start", "--profile", ...)
            cli.start_result = cli.json(*args)
        return cli

    yield factory
    for cli in started:
        cli.run("stop", check=False)
