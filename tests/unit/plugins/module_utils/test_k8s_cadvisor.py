# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s_usage's CPU throttling: the kubelet's /metrics/cadvisor exposition text (fixture in the kubelet's format:
HELP/TYPE lines, cgroup-level series with container="", other namespaces, millisecond timestamps) turned into a
throttled share per container; the node-proxy read itself runs in the k8s_performance target."""

from __future__ import annotations

import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.k8s import cadvisor

SAMPLE = os.path.join(os.path.dirname(__file__), "fixtures", "cadvisor_metrics.txt")
PODS = ("airlock-5d8f7c9b6-x2k4q", "airlock-5d8f7c9b6-q7w8e")


def _sample() -> str:
    with open(SAMPLE, encoding="utf-8") as fh:
        return fh.read()


def test_counters_of_the_named_pods_containers_only():
    counters, damaged = cadvisor.cfs_counters(_sample(), "airlock-system", PODS)
    assert damaged == 0
    assert sorted(counters) == [("airlock-5d8f7c9b6-q7w8e", "airlock"), ("airlock-5d8f7c9b6-x2k4q", "airlock")]
    assert counters[("airlock-5d8f7c9b6-x2k4q", "airlock")] == {cadvisor.PERIODS: 9120.0, cadvisor.THROTTLED: 2280.0}


def test_ratio_since_start_from_one_scrape():
    counters = cadvisor.cfs_counters(_sample(), "airlock-system", PODS)[0]
    r = cadvisor.ratios(counters)
    assert r[("airlock-5d8f7c9b6-x2k4q", "airlock")]["ratio"] == pytest.approx(0.25)
    assert r[("airlock-5d8f7c9b6-q7w8e", "airlock")]["ratio"] == 0.0
    assert r[("airlock-5d8f7c9b6-x2k4q", "airlock")]["basis"] == "since container start"


def test_ratio_over_the_window_from_two_scrapes():
    key = ("p", "airlock")
    first = {key: {cadvisor.PERIODS: 1000.0, cadvisor.THROTTLED: 100.0}}
    last = {key: {cadvisor.PERIODS: 1100.0, cadvisor.THROTTLED: 160.0}}
    r = cadvisor.ratios(first, last)[key]
    assert (r["periods"], r["throttled_periods"], r["basis"]) == (100.0, 60.0, "between the two scrapes")
    assert r["ratio"] == pytest.approx(0.6)
    # counters that went backwards: the container restarted; measured since the restart
    restarted = {key: {cadvisor.PERIODS: 50.0, cadvisor.THROTTLED: 5.0}}
    assert cadvisor.ratios(first, restarted)[key]["basis"] == "since container start"
    assert cadvisor.ratios(first, restarted)[key]["ratio"] == pytest.approx(0.1)
    idle = {key: {cadvisor.PERIODS: 1000.0, cadvisor.THROTTLED: 100.0}}
    assert cadvisor.ratios(first, idle)[key]["ratio"] is None


def test_damaged_lines_are_counted_and_skipped():
    text = _sample() + "\n".join([
        'container_cpu_cfs_periods_total{container="airlock",namespace="airlock-system",pod="airlock-5d8f7c9b6-x2k4q"',
        'container_cpu_cfs_throttled_periods_total{container="airlock",namespace="airlock-system"} lots',
        'container_cpu_cfs_periods_total{container="airlock" namespace="x"} 1',
    ]) + "\n"
    counters, damaged = cadvisor.cfs_counters(text, "airlock-system", PODS)
    assert damaged == 3
    assert counters[("airlock-5d8f7c9b6-x2k4q", "airlock")][cadvisor.PERIODS] == 9120.0


def test_escaped_label_values():
    assert cadvisor.parse_labels(r'a="x\"y",b="c\\d",c="l\n"') == {"a": 'x"y', "b": "c\\d", "c": "l\n"}
    assert cadvisor.parse_labels('a=x') is None
    assert cadvisor.parse_sample('m{a="1"} 2.5 1733412345678') == ("m", {"a": "1"}, 2.5)
    assert cadvisor.parse_sample("m 3") == ("m", {}, 3.0)


def test_summary_says_why_nothing_was_measured():
    s = cadvisor.summary({}, None, {"kwok-node-0": "cAdvisor metrics of node kwok-node-0: HTTP 404", "kwok-node-1": None},
                         0, "/metrics/cadvisor")
    assert not s["measured"] and s["error"] == "cAdvisor metrics of node kwok-node-0: HTTP 404"
    assert s["node_errors"] == {"kwok-node-0": "cAdvisor metrics of node kwok-node-0: HTTP 404"}
    assert s["source"] == "/api/v1/nodes/<node>/proxy/metrics/cadvisor"
    empty = cadvisor.summary({}, None, {"kwok-node-0": None}, 0, "/metrics/cadvisor")
    assert not empty["measured"] and cadvisor.PERIODS in empty["error"]
    assert "no pod" in cadvisor.summary({}, None, {}, 0, "/metrics/cadvisor")["error"]


@pytest.mark.parametrize("path,ok", [("/metrics/cadvisor", True), ("/metrics/nodes/{node}/metrics/cadvisor", True),
                                     ("/metrics/../api", False), ("/stats", False), ("metrics/cadvisor", False),
                                     (None, False), ("/metrics/cad visor", False)])
def test_path_refusals(path, ok):
    assert (cadvisor.validate_path(path) is None) == ok
    if ok:
        assert cadvisor.node_path(path, "kwok-node-0") in ("metrics/cadvisor", "metrics/nodes/kwok-node-0/metrics/cadvisor")
