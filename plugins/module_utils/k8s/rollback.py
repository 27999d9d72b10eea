# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the k8s_rollback module does: roll the Deployment back to the pod template of a previous revision
(``kubectl rollout undo``), refusing a Helm-managed Deployment unless allowed, recorded for the incident action so
that a rerun changes nothing, then wait for the rollout.
"""

from __future__ import annotations

import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import ROLLED_BACK_FOR, ROLLED_BACK_FROM, ROLLED_BACK_TO, flat_diff
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import helm_managed, normalize_template, owned_replicasets, revision_of
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import rollback_patch, select_revision, templates_equal
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import deployment_action_errors, list_items, open_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import rollout_error, wait_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.helm import recorded_undo
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import annotations_of, label_selector
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import rollout_state, rollout_summary

Obj = t.Dict[str, t.Any]


def validate(module: t.Any) -> t.List[str]:
    """Every input refusal of k8s_rollback, each naming its option."""
    params = module.params
    errors = deployment_action_errors(params, module.check_mode, "roll back")
    if params["revision"] is not None and params["revision"] < 1:
        errors.append("revision: invalid value %r; accepted values: a positive revision number (kubectl rollout history)"
                      % (params["revision"],))
    return errors


def template_changes(current: Obj, target: Obj) -> t.Dict[str, t.List[t.Any]]:
    """The changed fields of the pod template, ``{path: [current, target]}``."""
    return dict((path, list(values)) for path, values in flat_diff(normalize_template(current), normalize_template(target)).items())


def target_replicaset(params: t.Mapping[str, t.Any], dep: Obj, replicasets: t.List[Obj], mark: str,
                      revisions: t.List[int]) -> t.Tuple[t.Optional[Obj], t.Optional[str]]:
    """The ReplicaSet to roll back to. A rerun of this incident action: the template it rolled back to is still
    current. The requested revision number may be gone (the controller renumbered the target); another existing one
    is honoured."""
    annotations = annotations_of(dep)
    recorded_rs = next((rs for rs in replicasets if rs["metadata"]["name"] == annotations.get(ROLLED_BACK_TO)), None)
    rerun = (annotations.get(ROLLED_BACK_FOR) == mark and recorded_rs is not None
             and templates_equal(recorded_rs["spec"]["template"], dep["spec"]["template"])
             and (params["revision"] is None or params["revision"] not in revisions
                  or params["revision"] == revision_of(recorded_rs)))
    if rerun:
        return recorded_rs, None
    return select_revision(replicasets, revision_of(dep), params["revision"])


def run(module: t.Any) -> Obj:
    """Roll the Deployment back to a previous ReplicaSet's template, recorded for the incident action, and wait."""
    params = module.params
    name = params["name"]
    mark = marker(params)
    k8s, dep, what = open_deployment(params)
    revision_before = revision_of(dep)
    result = dict(changed=False, name=name, namespace=k8s.namespace, revision_before=revision_before,
                  revision_after=revision_before, helm_managed=helm_managed(dep), undo=None, already_current=False,
                  template_changes={}, elapsed=0.0)
    if result["helm_managed"] and not params["allow_helm_managed"]:
        raise AirlockIncidentError(
            "%s is managed by Helm (%s): a rollback of its pod template is reverted by the next helm upgrade and leaves the "
            "release's history wrong; roll the release back with airlock.incident.k8s_helm_rollback, or set "
            "allow_helm_managed=true to roll back the Deployment anyway" % (what, result["helm_managed"]), **result)

    selector = label_selector(dep["spec"].get("selector"))
    replicasets = owned_replicasets(list_items(k8s, "replicasets %s" % selector, k8s.apps.list_namespaced_replica_set,
                                               label_selector=selector), dep["metadata"]["uid"])
    result["revisions"] = sorted(revision_of(rs) for rs in replicasets if revision_of(rs) > 0)
    current = dep["spec"]["template"]
    target, error = target_replicaset(params, dep, replicasets, mark, result["revisions"])
    if error:
        raise AirlockIncidentError("%s: %s" % (what, error), **result)
    target = t.cast(Obj, target)  # select_revision gives a ReplicaSet or an error
    result.update(target_revision=revision_of(target), target_replicaset=target["metadata"]["name"],
                  template_changes=template_changes(current, target["spec"]["template"]))

    if templates_equal(target["spec"]["template"], current):
        result.update(already_current=True, undo=recorded_undo(annotations_of(dep), mark))
        result["msg"] = "%s already runs the template of revision %d (%s); nothing to roll back" % (
            what, result["target_revision"], result["target_replicaset"])
    else:
        if dep["spec"].get("paused"):
            raise AirlockIncidentError("%s is paused; resume it (kubectl rollout resume) before rolling back" % what, **result)
        template = normalize_template(target["spec"]["template"])
        new = {ROLLED_BACK_FOR: mark, ROLLED_BACK_TO: target["metadata"]["name"], ROLLED_BACK_FROM: str(revision_before)}
        kwargs = {"dry_run": "All"} if module.check_mode else {}
        patched = k8s.sanitize(k8s.call(what, k8s.apps.patch_namespaced_deployment, name, k8s.namespace,
                                        rollback_patch(dep, template, new), **kwargs))
        if not module.check_mode:
            dep = patched
        result.update(changed=True, undo=revision_before)
        result["msg"] = "%s %s from revision %d to revision %d (%s)" % (
            "would roll back" if module.check_mode else "rolled back", what, revision_before, result["target_revision"],
            result["target_replicaset"])
    result["diff"] = dict(before={"spec.template": normalize_template(current)},
                          after={"spec.template": normalize_template(target["spec"]["template"])})

    waited = params["wait"] and not module.check_mode
    if waited:
        dep, state, result["elapsed"] = wait_deployment(k8s, name, params["wait_timeout"])
    else:
        state = rollout_state(dep)
    if not module.check_mode:
        result["revision_after"] = revision_of(dep)
    result["rollout"] = rollout_summary(state)
    if waited and not state["complete"]:
        raise rollout_error(k8s, dep, state, result["elapsed"], params["wait_timeout"], name, result)
    return result
