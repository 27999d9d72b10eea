# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure triage logic over Kubernetes objects (plain dicts with camelCase keys).

:func:`analyse` turns what the k8s_triage module collected (Deployment, pods,
ReplicaSets, events, nodes, PVCs, Helm history, log tails) into findings, each
with an id, a severity, a one-line summary and the evidence, and recognises the
states the published Airlock chart is known to end up in:

* ``config_error_at_start``: CrashLoopBackOff and the container log says the
  configuration was rejected (for example ``retention: "30d"``, which is not a
  Go duration, or ``-config`` handed to dumb-init).
* ``seccomp_profile_missing``: CreateContainerError because the Localhost
  seccomp profile the chart names does not exist on the node.
* ``rwo_claim_blocks_replica``: the chart's single ReadWriteOnce claim is
  attached to one node, so a replica scheduled on another node cannot start.

``oom_killed`` carries the limit, restarts, last termination, the previous
container's log tail and the mitigation (a higher memory limit).

``go_panic``: the previous container ended in a Go ``panic:`` or ``fatal error:``
(critical while it crash-loops; once it runs again, info, which leaves the status ``ok``), with the panic
message and the frames of the panicking goroutine. The released gateway's own
crash under keep-alive requests (``send on closed channel`` in
``ClientConnection.sendMessage`` from ``sendErrorResponse``) is named as such
(``known_issue: release_keepalive_crash``).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.airlock import crash as airlock_crash
from ansible_collections.airlock.incident.plugins.module_utils.k8s import quantity as k8s_quantity
from ansible_collections.airlock.incident.plugins.module_utils.k8s.actions import PREVIOUS_REPLICAS
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import pod_problem, pod_ready
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import rollout_state

#: Log lines that explain a crash at start.
CONFIG_ERROR_RE = re.compile(
    r"(config|configuration|koanf|unknown unit|invalid duration|time: |yaml:|server\.addr|rego|policy)", re.I)
ERROR_LINE_RE = re.compile(r"(fatal|panic|error|failed|invalid|unknown|no such file|cannot|denied)", re.I)
DUMB_INIT_RE = re.compile(r"dumb-init", re.I)
PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}

Obj = t.Dict[str, t.Any]


def event_time(ev: Obj) -> str:
    """Best timestamp of an event (RFC 3339 text sorts correctly)."""
    series = ev.get("series") or {}
    return (series.get("lastObservedTime") or ev.get("lastTimestamp") or ev.get("eventTime")
            or (ev.get("metadata") or {}).get("creationTimestamp") or "")


def summarize_event(ev: Obj) -> Obj:
    """The fields of an event triage reports."""
    obj = ev.get("involvedObject") or ev.get("regarding") or {}
    return dict(
        time=event_time(ev),
        type=ev.get("type"),
        reason=ev.get("reason"),
        object="%s/%s" % ((obj.get("kind") or "").lower(), obj.get("name")),
        message=(ev.get("message") or ev.get("note") or "").strip(),
        count=ev.get("count") or (ev.get("series") or {}).get("count") or 1,
    )


def summarize_container(cs: Obj) -> Obj:
    """State, restarts and last termination of a container status."""
    state = cs.get("state") or {}
    kind = next(iter(state), None) if state else None
    detail = state.get(kind) or {} if kind else {}
    last = (cs.get("lastState") or {}).get("terminated") or {}
    out = dict(
        name=cs.get("name"),
        ready=bool(cs.get("ready")),
        restarts=cs.get("restartCount") or 0,
        state=kind,
        reason=detail.get("reason"),
        message=detail.get("message"),
        last_termination=None,
    )
    if last:
        out["last_termination"] = dict(reason=last.get("reason"), exit_code=last.get("exitCode"),
                                       finished_at=last.get("finishedAt"))
    return out


def summarize_pod(pod: Obj) -> Obj:
    """Phase, readiness, restarts, containers, problem and claims of a pod."""
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    containers = [summarize_container(cs) for cs in status.get("containerStatuses") or []]
    return dict(
        name=meta.get("name"),
        node=(pod.get("spec") or {}).get("nodeName"),
        phase=status.get("phase"),
        ready=pod_ready(pod),
        restarts=sum(c["restarts"] for c in containers),
        template_hash=(meta.get("labels") or {}).get("pod-template-hash"),
        containers=containers,
        problem=pod_problem(pod),
        claims=sorted(v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
                      if v.get("persistentVolumeClaim")),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def summarize_node(node: Obj) -> Obj:
    """Readiness, pressure conditions and allocatable resources of a node."""
    meta = node.get("metadata") or {}
    conds = dict((c.get("type"), c) for c in (node.get("status") or {}).get("conditions") or [])
    ready = conds.get("Ready", {}).get("status") == "True"
    pressure = [dict(type=t, reason=conds[t].get("reason"), message=conds[t].get("message"))
                for t in PRESSURE if conds.get(t, {}).get("status") == "True"]
    return dict(name=meta.get("name"), ready=ready, unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
                pressure=pressure, allocatable=(node.get("status") or {}).get("allocatable") or {})


def summarize_pvc(pvc: Obj) -> Obj:
    """Phase, access modes, size and class of a claim."""
    spec = pvc.get("spec") or {}
    status = pvc.get("status") or {}
    return dict(name=(pvc.get("metadata") or {}).get("name"), phase=status.get("phase"),
                access_modes=spec.get("accessModes") or [], requested=((spec.get("resources") or {}).get("requests") or {}).get("storage"),
                capacity=(status.get("capacity") or {}).get("storage"), storage_class=spec.get("storageClassName"),
                volume=spec.get("volumeName"))


def summarize_replicaset(rs: Obj) -> Obj:
    """Revision, replicas and images of a ReplicaSet."""
    meta = rs.get("metadata") or {}
    status = rs.get("status") or {}
    containers = (((rs.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return dict(name=meta.get("name"), revision=int((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision", 0) or 0),
                replicas=(rs.get("spec") or {}).get("replicas") or 0, ready=status.get("readyReplicas") or 0,
                available=status.get("availableReplicas") or 0,
                template_hash=(meta.get("labels") or {}).get("pod-template-hash"),
                images=[c.get("image") for c in containers], created=meta.get("creationTimestamp"))


def container_resources(dep: t.Optional[Obj]) -> t.List[Obj]:
    """Requests and limits of every container of the pod template."""
    out = []
    spec = (((dep or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        out.append(dict(name=c.get("name"), requests=res.get("requests") or {}, limits=res.get("limits") or {}))
    return out


def summarize_deployment(dep: t.Optional[Obj]) -> t.Optional[Obj]:
    """Replica counts, rollout state, conditions and selector of a Deployment (None when absent)."""
    if dep is None:
        return None
    state = rollout_state(dep)
    meta = dep.get("metadata") or {}
    conds = [dict(type=c.get("type"), status=c.get("status"), reason=c.get("reason"), message=c.get("message"),
                  last_update=c.get("lastUpdateTime")) for c in (dep.get("status") or {}).get("conditions") or []]
    return dict(name=meta.get("name"), revision=(meta.get("annotations") or {}).get("deployment.kubernetes.io/revision"),
                replicas=state["replicas"], current_replicas=state["current_replicas"], updated_replicas=state["updated_replicas"],
                ready_replicas=state["ready_replicas"], available_replicas=state["available_replicas"],
                rollout_complete=state["complete"], rollout_message=state["message"], paused=state["paused"],
                conditions=conds, selector=((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {},
                previous_replicas=_positive_int((meta.get("annotations") or {}).get(PREVIOUS_REPLICAS)))


def decode_helm_release(secret: Obj) -> Obj:
    """Helm 3 release secret (sh.helm.release.v1.NAME.vN) -> revision summary."""
    labels = (secret.get("metadata") or {}).get("labels") or {}
    out = dict(revision=int(labels.get("version", 0) or 0), status=labels.get("status"), chart=None,
               app_version=None, description=None, updated=None)
    raw = (secret.get("data") or {}).get("release")
    if raw:
        try:
            blob = base64.b64decode(base64.b64decode(raw))
            if blob[:2] == b"\x1f\x8b":
                blob = gzip.decompress(blob)
            rel = json.loads(blob.decode("utf-8"))
            meta = (rel.get("chart") or {}).get("metadata") or {}
            info = rel.get("info") or {}
            out.update(chart="%s-%s" % (meta.get("name"), meta.get("version")), app_version=meta.get("appVersion"),
                       description=info.get("description"), updated=info.get("last_deployed"),
                       status=info.get("status") or out["status"])
        except (ValueError, TypeError, OSError, AttributeError):
            pass
    return out


def _explaining_lines(lines: t.List[str], limit: int = 5) -> t.List[str]:
    picked = [ln for ln in lines if ERROR_LINE_RE.search(ln)]
    return (picked or lines)[-limit:]


def _positive_int(text: object) -> t.Optional[int]:
    """The positive integer a text such as an annotation holds, else None."""
    return int(text) if isinstance(text, str) and re.fullmatch(r"[0-9]+", text) and int(text) > 0 else None


def _finding(fid: str, severity: str, summary: str, **evidence: t.Any) -> Obj:
    return dict(id=fid, severity=severity, summary=summary, evidence=evidence)


def suggested_memory_limit(limit: t.Optional[str]) -> t.Optional[str]:
    """Twice the memory limit the container was OOMKilled at (at least 256Mi), or None when it had none."""
    if not limit:
        return None
    try:
        quantity = k8s_quantity.parse(limit)
    except k8s_quantity.QuantityError:
        return None
    if quantity.value * 2 < 256 * 1024 ** 2:
        return "256Mi"
    return k8s_quantity.canonical_of(k8s_quantity.Quantity(int(quantity.value * 2), quantity.format))


def oom_finding(pod: Obj, c: Obj, resources: t.List[Obj], lines: t.List[str]) -> Obj:
    """The ``oom_killed`` finding: container, limit, restarts, last termination, the previous log tail and what to do."""
    last = c.get("last_termination") or {}
    res: Obj = next((r for r in resources if r["name"] == c["name"]), {"requests": {}, "limits": {}})
    limit, request = res["limits"].get("memory"), res["requests"].get("memory")
    suggested = suggested_memory_limit(limit)
    if suggested:
        steps = ["raise the memory limit with airlock.incident.k8s_resources (container %s, limits.memory: %s, "
                 "requests.memory at most that; undo with state: reverted)" % (c["name"], suggested)]
        advice = "raise limits.memory (e.g. %s) with airlock.incident.k8s_resources" % suggested
    else:
        steps = ["the container has no memory limit, so the node ran out of memory: set requests.memory (and a limit) "
                 "with airlock.incident.k8s_resources so the scheduler reserves it"]
        advice = "no memory limit: set requests.memory and limits.memory with airlock.incident.k8s_resources"
    steps += [
        "keep the previous container's log (evidence.log_lines) as evidence: it is what the process did before it was killed",
        "Airlock has no pprof endpoint (:6060) and its image has no curl or shell, so the playbook's heap-profile steps "
        "cannot run; compare memory with the HighMemoryUsage (>200MiB) / CriticalMemoryUsage (>400MiB) alerts where "
        "/metrics is exported",
        "a growing audit database or a large policy raise memory use; check them before raising the limit again",
    ]
    return _finding(
        "oom_killed", "critical",
        "pod %s container %s was OOMKilled (exit %s, %d restarts, last at %s); memory limit %s; %s"
        % (pod["name"], c["name"], last.get("exit_code"), c["restarts"], last.get("finished_at") or "unknown",
           limit or "not set", advice),
        pod=pod["name"], container=c["name"], memory_limit=limit, memory_request=request, restarts=c["restarts"],
        exit_code=last.get("exit_code"), last_terminated_at=last.get("finished_at"),
        log_lines=list(lines[-20:]), suggested_memory_limit=suggested, mitigation=steps)


def _panic_finding(pod: Obj, c: Obj, last: Obj, panic: Obj, crashing: bool) -> Obj:
    state = ("and crash-loops" if crashing else "and runs again") if c["restarts"] else ""
    summary = "pod %s container %s crashed (exit %s, %d restarts, last at %s)%s: %s" % (
        pod["name"], c["name"], last.get("exit_code"), c["restarts"], last.get("finished_at") or "unknown",
        " " + state if state else "", airlock_crash.describe(panic))
    # A crash the restart recovered is reported for the record (info) and leaves the status ok: Kubernetes keeps
    # the last termination until the next restart, which may be days later.
    return _finding("go_panic", "critical" if crashing else "info", summary, pod=pod["name"], container=c["name"],
                    message=panic["message"], frames=panic["frames"], known_issue=panic["known_issue"],
                    restarts=c["restarts"], exit_code=last.get("exit_code"), last_terminated_at=last.get("finished_at"),
                    log_lines=panic["lines"])


def _crash_findings(pod: Obj, c: Obj, last: Obj, lines: t.List[str]) -> t.List[Obj]:
    """A crash that is not an OOM kill: a configuration error at start (from the log), a Go panic (also once the
    container runs again), or another crash loop."""
    findings: t.List[Obj] = []
    crashing = c["reason"] == "CrashLoopBackOff" or (last.get("reason") == "Error" and not c["ready"])
    config_lines = [ln for ln in lines if CONFIG_ERROR_RE.search(ln) and ERROR_LINE_RE.search(ln)] if crashing else []
    # A configuration error at start explains the crash even when the program then panicked.
    panic = airlock_crash.go_panic(lines) if (last.get("reason") == "Error" or crashing) and not config_lines else None
    if panic is not None:
        findings.append(_panic_finding(pod, c, last, panic, crashing))
        return findings
    if crashing and last.get("reason") != "OOMKilled":
        if config_lines or any(DUMB_INIT_RE.search(ln) for ln in lines):
            findings.append(_finding(
                "config_error_at_start", "critical",
                "pod %s crash-loops on a configuration error at start (exit %s, %d restarts): %s. "
                "Airlock rejects an invalid config.yaml at start (Go durations only, server.addr required); "
                "fix the ConfigMap by merging into the existing document, or roll the release back, then restart."
                % (pod["name"], last.get("exit_code"), c["restarts"], config_lines[-1] if config_lines else lines[-1]),
                pod=pod["name"], container=c["name"], log_lines=_explaining_lines(config_lines or lines)))
        else:
            findings.append(_finding(
                "crash_loop", "critical",
                "pod %s container %s is in CrashLoopBackOff (last exit %s %s, %d restarts)%s"
                % (pod["name"], c["name"], last.get("reason"), last.get("exit_code"), c["restarts"],
                   ": " + _explaining_lines(lines, 1)[0] if lines else "; no log lines available"),
                pod=pod["name"], container=c["name"], log_lines=_explaining_lines(lines)))
    return findings


def _container_findings(pod: Obj, c: Obj, lines: t.List[str], resources: t.List[Obj]) -> t.List[Obj]:
    """What is wrong with one container of a pod: crash loop (config error or other), OOM, create/pull errors, readiness."""
    findings: t.List[Obj] = []
    last = c.get("last_termination") or {}
    findings += _crash_findings(pod, c, last, lines)
    if last.get("reason") == "OOMKilled":
        findings.append(oom_finding(pod, c, resources, lines))
    if c["reason"] == "CreateContainerError":
        msg = c.get("message") or ""
        if "seccomp" in msg.lower():
            findings.append(_finding(
                "seccomp_profile_missing", "critical",
                "pod %s cannot create its container: the seccomp profile the chart names is missing on node %s (%s). "
                "Use seccompProfile type RuntimeDefault or install the profile on the nodes."
                % (pod["name"], pod["node"], msg), pod=pod["name"], node=pod["node"], message=msg))
        else:
            findings.append(_finding("create_container_error", "critical", "pod %s: CreateContainerError: %s"
                                     % (pod["name"], msg), pod=pod["name"], message=msg))
    if c["reason"] in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
        findings.append(_finding("image_pull", "critical", "pod %s cannot pull its image: %s %s"
                                 % (pod["name"], c["reason"], c.get("message") or ""), pod=pod["name"]))
    if c["state"] == "running" and not c["ready"] and not pod["deleting"]:
        findings.append(_finding("readiness_failing", "warning",
                                 "pod %s container %s runs but is not ready (readiness probe /ready failing)"
                                 % (pod["name"], c["name"]), pod=pod["name"]))
    return findings


def _claim_findings(pvcs: t.Dict[str, Obj], pods: t.List[Obj], events: t.List[Obj]) -> t.List[Obj]:
    """The claims: the chart's single RWO claim blocking replicas on other nodes, unbound and missing claims."""
    findings: t.List[Obj] = []
    # The chart's single RWO claim: replicas on more than one node cannot all attach it.
    for claim, pvc in pvcs.items():
        if "ReadWriteOnce" not in pvc["access_modes"]:
            continue
        users = [p for p in pods if claim in p["claims"] and not p["deleting"]]
        nodes = sorted(set(p["node"] for p in users if p["node"]))
        blocked = [p for p in users if not p["ready"] and any(c["reason"] == "ContainerCreating" for c in p["containers"])]
        # Only events about pods of this claim that are still not ready: events outlive pods (1 h).
        waiting = set("pod/%s" % p["name"] for p in users if not p["ready"])
        attach_events = [e for e in events if e["reason"] in ("FailedAttachVolume", "FailedMount")
                         and "Multi-Attach" in e["message"] and e["object"] in waiting]
        if (len(nodes) > 1 and blocked) or attach_events:
            holders = [p["name"] for p in users if p["ready"]]
            blocked_text = ", ".join("%s on %s" % (p["name"], p["node"]) for p in blocked) or "a replica"
            holder_nodes = ", ".join(sorted(set(p["node"] for p in users if p["ready"] and p["node"]))) or "-"
            findings.append(_finding(
                "rwo_claim_blocks_replica", "critical" if not holders else "warning",
                "the single ReadWriteOnce claim %s is shared by every replica, but it attaches to one node only: "
                "%s blocked (claim held by %s on %s). Scaling up is not a fix for this chart; keep one replica "
                "or pin the replicas to one node." % (claim, blocked_text, ", ".join(holders) or "no ready pod", holder_nodes),
                claim=claim, nodes=nodes, blocked=[p["name"] for p in blocked],
                events=[e["message"] for e in attach_events][:3]))
        if pvc["phase"] != "Bound":
            findings.append(_finding("pvc_unbound", "critical", "claim %s is %s, not Bound" % (claim, pvc["phase"]), claim=claim))
    for missing in sorted(set(c for p in pods for c in p["claims"]) - set(pvcs)):
        findings.append(_finding("pvc_missing", "critical", "claim %s used by the pods does not exist" % missing, claim=missing))
    return findings


def _node_findings(nodes: t.List[Obj]) -> t.List[Obj]:
    """Nodes that are NotReady or report pressure."""
    findings: t.List[Obj] = []
    for node in nodes:
        if not node["ready"]:
            findings.append(_finding("node_not_ready", "critical", "node %s is NotReady" % node["name"], node=node["name"]))
        for pr in node["pressure"]:
            findings.append(_finding("node_pressure", "warning", "node %s reports %s: %s"
                                     % (node["name"], pr["type"], pr.get("message") or pr.get("reason")), node=node["name"]))
    return findings


def analyse(data: Obj) -> t.List[Obj]:
    """Findings from collected data. ``data`` keys: deployment (dict or None), pods, replicasets,
    events, nodes, pvcs, logs ({pod: {container: [lines]}}), namespace, name."""
    findings: t.List[Obj] = []
    dep = data.get("deployment")
    pods = data.get("pods") or []
    events = data.get("events") or []
    pvcs = dict((p["name"], p) for p in data.get("pvcs") or [])
    logs = data.get("logs") or {}
    ns, name = data.get("namespace"), data.get("name")

    if dep is None:
        findings.append(_finding("deployment_missing", "critical", "deployment %s/%s does not exist" % (ns, name)))
    else:
        if dep["replicas"] == 0:
            findings.append(_finding("scaled_to_zero", "critical",
                                     "complete outage: deployment %s is scaled to 0 replicas, no pod serves; scale it back "
                                     "(airlock.incident.k8s_scale, or the outage role's recovery)" % name,
                                     previous_replicas=dep.get("previous_replicas")))
        if dep["replicas"] and dep["available_replicas"] == 0:
            findings.append(_finding("no_available_replicas", "critical",
                                     "complete outage: 0 of %d replicas of %s are available" % (dep["replicas"], name)))
        elif dep["available_replicas"] < dep["replicas"]:
            findings.append(_finding("replicas_unavailable", "warning", "%d of %d replicas of %s are available"
                                     % (dep["available_replicas"], dep["replicas"], name)))
        if not dep["rollout_complete"]:
            prog: Obj = next((c for c in dep["conditions"] if c["type"] == "Progressing"), {})
            sev = "critical" if prog.get("reason") == "ProgressDeadlineExceeded" else "warning"
            findings.append(_finding("rollout_incomplete", sev, "rollout of %s is not complete: %s" % (name, dep["rollout_message"]),
                                     progressing=prog))
        if dep["paused"]:
            findings.append(_finding("rollout_paused", "warning", "deployment %s is paused (kubectl rollout resume)" % name))

    for pod in pods:
        for c in pod["containers"]:
            lines = (logs.get(pod["name"]) or {}).get(c["name"]) or []
            findings += _container_findings(pod, c, lines, data.get("resources") or [])
        if pod["phase"] == "Pending" and not pod["node"]:
            findings.append(_finding("unschedulable", "critical", "pod %s: %s" % (pod["name"], pod["problem"]),
                                     pod=pod["name"]))

    findings += _claim_findings(pvcs, pods, events)
    findings += _node_findings(data.get("nodes") or [])

    findings.sort(key=lambda f: SEVERITY_ORDER.get(f["severity"], 9))
    return findings


def overall(findings: t.List[Obj], deployment: t.Optional[Obj]) -> str:
    """``outage``, ``degraded`` or ``ok``."""
    if deployment is None or any(f["id"] in ("no_available_replicas", "scaled_to_zero") for f in findings):
        return "outage"
    if any(f["severity"] != "info" for f in findings):
        return "degraded"
    return "ok"


def human_summary(ns: str, name: str, deployment: t.Optional[Obj], pods: t.List[Obj], findings: t.List[Obj],
                  helm: t.List[Obj]) -> str:
    """The triage as text: the Deployment, one line per pod, the Helm revision and one line per finding."""
    lines = []
    if deployment is None:
        lines.append("%s/%s: deployment not found" % (ns, name))
    else:
        lines.append("%s/%s: %s; %d/%d replicas available, %d updated, revision %s"
                     % (ns, name, overall(findings, deployment).upper(), deployment["available_replicas"],
                        deployment["replicas"], deployment["updated_replicas"], deployment["revision"]))
    for pod in pods:
        lines.append("  pod %s on %s: %s, %s, %d restarts%s" % (pod["name"], pod["node"] or "-", pod["phase"],
                                                                "ready" if pod["ready"] else "NOT ready", pod["restarts"],
                                                                "; " + pod["problem"] if pod["problem"] else ""))
    if helm:
        cur = helm[-1]
        note = "; " + cur["description"] if cur.get("description") else ""
        lines.append("  helm: revision %s %s (%s)%s" % (cur["revision"], cur["status"], cur["chart"], note))
    for f in findings:
        lines.append("  [%s] %s: %s" % (f["severity"], f["id"], f["summary"]))
    if not findings:
        lines.append("  no problem found")
    return "\n".join(lines)
