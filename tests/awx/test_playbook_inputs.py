# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad survey answers to the P1/P2 and breach job templates are refused before any incident is declared.

Each job runs as AWX runs it (ansible-runner, the repository as project, a fresh private data directory,
the template's extra variables and survey defaults). The gateway URL points at a closed loopback port: a
role that got past its input checks would declare an incident for the unreachable gateway and write the
incident directory, which the tests assert does not exist.
"""

from __future__ import annotations

import os
import sys

import ansible_runner
import pytest
import yaml

from conftest import REPO, runner_env
from test_runner_workflow import job_vars, load_controller

UNREACHABLE = "http://127.0.0.1:9"


def write_inventory(path):
    data = {"all": {"children": {"airlock_gateways": {"hosts": {"gateway": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle)
    return path


def run_template(tmp_path, name, bad):
    template = next(t for t in load_controller()["controller_templates"] if t["name"] == name)
    shared = str(tmp_path / "incidents")
    extravars = job_vars(template, {}, {"airlock_incident_url": UNREACHABLE, "airlock_incident_directory": shared,
                                        "airlock_incident_timeout": 1})
    extravars.update(bad)
    private = tmp_path / "job"
    private.mkdir()
    result = ansible_runner.run(private_data_dir=str(private), project_dir=REPO, playbook=template["playbook"],
                                inventory=write_inventory(str(tmp_path / "inventory.yml")), extravars=extravars,
                                envvars=runner_env(), quiet=True)
    return result, result.stdout.read(), shared


@pytest.mark.parametrize("name, bad, message", [
    ("Airlock: P1 authentication failure", {"airlock_incident_log_paths": "/var/log/airlock/airlock.log"},
     "airlock_incident_log_paths: invalid value \"/var/log/airlock/airlock.log\""),
    ("Airlock: P1 authentication failure", {"airlock_incident_url": ""}, "airlock_incident_url: invalid value \"\""),
    ("Airlock: data breach", {"airlock_incident_breach_regions": "eu"},
     "airlock_incident_breach_regions: invalid value \"eu\""),
    ("Airlock: data breach", {"airlock_incident_url": ""}, "airlock_incident_url: invalid value \"\""),
    ("Airlock: P1 policy engine failure", {"airlock_incident_restart_command": "systemctl restart airlock"},
     "airlock_incident_restart_command: invalid value \"systemctl restart airlock\""),
    ("Airlock: memory and OOM", {"airlock_incident_url": ""}, "airlock_incident_url: invalid value \"\""),
    ("Airlock: data breach", {"airlock_incident_hosts": "gateways_that_do_not_exist"},
     "No inventory host matches 'gateways_that_do_not_exist'"),
    ("Airlock: P2 high latency", {"airlock_incident_hosts": "gateways_that_do_not_exist"},
     "No inventory host matches 'gateways_that_do_not_exist'"),
    ("Airlock: audit database backup", {"airlock_incident_hosts": "gateways_that_do_not_exist"},
     "No inventory host matches 'gateways_that_do_not_exist'"),
])
def test_bad_answer_is_refused_before_anything_is_declared(tmp_path, name, bad, message):
    result, stdout, shared = run_template(tmp_path, name, bad)
    assert result.status == "failed", stdout[-3000:]
    assert message in stdout, stdout[-3000:]
    assert not os.path.exists(shared), "an incident was declared before the input was refused"
