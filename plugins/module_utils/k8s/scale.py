# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the k8s_scale module does: set the replica count of the Deployment, recorded for the incident action so
that a rerun changes nothing and the undo is known, with the HorizontalPodAutoscaler and ReadWriteOnce checks,
then wait until the replicas are ready (or gone).
"""

from __future__ import annotations

import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import PREVIOUS_REPLICAS, SCALED_FOR, hpa_check, rwo_claims, rwo_warning
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import scale_progress, scale_undo, template_claims
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import autoscaling_api, deployment_action_errors, list_items, list_pods
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import open_deployment, optional_items, read_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import annotations_of, describe_pods, hpas_targeting, not_ready_report
from ansible_collections.airlock.incident.plugins.module_utils.k8s.wait import poll

Obj = t.Dict[str, t.Any]

MAX_REPLICAS = 100


def validate(module: t.Any) -> t.List[str]:
    """Every input refusal of k8s_scale, each naming its option."""
    params = module.params
    errors = deployment_action_errors(params, module.check_mode, "scale")
    if params["replicas"] is None or not 0 <= params["replicas"] <= MAX_REPLICAS:
        errors.append("replicas: invalid value %r; accepted values: 0 to %d" % (params["replicas"], MAX_REPLICAS))
    return errors


def run(module: t.Any) -> Obj:
    """Set the Deployment's replica count with a recorded undo, warn about HPAs and ReadWriteOnce claims, then wait
    for the replicas."""
    params = module.params
    name, desired = params["name"], params["replicas"]
    mark = marker(params)
    k8s, dep, what = open_deployment(params)
    before = dep["spec"].get("replicas", 1)
    annotations = annotations_of(dep)
    result = dict(changed=False, name=name, namespace=k8s.namespace, before=before, after=before, scaled_for=mark,
                  rwo_claims=[], hpa=[], elapsed=0.0)

    hpas = hpas_targeting(optional_items(module, k8s, "horizontalpodautoscalers",
                                         autoscaling_api(k8s).list_namespaced_horizontal_pod_autoscaler), k8s.namespace, name)
    result["hpa"] = sorted(h["metadata"]["name"] for h in hpas)
    for hpa in hpas:
        error, warning = hpa_check(hpa, desired)
        if error:
            raise AirlockIncidentError("%s: %s" % (what, error), **result)
        if warning:
            module.warn(warning)

    pods = list_pods(k8s, dep)
    if desired > 1:
        template = dep["spec"]["template"]
        pvcs: t.Dict[str, Obj] = {}
        if template_claims(template):
            claims = list_items(k8s, "persistentvolumeclaims", k8s.core.list_namespaced_persistent_volume_claim)
            pvcs = dict((p["metadata"]["name"], p) for p in claims)
        result["rwo_claims"] = rwo_claims(template, pvcs, pods)
        warning = rwo_warning(what, result["rwo_claims"], desired)
        if warning:
            module.warn(warning)

    recorded = dict((k, annotations[k]) for k in (SCALED_FOR, PREVIOUS_REPLICAS) if k in annotations)
    diff_before = {"spec.replicas": before, "metadata.annotations": recorded}
    if before != desired:
        if dep["spec"].get("paused"):
            module.warn("%s is paused: the replica count changes, but a paused Deployment does not roll out template changes" % what)
        new = {SCALED_FOR: mark, PREVIOUS_REPLICAS: str(before)}
        patch = {"metadata": {"resourceVersion": dep["metadata"]["resourceVersion"], "annotations": new},
                 "spec": {"replicas": desired}}
        kwargs = {"dry_run": "All"} if module.check_mode else {}
        dep = k8s.sanitize(k8s.call(what, k8s.apps.patch_namespaced_deployment, name, k8s.namespace, patch, **kwargs))
        result.update(changed=True, after=desired)
        diff_after = {"spec.replicas": desired, "metadata.annotations": new}
        result["msg"] = "%s %s from %d to %d replicas" % ("would scale" if module.check_mode else "scaled", what, before, desired)
    else:
        diff_after = diff_before
        result["msg"] = "%s already has %d replicas" % (what, desired)
    result["undo"] = scale_undo(annotations, mark, before, desired)
    if module._diff:
        result["diff"] = dict(before=diff_before, after=diff_after)

    if params["wait"] and not module.check_mode:
        def check() -> t.Tuple[bool, t.Tuple[Obj, t.List[Obj], str]]:
            current = read_deployment(k8s, name)
            now_pods = list_pods(k8s, current)
            done, message = scale_progress(current, now_pods, desired)
            return done, (current, now_pods, message)

        done, (dep, pods, message), result["elapsed"] = poll(check, params["wait_timeout"])
        result["ready_replicas"] = (dep.get("status") or {}).get("readyReplicas") or 0
        if not done:
            report = not_ready_report(pods)
            if desired == 0:
                report = [dict(name=p["metadata"]["name"], node=(p.get("spec") or {}).get("nodeName"),
                               problem="still present" + (" (terminating)" if p["metadata"].get("deletionTimestamp") else ""))
                          for p in pods]
            result["not_ready_pods"] = report
            fields = dict((k, v) for k, v in result.items() if k != "msg")
            raise AirlockIncidentError("%s did not reach %d ready replicas within wait_timeout=%ss: %s; not ready: %s"
                                       % (what, desired, params["wait_timeout"], message, describe_pods(report)), **fields)
        result["msg"] += "; %s" % message
    else:
        result["ready_replicas"] = (dep.get("status") or {}).get("readyReplicas") or 0
    return result
