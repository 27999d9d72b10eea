# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which policy the running pods enforce: container start against the ConfigMap's last write."""

from __future__ import annotations

from ansible_collections.airlock.incident.plugins.module_utils.k8s.policy_loaded import policy_loaded

CONFIGMAP = {"metadata": {"name": "airlock-config", "creationTimestamp": "2026-12-05T10:00:00Z",
                          "managedFields": [{"manager": "helm", "time": "2026-12-05T10:00:00Z"},
                                            {"manager": "kubectl-edit", "time": "2026-12-05T11:00:00Z"}]}}


def pod(name, started=None, running=True, container="airlock"):
    state = {"running": {"startedAt": started}} if running else {"waiting": {"reason": "CrashLoopBackOff"}}
    return {"metadata": {"name": name}, "status": {"containerStatuses": [{"name": container, "state": state}]}}


def test_a_pod_started_before_the_last_write_runs_the_older_policy():
    result = policy_loaded([pod("a", "2026-12-05T10:30:00Z"), pod("b", "2026-12-05T11:00:00Z"),
                            pod("c", "2026-12-05T11:05:00Z")], CONFIGMAP)
    assert result["configmap_written_at"] == "2026-12-05T11:00:00Z"
    assert result["older"] == ["a"]
    assert [p["state"] for p in result["pods"]] == ["older", "current", "current"]
    assert len(result["lines"]) == 1 and "pods a started before" in result["lines"][0]


def test_damaged_and_missing_times_are_unknown_never_guessed():
    result = policy_loaded([pod("a", "yesterday"), pod("b", None), pod("c", running=False), pod("d", container="x"),
                            "not a pod", {"metadata": {}}], CONFIGMAP)
    expected = [("a", "unknown"), ("b", "unknown"), ("c", "not running"), ("d", "unknown")]
    assert [(p["name"], p["state"]) for p in result["pods"]] == expected
    assert result["older"] == []
    assert "pods a, b, d: which policy they loaded is unknown" in result["lines"][0]
    no_times = policy_loaded([pod("a", "2026-12-05T10:30:00Z")], {"metadata": {"managedFields": [{"time": "x"}]}})
    assert no_times["configmap_written_at"] is None and no_times["pods"][0]["state"] == "unknown"


def test_the_creation_time_counts_when_no_field_manager_recorded_a_time():
    configmap = {"metadata": {"creationTimestamp": "2026-12-05T10:00:00Z"}}
    assert policy_loaded([pod("a", "2026-12-05T09:59:59Z")], configmap)["older"] == ["a"]
