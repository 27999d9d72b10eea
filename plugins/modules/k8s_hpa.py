#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_hpa
short_description: Change the replica bounds and utilization targets of the HPA that scales Airlock, with a recorded undo
version_added: 0.2.0
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker as incident_marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import NotFound, recovery_arg_spec, run_k8s_module, validate_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import autoscaling_api, deployment_action_errors, open_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import rollout_error, wait_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import HPA_UNDO, annotation_ops, conflict_message, dump_records
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import guard_ops, hpa_changes, hpa_fields, load_records, mark_reverted
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import plan_hpa, record_change, recorded_change, rwo_claims
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import condition, hpa_targets_deployment as hpa_targets
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import rollout_state, rollout_summary
from ansible_collections.airlock.incident.plugins.module_utils.k8s.wait import poll

SETTINGS = ("min_replicas", "max_replicas", "target_cpu_utilization", "target_memory_utilization")


ARGUMENT_SPEC = recovery_arg_spec(
    "hpa",
    state=dict(type="str", default="present", choices=["present", "reverted"]),
    hpa=dict(type="str"),
    min_replicas=dict(type="int"),
    max_replicas=dict(type="int"),
    target_cpu_utilization=dict(type="int"),
    target_memory_utilization=dict(type="int"),
)


def _validate(module):
    p = module.params
    errors = deployment_action_errors(p, module.check_mode, "change the autoscaler of")
    if p["hpa"] is not None:
        msg = validate_name("hpa", p["hpa"])
        if msg:
            errors.append(msg)
    given = [k for k in SETTINGS if p[k] is not None]
    if p["state"] == "present":
        if not given:
            errors.append("min_replicas/max_replicas/target_cpu_utilization/target_memory_utilization: nothing to change; "
                          "give at least one")
        for key in ("min_replicas", "max_replicas"):
            if p[key] is not None and p[key] < 1:
                errors.append("%s: invalid value %r; accepted values: 1 or more (an HPA cannot scale to zero here, and a "
                              "Deployment at 0 replicas is an outage)" % (key, p[key]))
        if p["min_replicas"] is not None and p["max_replicas"] is not None and p["min_replicas"] > p["max_replicas"]:
            errors.append("min_replicas: %s is more than max_replicas %s" % (p["min_replicas"], p["max_replicas"]))
        for key in ("target_cpu_utilization", "target_memory_utilization"):
            if p[key] is not None and not 1 <= p[key] <= 1000:
                errors.append("%s: invalid value %r; accepted values: 1 to 1000 (percent of the request)" % (key, p[key]))
    elif given:
        errors.append("%s: not used with state=reverted, which restores the recorded previous values; remove them"
                      % "/".join(given))
    return errors


def _find_hpa(k8s, api, params):
    ns, name = k8s.namespace, params["name"]
    if params["hpa"]:
        what = "horizontalpodautoscaler %s/%s" % (ns, params["hpa"])
        try:
            hpa = k8s.sanitize(k8s.call(what, api.read_namespaced_horizontal_pod_autoscaler, params["hpa"], ns))
        except NotFound as exc:
            raise AirlockIncidentError("%s not found (API server %s)" % (what, k8s.host)) from exc
        if not hpa_targets(hpa, ns, name):
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            raise AirlockIncidentError("%s scales %s/%s, not deployment %s" % (what, ref.get("kind"), ref.get("name"), name))
        return hpa
    items = k8s.sanitize(k8s.call("horizontalpodautoscalers in %s" % ns, api.list_namespaced_horizontal_pod_autoscaler,
                                  ns)).get("items") or []
    matches = [h for h in items if hpa_targets(h, ns, name)]
    if not matches:
        raise AirlockIncidentError(
            "no HorizontalPodAutoscaler in namespace %s scales deployment %s; this module changes an existing HPA and "
            "does not create one (the chart creates it when autoscaling is enabled). Without an HPA, set the replica "
            "count of the Deployment directly (airlock.incident.k8s_scale); mind the single ReadWriteOnce claim" % (ns, name))
    if len(matches) > 1:
        raise AirlockIncidentError("%d HorizontalPodAutoscalers in %s scale deployment %s (%s); name one with hpa"
                                   % (len(matches), ns, name, ", ".join(sorted(h["metadata"]["name"] for h in matches))))
    return matches[0]


def _spec_ops(before, target):
    ops = [dict(op="add", path="/spec/minReplicas", value=target["minReplicas"]),
           dict(op="add", path="/spec/maxReplicas", value=target["maxReplicas"])]
    if target.get("metrics"):
        ops.append(dict(op="add", path="/spec/metrics", value=target["metrics"]))
    elif before.get("metrics"):
        ops.append(dict(op="remove", path="/spec/metrics"))
    return ops


def _read_evaluated(k8s, api, what, hpa_name, seconds):
    """The HPA once its controller has evaluated the metrics after the change (it reports ScalingActive), waiting
    at most ``seconds``: a rescale to a new minimum is written before the metrics are tried."""
    def check():
        hpa = k8s.sanitize(k8s.call(what, api.read_namespaced_horizontal_pod_autoscaler, hpa_name, k8s.namespace))
        return bool(condition(hpa, "ScalingActive")), hpa
    return poll(check, max(seconds, 0))[1]


def _status(hpa):
    status = hpa.get("status") or {}
    return dict(current_replicas=status.get("currentReplicas"), desired_replicas=status.get("desiredReplicas"),
                last_scale_time=status.get("lastScaleTime"),
                conditions=[dict(type=c.get("type"), status=c.get("status"), reason=c.get("reason"), message=c.get("message"))
                            for c in status.get("conditions") or []])


def _plan(module, hpa, before, records, marker, what, result):
    """``(target HPA fields, undo records to write)`` for state=present or state=reverted."""
    p = module.params
    if p["state"] == "present":
        target, notes, errors = plan_hpa(hpa.get("spec"), p["min_replicas"], p["max_replicas"], p["target_cpu_utilization"],
                                         p["target_memory_utilization"])
        if errors:
            raise AirlockIncidentError("; ".join(errors) + " (%s)" % what, **result)
        for note in notes:
            module.warn(note)
        rec = records.get(marker)
        result["undo"] = rec["previous"] if rec else before
        return target, record_change(records, marker, previous=before, applied=target)
    try:
        rec = recorded_change(records, marker, what, HPA_UNDO, "autoscaler")
    except AirlockIncidentError as exc:
        raise AirlockIncidentError(exc.msg, **result) from exc
    target = hpa_fields(dict(minReplicas=rec["previous"].get("minReplicas"), maxReplicas=rec["previous"].get("maxReplicas"),
                             metrics=rec["previous"].get("metrics")))
    result["undo"] = target
    if before != rec.get("applied") and before != target:
        module.warn("%s changed since %s applied its values (now %s); reverting restores the values from before %s anyway"
                    % (what, marker, before, marker))
    return target, mark_reverted(records, marker)


def run(module):
    p = module.params
    name = p["name"]
    marker = incident_marker(p)
    k8s, dep, dummy = open_deployment(p)
    api = autoscaling_api(k8s)
    hpa = _find_hpa(k8s, api, p)
    hpa_name = hpa["metadata"]["name"]
    what = "horizontalpodautoscaler %s/%s" % (k8s.namespace, hpa_name)
    before = hpa_fields(hpa.get("spec"))
    records = load_records(hpa, HPA_UNDO)
    pvcs = k8s.sanitize(k8s.call("persistentvolumeclaims in %s" % k8s.namespace,
                                 k8s.core.list_namespaced_persistent_volume_claim, k8s.namespace)).get("items") or []
    claims = rwo_claims(dep, pvcs)
    result = dict(changed=False, hpa=hpa_name, name=name, namespace=k8s.namespace, incident_action=marker, before=before,
                  undo_annotation=HPA_UNDO, rwo_claims=claims)

    target, new_records = _plan(module, hpa, before, records, marker, what, result)
    changes = hpa_changes(before, target)
    result["changes"] = changes
    raises = (target["minReplicas"] > before["minReplicas"]
              or (target["maxReplicas"] or 0) > (before["maxReplicas"] or 0))
    if claims and raises and (target["maxReplicas"] or 0) > 1:
        module.warn("deployment %s mounts the ReadWriteOnce claim %s in every replica: a replica scheduled on another node "
                    "than the one holding the claim stays ContainerCreating (Multi-Attach) or Pending, so more replicas "
                    "may add no capacity; check with airlock.incident.k8s_triage (finding rwo_claim_blocks_replica)"
                    % (name, ", ".join(claims)))
    if changes:
        ops = guard_ops(hpa) + _spec_ops(before, target) + annotation_ops(hpa, HPA_UNDO, dump_records(new_records))
        kwargs = {"dry_run": "All"} if module.check_mode else {}
        try:
            hpa = k8s.sanitize(k8s.call(what, api.patch_namespaced_horizontal_pod_autoscaler, hpa_name, k8s.namespace, ops,
                                        **kwargs))
        except AirlockIncidentError as exc:
            raise AirlockIncidentError(conflict_message(what, exc), **result) from exc
        result["changed"] = True
        after = hpa_fields(hpa.get("spec"))
    else:
        after = before
    result["after"] = after
    verb = "would change" if module.check_mode else ("reverted" if p["state"] == "reverted" else "changed")
    result["msg"] = "%s %s: %s" % (verb, what, "; ".join(changes)) if changes else "no change: %s already has %s" % (
        what, "the recorded previous values" if p["state"] == "reverted" else "these values")
    result["diff"] = dict(before={"spec": before}, after={"spec": after})

    low, high = after["minReplicas"], after["maxReplicas"]
    elapsed = 0.0
    if p["wait"] and not module.check_mode:
        dep, state, elapsed = wait_deployment(
            k8s, name, p["wait_timeout"],
            done=lambda d: low <= ((d.get("spec") or {}).get("replicas") or 0) <= (high or low))
    else:
        state = rollout_state(dep)
    hpa = _read_evaluated(k8s, api, what, hpa_name, p["wait_timeout"] - elapsed if p["wait"] and not module.check_mode else 0)
    result["hpa_status"] = _status(hpa)
    scaling = condition(hpa, "ScalingActive")
    if scaling.get("status") == "False":
        module.warn("%s cannot compute its metrics (%s: %s); it only keeps the replicas within %s..%s"
                    % (what, scaling.get("reason"), scaling.get("message"), low, high))
    result["replicas"] = (dep.get("spec") or {}).get("replicas")
    result["elapsed"] = elapsed
    result["rollout"] = rollout_summary(state)
    if p["wait"] and not module.check_mode and not state["complete"]:
        replicas = result["replicas"]
        waiting = None
        if not low <= (replicas or 0) <= (high or low):
            waiting = "the deployment has %s replicas, outside %s..%s (the HPA controller has not rescaled it)" % (replicas, low, high)
        raise rollout_error(k8s, dep, state, elapsed, p["wait_timeout"], name, result, waiting_for=waiting)
    return result


def main():
    run_k8s_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run, _validate)


if __name__ == "__main__":
    main()
