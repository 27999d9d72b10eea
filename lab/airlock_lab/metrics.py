# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prometheus text exposition with Airlock's metric names (interface notes, section 1)."""

from __future__ import annotations

import gc
import os
import threading
import time

from airlock_lab.util import rss_bytes

#: Histogram buckets: include the shipped alert thresholds (0.06 s and 0.1 s).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.06, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

COUNTERS = {
    "airlock_requests_total": ("Total MCP requests", ("tenant", "tool", "method", "status")),
    "airlock_auth_events_total": ("Authentication events", ("tenant", "result")),
    "airlock_policy_decisions_total": ("Policy decisions",
                                       ("tenant", "tool", "resource", "decision", "rule_id")),
    "airlock_redactions_total": ("Redactions performed", ("tenant", "pattern")),
    "airlock_errors_total": ("Errors by component", ("component", "error_type", "tenant")),
}
HISTOGRAMS = {
    "airlock_request_duration_seconds": ("MCP request duration", ("tenant", "method")),
    "airlock_upstream_duration_seconds": ("Upstream call duration", ("upstream", "method")),
}


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names, values, extra=None):
    parts = ['%s="%s"' % (name, _escape(value)) for name, value in zip(names, values)]
    if extra:
        parts.append('%s="%s"' % extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(value):
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


class Metrics:
    """Counters, histograms and process gauges of one Airlock process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counters = {name: {} for name in COUNTERS}
        self._histograms = {name: {} for name in HISTOGRAMS}
        self.active_connections = 0
        self._cpu_last = (time.time(), sum(os.times()[:2]))
        self._cpu_percent = 0.0

    def inc(self, name, labels, amount=1):
        names = COUNTERS[name][1]
        key = tuple(str(labels.get(label, "")) for label in names)
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0) + amount

    def observe(self, name, labels, seconds):
        names = HISTOGRAMS[name][1]
        key = tuple(str(labels.get(label, "")) for label in names)
        with self._lock:
            series = self._histograms[name].get(key)
            if series is None:
                series = self._histograms[name][key] = {"buckets": [0] * len(DURATION_BUCKETS), "sum": 0.0,
                                                         "count": 0}
            for index, bound in enumerate(DURATION_BUCKETS):
                if seconds <= bound:
                    series["buckets"][index] += 1
            series["sum"] += seconds
            series["count"] += 1

    def connection_opened(self):
        with self._lock:
            self.active_connections += 1

    def connection_closed(self):
        with self._lock:
            self.active_connections = max(0, self.active_connections - 1)

    def counter_value(self, name, **labels):
        """Sum of the counter series matching ``labels`` (for /admin/status and tests)."""
        names = COUNTERS[name][1]
        total = 0
        with self._lock:
            for key, value in self._counters[name].items():
                if all(key[names.index(k)] == str(v) for k, v in labels.items()):
                    total += value
        return total

    def _cpu(self):
        now = time.time()
        used = sum(os.times()[:2])
        last_time, last_used = self._cpu_last
        if now - last_time >= 1.0:
            self._cpu_percent = max(0.0, (used - last_used) / (now - last_time) * 100.0)
            self._cpu_last = (now, used)
        return self._cpu_percent

    def render(self):
        """The Prometheus text exposition (version 0.0.4)."""
        lines = []
        with self._lock:
            for name, (help_text, names) in COUNTERS.items():
                lines.append("# HELP %s %s" % (name, help_text))
                lines.append("# TYPE %s counter" % name)
                for key, value in sorted(self._counters[name].items()):
                    lines.append("%s%s %s" % (name, _labels(names, key), _num(value)))
            for name, (help_text, names) in HISTOGRAMS.items():
                lines.append("# HELP %s %s" % (name, help_text))
                lines.append("# TYPE %s histogram" % name)
                for key, series in sorted(self._histograms[name].items()):
                    for bound, count in zip(DURATION_BUCKETS, series["buckets"]):
                        lines.append("%s_bucket%s %d" % (name, _labels(names, key, ("le", _num(float(bound)))),
                                                         count))
                    lines.append("%s_bucket%s %d" % (name, _labels(names, key, ("le", "+Inf")), series["count"]))
                    lines.append("%s_sum%s %s" % (name, _labels(names, key), repr(series["sum"])))
                    lines.append("%s_count%s %d" % (name, _labels(names, key), series["count"]))
            active = self.active_connections
        gauges = (
            ("airlock_active_connections", "Open MCP (SSE) connections", active),
            ("airlock_memory_usage_bytes", "Resident memory of the process", rss_bytes()),
            ("airlock_goroutines_total", "Concurrent threads (goroutines in Airlock)", threading.active_count()),
            ("airlock_heap_objects_total", "Live heap objects", len(gc.get_objects())),
            ("airlock_cpu_usage_percent", "CPU usage of the process", round(self._cpu(), 3)),
        )
        for name, help_text, value in gauges:
            lines.append("# HELP %s %s" % (name, help_text))
            lines.append("# TYPE %s gauge" % name)
            lines.append("%s %s" % (name, _num(value)))
        return "\n".join(lines) + "\n"
