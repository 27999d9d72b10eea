# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Resource use of the Airlock pods (the logic of ``k8s_usage``): what ``kubectl top`` shows, against what the
containers are given.

Reads the pods of the Deployment, their CPU and memory from the metrics API
(``metrics.k8s.io/v1beta1`` PodMetrics, where the cluster serves it), their
requests and limits, restarts and last terminations, and the HPAs that target
the Deployment; with ``samples`` > 1 it samples the metrics API repeatedly, so
memory growth shows as a series. The pure functions here turn those reads into
per-container figures and findings; :func:`collect` does the reads.

CPU throttling is not part of the metrics API: it is read from the kubelet's
cAdvisor CFS counters through the API server's node proxy (:mod:`.cadvisor`);
where that endpoint cannot be read the result says why, and a container using
at least ``saturation`` of its CPU limit is still reported as saturated.
"""

from __future__ import annotations

import time
import typing as t
from fractions import Fraction

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s import cadvisor, quantity
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, validate_common, validate_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import autoscaling_api, list_pods, read_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import hpas_targeting, pod_name, pod_ready

try:
    from kubernetes import client as k8s_client
except ImportError:  # the module calls require_kubernetes() first
    k8s_client = None

Obj = t.Dict[str, t.Any]

METRICS_GROUP, METRICS_VERSION = "metrics.k8s.io", "v1beta1"
MAX_SAMPLES, MAX_INTERVAL = 10, 60
THROTTLING_NOTE = ("CPU throttling is the share of CFS periods in which a container hit its quota, read from the "
                   "kubelet's cAdvisor counters through the node proxy; without them, usage at or above the "
                   "saturation share of the CPU limit is reported as saturated")


def validate(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """Every refusal of k8s_usage, each naming its option and the accepted values."""
    errors = [m for m in (validate_common(params), validate_name("name", params.get("name"))) if m]
    if not 1 <= params["samples"] <= MAX_SAMPLES:
        errors.append("samples: invalid value %r; accepted values: 1 to %d" % (params["samples"], MAX_SAMPLES))
    if not 1 <= params["interval"] <= MAX_INTERVAL:
        errors.append("interval: invalid value %r; accepted values: 1 to %d seconds" % (params["interval"], MAX_INTERVAL))
    if not 0 < params["saturation"] <= 1:
        errors.append("saturation: invalid value %r; accepted values: a share of the limit > 0 and <= 1"
                      % (params["saturation"],))
    if not 0 < params["throttled_share"] <= 1:
        errors.append("throttled_share: invalid value %r; accepted values: a share of CFS periods > 0 and <= 1"
                      % (params["throttled_share"],))
    errors += [m for m in [cadvisor.validate_path(params["cadvisor_path"])] if m]
    return errors


def _value(text: t.Any) -> t.Optional[Fraction]:
    """The exact value of a quantity text; None when absent or not a quantity."""
    if text is None:
        return None
    try:
        return quantity.parse(text).value
    except quantity.QuantityError:
        return None


def cpu_millicores(text: t.Any) -> t.Optional[float]:
    """CPU quantity text (``250m``, ``1``, ``12345678n``) in millicores."""
    value = _value(text)
    return None if value is None else round(float(value * 1000), 3)


def memory_bytes(text: t.Any) -> t.Optional[int]:
    """Memory quantity text (``256Mi``, ``123456Ki``) in bytes."""
    value = _value(text)
    return None if value is None else int(value)


def _share(used: t.Optional[float], given: t.Optional[float]) -> t.Optional[float]:
    if used is None or not given:
        return None
    return round(used / given, 4)


def usage_by_container(pod_metrics: t.Optional[Obj]) -> t.Dict[str, Obj]:
    """``{container: {cpu_m, memory_bytes, time}}`` from one PodMetrics object."""
    out: t.Dict[str, Obj] = {}
    for c in (pod_metrics or {}).get("containers") or []:
        usage = c.get("usage") or {}
        out[str(c.get("name"))] = {"cpu_m": cpu_millicores(usage.get("cpu")),
                                   "memory_bytes": memory_bytes(usage.get("memory")),
                                   "time": (pod_metrics or {}).get("timestamp")}
    return out


def growing(series: t.Sequence[Obj]) -> bool:
    """Memory rose from the first sample to the last and never fell in between (two samples at least)."""
    values = [int(s["memory_bytes"]) for s in series if s.get("memory_bytes") is not None]
    return len(values) >= 2 and values[-1] > values[0] and all(b >= a for a, b in zip(values, values[1:]))


def container_usage(spec: Obj, status: t.Optional[Obj], series: t.Sequence[Obj]) -> Obj:
    """One container: requests and limits, the latest usage and its share of them, the series, restarts."""
    resources = spec.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    latest = series[-1] if series else {}
    cpu, mem = latest.get("cpu_m"), latest.get("memory_bytes")
    status = status or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    return {
        "name": spec.get("name"),
        "requests": dict(requests), "limits": dict(limits),
        "cpu_m": cpu, "memory_bytes": mem,
        "cpu_of_request": _share(cpu, cpu_millicores(requests.get("cpu"))),
        "cpu_of_limit": _share(cpu, cpu_millicores(limits.get("cpu"))),
        "memory_of_request": _share(mem, memory_bytes(requests.get("memory"))),
        "memory_of_limit": _share(mem, memory_bytes(limits.get("memory"))),
        "series": list(series),
        "memory_growing": growing(series),
        "restarts": status.get("restartCount") or 0,
        "last_termination": ({"reason": last.get("reason"), "exit_code": last.get("exitCode"),
                              "finished_at": last.get("finishedAt")} if last else None),
    }


def pod_usage(pod: Obj, samples: t.Sequence[t.Optional[Obj]]) -> Obj:
    """One pod with its containers; ``samples`` are its PodMetrics objects (None where it had none)."""
    statuses = {cs.get("name"): cs for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    series_by: t.Dict[str, t.List[Obj]] = {}
    for sample in samples:
        for name, usage in usage_by_container(sample).items():
            series = series_by.setdefault(name, [])
            # metrics-server keeps one point per resolution: a read within it repeats the last one.
            if not series or usage["time"] is None or series[-1]["time"] != usage["time"]:
                series.append(usage)
    containers = [container_usage(c, statuses.get(c.get("name")), series_by.get(str(c.get("name")), []))
                  for c in (pod.get("spec") or {}).get("containers") or []]
    return {"name": pod_name(pod), "node": (pod.get("spec") or {}).get("nodeName"),
            "phase": (pod.get("status") or {}).get("phase"), "ready": pod_ready(pod), "containers": containers}


def hpa_summary(hpa: Obj) -> Obj:
    """Bounds, replica counts, metric targets and conditions of an HPA."""
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    conditions = {c.get("type"): {"status": c.get("status"), "reason": c.get("reason"), "message": c.get("message")}
                  for c in status.get("conditions") or []}
    return {"name": (hpa.get("metadata") or {}).get("name"), "min_replicas": spec.get("minReplicas", 1),
            "max_replicas": spec.get("maxReplicas"), "current_replicas": status.get("currentReplicas"),
            "desired_replicas": status.get("desiredReplicas"), "metrics": spec.get("metrics") or [],
            "current_metrics": status.get("currentMetrics") or [], "conditions": conditions}


def _finding(fid: str, severity: str, summary: str, **evidence: t.Any) -> Obj:
    return {"id": fid, "severity": severity, "summary": summary, "evidence": evidence}


def _pct(share: float) -> str:
    return "%.0f%%" % (share * 100)


def container_findings(pod: Obj, c: Obj, saturation: float) -> t.List[Obj]:
    """What is wrong with one container's use of its resources."""
    where = "%s/%s" % (pod["name"], c["name"])
    out: t.List[Obj] = []
    if c["cpu_of_limit"] is not None and c["cpu_of_limit"] >= saturation:
        out.append(_finding("cpu_saturated", "warning", "%s uses %s of its CPU limit %s (throttling likely)"
                            % (where, _pct(c["cpu_of_limit"]), c["limits"].get("cpu")), pod=pod["name"],
                            container=c["name"], cpu_m=c["cpu_m"], cpu_limit=c["limits"].get("cpu")))
    if c["memory_of_limit"] is not None and c["memory_of_limit"] >= saturation:
        out.append(_finding("memory_near_limit", "warning", "%s uses %s of its memory limit %s"
                            % (where, _pct(c["memory_of_limit"]), c["limits"].get("memory")), pod=pod["name"],
                            container=c["name"], memory_bytes=c["memory_bytes"], memory_limit=c["limits"].get("memory")))
    if c["memory_growing"]:
        first, last = c["series"][0]["memory_bytes"], c["series"][-1]["memory_bytes"]
        out.append(_finding("memory_growing", "warning", "%s memory grew from %d to %d bytes over %d samples"
                            % (where, first, last, len(c["series"])), pod=pod["name"], container=c["name"],
                            first_bytes=first, last_bytes=last))
    if (c["last_termination"] or {}).get("reason") == "OOMKilled":
        out.append(_finding("oom_killed", "critical", "%s was OOMKilled (restarts %d, memory limit %s)"
                            % (where, c["restarts"], c["limits"].get("memory")), pod=pod["name"],
                            container=c["name"], restarts=c["restarts"], memory_limit=c["limits"].get("memory")))
    if not c["limits"].get("memory") or not c["limits"].get("cpu"):
        missing = [r for r in ("cpu", "memory") if not c["limits"].get(r)]
        out.append(_finding("no_limits", "info", "%s has no %s limit" % (where, " or ".join(missing)),
                            pod=pod["name"], container=c["name"], missing=missing))
    return out


def hpa_findings(hpas: t.Sequence[Obj]) -> t.List[Obj]:
    """An HPA held at its maximum cannot add capacity."""
    out = []
    for h in hpas:
        limited = (h["conditions"].get("ScalingLimited") or {}).get("status") == "True"
        at_max = h["max_replicas"] is not None and (h["current_replicas"] or 0) >= h["max_replicas"]
        if at_max or (limited and (h["desired_replicas"] or 0) >= (h["max_replicas"] or 0)):
            out.append(_finding("hpa_at_max", "warning", "HPA %s is at its maximum of %s replicas" % (h["name"], h["max_replicas"]),
                                hpa=h["name"], max_replicas=h["max_replicas"], current_replicas=h["current_replicas"]))
    return out


def throttling_findings(throttling: Obj, share: float) -> t.List[Obj]:
    """A container throttled in at least ``share`` of its CFS periods (measured, not inferred)."""
    out = []
    for r in throttling.get("containers") or []:
        if r["ratio"] is not None and r["ratio"] >= share:
            out.append(_finding("cpu_throttled", "warning", "%s/%s was CPU-throttled in %s of its CFS periods (%s)"
                                % (r["pod"], r["container"], _pct(r["ratio"]), r["basis"]), pod=r["pod"],
                                container=r["container"], ratio=r["ratio"], periods=r["periods"],
                                throttled_periods=r["throttled_periods"]))
    return out


def attach_throttling(pods: t.Sequence[Obj], throttling: Obj) -> None:
    """Set each container's ``throttled_ratio`` (None where it was not measured)."""
    by_key = {(r["pod"], r["container"]): r["ratio"] for r in throttling.get("containers") or []}
    for p in pods:
        for c in p["containers"]:
            c["throttled_ratio"] = by_key.get((p["name"], c["name"]))


def findings(pods: t.Sequence[Obj], hpas: t.Sequence[Obj], saturation: float,
             throttling: t.Optional[Obj] = None, throttled_share: float = 0.25) -> t.List[Obj]:
    """Every finding of the pods, their throttling and the HPAs, most severe first."""
    out = [f for p in pods for c in p["containers"] for f in container_findings(p, c, saturation)]
    out += throttling_findings(throttling or {}, throttled_share)
    out += hpa_findings(hpas)
    rank = {"critical": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: rank.get(f["severity"], 3))


def message(ns: str, name: str, metrics_api: Obj, pods: t.Sequence[Obj], found: t.Sequence[Obj],
            throttling: t.Optional[Obj] = None) -> str:
    """The one-line summary."""
    head = "deployment %s/%s: %d pod(s)" % (ns, name, len(pods))
    if not metrics_api["served"]:
        head += "; metrics API not served (%s), usage unknown" % metrics_api["error"]
    else:
        parts = []
        for p in pods:
            for c in p["containers"]:
                if c["cpu_m"] is not None:
                    mebibytes = (c["memory_bytes"] or 0) / 1048576.0
                    parts.append("%s/%s cpu %.0fm mem %.0fMi" % (p["name"], c["name"], c["cpu_m"], mebibytes))
        head += "; " + (", ".join(parts) if parts else "no pod metrics yet")
    if throttling is not None and not throttling.get("measured"):
        head += "; throttling: unavailable (%s)" % throttling.get("error")
    serious = [f["summary"] for f in found if f["severity"] != "info"]
    return head + ("; " + "; ".join(serious) if serious else "; no saturation, growth or OOM kill found")


class _Reader:
    """The reads of k8s_usage; the metrics API's absence is a result, not a failure."""

    def __init__(self, k8s: K8s) -> None:
        self.k8s = k8s
        self.custom = k8s_client.CustomObjectsApi(k8s.api)

    def pod_metrics(self) -> t.Tuple[Obj, t.Dict[str, Obj]]:
        """``(metrics_api, {pod: PodMetrics})`` for the namespace."""
        try:
            data = self.k8s.call("pod metrics (%s/%s) in %s" % (METRICS_GROUP, METRICS_VERSION, self.k8s.namespace),
                                 self.custom.list_namespaced_custom_object, METRICS_GROUP, METRICS_VERSION,
                                 self.k8s.namespace, "pods")
        except AirlockIncidentError as exc:
            if exc.result.get("unreachable"):
                raise
            status = exc.result.get("status")
            why = "HTTP 404: no APIService serves %s" % METRICS_GROUP if status == 404 else exc.msg
            return {"served": False, "status": status, "error": why}, {}
        items = (data or {}).get("items") or []
        return ({"served": True, "status": 200, "error": None},
                {str((i.get("metadata") or {}).get("name")): i for i in items})


def collect(params: t.Mapping[str, t.Any], sleep: t.Callable[[float], None] = time.sleep) -> Obj:
    """Read the Deployment, its pods, their metrics (``samples`` times) and the HPAs; the module result."""
    k8s = K8s(params)
    k8s.ensure_namespace()
    name = params["name"]
    dep = read_deployment(k8s, name)
    reader = _Reader(k8s)
    pods_raw = list_pods(k8s, dep)
    by_node: t.Dict[str, t.List[str]] = {}
    for p in pods_raw:
        if (p.get("spec") or {}).get("nodeName"):
            by_node.setdefault(p["spec"]["nodeName"], []).append(pod_name(p))
    first, node_errors, damaged = cadvisor.scrape(k8s, k8s.namespace, by_node, params["cadvisor_path"])
    samples: t.List[t.Dict[str, Obj]] = []
    metrics_api: Obj = {}
    for index in range(params["samples"]):
        if index:
            sleep(params["interval"])
        metrics_api, by_pod = reader.pod_metrics()
        if not metrics_api["served"]:
            break
        samples.append(by_pod)
    last: t.Optional[cadvisor.Counters] = None
    if len(samples) > 1 and first:
        last, node_errors, more = cadvisor.scrape(k8s, k8s.namespace, by_node, params["cadvisor_path"])
        damaged += more
    throttling = cadvisor.summary(first, last, node_errors, damaged, params["cadvisor_path"])
    throttling["note"] = THROTTLING_NOTE
    pods = sorted((pod_usage(p, [s.get(pod_name(p)) for s in samples]) for p in pods_raw), key=lambda p: p["name"])
    hpas_raw = k8s.sanitize(k8s.call("horizontalpodautoscalers in %s" % k8s.namespace,
                                     autoscaling_api(k8s).list_namespaced_horizontal_pod_autoscaler,
                                     k8s.namespace)).get("items") or []
    hpas = [hpa_summary(h) for h in hpas_targeting(hpas_raw, k8s.namespace, name)]
    attach_throttling(pods, throttling)
    found = findings(pods, hpas, params["saturation"], throttling, params["throttled_share"])
    replicas = {"desired": (dep.get("spec") or {}).get("replicas"),
                "ready": (dep.get("status") or {}).get("readyReplicas") or 0}
    return {"changed": False, "deployment": name, "namespace": k8s.namespace, "replicas": replicas,
            "metrics_api": metrics_api, "samples_taken": len(samples), "pods": pods, "hpas": hpas,
            "findings": found, "throttling": throttling,
            "msg": message(k8s.namespace, name, metrics_api, pods, found, throttling)}
