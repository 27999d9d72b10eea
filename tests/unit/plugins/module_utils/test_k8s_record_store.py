# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The record store's run (k8s/record_store) without a cluster: its input checks, object names and bodies, and
pull/push against an in-memory API that keeps resourceVersions and answers 409 to a stale replace, as the API
server does. Against the real API server: tests/integration/targets/k8s_awx_record_store."""

from __future__ import annotations

import copy
import datetime
import json
import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.incident import store, sync
from ansible_collections.airlock.incident.plugins.module_utils.k8s import record_store
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import NotFound

ID = "INC-20260101-120000"
T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


class Module:
    def __init__(self, directory, check_mode=False, **kw):
        self.params = dict(namespace="records", request_timeout=10.0, incident_id=ID, confirm=None, state="push",
                           directory=directory, kind="configmap", handoff=None)
        self.params.update(kw)
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class Core:
    """ConfigMaps and Secrets by name, with resourceVersions; ``before_replace`` runs once before a replace (a
    concurrent job)."""

    def __init__(self):
        self.objects, self.version, self.before_replace, self.calls = {}, 0, None, []

    def _bump(self, body):
        self.version += 1
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(self.version)
        return body

    def __getattr__(self, name):
        verb = name.split("_", 1)[0]

        def method(*args, **kwargs):
            self.calls.append((verb, kwargs.get("dry_run") or (kwargs.get("body") or {}).get("dryRun")))
            return getattr(self, "_" + verb)(*args, **kwargs)
        return method

    def _read(self, name, namespace):
        if name not in self.objects:
            raise NotFound("%s not found" % name, status=404)
        return copy.deepcopy(self.objects[name])

    def _create(self, namespace, body, dry_run=None):
        if body["metadata"]["name"] in self.objects:
            raise AirlockIncidentError("exists", status=409)
        stored = self._bump(body)
        if not dry_run:
            self.objects[body["metadata"]["name"]] = stored
        return stored

    def _replace(self, name, namespace, body, dry_run=None):
        if self.before_replace:
            hook, self.before_replace = self.before_replace, None
            hook()
        if body["metadata"]["resourceVersion"] != self.objects[name]["metadata"]["resourceVersion"]:
            raise AirlockIncidentError("conflict", status=409)
        stored = self._bump(body)
        if not dry_run:
            self.objects[name] = stored
        return stored

    def _delete(self, name, namespace, body=None):
        assert body["preconditions"]["resourceVersion"] == self.objects[name]["metadata"]["resourceVersion"]
        if body.get("dryRun") != ["All"]:
            del self.objects[name]


class K8s:
    def __init__(self, core):
        self.core, self.namespace = core, "records"

    def call(self, what, func, *args, **kwargs):
        return func(*args, **kwargs)

    def sanitize(self, obj):
        return obj

    def ensure_namespace(self, namespace=None):
        return None


def declare(directory, minutes=0, **changes):
    paths = store.record_paths(directory, ID)
    base = store.load_record(paths["record"])
    if base is None:
        changes = dict({"severity": "P0", "type": "service_outage", "title": "down", "commander": "ann"}, **changes)
    store.update_incident(directory, ID, changes, now=T0 + datetime.timedelta(minutes=minutes))
    return store.load_record(paths["record"])


def run(core, module):
    remote = record_store.Remote(K8s(core), module.params["kind"], "records", ID)
    paths = store.record_paths(module.params["directory"], ID)
    action = {"pull": record_store.pull, "push": record_store.push}[module.params["state"]]
    return action(module, remote, paths, module.params["directory"])


def texts(record):
    return [entry["text"] for entry in record["timeline"]]


@pytest.mark.parametrize("kw, message", [
    ({"incident_id": "INC-1_"}, "incident_id: invalid value 'INC-1_' for the Kubernetes record store"),
    ({"incident_id": "../x"}, "incident_id: invalid value '../x'"),
    ({"directory": ""}, "directory: invalid value ''"),
    ({"namespace": "Records"}, "namespace: invalid value 'Records'"),
    ({"state": "absent", "confirm": "no"}, "confirm: must equal incident_id"),
])
def test_refusals_name_the_field(tmp_path, kw, message):
    directory = kw.pop("directory", str(tmp_path))
    errors = record_store.validate(Module(directory, **kw))
    assert any(message in error for error in errors), errors


def test_absent_in_check_mode_needs_no_confirm(tmp_path):
    assert record_store.validate(Module(str(tmp_path), check_mode=True, state="absent")) == []


def test_object_name_and_body():
    assert record_store.object_name("INC-20260101-120000_b") == "airlock-incident-inc-20260101-120000-b"
    remote = record_store.Remote(K8s(Core()), "secret", "records", ID)
    body = remote.body({"incident.json": "{}\n"}, "5")
    assert body["metadata"]["labels"]["airlock.incident/incident"] == ID
    assert body["metadata"]["annotations"]["airlock.incident/id"] == ID
    assert body["metadata"]["resourceVersion"] == "5" and body["type"] == "Opaque"
    assert remote.data(body) == {"incident.json": "{}\n"}


def test_a_fresh_directory_pulls_what_another_job_pushed(tmp_path):
    core = Core()
    first, second = str(tmp_path / "job1"), str(tmp_path / "job2")
    declare(first, timeline=[{"text": "gateway down", "kind": "detection"}])
    pushed = run(core, Module(first))
    assert pushed["changed"] and not pushed["found"]
    assert run(core, Module(first))["changed"] is False, "a second push changes nothing"
    pulled = run(core, Module(second, state="pull"))
    assert pulled["changed"] and pulled["found"] and pulled["unpushed"] is False
    record = store.load_record(os.path.join(second, ID, "incident.json"))
    assert "gateway down" in texts(record)
    assert os.path.isfile(os.path.join(second, ID, "incident.md"))
    assert json.load(open(os.path.join(second, ID, "handoff.json")))["status"] == "INVESTIGATING"
    assert run(core, Module(second, state="pull"))["changed"] is False, "a second pull changes nothing"


def test_a_concurrent_push_is_merged_not_lost(tmp_path):
    core = Core()
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    declare(one)
    run(core, Module(one))
    run(core, Module(two, state="pull"))
    declare(one, 5, timeline=[{"text": "restart approved", "kind": "action"}], status="IDENTIFIED")
    declare(two, 6, timeline=[{"text": "status update sent", "kind": "communication"}])
    core.before_replace = lambda: run(core, Module(two))  # job two pushes between job one's read and replace
    result = run(core, Module(one))
    assert result["conflicts"] == 1 and result["changed"]
    stored = json.loads(core.objects[record_store.object_name(ID)]["data"]["incident.json"])
    assert {"restart approved", "status update sent"} <= set(texts(stored))
    assert stored["status"] == "IDENTIFIED"
    assert store.load_record(os.path.join(one, ID, "incident.json")) == stored, "the local copy holds the merge too"


def test_check_mode_is_a_dry_run_and_writes_nothing(tmp_path):
    core = Core()
    directory = str(tmp_path)
    declare(directory)
    result = run(core, Module(directory, check_mode=True))
    assert result["changed"] and core.objects == {} and core.calls[-1] == ("create", "All")
    assert not os.path.exists(os.path.join(directory, ID, sync.STATE_FILE))
    run(core, Module(directory))
    fresh = str(tmp_path / "fresh")
    assert run(core, Module(fresh, state="pull", check_mode=True))["changed"]
    assert not os.path.exists(fresh)


def test_an_object_of_someone_else_is_never_overwritten(tmp_path):
    core = Core()
    name = record_store.object_name(ID)
    core.objects[name] = {"metadata": {"name": name, "resourceVersion": "1", "labels": {}}, "data": {}}
    declare(str(tmp_path))
    with pytest.raises(AirlockIncidentError, match="was not written by airlock.incident"):
        run(core, Module(str(tmp_path)))
    core.objects[name]["metadata"].update(labels={"app.kubernetes.io/managed-by": "airlock.incident"},
                                          annotations={"airlock.incident/id": "inc-20260101-120000"})
    with pytest.raises(AirlockIncidentError, match="holds the record of inc-20260101-120000, not INC-20260101-120000"):
        run(core, Module(str(tmp_path)))


def test_nothing_to_push_or_pull(tmp_path):
    core = Core()
    assert run(core, Module(str(tmp_path)))["found"] is False
    assert run(core, Module(str(tmp_path), state="pull"))["found"] is False
    assert core.objects == {}


def test_a_record_over_the_limit_is_refused_before_anything_is_sent(tmp_path):
    core = Core()
    directory = str(tmp_path)
    declare(directory, timeline=[{"text": "%04d " % i + "x" * 1024, "kind": "note"} for i in range(1100)])
    with pytest.raises(AirlockIncidentError, match="holds at most 1048576 bytes"):
        run(core, Module(directory))
    assert core.objects == {} and not [c for c in core.calls if c[0] != "read"]


def test_absent_in_check_mode_keeps_the_object(tmp_path):
    core = Core()
    directory = str(tmp_path)
    declare(directory)
    run(core, Module(directory))
    remote = record_store.Remote(K8s(core), "configmap", "records", ID)
    paths = store.record_paths(directory, ID)
    assert record_store.absent(Module(directory, check_mode=True, state="absent"), remote, paths)["changed"]
    assert core.calls[-1] == ("delete", ["All"]) and core.objects
    result = record_store.absent(Module(directory, state="absent", confirm=ID), remote, paths)
    assert result["changed"] and not core.objects and "push the record again" in result["undo"]
    assert not os.path.exists(os.path.join(directory, ID, sync.STATE_FILE))
    assert record_store.absent(Module(directory, state="absent", confirm=ID), remote, paths)["changed"] is False
