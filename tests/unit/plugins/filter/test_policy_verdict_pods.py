# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""policy_verdict with the Airlock pods: the pods that enforce an older policy are evidence, not a cause."""

from __future__ import annotations

from ansible_collections.airlock.incident.plugins.filter.policy_verdict import policy_verdict

CONFIGMAP = {"metadata": {"name": "airlock-config",
                          "managedFields": [{"manager": "helm", "time": "2026-12-05T10:00:00Z"},
                                            {"manager": "kubectl-edit", "time": "2026-12-05T11:00:00Z"}]}}


def pod(name, started):
    return {"metadata": {"name": name},
            "status": {"containerStatuses": [{"name": "airlock", "state": {"running": {"startedAt": started}}}]}}


def test_the_verdict_names_the_older_pods_as_evidence_without_changing_the_cause():
    validation = {"decisions": [{"name": "user lists tools", "ok": True}], "errors": []}
    verdict = policy_verdict(validation, pods=[pod("a", "2026-12-05T10:30:00Z")], configmap=CONFIGMAP)
    assert verdict["cause"] == "none"
    assert verdict["pods_loaded"]["older"] == ["a"]
    assert any(line.startswith("kubernetes: pods a started before") for line in verdict["evidence"])
    assert policy_verdict(validation)["pods_loaded"] is None
