# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Airlock HTTP client: SSE parsing on bytes, Prometheus parsing, and real loopback servers.

``FakeAirlock`` serves the bytes the current release serves (see the module
docstring of airlock_http.py); test_health.py reuses it.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import (
    AirlockClient,
    SSEEvent,
    SSEParser,
    read_sse_reply,
    validate_base_url,
    validate_timeout,
)
from ansible_collections.airlock.incident.plugins.module_utils.airlock.metrics import (
    histogram_quantile,
    parse_prometheus_text,
    summarize_metrics,
)

try:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
except ImportError:  # pragma: no cover
    from http.server import BaseHTTPRequestHandler, HTTPServer as ThreadingHTTPServer

CONN_ID = "0f3c9a7e5b1d4c2a8e6f0b9d7c5a3e1f"
TS = "2026-11-28T16:00:00Z"
NO_UPSTREAM = {"jsonrpc": "2.0", "id": "airlock-incident-health",
               "error": {"code": -32000, "message": "No upstream servers configured"}}


def release_stream(reply=None, newline="\n"):
    """The bytes of the release's /mcp stream up to the first heartbeat."""
    reply = NO_UPSTREAM if reply is None else reply
    text = (
        "event: connected\ndata: " + json.dumps({"connection_id": CONN_ID, "timestamp": TS}) + "\n\n"
        "data: " + json.dumps(reply) + "\n\n"
        "event: heartbeat\ndata: " + json.dumps({"timestamp": TS}) + "\n\n"
    )
    return text.replace("\n", newline).encode("utf-8")


# ---------------------------------------------------------------------------
# A fake Airlock on 127.0.0.1:<ephemeral>
# ---------------------------------------------------------------------------


class FakeAirlock(object):
    """A loopback HTTP/1.1 server answering like the current Airlock release.

    ``routes`` overrides a path with ``(status, content_type, body bytes)``;
    ``mcp`` selects the /mcp behaviour: ``release`` (connected, reply, then
    heartbeats forever), ``heartbeats`` (connected, then only heartbeats),
    ``late-then-silent`` (connected after 0.5 s, then nothing), ``json`` (a
    plain application/json reply) or ``(status, body)``.
    """

    def __init__(self, routes=None, mcp="release", reply=None, heartbeat_interval=0.05, late=0.5):
        self.routes = routes or {}
        self.late = late
        self.mcp = mcp
        self.reply = reply if reply is not None else NO_UPSTREAM
        self.heartbeat_interval = heartbeat_interval
        self.requests = []
        self.stop = threading.Event()
        self.stream_closed = threading.Event()
        self.heartbeats_sent = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, content_type, body):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                fake.requests.append(("GET", self.path, dict(self.headers)))
                if self.path in fake.routes:
                    self._send(*fake.routes[self.path])
                    return
                bodies = {
                    "/live": {"status": "alive", "timestamp": TS},
                    "/ready": {"status": "ready", "timestamp": TS},
                    "/health": {"status": "healthy", "timestamp": TS},
                    "/info": {"service": "mcp-airlock", "version": "dev", "timestamp": TS},
                }
                if self.path in bodies:
                    self._send(200, "application/json", json.dumps(bodies[self.path]).encode())
                else:
                    self._send(404, "text/plain; charset=utf-8", b"404 page not found\n")

            def _chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                fake.requests.append(("POST", self.path, dict(self.headers), body))
                if self.path != "/mcp":
                    self._send(404, "text/plain", b"404 page not found\n")
                    return
                if isinstance(fake.mcp, tuple):
                    self._send(fake.mcp[0], "application/json", fake.mcp[1])
                    return
                if fake.mcp == "json":
                    self._send(200, "application/json", json.dumps(fake.reply).encode())
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "keep-alive")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    if fake.mcp == "late-then-silent":
                        time.sleep(fake.late)
                    self._chunk(("event: connected\ndata: %s\n\n"
                                 % json.dumps({"connection_id": CONN_ID, "timestamp": TS})).encode())
                    if fake.mcp == "release":
                        self._chunk(("data: %s\n\n" % json.dumps(fake.reply)).encode())
                    if fake.mcp == "late-then-silent":
                        fake.stop.wait(30)
                    while not fake.stop.is_set():
                        time.sleep(fake.heartbeat_interval)
                        self._chunk(("event: heartbeat\ndata: %s\n\n" % json.dumps({"timestamp": TS})).encode())
                        fake.heartbeats_sent += 1
                except (BrokenPipeError, ConnectionResetError, socket.error):
                    fake.stream_closed.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        return False


class SilentServer(object):
    """Accepts TCP connections and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.daemon = True

    def _run(self):
        self.sock.settimeout(0.05)
        while not self.stop.is_set():
            try:
                conn, _addr = self.sock.accept()
                self.conns.append(conn)
            except socket.timeout:
                continue
            except OSError:
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(1)
        for conn in self.conns:
            conn.close()
        self.sock.close()
        return False


def refused_url():
    """A loopback URL where nothing listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "http://127.0.0.1:%d" % port


# ---------------------------------------------------------------------------
# SSE parser
# ---------------------------------------------------------------------------


def _events(chunks):
    parser = SSEParser()
    out = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


EXPECTED = [
    SSEEvent("connected", json.dumps({"connection_id": CONN_ID, "timestamp": TS})),
    SSEEvent("message", json.dumps(NO_UPSTREAM)),
    SSEEvent("heartbeat", json.dumps({"timestamp": TS})),
]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_sse_parser_every_split_point(newline):
    data = release_stream(newline=newline)
    assert _events([data]) == EXPECTED
    for cut in range(1, len(data)):
        assert _events([data[:cut], data[cut:]]) == EXPECTED, "split at byte %d" % cut


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_sse_parser_one_byte_at_a_time(newline):
    data = release_stream(newline=newline)
    assert _events([data[i:i + 1] for i in range(len(data))]) == EXPECTED


def test_sse_parser_multibyte_utf8_split():
    data = "data: {\"m\": \"caf\u00e9 \u2603\"}\n\n".encode("utf-8")
    for cut in range(1, len(data)):
        events = _events([data[:cut], data[cut:]])
        assert [e.data for e in events] == ['{"m": "caf\u00e9 \u2603"}']


def test_sse_parser_fields_comments_multiline_and_bom():
    data = b"\xef\xbb\xbf: comment\nid: 7\nevent: update\ndata: a\ndata:b\nretry: 10\nunknown: x\n\ndata\n\n"
    events = _events([data])
    assert events == [SSEEvent("update", "a\nb", "7"), SSEEvent("message", "", "7")]


def test_sse_event_without_data_is_not_dispatched():
    assert _events([b"event: heartbeat\n\n: ping\n\n"]) == []


def test_reply_skips_connected_and_reads_nothing_after_the_reply():
    data = release_stream()
    reply_end = data.index(b"event: heartbeat")
    reply, reader = read_sse_reply([data[:reply_end], b"THIS MUST NOT BE NEEDED"])
    assert reply == NO_UPSTREAM
    assert reader.connection_id == CONN_ID
    assert reader.events_seen == ["connected", "message"]


def test_reply_found_at_its_data_line_before_the_blank_line():
    data = release_stream()
    line_end = data.index(b"\n", data.index(b"data: {\"jsonrpc")) + 1
    reply, _reader = read_sse_reply([data[:line_end]])
    assert reply == NO_UPSTREAM


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_reply_every_split_point(newline):
    data = release_stream(newline=newline)
    for cut in range(1, len(data)):
        reply, reader = read_sse_reply([data[:cut], data[cut:]])
        assert reply == NO_UPSTREAM, cut
        assert reader.connection_id == CONN_ID


def test_connected_only_and_heartbeat_only_streams_have_no_reply():
    connected = release_stream()[:release_stream().index(b"data: {\"jsonrpc")]
    assert read_sse_reply([connected])[0] is None
    heartbeats = b"event: heartbeat\ndata: {\"timestamp\": \"x\"}\n\n" * 5
    reply, reader = read_sse_reply([heartbeats])
    assert reply is None
    assert reader.events_seen == ["heartbeat"] * 5


def test_explicit_message_event_is_the_reply():
    data = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}\n\n"
    assert read_sse_reply([data])[0] == {"jsonrpc": "2.0", "id": 1, "result": {"tools": []}}


def test_non_json_reply_is_an_error():
    with pytest.raises(ValueError):
        read_sse_reply([b"data: not json\n\n"])


# ---------------------------------------------------------------------------
# Prometheus
# ---------------------------------------------------------------------------

METRICS = """# HELP airlock_requests_total Total requests
# TYPE airlock_requests_total counter
airlock_requests_total{tenant="a",tool="x",method="tools/call",status="200"} 90
airlock_requests_total{tenant="b",tool="x",method="tools/call",status="503"} 8
airlock_requests_total{tenant="b",tool="y",method="tools/list",status="500"} 2
airlock_auth_events_total{tenant="a",result="success"} 50
airlock_auth_events_total{tenant="a",result="failure"} 5
airlock_policy_decisions_total{tenant="a",tool="x",resource="r",decision="deny",rule_id="r1"} 3
airlock_memory_usage_bytes 1.2e+08
airlock_active_connections 4
airlock_goroutines_total 42
weird_label{path="a\\"b\\\\c\\nd"} 1 1700000000000
airlock_request_duration_seconds_bucket{le="0.01"} 50
airlock_request_duration_seconds_bucket{le="0.05"} 90
airlock_request_duration_seconds_bucket{le="0.1"} 100
airlock_request_duration_seconds_bucket{le="+Inf"} 100
airlock_request_duration_seconds_sum 3.2
airlock_request_duration_seconds_count 100
garbage line here
"""


def test_prometheus_parse_labels_and_values():
    samples = parse_prometheus_text(METRICS)
    names = [s[0] for s in samples]
    assert "garbage" not in names
    weird = [s for s in samples if s[0] == "weird_label"][0]
    assert weird[1] == {"path": 'a"b\\c\nd'} and weird[2] == 1.0


def test_prometheus_summary():
    summary = summarize_metrics(parse_prometheus_text(METRICS))
    assert summary["requests_total"] == 100
    assert summary["requests_by_status_class"] == {"2xx": 90, "5xx": 10}
    assert summary["error_rate"] == 0.1
    assert summary["memory_bytes"] == 1.2e8
    assert summary["active_connections"] == 4
    assert summary["auth_failures_total"] == 5
    assert summary["policy_denies_total"] == 3
    # rank 95 falls in (0.05, 0.1] holding 90..100: 0.05 + 0.05 * 5/10
    assert math.isclose(summary["request_duration_p95_seconds"], 0.075)
    assert math.isclose(summary["request_duration_p99_seconds"], 0.095)


def test_histogram_quantile_edges():
    assert histogram_quantile(0.5, {}) is None
    assert histogram_quantile(0.5, {1.0: 0, float("inf"): 0}) is None
    # everything above the last finite bucket: PromQL answers its upper bound
    assert histogram_quantile(0.99, {0.1: 1, float("inf"): 100}) == 0.1


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://x", "http://", "", "http://host/?q=1"])
def test_bad_urls_are_refused_with_the_field_named(url):
    with pytest.raises(ValueError, match="^url: "):
        validate_base_url(url)


def test_good_url_trailing_slash_removed():
    assert validate_base_url("HTTPS://airlock.example.com/prefix/") == "HTTPS://airlock.example.com/prefix"


@pytest.mark.parametrize("value", [0, -1, "x", None, float("nan"), True])
def test_bad_timeouts(value):
    with pytest.raises(ValueError, match="^timeout: "):
        validate_timeout(value)


# ---------------------------------------------------------------------------
# the client against real loopback servers
# ---------------------------------------------------------------------------


def test_get_json_and_404_text():
    with FakeAirlock() as fake:
        client = AirlockClient(fake.url, timeout=2)
        live = client.get("/live")
        assert live["status"] == 200 and live["body"]["status"] == "alive" and live["error"] is None
        assert live["latency_ms"] >= 0
        missing = client.get("/metrics", parse_json=False)
        assert missing["status"] == 404 and missing["body"].startswith("404 page not found")


def test_get_503_keeps_the_body():
    body = json.dumps({"status": "not_ready", "checks": {"jwks": "unhealthy"}}).encode()
    with FakeAirlock(routes={"/ready": (503, "application/json", body)}) as fake:
        ready = AirlockClient(fake.url, timeout=2).get("/ready")
    assert ready["status"] == 503 and ready["body"]["checks"] == {"jwks": "unhealthy"}
    assert ready["error"] == "HTTP 503"


def test_mcp_release_stream_returns_at_the_reply_and_closes():
    # The stream never ends: a client that did not return at the reply would wait out the 60 s timeout.
    with FakeAirlock(heartbeat_interval=0.02) as fake:
        client = AirlockClient(fake.url, token="secret-token", timeout=60)
        start = time.monotonic()
        result = client.mcp_call("tools/list")
        elapsed = time.monotonic() - start
        assert fake.stream_closed.wait(60), "the client did not close the never-ending stream"
    assert elapsed < 30, elapsed
    assert result["transport"] == "sse"
    assert result["error"] == {"code": -32000, "message": "No upstream servers configured"}
    assert result["connection_id"] == CONN_ID
    assert result["events"] == ["connected", "message"]
    method, path, headers, body = fake.requests[-1]
    assert headers.get("Authorization") == "Bearer secret-token"
    assert json.loads(body)["method"] == "tools/list"


def test_mcp_heartbeats_only_is_bounded_by_the_timeout():
    with FakeAirlock(mcp="heartbeats", heartbeat_interval=0.05) as fake:
        start = time.monotonic()
        result = AirlockClient(fake.url, timeout=0.8).mcp_call("ping")
        elapsed = time.monotonic() - start
    # never before the timeout; heartbeats never end, so returning at all shows they do not extend it
    assert elapsed >= 0.7, elapsed
    assert result["error"]["code"] is None and "no reply within" in result["error"]["message"]
    assert "heartbeat" in result["error"]["message"]


def test_mcp_deadline_covers_the_whole_exchange():
    # connected arrives after 2 s, then silence: the whole exchange ends at 2.5 s, a per-read timeout alone
    # would wait 2 + 2.5 s (the bound sits 1.5 s from both, so a loaded machine does not decide it)
    with FakeAirlock(mcp="late-then-silent", late=2.0) as fake:
        start = time.monotonic()
        result = AirlockClient(fake.url, timeout=2.5).mcp_call("tools/list")
        elapsed = time.monotonic() - start
    assert elapsed < 4.0, elapsed
    assert result["connection_id"] == CONN_ID and "no reply within 2.5s" in result["error"]["message"]


def test_mcp_plain_json_reply():
    reply = {"jsonrpc": "2.0", "id": "airlock-incident-health", "result": {"tools": [{"name": "read_file"}]}}
    with FakeAirlock(mcp="json", reply=reply) as fake:
        result = AirlockClient(fake.url, timeout=2).mcp_call("tools/list")
    assert result["transport"] == "json" and result["error"] is None
    assert result["result"] == {"tools": [{"name": "read_file"}]}


def test_mcp_401_reports_http_status():
    with FakeAirlock(mcp=(401, b'{"error":"missing token"}')) as fake:
        result = AirlockClient(fake.url, timeout=2).mcp_call("tools/list")
    assert result["status"] == 401 and result["error"]["code"] is None
    assert "401" in result["error"]["message"]


def test_connection_refused_and_silent_server():
    result = AirlockClient(refused_url(), timeout=2).get("/live")
    assert result["status"] is None and result["error"] == "connection refused"
    with SilentServer() as silent:
        start = time.monotonic()
        result = AirlockClient(silent.url, timeout=0.5).get("/live")
        elapsed = time.monotonic() - start
    assert result["status"] is None and result["error"] == "timed out"
    assert elapsed >= 0.4, elapsed  # a timeout, not a refusal (no upper bound: the machine may be loaded)
    assert len(silent.conns) == 1, "the client retried"
