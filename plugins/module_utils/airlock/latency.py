# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Latency of an MCP Airlock gateway now (the logic of the ``latency`` module).

Where the gateway exposes ``/metrics`` with the ``airlock_request_duration_seconds``
histogram, the quantiles come from its buckets (cumulative since the process
started, interpolated like PromQL's ``histogram_quantile``), next to those of
``airlock_upstream_duration_seconds``, so that a slow upstream is told apart from
a slow gateway. Where it does not (the current release answers 404), a bounded
burst of MCP requests is timed and the quantiles are nearest-rank over the burst,
with the sample size stated: with 20 probes p99 is the slowest probe.
"""

from __future__ import annotations

import math
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import AirlockClient
from ansible_collections.airlock.incident.plugins.module_utils.airlock.metrics import (
    histogram_quantile,
    parse_prometheus_text,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

Sample = t.Tuple[str, t.Dict[str, str], float]

QUANTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
REQUEST_HISTOGRAM = "airlock_request_duration_seconds"
UPSTREAM_HISTOGRAM = "airlock_upstream_duration_seconds"
SOURCES = ("auto", "metrics", "probes")
#: The bounds of ``probes``: a burst large enough for a p95, small enough not to load a struggling gateway.
MIN_PROBES, MAX_PROBES = 5, 200
#: The thresholds of the alerts Airlock ships (HighLatencyP95 0.06 s, HighLatencyP99 0.1 s).
DEFAULT_P95_MS, DEFAULT_P99_MS = 60.0, 100.0


def check_options(source: str, probes: int, p95_ms: float, p99_ms: float) -> None:
    """Refuse bad options before any request (InputError naming the field and the accepted values)."""
    if source not in SOURCES:
        raise InputError("source: invalid value %r; accepted values: %s" % (source, ", ".join(SOURCES)))
    if not MIN_PROBES <= probes <= MAX_PROBES:
        raise InputError("probes: invalid value %r; accepted values: %d to %d" % (probes, MIN_PROBES, MAX_PROBES))
    for name, value in (("p95_threshold_ms", p95_ms), ("p99_threshold_ms", p99_ms)):
        if not value > 0 or math.isinf(value):
            raise InputError("%s: invalid value %r; accepted values: a number of milliseconds > 0" % (name, value))


def nearest_rank(values: t.Sequence[float], quantile: float) -> t.Optional[float]:
    """The nearest-rank quantile (the smallest value with at least ``quantile`` of the values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(math.ceil(quantile * len(ordered) - 1e-9)))
    return ordered[min(rank, len(ordered)) - 1]


def _buckets(samples: t.Iterable[Sample], name: str) -> t.Tuple[t.Dict[float, float], float, float]:
    """``({le: cumulative count}, count, sum)`` of histogram ``name`` summed over every label set."""
    buckets: t.Dict[float, float] = {}
    count = total = 0.0
    for sample_name, labels, value in samples:
        if sample_name == name + "_bucket" and "le" in labels:
            try:
                upper = float(labels["le"].replace("Inf", "inf"))
            except ValueError:
                continue
            if not math.isnan(value):
                buckets[upper] = buckets.get(upper, 0.0) + value
        elif sample_name == name + "_count" and not math.isnan(value):
            count += value
        elif sample_name == name + "_sum" and not math.isnan(value):
            total += value
    return buckets, count, total


def _ms(seconds: t.Optional[float]) -> t.Optional[float]:
    return None if seconds is None else round(seconds * 1000.0, 3)


def histogram_summary(samples: t.Sequence[Sample], name: str) -> t.Optional[t.Dict[str, t.Any]]:
    """p50/p95/p99 (ms), count and mean of one histogram from ``/metrics``; None when it is absent or empty."""
    buckets, count, total = _buckets(samples, name)
    if not buckets or not any(math.isinf(upper) for upper in buckets):
        return None
    observed = max(buckets.values())
    if observed <= 0:
        return None
    summary: t.Dict[str, t.Any] = {"metric": name, "sample_size": int(observed)}
    for label, quantile in QUANTILES:
        summary[label + "_ms"] = _ms(histogram_quantile(quantile, buckets))
    summary["mean_ms"] = _ms(total / count) if count else None
    return summary


def probe_summary(latencies: t.Sequence[float], errors: int, error_samples: t.Sequence[str]) -> t.Dict[str, t.Any]:
    """p50/p95/p99 (nearest rank), max and mean of a burst of timed requests (ms)."""
    summary: t.Dict[str, t.Any] = {"sample_size": len(latencies), "errors": errors,
                                   "error_samples": list(error_samples)}
    for label, quantile in QUANTILES:
        value = nearest_rank(latencies, quantile)
        summary[label + "_ms"] = None if value is None else round(value, 3)
    summary["max_ms"] = round(max(latencies), 3) if latencies else None
    summary["mean_ms"] = round(sum(latencies) / len(latencies), 3) if latencies else None
    return summary


def probe_burst(client: AirlockClient, probes: int, method: str) -> t.Dict[str, t.Any]:
    """Time ``probes`` sequential MCP requests; transport failures are counted, not timed.

    A JSON-RPC error reply (for example -32000 when no upstream answers) is a
    complete round trip through the gateway and is timed, and counted in
    ``jsonrpc_errors``.
    """
    latencies: t.List[float] = []
    errors = 0
    jsonrpc_errors = 0
    samples: t.List[str] = []
    for index in range(probes):
        result = client.mcp_call(method, request_id="airlock-incident-latency-%d" % index)
        error = result.get("error") or {}
        if result.get("latency_ms") is None or (error and error.get("code") is None):
            errors += 1
            if len(samples) < 5:
                samples.append(str(error.get("message") or "no answer"))
            continue
        if error:
            jsonrpc_errors += 1
        latencies.append(float(result["latency_ms"]))
    summary = probe_summary(latencies, errors, samples)
    summary["method"] = method
    summary["jsonrpc_errors"] = jsonrpc_errors
    return summary


def verdict(quantiles: t.Optional[t.Mapping[str, t.Any]], p95_ms: float, p99_ms: float) -> t.Tuple[bool, t.List[str]]:
    """``(slow, reasons)``: p95 or p99 above its threshold."""
    reasons: t.List[str] = []
    if not quantiles:
        return False, reasons
    for label, limit in (("p95", p95_ms), ("p99", p99_ms)):
        value = quantiles.get(label + "_ms")
        if value is not None and value > limit:
            reasons.append("%s %.1f ms > %.1f ms" % (label, value, limit))
    return bool(reasons), reasons


def _read_metrics(client: AirlockClient) -> t.Tuple[t.Dict[str, t.Any], t.List[Sample]]:
    raw = client.get("/metrics", parse_json=False)
    status = raw.get("status")
    info: t.Dict[str, t.Any] = {"url": raw.get("url"), "status": status,
                                "exposed": status is not None and 200 <= status < 300, "error": raw.get("error")}
    samples = parse_prometheus_text(raw.get("raw") or "") if info["exposed"] else []
    if status == 404:
        info["error"] = "not exposed (HTTP 404)"
    return info, samples


def _describe(result: t.Mapping[str, t.Any]) -> str:
    q = result["quantiles"]
    if not q or q.get("p50_ms") is None:
        return "Latency of %s could not be measured: %s" % (result["url"], "; ".join(result["notes"]) or "no sample")
    head = "Latency of %s from %s (n=%d): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms" % (
        result["url"], "the /metrics histogram %s" % REQUEST_HISTOGRAM if result["source"] == "metrics"
        else "a burst of %s probes" % q.get("method"), q["sample_size"], q["p50_ms"], q["p95_ms"], q["p99_ms"])
    upstream = result.get("upstream")
    if upstream:
        head += " (upstream p95 %.1f ms)" % upstream["p95_ms"]
    if result["slow"]:
        return head + "; SLOW: " + "; ".join(result["reasons"])
    return head + "; within the thresholds"


def measure(client: AirlockClient, source: str = "auto", probes: int = 20, method: str = "ping",
            p95_ms: float = DEFAULT_P95_MS, p99_ms: float = DEFAULT_P99_MS) -> t.Dict[str, t.Any]:
    """The ``latency`` module's result (without ``changed``)."""
    check_options(source, probes, p95_ms, p99_ms)
    notes: t.List[str] = []
    metrics_info: t.Optional[t.Dict[str, t.Any]] = None
    request = upstream = None
    if source in ("auto", "metrics"):
        metrics_info, samples = _read_metrics(client)
        request = histogram_summary(samples, REQUEST_HISTOGRAM)
        upstream = histogram_summary(samples, UPSTREAM_HISTOGRAM)
        if not metrics_info["exposed"]:
            notes.append("/metrics: %s" % (metrics_info["error"] or "HTTP %s" % metrics_info["status"]))
        elif request is None:
            notes.append("/metrics has no %s observations" % REQUEST_HISTOGRAM)
    used = "metrics" if request is not None else None
    quantiles = request
    burst = None
    if source == "probes" or (source == "auto" and request is None):
        burst = probe_burst(client, probes, method)
        used, quantiles = "probes", burst
        if burst["errors"]:
            notes.append("%d of %d probes got no answer" % (burst["errors"], probes))
    slow, reasons = verdict(quantiles, p95_ms, p99_ms)
    result: t.Dict[str, t.Any] = {
        "url": client.base_url, "source": used, "quantiles": quantiles, "upstream": upstream,
        "metrics": metrics_info, "probes": burst, "slow": slow, "reasons": reasons, "notes": notes,
        "thresholds": {"p95_ms": p95_ms, "p99_ms": p99_ms},
        "cumulative": used == "metrics",
    }
    result["msg"] = _describe(result)
    return result
