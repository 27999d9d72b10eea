# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the k8s_resources module does: change the requests and limits of one container of the Deployment with a
recorded undo (or revert them), warn about memory limits below the observed OOM kills, then wait for the rollout.

The quantities, plans and records are in :mod:`.mitigation`; this file holds the API calls around them.
"""

from __future__ import annotations

import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker as incident_marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import DNS_LABEL
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import deployment_action_errors, list_pods, open_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import rollout_error, wait_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import RESOURCES_UNDO, annotation_ops
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import clean_resources, conflict_message, container_names, dump_records
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import find_container, guard_ops, limit_conflicts, load_records
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import low_limit_warnings, mark_reverted, merge_resources, oom_kills
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import record_change, recorded_change, resource_changes, same_resources
from ansible_collections.airlock.incident.plugins.module_utils.k8s.mitigation import validate_wanted
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import REVISION, rollout_state, rollout_summary

Obj = t.Dict[str, t.Any]


def validate(module: t.Any) -> t.List[str]:
    """Every input refusal of k8s_resources, each naming its option."""
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


def plan(module: t.Any, before: Obj, wanted: Obj, records: Obj, marker: str, kills: t.List[Obj], what: str,
         result: Obj) -> t.Tuple[Obj, Obj]:
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


def run(module: t.Any) -> Obj:
    """Change (or revert) the requests and limits of one container of the Deployment, then wait for the rollout."""
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

    target, new_records = plan(module, before, wanted, records, marker, kills, what, result)
    changes = resource_changes(before, target)
    result["changes"] = changes
    if changes:
        if dep["spec"].get("paused"):
            raise AirlockIncidentError("%s is paused; resume it (kubectl rollout resume) before changing its resources" % what,
                                       **result)
        ops = guard_ops(dep) + [
            dict(op="test", path="/spec/template/spec/containers/%d/name" % t.cast(int, index), value=container),
            dict(op="add", path="/spec/template/spec/containers/%d/resources" % t.cast(int, index), value=target),
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
