# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Go-shaped HTTP plumbing of the lab Airlock's request handler: response writing, the
404 body, request logging, body reading and the bearer token. The routes (health and
metrics, admin, MCP, SSE) are mixins over :class:`BaseHandler`."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler

from airlock_lab.util import go_duration_text

HEALTH_PATHS = ("/live", "/ready", "/health", "/info")


def json_body(pairs):
    """A compact JSON object with keys in the given order (as Go's Fprintf bodies)."""
    return "{" + ",".join("%s:%s" % (json.dumps(k), json.dumps(v, separators=(",", ":"))) for k, v in pairs) + "}"


def compact(document, **kwargs):
    return json.dumps(document, separators=(",", ":"), **kwargs)


class BaseHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler shaped like Go's net/http server."""

    protocol_version = "HTTP/1.1"
    lab = None  # set on the bound subclass
    timeout = 120

    # Go's server sends no Server header.
    def send_response(self, code, message=None):
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, fmt, *args):
        return

    # --------------------------------------------------------------- helpers
    @property
    def remote_addr(self):
        return "%s:%d" % self.client_address[:2]

    def _write_body(self, status, body, content_type="application/json", headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self):
        self._write_body(404, b"404 page not found\n", "text/plain; charset=utf-8",
                         {"X-Content-Type-Options": "nosniff"})

    def _log_request(self, status, started, level=None, **fields):
        duration = time.monotonic() - started
        if level is None:
            level = "debug" if self.path.split("?")[0] in HEALTH_PATHS and status < 400 else "info"
            if status >= 500 or (self.path.startswith("/ready") and status >= 400):
                level = "warn"
        self.lab.logger.log(level, "HTTP request", method=self.command, path=self.path.split("?")[0],
                            status=status, duration=round(duration, 6), duration_text=go_duration_text(duration),
                            remote_addr=self.remote_addr, user_agent=self.headers.get("User-Agent", ""),
                            **fields)

    def _read_body(self, limit):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while len(data) <= limit:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(1024)
                    break
                data += self.rfile.read(size)
                self.rfile.readline(1024)
            return bytes(data), len(data)
        try:
            length = int(length or 0)
        except ValueError:
            length = 0
        if length > limit:
            data = self.rfile.read(limit + 1)
            self.close_connection = True
            return data, length
        return (self.rfile.read(length) if length else b""), length

    def _bearer(self):
        header = self.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip()
        return None
