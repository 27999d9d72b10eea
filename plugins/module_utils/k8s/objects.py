# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure helpers over Kubernetes objects (plain dicts with camelCase keys, as sanitised by the client).

One copy of each, used by every Kubernetes module of the collection:

* metadata: :func:`annotations_of`, :func:`labels_of`, :func:`pod_name`, :func:`terminating`;
* status conditions and pod health: :func:`condition`, :func:`pod_ready`, :func:`pod_problem`,
  :func:`not_ready_report`, :func:`describe_pods`;
* label selectors (``matchLabels`` and ``matchExpressions``): :func:`label_selector` renders one
  for a list call, :func:`selector_matches` evaluates one against labels;
* :func:`hpa_targets_deployment`: whether a HorizontalPodAutoscaler scales a Deployment;
* :func:`json_pointer`: one RFC 6901 token for JSON-patch paths.

No client calls here, so everything is unit-testable with literal dicts.
"""

from __future__ import annotations

import typing as t

Obj = t.Dict[str, t.Any]

SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


# --------------------------------------------------------------------------- metadata


def metadata_of(obj: t.Optional[Obj]) -> Obj:
    """The object's ``metadata`` (empty when absent)."""
    return (obj or {}).get("metadata") or {}


def annotations_of(obj: t.Optional[Obj]) -> t.Dict[str, str]:
    """The object's metadata annotations (empty when absent)."""
    return metadata_of(obj).get("annotations") or {}


def labels_of(obj: t.Optional[Obj]) -> t.Dict[str, str]:
    """The object's metadata labels (empty when absent)."""
    return metadata_of(obj).get("labels") or {}


def pod_name(pod: Obj) -> str:
    """The pod's name."""
    return t.cast(str, metadata_of(pod).get("name"))


def terminating(pod: Obj) -> bool:
    """True when the pod has a deletionTimestamp."""
    return bool(metadata_of(pod).get("deletionTimestamp"))


# --------------------------------------------------------------------------- conditions and pods


def condition(obj: Obj, ctype: str) -> Obj:
    """The status condition of type ``ctype`` of an object, or an empty dict."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return t.cast(Obj, cond)
    return {}


def pod_ready(pod: Obj) -> bool:
    """True when the pod's Ready condition is True."""
    return condition(pod, "Ready").get("status") == "True"


def container_problem(cs: Obj) -> t.Optional[str]:
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


def pod_problem(pod: Obj) -> t.Optional[str]:
    """One line on what keeps a pod from being ready, or None when it is ready."""
    if terminating(pod):
        return "terminating"
    if pod_ready(pod):
        return None
    status = pod.get("status") or {}
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


def not_ready_report(pods: t.Optional[t.Iterable[Obj]]) -> t.List[Obj]:
    """``[{name, node, problem}]`` for the pods that are not ready, sorted by name."""
    out = []
    for pod in pods or []:
        problem = pod_problem(pod)
        if problem:
            out.append(dict(name=pod_name(pod), node=(pod.get("spec") or {}).get("nodeName"), problem=problem))
    return sorted(out, key=lambda p: p["name"] or "")


def describe_pods(report: t.Iterable[Obj]) -> str:
    """``name (problem); ...`` of a :func:`not_ready_report`."""
    return "; ".join("%s (%s)" % (p["name"], p["problem"]) for p in report) or "no pod reports a problem"


# --------------------------------------------------------------------------- label selectors


def label_selector(selector: t.Optional[Obj]) -> str:
    """A LabelSelector (``matchLabels`` and ``matchExpressions``) as the selector string of a list call.

    ``{"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "In", "values": ["x"]}]}``
    -> ``"a=1,b in (x)"`` (sorted, stable).
    """
    selector = selector or {}
    parts = ["%s=%s" % (k, v) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), sorted(expr.get("values") or [])
        if op == "In":
            parts.append("%s in (%s)" % (key, ",".join(values)))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (key, ",".join(values)))
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append("!%s" % key)
    return ",".join(parts)


def _expression_matches(expr: Obj, labels: t.Mapping[str, str]) -> bool:
    key: str = expr.get("key") or ""
    op, values = expr.get("operator"), expr.get("values") or []
    if op not in SELECTOR_OPERATORS:
        return False
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return not (key in labels and labels[key] in values)
    return (key in labels) == (op == "Exists")


def selector_matches(selector: t.Optional[Obj], labels: t.Optional[t.Mapping[str, str]]) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels, matchExpressions); ``{}`` matches everything, None nothing."""
    if selector is None:
        return False
    labels = labels or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_expression_matches(expr, labels) for expr in selector.get("matchExpressions") or [])


# --------------------------------------------------------------------------- HPA, JSON patch


def hpa_targets_deployment(hpa: Obj, namespace: str, deployment: str) -> bool:
    """True when the (autoscaling/v2) HPA's ``scaleTargetRef`` is the Deployment ``deployment`` (apiVersion
    ``apps/v1``, kind ``Deployment``) and the HPA is in ``namespace`` (a scale target is always in the HPA's own)."""
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    return (ref.get("kind") == "Deployment" and ref.get("name") == deployment
            and (ref.get("apiVersion") or "apps/v1").split("/")[0] == "apps"
            and metadata_of(hpa).get("namespace", namespace) == namespace)


def hpas_targeting(hpas: t.Optional[t.Iterable[Obj]], namespace: str, deployment: str) -> t.List[Obj]:
    """The HorizontalPodAutoscalers of ``hpas`` that scale the Deployment (see :func:`hpa_targets_deployment`)."""
    return [hpa for hpa in hpas or [] if hpa_targets_deployment(hpa, namespace, deployment)]


def json_pointer(token: str) -> str:
    """One JSON-pointer token (RFC 6901): ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return token.replace("~", "~0").replace("/", "~1")
