# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the k8s_delete_pods module does: select pods of the Deployment (by name, or the not-ready ones), check
the PodDisruptionBudgets, record the incident action on the Deployment, delete the pods (one at a time: each waits
for its replacement) and wait until the Deployment has its ready pods again, none of them a deleted one.
"""

from __future__ import annotations

import time
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import PODS_DELETED_FOR, pdb_shortfalls, ready_survivors, select_pods
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, NotFound, validate_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import deployment_action_errors, deployment_what, list_pods
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import open_deployment, optional_items, policy_api, read_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import annotations_of, describe_pods, not_ready_report, pod_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import terminating
from ansible_collections.airlock.incident.plugins.module_utils.k8s.wait import poll

Obj = t.Dict[str, t.Any]


def validate(module: t.Any) -> t.List[str]:
    """Every input refusal of k8s_delete_pods, each naming its option."""
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


def run(module: t.Any) -> Obj:
    """Delete the selected pods of the Deployment, recorded for the incident action, and wait for their replacements."""
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
    result["diff"] = pods_diff(pods, names, recorded, mark)
    patch = {"metadata": {"resourceVersion": dep["metadata"]["resourceVersion"], "annotations": {PODS_DELETED_FOR: mark}}}
    k8s.call(what, k8s.apps.patch_namespaced_deployment, params["name"], k8s.namespace, patch, **dry)
    result["changed"] = True

    delete_kwargs = dict(dry)
    if params["grace_period"] is not None:
        delete_kwargs["grace_period_seconds"] = params["grace_period"]

    def delete(pod: str) -> None:
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

    return delete_waiting(module, k8s, dep, pods, names, delete, result)


def pods_diff(pods: t.List[Obj], names: t.List[str], recorded: t.Optional[str], mark: str) -> Obj:
    """The diff of a deletion: the live pods and the annotation before and after."""
    live = sorted(pod_name(p) for p in pods if not terminating(p))
    return dict(before={"pods": live, "metadata.annotations": {PODS_DELETED_FOR: recorded} if recorded else {}},
                after={"pods": [n for n in live if n not in names] + ["(%d replacement(s))" % len(names)],
                       "metadata.annotations": {PODS_DELETED_FOR: mark}})


def delete_waiting(module: t.Any, k8s: K8s, dep: Obj, pods: t.List[Obj], names: t.List[str],
                   delete: t.Callable[[str], None], result: Obj) -> Obj:
    """Delete the pods (one at a time: each waits for its replacement) and wait for the Deployment's ready pods."""
    params = module.params
    name, what, desired = dep["metadata"]["name"], deployment_what(k8s, dep["metadata"]["name"]), dep["spec"].get("replicas", 1)
    deadline = time.monotonic() + params["wait_timeout"]
    start = time.monotonic()
    state: Obj = {}

    def check(target: t.Callable[[], int]) -> t.Callable[[], t.Tuple[bool, t.List[str]]]:
        def inner() -> t.Tuple[bool, t.List[str]]:
            current = read_deployment(k8s, name)
            now_pods = list_pods(k8s, current)
            survivors = ready_survivors(now_pods, result["deleted"])
            state.update(pods=now_pods, survivors=survivors, desired=current["spec"].get("replicas", 1))
            return len(survivors) >= min(target(), state["desired"]), survivors
        return inner

    def fail(step: str) -> t.NoReturn:
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
            done = poll(check(lambda: baseline + 1), None, deadline)[0]
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
