# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real notification receivers on loopback: an SMTP server (aiosmtpd) and an HTTP webhook receiver.

Tests of the collection's delivery (role ``airlock.incident.notify``) send to
these and read what arrived:

* ``<dir>/mail.jsonl``: one line per message the SMTP server accepted
  (``mail_from``, ``rcpt_tos``, ``subject``, ``body``, and ``attachments``
  with ``filename``, ``content_type`` and the content as UTF-8 text);
* ``<dir>/auth.jsonl``: one line per SMTP login (``mechanism``, ``login``; AUTH is
  offered without TLS, on loopback only);
* ``<dir>/http.jsonl``: one line per request the HTTP receiver answered
  (``path``, ``content_type``, ``body`` parsed as JSON when it is, ``status``
  answered).

The HTTP receiver answers 200, except ``/fail/...`` (always 500) and
``/flaky/N/...`` (500 for the first N requests to that path, then 200).
``<dir>/receivers.json`` holds the ports, a ``dead_port`` nothing listens on
and the pid.

    python lab/bin/airlock-receivers --dir DIR start   # returns once both listen
    python lab/bin/airlock-receivers --dir DIR start --http-port N   # the HTTP receiver on port N
                                                                   # (a port that was dead comes alive)
    python lab/bin/airlock-receivers --dir DIR stop    # signals the pid it recorded
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = "receivers.json"


def _append(path: str, record: t.Dict[str, t.Any], lock: threading.Lock) -> None:
    with lock:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class _MailHandler:
    def __init__(self, path: str, lock: threading.Lock) -> None:
        self.path, self.lock = path, lock

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:  # noqa: N802 (aiosmtpd API)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain", "html"))
        body = part.get_content().replace("\r\n", "\n") if part is not None else ""
        attachments = [{"filename": item.get_filename(), "content_type": item.get_content_type(),
                        "content": (item.get_payload(decode=True) or b"").decode("utf-8", "replace")}
                       for item in message.iter_attachments()]
        record = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                  "subject": str(message.get("Subject", "")), "body": body}
        if attachments:
            record["attachments"] = attachments
        _append(self.path, record, self.lock)
        return "250 Message accepted for delivery"


def _authenticator(path: str, lock: threading.Lock) -> t.Callable[..., t.Any]:
    """Accept any login over plain text (loopback only) and record who logged in, never the password."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server: t.Any, session: t.Any, envelope: t.Any, mechanism: str, auth_data: t.Any) -> t.Any:
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else None
        _append(path, {"mechanism": mechanism, "login": login}, lock)
        return AuthResult(success=True)

    return authenticate


def _http_handler(path: str, lock: threading.Lock) -> t.Type[BaseHTTPRequestHandler]:
    seen: t.Dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: t.Any) -> None:
            return

        def _status(self) -> int:
            parts = self.path.strip("/").split("/")
            if parts[0] == "fail":
                return 500
            if parts[0] == "flaky" and len(parts) > 1 and parts[1].isdigit():
                with lock:
                    seen[self.path] = seen.get(self.path, 0) + 1
                    return 500 if seen[self.path] <= int(parts[1]) else 200
            return 200

        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            try:
                body: t.Any = json.loads(raw)
            except ValueError:
                body = raw
            status = self._status()
            _append(path, {"path": self.path, "content_type": self.headers.get("Content-Type"), "body": body,
                           "status": status}, lock)
            payload = b'{"status": "success"}' if status < 300 else b'{"error": "receiver told to fail"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(directory: str, http_port: int = 0) -> None:
    """Run both receivers until SIGTERM (HTTP on ``http_port``, 0 for any); write the state file once both listen."""
    from aiosmtpd.controller import Controller

    lock = threading.Lock()
    smtp = Controller(_MailHandler(os.path.join(directory, "mail.jsonl"), lock), hostname="127.0.0.1", port=_free_port(),
                      auth_require_tls=False, authenticator=_authenticator(os.path.join(directory, "auth.jsonl"), lock))
    smtp.start()
    http = ThreadingHTTPServer(("127.0.0.1", http_port), _http_handler(os.path.join(directory, "http.jsonl"), lock))
    threading.Thread(target=http.serve_forever, daemon=True).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    state = {"smtp_port": smtp.port, "http_port": http.server_address[1], "dead_port": _free_port(),
             "pid": os.getpid()}
    temp = os.path.join(directory, STATE + ".tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(temp, os.path.join(directory, STATE))
    done.wait()
    http.shutdown()
    smtp.stop()


def start(directory: str, timeout: float = 30.0, http_port: int = 0) -> t.Dict[str, t.Any]:
    os.makedirs(directory, exist_ok=True)
    state_path = os.path.join(directory, STATE)
    if os.path.exists(state_path):
        os.unlink(state_path)
    log = open(os.path.join(directory, "receivers.log"), "ab")
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--dir", directory, "--http-port",
                                str(http_port), "serve"],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                               close_fds=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(state_path):
            with open(state_path, encoding="utf-8") as handle:
                return dict(json.load(handle))
        if process.poll() is not None:
            raise SystemExit("receivers exited with %s; see %s/receivers.log" % (process.returncode, directory))
        time.sleep(0.05)
    process.terminate()
    raise SystemExit("receivers did not start within %ss" % timeout)


def stop(directory: str) -> None:
    """Stop the receivers this directory recorded (only that pid, only if it is our serve process)."""
    state_path = os.path.join(directory, STATE)
    if not os.path.exists(state_path):
        return
    with open(state_path, encoding="utf-8") as handle:
        pid = int(json.load(handle)["pid"])
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().split(b"\0")
    except OSError:
        cmdline = []
    if b"serve" in cmdline and any(arg.endswith(b"receivers.py") for arg in cmdline):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.05)
    os.unlink(state_path)


def main(argv: t.Optional[t.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="SMTP and HTTP receivers on loopback for delivery tests")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--http-port", type=int, default=0, help="port of the HTTP receiver (default: any free one)")
    parser.add_argument("command", choices=["start", "stop", "serve"])
    args = parser.parse_args(argv)
    directory = os.path.abspath(args.dir)
    if args.command == "serve":
        serve(directory, args.http_port)
    elif args.command == "start":
        print(json.dumps(start(directory, http_port=args.http_port)))
    else:
        stop(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
