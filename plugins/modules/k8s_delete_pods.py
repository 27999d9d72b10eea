#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_delete_pods
short_description: Delete Airlock pods so the Deployment recreates them, once per incident action
version_added: 0.1.0
description:
  - Deletes pods of a Deployment (by default C(airlock) in C(airlock-system)) and waits until the Deployment
    again has its desired number of ready pods, none of which is a deleted one. This is the playbook's
    "Option 4, emergency pod recreation" (C(kubectl delete pods -l ...) and C(kubectl wait)).
  - Which pods - all pods of the Deployment's selector, the pods named in O(names), and with
    O(only_unready=true) only those that are not ready. Pods already terminating are left alone.
  - "The PodDisruptionBudget of the chart (C(minAvailable: 1)) does B(not) protect against this: a delete is not
    an eviction. Deleting every pod at once (O(one_at_a_time=false), what the playbook's command does) drops the
    ready pods to zero, an outage until the new pods are ready; the module warns when a deletion leaves fewer
    ready pods than a matching PDB requires."
  - With O(one_at_a_time=true) (the default) the module deletes one pod, waits until its replacement is ready,
    then deletes the next. If a replacement does not become ready within O(wait_timeout), it stops and fails
    without deleting more pods.
  - The Deployment's own metadata (not the pod template, so nothing restarts) gets the annotation
    C(airlock.incident/pods-deleted-for) (V(<incident_id>/<action>)) before the first pod is deleted. When it
    already carries the same value, the deletion was done for this incident action and a rerun changes nothing,
    also after a run that failed in its wait. Use another O(action) for another deletion in the same incident.
  - In check mode the module lists the pods it would delete and sends the deletions as a server-side dry run
    (admission and RBAC checked); nothing is deleted and nothing waits.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    description: Lists the pods, dry-run deletions only; nothing is deleted.
  diff_mode:
    description: Shows the pods of the Deployment and the C(pods-deleted-for) annotation before and after.
extends_documentation_fragment: [airlock.incident.kubernetes, airlock.incident.kubernetes.namespace,
                                 airlock.incident.kubernetes.recovery, airlock.incident.action,
                                 airlock.incident.action.named]
options:
  names:
    description:
      - Delete only these pods; each must be a pod of the Deployment that is not terminating. Omitted means all
        its pods.
    type: list
    elements: str
  only_unready:
    description:
      - Delete only the selected pods that are not ready (the ready ones keep serving).
    type: bool
    default: false
  one_at_a_time:
    description:
      - Delete one pod, wait until its replacement is ready, then the next. V(false) deletes all selected pods at
        once (the playbook's command), which can leave no ready pod until the replacements are ready.
    type: bool
    default: true
  grace_period:
    description:
      - Seconds of graceful termination for each pod (C(--grace-period)), 0 to 3600. Omitted uses the pod's
        C(terminationGracePeriodSeconds).
    type: int
  wait_timeout:
    description:
      - Seconds the whole run may wait for replacement pods (all steps together), 1 to 3600.
    type: int
    default: 300
  action:
    default: delete-pods
notes:
  - Needs C(get) and C(patch) on C(deployments), C(list) and C(delete) on C(pods) and C(list) on
    C(poddisruptionbudgets) in the namespace (without the last one the module warns that it could not check them).
  - "Undo: nothing to undo. The Deployment recreates the pods from the same template; the logs of a deleted pod
    are gone with it, so preserve them first (M(airlock.incident.k8s_triage) keeps the tails of failing containers)."
  - Deleting pods does not fix a broken template or configuration; the replacements fail the same way. Use
    M(airlock.incident.k8s_rollback) or M(airlock.incident.k8s_helm_rollback) for that.
seealso:
  - module: airlock.incident.k8s_rollout_restart
  - module: airlock.incident.k8s_scale
  - module: airlock.incident.k8s_triage
"""

EXAMPLES = r"""
- name: Recreate the pods that are stuck, one at a time
  airlock.incident.k8s_delete_pods:
    only_unready: true
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    action: recreate-unready

- name: The playbook's Option 4 (all pods at once; below the PDB until replacements are ready)
  airlock.incident.k8s_delete_pods:
    one_at_a_time: false
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    wait_timeout: 300

- name: Which pods would go
  airlock.incident.k8s_delete_pods:
    incident_id: INC-20260101-001
  check_mode: true
  register: preview
"""

RETURN = r"""
name:
  description: The Deployment whose pods are deleted.
  returned: always
  type: str
  sample: airlock
namespace:
  description: Namespace of the Deployment and its pods.
  returned: always
  type: str
  sample: airlock-system
pods_deleted_for:
  description: The C(airlock.incident/pods-deleted-for) value the Deployment carries (or would carry).
  returned: success
  type: str
  sample: INC-20260101-001/delete-pods
already_done:
  description: True when the Deployment already carried this incident action, so nothing was deleted.
  returned: success
  type: bool
selected:
  description: The pods selected for deletion (in check mode, the pods that would be deleted).
  returned: success
  type: list
  elements: str
  sample: [airlock-7d9c8-abcde, airlock-7d9c8-fghij]
deleted:
  description: The pods deleted by this run (empty in check mode and for a rerun).
  returned: always
  type: list
  elements: str
ready_pods:
  description: Ready pods of the Deployment at the end of the run.
  returned: success
  type: list
  elements: str
replicas:
  description: Desired replicas of the Deployment.
  returned: success
  type: int
pdb_warnings:
  description: PodDisruptionBudgets a deletion went (or would go) below.
  returned: success
  type: list
  elements: str
msg:
  description: What was done or would be done.
  returned: always
  type: str
not_ready_pods:
  description: Pods (not deleted by this run) that were not ready when the wait ran out, and why.
  returned: when the wait did not finish
  type: list
  elements: dict
elapsed:
  description: Seconds spent waiting for replacement pods.
  returned: success
  type: float
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import delete
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import recovery_arg_spec, run_k8s_module


ARGUMENT_SPEC = recovery_arg_spec(
    "delete-pods", wait=False,
    names=dict(type="list", elements="str"),
    only_unready=dict(type="bool", default=False),
    one_at_a_time=dict(type="bool", default=True),
    grace_period=dict(type="int"),
    wait_timeout=dict(type="int", default=300),
)


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), delete.run, delete.validate)


if __name__ == "__main__":
    main()
