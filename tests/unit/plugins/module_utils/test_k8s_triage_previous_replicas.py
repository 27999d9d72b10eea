# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s_triage reports the count a containment scale recorded (airlock.incident/previous-replicas)
in the scaled_to_zero finding's evidence, so roles never read the module's private annotation."""

from __future__ import annotations

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.k8s import triage as k8s_triage
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import PREVIOUS_REPLICAS


def _deployment(replicas=0, annotations=None):
    meta_annotations = {"deployment.kubernetes.io/revision": "4"}
    meta_annotations.update(annotations or {})
    return dict(metadata=dict(name="airlock", generation=3, annotations=meta_annotations),
                spec=dict(replicas=replicas, selector=dict(matchLabels={"app.kubernetes.io/name": "airlock"})),
                status=dict(replicas=replicas, updatedReplicas=replicas, readyReplicas=replicas,
                            availableReplicas=replicas, observedGeneration=3, conditions=[]))


def _findings(dep):
    summary = k8s_triage.summarize_deployment(dep)
    return summary, k8s_triage.analyse(dict(deployment=summary, pods=[], events=[], logs={}, pvcs=[], nodes=[],
                                            namespace="airlock-system", name="airlock"))


@pytest.mark.parametrize("annotation,expected", [
    ("3", 3),
    ("1", 1),
    ("0", None),
    ("-2", None),
    ("two", None),
    (" 2", None),
    ("", None),
    (None, None),
])
def test_scaled_to_zero_reports_the_recorded_previous_replicas(annotation, expected):
    annotations = {} if annotation is None else {PREVIOUS_REPLICAS: annotation}
    summary, findings = _findings(_deployment(annotations=annotations))
    assert summary["previous_replicas"] == expected
    scaled = [f for f in findings if f["id"] == "scaled_to_zero"]
    assert len(scaled) == 1
    assert scaled[0]["evidence"] == {"previous_replicas": expected}
    assert PREVIOUS_REPLICAS == "airlock.incident/previous-replicas"


def test_a_running_deployment_has_no_scaled_to_zero_finding():
    summary, findings = _findings(_deployment(replicas=2, annotations={PREVIOUS_REPLICAS: "0"}))
    assert summary["previous_replicas"] is None
    assert "scaled_to_zero" not in [f["id"] for f in findings]


def test_no_deployment_has_no_previous_replicas():
    assert k8s_triage.summarize_deployment(None) is None
