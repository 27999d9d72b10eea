# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped rulebook under ansible-rulebook: an Alertmanager webhook posted on loopback starts the outage
playbook against the lab Airlock, once, however many of its alerts fire.

No step depends on timing: the test waits (with a deadline that only bounds a failure) for things that
happen: the webhook listening, the URL check's first probe in the gateway's log, and the rulebook's
report of the resolved alert that was posted last (the ruleset runs its actions one after another, so
every earlier action has finished by then).
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import yaml

from conftest import runner_env

DEADLINE = 600.0


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what, check, proc, log_path):
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if check():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        output = handle.read()
    raise AssertionError("%s did not happen (ansible-rulebook rc=%s):\n%s" % (what, proc.poll(), output[-6000:]))


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class HealthyProbeTarget:
    """A loopback HTTP server answering 200 that counts the URL check's probes (the lab does not log them)."""

    def __init__(self):
        target = self
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
                target.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def post(port, payload):
    request = urllib.request.Request("http://127.0.0.1:%d/alerts" % port, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert 200 <= resp.status < 300


def alertmanager(status, *names):
    """An Alertmanager webhook payload (version 4) with one alert per name."""
    alerts = [{"status": status, "labels": {"alertname": name, "namespace": "airlock-system", "severity": "critical"},
               "annotations": {"summary": name}, "startsAt": "2026-12-05T10:00:00Z",
               "fingerprint": "%016x" % index} for index, name in enumerate(names)]
    return {"version": "4", "status": status, "receiver": "airlock-incident", "groupKey": "{}:{}",
            "commonLabels": {"namespace": "airlock-system"}, "alerts": alerts}


def start_rulebook(tmp_path, lab, shared, port, check_url):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"airlock_gateways": {
        "hosts": {"gateway": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
        "vars": {"airlock_incident_service_manager": "command", "airlock_incident_directory": shared,
                 "airlock_incident_logs_command": lab.argv("logs", "--tail", "50")}}}}}))
    variables = tmp_path / "vars.yml"
    variables.write_text(yaml.safe_dump({"airlock_incident_url": lab.url, "airlock_alerts_host": "127.0.0.1",
                                         "airlock_alerts_port": port, "airlock_url_check_delay": 3600,
                                         "airlock_url_check_url": check_url}))
    env = dict(os.environ, **runner_env())
    env["HOME"] = str(tmp_path)
    log_path = str(tmp_path / "rulebook.log")
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(os.path.dirname(sys.executable), "ansible-rulebook"), "--rulebook",
             "airlock.incident.airlock_alerts", "-i", str(inventory), "--vars", str(variables)],
            cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log_path


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def finish(proc, log_path, port):
    """Post a resolved alert and wait for its report: every earlier action has finished then."""
    post(port, alertmanager("resolved", "HighErrorRate"))

    def reported():
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            return "resolved: HighErrorRate" in handle.read()

    wait_for("the resolved alert's report", reported, proc, log_path)


def assert_one_response(log_path, shared, lab):
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        output = handle.read()
    assert output.count("PLAY RECAP") == 1, "the alerts of one outage must start one response:\n" + output[-6000:]
    assert "failed=0" in output, output[-6000:]
    incidents = [n for n in os.listdir(shared) if not n.startswith(".")]
    assert len(incidents) == 1, incidents
    with open(os.path.join(shared, incidents[0], "incident.json"), encoding="utf-8") as handle:
        record = json.load(handle)
    # Declared with the triage findings, not recovered: the rulebook never allows recovery by itself.
    assert record["status"] == "INVESTIGATING"
    assert record["severity"] == "P0"
    assert lab.status() != 0


def test_alerts_on_the_webhook_start_one_outage_response(lab, tmp_path):
    shared = str(tmp_path / "incidents")
    port = free_port()
    target = HealthyProbeTarget()
    proc, log_path = start_rulebook(tmp_path, lab, shared, port, target.url)
    try:
        wait_for("the webhook listening", lambda: listening(port), proc, log_path)
        # The URL check found its target healthy (delay 3600: it never probes again): what follows is the webhook's.
        wait_for("the URL check's first probe", lambda: target.requests >= 2, proc, log_path)
        lab.run("drill", "down")
        post(port, alertmanager("firing", "HighErrorRate", "LowThroughput"))
        post(port, alertmanager("firing", "HighErrorRate"))
        finish(proc, log_path, port)
    finally:
        stop(proc)
        target.close()
    assert_one_response(log_path, shared, lab)


def test_url_check_of_a_down_gateway_starts_one_outage_response(lab, tmp_path):
    shared = str(tmp_path / "incidents")
    port = free_port()
    lab.run("drill", "down")
    proc, log_path = start_rulebook(tmp_path, lab, shared, port, lab.url)
    try:
        wait_for("the webhook listening", lambda: listening(port), proc, log_path)
        wait_for("the outage response", lambda: os.path.isdir(shared), proc, log_path)
        # The same outage also alerting through Alertmanager starts nothing more.
        post(port, alertmanager("firing", "HighErrorRate"))
        finish(proc, log_path, port)
    finally:
        stop(proc)
    assert_one_response(log_path, shared, lab)
