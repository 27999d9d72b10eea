# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Conformance: the lab's release profile and the real Airlock binary give the same answers.

Each case sends the same request to both, started with the same configuration, and
requires the same status, headers that matter, body keys and the values that do not
vary (timestamps and connection ids are checked for shape), the SSE framing, the
JSON-RPC codes and messages, the keep-alive behaviour and the upstream types accepted
or rejected. The binary comes from ``AIRLOCK_REAL_BINARY`` (``.ci/run`` sets it when
``../shared/real-airlock/airlock`` exists); without it the module is skipped with one line.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from airlock_lab.client import request

REAL = os.environ.get("AIRLOCK_REAL_BINARY", "")
if not REAL or not os.path.isfile(REAL):
    pytest.skip("conformance with the real Airlock skipped: AIRLOCK_REAL_BINARY is unset or not a file "
                "(.ci/run sets it when ../shared/real-airlock/airlock exists)", allow_module_level=True)

TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
HEX32 = r"[0-9a-f]{32}"

#: A stdio MCP server of the test's own that answers the handshake and tools/list.
MCP_SERVER = textwrap.dedent('''\
    #!%s
    import json, sys
    TOOLS = [{"name": "echo", "description": "echo (lab upstream ops)",
              "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}}}]
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if "id" not in message:
            continue
        method = message.get("method")
        if method == "initialize":
            result = {"protocolVersion": message.get("params", {}).get("protocolVersion", "2024-11-05"),
                      "capabilities": {"tools": {}}, "serverInfo": {"name": "conformance", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": TOOLS}
        else:
            result = {}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\\n")
        sys.stdout.flush()
    ''') % sys.executable


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Pair:
    """The real binary and a release-profile lab, started from one configuration."""

    def __init__(self, real_url, lab_cli, real_dir):
        self.real = real_url
        self.lab_cli = lab_cli
        self.real_dir = real_dir  # the real binary's working directory (empty at start)

    @property
    def lab(self):
        return self.lab_cli.url

    def both(self, function, *args, **kwargs):
        return function(self.real, *args, **kwargs), function(self.lab, *args, **kwargs)


@pytest.fixture
def pair(tmp_path, fresh_lab):
    """A factory: pair(upstreams_yaml) starts both gateways and stops them at teardown."""
    processes = []

    def start(upstreams=""):
        port = _free_port()
        config = tmp_path / ("config-%d.yaml" % len(processes))
        config.write_text('server:\n  addr: "127.0.0.1:%d"\n%s' % (port, upstreams))
        log = open(tmp_path / ("real-%d.log" % len(processes)), "wb")
        real_dir = tmp_path / ("real-cwd-%d" % len(processes))
        real_dir.mkdir()
        process = subprocess.Popen([REAL, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                   cwd=str(real_dir))
        log.close()
        processes.append(process)
        url = "http://127.0.0.1:%d" % port
        deadline = time.time() + 60  # a condition, waited for generously: a loaded machine is slow
        while time.time() < deadline:
            try:
                if request(url, path="/live", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("the real Airlock did not answer /live within 60 s")
        lab = fresh_lab("start", "--profile", "release", "--config", str(config),
                        name="lab-%d" % len(processes))
        return Pair(url, lab, real_dir)

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _post(url, body, connection="close", timeout=120):
    """POST /mcp over a raw socket; (status line, headers, [events]) up to the reply frame.

    Waits for the reply frame, or for the end of the chunked response when there is none (a
    keep-alive answer never closes the socket); ``timeout`` only bounds a gateway that never
    answers, generously. What arrived is named when neither comes.
    """
    host, port = url[len("http://"):].split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    head = ("POST /mcp HTTP/1.1\r\nHost: airlock\r\nContent-Type: application/json\r\n"
            "Accept: text/event-stream\r\nContent-Length: %d\r\n" % len(body))
    if connection:
        head += "Connection: %s\r\n" % connection
    sock.sendall(head.encode() + b"\r\n" + body)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            if b"\r\n\r\n" in data:
                payload, ended = _chunks(data.split(b"\r\n\r\n", 1)[1])
                # the reply frame, or the end of the chunked response without one
                if payload.count(b"\n\n") >= 2 or ended:
                    break
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout as exc:
                raise AssertionError("no reply frame from %s within %d s (connection %r); received %r"
                                     % (url, timeout, connection, data[:2000])) from exc
            except ConnectionResetError:
                if b"\r\n\r\n" not in data:
                    raise
                break  # reset after the response head: what arrived is the answer, judged by the caller
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    raw_head, rest = data.split(b"\r\n\r\n", 1)
    lines = raw_head.decode().split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:])}
    events = [e for e in _dechunk(rest).decode().split("\n\n") if e][:2]
    return lines[0], headers, events


def _chunks(data):
    """The payload of the chunked body ``data`` so far, and whether its last chunk (size 0) has come."""
    out = b""
    while b"\r\n" in data:
        size_text, rest = data.split(b"\r\n", 1)
        size = int(size_text, 16)
        if size == 0:
            return out, True
        if len(rest) < size + 2:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out, False


def _dechunk(data):
    return _chunks(data)[0]


def _reply(events):
    assert events[1].startswith("data: ") and "\n" not in events[1], events
    return json.loads(events[1][len("data: "):])


def _rpc(method, msg_id=1):
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": {}}).encode()


def _same_framing(pair, body, connection="close"):
    """Both gateways answer with the same status, headers and a connected frame: (real events, lab events,
    lab headers)."""
    (real_status, real_headers, real_events), (lab_status, lab_headers, lab_events) = pair.both(
        _post, body, connection=connection)
    assert real_status == lab_status == "HTTP/1.1 200 OK"
    for name in ("content-type", "cache-control", "connection", "transfer-encoding",
                 "access-control-allow-origin", "access-control-allow-headers"):
        assert real_headers.get(name) == lab_headers.get(name), name
    for events in (real_events, lab_events):
        assert re.fullmatch(r'event: connected\ndata: \{"connection_id":"%s","timestamp":"%s"\}' % (HEX32, TS),
                            events[0]), events
    return real_events, lab_events, lab_headers


def _same_exchange(pair, body, connection="close"):
    """Both gateways frame the answer identically; returns the two replies (raw frame text equal)."""
    real_events, lab_events, _headers = _same_framing(pair, body, connection)
    assert real_events[1] == lab_events[1]  # byte for byte: key order, codes, messages, data
    return _reply(real_events), _reply(lab_events)


def test_health_endpoints_and_404s(pair):
    gateways = pair()
    for path in ("/live", "/ready", "/health", "/info"):
        real, lab = gateways.both(request, path=path)
        assert real.status == lab.status == 200, path
        assert real.headers["Content-Type"] == lab.headers["Content-Type"]
        real_body, lab_body = json.loads(real.body), json.loads(lab.body)
        assert list(real_body) == list(lab_body), path
        assert {k: v for k, v in real_body.items() if k != "timestamp"} == \
            {k: v for k, v in lab_body.items() if k != "timestamp"}
        assert re.fullmatch(TS, lab_body["timestamp"])
    for path in ("/metrics", "/admin/status", "/nope"):
        real, lab = gateways.both(request, path=path)
        assert (real.status, real.body, real.headers["Content-Type"]) == \
            (lab.status, lab.body, lab.headers["Content-Type"]), path


def test_no_upstreams_every_method_including_ping(pair):
    gateways = pair()
    for method in ("ping", "tools/list", "resources/list", "prompts/list"):
        real, _ = _same_exchange(gateways, _rpc(method, msg_id=method))
        assert real["error"]["code"] == -32000
        assert real["error"]["message"] == "No upstream servers configured"


def _database_files(directory):
    return sorted(str(path) for path in directory.rglob("*") if path.suffix in (".db", ".sqlite", ".db-wal", ".db-shm")
                  or path.name.endswith(("-wal", "-shm")))


def test_no_audit_database_is_written(pair, tmp_path):
    # The release loads no audit store: after MCP traffic neither gateway has written a
    # database (the lab's state still names where the documented profile would keep it).
    gateways = pair()
    for method in ("initialize", "tools/list", "tools/call"):
        _same_exchange(gateways, _rpc(method, msg_id=method))
    gateways.both(request, path="/health")
    assert sorted(os.listdir(gateways.real_dir)) == []
    assert _database_files(tmp_path) == []
    assert not os.path.exists(gateways.lab_cli.state()["db"])


def test_malformed_requests(pair):
    gateways = pair()
    _same_exchange(gateways, json.dumps({"jsonrpc": "2.0", "id": 4}).encode())
    (_, _, real), (_, _, lab) = gateways.both(_post, b"not json")
    real_reply, lab_reply = _reply(real), _reply(lab)
    assert real_reply["error"]["code"] == lab_reply["error"]["code"] == -32000
    for reply in (real_reply, lab_reply):
        assert reply["error"]["message"].startswith("invalid JSON-RPC message: ")
        assert "id" not in reply


LOST_BODY = 'data: {"error":{"code":-32000,"message":"failed to read request body"},"jsonrpc":"2.0"}'


def test_keep_alive_loses_the_body(pair):
    """With keep-alive (asked for, or HTTP/1.1's default) the release flushes the SSE headers before it
    reads the body, and Go has discarded the body by then. The lab always answers the error frame. The
    real binary mostly does too; sometimes it ends the response after the connected frame with no
    reply at all (about 3 % of keep-alive requests; in 2 of about 14 CI runs here), and repeated
    keep-alive requests can crash it (panic: send on closed channel, docs/lab.md). The error frame
    or no reply are accepted from it; a different reply is not. The collection's own probes send
    Connection: close."""
    gateways = pair()
    for connection in ("keep-alive", ""):
        real_events, lab_events, lab_headers = _same_framing(gateways, _rpc("tools/list"), connection)
        assert lab_headers.get("connection") == "keep-alive"
        assert lab_events[1:] == [LOST_BODY]
        assert real_events[1:] in ([LOST_BODY], []), (connection, real_events)


def test_http_upstream_is_rejected(pair):
    gateways = pair('upstreams:\n  - name: docs\n    type: http\n    url: "http://127.0.0.1:9/mcp"\n'
                    '    allow_tools: [search_docs]\n')
    real, _ = _same_exchange(gateways, _rpc("tools/list"))
    assert real["error"]["message"] == "No upstream servers configured"


def test_stdio_upstream_that_cannot_start(pair, tmp_path):
    missing = str(tmp_path / "no-such-mcp-server")
    gateways = pair('upstreams:\n  - name: ops\n    type: stdio\n    command: ["%s"]\n' % missing)
    real, _ = _same_exchange(gateways, _rpc("tools/list"))
    assert real["error"]["code"] == -32000
    assert "fork/exec %s: no such file or directory" % missing in real["error"]["message"]


def test_stdio_upstream_answers_once_then_connection_closed(pair, tmp_path):
    server = tmp_path / "mcp-server"
    server.write_text(MCP_SERVER)
    server.chmod(server.stat().st_mode | stat.S_IXUSR)
    gateways = pair('upstreams:\n  - name: ops\n    type: stdio\n    command: ["%s"]\n'
                    '    allow_tools: [echo]\n' % server)
    # The release kills its stdio child right after the handshake; the very first
    # request races that and may be answered or fail (the lab always fails it).
    (_, _, real_first), _ = gateways.both(_post, _rpc("tools/list"))
    first = _reply(real_first)
    assert "result" in first or first["error"]["code"] == -32003
    for method in ("tools/list", "ping"):
        later, _ = _same_exchange(gateways, _rpc(method))
        assert later["error"]["code"] == -32003
        assert later["error"]["message"] == ('request failed after 4 attempts: upstream request failed: '
                                             'calling "%s": connection closed' % method)
