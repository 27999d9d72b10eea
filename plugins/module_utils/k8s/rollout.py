# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure helpers over Kubernetes objects (plain dicts with camelCase keys).

No client calls here, so everything is unit-testable with literal dicts:
rollout progress of a Deployment (the rules of ``kubectl rollout status``),
a one-line account of what is wrong with a pod, and label selectors.
"""

from __future__ import annotations

import time

POLL = 1.0

#: Pod-template annotations written by rollout_restart.
RESTARTED_FOR = "airlock.incident/restarted-for"
RESTARTED_AT = "airlock.incident/restarted-at"
REVISION = "deployment.kubernetes.io/revision"


def selector_string(match_labels):
    """``{"a": "1", "b": "2"}`` -> ``"a=1,b=2"`` (sorted, stable)."""
    return ",".join("%s=%s" % (k, v) for k, v in sorted((match_labels or {}).items()))


def condition(obj, ctype):
    """The status condition of type ``ctype`` of an object, or an empty dict."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return {}


def rollout_state(dep):
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


def pod_ready(pod):
    """True when the pod's Ready condition is True."""
    return condition(pod, "Ready").get("status") == "True"


def container_problem(cs):
    """A short reason why a container status is not healthy, or None."""
    state = cs.get("state") or {}
    last = (cs.get("lastState") or {}).get("terminated") or {}
    parts = []
    if state.get("waiting"):
        waiting = state["waiting"]
        parts.append(waiting.get("reason") or "Waiting")
        if waiting.get("message"):
            parts.append(waiting["message"])
    elif state.get("terminated"):
        term = state["terminated"]
        parts.append("Terminated %s (exit code %s)" % (term.get("reason") or "", term.get("exitCode")))
    elif not cs.get("ready"):
        parts.append("running but not ready (readiness probe failing)")
    if parts and last.get("reason"):
        parts.append("last exit: %s (exit code %s)" % (last.get("reason"), last.get("exitCode")))
    return ": ".join(parts) if parts else None


def pod_problem(pod):
    """One line on what keeps a pod from being ready, or None when it is ready."""
    if pod_ready(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return None
    status = pod.get("status") or {}
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "terminating"
    scheduled = condition(pod, "PodScheduled")
    if scheduled.get("status") == "False":
        return "Pending, not scheduled: %s" % (scheduled.get("message") or scheduled.get("reason") or "unschedulable")
    problems = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        problem = container_problem(cs)
        if problem:
            problems.append("%s: %s" % (cs.get("name"), problem))
    if problems:
        return "; ".join(problems)
    return "%s, not ready" % (status.get("phase") or "Unknown")


def selector_matches(selector, labels):
    """Kubernetes LabelSelector semantics (matchLabels, matchExpressions); ``{}`` matches everything, None nothing."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def wait_rollout(read, timeout, done=None):
    """Poll ``read()`` (the Deployment) until its rollout is complete (and ``done(dep)`` when given), failed, or
    ``timeout`` seconds passed. Returns ``(deployment, state, elapsed)``; ``state["complete"]`` is False unless
    the wait finished."""
    start = time.monotonic()
    while True:
        dep = read()
        state = rollout_state(dep)
        elapsed = round(time.monotonic() - start, 1)
        finished = state["complete"] and (done is None or done(dep))
        if finished or state["failed"] or elapsed >= timeout:
            if not finished:
                state = dict(state, complete=False)
            return dep, state, elapsed
        time.sleep(min(POLL, max(0.1, timeout - elapsed)))
