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


NO_UPSTREAM = {"status": 200, "method": "tools/list",
               "error": {"code": -32000, "message": "No upstream servers configured"}}
CONNECTION_CLOSED = {"status": 200, "method": "tools/list",
                     "error": {"code": -32003, "message": "request failed after 4 attempts: upstream request failed: "
                                                          "calling \"tools/list\": connection closed"}}


@pytest.mark.parametrize("mcp", [NO_UPSTREAM, CONNECTION_CLOSED])
def test_release_whose_upstreams_cannot_answer_is_healthy_with_a_finding(mcp):
    verdict = triage(_result(mcp=mcp))
    assert (verdict["incident"], verdict["severity"], verdict["service_status"]) == (False, None, "UP")
    assert verdict["mcp_state"] == "upstream_error"
    assert verdict["symptoms"] == []
    assert len(verdict["findings"]) == 1 and "its upstream MCP servers do not" in verdict["findings"][0]
    assert str(mcp["error"]["code"]) in verdict["summary"]


@pytest.mark.parametrize("required", [True, "true"])
def test_upstreams_required_makes_the_same_answer_p1(required):
    verdict = triage(_result(mcp=NO_UPSTREAM), upstreams_required=required)
    assert (verdict["severity"], verdict["service_status"]) == ("P1", "DEGRADED")
    assert "-32000 No upstream servers configured" in verdict["symptoms"][0]
    assert verdict["findings"] == []


def test_mcp_state_from_the_module_wins_and_gateway_errors_stay_p1():
    # the health module's own classification is used when present
    assert triage(dict(_result(mcp=NO_UPSTREAM), mcp_state="failed"))["severity"] == "P1"
    # an error about the request itself (keep-alive lost body) is the gateway's failure
    lost = {"status": 200, "error": {"code": -32000, "message": "failed to read request body"}}
    verdict = triage(_result(mcp=lost))
    assert (verdict["severity"], verdict["mcp_state"]) == ("P1", "failed")
    with pytest.raises(AnsibleFilterError, match="upstreams_required"):
        triage(_result(), upstreams_required="maybe")


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
