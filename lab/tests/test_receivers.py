# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The loopback notification receivers record what arrives, answer as told, and stop by their own pid."""

from __future__ import annotations

import json
import os
import smtplib
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest

LAUNCHER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin", "airlock-receivers")


def _cli(directory, command):
    done = subprocess.run([sys.executable, LAUNCHER, "--dir", str(directory), command], capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(done.stdout) if command == "start" else None


@pytest.fixture
def receivers(tmp_path):
    state = _cli(tmp_path, "start")
    yield tmp_path, state
    _cli(tmp_path, "stop")


def _lines(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_mail_and_login_are_recorded(receivers):
    directory, state = receivers
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "[P0] test", "a@example.com", "b@example.com"
    message.set_content("body text\n")
    message.add_attachment(b"<!DOCTYPE html>\n<p>report</p>\n", maintype="application", subtype="octet-stream",
                           filename="incident.html")
    with smtplib.SMTP("127.0.0.1", state["smtp_port"], timeout=10) as smtp:
        smtp.login("bot", "secret-password")
        smtp.send_message(message)
    mail = _lines(directory / "mail.jsonl")
    assert mail == [{"mail_from": "a@example.com", "rcpt_tos": ["b@example.com"], "subject": "[P0] test",
                     "body": "body text\n", "attachments": [{"filename": "incident.html",
                                                              "content_type": "application/octet-stream",
                                                              "content": "<!DOCTYPE html>\n<p>report</p>\n"}]}]
    auth = _lines(directory / "auth.jsonl")
    assert [entry["login"] for entry in auth] == ["bot"]
    assert "secret-password" not in (directory / "auth.jsonl").read_text()


def test_http_answers_as_told_and_records_bodies(receivers):
    directory, state = receivers
    base = "http://127.0.0.1:%d" % state["http_port"]
    assert _post(base + "/hook", {"a": 1}) == 200
    assert _post(base + "/fail/x", {}) == 500
    assert [_post(base + "/flaky/2/x", {"n": n}) for n in range(3)] == [500, 500, 200]
    posts = _lines(directory / "http.jsonl")
    assert [(p["path"], p["status"]) for p in posts] == [("/hook", 200), ("/fail/x", 500), ("/flaky/2/x", 500),
                                                         ("/flaky/2/x", 500), ("/flaky/2/x", 200)]
    assert posts[0]["body"] == {"a": 1}


def test_dead_port_refuses_and_stop_ends_the_process(tmp_path):
    state = _cli(tmp_path, "start")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", state["dead_port"]), timeout=5).close()
    _cli(tmp_path, "stop")
    assert not os.path.exists("/proc/%d" % state["pid"]) or open("/proc/%d/stat" % state["pid"]).read().split()[2] == "Z"
    assert not (tmp_path / "receivers.json").exists()
