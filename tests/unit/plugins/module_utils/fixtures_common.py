# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test fixtures more than one unit test file builds: Kubernetes pods, safe-change parameters."""

from __future__ import annotations

#: The options a ConfigMap-target change adds to a module's file-target parameters.
CONFIGMAP_TARGET = dict(target="configmap", namespace="airlock-system", request_timeout=10.0, deployment="airlock",
                        wait_timeout=300, backup_dir="/b", confirm="INC-1")


def pod(name, ready=True, node="kwok-node-0", deleting=False, labels=None):
    """A pod as the API server returns it: running, Ready or not, optionally terminating."""
    meta = dict(name=name, labels=labels or {"app": "airlock"})
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T10:00:00Z"
    return dict(metadata=meta, spec=dict(nodeName=node),
                status=dict(phase="Running", conditions=[dict(type="Ready", status="True" if ready else "False")],
                            containerStatuses=[dict(name="airlock", ready=ready, state={"running": {}})]))


def params_module(params):
    """A class whose instances carry ``params(**values)`` as ``.params``: what the change helpers read of a module."""

    class Module:
        def __init__(self, **values):
            self.params = params(**values)

    return Module
