# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CPU throttling of containers from the kubelet's cAdvisor metrics (part of ``k8s_usage``).

The metrics API has no throttling figure; the kubelet's ``/metrics/cadvisor``
endpoint has the CFS counters of every container it runs:
``container_cpu_cfs_periods_total`` (enforcement periods that elapsed while the
container was runnable) and ``container_cpu_cfs_throttled_periods_total`` (the
periods in which it hit its quota). Their ratio is the share of periods the
container was throttled in, the figure ``CPUThrottlingHigh`` alerts on. It is
read through the API server's node proxy
(``/api/v1/nodes/<node>/proxy/metrics/cadvisor``), so it needs ``nodes/proxy``
``get`` permission and no route to the node.

One scrape gives the ratio since each container started; two scrapes give the
ratio over the time between them (the counters' increase), which is what an
incident needs. The text is the Prometheus exposition format; lines that do not
parse are counted and skipped, never fatal.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError

PERIODS = "container_cpu_cfs_periods_total"
THROTTLED = "container_cpu_cfs_throttled_periods_total"
DEFAULT_PATH = "/metrics/cadvisor"
PATH_RE = re.compile(r"^/metrics(/[A-Za-z0-9_.{}-]+)*$")

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}

# kube-apiserver proxies nodes/proxy only to node addresses that are not loopback or link-local.
LOOPBACK_HINT = (" (the API server refuses to proxy to a node address that is loopback or link-local; the node's "
                 "kubelet endpoint is on such an address)")

Key = t.Tuple[str, str]
Counters = t.Dict[Key, t.Dict[str, float]]


def validate_path(path: t.Any) -> t.Optional[str]:
    """The refusal of a cAdvisor path, or None (``{node}`` stands for the node's name)."""
    if not isinstance(path, str) or not PATH_RE.match(path) or ".." in path:
        return ("cadvisor_path: invalid value %r; accepted values: a path under /metrics of letters, digits, "
                "'.', '_', '-' and '{node}' (default %s)" % (path, DEFAULT_PATH))
    return None


def node_path(path: str, node: str) -> str:
    """The node-proxy sub-path for one node (without the leading slash)."""
    return path.replace("{node}", node).lstrip("/")


def parse_labels(text: str) -> t.Optional[t.Dict[str, str]]:
    """The labels of one sample (``a="x",b="y"``); None when the text is not a label set."""
    labels: t.Dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _LABEL_RE.match(text, pos)
        if not m:
            return None
        labels[m.group(1)] = re.sub(r'\\[\\"n]', lambda e: _UNESCAPE[e.group(0)], m.group(2))
        pos = m.end()
    return labels


def parse_sample(line: str) -> t.Optional[t.Tuple[str, t.Dict[str, str], float]]:
    """``(name, labels, value)`` of one exposition line; None for a line that is not a valid sample."""
    m = _SAMPLE_RE.match(line)
    if not m:
        return None
    labels = parse_labels(m.group(3) or "")
    try:
        value = float(m.group(4))
    except ValueError:
        return None
    return None if labels is None else (m.group(1), labels, value)


def cfs_counters(text: str, namespace: str, pods: t.Collection[str]) -> t.Tuple[Counters, int]:
    """The CFS counters of the named pods' containers, and how many lines were damaged.

    Keyed by ``(pod, container)``; cgroup-level series without a container name (the pod's own
    cgroup, ``container=""``, or the pause container ``POD``) are not containers and are left out.
    """
    out: Counters = {}
    damaged = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith((PERIODS, THROTTLED)):
            continue
        sample = parse_sample(line)
        if sample is None:
            damaged += 1
            continue
        name, labels, value = sample
        if name not in (PERIODS, THROTTLED) or labels.get("namespace") != namespace or labels.get("pod") not in pods:
            continue
        container = labels.get("container", "")
        if container in ("", "POD"):
            continue
        key = (labels["pod"], container)
        slot = out.setdefault(key, {})
        slot[name] = slot.get(name, 0.0) + value
    return out, damaged


def ratios(first: Counters, last: t.Optional[Counters] = None) -> t.Dict[Key, t.Dict[str, t.Any]]:
    """The throttled share per container: since start from ``first`` alone, or over the window to ``last``.

    A container whose counters went backwards between the scrapes (it restarted) is measured since its
    restart from ``last``. A container with no elapsed period has no ratio (None).
    """
    out: t.Dict[Key, t.Dict[str, t.Any]] = {}
    for key, now in (last if last is not None else first).items():
        periods, throttled = now.get(PERIODS, 0.0), now.get(THROTTLED, 0.0)
        basis = "since container start"
        before = first.get(key) if last is not None else None
        if before is not None and now.get(PERIODS, 0.0) >= before.get(PERIODS, 0.0) \
                and now.get(THROTTLED, 0.0) >= before.get(THROTTLED, 0.0):
            periods -= before.get(PERIODS, 0.0)
            throttled -= before.get(THROTTLED, 0.0)
            basis = "between the two scrapes"
        out[key] = {"pod": key[0], "container": key[1], "periods": periods, "throttled_periods": throttled,
                    "ratio": (throttled / periods) if periods > 0 else None, "basis": basis}
    return out


def _read_node(k8s: t.Any, node: str, path: str) -> t.Tuple[t.Optional[str], t.Optional[str]]:
    """``(text, None)`` of one node's cAdvisor endpoint through the node proxy, or ``(None, why)``."""
    sub = node_path(path, node)
    try:
        resp = k8s.call("cAdvisor metrics of node %s (/api/v1/nodes/%s/proxy/%s)" % (node, node, sub),
                        k8s.core.connect_get_node_proxy_with_path, node, sub, _preload_content=False)
    except AirlockIncidentError as exc:
        if exc.result.get("unreachable"):
            raise
        if "address not allowed" in exc.msg:
            return None, exc.msg + LOOPBACK_HINT
        return None, exc.msg
    data = getattr(resp, "data", resp)
    return (data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)), None


def scrape(k8s: t.Any, namespace: str, pods_by_node: t.Mapping[str, t.Collection[str]],
           path: str) -> t.Tuple[Counters, t.Dict[str, t.Optional[str]], int]:
    """The CFS counters of the pods on each node, the error per node (None when read) and the damaged lines."""
    counters: Counters = {}
    errors: t.Dict[str, t.Optional[str]] = {}
    damaged = 0
    for node in sorted(pods_by_node):
        text, errors[node] = _read_node(k8s, node, path)
        if text is None:
            continue
        found, bad = cfs_counters(text, namespace, pods_by_node[node])
        counters.update(found)
        damaged += bad
    return counters, errors, damaged


def summary(first: Counters, last: t.Optional[Counters], errors: t.Mapping[str, t.Optional[str]],
            damaged: int, path: str) -> t.Dict[str, t.Any]:
    """The ``throttling`` result: measured or not (and why), the source, the ratio per container."""
    per = ratios(first, last)
    failed = {n: e for n, e in errors.items() if e}
    measured = any(r["ratio"] is not None for r in per.values())
    if measured:
        why = None
    elif failed:
        why = "; ".join(failed[node] for node in sorted(failed))
    elif not errors:
        why = "no pod of the Deployment is scheduled on a node"
    else:
        why = "the cAdvisor endpoint has no %s for these containers" % PERIODS
    return {"measured": measured, "source": "/api/v1/nodes/<node>/proxy" + path, "error": why,
            "node_errors": failed, "damaged_lines": damaged,
            "containers": sorted(per.values(), key=lambda r: (r["pod"], r["container"]))}
