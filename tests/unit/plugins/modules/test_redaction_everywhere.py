# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Secrets beyond health/config/policy (issue #16, item 4): evidence URLs and the Kubernetes modules.

Every test plants a credential where a real server or a real user would put it
(a kubeconfig token echoed by the API server, URL userinfo, a token in a query
string) and asserts that the credential appears nowhere in what the module
returns, nor in the manifest it writes.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core import redact
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import kubeconfig_secrets
from ansible_collections.airlock.incident.plugins.modules import evidence, k8s_scale, k8s_triage
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.airlock_db_factory import run_module

KUBE_TOKEN = "kube-t0ken-0123456789abcdef"
KUBE_PASSWORD = "kub3-passw0rd-value"
URL_PASSWORD = "pa55word-in-userinfo"
QUERY_TOKEN = "t0k3n-in-the-query-string"


class EchoApi(ThreadingHTTPServer):
    """An API server that answers 403 and echoes the credentials it was sent, as a misconfigured proxy does."""

    daemon_threads = True

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                auth = self.headers.get("Authorization", "")
                token = auth.split(None, 1)[1] if " " in auth else auth
                body = json.dumps({"kind": "Status", "code": 403,
                                   "message": "token %s (header %s) may not read %s" % (token, auth, self.path)}).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_PATCH = do_POST = do_DELETE = do_GET

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]


@pytest.fixture
def echo_api():
    server = EchoApi()
    yield server
    server.shutdown()
    server.server_close()


def kubeconfig(path, server, user):
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    return str(path)


def assert_no_secret(result, *secrets):
    text = json.dumps(result)
    for secret in secrets:
        assert secret not in text, "%s leaked in %s" % (secret, text)


@pytest.mark.parametrize("main, args", [
    (k8s_scale.main, {"replicas": 2, "incident_id": "INC-1", "confirm": "INC-1", "wait": False}),
    (k8s_triage.main, {}),
])
def test_a_kubeconfig_token_echoed_by_the_api_server_is_masked(tmp_path, echo_api, main, args):
    config = kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:%d" % echo_api.port, {"token": KUBE_TOKEN})
    result = run_module(main, dict(args, kubeconfig=config))
    assert result.get("failed") is True
    # the server's answer is in the message, with the token masked (bare and as a Bearer header)
    assert "may not read" in result["msg"] and "***" in result["msg"]
    assert_no_secret(result, KUBE_TOKEN)


def test_a_password_in_the_api_server_url_is_masked(tmp_path, echo_api):
    server = "http://admin:%s@127.0.0.1:%d" % (KUBE_PASSWORD, echo_api.port)
    config = kubeconfig(tmp_path / "kubeconfig", server, {"token": KUBE_TOKEN})
    result = run_module(k8s_scale.main, {"replicas": 2, "incident_id": "INC-1", "confirm": "INC-1", "wait": False,
                                         "kubeconfig": config})
    assert result.get("failed") is True
    assert_no_secret(result, KUBE_PASSWORD, KUBE_TOKEN)


def test_kubeconfig_secrets_lists_tokens_passwords_and_url_credentials():
    class Cfg:
        api_key = {"authorization": "Bearer abc-token"}
        password = "pw-value"
        host = "https://u:url-pass@api.example:6443/?token=qtok"

    assert set(kubeconfig_secrets(Cfg())) == {"Bearer abc-token", "abc-token", "pw-value", "url-pass", "qtok"}


def test_learn_outside_a_run_changes_nothing_and_inside_masks():
    redact.learn(["not-in-any-run"])

    class Module:
        params = {}
        no_log_values = set()

        def warn(self, text):
            self.warned = text

    module = Module()

    def run(mod):
        redact.learn(["learned-secret-1"])
        mod.warn("saw learned-secret-1")
        return {"msg": "learned-secret-1 and not-in-any-run"}

    result = redact.redacting(run)(module)
    assert result["msg"] == "*** and not-in-any-run"
    assert module.warned == "saw ***"


def test_evidence_url_credentials_never_reach_the_result(tmp_path):
    url = "http://user:%s@127.0.0.1:1/ready?token=%s" % (URL_PASSWORD, QUERY_TOKEN)
    result = run_module(evidence.main, {"path": str(tmp_path / "bundle"), "incident_id": "INC-1",
                                        "items": [{"name": "ready.json", "url": url}]})
    assert result.get("failed") is True and "fetching" in result["msg"]
    assert "token=***" in result["msg"]
    assert_no_secret(result, URL_PASSWORD, QUERY_TOKEN)


def test_evidence_records_the_url_without_its_credentials(tmp_path):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            body = b'{"status":"ready"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://user:%s@127.0.0.1:%d/ready?access_token=%s&x=1" % (URL_PASSWORD, server.server_address[1],
                                                                         QUERY_TOKEN)
        bundle = tmp_path / "bundle"
        result = run_module(evidence.main, {"path": str(bundle), "incident_id": "INC-1",
                                            "items": [{"name": "ready.json", "url": url}]})
    finally:
        server.shutdown()
        server.server_close()
    assert "failed" not in result, result["msg"]
    manifest = (bundle / "manifest.json").read_text()
    assert "/ready?access_token=***&x=1" in manifest
    assert_no_secret(result, URL_PASSWORD, QUERY_TOKEN)
    for path in bundle.rglob("*"):
        if path.is_file():
            assert QUERY_TOKEN not in path.read_text(errors="replace") and URL_PASSWORD not in path.read_text(
                errors="replace"), path
