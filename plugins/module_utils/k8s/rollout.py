# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rollout progress of a Deployment (the rules of ``kubectl rollout status``) and the annotations of a
rollout restart. Pure: plain dicts with camelCase keys in, plain values out. Waiting is in :mod:`.wait`,
pod health and selectors in :mod:`.objects`.
"""

from __future__ import annotations

import time
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import condition

#: Pod-template annotations written by rollout_restart.
RESTARTED_FOR = "airlock.incident/restarted-for"
RESTARTED_AT = "airlock.incident/restarted-at"
REVISION = "deployment.kubernetes.io/revision"

#: The keys of :func:`rollout_state` the modules return as ``rollout``.
ROLLOUT_KEYS = ("complete", "failed", "message", "replicas", "updated_replicas", "available_replicas", "ready_replicas")


def rollout_state(dep: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """Progress of a Deployment's rollout.

    Returns a dict with ``complete`` (bool), ``failed`` (bool: the progress
    deadline was exceeded), ``message`` and the replica counts. Same rules as
    ``kubectl rollout status``.
    """
    spec = dep.get("spec") or {}
    status = dep.get("status") or {}
    meta = dep.get("metadata") or {}
    wanted = spec.get("replicas", 1)
    if wanted is None:
        wanted = 1
    replicas = status.get("replicas") or 0
    updated = status.get("updatedReplicas") or 0
    ready = status.get("readyReplicas") or 0
    available = status.get("availableReplicas") or 0
    state = dict(
        complete=False,
        failed=False,
        replicas=wanted,
        current_replicas=replicas,
        updated_replicas=updated,
        ready_replicas=ready,
        available_replicas=available,
        unavailable_replicas=status.get("unavailableReplicas") or 0,
        observed_generation=status.get("observedGeneration") or 0,
        generation=meta.get("generation") or 0,
        paused=bool(spec.get("paused")),
    )
    progressing = condition(dep, "Progressing")
    if state["observed_generation"] < state["generation"]:
        state["message"] = "waiting for the deployment controller to observe the new spec"
    elif progressing.get("reason") == "ProgressDeadlineExceeded":
        state["failed"] = True
        state["message"] = "progress deadline exceeded: %s" % progressing.get("message", "")
    elif updated < wanted:
        state["message"] = "%d of %d replicas updated" % (updated, wanted)
    elif replicas > updated:
        state["message"] = "%d old replicas pending termination" % (replicas - updated)
    elif available < updated:
        state["message"] = "%d of %d updated replicas available" % (available, updated)
    else:
        state["complete"] = True
        state["message"] = "rolled out: %d of %d replicas updated and available" % (available, wanted)
    return state


def rollout_summary(state: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """The part of a :func:`rollout_state` the modules return as ``rollout``."""
    return dict((k, state[k]) for k in ROLLOUT_KEYS)


def restart_patch(dep: t.Dict[str, t.Any], mark: str, now: t.Optional[str] = None
                  ) -> t.Tuple[t.Dict[str, str], t.Optional[t.Dict[str, str]], t.Dict[str, t.Any]]:
    """What a rollout restart for ``mark`` (``<incident_id>/<action>``) writes into the pod template.

    Returns ``(before, after, result)``: the restart annotations of the template now, the annotations to write
    (None when the template already carries ``mark``: a rerun of the same incident action restarts nothing) and
    the result fields known before the patch.
    """
    annotations = ((((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations")) or {}
    before = dict((k, annotations[k]) for k in (RESTARTED_FOR, RESTARTED_AT) if k in annotations)
    result = dict(changed=False, revision_before=((dep.get("metadata") or {}).get("annotations") or {}).get(REVISION),
                  restarted_for=mark, already_restarted=before.get(RESTARTED_FOR) == mark)
    if result["already_restarted"]:
        return before, None, result
    now = now or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return before, {RESTARTED_FOR: mark, RESTARTED_AT: now}, result
