# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Airlock's ``/metrics``: the Prometheus text exposition format, and the values a responder needs.

``parse_prometheus_text`` reads every sample line (bad lines are skipped);
``summarize_metrics`` picks out request counts by status class, the 5xx share,
memory, connections, auth failures, policy denies and the p95/p99 request
duration (interpolated like PromQL's ``histogram_quantile``).
"""

from __future__ import annotations

import math
import re
import typing as t

#: One sample: metric name, labels, value.
Sample = t.Tuple[str, t.Dict[str, str], float]

# ---------------------------------------------------------------------------
# Prometheus text format
# ---------------------------------------------------------------------------

_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def _unescape_label(value: str) -> str:
    out: t.List[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _parse_value(text: str) -> float:
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return float("inf")
    if lowered == "-inf":
        return float("-inf")
    if lowered == "nan":
        return float("nan")
    return float(text)


def parse_prometheus_text(text: str) -> t.List[Sample]:
    """``[(name, {label: value}, float)]`` for every sample line; bad lines are skipped."""
    samples: t.List[Sample] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _METRIC_LINE.match(line)
        if not match:
            continue
        name, label_text, value_text = match.group(1), match.group(2), match.group(3)
        labels: t.Dict[str, str] = {}
        if label_text:
            inner = label_text[1:-1]
            pos = 0
            ok = True
            while pos < len(inner):
                if not inner[pos:].strip():
                    break
                lab = _LABEL.match(inner, pos)
                if not lab:
                    ok = False
                    break
                labels[lab.group(1)] = _unescape_label(lab.group(2))
                pos = lab.end()
            if not ok:
                continue
        try:
            value = _parse_value(value_text)
        except ValueError:
            continue
        samples.append((name, labels, value))
    return samples


def histogram_quantile(quantile: float, buckets: t.Mapping[float, float]) -> t.Optional[float]:
    """Prometheus' ``histogram_quantile`` over ``{le: cumulative count}``; None if empty."""
    if not buckets:
        return None
    ordered = sorted(buckets.items(), key=lambda item: item[0])
    if not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = quantile * total
    lower_bound = 0.0
    lower_count = 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower_bound
            if count == lower_count:
                return upper
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = upper, count
    return lower_bound


def _sum(samples: t.Sequence[Sample], name: str) -> t.Optional[float]:
    values = [value for sample_name, _labels, value in samples if sample_name == name]
    return sum(values) if values else None


def summarize_metrics(samples: t.Sequence[Sample]) -> t.Dict[str, t.Any]:
    """The values responders look at, from parsed samples (counters since process start).

    ``requests_by_status_class`` sums ``airlock_requests_total`` by the first
    digit of its ``status`` label; ``error_rate`` is 5xx / all (cumulative, not a
    rate over a window: compare two probes for a recent rate). ``p95``/``p99``
    come from the ``airlock_request_duration_seconds`` buckets summed over all
    label sets, interpolated like PromQL's ``histogram_quantile``.
    """
    summary: t.Dict[str, t.Any] = {
        "requests_total": None,
        "requests_by_status_class": {},
        "error_rate": None,
        "memory_bytes": _sum(samples, "airlock_memory_usage_bytes"),
        "active_connections": _sum(samples, "airlock_active_connections"),
        "goroutines": _sum(samples, "airlock_goroutines_total"),
        "auth_failures_total": None,
        "policy_denies_total": None,
        "errors_total": _sum(samples, "airlock_errors_total"),
        "request_duration_p95_seconds": None,
        "request_duration_p99_seconds": None,
        "sample_count": len(samples),
    }
    by_class: t.Dict[str, float] = {}
    total: t.Optional[float] = None
    auth_fail: t.Optional[float] = None
    denies: t.Optional[float] = None
    buckets: t.Dict[float, float] = {}
    for name, labels, value in samples:
        if name == "airlock_requests_total":
            total = (total or 0.0) + value
            status = labels.get("status", "")
            klass = (status[:1] + "xx") if status[:1].isdigit() else (status or "unknown")
            by_class[klass] = by_class.get(klass, 0.0) + value
        elif name == "airlock_auth_events_total" and labels.get("result") not in (None, "success", "allow", "ok"):
            auth_fail = (auth_fail or 0.0) + value
        elif name == "airlock_policy_decisions_total" and labels.get("decision") == "deny":
            denies = (denies or 0.0) + value
        elif name == "airlock_request_duration_seconds_bucket" and "le" in labels:
            try:
                upper = _parse_value(labels["le"])
            except ValueError:
                continue
            buckets[upper] = buckets.get(upper, 0.0) + value
    summary["requests_total"] = total
    summary["requests_by_status_class"] = by_class
    if total:
        summary["error_rate"] = round(by_class.get("5xx", 0.0) / total, 6)
    summary["auth_failures_total"] = auth_fail
    summary["policy_denies_total"] = denies
    summary["request_duration_p95_seconds"] = histogram_quantile(0.95, buckets)
    summary["request_duration_p99_seconds"] = histogram_quantile(0.99, buckets)
    return summary
