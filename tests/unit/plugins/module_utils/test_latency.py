# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Latency now (``/metrics`` histograms or a burst of probes) and over a window (``audit_query`` ``latency``).

The probes talk to a real HTTP server on loopback that answers like Airlock
(an SSE stream: ``connected``, then the JSON-RPC reply), the queries run on a
real SQLite database with Airlock's schema.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.airlock import latency
from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import AirlockClient
from ansible_collections.airlock.incident.plugins.module_utils.audit import query as audit_query
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError
from ansible_collections.airlock.incident.plugins.modules import audit_query as audit_query_module
from ansible_collections.airlock.incident.plugins.modules import latency as latency_module
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

HISTOGRAM = """# TYPE airlock_request_duration_seconds histogram
airlock_request_duration_seconds_bucket{tenant="acme",method="tools/call",le="0.05"} 50
airlock_request_duration_seconds_bucket{tenant="acme",method="tools/call",le="0.1"} 80
airlock_request_duration_seconds_bucket{tenant="acme",method="tools/call",le="0.5"} 100
airlock_request_duration_seconds_bucket{tenant="acme",method="tools/call",le="+Inf"} 100
airlock_request_duration_seconds_sum{tenant="acme",method="tools/call"} 6.5
airlock_request_duration_seconds_count{tenant="acme",method="tools/call"} 100
airlock_upstream_duration_seconds_bucket{upstream="docs",method="tools/call",le="0.05"} 95
airlock_upstream_duration_seconds_bucket{upstream="docs",method="tools/call",le="0.1"} 100
airlock_upstream_duration_seconds_bucket{upstream="docs",method="tools/call",le="+Inf"} 100
airlock_upstream_duration_seconds_count{upstream="docs",method="tools/call"} 100
airlock_upstream_duration_seconds_sum{upstream="docs",method="tools/call"} 2.0
"""


class _Handler(BaseHTTPRequestHandler):
    server_version = "lab"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        metrics = self.server.metrics_text
        if self.path != "/metrics" or metrics is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = metrics.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        time.sleep(self.server.delay)
        reply = {"jsonrpc": "2.0", "id": request.get("id"), "result": {}}
        body = ('event: connected\ndata: {"connection_id":"abc"}\n\ndata: %s\n\n' % json.dumps(reply)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.metrics_text = None
    server.delay = 0.0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server):
    return "http://127.0.0.1:%d" % server.server_address[1]


@pytest.mark.parametrize("values,quantile,expected", [
    ([5.0], 0.99, 5.0),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5, 5),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95, 10),
    (list(range(1, 101)), 0.95, 95),
    (list(range(1, 101)), 0.99, 99),
    (list(range(100, 0, -1)), 0.5, 50),
    ([], 0.5, None),
])
def test_nearest_rank(values, quantile, expected):
    assert latency.nearest_rank(values, quantile) == expected


def test_histogram_summary_interpolates_like_promql():
    samples = latency.parse_prometheus_text(HISTOGRAM)
    request = latency.histogram_summary(samples, latency.REQUEST_HISTOGRAM)
    assert request["sample_size"] == 100
    assert request["p50_ms"] == 50.0            # rank 50 is the top of the first bucket
    assert request["p95_ms"] == pytest.approx(400.0)  # 0.1 + (0.5 - 0.1) * 15/20
    assert request["mean_ms"] == 65.0
    upstream = latency.histogram_summary(samples, latency.UPSTREAM_HISTOGRAM)
    assert upstream["p95_ms"] == 50.0
    assert latency.histogram_summary(samples, "airlock_missing_seconds") is None
    # A histogram without its +Inf bucket cannot be read.
    truncated = [s for s in samples if s[1].get("le") != "+Inf"]
    assert latency.histogram_summary(truncated, latency.REQUEST_HISTOGRAM) is None


def test_verdict_names_each_threshold():
    slow, reasons = latency.verdict({"p95_ms": 70.0, "p99_ms": 90.0}, 60.0, 100.0)
    assert slow and reasons == ["p95 70.0 ms > 60.0 ms"]
    assert latency.verdict({"p95_ms": 10.0, "p99_ms": 20.0}, 60.0, 100.0) == (False, [])
    assert latency.verdict(None, 60.0, 100.0) == (False, [])


@pytest.mark.parametrize("kwargs,field", [
    (dict(source="prometheus"), "source"), (dict(probes=4), "probes"), (dict(probes=201), "probes"),
    (dict(p95_ms=0), "p95_threshold_ms"), (dict(p99_ms=float("inf")), "p99_threshold_ms"),
])
def test_refusals_name_the_field(kwargs, field):
    args = dict(source="auto", probes=20, p95_ms=60.0, p99_ms=100.0)
    args.update(kwargs)
    with pytest.raises(InputError, match="^%s: invalid value" % field):
        latency.check_options(**args)


def test_metrics_histogram_is_used_when_exposed(gateway):
    gateway.metrics_text = HISTOGRAM
    result = latency.measure(AirlockClient(_url(gateway), timeout=5))
    assert result["source"] == "metrics" and result["probes"] is None and result["cumulative"]
    assert result["quantiles"]["p95_ms"] == pytest.approx(400.0)
    assert result["upstream"]["p95_ms"] == 50.0
    assert result["slow"] and "p95 400.0 ms > 60.0 ms" in result["reasons"]
    assert "(upstream p95 50.0 ms)" in result["msg"]


def test_probe_burst_when_metrics_are_not_exposed(gateway):
    gateway.delay = 0.02
    result = latency.measure(AirlockClient(_url(gateway), timeout=5), probes=5, p95_ms=1.0, p99_ms=1.0)
    assert result["source"] == "probes" and not result["cumulative"]
    assert result["metrics"]["exposed"] is False and result["notes"] == ["/metrics: not exposed (HTTP 404)"]
    q = result["quantiles"]
    assert q["sample_size"] == 5 and q["errors"] == 0 and q["method"] == "ping"
    # Every probe waited 20 ms in the server: no quantile can be below it.
    assert q["p50_ms"] >= 20.0 and q["p99_ms"] == q["max_ms"]
    assert result["slow"] and "(n=5)" in result["msg"]


def test_source_metrics_never_probes(gateway):
    result = latency.measure(AirlockClient(_url(gateway), timeout=5), source="metrics")
    assert result["source"] is None and result["quantiles"] is None and result["probes"] is None
    assert result["msg"].startswith("Latency of %s could not be measured: /metrics: not exposed" % _url(gateway))


def test_unreachable_gateway_counts_errors_and_does_not_fail():
    client = AirlockClient("http://127.0.0.1:9", timeout=1)
    result = latency.measure(client, source="probes", probes=5)
    assert result["quantiles"]["sample_size"] == 0 and result["quantiles"]["errors"] == 5
    assert result["slow"] is False and "5 of 5 probes got no answer" in result["notes"]


def test_module_result(gateway):
    result = factory.run_module(latency_module.main, dict(url=_url(gateway), probes=5))
    assert result["changed"] is False and result["source"] == "probes"
    refused = factory.run_module(latency_module.main, dict(url=_url(gateway), probes=1000))
    assert refused["failed"] and refused["msg"].startswith("probes: invalid value 1000")


# ------------------------------------------------------------------ audit latency_ms
def _latency_db(path):
    db = factory.AuditDB(path)
    for ms in range(1, 101):  # docs: 1..100 ms
        db.append("resource_read", resource="mcp://docs/a.md", tenant="acme", latency_ms=ms)
    for ms in (900, 1000, 1100):  # search: slow
        db.append("tool_call", resource="mcp://search/q", tenant="globex", latency_ms=ms)
    db.append("token_validate", latency_ms=None)
    rowid, _digest = db.append("tool_call", latency_ms=1)
    db.close()
    factory.edit_content(path, rowid, latency_ms="slow")  # damaged: text where an integer belongs
    return db


def _rows(result, dimension):
    return [row for row in result["rows"] if row["dimension"] == dimension]


def test_latency_query_quantiles_by_dimension(tmp_path):
    path = str(tmp_path / "audit.db")
    _latency_db(path)
    result = factory.run_module(audit_query_module.main, dict(path=path, query="latency"))
    assert not result.get("failed"), result
    assert result["total"] == 103
    assert result["summary"] == {"measured_events": 103, "without_latency": 1, "damaged_latency": 1}
    overall = _rows(result, "overall")
    assert len(overall) == 1 and overall[0]["events"] == 103 and overall[0]["max_ms"] == 1100
    # nearest rank over 1..100, 900, 1000, 1100: rank ceil(0.5*103)=52 -> 52, ceil(0.99*103)=102 -> 1000
    assert overall[0]["p50_ms"] == 52 and overall[0]["p99_ms"] == 1000
    resources = _rows(result, "resource")
    assert [r["key"] for r in resources] == ["mcp://search/q", "mcp://docs/a.md"]  # slowest first
    assert resources[1]["p50_ms"] == 50 and resources[1]["p95_ms"] == 95 and resources[1]["p99_ms"] == 99
    assert resources[0]["events"] == 3 and resources[0]["p50_ms"] == 1000
    assert [r["key"] for r in _rows(result, "tenant")] == ["globex", "acme"]
    assert {r["key"] for r in _rows(result, "action")} == {"tool_call", "resource_read"}
    assert overall[0]["first_seen"] is not None and overall[0]["last_seen_ns"] >= overall[0]["first_seen_ns"]


def test_latency_query_respects_window_and_tenant(tmp_path):
    path = str(tmp_path / "audit.db")
    _latency_db(path)
    start = factory.BASE_NS + 101 * factory.SECOND_NS  # the three search events
    conn = audit_query.open_readonly(path, 5000)
    try:
        result = audit_query.run_query(conn, "latency", start_ns=start, tenant="globex")
    finally:
        conn.close()
    assert result["total"] == 3
    assert [(r["dimension"], r["key"], r["p50_ms"]) for r in result["rows"]][:2] == [
        ("overall", "", 1000), ("resource", "mcp://search/q", 1000)]


def test_latency_query_refuses_action_filter(tmp_path):
    path = str(tmp_path / "audit.db")
    _latency_db(path)
    result = factory.run_module(audit_query_module.main, dict(path=path, query="latency", action="tool_call"))
    assert result["failed"] and result["msg"].startswith("action: only applies to query=events")


# ------------------------------------------------------------------ the real gateway
def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_gateway_has_no_metrics_and_is_measured_by_probes(tmp_path):
    import os
    import subprocess

    binary = os.environ.get("AIRLOCK_REAL_BINARY")
    if not binary:
        print("skipped: AIRLOCK_REAL_BINARY is not set (the real Airlock gateway)")
        pytest.skip("AIRLOCK_REAL_BINARY is not set (the real Airlock gateway)")
    port = _free_port()
    config = tmp_path / "airlock.yaml"
    config.write_text('server:\n  addr: "127.0.0.1:%d"\n' % port)
    proc = subprocess.Popen([binary, "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = AirlockClient("http://127.0.0.1:%d" % port, timeout=5)
        deadline = time.monotonic() + 20
        while client.get("/live")["status"] != 200:
            assert proc.poll() is None, "the real gateway exited with %s" % proc.returncode
            assert time.monotonic() < deadline, "the real gateway did not answer /live"
            time.sleep(0.1)
        result = latency.measure(client, probes=5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # The release answers /metrics with 404 and every MCP method with a JSON-RPC error (no upstream):
    # each of those replies is a full round trip through the gateway, timed and counted.
    assert result["metrics"]["status"] == 404 and result["source"] == "probes"
    q = result["quantiles"]
    assert q["sample_size"] == 5 and q["errors"] == 0 and q["jsonrpc_errors"] == 5
    assert q["p50_ms"] is not None and q["p99_ms"] == q["max_ms"]
