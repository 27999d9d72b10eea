#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_scale
short_description: Set the replicas of the Airlock Deployment, with the undo recorded
version_added: 0.2.0
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import PREVIOUS_REPLICAS, SCALED_FOR, hpa_check, rwo_claims, rwo_warning
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import scale_progress, scale_undo, template_claims
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import recovery_arg_spec, run_k8s_module
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import autoscaling_api, deployment_action_errors, list_items, list_pods
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import open_deployment, optional_items, read_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import annotations_of, describe_pods, hpas_targeting, not_ready_report
from ansible_collections.airlock.incident.plugins.module_utils.k8s.wait import poll

MAX_REPLICAS = 100


ARGUMENT_SPEC = recovery_arg_spec(
    "scale",
    replicas=dict(type="int", required=True),
)


def _validate(module):
    params = module.params
    errors = deployment_action_errors(params, module.check_mode, "scale")
    if params["replicas"] is None or not 0 <= params["replicas"] <= MAX_REPLICAS:
        errors.append("replicas: invalid value %r; accepted values: 0 to %d" % (params["replicas"], MAX_REPLICAS))
    return errors


def run(module):
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
        pvcs = {}
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
        def check():
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


def main():
    run_k8s_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run, _validate)


if __name__ == "__main__":
    main()
