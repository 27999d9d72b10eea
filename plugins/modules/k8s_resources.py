#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_resources
short_description: Change the CPU, memory and ephemeral-storage requests and limits of the Airlock container, with a recorded undo
version_added: 0.1.0
description:
  - Sets the requests and limits of one container (by default C(airlock)) of a Deployment (by default C(airlock) in
    C(airlock-system)), the way the playbook's I(Scale up resources) (High Latency) and I(Emergency memory increase)
    (Out of Memory) steps do with C(kubectl patch), and waits for the rollout that the change starts.
  - Only the values you name change; every other request, limit and container setting is kept. A value of V(null)
    (or an empty string) removes that request or limit (for example a CPU limit that throttles Airlock).
  - Quantities are parsed with the Kubernetes grammar (V(500m), V(0.5), V(2), V(512Mi), V(1Gi), V(1.5Gi), V(1G),
    V(1e9)) before any API call and compared by value, so V(1024Mi) where V(1Gi) is set is no change. CPU must be
    whole millicores; memory and ephemeral storage whole bytes. A request above its limit is refused, and so is a
    memory limit below O(min_memory_limit).
  - Every change is recorded for undo in the annotation C(airlock.incident/resources-undo) of the Deployment's own
    metadata (not its pod template, so recording does not restart anything) under V(<incident_id>/<action>) with
    the container's previous resources. The record is written in the same patch as the change and is kept on reruns.
    O(state=reverted) restores exactly the recorded previous resources of that incident action.
  - Changing resources changes the pod template, so the Deployment rolls; the wait is bounded by O(wait_timeout) and
    a rollout that does not complete fails naming the pods that are not ready and why (for example
    C(Pending, not scheduled ... Insufficient memory) when no node can fit the new requests).
  - Warns when a new memory limit is not above the limit at which a current pod of the Deployment was OOMKilled.
  - In check mode the patch is sent as a server-side dry run (validated by admission, stored nowhere).
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  diff_mode:
    description: Shows the container's resources before and after.
extends_documentation_fragment: [airlock.incident.kubernetes, airlock.incident.kubernetes.namespace,
                                 airlock.incident.kubernetes.recovery, airlock.incident.action,
                                 airlock.incident.action.named, airlock.incident.action.wait]
options:
  container:
    description:
      - Name of the container in the pod template. The chart's container is V(airlock).
    type: str
    default: airlock
  requests:
    description:
      - Requests to set, a mapping of V(cpu), V(memory) and V(ephemeral-storage) to Kubernetes quantities. Quote the
        values (V("500m"), V("1Gi")). V(null) or V("") removes that request.
      - With O(state=present) at least one of O(requests) and O(limits) is needed.
    type: dict
  limits:
    description:
      - Limits to set, a mapping of V(cpu), V(memory) and V(ephemeral-storage) to Kubernetes quantities. V(null) or
        V("") removes that limit.
    type: dict
  min_memory_limit:
    description:
      - A memory limit below this quantity is refused. Airlock (Go runtime, OPA policy engine, SQLite audit log) is
        OOMKilled at start with less. V(0) disables the check.
    type: str
    default: 128Mi
  state:
    description:
      - V(present) sets the given requests and limits.
      - V(reverted) restores the resources recorded before the first change of O(incident_id)/O(action); O(requests)
        and O(limits) are not used. Fails when nothing was recorded for that incident action (a run that changed
        nothing records nothing).
    type: str
    choices: [present, reverted]
    default: present
  action:
    default: resources
notes:
  - Needs C(get) and C(patch) on C(deployments) and C(list) on C(pods) in the namespace.
  - An HPA's utilization targets are percentages of the requests; raising the CPU or memory request lowers the
    utilization the HPA sees (see M(airlock.incident.k8s_hpa)).
  - The chart's Helm values still hold the old resources; a later C(helm upgrade) without the new values puts them
    back. Carry the change into the values file after the incident.
seealso:
  - module: airlock.incident.k8s_hpa
  - module: airlock.incident.k8s_triage
  - module: airlock.incident.k8s_rollout_restart
"""

EXAMPLES = r"""
- name: Emergency memory increase after OOMKilled (playbook, Out of Memory step 4)
  airlock.incident.k8s_resources:
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    action: memory-increase
    requests:
      memory: 1Gi
    limits:
      memory: 2Gi
  register: mem

- name: High latency - more CPU, and no CPU limit that throttles
  airlock.incident.k8s_resources:
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    action: latency-cpu
    requests:
      cpu: "1"
    limits:
      cpu: null

- name: Preview a change (server-side dry run) with a diff
  airlock.incident.k8s_resources:
    incident_id: INC-20260101-001
    limits:
      memory: 1Gi
  check_mode: true
  diff: true

- name: Undo the memory increase of this incident
  airlock.incident.k8s_resources:
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    action: memory-increase
    state: reverted
"""

RETURN = r"""
name:
  description: The Deployment whose container resources are set.
  returned: always
  type: str
  sample: airlock
namespace:
  description: Namespace of that Deployment.
  returned: always
  type: str
  sample: airlock-system
container:
  description: Name of the container.
  returned: always
  type: str
  sample: airlock
incident_action:
  description: The key of the undo record, V(<incident_id>/<action>).
  returned: success
  type: str
  sample: INC-20260101-001/memory-increase
before:
  description: The container's resources before the run, as stored by the API server.
  returned: success
  type: dict
  sample: {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
after:
  description: The container's resources after the run (in check mode, what the dry run would store).
  returned: success
  type: dict
  sample: {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
changes:
  description: What changed (or would change), compared by value; empty when nothing changes.
  returned: success
  type: list
  elements: str
  sample: ["limits.memory: 512Mi -> 2Gi", "requests.memory: 128Mi -> 1Gi"]
undo:
  description: The resources recorded before the first change of this incident action, which O(state=reverted)
    restores. With no record yet and no change, the current resources.
  returned: success
  type: dict
  sample: {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
undo_annotation:
  description: The Deployment annotation that holds the undo records.
  returned: success
  type: str
  sample: airlock.incident/resources-undo
oom_kills:
  description: Current pods whose container was last terminated OOMKilled, with the memory limit they ran with.
  returned: success
  type: list
  elements: dict
  sample: [{"pod": "airlock-7d9c-x2", "memory_limit": "512Mi", "finished_at": "2026-01-01T10:00:00Z", "restarts": 6}]
revision_before:
  description: The C(deployment.kubernetes.io/revision) of the Deployment before its resources were changed.
  returned: success
  type: str
  sample: "3"
revision_after:
  description: Its revision once the new resources rolled out (in check mode, the revision before).
  returned: success
  type: str
  sample: "4"
rollout:
  description: Rollout progress after the change of the resources, with the same keys as RV(airlock.incident.k8s_rollout_restart#module:rollout).
  returned: success
  type: dict
not_ready_pods:
  description: Pods not ready when the rollout of the new resources stopped, and why.
  returned: when the rollout did not complete
  type: list
  elements: dict
  sample: [{"name": "airlock-7d9c-x2", "node": null, "problem": "Pending, not scheduled: 0/2 nodes are available: 2 Insufficient memory."}]
elapsed:
  description: Seconds the new resources took to roll out.
  returned: success
  type: float
msg:
  description: What was changed in the container's resources or, in check mode, what would be.
  returned: always
  type: str
  sample: "would change limits.memory: 512Mi -> 2Gi"
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import resources_change
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import recovery_arg_spec, run_k8s_module
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import DEFAULT_MEMORY_FLOOR


ARGUMENT_SPEC = recovery_arg_spec(
    "resources",
    container=dict(type="str", default="airlock"),
    requests=dict(type="dict"),
    limits=dict(type="dict"),
    min_memory_limit=dict(type="str", default=DEFAULT_MEMORY_FLOOR),
    state=dict(type="str", default="present", choices=["present", "reverted"]),
)


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), resources_change.run, resources_change.validate)


if __name__ == "__main__":
    main()
