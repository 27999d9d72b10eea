# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airlock.incident.health end to end (main()) against real loopback servers."""

from __future__ import annotations

import json
import time

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.airlock.incident.plugins.modules import health
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.test_airlock_http import (
    CONN_ID,
    FakeAirlock,
    SilentServer,
    refused_url,
)


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            health.main()
    return json.loads(capsys.readouterr().out)


def test_release_like_gateway(capsys):
    # the MCP stream never ends: a probe that did not return at the reply would wait out the 60 s timeout
    with FakeAirlock(heartbeat_interval=0.05) as fake:
        start = time.monotonic()
        result = run_module(capsys, {"url": fake.url, "timeout": 60, "token": "s3cr3t"})
        elapsed = time.monotonic() - start
        assert fake.stream_closed.wait(60), "the probe left the SSE stream open"
    assert elapsed < 30, elapsed
    assert "failed" not in result and result["changed"] is False
    assert result["is_available"] is True and result["is_live"] is True and result["is_ready"] is True
    assert result["version"] == "dev"
    assert result["endpoints"]["live"]["body"]["status"] == "alive"
    assert result["endpoints"]["ready"]["checks"] is None
    # the release has no /metrics: not exposed, not an outage, not a degraded reason
    assert result["metrics"]["exposed"] is False and result["metrics"]["status"] == 404
    assert result["metrics"]["error"] is None
    assert not [r for r in result["degraded_reasons"] if "metrics" in r]
    # -32000 "No upstream servers configured" = reachable but degraded
    assert result["mcp_ok"] is False
    assert result["mcp_state"] == "upstream_error"  # the gateway answered; its upstreams did not
    assert result["mcp"]["error"] == {"code": -32000, "message": "No upstream servers configured"}
    assert result["mcp"]["connection_id"] == CONN_ID
    assert result["mcp"]["events"] == ["connected", "message"]
    assert any("-32000" in r for r in result["degraded_reasons"])
    assert "available" in result["msg"] and "degraded" in result["msg"]
    # the token is sent, and never echoed back
    assert fake.requests[-1][2].get("Authorization") == "Bearer s3cr3t"
    # Connection: close on purpose (the release loses a keep-alive POST's body)
    assert fake.requests[-1][2].get("Connection") == "close"
    assert "s3cr3t" not in json.dumps(result)


def test_ready_503_with_checks(capsys):
    body = json.dumps({"status": "not_ready", "timestamp": "x",
                       "checks": {"jwks": "unhealthy", "policy": "ok", "audit": {"status": "healthy"}}}).encode()
    with FakeAirlock(routes={"/ready": (503, "application/json", body)}) as fake:
        result = run_module(capsys, {"url": fake.url, "timeout": 2, "mcp": False})
    assert result["is_live"] is True and result["is_ready"] is False and result["is_available"] is False
    assert result["endpoints"]["ready"]["status"] == 503
    assert result["endpoints"]["ready"]["checks"]["jwks"] == "unhealthy"
    assert any("failing checks: jwks" in r for r in result["degraded_reasons"])
    assert result["mcp"] is None and result["mcp_ok"] is None
    assert "live but not ready" in result["msg"]


def test_metrics_exposed_are_summarised(capsys):
    text = (b'airlock_requests_total{status="200"} 9\nairlock_requests_total{status="502"} 1\n'
            b"airlock_memory_usage_bytes 2.5e+08\n")
    with FakeAirlock(routes={"/metrics": (200, "text/plain; version=0.0.4", text)}) as fake:
        result = run_module(capsys, {"url": fake.url, "timeout": 2, "mcp": False})
    samples = result["metrics"]["samples"]
    assert result["metrics"]["exposed"] is True
    assert samples["error_rate"] == 0.1 and samples["memory_bytes"] == 2.5e8


def test_connection_refused_never_fails(capsys):
    url = refused_url()
    result = run_module(capsys, {"url": url, "timeout": 2})
    assert "failed" not in result
    assert result["is_available"] is False and result["is_live"] is False
    assert result["endpoints"]["live"]["error"] == "connection refused"
    assert result["endpoints"]["ready"]["error"].startswith("skipped")
    assert result["mcp_ok"] is False and result["metrics"]["exposed"] is False
    assert "unreachable" in result["msg"]


def test_silent_server_timeout_is_honoured(capsys):
    with SilentServer() as silent:
        start = time.monotonic()
        result = run_module(capsys, {"url": silent.url, "timeout": 0.6})
        elapsed = time.monotonic() - start
        connections = len(silent.conns)
    # /live times out once; the other probes are skipped instead of waiting
    # again: one connection reached the server. (No tight time bound: the
    # machine may be loaded; a timeout never fires early.)
    assert connections == 1, connections
    assert elapsed >= 0.6, elapsed
    assert "failed" not in result and result["is_available"] is False
    assert result["endpoints"]["live"]["error"] == "timed out"


def test_mcp_ping_plain_json_is_ok(capsys):
    reply = {"jsonrpc": "2.0", "id": "airlock-incident-health", "result": {}}
    with FakeAirlock(mcp="json", reply=reply) as fake:
        result = run_module(capsys, {"url": fake.url, "mcp_method": "ping", "metrics": False})
    assert result["mcp_ok"] is True and result["degraded_reasons"] == []
    assert result["mcp_state"] == "answered"
    assert json.loads(fake.requests[-1][3])["method"] == "ping"
    assert result["metrics"] is None


def test_check_mode_probes_the_same(capsys):
    with FakeAirlock() as fake:
        result = run_module(capsys, {"url": fake.url, "_ansible_check_mode": True, "mcp": False})
    assert result["is_available"] is True and result["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"url": "airlock:8080"}, "url: invalid value"),
    ({"url": "http://127.0.0.1:1", "timeout": -1}, "timeout: invalid value"),
    ({"url": "http://127.0.0.1:1", "mcp_method": "tools/call"}, "mcp_method"),
])
def test_bad_input_fails_clearly(capsys, args, message):
    result = run_module(capsys, args)
    assert result["failed"] is True and message in result["msg"]


# --------------------------------------------------------------------------- no secret in the result


def test_a_token_with_a_trailing_newline_never_appears_in_the_result(capsys):
    with FakeAirlock(heartbeat_interval=0.05) as fake:
        result = run_module(capsys, {"url": fake.url, "token": "s3cr3t-Tok3n-value\n", "timeout": 2})
    text = json.dumps(result)
    assert "s3cr3t-Tok3n-value" not in text and "s3cr3t" not in text


def test_a_url_with_userinfo_never_shows_the_password(capsys):
    result = run_module(capsys, {"url": "http://alice:hunter2-Pa55@127.0.0.1:9/", "timeout": 1})
    text = json.dumps(result)
    assert "hunter2-Pa55" not in text and "alice:***@" in text
