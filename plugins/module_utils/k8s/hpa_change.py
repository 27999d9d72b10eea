# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the k8s_hpa module does: find the HorizontalPodAutoscaler of the Deployment, change its replica bounds and
metric targets with a recorded undo (or revert them), then wait for the Deployment and report the HPA's status.

The pure parts (plans, records, patches) are in :mod:`.mitigation`; this file holds the API calls around them.
"""

from __future__ import annotations

import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker as incident_marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, NotFound, validate_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import autoscaling_api, deployment_action_errors, open_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import rollout_error, wait_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import HPA_UNDO, annotation_ops, conflict_message, dump_records
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import guard_ops, hpa_changes, hpa_fields, load_records, mark_reverted
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import plan_hpa, record_change, recorded_change, rwo_claims
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import condition, hpa_targets_deployment as hpa_targets
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import rollout_state, rollout_summary
from ansible_collections.airlock.incident.plugins.module_utils.k8s.wait import poll

Obj = t.Dict[str, t.Any]

SETTINGS = ("min_replicas", "max_replicas", "target_cpu_utilization", "target_memory_utilization")


def validate(module: t.Any) -> t.List[str]:
    """Every input refusal of k8s_hpa, each naming its option."""
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


def find_hpa(k8s: K8s, api: t.Any, params: t.Mapping[str, t.Any]) -> Obj:
    """The HPA named by ``hpa`` (it must scale the Deployment) or the one HPA that scales it."""
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


def spec_ops(before: Obj, target: Obj) -> t.List[Obj]:
    """The JSON patch operations that set the HPA's replica bounds and metrics to ``target``."""
    ops = [dict(op="add", path="/spec/minReplicas", value=target["minReplicas"]),
           dict(op="add", path="/spec/maxReplicas", value=target["maxReplicas"])]
    if target.get("metrics"):
        ops.append(dict(op="add", path="/spec/metrics", value=target["metrics"]))
    elif before.get("metrics"):
        ops.append(dict(op="remove", path="/spec/metrics"))
    return ops


def read_evaluated(k8s: K8s, api: t.Any, what: str, hpa_name: str, seconds: float) -> Obj:
    """The HPA once its controller has evaluated the metrics after the change (it reports ScalingActive), waiting
    at most ``seconds``: a rescale to a new minimum is written before the metrics are tried."""
    def check() -> t.Tuple[bool, Obj]:
        hpa = k8s.sanitize(k8s.call(what, api.read_namespaced_horizontal_pod_autoscaler, hpa_name, k8s.namespace))
        return bool(condition(hpa, "ScalingActive")), hpa
    return poll(check, max(seconds, 0))[1]


def hpa_status(hpa: Obj) -> Obj:
    """The HPA's status as the module returns it."""
    status = hpa.get("status") or {}
    return dict(current_replicas=status.get("currentReplicas"), desired_replicas=status.get("desiredReplicas"),
                last_scale_time=status.get("lastScaleTime"),
                conditions=[dict(type=c.get("type"), status=c.get("status"), reason=c.get("reason"), message=c.get("message"))
                            for c in status.get("conditions") or []])


def plan(module: t.Any, hpa: Obj, before: Obj, records: Obj, marker: str, what: str, result: Obj) -> t.Tuple[Obj, Obj]:
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


def run(module: t.Any) -> Obj:
    """Change (or revert) the HPA's settings, then wait for the Deployment and report the HPA's status."""
    p = module.params
    k8s, dep, dummy = open_deployment(p)
    api = autoscaling_api(k8s)
    hpa = find_hpa(k8s, api, p)
    name = p["name"]
    marker = incident_marker(p)
    hpa_name = hpa["metadata"]["name"]
    what = "horizontalpodautoscaler %s/%s" % (k8s.namespace, hpa_name)
    before = hpa_fields(hpa.get("spec"))
    records = load_records(hpa, HPA_UNDO)
    pvcs = k8s.sanitize(k8s.call("persistentvolumeclaims in %s" % k8s.namespace,
                                 k8s.core.list_namespaced_persistent_volume_claim, k8s.namespace)).get("items") or []
    claims = rwo_claims(dep, pvcs)
    result = dict(changed=False, hpa=hpa_name, name=name, namespace=k8s.namespace, incident_action=marker, before=before,
                  undo_annotation=HPA_UNDO, rwo_claims=claims)

    target, new_records = plan(module, hpa, before, records, marker, what, result)
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
        ops = guard_ops(hpa) + spec_ops(before, target) + annotation_ops(hpa, HPA_UNDO, dump_records(new_records))
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
    hpa = read_evaluated(k8s, api, what, hpa_name, p["wait_timeout"] - elapsed if p["wait"] and not module.check_mode else 0)
    result["hpa_status"] = hpa_status(hpa)
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
