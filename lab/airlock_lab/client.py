# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small real HTTP client for the lab: health probes and MCP over SSE.

The SSE stream never ends by itself, so ``mcp`` reads until the first
unnamed ``data:`` event (the JSON-RPC reply) and then closes the connection,
as Airlock clients must. ``source_ip`` binds the client socket (127.0.0.11
etc. are loopback on Linux) so the server sees a different remote address.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from urllib.parse import urlparse


class Response:
    def __init__(self, status, headers, body=b"", events=None, reply=None, elapsed=0.0):
        self.status = status
        self.headers = headers
        self.body = body
        self.events = events or []
        self.reply = reply
        self.elapsed = elapsed

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def as_dict(self):
        return {"status": self.status, "reply": self.reply, "elapsed": round(self.elapsed, 4)}


def _connection(url, timeout, source_ip=None):
    parsed = urlparse(url)
    source = (source_ip, 0) if source_ip else None
    if parsed.scheme == "https":
        # The lab's own https IdP (drill idp-cert-expired) is reached whatever its certificate says.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(parsed.hostname, parsed.port or 443, timeout=timeout,
                                           source_address=source, context=context), parsed
    return http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout,
                                      source_address=source), parsed


def request(url, method="GET", path="/", body=None, headers=None, timeout=5.0, source_ip=None):
    """A plain request; returns a Response with the whole body."""
    conn, _ = _connection(url, timeout, source_ip)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Response(response.status, dict(response.getheaders()), data, elapsed=time.monotonic() - started)
    finally:
        conn.close()


def read_events(response, stop_after_reply=True, max_events=10, deadline=None):
    """Parse SSE events from an open response: list of (event, data) tuples."""
    events = []
    name, data = None, []
    while len(events) < max_events:
        if deadline is not None and time.monotonic() > deadline:
            break
        line = response.readline()
        if not line:
            break
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data or name:
                events.append((name, "\n".join(data)))
                if stop_after_reply and name is None:
                    break
            name, data = None, []
            continue
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
    return events


def mcp(url, message, token=None, timeout=10.0, source_ip=None, user_agent="airlock-lab/1.0", raw_body=None,
        extra_headers=None):
    """POST one JSON-RPC message to /mcp; returns a Response with ``events`` and ``reply``."""
    conn, _ = _connection(url, timeout, source_ip)
    # Connection: close, as Airlock's release needs (it discards the body of a
    # keep-alive POST); extra_headers may override it to drill that.
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream", "User-Agent": user_agent,
               "Connection": "close"}
    if token:
        headers["Authorization"] = "Bearer %s" % token
    if extra_headers:
        headers.update(extra_headers)
    body = raw_body if raw_body is not None else json.dumps(message).encode("utf-8")
    started = time.monotonic()
    try:
        conn.request("POST", "/mcp", body=body, headers=headers)
        response = conn.getresponse()
        content_type = response.getheader("Content-Type", "")
        if response.status != 200 or not content_type.startswith("text/event-stream"):
            data = response.read()
            reply = None
            try:
                reply = json.loads(data.decode("utf-8"))
            except ValueError:
                pass
            return Response(response.status, dict(response.getheaders()), data, reply=reply,
                            elapsed=time.monotonic() - started)
        events = read_events(response, deadline=time.monotonic() + timeout)
        reply = None
        for name, data in events:
            if name is None:
                reply = json.loads(data)
        return Response(response.status, dict(response.getheaders()), events=events, reply=reply,
                        elapsed=time.monotonic() - started)
    finally:
        conn.close()
