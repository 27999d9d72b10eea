#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_delete_pods
short_description: Delete Airlock pods so the Deployment recreates them, once per incident action
version_added: 0.2.0
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

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import PODS_DELETED_FOR, pdb_shortfalls, ready_survivors, select_pods
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import NotFound, recovery_arg_spec, run_k8s_module, validate_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import deployment_action_errors, deployment_what, list_pods
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import open_deployment, optional_items, policy_api, read_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import annotations_of, describe_pods, not_ready_report, pod_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import terminating
from ansible_collections.airlock.incident.plugins.module_utils.k8s.wait import poll


ARGUMENT_SPEC = recovery_arg_spec(
    "delete-pods", wait=False,
    names=dict(type="list", elements="str"),
    only_unready=dict(type="bool", default=False),
    one_at_a_time=dict(type="bool", default=True),
    grace_period=dict(type="int"),
    wait_timeout=dict(type="int", default=300),
)


def _validate(module):
    params = module.params
    errors = deployment_action_errors(params, module.check_mode, "delete pods of")
    for pod in params["names"] or []:
        msg = validate_name("names", pod)
        if msg:
            errors.append(msg)
    if params["names"] is not None and not params["names"]:
        errors.append("names: an empty list selects no pod; omit names to select all pods of the Deployment")
    if params["grace_period"] is not None and not 0 <= params["grace_period"] <= 3600:
        errors.append("grace_period: invalid value %r; accepted values: 0 to 3600 seconds" % (params["grace_period"],))
    return errors


def run(module):
    params = module.params
    mark = marker(params)
    k8s, dep, what = open_deployment(params)
    desired = dep["spec"].get("replicas", 1)
    recorded = annotations_of(dep).get(PODS_DELETED_FOR)
    pods = list_pods(k8s, dep)
    result = dict(changed=False, name=params["name"], namespace=k8s.namespace, pods_deleted_for=mark, already_done=recorded == mark,
                  selected=[], deleted=[], replicas=desired, pdb_warnings=[], elapsed=0.0,
                  ready_pods=ready_survivors(pods, ()))
    if result["already_done"]:
        result["msg"] = "%s already carries %s=%s: the pods were deleted for this incident action; nothing to do" % (
            what, PODS_DELETED_FOR, mark)
        return result

    selected, errors = select_pods(pods, params["names"], params["only_unready"])
    if errors:
        raise AirlockIncidentError("%s: %s" % (what, "; ".join(errors)), **result)
    names = [pod_name(p) for p in selected]
    result["selected"] = names
    if not selected:
        result["msg"] = "%s: no %spod to delete" % (what, "not-ready " if params["only_unready"] else "")
        return result

    ready_now = len(result["ready_pods"])
    ready_selected = len([n for n in names if n in result["ready_pods"]])
    labels = (dep["spec"]["template"].get("metadata") or {}).get("labels") or {}
    pdbs = optional_items(module, k8s, "poddisruptionbudgets", policy_api(k8s).list_namespaced_pod_disruption_budget)
    result["pdb_warnings"] = pdb_shortfalls(pdbs, labels, ready_now,
                                            min(1, ready_selected) if params["one_at_a_time"] else ready_selected, desired)
    for warning in result["pdb_warnings"]:
        module.warn("%s: %s" % (what, warning))

    dry = {"dry_run": "All"} if module.check_mode else {}
    result["diff"] = _diff(pods, names, recorded, mark)
    patch = {"metadata": {"resourceVersion": dep["metadata"]["resourceVersion"], "annotations": {PODS_DELETED_FOR: mark}}}
    k8s.call(what, k8s.apps.patch_namespaced_deployment, params["name"], k8s.namespace, patch, **dry)
    result["changed"] = True

    delete_kwargs = dict(dry)
    if params["grace_period"] is not None:
        delete_kwargs["grace_period_seconds"] = params["grace_period"]

    def delete(pod):
        try:
            k8s.call("pod %s/%s" % (k8s.namespace, pod), k8s.core.delete_namespaced_pod, pod, k8s.namespace, **delete_kwargs)
        except NotFound:
            pass  # gone already: what we wanted
        if not module.check_mode:
            result["deleted"].append(pod)

    if module.check_mode:
        for pod in names:
            delete(pod)
        result["msg"] = "would delete %d pod(s) of %s %s: %s" % (
            len(names), what, "one at a time" if params["one_at_a_time"] else "at once", ", ".join(names))
        return result

    return _delete_waiting(module, k8s, dep, pods, names, delete, result)


def _diff(pods, names, recorded, mark):
    live = sorted(pod_name(p) for p in pods if not terminating(p))
    return dict(before={"pods": live, "metadata.annotations": {PODS_DELETED_FOR: recorded} if recorded else {}},
                after={"pods": [n for n in live if n not in names] + ["(%d replacement(s))" % len(names)],
                       "metadata.annotations": {PODS_DELETED_FOR: mark}})


def _delete_waiting(module, k8s, dep, pods, names, delete, result):
    """Delete the pods (one at a time: each waits for its replacement) and wait for the Deployment's ready pods."""
    params = module.params
    name, what, desired = dep["metadata"]["name"], deployment_what(k8s, dep["metadata"]["name"]), dep["spec"].get("replicas", 1)
    deadline = time.monotonic() + params["wait_timeout"]
    start = time.monotonic()
    state = {}

    def check(target):
        def inner():
            current = read_deployment(k8s, name)
            now_pods = list_pods(k8s, current)
            survivors = ready_survivors(now_pods, result["deleted"])
            state.update(pods=now_pods, survivors=survivors, desired=current["spec"].get("replicas", 1))
            return len(survivors) >= min(target(), state["desired"]), survivors
        return inner

    def fail(step):
        report = not_ready_report([p for p in state.get("pods", []) if pod_name(p) not in result["deleted"]])
        result.update(not_ready_pods=report, ready_pods=state.get("survivors", []), elapsed=round(time.monotonic() - start, 1))
        raise AirlockIncidentError("%s within wait_timeout=%ss (deleted %s; %d of %d pod(s) ready, none of them deleted); not ready: %s"
                                   % (step, params["wait_timeout"], ", ".join(result["deleted"]), len(result["ready_pods"]),
                                      state.get("desired", desired), describe_pods(report)), **result)

    if params["one_at_a_time"]:
        for i, pod in enumerate(names):
            # The others that serve now, plus one: the replacement of this pod.
            baseline = len([n for n in ready_survivors(state.get("pods", pods), result["deleted"]) if n != pod])
            delete(pod)
            done = poll(check(lambda b=baseline: b + 1), None, deadline)[0]
            if not done:
                more = " (stopped; %d more pod(s) not deleted)" % (len(names) - i - 1) if i + 1 < len(names) else ""
                fail("%s: the replacement of pod %s did not become ready%s" % (what, pod, more))
    else:
        for pod in names:
            delete(pod)
    done = poll(check(lambda: state.get("desired", desired)), None, deadline)[0]
    if not done:
        fail("%s did not get back to %d ready pod(s) that were not deleted" % (what, state.get("desired", desired)))
    result.update(ready_pods=state["survivors"], elapsed=round(time.monotonic() - start, 1),
                  msg="deleted %d pod(s) of %s %s; %d of %d ready pod(s) now, none of them deleted"
                  % (len(names), what, "one at a time" if params["one_at_a_time"] else "at once", len(state["survivors"]), state["desired"]))
    return result


def main():
    run_k8s_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run, _validate)


if __name__ == "__main__":
    main()
