# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the k8s_triage module reads: the Deployment, its pods and ReplicaSets, the namespace's events and claims,
the nodes, the Helm release history and the logs of failing containers, all read-only; :mod:`.triage` summarises
them and turns them into findings.
"""

from __future__ import annotations

import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, NotFound, validate_common, validate_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.helm import release_error
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import label_selector
from ansible_collections.airlock.incident.plugins.module_utils.k8s.triage import analyse, container_resources, decode_helm_release, event_time
from ansible_collections.airlock.incident.plugins.module_utils.k8s.triage import human_summary, overall, summarize_deployment, summarize_event
from ansible_collections.airlock.incident.plugins.module_utils.k8s.triage import summarize_node, summarize_pod, summarize_pvc, summarize_replicaset

Obj = t.Dict[str, t.Any]


def validate(module: t.Any) -> t.List[str]:
    """Every input refusal of k8s_triage, each naming its option."""
    p = module.params
    errors = [m for m in (validate_common(p), validate_name("name", p["name"])) if m]
    errors += [m for m in (release_error(p["release"]),) if m]
    if not 0 <= p["log_lines"] <= 500:
        errors.append("log_lines: invalid value %r; accepted values: 0 to 500" % (p["log_lines"],))
    if not 1 <= p["events_limit"] <= 500:
        errors.append("events_limit: invalid value %r; accepted values: 1 to 500" % (p["events_limit"],))
    return errors


def optional_read(notes: t.List[str], what: str, func: t.Callable[[], t.Any]) -> t.Any:
    """Run a read whose failure (other than an unreachable server) becomes a note."""
    try:
        return func()
    except AirlockIncidentError as exc:
        if exc.result.get("unreachable"):
            raise
        notes.append("%s: %s" % (what, exc.msg))
        return None


def collect(module: t.Any) -> Obj:
    """Read everything triage looks at (read-only) and return the findings and the summaries."""
    p = module.params
    k8s = K8s(p)
    ns, name = k8s.namespace, p["name"]
    k8s.ensure_namespace()
    notes: t.List[str] = []
    S = k8s.sanitize

    try:
        dep_raw = S(k8s.call("deployment %s/%s" % (ns, name), k8s.apps.read_namespaced_deployment, name, ns))
    except NotFound:
        dep_raw = None
    deployment = summarize_deployment(dep_raw)
    chart_labels = {"app.kubernetes.io/name": "airlock", "app.kubernetes.io/instance": p["release"]}
    selector = label_selector(dep_raw["spec"].get("selector") if dep_raw else {"matchLabels": chart_labels})

    pods_raw = S(k8s.call("pods %s" % selector, k8s.core.list_namespaced_pod, ns, label_selector=selector)).get("items") or []
    pods = sorted((summarize_pod(x) for x in pods_raw), key=lambda x: x["name"])

    rs_raw = S(k8s.call("replicasets %s" % selector, k8s.apps.list_namespaced_replica_set, ns, label_selector=selector)).get("items") or []
    if dep_raw is not None:
        uid = dep_raw["metadata"].get("uid")
        rs_raw = [r for r in rs_raw if any(o.get("uid") == uid for o in (r["metadata"].get("ownerReferences") or []))]
    replicasets = sorted((summarize_replicaset(r) for r in rs_raw), key=lambda r: -r["revision"])

    ev_raw = S(k8s.call("events in %s" % ns, k8s.core.list_namespaced_event, ns)).get("items") or []
    ev_raw.sort(key=event_time, reverse=True)
    events = [summarize_event(e) for e in ev_raw[:p["events_limit"]]]
    all_events = [summarize_event(e) for e in ev_raw]

    nodes_raw = optional_read(notes, "nodes", lambda: S(k8s.call("nodes", k8s.core.list_node)).get("items") or [])
    nodes = [summarize_node(n) for n in nodes_raw or []]
    used_nodes = set(x["node"] for x in pods if x["node"])
    if used_nodes:
        nodes = [n for n in nodes if n["name"] in used_nodes] + [n for n in nodes if n["name"] not in used_nodes and
                                                                 (n["pressure"] or not n["ready"])]

    pvcs = [summarize_pvc(c) for c in S(k8s.call("persistentvolumeclaims in %s" % ns,
                                                 k8s.core.list_namespaced_persistent_volume_claim, ns)).get("items") or []]

    helm_secrets = optional_read(notes, "helm release secrets", lambda: S(k8s.call(
        "helm release secrets", k8s.core.list_namespaced_secret, ns,
        label_selector="owner=helm,name=%s" % p["release"])).get("items") or [])
    helm_history = sorted((decode_helm_release(s) for s in helm_secrets or []), key=lambda h: h["revision"])
    if helm_secrets is not None and not helm_history:
        notes.append("helm: no release %s in namespace %s" % (p["release"], ns))

    logs: t.Dict[str, t.Dict[str, t.List[str]]] = {}
    if p["log_lines"]:
        for pod in pods:
            for c in pod["containers"]:
                # A container that crashed and runs again ("Error": a Go panic exits 2) is read too: the
                # previous log says why it restarted.
                failing = (c["reason"] == "CrashLoopBackOff" or (c["last_termination"] and not c["ready"])
                           or (c["last_termination"] or {}).get("reason") in ("OOMKilled", "Error"))
                if not failing:
                    continue
                text = None
                for previous in (True, False):
                    try:
                        # Raw bytes: the client would json-decode a one-line JSON log into a dict.
                        resp = k8s.call("log of %s/%s" % (pod["name"], c["name"]), k8s.core.read_namespaced_pod_log,
                                        pod["name"], ns, container=c["name"], previous=previous, tail_lines=p["log_lines"],
                                        _preload_content=False)
                        text = resp.data.decode("utf-8", "replace")
                    except AirlockIncidentError as exc:
                        if exc.result.get("unreachable"):
                            raise
                        if not previous:
                            notes.append("log of %s/%s: %s" % (pod["name"], c["name"], exc.msg))
                        continue
                    if text:
                        break
                lines = [ln for ln in (text or "").splitlines() if ln.strip()]
                logs.setdefault(pod["name"], {})[c["name"]] = lines[-p["log_lines"]:]

    resources = container_resources(dep_raw)
    findings = analyse(dict(deployment=deployment, pods=pods, events=all_events, pvcs=pvcs, nodes=nodes, logs=logs,
                            resources=resources, namespace=ns, name=name))
    return dict(
        changed=False,
        status=overall(findings, deployment),
        msg=human_summary(ns, name, deployment, pods, findings, helm_history),
        findings=findings, deployment=deployment, pods=pods, logs=logs, replicasets=replicasets, events=events,
        nodes=nodes, pvcs=pvcs, resources=resources, helm_history=helm_history, notes=notes,
    )
