#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_scale
short_description: Set the replicas of the Airlock Deployment, with the undo recorded
version_added: 0.1.0
description:
  - Sets C(spec.replicas) of a Deployment (by default C(airlock) in C(airlock-system)), the playbook's
    C(kubectl scale), and waits until that many replicas are ready. Scaling to V(0) waits until every pod
    is gone.
  - Scaling to V(0) is allowed because it is a containment step (stop serving while the incident is
    investigated), but it is an B(outage) of the gateway; nothing answers until the Deployment is scaled up again.
  - The change is recorded in the Deployment's own metadata (not in the pod template, so no pod restarts),
    in C(airlock.incident/scaled-for) (V(<incident_id>/<action>)) and C(airlock.incident/previous-replicas) (the
    count before). RV(undo) returns the count to scale back to; undo with O(replicas=<previous>).
  - C(changed) is true only when the replica count differs; a rerun with the same O(replicas) changes nothing.
  - When the pod template mounts a PersistentVolumeClaim whose access modes are only C(ReadWriteOnce) or
    C(ReadWriteOncePod) and O(replicas) is more than 1, the module warns (and returns RV(rwo_claims)); the
    Airlock chart mounts one RWO claim C(airlock-data) in every replica, so replicas on another node cannot
    mount it. Scaling up is not a fix for this chart.
  - When a HorizontalPodAutoscaler targets the Deployment, O(replicas) outside its C(minReplicas)-C(maxReplicas)
    range is refused before any change (the HPA would scale it back at its next sync); inside the range the
    module warns that the HPA keeps adjusting. V(0) is allowed with a warning, since the HPA leaves a Deployment at
    zero alone until it is scaled up again.
  - The wait is bounded by O(wait_timeout); when it runs out the module fails with the pods that are not
    ready and why.
  - In check mode the change is sent to the API server as a server-side dry run (validated by admission,
    stored nowhere) and nothing waits.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  diff_mode:
    description: Shows C(spec.replicas) and the incident annotations before and after.
extends_documentation_fragment: [airlock.incident.kubernetes, airlock.incident.kubernetes.namespace,
                                 airlock.incident.kubernetes.recovery, airlock.incident.action,
                                 airlock.incident.action.named, airlock.incident.action.wait]
options:
  replicas:
    description:
      - The number of replicas, 0 to 100. V(0) stops the gateway (an outage).
    type: int
    required: true
  action:
    default: scale
notes:
  - Needs C(get) and C(patch) on C(deployments), C(list) on C(pods) and C(persistentvolumeclaims), and C(list) on
    C(horizontalpodautoscalers) (autoscaling/v2) in the namespace. Without the HPA permission the module warns that
    it could not check the HPA range.
  - The patch carries the Deployment's C(resourceVersion), so a concurrent change makes it fail instead of being
    overwritten; rerun the task.
  - "Undo: scale back with O(replicas=<previous>) (RV(undo), also kept in the C(airlock.incident/previous-replicas)
    annotation)."
  - When the Deployment is managed by Helm, the next C(helm upgrade) sets the chart's C(replicaCount) again.
seealso:
  - module: airlock.incident.k8s_triage
  - module: airlock.incident.k8s_delete_pods
  - module: airlock.incident.k8s_rollout_restart
"""

EXAMPLES = r"""
- name: Contain - stop the gateway while the incident is investigated (an outage)
  airlock.incident.k8s_scale:
    replicas: 0
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    action: contain
  register: contained

- name: Bring it back to what it was
  airlock.incident.k8s_scale:
    replicas: "{{ contained.undo }}"
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    action: restore

- name: Preview a scale to one replica
  airlock.incident.k8s_scale:
    replicas: 1
    incident_id: INC-20260101-001
    kubeconfig: /work/main/.lab/kubeconfig
  check_mode: true
  diff: true
"""

RETURN = r"""
name:
  description: The Deployment scaled.
  returned: always
  type: str
  sample: airlock
namespace:
  description: Namespace of the scaled Deployment.
  returned: always
  type: str
  sample: airlock-system
before:
  description: C(spec.replicas) before the run.
  returned: success
  type: int
  sample: 2
after:
  description: C(spec.replicas) after the run (what it would be in check mode).
  returned: success
  type: int
  sample: 0
undo:
  description:
    - The replica count to scale back to (the count before this change); for a rerun that changed nothing,
      the count recorded for the same incident action; null when there is nothing of this action to undo.
  returned: success
  type: int
  sample: 2
scaled_for:
  description: The C(airlock.incident/scaled-for) value written (or that would be).
  returned: success
  type: str
  sample: INC-20260101-001/contain
rwo_claims:
  description: Claims mounted by every replica that only one node (or pod) can mount, when O(replicas) is more than 1.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Claim name.
      type: str
    access_modes:
      description: Access modes of the claim.
      type: list
      elements: str
    nodes:
      description: Nodes the Deployment's pods run on now.
      type: list
      elements: str
hpa:
  description: Names of the HorizontalPodAutoscalers that target the Deployment.
  returned: success
  type: list
  elements: str
ready_replicas:
  description: Ready replicas at the end of the run.
  returned: success
  type: int
msg:
  description: What was done or would be done, or the state of the wait.
  returned: always
  type: str
not_ready_pods:
  description: Pods not ready when the wait for O(replicas) ran out, and why.
  returned: when the wait did not finish
  type: list
  elements: dict
  sample: [{"name": "airlock-7d9c-x2", "node": "kwok-node-1", "problem": "airlock: running but not ready (readiness probe failing)"}]
elapsed:
  description: Seconds spent waiting for the replicas.
  returned: success
  type: float
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import scale
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import recovery_arg_spec, run_k8s_module


ARGUMENT_SPEC = recovery_arg_spec(
    "scale",
    replicas=dict(type="int", required=True),
)


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), scale.run, scale.validate)


if __name__ == "__main__":
    main()
