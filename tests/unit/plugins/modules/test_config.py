# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airlock.incident.config end to end: real files, a real restart command, a real HTTP service.

``Service`` is a stand-in Airlock on 127.0.0.1: its ``restart`` command (a real
process) reads the config the way Airlock does at start and records whether
the process would be up (an audit database directory that does not exist is
fatal, as in Airlock). ``/live`` and ``/ready`` answer from that record.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import threading

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.airlock.incident.plugins.modules import config as config_module

try:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
except ImportError:  # pragma: no cover
    from http.server import BaseHTTPRequestHandler, HTTPServer as ThreadingHTTPServer

CONFIG = """\
# Airlock host config
server:
  addr: ":8080"
  timeouts:
    read: 30s

policy:
  rego_file: /etc/airlock/policy.rego
  cache_ttl: 1m

rate_limiting:
  per_token: "200/min"
  per_ip: "1000/min"
  burst: 50

audit:
  backend: sqlite
  database: {db}
  retention: 720h

observability:
  logging:
    level: info
    format: json
"""

SETTINGS = {
    "rate_limiting": {"per_token": "10/min", "per_ip": "50/min"},
    "observability": {"logging": {"level": "debug"}},
}

# What the stand-in Airlock does at start: load and validate config.yaml,
# open the audit database; exit 1 (like `airlock-lab restart`) when it cannot.
RESTART = r"""
import json, os, sys
import yaml
state_path, config_path = sys.argv[1], sys.argv[2]
with open(state_path) as handle:
    state = json.load(handle)
state["restarts"] += 1
try:
    with open(config_path) as handle:
        document = yaml.safe_load(handle) or {}
    database = ((document.get("audit") or {}).get("database")) or ""
    up = bool((document.get("server") or {}).get("addr")) and os.path.isdir(os.path.dirname(database))
except Exception:
    up = False
state["live"] = state["ready"] = up
state["loaded"] = open(config_path).read() if up else None
with open(state_path, "w") as handle:
    json.dump(state, handle)
if not up:
    sys.stderr.write("Failed to initialize audit logger\n")
    sys.exit(1)
"""


class Service(object):
    def __init__(self, root):
        self.state_path = str(root / "service-state.json")
        self.write({"restarts": 0, "live": True, "ready": True, "loaded": None})
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                state = service.read()
                name = self.path.strip("/")
                up = state.get(name) if name in ("live", "ready") else None
                if not state["live"]:
                    self.send_error(502)  # nothing behind the port
                    return
                body = json.dumps({"status": "ready" if up else "not_ready"}).encode()
                self.send_response(200 if up else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def read(self):
        with open(self.state_path) as handle:
            return json.load(handle)

    def write(self, state):
        with open(self.state_path, "w") as handle:
            json.dump(state, handle)

    def restart_command(self, config_path):
        return [sys.executable, "-c", RESTART, self.state_path, config_path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def lab(tmp_path):
    (tmp_path / "data").mkdir()
    path = tmp_path / "etc" / "config.yaml"
    path.parent.mkdir()
    path.write_text(CONFIG.format(db=tmp_path / "data" / "audit.db"))
    service = Service(tmp_path)
    yield {"path": str(path), "service": service, "backups": str(tmp_path / "evidence" / "backups"),
           "original": path.read_bytes(), "root": tmp_path}
    service.close()


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            config_module.main()
    result = json.loads(capsys.readouterr().out)
    result["_rc"] = exited.value.code
    return result


def warnings_of(result):
    """Warning texts (ansible-core 2.19 returns WarningSummary objects, older versions strings)."""
    texts = []
    for warning in result.get("warnings", []):
        if isinstance(warning, dict):
            warning = (warning.get("event") or {}).get("msg") or warning.get("msg") or json.dumps(warning)
        texts.append(warning)
    return texts


def restarting(lab, **extra):
    args = dict(path=lab["path"], settings=SETTINGS, incident_id="INC-7", backup_dir=lab["backups"],
                restart="command", restart_command=lab["service"].restart_command(lab["path"]),
                verify_url=lab["service"].url, verify_timeout=5)
    args.update(extra)
    return args


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


# --------------------------------------------------------------------------- check mode, apply, rerun


def test_check_mode_reports_the_change_and_touches_nothing(lab, capsys):
    result = run_module(capsys, _ansible_check_mode=True, _ansible_diff=True, **restarting(lab))
    assert result["_rc"] == 0 and result["changed"] is True
    assert result["changed_keys"] == ["observability.logging.level", "rate_limiting.per_ip", "rate_limiting.per_token"]
    assert result["would_restart"] is True and result["restarted"] is False
    assert result["backup_path"] is None
    assert 'per_token: "10/min"' in result["diff"]["after"] and 'per_token: "200/min"' in result["diff"]["before"]
    assert read(lab["path"]) == lab["original"]
    assert not os.path.exists(lab["backups"])
    assert lab["service"].read()["restarts"] == 0


def test_apply_merges_backs_up_restarts_and_verifies_then_a_rerun_does_nothing(lab, capsys):
    os.chmod(lab["path"], 0o640)
    result = run_module(capsys, **restarting(lab))
    assert result["_rc"] == 0, result
    assert result["changed"] and result["restarted"] and result["verified"] and not result["rolled_back"]
    document = yaml.safe_load(read(lab["path"]))
    assert document["rate_limiting"] == {"per_token": "10/min", "per_ip": "50/min", "burst": 50}
    assert document["observability"]["logging"] == {"level": "debug", "format": "json"}
    assert document["server"]["addr"] == ":8080" and document["audit"]["retention"] == "720h"
    assert read(lab["path"]).startswith(b"# Airlock host config\n")
    assert stat.S_IMODE(os.stat(lab["path"]).st_mode) == 0o640
    # the backup is the previous content, named with the incident, the UTC time and the sha256
    backup = result["backup_path"]
    assert read(backup) == lab["original"]
    name = os.path.basename(backup)
    assert name.startswith("config.yaml.INC-7.") and name.endswith(".bak")
    assert result["sha256_before"][:16] in name
    metadata = json.loads(read(backup + ".json"))
    assert metadata["incident_id"] == "INC-7" and metadata["sha256"] == result["sha256_before"]
    assert metadata["changed_keys"] == result["changed_keys"]
    state = lab["service"].read()
    assert state["restarts"] == 1 and state["loaded"].encode() == read(lab["path"])

    again = run_module(capsys, **restarting(lab))
    assert again["_rc"] == 0 and again["changed"] is False and again["changed_keys"] == []
    assert again["restarted"] is False and again["backup_path"] is None
    assert lab["service"].read()["restarts"] == 1
    assert len([n for n in os.listdir(lab["backups"]) if n.endswith(".bak")]) == 1


def test_without_restart_the_file_changes_and_a_warning_says_when_it_applies(lab, capsys):
    result = run_module(capsys, path=lab["path"], settings={"policy": {"cache_ttl": "10m"}})
    assert result["_rc"] == 0 and result["changed"] and result["changed_keys"] == ["policy.cache_ttl"]
    assert not result["restarted"] and not result["verified"]
    assert any("takes effect at the next restart" in w for w in warnings_of(result))
    # the default backup directory is the file's own
    assert os.path.dirname(result["backup_path"]) == os.path.dirname(lab["path"])


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("settings,expected", [
    ({"server": {"maxConnections": 1000, "maxClients": 500}},
     ["settings: server.maxConnections: unknown key", "compiled in", "settings: server.maxClients"]),
    ({"policy": {"cacheTTL": "10m", "cacheSize": 20000}},
     ["settings: policy.cacheTTL: unknown key", "use policy.cache_ttl", "settings: policy.cacheSize"]),
    ({"logging": {"level": "debug", "audit_all_requests": True}},
     ["settings: logging: unknown key", "did you mean observability.logging"]),
    ({"monitoring": {"enhanced": True}}, ["settings: monitoring: unknown key"]),
    ({"audit": {"retention": "30d"}}, ['audit.retention: time: unknown unit "d" in duration "30d"', "720h"]),
    ({"observability": {"logging": {"level": "verbose"}}},
     ["observability.logging.level: invalid value 'verbose'; accepted values: debug, info, warn, error"]),
    ({"observability": {"logging": {"format": "xml"}}}, ["observability.logging.format", "json, text"]),
    ({"audit": {"backend": "mysql"}}, ["audit.backend", "sqlite, postgresql"]),
    ({"audit": {"export_format": "csv"}}, ["audit.export_format", "jsonl, json"]),
    ({"auth": {"jwks_cache_ttl": "2h"}}, ["auth.jwks_cache_ttl: '2h' is out of range (1m to 1h)"]),
    ({"auth": {"clock_skew": "5s"}}, ["auth.clock_skew: '5s' is out of range (30s to 10m)"]),
    ({"rate_limiting": {"burst": 0}}, ["rate_limiting.burst: 0 is below the minimum 1"]),
    ({"rate_limiting": {"per_ip": "lots"}}, ["rate_limiting.per_ip: invalid rate 'lots'"]),
    ({"server": None}, ["server.addr is required"]),
    ({"server": {"addr": ""}}, ["server.addr is required"]),
])
def test_bad_settings_are_refused_before_anything_is_touched(lab, capsys, settings, expected):
    result = run_module(capsys, **restarting(lab, settings=settings))
    assert result["_rc"] == 1 and result["failed"] and not result["changed"]
    assert result["msg"].startswith("refusing to change %s, nothing was touched: " % lab["path"])
    for text in expected:
        assert text in result["msg"], (text, result["msg"])
    assert read(lab["path"]) == lab["original"]
    assert not os.path.exists(lab["backups"])
    assert lab["service"].read()["restarts"] == 0


def test_unknown_keys_already_in_the_file_are_warnings_not_blockers(lab, capsys):
    with open(lab["path"], "a") as handle:
        handle.write("monitoring:\n  enhanced: true\n")
    result = run_module(capsys, path=lab["path"], settings={"policy": {"cache_ttl": "5m"}})
    assert result["_rc"] == 0 and result["changed"]
    assert any(w.startswith("already in the file: monitoring: unknown key") for w in warnings_of(result))


@pytest.mark.parametrize("args,message", [
    (dict(settings=None), "settings: required"),
    (dict(restart="command", restart_command=None), "restart_command: required"),
    (dict(restart="systemd", service_name=None), "service_name: required when restart=systemd"),
    (dict(incident_id="INC 7; rm -rf /"), "incident_id: invalid value"),
    (dict(verify_url="127.0.0.1:8080"), "verify_url: invalid value"),
    (dict(verify_timeout=0), "verify_timeout: invalid value 0.0"),
    (dict(state="reverted", incident_id=None), "incident_id: required when state=reverted"),
    (dict(restart="signal"), "value of restart must be one of: none, command, systemd"),
])
def test_bad_options_fail_naming_the_field(lab, capsys, args, message):
    base = dict(path=lab["path"], settings=SETTINGS, incident_id="INC-7")
    base.update(args)
    result = run_module(capsys, **base)
    assert result["_rc"] == 1 and message in result["msg"], result["msg"]
    assert read(lab["path"]) == lab["original"]


def test_a_missing_or_broken_file_is_reported(lab, capsys):
    missing = run_module(capsys, path=lab["path"] + ".nope", settings=SETTINGS)
    assert missing["_rc"] == 1 and "does not exist" in missing["msg"]
    with open(lab["path"], "w") as handle:
        handle.write("server: [\n")
    broken = run_module(capsys, path=lab["path"], settings=SETTINGS)
    assert broken["_rc"] == 1 and "cannot parse the YAML" in broken["msg"]
    assert read(lab["path"]) == b"server: [\n"


# --------------------------------------------------------------------------- rollback


def test_a_change_that_kills_the_service_is_rolled_back(lab, capsys):
    result = run_module(capsys, **restarting(lab, settings={"audit": {"database": "/nonexistent/dir/audit.db"}}))
    assert result["_rc"] == 1 and result["failed"]
    assert result["rolled_back"] is True and result["verified"] is False
    assert "Failed to initialize audit logger" in result["msg"]
    assert "rolled back: restored %s from %s" % (lab["path"], result["backup_path"]) in result["msg"]
    assert "the service is live and ready again" in result["msg"]
    assert read(lab["path"]) == lab["original"]
    state = lab["service"].read()
    assert state["restarts"] == 2 and state["live"] and state["ready"]
    assert state["loaded"].encode() == lab["original"]


def test_a_service_that_stays_unready_is_rolled_back(lab, capsys):
    # the restart command succeeds, but /ready answers 503 until the timeout
    never_ready = [sys.executable, "-c",
                   "import json,sys; p=sys.argv[1]; s=json.load(open(p)); s['restarts']+=1; "
                   "s['ready']=s['restarts']>1; json.dump(s,open(p,'w'))", lab["service"].state_path]
    result = run_module(capsys, **restarting(lab, restart_command=never_ready, verify_timeout=1.5))
    assert result["_rc"] == 1 and result["rolled_back"]
    assert "did not become live and ready within 1.5s" in result["msg"] and "/ready HTTP 503" in result["msg"]
    assert read(lab["path"]) == lab["original"]
    assert lab["service"].read()["restarts"] == 2


# --------------------------------------------------------------------------- revert


def test_revert_restores_the_incident_backup_and_is_idempotent(lab, capsys):
    first = run_module(capsys, **restarting(lab))
    assert first["changed"]
    second = run_module(capsys, **restarting(lab, settings={"policy": {"cache_ttl": "10m"}}))
    assert second["changed"] and second["backup_path"] != first["backup_path"]
    after_second = read(lab["path"])

    check = run_module(capsys, _ansible_check_mode=True, **restarting(lab, state="reverted", settings=None))
    assert check["changed"] and check["changed_keys"] == ["policy.cache_ttl"]
    assert read(lab["path"]) == after_second

    newest = run_module(capsys, **restarting(lab, state="reverted", settings=None))
    assert newest["_rc"] == 0 and newest["changed"] and newest["verified"]
    assert read(lab["path"]) == read(second["backup_path"])
    assert yaml.safe_load(read(lab["path"]))["policy"]["cache_ttl"] == "1m"
    again = run_module(capsys, **restarting(lab, state="reverted", settings=None))
    assert again["changed"] is False

    oldest = run_module(capsys, **restarting(lab, state="reverted", settings=None, revert_to="oldest"))
    assert oldest["changed"] and read(lab["path"]) == lab["original"]
    assert lab["service"].read()["restarts"] == 4
    # every previous content is still there: nothing was overwritten
    kept = sorted(n for n in os.listdir(lab["backups"]) if n.endswith(".bak"))
    assert len(kept) == 4


def test_a_rolled_back_change_is_not_what_revert_restores(lab, capsys):
    applied = run_module(capsys, **restarting(lab))
    assert applied["changed"]
    after_change = read(lab["path"])
    failed = run_module(capsys, **restarting(lab, settings={"audit": {"database": "/nonexistent/audit.db"}}))
    assert failed["rolled_back"] and read(lab["path"]) == after_change
    assert json.loads(read(failed["backup_path"] + ".json"))["rolled_back"] is True
    reverted = run_module(capsys, **restarting(lab, state="reverted", settings=None))
    assert reverted["changed"] and read(lab["path"]) == lab["original"]


def test_revert_without_a_backup_for_the_incident_fails(lab, capsys):
    run_module(capsys, **restarting(lab))
    result = run_module(capsys, **restarting(lab, state="reverted", settings=None, incident_id="INC-8"))
    assert result["_rc"] == 1 and "no backup of %s for incident INC-8" % lab["path"] in result["msg"]


def test_a_symlinked_config_is_written_through(lab, capsys):
    link = str(lab["root"] / "config-link.yaml")
    os.symlink(lab["path"], link)
    result = run_module(capsys, path=link, settings={"policy": {"cache_ttl": "2m"}})
    assert result["_rc"] == 0 and result["changed"]
    assert os.path.islink(link)
    assert yaml.safe_load(read(lab["path"]))["policy"]["cache_ttl"] == "2m"


# --------------------------------------------------------------------------- secrets and the schema bypass

UPSTREAM_SECRET = "ghp_SuperSecretUpstreamValue123"
FILE_SECRET = "sk-live-AlreadyInTheFile-456"


def test_secrets_under_upstreams_env_never_appear_even_with_diff(lab, capsys):
    with open(lab["path"], "a") as handle:
        handle.write("upstreams:\n  - name: old\n    type: stdio\n    command: [old-mcp]\n"
                     "    env:\n      OLD_KEY: %s\n" % FILE_SECRET)
    settings = {"upstreams": [{"name": "github", "type": "stdio", "command": ["github-mcp"],
                               "env": {"GITHUB_TOKEN": UPSTREAM_SECRET + "\n"}}]}
    for check_mode in (True, False):
        result = run_module(capsys, _ansible_check_mode=check_mode, _ansible_diff=True,
                            **restarting(lab, settings=settings))
        text = json.dumps(result)
        assert result["_rc"] == 0 and result["changed"] is True and "diff" in result
        assert UPSTREAM_SECRET not in text and FILE_SECRET not in text
        assert re.search(r"GITHUB_TOKEN: ['\"]?\*\*\*", result["diff"]["after"]), result["diff"]["after"]
        assert re.search(r"OLD_KEY: \*\*\*", result["diff"]["before"]), result["diff"]["before"]
    assert UPSTREAM_SECRET in read(lab["path"]).decode()  # the file itself holds the real value


@pytest.mark.parametrize("settings, expected", [
    ({"server.addr": ":9090"}, "settings: key 'server.addr' contains a dot"),
    ({"server": {"timeouts.read": "5s"}}, "settings: key 'server.timeouts.read' contains a dot"),
    ("server.addr=:9090", "settings: invalid value of type str; accepted: a mapping (dict)"),
    (["server"], "settings: invalid value of type list; accepted: a mapping (dict)"),
])
def test_settings_that_bypass_the_schema_are_refused(lab, capsys, settings, expected):
    result = run_module(capsys, **restarting(lab, settings=settings))
    assert result["_rc"] == 1 and result["msg"].startswith(expected), result["msg"]
    assert read(lab["path"]) == lab["original"] and lab["service"].read()["restarts"] == 0


def test_a_dotted_key_refusal_suggests_the_nested_form(lab, capsys):
    result = run_module(capsys, **restarting(lab, settings={"server.addr": ":9090"}))
    assert "write it nested, e.g. {server: {addr: ...}}" in result["msg"]


ALIAS_BOMB = ('server:\n  addr: ":8080"\n'
              'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
              'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
              'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
              'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n'
              'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n'
              'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n')


@pytest.mark.parametrize("content, why", [
    (ALIAS_BOMB, "its aliases expand to more than 100000 nodes"),
    ('server:\n  addr: ":8080"\ndeep: ' + "[" * 100 + "]" * 100 + "\n", "it nests deeper than 64 levels"),
])
def test_a_yaml_bomb_is_refused_naming_the_field(lab, capsys, content, why):
    with open(lab["path"], "w") as handle:
        handle.write(content)
    result = run_module(capsys, **restarting(lab))
    assert result["_rc"] == 1 and result["msg"].startswith("path: %s: refusing the YAML document: " % lab["path"])
    assert why in result["msg"] and result["msg"].endswith("nothing was changed")
    assert read(lab["path"]).decode() == content and lab["service"].read()["restarts"] == 0
