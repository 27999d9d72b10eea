# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The safe-change flow config and policy share (change/flow.py), and the health probes' helpers."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.airlock import probes
from ansible_collections.airlock.incident.plugins.module_utils.change import flow
from ansible_collections.airlock.incident.plugins.module_utils.change.safe_change import FileTarget
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError


def params(**extra):
    base = {"target": "file", "incident_id": "INC-1", "verify_url": None, "verify_timeout": 30.0, "backup_dir": None,
            "validate_certs": True, "configmap": "airlock-config", "path": "/etc/airlock/config.yaml"}
    base.update(extra)
    return base


class Reloader:
    """A reload that succeeds or fails as told, counting its runs."""

    def __init__(self, ok=True):
        self.ok = ok
        self.runs = 0

    @property
    def active(self):
        return True

    def describe(self):
        return "the test reload"

    def run(self):
        self.runs += 1
        return {"ok": self.ok if self.runs == 1 else True, "detail": "rc=%d" % (0 if self.ok else 1)}


@pytest.mark.parametrize("extra, message", [
    ({"incident_id": "bad id"}, "incident_id: invalid value 'bad id'"),
    ({"incident_id": "x" * 64}, "at most 63 characters"),
    ({"verify_url": "ftp://x"}, "verify_url: invalid value"),
    ({"verify_timeout": 0}, "verify_timeout: invalid value 0"),
    ({"target": "configmap", "path": "/x", "namespace": "airlock-system", "request_timeout": 10.0,
      "deployment": "airlock", "wait_timeout": 300, "backup_dir": "/b", "confirm": "INC-1"},
     "path: only used with target=file"),
])
def test_check_change_params_refuses_naming_the_option(extra, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")) as info:
        flow.check_change_params(params(**extra), False, ("path",))
    assert isinstance(info.value, AirlockIncidentError)


def test_check_change_params_normalises():
    values = params(verify_url="http://127.0.0.1:8080/", incident_id="")
    flow.check_change_params(values, False, ("path",))
    assert values["verify_url"] == "http://127.0.0.1:8080" and values["incident_id"] is None


def test_commit_backs_up_writes_and_reports(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"a: 1\n")
    change = flow.SafeChange(params(), "airlock.incident.config", "configuration", "restarted",
                             FileTarget(str(path)))
    result = change.result(b"a: 1\n")
    assert result["changed"] is False and result["restarted"] is False and result["sha256_before"]
    change.commit(b"a: 1\n", b"a: 2\n", result, "pre-change", {"changed_keys": ["a"]}, reloader=Reloader())
    assert path.read_bytes() == b"a: 2\n"
    assert result["changed"] is True and result["restarted"] is True and result["rolled_back"] is False
    with open(result["backup_path"], "rb") as stream:
        assert stream.read() == b"a: 1\n"
    with open(result["backup_path"] + ".json") as stream:
        assert json.load(stream)["changed_keys"] == ["a"]
    assert change.done(result, "restarted") == ", restarted"


def test_a_failed_restart_rolls_back_and_raises_with_the_result(tmp_path):
    path = tmp_path / "policy.rego"
    path.write_bytes(b"old")
    change = flow.SafeChange(params(), "airlock.incident.policy", "policy", "reloaded", FileTarget(str(path)))
    result = change.result(b"old")
    with pytest.raises(AirlockIncidentError, match="rolled back") as info:
        change.commit(b"old", b"new", result, "pre-change", reloader=Reloader(ok=False))
    assert path.read_bytes() == b"old"
    assert info.value.result["rolled_back"] is True and info.value.result["reloaded"] is True
    assert "msg" not in info.value.result
    with open(result["backup_path"] + ".json") as stream:
        assert json.load(stream)["rolled_back"] is True


def test_failure_leaves_the_result_msg_out():
    error = flow.failure("it broke", {"msg": "", "changed": True}, errors=["x"])
    assert error.msg == "it broke" and error.result == {"changed": True, "errors": ["x"]}


def test_run_change_names_where_an_io_error_happened_and_drops_markers():
    class Module:
        params = {"path": "/etc/airlock/config.yaml"}

    def broken(module):
        raise OSError(13, "Permission denied")

    with pytest.raises(AirlockIncidentError, match="^/etc/airlock/config.yaml: .*Permission denied") as info:
        flow.run_change(broken, lambda module: module.params["path"])(Module())
    assert isinstance(info.value.__cause__, OSError)

    def conflict(module):
        raise AirlockIncidentError("changed meanwhile", conflict=True, status=409)

    with pytest.raises(AirlockIncidentError) as info:
        flow.run_change(conflict, lambda module: "")(Module())
    assert "conflict" not in info.value.result


def test_read_text_refuses_what_is_not_utf8(tmp_path):
    path = tmp_path / "p.rego"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(AirlockIncidentError, match="^src: .* is not UTF-8 text"):
        flow.read_text(str(path), "src")
    with pytest.raises(AirlockIncidentError, match="^src: cannot read"):
        flow.read_text(os.path.join(str(tmp_path), "missing"), "src")


def test_probe_helpers():
    assert probes.failing_checks({"db": {"status": "ok"}, "upstream": "down", "cache": False}) == ["cache", "upstream"]
    assert probes.failing_checks(None) == []
    assert "no upstream MCP server" in probes.mcp_reason({"status": 200, "error": {"code": -32000, "message": "x"}})
    assert probes.mcp_reason({"status": 401, "error": {"code": None, "message": "HTTP 401"}}).endswith(
        "(token missing or rejected)")
    state = {"unreachable": False, "is_live": True, "is_ready": False, "is_available": False, "version": "dev"}
    text = probes.message("http://a", state, ["/ready: HTTP 503"], {"exposed": False, "status": 404}, {})
    assert text == "Airlock at http://a is live but not ready (version dev): /ready: HTTP 503; /metrics not exposed"
    assert probes.info_version({"status": 200, "body": {"version": 3}}) == "3"
    assert probes.info_version({"status": 500, "body": {"version": 3}}) is None
