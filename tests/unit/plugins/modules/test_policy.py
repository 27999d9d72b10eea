# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airlock.incident.policy end to end: the real Rego engine, real files, real processes and signals.

``Service`` stands in for Airlock on 127.0.0.1. Its "process" is a real child
process (a sleeper whose PID is in a PID file, killed by SIGHUP like the
released Airlock); ``/live`` answers while it runs. ``/ready`` is 503 when the
loaded policy failed to load, as in builds that check the policy: loading
evaluates the whole ``data.airlock.authz`` package with an empty input, with
regopy, like the lab's documented profile. ``/admin/policy/reload`` exists only
when the test enables it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.airlock.incident.plugins.modules import policy as policy_module

try:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
except ImportError:  # pragma: no cover
    from http.server import BaseHTTPRequestHandler, HTTPServer as ThreadingHTTPServer

GOOD = """\
package airlock.authz

import rego.v1

default allow := false

user_tools := {"search_docs", "read_file"}

is_user if "mcp-users" in input.groups

allow if {
    is_user
    input.method == "tools/call"
    input.tool in user_tools
}

allow if {
    is_user
    input.method == "tools/list"
}
"""

GOOD_V2 = GOOD.replace('{"search_docs", "read_file"}', '{"search_docs"}')

DENY_ALL = """\
package airlock.authz

import rego.v1

default allow := false

allow if {
    input.token.sub != ""
    startswith(input.path, "/mcp")
}
"""

SYNTAX_ERROR = GOOD.replace("allow if {\n    is_user\n    input.method == \"tools/list\"\n}\n",
                            "allow if {\n    is_user\n    input.method == \"tools/list\"\n")

# compiles, passes the known requests, but loading it (whole package, empty
# input) is an eval_conflict_error: a checking build goes not-ready
BREAKS_READINESS = GOOD_V2 + """
mode := "anonymous" if not input.sub

mode := "no-tool" if not input.tool
"""

TESTS = [
    {"name": "user reads a file", "expect": "allow",
     "input": {"sub": "alice", "tenant": "acme", "groups": ["mcp-users"], "tool": "search_docs",
               "resource": "", "method": "tools/call", "headers": {}}},
    {"name": "user cannot run admin tools", "expect": "deny",
     "input": {"sub": "alice", "tenant": "acme", "groups": ["mcp-users"], "tool": "admin_exec",
               "resource": "", "method": "tools/call", "headers": {}}},
    {"name": "stranger lists nothing", "expect": "deny",
     "input": {"sub": "bob", "tenant": "acme", "groups": [], "tool": "", "resource": "",
               "method": "tools/list", "headers": {}}},
]

SLEEPER = "import time\nwhile True:\n    time.sleep(1)\n"

# The stand-in's (re)start: stop the old process, load the policy like a
# checking build, start a new process, write the PID file.
RESTART = r"""
import json, os, signal, subprocess, sys, time
state_path, policy_path, pid_file = sys.argv[1:4]
with open(state_path) as handle:
    state = json.load(handle)
if state.get("pid"):
    try:
        os.kill(state["pid"], signal.SIGTERM)
        os.waitpid(state["pid"], 0)
    except OSError:
        pass
import regopy
interpreter = regopy.Interpreter()
try:
    interpreter.add_module("airlock.rego", open(policy_path).read())
    interpreter.set_input_term("{}")
    output = str(interpreter.query("x := data.airlock.authz"))
    loaded = output.startswith("{")
except Exception:
    loaded = False
# the stand-in dies on SIGHUP like the release, even when the shell that started the tests ignores it (nohup)
signal.signal(signal.SIGHUP, signal.SIG_DFL)
# argv[0] "airlock": the name the policy module verifies before it signals the PID
child = subprocess.Popen(["airlock", "-c", "import time\nwhile True:\n    time.sleep(1)\n"],
                         executable=sys.executable, start_new_session=True)
state.update(restarts=state["restarts"] + 1, pid=child.pid, policy_loaded=loaded,
             loaded_sha256=__import__("hashlib").sha256(open(policy_path, "rb").read()).hexdigest())
with open(pid_file, "w") as handle:
    handle.write("%d\n" % child.pid)
with open(state_path, "w") as handle:
    json.dump(state, handle)
"""


def alive(pid):
    try:
        finished = os.waitpid(pid, os.WNOHANG)[0]
    except ChildProcessError:
        finished = 0
        try:
            os.kill(pid, 0)
        except OSError:
            return False
    if finished == pid:
        return False
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


class Service(object):
    def __init__(self, root, policy_path, admin_token=None):
        self.root = root
        self.state_path = str(root / "service.json")
        self.pid_file = str(root / "airlock.pid")
        self.policy_path = policy_path
        self.admin_token = admin_token
        self.admin_calls = []
        with open(self.state_path, "w") as handle:
            json.dump({"restarts": 0, "pid": None}, handle)
        subprocess.check_call(self.restart_command())
        service = self

        class Handler(BaseHTTPRequestHandler):
            def reply(self, status, document):
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                state = service.state()
                if not alive(state["pid"]):
                    self.send_error(502, "airlock is not running")
                    return
                if self.path == "/live":
                    self.reply(200, {"status": "alive"})
                elif self.path == "/ready":
                    ok = state["policy_loaded"]
                    self.reply(200 if ok else 503, {"status": "ready" if ok else "not_ready",
                                                    "checks": {"policy": "ok" if ok else "unhealthy"}})
                else:
                    self.reply(404, {"error": "not found"})

            def do_POST(self):
                if self.path != "/admin/policy/reload" or service.admin_token is None:
                    self.reply(404, {"error": "not found"})
                    return
                service.admin_calls.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != "Bearer %s" % service.admin_token:
                    self.reply(401, {"error": "unauthorized"})
                    return
                # a reload that keeps the previous policy when the new one fails to load
                subprocess.check_call(service.restart_command())
                state = service.state()
                self.reply(200 if state["policy_loaded"] else 422, {"policy_sha256": state["loaded_sha256"]})

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def restart_command(self):
        return [sys.executable, "-c", RESTART, self.state_path, self.policy_path, self.pid_file]

    def state(self):
        with open(self.state_path) as handle:
            return json.load(handle)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        pid = self.state().get("pid")
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def lab(tmp_path):
    dest = tmp_path / "etc" / "policy.rego"
    dest.parent.mkdir()
    dest.write_text(GOOD)
    service = Service(tmp_path, str(dest))
    yield {"dest": str(dest), "service": service, "backups": str(tmp_path / "evidence"), "root": tmp_path}
    service.close()


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            policy_module.main()
    result = json.loads(capsys.readouterr().out)
    result["_rc"] = exited.value.code
    return result


def warnings_of(result):
    texts = []
    for warning in result.get("warnings", []):
        if isinstance(warning, dict):
            warning = (warning.get("event") or {}).get("msg") or warning.get("msg") or json.dumps(warning)
        texts.append(warning)
    return texts


def deploy(lab, content, **extra):
    args = dict(content=content, dest=lab["dest"], tests=TESTS, incident_id="INC-9", backup_dir=lab["backups"],
                reload="restart", restart_command=lab["service"].restart_command(),
                verify_url=lab["service"].url, verify_timeout=5)
    args.update(extra)
    return args


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- deploy


def test_a_good_policy_is_validated_deployed_restarted_and_verified_then_a_rerun_does_nothing(lab, capsys):
    result = run_module(capsys, **deploy(lab, GOOD_V2))
    assert result["_rc"] == 0, result["msg"]
    assert result["changed"] and result["reloaded"] and result["verified"] and not result["rolled_back"]
    assert [(d["name"], d["expected"], d["actual"], d["ok"]) for d in result["decisions"]] == [
        ("user reads a file", "allow", "allow", True),
        ("user cannot run admin tools", "deny", "deny", True),
        ("stranger lists nothing", "deny", "deny", True)]
    assert result["sha256_before"] == sha(GOOD) and result["sha256_after"] == sha(GOOD_V2)
    assert read(lab["dest"]).decode() == GOOD_V2
    assert read(result["backup_path"]).decode() == GOOD
    assert os.path.basename(result["backup_path"]).startswith("policy.rego.INC-9.")
    state = lab["service"].state()
    assert state["restarts"] == 2 and state["loaded_sha256"] == sha(GOOD_V2)
    assert result["engine"].startswith("regopy ")

    again = run_module(capsys, **deploy(lab, GOOD_V2))
    assert again["_rc"] == 0 and again["changed"] is False and again["reloaded"] is False
    assert again["sha256_before"] == again["sha256_after"] == sha(GOOD_V2)
    assert lab["service"].state()["restarts"] == 2


def test_check_mode_validates_and_shows_the_diff_without_touching_anything(lab, capsys):
    result = run_module(capsys, _ansible_check_mode=True, _ansible_diff=True, **deploy(lab, GOOD_V2))
    assert result["_rc"] == 0 and result["changed"] and not result["reloaded"]
    assert all(d["ok"] for d in result["decisions"])
    assert result["diff"]["before"] == GOOD and result["diff"]["after"] == GOOD_V2
    assert "would deploy the policy" in result["msg"] and "restart command" in result["msg"]
    assert read(lab["dest"]).decode() == GOOD
    assert not os.path.exists(lab["backups"])
    assert lab["service"].state()["restarts"] == 1


def test_src_on_the_host_is_deployed_to_a_new_dest(lab, capsys):
    src = lab["root"] / "candidate.rego"
    src.write_text(GOOD_V2)
    dest = str(lab["root"] / "new" / "policy.rego")
    os.mkdir(os.path.dirname(dest))
    result = run_module(capsys, src=str(src), dest=dest, tests=TESTS, reload="none")
    assert result["_rc"] == 0 and result["changed"] and result["sha256_before"] is None
    assert result["backup_path"] is None and read(dest).decode() == GOOD_V2
    assert any("keeps the previous policy until it is restarted" in w for w in warnings_of(result))


def test_restore_from_brings_back_the_last_policy_the_module_deployed(lab, capsys):
    deployed = run_module(capsys, **deploy(lab, GOOD_V2))
    assert deployed["_rc"] == 0 and read(deployed["deployed_copy"]).decode() == GOOD_V2
    with open(lab["dest"], "w") as handle:  # a broken policy, written by hand
        handle.write(DENY_ALL)
    args = deploy(lab, GOOD)
    args.pop("content")
    args["restore_from"] = os.path.dirname(deployed["deployed_copy"])
    check = run_module(capsys, _ansible_check_mode=True, **args)
    assert check["_rc"] == 0 and check["changed"] and read(lab["dest"]).decode() == DENY_ALL
    restored = run_module(capsys, **args)
    assert restored["_rc"] == 0 and restored["changed"] and restored["verified"], restored["msg"]
    assert read(lab["dest"]).decode() == GOOD_V2 and restored["restored_from"] == deployed["deployed_copy"]
    assert read(restored["backup_path"]).decode() == DENY_ALL
    assert [(c["kind"], c["ok"]) for c in restored["candidates"]] == [("deployed", True)]
    again = run_module(capsys, **args)
    assert again["_rc"] == 0 and not again["changed"]
    # nothing good left: every candidate refused with its reasons, nothing touched
    for name in os.listdir(lab["backups"]):
        if name.endswith(".bak"):
            os.chmod(os.path.join(lab["backups"], name), 0o600)
            with open(os.path.join(lab["backups"], name), "w") as handle:
                handle.write(DENY_ALL)
    refused = run_module(capsys, **args)
    assert refused["_rc"] == 1 and not refused["changed"] and read(lab["dest"]).decode() == GOOD_V2
    assert "restore_from: none of the" in refused["msg"] and all(not c["ok"] for c in refused["candidates"])


# --------------------------------------------------------------------------- refusals


def test_the_deny_all_sample_is_never_deployed(lab, capsys):
    result = run_module(capsys, **deploy(lab, DENY_ALL))
    assert result["_rc"] == 1 and not result["changed"]
    assert result["msg"].startswith("refusing to deploy the policy to %s, nothing was touched" % lab["dest"])
    assert "known request 'user reads a file': expected allow, got deny" in result["msg"]
    assert "the policy reads input.path, input.token, keys Airlock never sends" in result["errors"]
    assert [d["actual"] for d in result["decisions"]] == ["deny", "deny", "deny"]
    assert read(lab["dest"]).decode() == GOOD
    assert lab["service"].state()["restarts"] == 1 and not os.path.exists(lab["backups"])


@pytest.mark.parametrize("content,expected", [
    (SYNTAX_ERROR, "policy.rego:17:10: rego_parse_error: this is unclosed"),
    (GOOD_V2.replace("is_user\n    input.method == \"tools/list\"", "is_user\n    valid_method(input.method)"),
     "policy.rego:19:5: rego_type_error: undefined function valid_method"),
    (GOOD_V2.replace('input.method == "tools/list"', "input.method == wanted"),
     "policy.rego:19:21: rego_unsafe_var_error: var wanted is unsafe"),
    (GOOD_V2.replace("allow if {", "allow {"), "policy.rego:11:7: rego_parse_error: `if` keyword is required"),
    (GOOD_V2.replace("package airlock.authz", "package airlock.policy"),
     "declares package airlock.policy but Airlock queries data.airlock.authz.allow"),
])
def test_policies_that_do_not_compile_are_never_deployed(lab, capsys, content, expected):
    result = run_module(capsys, **deploy(lab, content))
    assert result["_rc"] == 1 and not result["changed"]
    assert any(expected in error for error in result["errors"]), result["errors"]
    assert result["decisions"] == []
    assert read(lab["dest"]).decode() == GOOD
    assert lab["service"].state()["restarts"] == 1


def test_rego_tests_must_all_pass(lab, capsys):
    tests_file = lab["root"] / "policy_test.rego"
    tests_file.write_text("package airlock.authz\n\nimport rego.v1\n\n"
                          "test_user_lists if {\n    allow with input as {\"groups\": [\"mcp-users\"], "
                          "\"method\": \"tools/list\"}\n}\n\n"
                          "test_user_reads_file if {\n    allow with input as {\"groups\": [\"mcp-users\"], "
                          "\"method\": \"tools/call\", \"tool\": \"read_file\"}\n}\n")
    # GOOD_V2 no longer allows read_file: the second test fails
    refused = run_module(capsys, **deploy(lab, GOOD_V2, run_rego_tests=True, test_files=[str(tests_file)]))
    assert refused["_rc"] == 1
    assert refused["rego_tests"] == {"test_user_lists": "pass", "test_user_reads_file": "fail"}
    assert "test_user_reads_file: FAIL" in refused["errors"]
    assert read(lab["dest"]).decode() == GOOD
    accepted = run_module(capsys, **deploy(lab, GOOD, run_rego_tests=True, test_files=[str(tests_file)],
                                           tests=TESTS[1:]))
    assert accepted["_rc"] == 0 and accepted["changed"] is False
    assert accepted["rego_tests"] == {"test_user_lists": "pass", "test_user_reads_file": "pass"}


@pytest.mark.parametrize("args,message", [
    (dict(tests=[{"input": {}, "expect": "maybe"}]), "expect must be one of: allow, deny"),
    (dict(tests=[{"expect": "allow"}]), "missing required arguments: input"),
    (dict(restart_command=None), "reload=restart needs restart_command"),
    (dict(reload="signal"), "reload=signal needs pid_file or reload_command"),
    (dict(reload="admin"), "reload=admin needs admin_url"),
    (dict(reload="reload"), "value of reload must be one of: restart, signal, admin, none"),
    (dict(incident_id="../../etc"), "incident_id: invalid value"),
    (dict(src="/nonexistent/policy.rego", content=None), "src: cannot read /nonexistent/policy.rego"),
    (dict(src="/x.rego"), "parameters are mutually exclusive: src|content"),
])
def test_bad_options_fail_naming_the_field_before_anything_is_touched(lab, capsys, args, message):
    options = deploy(lab, GOOD_V2)
    options.update(args)
    result = run_module(capsys, **dict((k, v) for k, v in options.items() if v is not None))
    assert result["_rc"] == 1 and message in result["msg"], result["msg"]
    assert read(lab["dest"]).decode() == GOOD


def test_known_requests_with_keys_airlock_never_sends_are_flagged(lab, capsys):
    tests = [{"name": "playbook style", "expect": "deny", "input": {"path": "/mcp", "token": {"sub": "x"}}}]
    result = run_module(capsys, **deploy(lab, GOOD, tests=tests))
    assert result["_rc"] == 0
    assert any("input keys path, token are never sent by Airlock" in w for w in warnings_of(result))


def test_without_known_requests_a_warning_says_only_compilation_was_checked(lab, capsys):
    result = run_module(capsys, **deploy(lab, GOOD, tests=None))
    assert result["_rc"] == 0 and result["decisions"] == []
    assert any("only compilation was checked" in w for w in warnings_of(result))


# --------------------------------------------------------------------------- rollback


def test_a_policy_that_makes_the_service_unready_is_rolled_back(lab, capsys):
    result = run_module(capsys, **deploy(lab, BREAKS_READINESS, verify_timeout=1.5))
    assert result["_rc"] == 1 and result["rolled_back"] and not result["verified"]
    assert all(d["ok"] for d in result["decisions"])  # validation could not see it
    assert "the service did not become live and ready within 1.5s" in result["msg"]
    assert "rolled back: restored %s from %s" % (lab["dest"], result["backup_path"]) in result["msg"]
    assert "the service is live and ready again" in result["msg"]
    assert read(lab["dest"]).decode() == GOOD and result["sha256_after"] == sha(GOOD)
    state = lab["service"].state()
    assert state["restarts"] == 3 and state["policy_loaded"] and state["loaded_sha256"] == sha(GOOD)


def test_sighup_kills_the_release_so_the_rollback_restarts_it(lab, capsys):
    old_pid = lab["service"].state()["pid"]
    result = run_module(capsys, **deploy(lab, GOOD_V2, reload="signal", pid_file=lab["service"].pid_file,
                                         verify_timeout=1.5))
    assert result["_rc"] == 1 and result["rolled_back"]
    assert "did not become live and ready" in result["msg"]
    assert "ran restart command" in result["msg"] and "live and ready again" in result["msg"]
    assert not alive(old_pid)
    assert read(lab["dest"]).decode() == GOOD
    assert lab["service"].state()["restarts"] == 2


def test_admin_reload_with_a_token_and_a_rejected_reload_rolls_back(lab, capsys):
    lab["service"].admin_token = "s3cret-admin-token"
    admin_url = lab["service"].url + "/admin/policy/reload"
    ok = run_module(capsys, **deploy(lab, GOOD_V2, reload="admin", admin_url=admin_url,
                                     admin_token="s3cret-admin-token", restart_command=None))
    assert ok["_rc"] == 0 and ok["reloaded"] and ok["verified"]
    assert lab["service"].admin_calls == ["Bearer s3cret-admin-token"]
    rejected = run_module(capsys, **deploy(lab, BREAKS_READINESS, reload="admin", admin_url=admin_url,
                                           admin_token="s3cret-admin-token", restart_command=None))
    assert rejected["_rc"] == 1 and rejected["rolled_back"]
    assert "POST %s failed (HTTP 422" % admin_url in rejected["msg"]
    assert read(lab["dest"]).decode() == GOOD_V2
    assert "s3cret-admin-token" not in json.dumps(ok) + json.dumps(rejected)


# --------------------------------------------------------------------------- without regopy


def test_the_module_imports_without_regopy_and_fails_only_when_validating(tmp_path):
    dest = tmp_path / "policy.rego"
    dest.write_text(GOOD)
    script = r"""
import json, sys
sys.modules["regopy"] = None  # as if it were not installed
from ansible.module_utils.testing import patch_module_args
from ansible_collections.airlock.incident.plugins.module_utils.change import policy_change
from ansible_collections.airlock.incident.plugins.modules import policy
assert policy_change.HAS_REGOPY is False
with patch_module_args({"content": sys.argv[2], "dest": sys.argv[1], "reload": "none"}):
    try:
        policy.main()
    except SystemExit:
        pass
"""
    env = dict(os.environ)
    # the directory holding ansible_collections/, wherever this run imported the collection from
    root = os.path.abspath(policy_module.__file__)
    for dummy in range(6):
        root = os.path.dirname(root)
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    completed = subprocess.run([sys.executable, "-c", script, str(dest), GOOD_V2], capture_output=True, text=True,
                               env=env, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["failed"] and "Failed to import the required Python library (regopy)" in result["msg"]
    assert dest.read_text() == GOOD


# --------------------------------------------------------------------------- signals only to the service


@pytest.mark.parametrize("content, why", [
    ("-1\n", "does not hold a PID"),
    ("0\n", "PID 0 is not a service's"),
    ("1\n", "PID 1 is not a service's"),
    ("not-a-pid\n", "does not hold a PID"),
])
def test_a_pid_file_that_names_no_service_is_refused_before_anything_is_touched(lab, capsys, content, why):
    path = lab["root"] / "bad.pid"
    path.write_text(content)
    restarts = lab["service"].state()["restarts"]
    result = run_module(capsys, **deploy(lab, GOOD_V2, reload="signal", pid_file=str(path)))
    assert result["_rc"] == 1 and result["msg"].startswith("pid_file: refusing to signal the PID in %s" % path)
    assert why in result["msg"]
    assert read(lab["dest"]).decode() == GOOD and not os.path.exists(lab["backups"])
    assert lab["service"].state()["restarts"] == restarts and alive(lab["service"].state()["pid"])


def test_the_pid_of_another_process_is_never_signalled(lab, capsys):
    sleeper = subprocess.Popen(["/bin/sleep", "1000"],
                               preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    try:
        path = lab["root"] / "other.pid"
        path.write_text("%d\n" % sleeper.pid)
        result = run_module(capsys, **deploy(lab, GOOD_V2, reload="signal", pid_file=str(path)))
        assert result["_rc"] == 1 and "process %d is not airlock (it runs sleep)" % sleeper.pid in result["msg"]
        assert read(lab["dest"]).decode() == GOOD and sleeper.poll() is None
    finally:
        sleeper.terminate()
        assert sleeper.wait() == -signal.SIGTERM  # no SIGHUP was pending: the lower signal would have won


def test_a_symlinked_pid_file_is_refused(lab, capsys):
    link = lab["root"] / "link.pid"
    link.symlink_to(lab["service"].pid_file)
    result = run_module(capsys, **deploy(lab, GOOD_V2, reload="signal", pid_file=str(link)))
    assert result["_rc"] == 1 and "it is a symbolic link" in result["msg"]
    assert read(lab["dest"]).decode() == GOOD and alive(lab["service"].state()["pid"])
