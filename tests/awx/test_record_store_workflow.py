# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped workflow "Airlock: P0 outage" node by node in EPHEMERAL execution environments, the incident carried
by the Kubernetes record store (airlock_incident_record_store=kubernetes).

Every job gets a fresh private data directory AND an empty incident directory (the path is the same in every
container, its content is not: nothing is shared between the jobs but the artifacts AWX hands on and the
ConfigMap in the lab cluster). Runs from the Kubernetes suite (tests/integration/targets/k8s_awx_record_store),
which creates the namespace and a service account limited to a Role on configmaps and secrets, and passes its
token the way AWX's Kubernetes credential does (K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_SSL_CA_CERT).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import runner_env
from test_runner_workflow import inventory, job_vars, load_controller, run_job

NAMESPACE = os.environ.get("AIRLOCK_RECORD_STORE_NAMESPACE", "")
pytestmark = pytest.mark.skipif(not NAMESPACE, reason="the Kubernetes record store workflow runs in the k8s suite "
                                                      "(AIRLOCK_RECORD_STORE_NAMESPACE unset)")
AUTH = ("K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "K8S_AUTH_SSL_CA_CERT")


def stored(name):
    """The ConfigMap's data, read with kubectl and the same credentials the jobs have."""
    argv = ["kubectl", "--server", os.environ["K8S_AUTH_HOST"], "--token", os.environ["K8S_AUTH_API_KEY"],
            "--certificate-authority", os.environ["K8S_AUTH_SSL_CA_CERT"], "-n", NAMESPACE, "get", "configmap", name,
            "-o", "json"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    obj = json.loads(result.stdout)
    return obj["metadata"], {key: json.loads(value) for key, value in obj["data"].items()}


def test_outage_workflow_in_ephemeral_environments(lab, tmp_path, monkeypatch):
    controller = load_controller()
    templates = {tpl["name"]: tpl for tpl in controller["controller_templates"]}
    workflow = next(w for w in controller["controller_workflows"] if w["name"] == "Airlock: P0 outage")
    incidents = str(tmp_path / "runner-incidents")  # the same path in every job's container, empty at its start
    lab.run("traffic", "--count", "5")
    lab.run("drill", "down")
    workflow_vars = {"airlock_incident_url": lab.url, "airlock_incident_directory": incidents,
                     "airlock_incident_commander": "awx-test", "airlock_incident_record_store": "kubernetes",
                     "airlock_incident_record_store_namespace": NAMESPACE}
    inv = inventory(str(tmp_path / "inventory.yml"), lab)
    env = dict(runner_env(), **{name: os.environ[name] for name in AUTH})
    env.update(KUBECONFIG="/nonexistent/kubeconfig")  # only the credential the job template gets
    monkeypatch.setattr("test_runner_workflow.runner_env", lambda: env)

    ancestors, seen, incident_id, versions = {}, [], None, []
    for node in workflow["workflow_nodes"]:
        ujt = node["unified_job_template"]
        if ujt["type"] == "workflow_approval":
            seen.append(node["identifier"])
            continue
        if os.path.exists(incidents):  # the previous job's container is gone
            shutil.move(incidents, str(tmp_path / ("after-" + seen[-1])))
        template = templates[ujt["name"]]
        artifacts, stdout = run_job(tmp_path, node["identifier"], template,
                                    job_vars(template, ancestors, workflow_vars), inv)
        seen.append(node["identifier"])
        if node["identifier"] == "respond":
            incident_id = artifacts["airlock_incident_id"]
            assert incident_id.startswith("INC-")
        else:
            assert artifacts.get("airlock_incident_id", incident_id) == incident_id, node["identifier"]
            assert "Pull the incident record from the Kubernetes record store" in stdout
        name = "airlock-incident-" + incident_id.lower()
        meta, data = stored(name)
        versions.append(meta["resourceVersion"])
        assert meta["labels"]["airlock.incident/incident"] == incident_id
        record = data["incident.json"]
        texts = [entry["text"] for entry in record["timeline"]]
        if node["identifier"] == "respond":
            assert record["status"] == "INVESTIGATING"
            assert lab.status() != 0
        elif node["identifier"] == "preview":
            assert versions[-1] == versions[-2], "the check-mode job changed the stored record"
            assert lab.status() != 0, "check mode restarted the gateway"
        elif node["identifier"] == "recover":
            assert lab.status() == 0, "the recovery job did not bring the gateway back"
            assert record["status"] == "RESOLVED"
            assert data["handoff.json"]["status"] == "RESOLVED"
            # The first job's declaration and detection survived two empty containers.
            assert [e["kind"] for e in record["timeline"]].count("declared") == 1, texts
            recovered = record
        elif node["identifier"] == "review":
            case = os.path.join(incidents, incident_id)
            for draft in ("incident-timeline-%s.md", "rca-%s.md"):
                assert os.path.isfile(os.path.join(case, draft % incident_id)), draft
            with open(os.path.join(case, "rca-%s.md" % incident_id), encoding="utf-8") as handle:
                assert incident_id in handle.read()
            # The review continued the very record the recovery pushed.
            assert all(entry in record["timeline"] for entry in recovered["timeline"])
        ancestors.update(artifacts)
    assert seen == ["respond", "preview", "approve", "recover", "review"]
