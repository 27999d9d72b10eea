# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SSE response of the lab Airlock's ``/mcp``: the ``connected`` event, the JSON-RPC
reply, heartbeats until the client goes away, chunked like Go's server."""

from __future__ import annotations

import select
import threading
import time

from ansible_collections.airlock.incident.plugins.module_utils.audit.chain import go_json_value

from airlock_lab.httpbase import BaseHandler
from airlock_lab.util import rfc3339_now


class SseStream(BaseHandler):
    """``_stream`` writes the SSE answer and holds the connection (``_hold``)."""

    def _chunk(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, connection_id, reply, started, ctx, method, tool, status_label="200"):
        """Write the SSE response and hold it open (heartbeats) until the client goes away."""
        lab = self.lab
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        # Go's server replaces the handler's keep-alive with "close" when the
        # client announced it would close.
        closes = "close" in self.headers.get("Connection", "").lower()
        self.send_header("Connection", "close" if closes else "keep-alive")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Cache-Control")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        lab.metrics.connection_opened()
        current = threading.current_thread()
        lab._stream_threads.add(current)
        try:
            connected = go_json_value({"connection_id": connection_id, "timestamp": rfc3339_now()})
            self._chunk(b"event: connected\ndata: " + connected + b"\n\n")
            if reply is not None:
                self._chunk(b"data: " + go_json_value(reply) + b"\n\n")
            elapsed = time.monotonic() - started
            lab.metrics.inc("airlock_requests_total", {"tenant": ctx["tenant"], "tool": self._tool_label(tool),
                                                       "method": self._method_label(method),
                                                       "status": status_label})
            lab.metrics.observe("airlock_request_duration_seconds",
                                {"tenant": ctx["tenant"], "method": self._method_label(method)},
                                elapsed)
            success = reply is None or "error" not in reply
            lab.logger.info("MCP request completed", correlation_id=connection_id, method=method,
                            duration=round(elapsed, 6), success=success)
            self._log_request(200, started, mcp_method=method, tool=tool, correlation_id=connection_id)
            self._hold(connection_id)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            lab.metrics.connection_closed()
            lab._stream_threads.discard(current)
            lab.logger.debug("MCP connection closed", correlation_id=connection_id)

    def _hold(self, connection_id):
        lab = self.lab
        sock = self.connection
        next_beat = time.monotonic() + lab.heartbeat
        while not lab.stopping.is_set():
            wait = max(0.0, min(0.5, next_beat - time.monotonic()))
            try:
                readable, _, _ = select.select([sock], [], [], wait)
            except (OSError, ValueError):
                return
            if readable:
                try:
                    data = sock.recv(4096)
                except OSError:
                    return
                if not data:
                    return  # client went away
            if time.monotonic() >= next_beat:
                beat = go_json_value({"timestamp": rfc3339_now()})
                self._chunk(b"event: heartbeat\ndata: " + beat + b"\n\n")
                next_beat = time.monotonic() + lab.heartbeat
        # graceful shutdown: end the chunked stream
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
