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
* What ``/metrics`` answers is read by :mod:`.metrics`; the probes of the
  ``health`` module are :mod:`.probes`.

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
import typing as t
from urllib import parse as urllib_parse
from urllib.error import HTTPError, URLError

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import Request

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import read_head

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


class _Deadline:
    """Remaining time until an absolute monotonic deadline."""

    def __init__(self, seconds: float) -> None:
        self.start = time.monotonic()
        self.end = self.start + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.start) * 1000.0, 1)


# ---------------------------------------------------------------------------
# Server-Sent Events
# ---------------------------------------------------------------------------


class SSEEvent:
    """One dispatched SSE event (``event`` is ``message`` when unnamed)."""

    __slots__ = ("event", "data", "id")

    def __init__(self, event: str, data: str, event_id: t.Optional[str] = None) -> None:
        self.event = event
        self.data = data
        self.id = event_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SSEEvent) and (self.event, self.data, self.id) == (other.event, other.data, other.id)

    def __repr__(self) -> str:
        return "SSEEvent(event=%r, data=%r, id=%r)" % (self.event, self.data, self.id)


class SSEParser:
    """Incremental parser for the ``text/event-stream`` format (WHATWG HTML, 9.2).

    ``feed(chunk)`` accepts bytes split anywhere (inside a multi-byte UTF-8
    character, between ``\\r`` and ``\\n``) and returns the events completed
    by that chunk. Lines end with LF, CRLF or CR; a blank line dispatches the
    event; comment lines (``:``) and unknown fields are ignored; an event with
    no ``data`` line is not dispatched.
    """

    def __init__(self) -> None:
        self._buf = b""
        self._skip_lf = False
        self._first_line = True
        self._event = ""
        self._data: t.List[str] = []
        self._id: t.Optional[str] = None
        self.last_event_id: t.Optional[str] = None

    # State of the event being built, for callers that stop at its first data line.
    @property
    def pending_event(self) -> str:
        return self._event or "message"

    @property
    def pending_data(self) -> t.Optional[str]:
        return "\n".join(self._data) if self._data else None

    def feed(self, chunk: bytes) -> t.List[SSEEvent]:
        events: t.List[SSEEvent] = []
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

    def _line(self, raw: bytes) -> t.Optional[SSEEvent]:
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

    def _dispatch(self) -> t.Optional[SSEEvent]:
        event = None
        if self._data:
            event = SSEEvent(self._event or "message", "\n".join(self._data), self._id)
        self._event = ""
        self._data = []
        return event


def _json_or_none(text: t.Optional[str]) -> t.Any:
    try:
        return json.loads(text or "")
    except (TypeError, ValueError):
        return None


class SSEReplyReader:
    """Finds the JSON-RPC reply in an Airlock ``/mcp`` event stream.

    Named events (``connected``, ``heartbeat``, ``endpoint`` ...) are not the
    reply; their data is only inspected for ``connection_id``. The reply is the
    data of the first unnamed (or ``message``) event. ``feed`` returns the
    parsed reply as soon as its data line is complete and holds a whole JSON
    document, without waiting for the blank line that ends the event, so a
    reader never needs more bytes than the reply itself.
    """

    def __init__(self) -> None:
        self.parser = SSEParser()
        self.connection_id: t.Optional[str] = None
        self.events_seen: t.List[str] = []
        self.reply: t.Any = None
        self.reply_text: t.Optional[str] = None

    def feed(self, chunk: bytes) -> t.Any:
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

    def _accept(self, data: str) -> t.Any:
        self.reply_text = data
        payload = _json_or_none(data)
        if payload is None:
            raise InputError("the first message event's data is not JSON: %r" % (data[:200],))
        self.reply = payload
        return payload


def read_sse_reply(chunks: t.Iterable[bytes]) -> t.Tuple[t.Any, SSEReplyReader]:
    """The JSON-RPC reply in an iterable of byte chunks, and the reader (pure helper)."""
    reader = SSEReplyReader()
    for chunk in chunks:
        reply = reader.feed(chunk)
        if reply is not None:
            return reply, reader
    return None, reader


# ---------------------------------------------------------------------------
# HTTP client
# ---------------------------------------------------------------------------


def validate_base_url(url: t.Any, field: str = "url") -> str:
    """The base URL without a trailing slash; InputError (a ValueError) naming ``field`` otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise InputError("%s: a base URL such as http://127.0.0.1:8080 is required" % field)
    text = url.strip()
    match = re.match(r"^(https?)://([^/?#\s]+)([^?#\s]*)$", text, re.IGNORECASE)
    if not match:
        raise InputError(
            "%s: invalid value %r; it must start with http:// or https:// and name a host, "
            "for example http://127.0.0.1:8080 (no query string or fragment)" % (field, url)
        )
    try:
        parts = urllib_parse.urlsplit(text)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:  # "http://[", a port out of range or not a number
        raise InputError("%s: invalid value %r (%s); accepted: http:// or https:// with a host name or address "
                         "and an optional port 1 to 65535" % (field, url, exc)) from exc
    if not host or port == 0:
        raise InputError("%s: invalid value %r; accepted: http:// or https:// with a host name or address "
                         "and an optional port 1 to 65535" % (field, url))
    return text.rstrip("/")


def validate_timeout(timeout: t.Any) -> float:
    if timeout is None or isinstance(timeout, bool):
        raise InputError("timeout: invalid value %r; it must be a number of seconds greater than 0" % (timeout,))
    try:
        value = float(timeout)
    except (TypeError, ValueError) as exc:
        raise InputError("timeout: invalid value %r; it must be a number of seconds greater than 0" % (timeout,)) from exc
    if math.isnan(value) or math.isinf(value) or value <= 0:
        raise InputError("timeout: invalid value %r; it must be a number of seconds greater than 0" % (timeout,))
    return value


#: How much of ``ca_path`` is read to find a PEM certificate before it is handed to OpenSSL.
CA_HEAD_BYTES = 1024 * 1024


def validate_ca_path(ca_path: t.Optional[str], field: str = "ca_path") -> t.Optional[str]:
    """``ca_path`` when it names a regular file holding a PEM certificate; InputError naming ``field`` otherwise.

    Checked before any connection (also for a plain-http URL, so a typo is found before it matters) and
    before OpenSSL opens the file: a FIFO would block the load of the CA store for ever."""
    if ca_path is None:
        return None
    accepted = "accepted values: the path of a PEM CA bundle (a regular file with -----BEGIN CERTIFICATE-----)"
    try:
        head = read_head(ca_path, field, CA_HEAD_BYTES, "a PEM CA bundle")
    except OSError as exc:
        raise InputError("%s: cannot read %s: %s; %s" % (field, ca_path, exc.strerror or exc, accepted)) from exc
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise InputError("%s: %s holds no PEM certificate; %s" % (field, ca_path, accepted))
    return ca_path


def _socket_of(response: t.Any) -> t.Optional[socket.socket]:
    """The socket under an http.client response, if it can be found."""
    fp = getattr(response, "fp", None)
    for attr in ("raw", "_sock"):
        if fp is None:
            break
        fp = getattr(fp, attr, None)
        if isinstance(fp, socket.socket):
            return fp
    return fp if isinstance(fp, socket.socket) else None


def _describe_error(exc: BaseException) -> str:
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


def _close(result: t.Dict[str, t.Any], deadline: _Deadline, response: t.Any) -> None:
    """Record the latency and close the response (whatever it raises: the result is already complete)."""
    result["latency_ms"] = deadline.elapsed_ms()
    if response is not None:
        try:
            response.close()
        except Exception:  # pylint: disable=broad-except
            pass


class AirlockClient:
    """Bounded HTTP access to one Airlock gateway."""

    def __init__(self, url: str, token: t.Optional[str] = None, timeout: float = 5.0, validate_certs: bool = True,
                 ca_path: t.Optional[str] = None) -> None:
        self.base_url = validate_base_url(url)
        self.timeout = validate_timeout(timeout)
        self.token = token
        self.validate_certs = validate_certs
        self.ca_path = validate_ca_path(ca_path)
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

    def url_for(self, path: str) -> str:
        return self.base_url + path

    def _open(self, method: str, path: str, body: t.Optional[bytes] = None,
              headers: t.Optional[t.Dict[str, str]] = None) -> t.Any:
        return self._request.open(method, self.url_for(path), data=body, headers=headers or {}, timeout=self.timeout)

    @staticmethod
    def _read(response: t.Any, deadline: _Deadline, limit: int = MAX_BODY_BYTES,
              stop: t.Optional[t.Callable[[bytes], bool]] = None) -> t.Tuple[bytes, bool]:
        """Read the body in chunks until EOF, ``stop(chunk)`` is truthy, or the deadline.

        Returns ``(bytes, timed_out)``.
        """
        sock = _socket_of(response)
        data: t.List[bytes] = []
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

    def get(self, path: str, parse_json: bool = True) -> t.Dict[str, t.Any]:
        """GET ``path``; never raises for transport errors.

        Result keys: ``url``, ``status`` (int or None), ``latency_ms``, ``body``
        (parsed JSON, text, or None), ``content_type``, ``date`` (the Date header), ``error`` (None or text),
        ``raw`` (text, for callers that parse other formats).
        """
        deadline = _Deadline(self.timeout)
        result: t.Dict[str, t.Any] = {"url": self.url_for(path), "status": None, "latency_ms": None, "body": None,
                                      "content_type": None, "date": None, "error": None, "raw": None}
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
            result["date"] = response.headers.get("Date") if response.headers else None
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
            _close(result, deadline, response)
        return result

    def mcp_call(self, method: str, params: t.Optional[t.Dict[str, t.Any]] = None,
                 request_id: str = "airlock-incident-health") -> t.Dict[str, t.Any]:
        """POST one JSON-RPC request to ``/mcp`` and return the first reply.

        Result keys: ``status`` (HTTP status or None), ``latency_ms``,
        ``transport`` (``sse``/``json``/None), ``connection_id``, ``result``,
        ``error`` (``{code, message}`` for a JSON-RPC error, ``{code: None,
        message}`` for a transport problem), ``events`` (names of the SSE
        events read before the reply).
        """
        deadline = _Deadline(self.timeout)
        payload: t.Dict[str, t.Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        payload["params"] = params if params is not None else {}
        # Connection: close on purpose. Airlock's /mcp handler flushes the SSE headers
        # before it reads the request body; on a keep-alive connection Go's server then
        # discards the unread body and the release answers -32000 "failed to read
        # request body". Only a request that announces it will close the connection
        # keeps its body (measured against the release, 10 of 10 tries). urllib adds
        # the header itself today; saying it here keeps the probe correct if it stops.
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "Connection": "close"}
        if self.token:
            headers["Authorization"] = "Bearer %s" % self.token
        result: t.Dict[str, t.Any] = {"url": self.url_for("/mcp"), "method": method, "status": None,
                                      "latency_ms": None, "transport": None, "connection_id": None, "result": None,
                                      "error": None, "events": []}
        response = None
        try:
            try:
                response = self._open("POST", "/mcp", body=json.dumps(payload).encode("utf-8"), headers=headers)
            except HTTPError as exc:
                response = exc
                self._http_error(exc, deadline, result)
                return result
            result["status"] = response.status if hasattr(response, "status") else response.getcode()
            content_type = (response.headers.get("Content-Type") or "").lower()
            if "text/event-stream" in content_type:
                reply = self._sse_reply(response, deadline, result)
            else:
                reply = self._json_reply(response, deadline, result, content_type)
            if result["error"] is None:
                self._apply_reply(result, reply)
        except Exception as exc:  # pylint: disable=broad-except
            result["error"] = {"code": None, "message": _describe_error(exc)}
        finally:
            _close(result, deadline, response)
        return result

    def _http_error(self, exc: HTTPError, deadline: _Deadline, result: t.Dict[str, t.Any]) -> None:
        """An HTTP error answer of ``/mcp``: its JSON-RPC error when it carries one."""
        result["status"] = exc.code
        raw, _timed_out = self._read(exc, deadline, limit=64 * 1024)
        text = to_text(raw, errors="surrogate_or_replace").strip()
        body = _json_or_none(text)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            result["error"] = {"code": body["error"].get("code"), "message": body["error"].get("message")}
        else:
            result["error"] = {"code": None, "message": "HTTP %s%s" % (exc.code, (": " + text[:200]) if text else "")}

    def _sse_reply(self, response: t.Any, deadline: _Deadline, result: t.Dict[str, t.Any]) -> t.Any:
        """The reply in an event stream, read only up to it; sets ``result["error"]`` when there is none."""
        result["transport"] = "sse"
        reader = SSEReplyReader()
        state: t.Dict[str, t.Optional[str]] = {"error": None}

        def stop(chunk: bytes) -> bool:
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
        elif reader.reply is None:
            why = ("no reply within %gs" % self.timeout) if timed_out else "the stream ended without a reply"
            seen = ", ".join(reader.events_seen) or "none"
            result["error"] = {"code": None, "message": "%s (events seen: %s)" % (why, seen)}
        return reader.reply

    def _json_reply(self, response: t.Any, deadline: _Deadline, result: t.Dict[str, t.Any], content_type: str) -> t.Any:
        """The reply as a plain JSON body; sets ``result["error"]`` when it is not JSON."""
        result["transport"] = "json"
        raw, timed_out = self._read(response, deadline, limit=1024 * 1024)
        reply = _json_or_none(to_text(raw, errors="surrogate_or_replace"))
        if reply is None:
            why = ("timed out after %gs" % self.timeout) if timed_out else "the reply is not JSON"
            result["error"] = {"code": None, "message": "%s (Content-Type %r)" % (why, content_type or None)}
        return reply

    @staticmethod
    def _apply_reply(result: t.Dict[str, t.Any], reply: t.Any) -> None:
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
