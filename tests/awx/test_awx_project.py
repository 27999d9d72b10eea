# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The repository used directly as an AWX project, laid out as AWX lays out a job.

AWX checks the project out into <job>/project, installs collections/requirements.yml from the project's
root into <job>/requirements_collections and runs the job template's playbook from <job>/project with
the project's ansible.cfg. Galaxy is not reachable here, so only this collection's own entry (type dir)
is installed; kubernetes.core and community.general come from the `ansible` package of the venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import ansible_runner
import yaml

from conftest import REPO


def checkout(dest):
    """The tracked files of the repository (what AWX's project update clones), in ``dest``."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = os.path.join(REPO, name)
        if os.path.isfile(source) and not os.path.islink(source):
            os.makedirs(os.path.join(dest, os.path.dirname(name)), exist_ok=True)
            shutil.copy2(source, os.path.join(dest, name))


def test_repository_as_awx_project(tmp_path, monkeypatch):
    job = tmp_path / "job"
    project = job / "project"
    checkout(str(project))
    # Nothing of the developer's setup may help: no .collections link, no collections path, no ANSIBLE_HOME.
    for name in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_CONFIG", "ANSIBLE_HOME", "PYTHONPATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with open(project / "collections" / "requirements.yml", encoding="utf-8") as handle:
        requirements = yaml.safe_load(handle)
    own = [c for c in requirements["collections"] if c.get("type") == "dir"]
    assert own == [{"name": ".", "type": "dir"}], "collections/requirements.yml must install this checkout"
    offline = tmp_path / "requirements-offline.yml"
    offline.write_text(yaml.safe_dump({"collections": own}))
    galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    result = subprocess.run([galaxy, "collection", "install", "-r", str(offline), "--no-deps",
                             "-p", str(job / "requirements_collections")],
                            cwd=str(project), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    installed = job / "requirements_collections" / "ansible_collections" / "airlock" / "incident"
    assert (installed / "roles" / "outage" / "tasks" / "main.yml").is_file()
    # AWX runs the job from the project directory; ansible.cfg there must find the installed collection.
    runner = ansible_runner.run(private_data_dir=str(job), project_dir=str(project),
                                playbook="playbooks/outage_p0.yml", cmdline="--syntax-check", quiet=True,
                                envvars={"ANSIBLE_COLLECTIONS_PATHS": str(job / "requirements_collections"),
                                         "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    output = runner.stdout.read()
    assert runner.status == "successful", output[-3000:]
