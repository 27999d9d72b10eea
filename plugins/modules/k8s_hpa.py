#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_hpa
short_description: Change the replica bounds and utilization targets of the HPA that scales Airlock, with a recorded undo
version_added: 0.1.0
description:
  - Sets O(min_replicas), O(max_replicas) and the CPU and memory utilization targets of the
    C(HorizontalPodAutoscaler) (C(autoscaling/v2)) whose C(scaleTargetRef) is the Deployment (by default C(airlock)
    in C(airlock-system)). The Helm chart creates this HPA only when autoscaling is enabled (2 to 10 replicas).
  - While an HPA scales the Deployment, a replica count set with C(kubectl scale) or a Deployment patch (the
    playbook sets C(spec.replicas) to 5) is overwritten by the HPA; raise O(min_replicas) instead.
  - Only the values you name change. When the HPA has no metrics (its implicit target is 80% CPU) and only a memory
    target is set, the 80% CPU target is written explicitly so that it is not lost.
  - The module never creates or deletes an HPA (deleting one during an incident leaves the Deployment at whatever
    replica count it had). Without an HPA it fails and says so.
  - The chart mounts one C(ReadWriteOnce) claim in every replica. A replica scheduled on a node other than the one
    that holds the claim stays in C(ContainerCreating) (Multi-Attach) or C(Pending); more replicas is not more
    capacity for this chart. The module warns when a change raises the bounds of such a Deployment.
  - Every change is recorded for undo in the annotation C(airlock.incident/hpa-undo) of the HPA under
    V(<incident_id>/<action>) with the previous values, in the same patch as the change. O(state=reverted) restores
    exactly the recorded previous values.
  - With O(wait), waits until the HPA has brought the Deployment's replicas within the new bounds and its rollout is
    complete, bounded by O(wait_timeout); otherwise it fails naming the pods that are not ready.
  - In check mode the patch is sent as a server-side dry run (validated by admission, stored nowhere).
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  diff_mode:
    description: Shows the HPA's minReplicas, maxReplicas and metrics before and after.
extends_documentation_fragment: [airlock.incident.kubernetes, airlock.incident.kubernetes.namespace,
                                 airlock.incident.kubernetes.recovery, airlock.incident.action,
                                 airlock.incident.action.named, airlock.incident.action.wait]
options:
  hpa:
    description:
      - Name of the HPA. By default the one HPA of the namespace whose C(scaleTargetRef) is the Deployment; when
        several target it, name one.
    type: str
  min_replicas:
    description:
      - Lowest replica count, 1 or more, at most O(max_replicas) (or the HPA's current maxReplicas).
    type: int
  max_replicas:
    description:
      - Highest replica count, 1 or more.
    type: int
  target_cpu_utilization:
    description:
      - Average CPU utilization to keep, in percent of the CPU request (1 to 1000).
    type: int
  target_memory_utilization:
    description:
      - Average memory utilization to keep, in percent of the memory request (1 to 1000).
    type: int
  state:
    description:
      - V(present) sets the given values; at least one is needed.
      - V(reverted) restores the values recorded before the first change of O(incident_id)/O(action). Fails when
        nothing was recorded for that incident action.
      - There is no V(absent) on purpose.
    type: str
    choices: [present, reverted]
    default: present
  action:
    default: hpa
notes:
  - Needs C(get), C(list) and C(patch) on C(horizontalpodautoscalers), C(get) on C(deployments), C(list) on
    C(persistentvolumeclaims) and C(pods) in the namespace.
  - Without a metrics API (metrics-server) the HPA cannot compute utilization; it still keeps the replicas within
    the bounds. The module warns when the HPA reports C(ScalingActive=False); with O(wait) it first waits (within
    O(wait_timeout)) until the HPA controller has evaluated its metrics after the change, since a rescale to a new
    minimum is written before the metrics are tried.
  - The chart's Helm values still hold the old bounds; a later C(helm upgrade) puts them back.
seealso:
  - module: airlock.incident.k8s_resources
  - module: airlock.incident.k8s_triage
"""

EXAMPLES = r"""
- name: High latency - keep more replicas warm (the HPA would undo a plain scale)
  airlock.incident.k8s_hpa:
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    min_replicas: 3
    max_replicas: 10
    target_cpu_utilization: 60
  register: hpa

- name: Preview with a diff
  airlock.incident.k8s_hpa:
    incident_id: INC-20260101-001
    min_replicas: 4
  check_mode: true
  diff: true

- name: Put the HPA back as it was before this incident's change
  airlock.incident.k8s_hpa:
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    state: reverted
"""

RETURN = r"""
hpa:
  description: Name of the HPA.
  returned: success
  type: str
  sample: airlock
name:
  description: The Deployment the HPA scales.
  returned: always
  type: str
  sample: airlock
namespace:
  description: Namespace of the HPA and its Deployment.
  returned: always
  type: str
  sample: airlock-system
incident_action:
  description: The key of the undo record, V(<incident_id>/<action>).
  returned: success
  type: str
  sample: INC-20260101-001/hpa
before:
  description: minReplicas, maxReplicas and metrics before the run.
  returned: success
  type: dict
  sample: {"minReplicas": 2, "maxReplicas": 10, "metrics": [{"type": "Resource", "resource": {"name": "cpu",
           "target": {"type": "Utilization", "averageUtilization": 80}}}]}
after:
  description: minReplicas, maxReplicas and metrics after the run (in check mode, what the dry run would store).
  returned: success
  type: dict
changes:
  description: What changed (or would change); empty when nothing changes.
  returned: success
  type: list
  elements: str
  sample: ["minReplicas: 2 -> 3", "cpu utilization target: 80% -> 60%"]
undo:
  description: The values recorded before the first change of this incident action, which O(state=reverted)
    restores. With no record yet and no change, the current values.
  returned: success
  type: dict
undo_annotation:
  description: The HPA annotation that holds the undo records.
  returned: success
  type: str
  sample: airlock.incident/hpa-undo
rwo_claims:
  description: ReadWriteOnce (or ReadWriteOncePod) claims the Deployment's pods mount (the reason more replicas may not start).
  returned: success
  type: list
  elements: str
  sample: [airlock-data]
hpa_status:
  description: The HPA's status after the run (current and desired replicas, conditions).
  returned: success
  type: dict
replicas:
  description: The Deployment's replica count after the run (and the wait).
  returned: success
  type: int
  sample: 3
rollout:
  description: Rollout progress after the change of the autoscaler, with the same keys as RV(airlock.incident.k8s_rollout_restart#module:rollout).
  returned: success
  type: dict
not_ready_pods:
  description: Pods not ready when the wait for the autoscaled Deployment ended, and why.
  returned: when the wait did not finish
  type: list
  elements: dict
elapsed:
  description: Seconds spent waiting for the Deployment within the HPA's range.
  returned: success
  type: float
msg:
  description: What was changed on the HPA or, in check mode, what would be.
  returned: always
  type: str
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import hpa_change
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import recovery_arg_spec, run_k8s_module


ARGUMENT_SPEC = recovery_arg_spec(
    "hpa",
    state=dict(type="str", default="present", choices=["present", "reverted"]),
    hpa=dict(type="str"),
    min_replicas=dict(type="int"),
    max_replicas=dict(type="int"),
    target_cpu_utilization=dict(type="int"),
    target_memory_utilization=dict(type="int"),
)


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), hpa_change.run, hpa_change.validate)


if __name__ == "__main__":
    main()
