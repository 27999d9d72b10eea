# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release profile is byte-faithful to the current Airlock binary."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import time
from urllib.parse import urlparse

import pytest

from airlock_lab.client import mcp, request

TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
FORK_ERROR = ("request failed after 4 attempts: failed to get client for ops: failed to connect to upstream ops "
              "within 2s: failed to connect client: fork/exec /usr/local/bin/ops-mcp: no such file or directory")
BODIES = {
    "/live": r'\{"status":"alive","timestamp":"%s"\}' % TS,
    "/ready": r'\{"status":"ready","timestamp":"%s"\}' % TS,
    "/health": r'\{"status":"healthy","timestamp":"%s"\}' % TS,
    "/info": r'\{"service":"mcp-airlock","version":"dev","timestamp":"%s"\}' % TS,
}


@pytest.mark.parametrize("path", sorted(BODIES))
def test_health_bodies_are_exact(release_lab, path):
    response = request(release_lab.url, path=path)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert re.fullmatch(BODIES[path], response.body.decode()), response.body
    assert "Server" not in response.headers  # Go's net/http sends none


@pytest.mark.parametrize("path", ["/metrics", "/admin/status", "/admin/policy/reload", "/admin/security/block"])
def test_release_has_no_metrics_or_admin(release_lab, path):
    for method in ("GET", "POST"):
        response = request(release_lab.url, method=method, path=path)
        assert response.status == 404
        assert response.body == b"404 page not found\n"
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def _raw_sse(url, message, read_seconds=0.0, want_events=2, close=True):
    """POST over a raw socket and return (head, events) without any HTTP library help.

    Returns as soon as ``want_events`` frames have arrived; the timeouts only bound a lab that
    never answers, generously (a loaded machine with a busy disk stalls the lab for seconds).
    """
    parsed = urlparse(url)
    body = json.dumps(message).encode()
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=60)
    sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n%s"
                 b"Content-Length: %d\r\n\r\n%s" % (b"Connection: close\r\n" if close else b"", len(body), body))
    data = b""
    deadline = time.time() + 60 + read_seconds
    while time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            payload = _dechunk(rest)
            if payload.count(b"\n\n") >= want_events:
                break
    sock.close()
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode(), _dechunk(rest).decode()


def _dechunk(data):
    out = b""
    while data:
        if b"\r\n" not in data:
            break
        size_text, rest = data.split(b"\r\n", 1)
        size = int(size_text, 16)
        if size == 0 or len(rest) < size + 2:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


def test_sse_framing_connected_then_reply(release_lab):
    head, stream = _raw_sse(release_lab.url, {"jsonrpc": "2.0", "id": 7, "method": "ping"})
    lines = head.split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["Transfer-Encoding"] == "chunked"
    events = stream.split("\n\n")
    assert re.fullmatch(r'event: connected\ndata: \{"connection_id":"[0-9a-f]{32}","timestamp":"%s"\}' % TS,
                        events[0]), events[0]
    # ping is forwarded upstream; the lab config's stdio upstream command does not exist
    assert events[1] == ('data: {"error":{"code":-32000,"data":{"correlation_id":"unknown","original_error":"%s"},'
                         '"message":"%s"},"id":7,"jsonrpc":"2.0"}' % ((FORK_ERROR,) * 2))


def test_keep_alive_post_loses_its_body(release_lab):
    head, stream = _raw_sse(release_lab.url, {"jsonrpc": "2.0", "id": 7, "method": "ping"}, close=False)
    assert "Connection: keep-alive" in head.split("\r\n")
    assert stream.split("\n\n")[1] == 'data: {"error":{"code":-32000,"message":"failed to read request body"},"jsonrpc":"2.0"}'


def test_http_upstream_rejected_at_start(release_lab):
    record = release_lab.wait_log(lambda r: r.get("msg") == "Failed to add upstream")
    assert record["name"] == "docs"
    assert record["error"] == "invalid upstream config for docs: unsupported transport type: http"


def test_sse_heartbeat_follows_and_stream_stays_open(release_lab):
    # the release lab runs with LAB_HEARTBEAT_SECONDS=1 (Airlock: 20 s)
    head, stream = _raw_sse(release_lab.url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, read_seconds=3,
                            want_events=3)
    events = [e for e in stream.split("\n\n") if e]
    assert len(events) >= 3
    assert re.fullmatch(r'event: heartbeat\ndata: \{"timestamp":"%s"\}' % TS, events[2])


def test_abandoned_streams_free_their_threads(release_lab):
    pid = release_lab.state()["pid"]

    def threads():
        with open("/proc/%d/status" % pid) as handle:
            return int(re.search(r"Threads:\s+(\d+)", handle.read()).group(1))

    def settle():
        last, stable_since = threads(), time.time()
        deadline = time.time() + 5
        while time.time() < deadline and time.time() - stable_since < 0.6:
            time.sleep(0.1)
            now = threads()
            if now != last:
                last, stable_since = now, time.time()
        return last

    baseline = settle()
    socks = []
    for index in range(15):
        sock = socket.create_connection((urlparse(release_lab.url).hostname, urlparse(release_lab.url).port))
        body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        sock.recv(4096)
        socks.append(sock)
    deadline = time.time() + 60  # conditions, waited for generously: a loaded machine is slow
    while time.time() < deadline and threads() < baseline + 15:
        time.sleep(0.05)
    assert threads() >= baseline + 15
    for sock in socks:
        sock.close()
    deadline = time.time() + 60
    while time.time() < deadline and threads() > baseline + 1:
        time.sleep(0.1)
    assert threads() <= baseline + 1


def test_upstream_tools_and_policy_decisions(documented_lab):
    # The release answers no MCP method with a result (tests above); the policy
    # decisions and their audit rows are the documented build's.
    release_lab = documented_lab
    url = release_lab.url
    token = release_lab.token("--sub", "policy-test", "--groups", "mcp-users")
    listed = mcp(url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token=token)
    names = [tool["name"] for tool in listed.reply["result"]["tools"]]
    assert names == ["search_docs", "read_file", "admin_exec", "rotate_keys"]
    allowed = mcp(url, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                        "params": {"name": "search_docs", "arguments": {"query": "x"}}}, token=token)
    assert allowed.status == 200 and allowed.reply["result"]["isError"] is False
    denied = mcp(url, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "admin_exec"}},
                 token=token)
    assert denied.status == 403
    assert denied.reply["error"]["data"]["rule_id"] == "default_deny"
    conn = sqlite3.connect("file:%s?mode=ro" % release_lab.state()["db"], uri=True)
    rows = conn.execute("SELECT decision, json_extract(metadata,'$.tool'), json_extract(metadata,'$.rule_id') "
                        "FROM audit_events WHERE action='policy_evaluate' AND json_extract(metadata,'$.tool') "
                        "IN ('search_docs','admin_exec') ORDER BY rowid").fetchall()
    conn.close()
    assert ("allow", "search_docs", "user_tool") in rows
    assert ("deny", "admin_exec", "default_deny") in rows


def test_attack_drill_comes_from_several_addresses(documented_lab):
    release_lab = documented_lab  # the release blocks nothing and audits nothing
    result = release_lab.json("drill", "attack", "--count", "15")
    assert result["statuses"] == {"403": 15}
    conn = sqlite3.connect("file:%s?mode=ro" % release_lab.state()["db"], uri=True)
    rows = conn.execute("SELECT json_extract(metadata,'$.remote_addr'), json_extract(metadata,'$.violation_type'), "
                        "json_extract(metadata,'$.attempted_path'), json_extract(metadata,'$.user_agent') "
                        "FROM audit_events WHERE action='security_violation'").fetchall()
    conn.close()
    hosts = {row[0].rsplit(":", 1)[0] for row in rows}
    assert hosts == {"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15"}
    assert all(re.fullmatch(r"127\.0\.0\.1[1-5]:\d+", row[0]) for row in rows)
    assert {row[1] for row in rows} == {"path_traversal"}
    assert all(".." in row[2] for row in rows)
    log = release_lab.log_records()
    assert any(r["msg"] == "security_violation" for r in log)
    assert any(r["msg"] == "HTTP request" and r["status"] == 403 for r in log)


def test_release_refuses_auth_storm_and_keeps_ready(release_lab):
    storm = release_lab.run("drill", "auth-storm", check=False)
    assert storm.returncode == 2
    assert "no authentication" in storm.stderr and len(storm.stderr.strip().splitlines()) == 1
    result = release_lab.json("drill", "not-ready", "--check", "jwks")
    assert "keeps answering 200" in result["note"]
    response = request(release_lab.url, path="/ready")
    assert response.status == 200 and b'"ready"' in response.body
    release_lab.json("drill", "clear", "not-ready")


def test_no_upstreams_every_method_answers_32000(fresh_lab):
    lab = fresh_lab("start", "--profile", "release", "--no-upstreams")
    methods = ["tools/list", "tools/call", "resources/list", "resources/read", "prompts/list", "prompts/get",
               "completion/complete", "ping"]
    for index, method in enumerate(methods):
        response = mcp(lab.url, {"jsonrpc": "2.0", "id": index, "method": method, "params": {}})
        assert response.status == 200
        error = response.reply["error"]
        assert error["code"] == -32000
        assert error["message"] == "No upstream servers configured"
        assert response.reply["id"] == index


def test_sighup_kills_the_release(fresh_lab):
    lab = fresh_lab("start", "--profile", "release")
    pid = lab.state()["pid"]
    os.kill(pid, signal.SIGHUP)
    deadline = time.time() + 60
    while time.time() < deadline and lab.run("status", check=False).returncode == 0:
        time.sleep(0.05)
    status = lab.run("status", check=False)
    assert status.returncode == 3
    assert json.loads(status.stdout)["running"] is False
