# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the k8s_rollout_restart module does: restart the pods of the Deployment (``kubectl rollout restart``),
recorded for the incident action so that a rerun changes nothing, then wait for the rollout.
"""

from __future__ import annotations

import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import deployment_action_errors, open_deployment, rollout_error
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import wait_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import RESTARTED_AT, REVISION, restart_patch, rollout_state
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import rollout_summary

Obj = t.Dict[str, t.Any]


def validate(module: t.Any) -> t.List[str]:
    """Every input refusal of k8s_rollout_restart, each naming its option."""
    params = module.params
    errors = deployment_action_errors(params, module.check_mode, "restart")
    return errors


def run(module: t.Any) -> Obj:
    """Restart the Deployment's pods (a rollout) once per incident action and wait for the rollout."""
    params = module.params
    name = params["name"]
    k8s, dep, what = open_deployment(params)
    before, after, result = restart_patch(dep, marker(params))
    result.update(name=name, namespace=k8s.namespace)
    if after is not None:
        if dep["spec"].get("paused"):
            raise AirlockIncidentError("%s is paused; resume it (kubectl rollout resume) before restarting" % what, **result)
        patch = {"spec": {"template": {"metadata": {"annotations": after}}}}
        kwargs = {"dry_run": "All"} if module.check_mode else {}
        dep = k8s.sanitize(k8s.call(what, k8s.apps.patch_namespaced_deployment, name, k8s.namespace, patch, **kwargs))
        result["changed"] = True
    else:
        after = before
    result["restarted_at"] = after.get(RESTARTED_AT)
    result["diff"] = dict(before={"spec.template.metadata.annotations": before},
                          after={"spec.template.metadata.annotations": after})

    elapsed = 0.0
    waited = params["wait"] and not module.check_mode
    if waited:
        dep, state, elapsed = wait_deployment(k8s, name, params["wait_timeout"])
    else:
        state = rollout_state(dep)
    result["elapsed"] = elapsed
    result["revision_after"] = (dep["metadata"].get("annotations") or {}).get(REVISION) if not module.check_mode else result["revision_before"]
    result["rollout"] = rollout_summary(state)
    if waited and not state["complete"]:
        raise rollout_error(k8s, dep, state, elapsed, params["wait_timeout"], name, result)
    result["msg"] = sentence(module.check_mode, what, result, waited)
    return result


def sentence(check_mode: bool, what: str, result: Obj, waited: bool) -> str:
    """The ``msg`` of a restart."""
    if not result["changed"]:
        head = "%s was already restarted for %s; nothing to do" % (what, result["restarted_for"])
    else:
        head = "%s %s for %s" % ("would restart" if check_mode else "restarted", what, result["restarted_for"])
    return "%s; %s" % (head, result["rollout"]["message"]) if waited else head
