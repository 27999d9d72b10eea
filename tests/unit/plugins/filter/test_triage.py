# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.airlock.incident.plugins.filter.triage import triage


def _probe(status=200, latency=5.0, error=None, body=None):
    return {"status": status, "latency_ms": latency, "error": error, "body": body or {}}


def _result(live=None, ready=None, mcp=None):
    return {
        "endpoints": {
            "live": live or _probe(body={"status": "alive"}),
            "ready": ready or _probe(body={"status": "ready"}),
            "health": _probe(body={"status": "healthy"}),
            "info": _probe(body={"service": "mcp-airlock"}),
        },
        "mcp": mcp if mcp is not None else {"status": 200, "latency_ms": 8.0, "result": {"tools": []}},
    }


def test_healthy_gateway_is_no_incident():
    verdict = triage(_result())
    assert verdict["incident"] is False
    assert verdict["severity"] is None
    assert verdict["service_status"] == "UP"
    assert verdict["symptoms"] == []


def test_connection_refused_is_p0_outage():
    down = {"status": None, "latency_ms": None, "error": "connection refused", "body": None}
    verdict = triage(_result(live=down, ready=down, mcp={"status": None, "error": "connection refused"}))
    assert (verdict["severity"], verdict["type"], verdict["outage"]) == ("P0", "service_outage", True)
    assert verdict["service_status"] == "DOWN"
    assert verdict["symptoms"][0] == "/live: connection refused"
    # MCP failure is a consequence of the outage, not a second symptom
    assert len(verdict["symptoms"]) == 2


def test_not_ready_with_checks_names_the_failing_check():
    ready = _probe(503, body={"status": "not_ready", "checks": {"jwks": "unreachable", "policy": "ok"}})
    verdict = triage(_result(ready=ready))
    assert verdict["severity"] == "P0"
    assert verdict["symptoms"] == ["/ready: HTTP 503 not_ready (checks: jwks=unreachable)"]


def test_release_without_upstreams_is_p1_degraded():
    mcp = {"status": 200, "method": "tools/list", "error": {"code": -32000, "message": "No upstream servers configured"}}
    verdict = triage(_result(mcp=mcp))
    assert (verdict["severity"], verdict["service_status"]) == ("P1", "DEGRADED")
    assert "-32000 No upstream servers configured" in verdict["symptoms"][0]


@pytest.mark.parametrize("status, kind", [(401, "authentication_issues"), (403, "policy_failures"), (502, "service_outage")])
def test_mcp_http_failures_map_to_types(status, kind):
    verdict = triage(_result(mcp={"status": status, "error": {"code": None, "message": "HTTP Error %d" % status}}))
    assert (verdict["severity"], verdict["type"]) == ("P1", kind)
    assert verdict["symptoms"] == ["MCP tools/list: HTTP %d, HTTP Error %d" % (status, status)]


def test_slow_but_working_is_p2_performance():
    verdict = triage(_result(mcp={"status": 200, "latency_ms": 2500.0, "result": {}}), latency_ms=1000)
    assert (verdict["severity"], verdict["type"]) == ("P2", "performance_degradation")
    assert "MCP 2500 ms" in verdict["symptoms"][0]
    assert triage(_result(mcp={"status": 200, "latency_ms": 2500.0, "result": {}}), latency_ms=5000)["incident"] is False


def test_rejects_something_that_is_not_a_health_result():
    with pytest.raises(AnsibleFilterError, match="airlock.incident.health"):
        triage({"rc": 0})
    with pytest.raises(AnsibleFilterError, match="latency_ms"):
        triage(_result(), latency_ms="fast")
