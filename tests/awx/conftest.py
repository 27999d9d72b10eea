# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the AWX / Event-Driven Ansible suite (``hack/test.sh awx``).

Jobs run the way AWX runs them: ansible-runner with the repository as the
project directory, a private data directory per job (a fresh execution
environment each time), the collections found through ANSIBLE_COLLECTIONS_PATH
(AWX installs ``collections/requirements.yml`` there), and the set_stats
artifacts of one job passed as extra variables to the next.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_CLI = os.path.join(REPO, "lab", "bin", "airlock-lab")
COLLECTIONS = os.path.join(REPO, ".collections")


class Lab:
    """The lab Airlock (real processes on 127.0.0.1) in a directory of its own."""

    def __init__(self, directory: str) -> None:
        self.dir = directory

    def argv(self, *args: str) -> list:
        return [sys.executable, LAB_CLI, "--dir", self.dir] + list(args)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        result = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=120, env=env, check=False)
        if result.returncode != 0:
            raise AssertionError("airlock-lab %s failed (%d): %s%s" % (" ".join(args), result.returncode, result.stdout, result.stderr))
        return result

    def status(self) -> int:
        return subprocess.run(self.argv("status"), capture_output=True, timeout=60, check=False).returncode

    @property
    def url(self) -> str:
        with open(os.path.join(self.dir, "state.json"), encoding="utf-8") as handle:
            return json.load(handle)["url"]


@pytest.fixture
def lab(tmp_path):
    """A started lab Airlock (release profile), stopped afterwards."""
    instance = Lab(str(tmp_path / "lab"))
    instance.run("start", "--profile", "release")
    try:
        yield instance
    finally:
        subprocess.run(instance.argv("stop"), capture_output=True, timeout=120, check=False)


def runner_env() -> dict:
    """Environment of a job: the collections path AWX sets, the venv's tools first on PATH."""
    return {
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "ANSIBLE_FORCE_COLOR": "0",
    }
