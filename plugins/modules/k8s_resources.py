#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_resources
short_description: Change the CPU, memory and ephemeral-storage requests and limits of the Airlock container, with a recorded undo
version_added: 0.2.0
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker as incident_marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import DNS_LABEL, recovery_arg_spec, run_k8s_module
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import deployment_action_errors, list_pods, open_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import rollout_error, wait_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import DEFAULT_MEMORY_FLOOR, RESOURCES_UNDO, annotation_ops
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import clean_resources, conflict_message, container_names, dump_records
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import find_container, guard_ops, limit_conflicts, load_records
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import low_limit_warnings, mark_reverted, merge_resources, oom_kills
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import record_change, recorded_change, resource_changes, same_resources
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import validate_wanted
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import REVISION, rollout_state, rollout_summary


ARGUMENT_SPEC = recovery_arg_spec(
    "resources",
    container=dict(type="str", default="airlock"),
    requests=dict(type="dict"),
    limits=dict(type="dict"),
    min_memory_limit=dict(type="str", default=DEFAULT_MEMORY_FLOOR),
    state=dict(type="str", default="present", choices=["present", "reverted"]),
)


def _validate(module):
    params = module.params
    errors = deployment_action_errors(params, module.check_mode, "change the resources of")
    if not DNS_LABEL.match(params["container"] or ""):
        errors.append("container: invalid value %r; accepted values: a container name (lowercase letters, digits, '-', "
                      "at most 63)" % (params["container"],))
    if params["state"] == "present":
        errors.extend(validate_wanted(params["requests"], params["limits"], params["min_memory_limit"])[1])
    elif params["requests"] is not None or params["limits"] is not None:
        errors.append("requests/limits: not used with state=reverted, which restores the recorded previous resources; "
                      "remove them")
    return errors


def _plan(module, before, wanted, records, marker, kills, what, result):
    """``(target resources, undo records to write)`` for state=present or state=reverted."""
    container = module.params["container"]
    if module.params["state"] == "present":
        target = merge_resources(before, wanted)
        errors = limit_conflicts(target)
        if errors:
            raise AirlockIncidentError("; ".join(errors), **result)
        rec = records.get(marker)
        result["undo"] = rec["previous"] if rec else before
        if "memory" in (wanted.get("limits") or {}) and not same_resources(before, target):
            for warning in low_limit_warnings((target.get("limits") or {}).get("memory"), kills):
                module.warn(warning)
        return target, record_change(records, marker, previous=before, applied=target, container=container)
    try:
        rec = recorded_change(records, marker, what, RESOURCES_UNDO, "resources")
    except AirlockIncidentError as exc:
        raise AirlockIncidentError(exc.msg, **result) from exc
    if rec.get("container", container) != container:
        raise AirlockIncidentError("state=reverted: the change recorded for %s was made to container %s, not %s; "
                                   "set container: %s" % (marker, rec.get("container"), container, rec.get("container")),
                                   **result)
    target = clean_resources(rec.get("previous"))
    result["undo"] = target
    if not same_resources(before, rec.get("applied")) and not same_resources(before, target):
        module.warn("the resources of container %s changed since %s applied them (now %s); reverting restores the "
                    "values from before %s anyway" % (container, marker, before, marker))
    return target, mark_reverted(records, marker)


def run(module):
    params = module.params
    wanted = validate_wanted(params["requests"], params["limits"], params["min_memory_limit"])[0]
    name, container = params["name"], params["container"]
    marker = incident_marker(params)
    k8s, dep, what = open_deployment(params)
    current = dep
    index, spec = find_container(dep, container)
    if spec is None:
        raise AirlockIncidentError("container %s is not in the pod template of %s; containers: %s"
                                   % (container, what, ", ".join(container_names(dep)) or "none"))
    before = clean_resources(spec.get("resources"))
    records = load_records(dep, RESOURCES_UNDO)
    kills = oom_kills(list_pods(k8s, dep), container)
    result = dict(changed=False, name=name, namespace=k8s.namespace, container=container, incident_action=marker,
                  before=before, undo_annotation=RESOURCES_UNDO, oom_kills=kills,
                  revision_before=(dep["metadata"].get("annotations") or {}).get(REVISION))

    target, new_records = _plan(module, before, wanted, records, marker, kills, what, result)
    changes = resource_changes(before, target)
    result["changes"] = changes
    if changes:
        if dep["spec"].get("paused"):
            raise AirlockIncidentError("%s is paused; resume it (kubectl rollout resume) before changing its resources" % what,
                                       **result)
        ops = guard_ops(dep) + [
            dict(op="test", path="/spec/template/spec/containers/%d/name" % index, value=container),
            dict(op="add", path="/spec/template/spec/containers/%d/resources" % index, value=target),
        ] + annotation_ops(dep, RESOURCES_UNDO, dump_records(new_records))
        kwargs = {"dry_run": "All"} if module.check_mode else {}
        try:
            dep = k8s.sanitize(k8s.call(what, k8s.apps.patch_namespaced_deployment, name, k8s.namespace, ops, **kwargs))
        except AirlockIncidentError as exc:
            raise AirlockIncidentError(conflict_message(what, exc), **result) from exc
        result["changed"] = True
        after = clean_resources((find_container(dep, container)[1] or {}).get("resources"))
    else:
        after = before
    result["after"] = after
    verb = "would change" if module.check_mode else ("reverted" if params["state"] == "reverted" else "changed")
    result["msg"] = ("%s %s" % (verb, "; ".join(changes))) if changes else "no change: the resources of container %s already are %s" % (
        container, "the recorded previous values" if params["state"] == "reverted" else "as requested")
    key = "spec.template.spec.containers[%s].resources" % container
    result["diff"] = dict(before={key: before}, after={key: after})

    elapsed = 0.0
    if params["wait"] and not module.check_mode:
        dep, state, elapsed = wait_deployment(k8s, name, params["wait_timeout"])
    else:
        # Check mode: the rollout as it is (the dry-run object has not been seen by the controller).
        state = rollout_state(current if module.check_mode else dep)
    result["elapsed"] = elapsed
    result["revision_after"] = (dep["metadata"].get("annotations") or {}).get(REVISION) if not module.check_mode else result["revision_before"]
    result["rollout"] = rollout_summary(state)
    if params["wait"] and not module.check_mode and not state["complete"]:
        raise rollout_error(k8s, dep, state, elapsed, params["wait_timeout"], name, result)
    return result


def main():
    run_k8s_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run, _validate)


if __name__ == "__main__":
    main()
