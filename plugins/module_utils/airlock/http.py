# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small, bounded HTTP client for MCP Airlock.

* ``AirlockClient.get`` fetches one endpoint (``/live``, ``/ready``, ``/health``,
  ``/info``, ``/metrics``) and never raises for a transport failure: the result
  carries ``status`` (``None`` when nothing answered), ``latency_ms``, ``body``
  and ``error``.
* ``AirlockClient.mcp_call`` POSTs one JSON-RPC request to ``/mcp``. Airlock
  answers with a Server-Sent-Events stream that never ends (``connected``
  event, then the reply as an unnamed event, then ``heartbeat`` events every
  20 s); the client reads only until the reply is complete, then closes the
  connection. A plain ``application/json`` reply is accepted too.
* ``SSEParser`` is a pure, incremental parser of the SSE wire format (any chunk
  boundaries, LF, CRLF or CR line ends) so it can be unit-tested on bytes.
* ``parse_prometheus_text`` and ``summarize_metrics`` read the Prometheus text
  exposition format and pick out the values an incident responder needs.

Every request is bounded by one overall deadline of ``timeout`` seconds: the
socket timeout is lowered to the remaining time before each read, so a server
that dribbles bytes (or heartbeats) cannot keep a probe alive past it.
"""

from __future__ import annotations

import json
import math
import re
import socket
import time
from urllib.error import HTTPError, URLError

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import Request

try:
    from ansible.module_utils.urls import make_context
except ImportError:  # pragma: no cover - older ansible-core builds a context per request
    make_context = None

#: Upper bound on a body the client keeps (a large /metrics page fits).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Text bodies returned to the user are cut to this many characters.
MAX_TEXT_CHARS = 4096
#: JSON-RPC error code Airlock returns for every method when no upstream is configured.
NO_UPSTREAM_CODE = -32000

_READ_CHUNK = 4096


class _Deadline(object):
    """Remaining time until an absolute monotonic deadline."""

    def __init__(self, seconds):
        self.start = time.monotonic()
        self.end = self.start + seconds

    def remaining(self):
        return self.end - time.monotonic()

    def expired(self):
        return self.remaining() <= 0

    def elapsed_ms(self):
        return round((time.monotonic() - self.start) * 1000.0, 1)


# ---------------------------------------------------------------------------
# Server-Sent Events
# ---------------------------------------------------------------------------


class SSEEvent(object):
    """One dispatched SSE event (``event`` is ``message`` when unnamed)."""

    __slots__ = ("event", "data", "id")

    def __init__(self, event, data, event_id=None):
        self.event = event
        self.data = data
        self.id = event_id

    def __eq__(self, other):
        return isinstance(other, SSEEvent) and (self.event, self.data, self.id) == (other.event, other.data, other.id)

    def __repr__(self):
        return "SSEEvent(event=%r, data=%r, id=%r)" % (self.event, self.data, self.id)


class SSEParser(object):
    """Incremental parser for the ``text/event-stream`` format (WHATWG HTML, 9.2).

    ``feed(chunk)`` accepts bytes split anywhere (inside a multi-byte UTF-8
    character, between ``\\r`` and ``\\n``) and returns the events completed
    by that chunk. Lines end with LF, CRLF or CR; a blank line dispatches the
    event; comment lines (``:``) and unknown fields are ignored; an event with
    no ``data`` line is not dispatched.
    """

    def __init__(self):
        self._buf = b""
        self._skip_lf = False
        self._first_line = True
        self._event = ""
        self._data = []
        self._id = None
        self.last_event_id = None

    # State of the event being built, for callers that stop at its first data line.
    @property
    def pending_event(self):
        return self._event or "message"

    @property
    def pending_data(self):
        return "\n".join(self._data) if self._data else None

    def feed(self, chunk):
        events = []
        if not chunk:
            return events
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        self._buf += chunk
        while True:
            cr = self._buf.find(b"\r")
            lf = self._buf.find(b"\n")
            if cr < 0 and lf < 0:
                break
            if cr < 0 or (0 <= lf < cr):
                line, rest = self._buf[:lf], self._buf[lf + 1:]
            else:
                line, rest = self._buf[:cr], self._buf[cr + 1:]
                if rest[:1] == b"\n":
                    rest = rest[1:]
                elif not rest:
                    # CR at the very end of the chunk: a following LF belongs to it.
                    self._skip_lf = True
            self._buf = rest
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, raw):
        if self._first_line:
            self._first_line = False
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
        line = raw.decode("utf-8", "replace")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id":
            if "\x00" not in value:
                self._id = value
                self.last_event_id = value
        return None

    def _dispatch(self):
        event = None
        if self._data:
            event = SSEEvent(self._event or "message", "\n".join(self._data), self._id)
        self._event = ""
        self._data = []
        return event


def _json_or_none(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


class SSEReplyReader(object):
    """Finds the JSON-RPC reply in an Airlock ``/mcp`` event stream.

    Named events (``connected``, ``heartbeat``, ``endpoint`` ...) are not the
    reply; their data is only inspected for ``connection_id``. The reply is the
    data of the first unnamed (or ``message``) event. ``feed`` returns the
    parsed reply as soon as its data line is complete and holds a whole JSON
    document, without waiting for the blank line that ends the event, so a
    reader never needs more bytes than the reply itself.
    """

    def __init__(self):
        self.parser = SSEParser()
        self.connection_id = None
        self.events_seen = []
        self.reply = None
        self.reply_text = None

    def feed(self, chunk):
        if self.reply is not None:
            return self.reply
        for event in self.parser.feed(chunk):
            self.events_seen.append(event.event)
            if event.event == "message":
                return self._accept(event.data)
            payload = _json_or_none(event.data)
            if isinstance(payload, dict) and payload.get("connection_id") and self.connection_id is None:
                self.connection_id = payload.get("connection_id")
        if self.parser.pending_event == "message" and self.parser.pending_data is not None:
            payload = _json_or_none(self.parser.pending_data)
            if payload is not None:
                self.events_seen.append("message")
                return self._accept(self.parser.pending_data)
        return None

    def _accept(self, data):
        self.reply_text = data
        payload = _json_or_none(data)
        if payload is None:
            raise ValueError("the first message event's data is not JSON: %r" % (data[:200],))
        self.reply = payload
        return payload


def read_sse_reply(chunks):
    """The JSON-RPC reply in an iterable of byte chunks, and the reader (pure helper)."""
    reader = SSEReplyReader()
    for chunk in chunks:
        reply = reader.feed(chunk)
        if reply is not None:
            return reply, reader
    return None, reader


# ---------------------------------------------------------------------------
# Prometheus text format
# ---------------------------------------------------------------------------

_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def _unescape_label(value):
    out = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _parse_value(text):
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return float("inf")
    if lowered == "-inf":
        return float("-inf")
    if lowered == "nan":
        return float("nan")
    return float(text)


def parse_prometheus_text(text):
    """``[(name, {label: value}, float)]`` for every sample line; bad lines are skipped."""
    samples = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _METRIC_LINE.match(line)
        if not match:
            continue
        name, label_text, value_text = match.group(1), match.group(2), match.group(3)
        labels = {}
        if label_text:
            inner = label_text[1:-1]
            pos = 0
            ok = True
            while pos < len(inner):
                if not inner[pos:].strip():
                    break
                lab = _LABEL.match(inner, pos)
                if not lab:
                    ok = False
                    break
                labels[lab.group(1)] = _unescape_label(lab.group(2))
                pos = lab.end()
            if not ok:
                continue
        try:
            value = _parse_value(value_text)
        except ValueError:
            continue
        samples.append((name, labels, value))
    return samples


def histogram_quantile(quantile, buckets):
    """Prometheus' ``histogram_quantile`` over ``{le: cumulative count}``; None if empty."""
    if not buckets:
        return None
    ordered = sorted(buckets.items(), key=lambda item: item[0])
    if not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = quantile * total
    lower_bound = 0.0
    lower_count = 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower_bound
            if count == lower_count:
                return upper
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = upper, count
    return lower_bound


def _sum(samples, name):
    values = [value for sample_name, _labels, value in samples if sample_name == name]
    return sum(values) if values else None


def summarize_metrics(samples):
    """The values responders look at, from parsed samples (counters since process start).

    ``requests_by_status_class`` sums ``airlock_requests_total`` by the first
    digit of its ``status`` label; ``error_rate`` is 5xx / all (cumulative, not a
    rate over a window: compare two probes for a recent rate). ``p95``/``p99``
    come from the ``airlock_request_duration_seconds`` buckets summed over all
    label sets, interpolated like PromQL's ``histogram_quantile``.
    """
    summary = {
        "requests_total": None,
        "requests_by_status_class": {},
        "error_rate": None,
        "memory_bytes": _sum(samples, "airlock_memory_usage_bytes"),
        "active_connections": _sum(samples, "airlock_active_connections"),
        "goroutines": _sum(samples, "airlock_goroutines_total"),
        "auth_failures_total": None,
        "policy_denies_total": None,
        "errors_total": _sum(samples, "airlock_errors_total"),
        "request_duration_p95_seconds": None,
        "request_duration_p99_seconds": None,
        "sample_count": len(samples),
    }
    by_class = {}
    total = None
    auth_fail = None
    denies = None
    buckets = {}
    for name, labels, value in samples:
        if name == "airlock_requests_total":
            total = (total or 0.0) + value
            status = labels.get("status", "")
            klass = (status[:1] + "xx") if status[:1].isdigit() else (status or "unknown")
            by_class[klass] = by_class.get(klass, 0.0) + value
        elif name == "airlock_auth_events_total" and labels.get("result") not in (None, "success", "allow", "ok"):
            auth_fail = (auth_fail or 0.0) + value
        elif name == "airlock_policy_decisions_total" and labels.get("decision") == "deny":
            denies = (denies or 0.0) + value
        elif name == "airlock_request_duration_seconds_bucket" and "le" in labels:
            try:
                upper = _parse_value(labels["le"])
            except ValueError:
                continue
            buckets[upper] = buckets.get(upper, 0.0) + value
    summary["requests_total"] = total
    summary["requests_by_status_class"] = by_class
    if total:
        summary["error_rate"] = round(by_class.get("5xx", 0.0) / total, 6)
    summary["auth_failures_total"] = auth_fail
    summary["policy_denies_total"] = denies
    summary["request_duration_p95_seconds"] = histogram_quantile(0.95, buckets)
    summary["request_duration_p99_seconds"] = histogram_quantile(0.99, buckets)
    return summary


# ---------------------------------------------------------------------------
# HTTP client
# ---------------------------------------------------------------------------


def validate_base_url(url):
    """The base URL without a trailing slash; ValueError with a clear message otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("url: a base URL such as http://127.0.0.1:8080 is required")
    text = url.strip()
    match = re.match(r"^(https?)://([^/?#\s]+)([^?#\s]*)$", text, re.IGNORECASE)
    if not match:
        raise ValueError(
            "url: invalid value %r; it must start with http:// or https:// and name a host, "
            "for example http://127.0.0.1:8080 (no query string or fragment)" % (url,)
        )
    return text.rstrip("/")


def validate_timeout(timeout):
    if timeout is None or isinstance(timeout, bool):
        raise ValueError("timeout: invalid value %r; it must be a number of seconds greater than 0" % (timeout,))
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        raise ValueError("timeout: invalid value %r; it must be a number of seconds greater than 0" % (timeout,))
    if math.isnan(value) or math.isinf(value) or value <= 0:
        raise ValueError("timeout: invalid value %r; it must be a number of seconds greater than 0" % (timeout,))
    return value


def _socket_of(response):
    """The socket under an http.client response, if it can be found."""
    fp = getattr(response, "fp", None)
    for attr in ("raw", "_sock"):
        if fp is None:
            break
        fp = getattr(fp, attr, None)
        if isinstance(fp, socket.socket):
            return fp
    return fp if isinstance(fp, socket.socket) else None


def _describe_error(exc):
    reason = getattr(exc, "reason", None)
    if isinstance(exc, URLError) and reason is not None:
        exc = reason
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = to_native(exc) or exc.__class__.__name__
    if "timed out" in text:
        return "timed out"
    return text


class AirlockClient(object):
    """Bounded HTTP access to one Airlock gateway."""

    def __init__(self, url, token=None, timeout=5.0, validate_certs=True, ca_path=None):
        self.base_url = validate_base_url(url)
        self.timeout = validate_timeout(timeout)
        self.token = token
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        # Build the TLS context once: creating it loads the CA store (~0.1 s), which
        # would otherwise be paid inside every request and distort latency_ms.
        context = None
        if make_context is not None:
            context = make_context(cafile=ca_path, validate_certs=validate_certs)
        self._request = Request(
            context=context,
            validate_certs=validate_certs,
            ca_path=ca_path,
            timeout=self.timeout,
            http_agent="airlock.incident",
            follow_redirects="safe",
            decompress=False,
        )

    def url_for(self, path):
        return self.base_url + path

    def _open(self, method, path, body=None, headers=None):
        return self._request.open(method, self.url_for(path), data=body, headers=headers or {}, timeout=self.timeout)

    @staticmethod
    def _read(response, deadline, limit=MAX_BODY_BYTES, stop=None):
        """Read the body in chunks until EOF, ``stop(chunk)`` is truthy, or the deadline.

        Returns ``(bytes, timed_out)``.
        """
        sock = _socket_of(response)
        data = []
        size = 0
        read1 = getattr(response, "read1", None)
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                return b"".join(data), True
            if sock is not None:
                try:
                    sock.settimeout(max(remaining, 0.001))
                except (OSError, ValueError):
                    pass
            try:
                chunk = read1(_READ_CHUNK) if read1 is not None else response.read(_READ_CHUNK)
            except (socket.timeout, TimeoutError):
                return b"".join(data), True
            if not chunk:
                return b"".join(data), False
            data.append(chunk)
            size += len(chunk)
            if stop is not None and stop(chunk):
                return b"".join(data), False
            if size >= limit:
                return b"".join(data)[:limit], False

    def get(self, path, parse_json=True):
        """GET ``path``; never raises for transport errors.

        Result keys: ``url``, ``status`` (int or None), ``latency_ms``, ``body``
        (parsed JSON, text, or None), ``content_type``, ``error`` (None or text),
        ``raw`` (text, for callers that parse other formats).
        """
        deadline = _Deadline(self.timeout)
        result = {"url": self.url_for(path), "status": None, "latency_ms": None, "body": None,
                  "content_type": None, "error": None, "raw": None}
        response = None
        try:
            try:
                response = self._open("GET", path, headers={"Accept": "application/json, text/plain;q=0.9, */*;q=0.5"})
            except HTTPError as exc:
                response = exc
                result["status"] = exc.code
            else:
                result["status"] = response.status if hasattr(response, "status") else response.getcode()
            result["content_type"] = response.headers.get("Content-Type") if response.headers else None
            raw, timed_out = self._read(response, deadline)
            text = to_text(raw, errors="surrogate_or_replace")
            result["raw"] = text
            parsed = _json_or_none(text) if parse_json and text.strip() else None
            if parsed is not None:
                result["body"] = parsed
            elif text:
                result["body"] = text[:MAX_TEXT_CHARS]
            if timed_out:
                result["error"] = "timed out after %gs while reading the body" % self.timeout
            elif not 200 <= result["status"] < 300:
                result["error"] = "HTTP %s" % result["status"]
        except Exception as exc:  # pylint: disable=broad-except
            result["error"] = _describe_error(exc)
        finally:
            result["latency_ms"] = deadline.elapsed_ms()
            if response is not None:
                try:
                    response.close()
                except Exception:  # pylint: disable=broad-except
                    pass
        return result

    def mcp_call(self, method, params=None, request_id="airlock-incident-health"):
        """POST one JSON-RPC request to ``/mcp`` and return the first reply.

        Result keys: ``status`` (HTTP status or None), ``latency_ms``,
        ``transport`` (``sse``/``json``/None), ``connection_id``, ``result``,
        ``error`` (``{code, message}`` for a JSON-RPC error, ``{code: None,
        message}`` for a transport problem), ``events`` (names of the SSE
        events read before the reply).
        """
        deadline = _Deadline(self.timeout)
        payload = {"jsonrpc": "2.0", "id": request_id, "method": method}
        payload["params"] = params if params is not None else {}
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.token:
            headers["Authorization"] = "Bearer %s" % self.token
        result = {"url": self.url_for("/mcp"), "method": method, "status": None, "latency_ms": None,
                  "transport": None, "connection_id": None, "result": None, "error": None, "events": []}
        response = None
        try:
            try:
                response = self._open("POST", "/mcp", body=json.dumps(payload).encode("utf-8"), headers=headers)
            except HTTPError as exc:
                response = exc
                result["status"] = exc.code
                raw, _timed_out = self._read(response, deadline, limit=64 * 1024)
                text = to_text(raw, errors="surrogate_or_replace").strip()
                body = _json_or_none(text)
                if isinstance(body, dict) and isinstance(body.get("error"), dict):
                    result["error"] = {"code": body["error"].get("code"), "message": body["error"].get("message")}
                else:
                    result["error"] = {"code": None, "message": "HTTP %s%s" % (exc.code, (": " + text[:200]) if text else "")}
                return result
            result["status"] = response.status if hasattr(response, "status") else response.getcode()
            content_type = (response.headers.get("Content-Type") or "").lower()
            if "text/event-stream" in content_type:
                result["transport"] = "sse"
                reader = SSEReplyReader()
                state = {"error": None}

                def stop(chunk):
                    try:
                        return reader.feed(chunk) is not None
                    except ValueError as exc:
                        state["error"] = to_native(exc)
                        return True

                _raw, timed_out = self._read(response, deadline, stop=stop)
                result["connection_id"] = reader.connection_id
                result["events"] = reader.events_seen
                if state["error"]:
                    result["error"] = {"code": None, "message": state["error"]}
                    return result
                reply = reader.reply
                if reply is None:
                    why = ("no reply within %gs" % self.timeout) if timed_out else "the stream ended without a reply"
                    seen = ", ".join(reader.events_seen) or "none"
                    result["error"] = {"code": None, "message": "%s (events seen: %s)" % (why, seen)}
                    return result
            else:
                result["transport"] = "json"
                raw, timed_out = self._read(response, deadline, limit=1024 * 1024)
                reply = _json_or_none(to_text(raw, errors="surrogate_or_replace"))
                if reply is None:
                    why = ("timed out after %gs" % self.timeout) if timed_out else "the reply is not JSON"
                    result["error"] = {"code": None, "message": "%s (Content-Type %r)" % (why, content_type or None)}
                    return result
            self._apply_reply(result, reply)
        except Exception as exc:  # pylint: disable=broad-except
            result["error"] = {"code": None, "message": _describe_error(exc)}
        finally:
            result["latency_ms"] = deadline.elapsed_ms()
            if response is not None:
                try:
                    response.close()
                except Exception:  # pylint: disable=broad-except
                    pass
        return result

    @staticmethod
    def _apply_reply(result, reply):
        if not isinstance(reply, dict):
            result["error"] = {"code": None, "message": "the JSON-RPC reply is not an object"}
            return
        if isinstance(reply.get("error"), dict):
            err = reply["error"]
            result["error"] = {"code": err.get("code"), "message": err.get("message")}
            if "data" in err:
                result["error"]["data"] = err.get("data")
        elif "result" in reply:
            result["result"] = reply.get("result")
        else:
            result["error"] = {"code": None, "message": "the JSON-RPC reply has neither result nor error"}
