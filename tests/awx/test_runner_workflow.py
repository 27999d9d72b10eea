# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped AWX workflow "Airlock: P0 outage", node by node, under ansible-runner, against the lab Airlock.

Each job template node runs in a private data directory of its own (a fresh
execution environment); its set_stats artifacts reach the next node the way
AWX passes them: the job template's extra_vars, then the artifacts of every
ancestor (approval nodes pass them through), then the workflow's own extra
variables, then the survey defaults of questions still unanswered. Only the
incident directory is shared between the jobs, as a volume would be in AWX.
"""

from __future__ import annotations

import copy
import json
import os
import sys

import ansible_runner
import pytest
import yaml

from conftest import REPO, runner_env

CONTROLLER = os.path.join(REPO, "awx", "controller.yml")


def load_controller():
    with open(CONTROLLER, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def inventory(path, lab):
    """The AWX inventory of the drill: the gateway host with how to restart it and read its logs."""
    data = {"all": {"children": {"airlock_gateways": {
        "hosts": {"gateway": {"ansible_connection": "local", "ansible_host": "127.0.0.1",
                              "ansible_python_interpreter": sys.executable}},
        "vars": {"airlock_incident_service_manager": "command",
                 "airlock_incident_restart_command": lab.argv("restart"),
                 "airlock_incident_logs_command": lab.argv("logs", "--tail", "50"),
                 "airlock_incident_verify_delay": 1}}}}}
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle)
    return path


def job_vars(template, ancestors, workflow_vars):
    """The extra variables AWX gives a workflow node's job."""
    data = copy.deepcopy(template["extra_vars"])
    data.update(ancestors)
    data.update(workflow_vars)
    for question in (template["survey_spec"] or {}).get("spec", []):
        if question["variable"] not in data and "default" in question:
            data[question["variable"]] = question["default"]
    return data


def run_job(tmp_path, name, template, extravars, inventory_path):
    """One job: ansible-runner with the repository as project, in its own private data directory."""
    private = tmp_path / ("job-" + name)
    private.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(private), project_dir=REPO, playbook=template["playbook"],
        inventory=inventory_path, extravars=extravars, envvars=runner_env(), quiet=True,
        cmdline="--check" if template["job_type"] == "check" else None)
    stdout = result.stdout.read()
    assert result.status == "successful", "%s: %s rc=%s\n%s" % (name, result.status, result.rc, stdout[-6000:])
    stats = [e for e in result.events if e.get("event") == "playbook_on_stats"]
    return stats[-1]["event_data"].get("artifact_data") or {}, stdout


def read_record(directory, handoff):
    with open(os.path.join(directory, handoff["record"]), encoding="utf-8") as handle:
        return json.load(handle)


def test_outage_workflow_node_by_node(lab, tmp_path):
    controller = load_controller()
    templates = {tpl["name"]: tpl for tpl in controller["controller_templates"]}
    workflow = next(w for w in controller["controller_workflows"] if w["name"] == "Airlock: P0 outage")
    shared = str(tmp_path / "incidents")  # the volume every job mounts
    lab.run("traffic", "--count", "5")
    lab.run("drill", "down")
    assert lab.status() != 0
    workflow_vars = {"airlock_incident_url": lab.url, "airlock_incident_directory": shared,
                     "airlock_incident_commander": "awx-test"}
    inv = inventory(str(tmp_path / "inventory.yml"), lab)

    ancestors = {}
    seen = []
    for node in workflow["workflow_nodes"]:
        ujt = node["unified_job_template"]
        if ujt["type"] == "workflow_approval":
            # An approval runs no job: AWX hands the ancestors' artifacts on unchanged.
            assert seen == ["respond", "preview"], "the approval must follow the preview: %s" % seen
            assert lab.status() != 0, "nothing may recover before the approval"
            seen.append(node["identifier"])
            continue
        template = templates[ujt["name"]]
        before = read_record(shared, ancestors["airlock_incident_handoff"]) if ancestors else None
        artifacts, stdout = run_job(tmp_path, node["identifier"], template,
                                    job_vars(template, ancestors, workflow_vars), inv)
        seen.append(node["identifier"])
        if node["identifier"] == "respond":
            incident_id = artifacts["airlock_incident_id"]
            assert incident_id.startswith("INC-")
            assert artifacts["airlock_incident_directory"] == shared
            handoff = artifacts["airlock_incident_handoff"]
            # Paths are relative to the shared directory: they mean the same in every job's container.
            assert handoff["record"] == incident_id + "/incident.json"
            assert not os.path.isabs(handoff["evidence_manifest"])
            assert os.path.isfile(os.path.join(shared, handoff["evidence_manifest"]))
            assert read_record(shared, handoff)["status"] == "INVESTIGATING"
            assert lab.status() != 0, "recovery is not allowed in the first job"
        elif node["identifier"] == "preview":
            assert "airlock_incident_id=" not in stdout
            assert read_record(shared, ancestors["airlock_incident_handoff"]) == before, "check mode changed the record"
            assert lab.status() != 0, "check mode restarted the gateway"
        elif node["identifier"] == "recover":
            assert artifacts["airlock_incident_id"] == incident_id, "the recovery must continue the declared incident"
            assert lab.status() == 0, "the recovery job did not bring the gateway back"
            assert artifacts["airlock_incident_handoff"]["status"] == "RESOLVED"
            assert read_record(shared, artifacts["airlock_incident_handoff"])["status"] == "RESOLVED"
        elif node["identifier"] == "review":
            case = os.path.join(shared, incident_id)
            for draft in ("incident-timeline-%s.md", "rca-%s.md", "post-incident-alert-%s.yaml"):
                assert os.path.isfile(os.path.join(case, draft % incident_id)), draft
        ancestors.update(artifacts)
    assert seen == ["respond", "preview", "approve", "recover", "review"]
    assert sorted(n for n in os.listdir(shared) if not n.startswith(".")) == [incident_id], "one incident for the whole workflow"


@pytest.mark.parametrize("bad, message", [
    ({"airlock_incident_restart_command": "systemctl restart airlock"},
     "airlock_incident_restart_command: invalid value \"systemctl restart airlock\""),
    ({"airlock_incident_url": ""}, "airlock_incident_url: invalid value \"\""),
    ({"airlock_incident_hosts": "gateways_that_do_not_exist"},
     "No inventory host matches 'gateways_that_do_not_exist'"),
])
def test_bad_survey_answer_is_refused_before_the_incident_is_declared(lab, tmp_path, bad, message):
    controller = load_controller()
    template = next(t for t in controller["controller_templates"] if t["name"] == "Airlock: P0 outage response")
    shared = str(tmp_path / "incidents")
    lab.run("drill", "down")
    extravars = job_vars(template, {}, {"airlock_incident_url": lab.url, "airlock_incident_directory": shared})
    extravars.update(bad)
    private = tmp_path / "job"
    private.mkdir()
    result = ansible_runner.run(private_data_dir=str(private), project_dir=REPO, playbook=template["playbook"],
                                inventory=inventory(str(tmp_path / "inventory.yml"), lab), extravars=extravars,
                                envvars=runner_env(), quiet=True)
    stdout = result.stdout.read()
    assert result.status == "failed", stdout[-3000:]
    assert message in stdout, stdout[-3000:]
    assert not os.path.exists(shared), "an incident was declared before the input was refused"
