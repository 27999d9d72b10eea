# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What airlock.incident.policy does (change/policy_change.py), without a module: options, reloads, checks, deploy."""

from __future__ import annotations

import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.change import flow, policy_change
from ansible_collections.airlock.incident.plugins.module_utils.change.safe_change import FileTarget, Reloader
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.fixtures_common import CONFIGMAP_TARGET, params_module

POLICY = """\
package airlock.authz

import rego.v1

default allow := false

allow if "mcp-users" in input.groups
"""

TESTS = [{"name": "user", "expect": "allow", "input": {"sub": "alice", "tenant": "acme", "groups": ["mcp-users"],
                                                       "tool": "", "resource": "", "method": "tools/list",
                                                       "headers": {}}}]


def params(**extra):
    base = {"target": "file", "src": None, "content": POLICY, "dest": "/etc/airlock/policy.rego", "tests": None,
            "run_rego_tests": False, "test_files": None, "reload": "restart", "restart_command": None,
            "service_name": None, "reload_command": None, "signal": "HUP", "pid_file": None, "admin_url": None,
            "admin_token": None, "verify_url": None, "verify_timeout": 30.0, "validate_certs": True,
            "backup_dir": None, "incident_id": "INC-1", "configmap": "airlock-config", "namespace": None,
            "deployment": None, "restore_from": None}
    base.update(extra)
    return base


def configmap_params(**extra):
    values = params(**dict(CONFIGMAP_TARGET, dest=None))
    values.update(extra)
    return values


#: What make_reloaders and where read of a module.
Module = params_module(params)


def change_of(path):
    return flow.SafeChange(params(dest=str(path)), policy_change.MODULE_NAME, "policy", "reloaded",
                           FileTarget(str(path)))


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("extra, message", [
    ({"reload": "restart"}, "reload=restart needs restart_command (an argv list) or service_name (a systemd unit); "
                            "set reload=none to deploy without reloading"),
    ({"reload": "signal"}, "reload=signal needs pid_file or reload_command"),
    ({"reload": "admin"}, "reload=admin needs admin_url (the full URL of the policy reload endpoint)"),
    ({"reload": "none", "tests": [{"input": {}, "expect": "allow", "why": 1}]},
     "tests[0]: unknown field(s) why; accepted fields: input, expect, name"),
])
def test_check_params_refuses_naming_the_option(extra, message):
    with pytest.raises(InputError) as info:
        policy_change.check_params(params(**extra), False, print)
    assert info.value.msg == message


def test_check_params_refuses_a_signal_on_a_configmap():
    with pytest.raises(InputError) as info:
        policy_change.check_params(configmap_params(reload="signal"), False, print)
    assert info.value.msg.startswith("reload: invalid value 'signal' with target=configmap; accepted values: restart")


def test_check_params_refuses_file_options_on_a_configmap():
    with pytest.raises(InputError, match="^pid_file: only used with target=file"):
        policy_change.check_params(configmap_params(pid_file="/run/airlock.pid"), False, print)


def test_check_params_normalises_the_known_requests_and_warns_about_verify_url():
    warnings = []
    tests, test_warnings = policy_change.check_params(params(reload="none", tests=TESTS,
                                                             verify_url="http://127.0.0.1:8080/"),
                                                      False, warnings.append)
    assert [test["name"] for test in tests] == ["user"] and test_warnings == []
    assert warnings == ["verify_url is only used after a reload; reload=none, so the service is not checked"]


@pytest.mark.parametrize("extra, methods", [
    ({"reload": "restart", "restart_command": ["/bin/restart"]}, ("command", "command")),
    ({"reload": "restart", "service_name": "airlock"}, ("systemd", "systemd")),
    ({"reload": "signal", "pid_file": "/run/a.pid"}, ("signal", "signal")),
    ({"reload": "signal", "pid_file": "/run/a.pid", "service_name": "airlock"}, ("signal", "systemd")),
    ({"reload": "admin", "admin_url": "http://a/reload", "restart_command": ["/bin/restart"]}, ("admin", "command")),
    ({"reload": "none", "service_name": "airlock"}, ("none", "none")),
])
def test_make_reloaders_rolls_back_with_a_restart_when_there_is_one(extra, methods):
    reloader, rollback = policy_change.make_reloaders(Module(**extra))
    assert (reloader.method, rollback.method) == methods


def test_policy_source_and_its_file_name(tmp_path):
    src = tmp_path / "candidate.rego"
    src.write_text(POLICY)
    assert policy_change.policy_source(params(src=str(src), content=None)) == (POLICY, "candidate.rego")
    assert policy_change.policy_source(params()) == (POLICY, "policy.rego")
    assert policy_change.policy_source(params(dest="/etc/airlock/authz.rego")) == (POLICY, "authz.rego")
    assert policy_change.policy_source(configmap_params()) == (POLICY, "policy.rego")
    with pytest.raises(AirlockIncidentError, match="^src: cannot read "):
        policy_change.policy_source(params(src=str(tmp_path / "missing.rego"), content=None))


def test_where_names_the_policy_file_or_the_backup_directory():
    assert policy_change.where(Module()) == "/etc/airlock/policy.rego"
    assert policy_change.where(Module(dest=None, backup_dir="/b")) == "/b"


# --------------------------------------------------------------------------- checks


def test_refuse_failed_names_the_target_and_keeps_the_report():
    report = {"ok": False, "decisions": [{"name": "user"}], "rego_tests": {}}
    policy_change.refuse_failed(params(), dict(report, ok=True), [])
    with pytest.raises(AirlockIncidentError) as info:
        policy_change.refuse_failed(params(), report, ["known request 'user': expected allow, got deny"])
    assert info.value.msg == ("refusing to deploy the policy to /etc/airlock/policy.rego, nothing was touched: "
                              "known request 'user': expected allow, got deny")
    assert info.value.result == {"errors": ["known request 'user': expected allow, got deny"],
                                 "decisions": [{"name": "user"}], "rego_tests": {}, "changed": False,
                                 "rolled_back": False, "backup_path": None}
    with pytest.raises(AirlockIncidentError) as info:
        policy_change.refuse_failed(configmap_params(), report, ["bad"])
    assert info.value.msg == ("refusing to deploy the policy to policy.rego of configmap airlock-system/airlock-config, "
                              "nothing was touched (no API call was made): bad")


@pytest.mark.skipif(not policy_change.HAS_REGOPY, reason="regopy is not installed")
def test_validate_warns_when_only_compilation_was_checked():
    warnings = []
    report = policy_change.validate(params(), warnings.append, POLICY, "policy.rego", [], ["earlier"])
    assert report["ok"] is True
    assert warnings[0] == "earlier"
    assert warnings[-1].startswith("no known requests (tests): only compilation was checked")


@pytest.mark.skipif(not policy_change.HAS_REGOPY, reason="regopy is not installed")
def test_validate_reports_a_wrong_decision():
    tests, _warnings = policy_change.check_params(params(reload="none", tests=TESTS), False, print)
    report = policy_change.validate(params(), print, POLICY.replace('"mcp-users"', '"admins"'), "policy.rego", tests,
                                    [])
    assert report["ok"] is False
    assert policy_change.summarize_failures(report) == ["known request 'user': expected allow, got deny"]


def test_validate_names_an_unreadable_test_file(tmp_path):
    with pytest.raises(AirlockIncidentError, match="^test_files: cannot read "):
        policy_change.validate(params(test_files=[str(tmp_path / "missing_test.rego")]), print, POLICY,
                               "policy.rego", [], [])


# --------------------------------------------------------------------------- preview and deploy


def test_preview_in_check_mode_says_what_would_happen(tmp_path):
    path = tmp_path / "policy.rego"
    result = {"would_restart": False}
    reloaders = (Reloader(None, "command", command=["/bin/restart"]),) * 2
    preview = policy_change.preview(params(dest=str(path)), True, change_of(path), None, POLICY, {"decisions": [1, 2]},
                                    result, reloaders)
    assert preview is result and result["changed"] is True and result["diff"]["before"] == ""
    assert result["msg"] == ("would deploy the policy to %s (2 known requests passed) and reload Airlock with "
                             "restart command /bin/restart" % path)
    assert not path.exists()
    result = {}
    assert policy_change.preview(params(dest=str(path)), False, change_of(path), b"old", POLICY, {"decisions": []},
                                 result, reloaders) is None
    assert set(result) == {"diff"} and result["diff"]["before"] == "old"


def test_deploy_without_a_reload_writes_backs_up_and_warns(tmp_path):
    path = tmp_path / "policy.rego"
    path.write_text("package old\n")
    change = change_of(path)
    result = change.result(b"package old\n")
    result["sha256_after"] = "new"
    warnings = []
    none = Reloader(None, "none")
    msg = policy_change.deploy(warnings.append, change, b"package old\n", POLICY, result, (none, none))
    assert msg == "deployed the policy to %s" % path and path.read_text() == POLICY
    assert result["changed"] is True and os.path.isfile(result["backup_path"])
    assert warnings == ["reload=none: Airlock keeps the previous policy until it is restarted"]


def test_deploy_with_a_reload_says_how(tmp_path):
    path = tmp_path / "policy.rego"
    change = change_of(path)
    result = change.result(None)
    result["sha256_after"] = "new"

    class Command(Reloader):
        def run(self):
            return {"ok": True, "method": "command", "detail": "rc=0"}

    reloader = Command(None, "command", command=["/bin/restart"])
    msg = policy_change.deploy(print, change, None, POLICY, result, (reloader, reloader))
    assert msg == "deployed the policy to %s, reloaded with restart command /bin/restart" % path
    assert result["reloaded"] is True and result["backup_path"] is None and path.read_text() == POLICY


# --------------------------------------------------------------------------- the policy module's own backups

DENY_ALL = POLICY.replace('allow if "mcp-users" in input.groups', 'allow if input.path == "/never"')


def _deploy(tmp_path, text, before=None):
    """What a successful run leaves: the pre-change backup of ``before`` and the deployed copy of ``text``."""
    path = tmp_path / "policy.rego"
    change = flow.SafeChange(params(dest=str(path), backup_dir=str(tmp_path / "backups")), policy_change.MODULE_NAME,
                             "policy", "reloaded", FileTarget(str(path)))
    result = change.result(before)
    result["sha256_after"] = "new"
    none = Reloader(None, "none")
    policy_change.deploy(lambda _: None, change, before, text, result, (none, none))
    return result


def test_a_deployment_keeps_a_copy_of_what_it_deployed(tmp_path):
    result = _deploy(tmp_path, POLICY, before=b"package old\n")
    assert open(result["deployed_copy"]).read() == POLICY
    assert open(result["backup_path"]).read() == "package old\n"


def test_restore_from_takes_the_newest_backup_that_passes_the_known_requests(tmp_path):
    good = POLICY + "# the last good one\n"
    _deploy(tmp_path, POLICY, before=DENY_ALL.encode())    # pre-change: deny-all; deployed: POLICY
    _deploy(tmp_path, good, before=POLICY.encode())        # pre-change: POLICY; deployed: good
    _deploy(tmp_path, DENY_ALL, before=good.encode())       # pre-change: good; deployed: deny-all (newest)
    values = params(dest=str(tmp_path / "policy.rego"), restore_from=str(tmp_path / "backups"))
    text, chosen, candidates = policy_change.backup_source(values, TESTS)
    assert text == good and chosen["ok"] and chosen["kind"] == "pre-change"
    assert [c["ok"] for c in candidates] == [False, True]
    assert candidates[0]["kind"] == "deployed"
    assert any("expected allow, got deny" in error for error in candidates[0]["errors"])


def test_restore_from_refuses_when_no_backup_passes(tmp_path):
    _deploy(tmp_path, DENY_ALL, before=b"package broken\nallow if {\n")
    values = params(dest=str(tmp_path / "policy.rego"), restore_from=str(tmp_path / "backups"))
    with pytest.raises(AirlockIncidentError, match="none of the 2 backup.s. of .* compiles and passes the 1 known") as caught:
        policy_change.backup_source(values, TESTS)
    assert caught.value.result["changed"] is False and len(caught.value.result["candidates"]) == 2


def test_restore_from_only_reads_backups_of_the_same_target(tmp_path):
    _deploy(tmp_path, POLICY)
    values = params(dest=str(tmp_path / "other.rego"), restore_from=str(tmp_path / "backups"))
    with pytest.raises(AirlockIncidentError, match="none of the 0 backup"):
        policy_change.backup_source(values, TESTS)
