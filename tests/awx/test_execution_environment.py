# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The execution environment: it installs this collection, every package a module imports, and helm.

``ansible-builder create`` writes the build context without a container engine; the image itself is
built by ``hack/ee.sh build`` where podman or docker exists.
"""

from __future__ import annotations

import ast
import glob
import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

from conftest import REPO

BUILDER = os.environ.get("AIRLOCK_ANSIBLE_BUILDER") or os.path.join(os.path.dirname(sys.executable), "ansible-builder")
#: Images that are archived or meant for something else (creator-ee: the dev-tools image, archived).
RETIRED_BASES = ("quay.io/ansible/creator-ee", "quay.io/ansible/ansible-runner", "quay.io/ansible/awx-ee",
                 "quay.io/ansible/ansible-builder")


def load(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def requirement_names():
    names = set()
    with open(os.path.join(REPO, "requirements.txt"), encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(re.split(r"[<>=!;\[ ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def module_imports():
    """Top-level names of the third-party packages plugins/ imports (optional_import("x") included)."""
    found = set()
    for path in glob.glob(os.path.join(REPO, "plugins", "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "optional_import"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                found.add(str(node.args[0].value).split(".", maxsplit=1)[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in ("ansible", "ansible_collections")}


#: Top-level module -> its directory under extras/.
BUILT_FROM_EXTRAS = {"airlock_incident_accel": "accel"}


def requires_of(distribution):
    """The distributions ``distribution`` depends on (installed metadata), lower-case."""
    try:
        reqs = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return set()
    return {re.split(r"[<>=!;\[ (]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs if "extra ==" not in r}


def test_every_package_a_module_imports_is_in_requirements_txt():
    listed = requirement_names()
    provided = set(listed)
    for name in listed:
        provided |= requires_of(name)
    distributions = importlib.metadata.packages_distributions()
    imports = module_imports()
    assert {"regopy", "ruamel", "yaml", "kubernetes", "blake3"} <= imports, imports
    # Optional packages built from this collection's own extras/ (they need a C compiler, so they are not
    # in requirements.txt; extras/accel/README.md says how to add one to an execution environment).
    for name in BUILT_FROM_EXTRAS:
        with open(os.path.join(REPO, "extras", BUILT_FROM_EXTRAS[name], "setup.py"), encoding="utf-8") as handle:
            assert '"%s"' % name in handle.read()
        imports.discard(name)
    missing = {}
    for name in sorted(imports):
        dists = {d.lower().replace("_", "-") for d in distributions.get(name, [name])}
        if not dists & provided:
            missing[name] = sorted(dists)
    assert not missing, "imported by plugins/ but not in requirements.txt (nor a dependency of it): %s" % missing


def test_definition_installs_the_collection_its_requirements_and_helm():
    ee = load("execution-environment.yml")
    assert ee["version"] == 3
    base = ee["images"]["base_image"]["name"]
    assert not base.startswith(RETIRED_BASES), base
    deps = ee["dependencies"]
    assert deps["python"] == "requirements.txt"
    assert deps["system"] == "bindep.txt"
    names = [c["name"] for c in deps["galaxy"]["collections"]]
    assert any(n.endswith("airlock-incident.tar.gz") for n in names), names
    assert {"kubernetes.core", "community.general"} <= set(names)
    assert any("helm version" in step for step in ee["additional_build_steps"]["append_final"])
    # Collections that install airlock.incident from Galaxy get the same packages (ansible-builder introspection).
    assert load("meta/execution-environment.yml")["dependencies"]["python"] == "requirements.txt"


def test_ansible_builder_create(tmp_path):
    if not os.access(BUILDER, os.X_OK):
        pytest.skip("ansible-builder not installed (requirements-dev.txt; or set AIRLOCK_ANSIBLE_BUILDER)")
    result = subprocess.run([os.path.join(REPO, "hack", "ee.sh"), "create"], capture_output=True, text=True,
                            env=dict(os.environ, AIRLOCK_ANSIBLE_BUILDER=BUILDER), check=False, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    context = os.path.join(REPO, ".build", "ee", "context")
    with open(os.path.join(context, "Dockerfile"), encoding="utf-8") as handle:
        dockerfile = handle.read()
    assert "registry.access.redhat.com/ubi9/ubi" in dockerfile
    assert "ansible-core>=2.17,<2.20" in dockerfile
    assert "install -m 0755 linux-${arch}/helm /usr/local/bin/helm" in dockerfile
    with open(os.path.join(context, "_build", "requirements.txt"), encoding="utf-8") as handle:
        python = handle.read()
    for package in ("regopy", "ruamel.yaml", "kubernetes", "blake3", "PyYAML"):
        assert package in python, package
    with tarfile.open(os.path.join(context, "_build", "airlock-incident", "airlock-incident.tar.gz")) as tar:
        members = set(tar.getnames())
    for shipped in ("MANIFEST.json", "roles/outage/tasks/main.yml", "playbooks/outage_p0.yml",
                    "plugins/module_utils/k8s/client.py", "extensions/eda/rulebooks/airlock_alerts.yml"):
        assert shipped in members, shipped
