# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The documented profile: auth, readiness checks, metrics, admin endpoints, reload, drills."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time

import pytest

from airlock_lab.client import mcp, request

TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"


def _metric(url, name, **labels):
    text = request(url, path="/metrics").body.decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all('%s="%s"' % (k, v) in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _rows(lab, sql):
    conn = sqlite3.connect("file:%s?mode=ro" % lab.state()["db"], uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_mcp_without_token_is_401_and_audited(documented_lab):
    before = _rows(documented_lab, "SELECT COUNT(*) FROM audit_events WHERE action='token_validate' "
                                   "AND decision='deny'")[0][0]
    response = mcp(documented_lab.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    rows = _rows(documented_lab, "SELECT json_extract(metadata,'$.error'), json_extract(metadata,'$.path'), "
                                 "json_extract(metadata,'$.method') FROM audit_events WHERE "
                                 "action='token_validate' AND decision='deny' ORDER BY rowid")
    assert len(rows) == before + 1
    assert rows[-1] == ("missing bearer token", "/mcp", "POST")
    assert documented_lab.wait_log(lambda r: r.get("status") == 401 and r["msg"] == "HTTP request")


def test_valid_token_is_served_and_expired_token_refused(documented_lab):
    token = documented_lab.token()
    ok = mcp(documented_lab.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token=token)
    assert ok.status == 200 and ok.events[0][0] == "connected"
    assert len(ok.reply["result"]["tools"]) == 4
    expired = documented_lab.token("--expired")
    refused = mcp(documented_lab.url, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, token=expired)
    assert refused.status == 401 and refused.reply["message"] == "token expired"
    outsider = documented_lab.token("--groups", "contractors")
    refused = mcp(documented_lab.url, {"jsonrpc": "2.0", "id": 3, "method": "ping"}, token=outsider)
    assert refused.status == 401 and "required group" in refused.reply["message"]


def test_metrics_move_with_traffic(documented_lab):
    url = documented_lab.url
    text = request(url, path="/metrics").body.decode()
    for name in ("airlock_requests_total", "airlock_auth_events_total", "airlock_policy_decisions_total",
                 "airlock_redactions_total", "airlock_errors_total", "airlock_request_duration_seconds",
                 "airlock_upstream_duration_seconds", "airlock_active_connections", "airlock_memory_usage_bytes",
                 "airlock_goroutines_total", "airlock_heap_objects_total", "airlock_cpu_usage_percent"):
        assert "# TYPE %s " % name in text
    calls = _metric(url, "airlock_requests_total", method="tools/call", status="200")
    success = _metric(url, "airlock_auth_events_total", result="success")
    histogram = _metric(url, "airlock_request_duration_seconds_count", method="tools/call")
    result = documented_lab.json("traffic", "--count", "8")
    assert result["statuses"] == {"200": 8}
    assert _metric(url, "airlock_requests_total", method="tools/call", status="200") == calls + 2
    assert _metric(url, "airlock_auth_events_total", result="success") == success + 8
    assert _metric(url, "airlock_request_duration_seconds_count", method="tools/call") == histogram + 2
    assert _metric(url, "airlock_policy_decisions_total", decision="allow", rule_id="user_tool") >= 2


def test_ready_checks_and_not_ready_drill(documented_lab):
    response = request(documented_lab.url, path="/ready")
    assert response.status == 200
    assert response.json()["checks"] == {"jwks": "ok", "policy": "ok", "audit": "ok", "upstream": "ok"}
    for check in ("jwks", "policy", "audit", "upstream"):
        documented_lab.json("drill", "not-ready", "--check", check)
        response = request(documented_lab.url, path="/ready")
        assert response.status == 503
        body = response.body.decode()
        assert re.match(r'\{"status":"not_ready","timestamp":"%s","checks":\{' % TS, body)
        checks = response.json()["checks"]
        assert sorted(checks) == ["audit", "jwks", "policy", "upstream"]
        assert checks[check].startswith("unhealthy")
        assert [k for k, v in checks.items() if v != "ok"] == [check]
    documented_lab.json("drill", "clear", "not-ready")
    assert request(documented_lab.url, path="/ready").status == 200


def test_idp_down_makes_jwks_unhealthy(documented_lab):
    result = documented_lab.json("drill", "idp-down")
    assert result["stopped"] is True
    response = request(documented_lab.url, path="/ready")
    assert response.status == 503
    assert response.json()["checks"]["jwks"].startswith("unhealthy: jwks unreachable")
    assert documented_lab.json("status", check=False)["idp_running"] is False
    documented_lab.json("drill", "clear", "idp-down")
    deadline = time.monotonic() + 60  # a condition, waited for generously (a loaded machine is slow)
    while time.monotonic() < deadline and request(documented_lab.url, path="/ready").status != 200:
        time.sleep(0.1)
    assert request(documented_lab.url, path="/ready").status == 200


def test_admin_endpoints_need_an_admin_token(documented_lab):
    url = documented_lab.url
    assert request(url, path="/admin/status").status == 401
    user = documented_lab.token()
    assert request(url, path="/admin/status", headers={"Authorization": "Bearer " + user}).status == 403
    admin = documented_lab.token("--sub", "root", "--groups", "airlock-admins")
    status = request(url, path="/admin/status", headers={"Authorization": "Bearer " + admin})
    assert status.status == 200
    assert status.json()["profile"] == "documented" and status.json()["checks"]["policy"] == "ok"
    reload = request(url, method="POST", path="/admin/policy/reload", headers={"Authorization": "Bearer " + admin})
    assert reload.status == 200 and reload.json()["status"] == "reloaded"
    assert request(url, method="POST", path="/admin/security/block",
                   headers={"Authorization": "Bearer " + admin}).status == 404


def test_latency_drill_slows_mcp(documented_lab):
    token = documented_lab.token()
    # the drill is in the faults file when the CLI returns, and every /mcp request reads it: no wait needed
    documented_lab.json("drill", "latency", "--ms", "400")
    try:
        response = mcp(documented_lab.url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, token=token)
        assert response.elapsed >= 0.4
        assert _metric(documented_lab.url, "airlock_request_duration_seconds_bucket", method="ping", le="0.25") < \
            _metric(documented_lab.url, "airlock_request_duration_seconds_count", method="ping")
    finally:
        documented_lab.json("drill", "clear", "latency")
    # cleared: the gateway reads no latency fault any more (no time bound on the next ping: the machine may
    # be loaded), and pings still answer
    assert "latency" not in documented_lab.json("status", check=False)["faults"]
    response = mcp(documented_lab.url, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, token=token)
    assert response.status == 200


def test_memory_drill_grows_rss_and_metric(documented_lab):
    before = _metric(documented_lab.url, "airlock_memory_usage_bytes")
    result = documented_lab.json("drill", "memory", "--mb", "64")
    assert result["rss_after"] - result["rss_before"] >= 60 * 1024 * 1024
    assert _metric(documented_lab.url, "airlock_memory_usage_bytes") >= before + 60 * 1024 * 1024
    documented_lab.json("drill", "memory", "--mb", "0")
    assert _metric(documented_lab.url, "airlock_memory_usage_bytes") < before + 32 * 1024 * 1024


def test_pii_drill_redacts_and_audits(documented_lab):
    before = _rows(documented_lab, "SELECT COUNT(*) FROM audit_events WHERE action='redact_data'")[0][0]
    result = documented_lab.json("drill", "pii", "--count", "3")
    assert result["responses_redacted"] == 3
    rows = _rows(documented_lab, "SELECT redaction_count, metadata FROM audit_events WHERE action='redact_data' "
                                 "ORDER BY rowid")
    assert len(rows) == before + 3
    count, metadata = rows[-1]
    assert count == 4
    assert '"patterns_hit":{"bearer_token":1,"credit_card":1,"email":1,"ssn":1}' in metadata
    assert '"direction":"response"' in metadata and '"tool":"search_docs"' in metadata
    assert re.search(r'"processing_time":\d+', metadata) and re.search(r'"data_size":\d+', metadata)
    assert _metric(documented_lab.url, "airlock_redactions_total", pattern="ssn") >= 3
    # the fault is cleared afterwards: ordinary calls carry no PII
    token = documented_lab.token()
    clean = mcp(documented_lab.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                     "params": {"name": "search_docs", "arguments": {}}}, token=token)
    assert "redacted" not in clean.reply["result"]["content"][0]["text"]


def test_auth_storm_is_401_with_deny_events(documented_lab):
    before = _rows(documented_lab, "SELECT COUNT(*) FROM audit_events WHERE action='token_validate' "
                                   "AND decision='deny'")[0][0]
    result = documented_lab.json("drill", "auth-storm", "--count", "12")
    assert result["statuses"] == {"401": 12}
    rows = _rows(documented_lab, "SELECT json_extract(metadata,'$.error') FROM audit_events WHERE "
                                 "action='token_validate' AND decision='deny' ORDER BY rowid")
    assert len(rows) == before + 12
    errors = {row[0] for row in rows[-12:]}
    assert "token expired" in errors and "missing bearer token" in errors
    assert any(e.startswith("invalid audience") for e in errors)
    assert any("no key with kid" in e for e in errors)


def test_sighup_reloads_and_failed_compile_keeps_previous_policy(documented_lab):
    token = documented_lab.token()
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search_docs", "arguments": {}}}
    pid = documented_lab.state()["pid"]
    result = documented_lab.json("drill", "broken-policy", "--mode", "syntax")
    assert result["applied"] == "reload" and result["reload_logged"] is True
    assert documented_lab.wait_log(lambda r: r["msg"] == "Failed to reload policy, keeping the previous policy"
                                   and "airlock.rego:" in r["error"])
    assert mcp(documented_lab.url, call, token=token).status == 200  # previous policy still serves
    assert request(documented_lab.url, path="/ready").status == 200
    result = documented_lab.json("drill", "broken-policy", "--mode", "deny-all")
    assert mcp(documented_lab.url, call, token=token).status == 403
    documented_lab.json("drill", "clear", "broken-policy")
    assert mcp(documented_lab.url, call, token=token).status == 200
    assert documented_lab.state()["pid"] == pid  # reloads, never restarts
    os.kill(pid, signal.SIGHUP)
    assert documented_lab.wait_log(lambda r: r["msg"] == "Reload finished" and r["policy_reloaded"] is True)
    assert documented_lab.run("status").returncode == 0


@pytest.mark.parametrize("mode", ["syntax"])
def test_broken_policy_restart_fails_closed_and_not_ready(fresh_lab, mode):
    lab = fresh_lab("start", "--profile", "documented")
    token = lab.token()
    result = lab.json("drill", "broken-policy", "--mode", mode, "--apply", "restart")
    assert result["applied"] == "restart"
    ready = request(lab.url, path="/ready")
    assert ready.status == 503
    assert ready.json()["checks"]["policy"].startswith("unhealthy: policy compilation failed")
    denied = mcp(lab.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token=token)
    assert denied.status == 403 and denied.reply["error"]["data"]["rule_id"] == "policy_unavailable"
    lab.json("drill", "clear", "broken-policy")
    assert request(lab.url, path="/ready").status == 200


def test_jwks_rotated_drops_the_tokens_kid(documented_lab):
    import base64
    import json
    import urllib.request

    state = documented_lab.state()
    token = documented_lab.run("token").stdout.strip()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))

    def kids():
        with urllib.request.urlopen(state["idp_url"] + "/.well-known/jwks.json", timeout=3) as response:
            return [key["kid"] for key in json.load(response)["keys"]]

    assert kids() == [header["kid"]]
    result = documented_lab.json("drill", "jwks-rotated")
    assert result["old_kid"] == header["kid"] and kids() == [result["new_kid"]] != [header["kid"]]
    # the gateway refuses the old kid at once (the drill stands for a rotation older than the JWKS cache)
    response = mcp(documented_lab.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token=token)
    assert response.status == 401
    documented_lab.json("drill", "clear", "jwks-rotated")
    assert kids() == [header["kid"]]


def test_idp_cert_expired_serves_tls_with_an_expired_certificate(fresh_lab):
    import ssl

    lab = fresh_lab("start", "--profile", "documented")
    http_url = lab.state()["idp_url"]
    token_before = lab.token()
    result = lab.json("drill", "idp-cert-expired")
    state = lab.state()
    assert result["idp_url"] == state["idp_url"] == http_url.replace("http://", "https://")
    # The configured issuer follows; the gateway (which trusts the lab CA) fails on the expiry.
    with open(state["config"]) as handle:
        assert "oidc_issuer: %s\n" % result["idp_url"] in handle.read()
    ready = request(lab.url, path="/ready")
    assert ready.status == 503 and "certificate has expired" in ready.json()["checks"]["jwks"]
    assert mcp(lab.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token=token_before).status == 401
    context = ssl.create_default_context(cafile=result["ca"])
    host, port = "127.0.0.1", int(result["idp_url"].rsplit(":", 1)[1])
    import socket

    with pytest.raises(ssl.SSLCertVerificationError, match="certificate has expired"):
        with socket.create_connection((host, port), timeout=3) as raw:
            context.wrap_socket(raw, server_hostname=host)
    lab.json("drill", "clear", "idp-cert-expired")
    assert lab.state()["idp_url"] == http_url and request(lab.url, path="/ready").status == 200
    assert mcp(lab.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token=lab.token()).status == 200
    assert not os.path.exists(os.path.join(os.path.dirname(state["config"]), "idp", "tls"))
