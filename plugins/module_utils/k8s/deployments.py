# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a Deployment and its pods through :class:`.client.K8s` (bounded calls, clear errors).

The cluster-access half of the recovery actions: read the Deployment, list its
pods (with its full selector), report the pods that are not ready, wait for a
rollout and build the error of a rollout that did not complete.
"""

from __future__ import annotations

import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import action_errors
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, NotFound, validate_common, validate_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import describe_pods, label_selector, not_ready_report
from ansible_collections.airlock.incident.plugins.module_utils.k8s.wait import wait_rollout

try:
    from kubernetes import client as k8s_client
except ImportError:  # the modules call require_kubernetes() first
    k8s_client = None

Obj = t.Dict[str, t.Any]


def deployment_what(k8s: K8s, name: str) -> str:
    """``deployment <namespace>/<name>`` for messages."""
    return "deployment %s/%s" % (k8s.namespace, name)


def read_deployment(k8s: K8s, name: str) -> Obj:
    """The Deployment as a dict; a missing one fails with a clear message."""
    try:
        return t.cast(Obj, k8s.sanitize(k8s.call(deployment_what(k8s, name), k8s.apps.read_namespaced_deployment,
                                                 name, k8s.namespace)))
    except NotFound as exc:
        raise AirlockIncidentError("deployment %s not found in namespace %s (API server %s)"
                                   % (name, k8s.namespace, k8s.host)) from exc


def list_items(k8s: K8s, what: str, func: t.Callable[..., t.Any], **kwargs: t.Any) -> t.List[Obj]:
    """The items of a namespaced list call, as dicts."""
    return k8s.sanitize(k8s.call("%s in %s" % (what, k8s.namespace), func, k8s.namespace, **kwargs)).get("items") or []


def list_pods(k8s: K8s, dep: Obj) -> t.List[Obj]:
    """The pods matching the Deployment's selector (matchLabels and matchExpressions)."""
    selector = label_selector((dep.get("spec") or {}).get("selector"))
    return list_items(k8s, "pods %s" % selector, k8s.core.list_namespaced_pod, label_selector=selector)


def not_ready_pods(k8s: K8s, dep: Obj) -> t.List[Obj]:
    """``[{name, node, problem}]`` for the Deployment's pods that are not ready."""
    return not_ready_report(list_pods(k8s, dep))


def autoscaling_api(k8s: K8s) -> t.Any:
    """The autoscaling/v2 API (HorizontalPodAutoscalers)."""
    return k8s_client.AutoscalingV2Api(k8s.api)


def policy_api(k8s: K8s) -> t.Any:
    """The policy/v1 API (PodDisruptionBudgets)."""
    return k8s_client.PolicyV1Api(k8s.api)


def wait_deployment(k8s: K8s, name: str, timeout: float,
                    done: t.Optional[t.Callable[[Obj], bool]] = None) -> t.Tuple[Obj, Obj, float]:
    """Poll the Deployment until its rollout is complete (and ``done(dep)`` when given), failed, or ``timeout``
    passed. Returns ``(deployment, state, elapsed)``."""
    return wait_rollout(lambda: read_deployment(k8s, name), timeout, done)


def rollout_failure(what: str, state: Obj, elapsed: float, timeout: float, waiting_for: t.Optional[str] = None) -> str:
    """The head of the message for a rollout that did not complete: failed, or not done within ``timeout``."""
    if state["failed"]:
        return "%s rollout failed after %ss: %s" % (what, elapsed, state["message"])
    return "%s did not finish its rollout within wait_timeout=%ss: %s" % (what, timeout, waiting_for or state["message"])


def rollout_error(k8s: K8s, dep: Obj, state: Obj, elapsed: float, timeout: float, name: str, result: Obj,
                  waiting_for: t.Optional[str] = None) -> AirlockIncidentError:
    """The error for a rollout that did not complete, naming the pods that are not ready (also put in
    ``result["not_ready_pods"]``)."""
    pods = not_ready_pods(k8s, dep)
    result["not_ready_pods"] = pods
    head = rollout_failure(deployment_what(k8s, name), state, elapsed, timeout, waiting_for)
    fields = dict((k, v) for k, v in result.items() if k != "msg")
    return AirlockIncidentError("%s; not ready: %s" % (head, describe_pods(pods)), **fields)


def optional_items(module: t.Any, k8s: K8s, what: str, func: t.Callable[..., t.Any]) -> t.List[Obj]:
    """The items of a list call the action only checks against (HPAs, PDBs): without the permission (or the API),
    a warning that names what could not be checked, and no items."""
    try:
        return list_items(k8s, what, func)
    except AirlockIncidentError as exc:
        if exc.result.get("status") in (401, 403, 404):
            module.warn("could not check %s: %s" % (what, exc.msg))
            return []
        raise


def deployment_action_errors(params: t.Mapping[str, t.Any], check_mode: bool, verb: str) -> t.List[str]:
    """The refusals common to the actions on a Deployment: connection options, the Deployment's name, and the
    action contract (``confirm`` to ``<verb> deployment <namespace>/<name>``)."""
    errors = [m for m in (validate_common(params), validate_name("name", params.get("name"))) if m]
    return errors + action_errors(params, check_mode, "%s deployment %s/%s" % (verb, params.get("namespace"), params.get("name")))


def open_deployment(params: t.Mapping[str, t.Any]) -> t.Tuple[K8s, Obj, str]:
    """The client for the module's options, the Deployment ``params["name"]`` and its name for messages
    (``deployment <namespace>/<name>``): the namespace must exist and the Deployment must be there."""
    k8s = K8s(params)
    k8s.ensure_namespace()
    return k8s, read_deployment(k8s, params["name"]), deployment_what(k8s, params["name"])
