# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What airlock.incident.config does (change/config_change.py), without a module: options, merge, revert."""

from __future__ import annotations

import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.change import config_change, flow
from ansible_collections.airlock.incident.plugins.module_utils.change.safe_change import FileTarget, Reloader
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils.fixtures_common import CONFIGMAP_TARGET, params_module

CONFIG = "server:\n  addr: \":8080\"\n# the log level\nobservability:\n  logging:\n    level: info\n"


def params(**extra):
    base = {"target": "file", "path": "/etc/airlock/config.yaml", "settings": {"observability": {"logging": {
        "level": "debug"}}}, "state": "present", "revert_to": "newest", "restart": None, "restart_command": None,
        "service_name": None, "verify_url": None, "verify_timeout": 30.0, "validate_certs": True, "backup_dir": None,
        "incident_id": "INC-1", "configmap": "airlock-config", "namespace": None, "deployment": None}
    base.update(extra)
    return base


def configmap_params(**extra):
    values = params(**dict(CONFIGMAP_TARGET, path=None))
    values.update(extra)
    return values


#: What make_reloader reads of a module.
Module = params_module(params)


def change_of(path, **extra):
    return flow.SafeChange(params(path=str(path), **extra), config_change.MODULE_NAME, "configuration", "restarted",
                           FileTarget(str(path)))


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("target, expected", [("file", "none"), ("configmap", "rollout")])
def test_check_restart_fills_in_the_default_of_the_target(target, expected):
    values = params(target=target)
    config_change.check_restart(values)
    assert values["restart"] == expected


@pytest.mark.parametrize("extra, message", [
    ({"target": "configmap", "restart": "systemd"},
     "restart: invalid value 'systemd' with target=configmap; accepted values: rollout (a rolling restart through "
     "the checksum annotation), none"),
    ({"restart": "rollout"},
     "restart: rollout is only for target=configmap; with target=file accepted values: none, command, systemd"),
    ({"restart": "command"}, "restart_command: required (an argv list) when restart=command"),
    ({"restart": "systemd"}, "service_name: required when restart=systemd"),
])
def test_check_restart_refuses_naming_the_option(extra, message):
    with pytest.raises(InputError) as info:
        config_change.check_restart(params(**extra))
    assert info.value.msg == message


@pytest.mark.parametrize("extra, message", [
    ({"settings": None}, "settings: required (a non-empty mapping of Airlock config keys) when state=present"),
    ({"state": "reverted", "incident_id": None, "settings": None},
     "incident_id: required when state=reverted (the backups to restore are the incident's)"),
    ({"incident_id": "bad id"}, "incident_id: invalid value 'bad id'"),
])
def test_check_params_refuses_before_anything_is_touched(extra, message):
    warnings = []
    with pytest.raises(InputError) as info:
        config_change.check_params(params(**extra), False, warnings.append)
    assert info.value.msg.startswith(message)
    assert warnings == []


def test_check_params_warns_that_verify_url_needs_a_restart():
    warnings = []
    config_change.check_params(params(verify_url="http://127.0.0.1:8080"), False, warnings.append)
    assert warnings == ["verify_url is only used after a restart; restart=none, so the service is not checked"]


def test_check_params_refuses_bad_settings_of_a_configmap_before_any_api_call():
    with pytest.raises(InputError) as info:
        config_change.check_params(configmap_params(settings={"monitoring": {"enhanced": True}}), False, print)
    assert info.value.msg.startswith("refusing to change config.yaml of configmap airlock-system/airlock-config, "
                                     "nothing was touched (no API call was made): settings: ")
    assert info.value.result["errors"] and "monitoring" in info.value.result["errors"][0]


def test_check_params_accepts_good_settings_of_a_configmap():
    values = configmap_params()
    config_change.check_params(values, False, print)
    assert values["restart"] == "rollout"


def test_check_document_separates_refusals_from_warnings():
    settings = {"server": {"maxConnections": 5}}
    after = {"server": {"addr": ":8080", "maxConnections": 5}, "monitoring": {"enhanced": True},
             "observability": {"logging": {"level": "loud"}}}
    errors, warnings = config_change.check_document(after, settings)
    assert len(warnings) == 1 and warnings[0].startswith("already in the file: ") and "monitoring" in warnings[0]
    assert errors[0].startswith("settings: ") and "server.maxConnections" in errors[0]
    assert any("observability.logging.level" in error for error in errors[1:])


def test_check_document_of_a_valid_document_is_empty():
    assert config_change.check_document({"server": {"addr": ":8080"}}, {"server": {"addr": ":8080"}}) == ([], [])


@pytest.mark.parametrize("restart, method", [("none", "none"), ("command", "command"), ("systemd", "systemd"),
                                             ("rollout", "none")])
def test_make_reloader_follows_the_restart_option(restart, method):
    module = Module(restart=restart, restart_command=["/bin/true"], service_name="airlock")
    reloader = config_change.make_reloader(module)
    assert reloader.method == method and reloader.module is module


def test_where_names_the_file_or_the_backup_directory(tmp_path):
    assert config_change.where(Module(path="relative.yaml")) == os.path.abspath("relative.yaml")
    assert config_change.where(Module(path=None, backup_dir="/b")) == "/b"


# --------------------------------------------------------------------------- present and reverted


def test_present_in_check_mode_reports_and_writes_nothing(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    warnings = []
    result = config_change.present(params(path=str(path), restart="none"), True, warnings.append, change_of(path),
                                   path.read_bytes(), Reloader(None, "none"))
    assert result["changed"] is True and result["changed_keys"] == ["observability.logging.level"]
    assert result["msg"] == "would change observability.logging.level in %s" % path
    assert "level: debug" in result["diff"]["after"] and result["backup_path"] is None
    assert path.read_text() == CONFIG and os.listdir(str(tmp_path)) == ["config.yaml"]


def test_present_writes_backs_up_and_warns_without_a_restart(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    warnings = []
    result = config_change.present(params(path=str(path), restart="none"), False, warnings.append, change_of(path),
                                   path.read_bytes(), Reloader(None, "none"))
    assert result["changed"] is True and result["restarted"] is False and result["would_restart"] is False
    assert result["msg"] == "changed observability.logging.level in %s" % path
    assert "level: debug" in path.read_text() and open(result["backup_path"]).read() == CONFIG
    assert warnings[-1] == ("Airlock reads config.yaml only at start: the change takes effect at the next restart "
                            "(set restart to restart it now)")


def test_present_with_the_same_settings_changes_nothing(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    values = params(path=str(path), restart="none", settings={"observability": {"logging": {"level": "info"}}})
    result = config_change.present(values, False, print, change_of(path), path.read_bytes(), Reloader(None, "none"))
    assert result["changed"] is False and result["msg"] == "%s already has these settings; nothing to do" % path
    assert os.listdir(str(tmp_path)) == ["config.yaml"]


def test_present_refuses_an_unknown_key_with_the_result_so_far(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    values = params(path=str(path), restart="none", settings={"policy": {"cacheSize": 5}})
    with pytest.raises(AirlockIncidentError) as info:
        config_change.present(values, False, print, change_of(path), path.read_bytes(), Reloader(None, "none"))
    assert info.value.msg.startswith("refusing to change %s, nothing was touched: settings: " % path)
    assert info.value.result["changed"] is False and info.value.result["errors"]
    assert "msg" not in info.value.result and path.read_text() == CONFIG


def test_merge_names_the_target_when_the_document_is_not_yaml(tmp_path):
    path = tmp_path / "config.yaml"
    with pytest.raises(AirlockIncidentError, match="; nothing was changed$") as info:
        config_change.merge(change_of(path), b"server: [\n", {"server": {"addr": ":1"}})
    assert info.value.msg.startswith(str(path))


def test_reverted_restores_the_backup_of_the_incident(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    config_change.present(params(path=str(path), restart="none"), False, print, change_of(path), path.read_bytes(),
                          Reloader(None, "none"))
    changed = path.read_bytes()
    values = params(path=str(path), restart="none", state="reverted", settings=None)
    preview = config_change.reverted(values, True, print, change_of(path), changed, Reloader(None, "none"))
    assert preview["changed"] is True and preview["msg"].startswith("would restore %s from " % path)
    assert preview["changed_keys"] == ["observability.logging.level"] and path.read_bytes() == changed
    result = config_change.reverted(values, False, print, change_of(path), changed, Reloader(None, "none"))
    assert result["msg"].startswith("restored %s from " % path) and path.read_text() == CONFIG
    again = config_change.reverted(values, False, print, change_of(path), path.read_bytes(), Reloader(None, "none"))
    assert again["changed"] is False and again["msg"].endswith("; nothing to do")


def test_reverted_without_a_backup_fails(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    values = params(path=str(path), restart="none", state="reverted", settings=None)
    with pytest.raises(AirlockIncidentError) as info:
        config_change.reverted(values, False, print, change_of(path), path.read_bytes(), Reloader(None, "none"))
    assert info.value.msg == "no backup of %s for incident INC-1 in %s: nothing to revert to" % (path, tmp_path)


def test_compare_reports_a_backup_that_is_not_yaml():
    keys, engine, errors = config_change.compare(b"a: 1\n", b"a: [\n", "config.yaml", {"path": "/b/x.bak"})
    assert keys == [] and engine is None and errors[0].startswith("/b/x.bak: ")


# --------------------------------------------------------------------------- the schema bypass


@pytest.mark.parametrize("settings, message", [
    ({"server.addr": ":9090"}, "settings: key 'server.addr' contains a dot"),
    ({"upstreams": [{"name": "a", "x.y": 1}]}, "settings: key 'upstreams[0].x.y' contains a dot"),
    ("server.addr=:9090", "settings: invalid value of type str; accepted: a mapping (dict)"),
])
def test_check_params_refuses_settings_that_bypass_the_schema(settings, message):
    with pytest.raises(InputError) as info:
        config_change.check_params(params(settings=settings), False, print)
    assert info.value.msg.startswith(message)


def test_env_names_may_hold_dots():
    config_change.check_settings({"upstreams": [{"name": "a", "env": {"JAVA.OPTS": "x"}}]})
