# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX objects and rulebooks shipped as code: generated, consistent with the roles, accepted by their consumers."""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, runner_env

sys.path.insert(0, os.path.join(REPO, "hack"))
import awx_objects  # noqa: E402  pylint: disable=wrong-import-position

HANDED_ON = {"airlock_incident_id", "airlock_incident_directory"}


def load(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_generated_files_are_current():
    """awx/controller.yml and the rulebooks are what awx/objects.yml and the argument specs give: no drift."""
    result = subprocess.run([sys.executable, os.path.join(REPO, "hack", "awx_objects.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_surveys_follow_the_argument_specs():
    controller = load("awx/controller.yml")
    objects = load("awx/objects.yml")
    roles = {e["name"]: e.get("role") for e in objects["job_templates"]}
    roles.update({w["name"]: roles[w["survey_from"]] for w in objects["workflows"]})
    for template in controller["controller_templates"] + controller["controller_workflows"]:
        for question in (template["survey_spec"] or {}).get("spec", []):
            option = awx_objects.role_options(roles[template["name"]])[question["variable"]]
            assert question["required"] == bool(option.get("required", False))
            if option.get("choices"):
                assert question["choices"] == [str(c) for c in option["choices"]]
            if option.get("type") == "bool":
                assert question["choices"] == ["true", "false"]
            if "default" in option and option.get("type") != "bool":
                assert str(question["default"]) == str(option["default"])
    # The workflow's survey never answers the incident id: that comes from the first job's artifacts, and
    # workflow variables outrank artifacts in AWX.
    for workflow in controller["controller_workflows"]:
        assert "airlock_incident_id" not in [q["variable"] for q in workflow["survey_spec"]["spec"]]


def test_a_list_variable_cannot_be_a_free_text_question():
    option = {"type": "list", "elements": "str", "description": "argv"}
    with pytest.raises(awx_objects.ObjectsError, match="airlock_incident_restart_command: a list without choices"):
        awx_objects.question("airlock_incident_restart_command", option)


def test_unknown_alerts_and_playbooks_are_refused():
    doc = load("awx/objects.yml")
    doc["job_templates"][0]["alerts"] = ["AirlockIsSad"]
    with pytest.raises(awx_objects.ObjectsError, match="unknown alerts"):
        awx_objects.rulebook(doc, controller=False)
    doc = load("awx/objects.yml")
    doc["job_templates"][0]["playbook"] = "no_such_playbook"
    with pytest.raises(awx_objects.ObjectsError, match="does not exist"):
        awx_objects.controller_objects(doc)


def awx_module_options(name):
    spec = importlib.util.find_spec("ansible_collections.awx.awx")
    assert spec is not None and spec.submodule_search_locations, "awx.awx is not installed"
    path = os.path.join(list(spec.submodule_search_locations)[0], "plugins", "modules", name + ".py")
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    doc = source.split("DOCUMENTATION = '''", 1)[1].split("'''", 1)[0]
    return set(yaml.safe_load(doc)["options"])


@pytest.mark.parametrize("variable, module", [
    ("controller_organizations", "organization"),
    ("controller_execution_environments", "execution_environment"),
    ("controller_projects", "project"),
    ("controller_templates", "job_template"),
    ("controller_workflows", "workflow_job_template"),
    ("controller_schedules", "schedule"),
])
def test_every_object_field_is_an_awx_awx_option(variable, module):
    options = awx_module_options(module)
    objects = load("awx/controller.yml")[variable]
    assert objects
    for item in objects:
        assert set(item) <= options, "%s: %s" % (module, set(item) - options)


def test_configure_playbook_parses():
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "--syntax-check",
                             os.path.join(REPO, "awx", "configure.yml")],
                            capture_output=True, text=True, env=dict(os.environ, **runner_env()), check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["airlock_alerts", "airlock_alerts_controller"])
def test_rulebooks_match_the_ansible_rulebook_schema(name):
    import jsonschema  # pylint: disable=import-outside-toplevel
    spec = importlib.util.find_spec("ansible_rulebook")
    with open(os.path.join(list(spec.submodule_search_locations)[0], "schema", "ruleset_schema.json"),
              encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.validate(load("extensions/eda/rulebooks/%s.yml" % name), schema)


def _task_files():
    return sorted(glob.glob(os.path.join(REPO, "roles", "*", "tasks", "*.yml")))


def _tasks(node):
    """Every task dict of a tasks file, blocks included."""
    for task in node or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _tasks(task.get(key))


def test_set_stats_keys_never_clash_with_what_a_role_sets():
    """set_stats data becomes extra variables of the next job, which outrank registered results and facts."""
    set_by_roles, handed = set(), {}
    for path in _task_files():
        with open(path, encoding="utf-8") as handle:
            for task in _tasks(yaml.safe_load(handle)):
                if task.get("register"):
                    set_by_roles.add(task["register"])
                for key in ("ansible.builtin.set_fact", "set_fact"):
                    set_by_roles.update(k for k in (task.get(key) or {}) if k != "cacheable")
                for key in ("ansible.builtin.set_stats", "set_stats"):
                    if key in task:
                        handed[os.path.relpath(path, REPO)] = set(task[key]["data"])
    assert handed, "no role hands anything on"
    for path, keys in handed.items():
        assert not keys & set_by_roles, "%s hands on %s, which a role registers or sets" % (path, keys & set_by_roles)
        assert keys - HANDED_ON <= {"airlock_incident_handoff"}, path
        assert keys >= HANDED_ON, path


#: The roles the playbooks run against gateway hosts; each checks its inputs first (tasks/inputs.yml).
INPUT_ROLES = ["auth_failure", "data_breach", "data_issues", "memory", "outage", "performance", "policy_failure",
               "respond", "security"]


def _inputs(role):
    with open(os.path.join(REPO, "roles", role, "tasks", "inputs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("role", INPUT_ROLES)
def test_string_for_list_check_covers_every_list_option(role):
    tasks = _inputs(role)
    checked = set(next((t for t in tasks if "loop" in t), {"loop": []})["loop"])
    lists = {n for n, o in awx_objects.role_options(role).items() if o.get("type") == "list"}
    assert checked == lists
    assert any("airlock_incident_url" in t["ansible.builtin.assert"]["that"] for t in tasks if "ansible.builtin.assert" in t)


@pytest.mark.parametrize("role, tasks_file", [(r, "main.yml") for r in INPUT_ROLES] + [("data_issues", "backup.yml")])
def test_inputs_are_checked_before_anything_else(role, tasks_file):
    with open(os.path.join(REPO, "roles", role, "tasks", tasks_file), encoding="utf-8") as handle:
        first = yaml.safe_load(handle)[0]
    assert first.get("ansible.builtin.import_tasks") == "inputs.yml", "%s/%s: %s" % (role, tasks_file, first)


def test_backup_entry_point_has_the_checked_lists():
    """audit_backup runs data_issues' backup entry point: its inputs.yml names only options that entry point has."""
    with open(os.path.join(REPO, "roles", "data_issues", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        backup = yaml.safe_load(handle)["argument_specs"]["backup"]["options"]
    checked = set(next(t for t in _inputs("data_issues") if "loop" in t)["loop"])
    assert checked == {n for n, o in backup.items() if o.get("type") == "list"}


def _playbooks():
    return sorted(glob.glob(os.path.join(REPO, "playbooks", "*.yml")))


@pytest.mark.parametrize("path", _playbooks(), ids=os.path.basename)
def test_a_playbook_with_a_host_pattern_refuses_one_that_matches_nothing_first(path):
    with open(path, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    patterned = [p for p in plays if "{{" in str(p.get("hosts", ""))]
    if not patterned:
        return
    first = plays[0]
    assert first["hosts"] == "localhost" and "No inventory host matches" in json.dumps(first["tasks"]), path
