# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure part of the ConfigMap target: checksum, patches, annotation choice, option checks."""

from __future__ import annotations

import hashlib
import json

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.k8s import config_target as kct

CONFIG = 'server:\n  addr: ":8080"\n'
POLICY = "package airlock.authz\n\nimport rego.v1\n\ndefault allow := false\n"


def params(**overrides):
    base = dict(target="configmap", namespace="airlock-system", configmap="airlock-config", deployment="airlock",
                request_timeout=10.0, wait_timeout=300, incident_id="INC-1", confirm="INC-1",
                backup_dir="/evidence/INC-1")
    base.update(overrides)
    return base


class TestChecksum(object):
    def test_known_value(self):
        # the documented construction: <key> NUL <length> NUL <bytes>, config.yaml then policy.rego
        expected = hashlib.sha256()
        for key, value in (("config.yaml", CONFIG), ("policy.rego", POLICY)):
            raw = value.encode("utf-8")
            expected.update(("%s\0%d\0" % (key, len(raw))).encode() + raw)
        assert kct.configmap_checksum({"config.yaml": CONFIG, "policy.rego": POLICY}) == expected.hexdigest()

    def test_other_keys_and_key_order_do_not_matter(self):
        one = kct.configmap_checksum({"config.yaml": CONFIG, "policy.rego": POLICY})
        two = kct.configmap_checksum({"policy.rego": POLICY, "extra": "x", "config.yaml": CONFIG})
        assert one == two

    def test_every_byte_of_either_key_counts(self):
        base = kct.configmap_checksum({"config.yaml": CONFIG, "policy.rego": POLICY})
        assert kct.configmap_checksum({"config.yaml": CONFIG + " ", "policy.rego": POLICY}) != base
        assert kct.configmap_checksum({"config.yaml": CONFIG, "policy.rego": POLICY + "\n"}) != base

    def test_moving_bytes_between_keys_changes_it(self):
        assert kct.configmap_checksum({"config.yaml": "ab", "policy.rego": "c"}) != \
            kct.configmap_checksum({"config.yaml": "a", "policy.rego": "bc"})

    def test_missing_key_differs_from_empty_key(self):
        assert kct.configmap_checksum({"config.yaml": CONFIG}) != \
            kct.configmap_checksum({"config.yaml": CONFIG, "policy.rego": ""})

    def test_bytes_and_text_agree(self):
        assert kct.configmap_checksum({"config.yaml": CONFIG.encode(), "policy.rego": "é"}) == \
            kct.configmap_checksum({"config.yaml": CONFIG, "policy.rego": "é".encode("utf-8")})

    def test_is_a_valid_annotation_value(self):
        value = kct.configmap_checksum({})
        assert len(value) == 64 and int(value, 16) >= 0


class TestPatches(object):
    def test_configmap_patch_sets_one_key_with_the_precondition(self):
        patch = kct.configmap_patch("config.yaml", CONFIG, "4711")
        assert patch == {"metadata": {"resourceVersion": "4711"}, "data": {"config.yaml": CONFIG}}
        assert "policy.rego" not in json.dumps(patch)

    def test_configmap_patch_needs_a_resource_version(self):
        with pytest.raises(ValueError, match="resourceVersion"):
            kct.configmap_patch("config.yaml", CONFIG, None)

    def test_resource_version_is_a_string(self):
        assert kct.configmap_patch("policy.rego", POLICY, 12)["metadata"]["resourceVersion"] == "12"

    def test_annotation_patch_sets_and_removes(self):
        assert kct.annotation_patch("abc") == {
            "spec": {"template": {"metadata": {"annotations": {"airlock.incident/config-checksum": "abc"}}}}}
        removal = kct.annotation_patch(None)
        assert removal["spec"]["template"]["metadata"]["annotations"] == {"airlock.incident/config-checksum": None}
        assert json.dumps(removal).endswith('{"airlock.incident/config-checksum": null}}}}}')

    def test_template_annotation(self):
        dep = {"spec": {"template": {"metadata": {"annotations": {kct.CHECKSUM_ANNOTATION: "x", "other": "y"}}}}}
        assert kct.template_annotation(dep) == "x"
        assert kct.template_annotation({"spec": {"template": {"metadata": {}}}}) is None
        assert kct.template_annotation({"spec": {"template": {"metadata": {"annotations": None}}}}) is None
        assert kct.template_annotation({}) is None


class TestAnnotationFor(object):
    def test_new_content_gets_its_checksum(self):
        data = {"config.yaml": CONFIG, "policy.rego": POLICY}
        assert kct.annotation_for(data, {}) == kct.configmap_checksum(data)

    def test_known_content_gets_its_previous_annotation_back(self):
        before = {"config.yaml": CONFIG, "policy.rego": POLICY}
        after = {"config.yaml": CONFIG + "# x\n", "policy.rego": POLICY}
        known = {kct.configmap_checksum(before): None}
        assert kct.annotation_for(after, known) == kct.configmap_checksum(after)
        # the restore after a failed rollout: same content, the absent annotation comes back
        assert kct.annotation_for(before, known) is None

    def test_a_stale_previous_annotation_is_restored_as_it_was(self):
        before = {"config.yaml": CONFIG, "policy.rego": POLICY}
        known = {kct.configmap_checksum(before): "0" * 64}
        assert kct.annotation_for(before, known) == "0" * 64


class TestOptions(object):
    def test_file_target_is_not_checked(self):
        assert kct.validate_target_params(params(target="file", confirm=None, backup_dir=None), False) == []

    def test_valid(self):
        assert kct.validate_target_params(params(), False) == []

    def test_confirm_must_equal_the_incident(self):
        errors = kct.validate_target_params(params(confirm="yes"), False)
        assert errors == ["confirm: must equal incident_id ('INC-1') to change configmap airlock-system/airlock-config; got 'yes'"]

    def test_check_mode_needs_no_confirm(self):
        assert kct.validate_target_params(params(confirm=None), True) == []

    def test_backup_dir_and_incident_are_required(self):
        errors = kct.validate_target_params(params(backup_dir=None, incident_id=None), True)
        assert any(e.startswith("backup_dir: required with target=configmap") for e in errors)
        assert any(e.startswith("incident_id: required with target=configmap") for e in errors)

    @pytest.mark.parametrize("field,value", [("configmap", "Airlock_Config"), ("deployment", ""),
                                             ("namespace", "airlock system")])
    def test_names(self, field, value):
        errors = kct.validate_target_params(params(**{field: value}), False)
        assert len(errors) == 1 and errors[0].startswith("%s: invalid value" % field)

    @pytest.mark.parametrize("value", [0, 3601, None])
    def test_wait_timeout(self, value):
        assert kct.validate_target_params(params(wait_timeout=value), False) == [
            "wait_timeout: invalid value %r; accepted values: 1 to 3600 seconds" % (value,)]

    def test_file_only_options(self):
        assert kct.file_only_options(params(path="/etc/airlock/config.yaml", restart_command=[]), ("path", "restart_command")) \
            == "path: only used with target=file; with target=configmap the content lives in configmap airlock-config"
        assert kct.file_only_options(params(path=None), ("path",)) is None
        assert kct.file_only_options(params(target="file", path="/x"), ("path",)) is None


class TestPrecheckSettings(object):
    def test_valid_settings(self):
        assert kct.precheck_settings({"rate_limiting": {"per_token": "10/min"},
                                      "observability": {"logging": {"level": "debug"}}}) == []

    @pytest.mark.parametrize("settings,needle", [
        ({"server": {"maxConnections": 5000}}, "settings: server.maxConnections: unknown key"),
        ({"policy": {"cacheSize": 1}}, "settings: policy.cacheSize: unknown key"),
        ({"logging": {"level": "debug"}}, "settings: logging: unknown key"),
        ({"audit": {"retention": "30d"}}, 'unknown unit "d" in duration "30d"'),
        ({"observability": {"logging": {"level": "verbose"}}}, "observability.logging.level"),
        ({"server": None}, "settings: server.addr is required"),
        ({"server": {"addr": ""}}, "settings: server.addr is required"),
    ])
    def test_refused(self, settings, needle):
        errors = kct.precheck_settings(settings)
        assert any(needle in e for e in errors), errors

    def test_not_a_mapping(self):
        assert kct.precheck_settings(["a"]) == ["settings: expected a mapping of Airlock config keys, got list"]


class _Target(object):
    kind = "configmap"
    backup_name = "airlock-config.config.yaml"

    @staticmethod
    def describe():
        return "configmap/airlock-system/airlock-config/config.yaml"


class TestMarkBackup(object):
    """How a failed change is recorded decides whether its backup stays a revert target."""

    def _store(self, tmp_path):
        from ansible_collections.airlock.incident.plugins.module_utils.change.backups import BackupStore

        store = BackupStore(str(tmp_path))
        path = store.save(_Target(), CONFIG.encode(), incident_id="INC-1")
        return store, path

    def _sidecar(self, path):
        with open(path + ".json") as stream:
            return json.load(stream)

    def test_not_applied(self, tmp_path):
        store, path = self._store(tmp_path)
        kct.mark_backup(store, path, kct.AirlockIncidentError("conflict", status=409))
        assert self._sidecar(path)["rolled_back"] is True
        assert self._sidecar(path)["rollback_reason"] == "not applied: conflict"
        assert store.entries(_Target(), incident_id="INC-1") == []

    def test_rolled_back(self, tmp_path):
        store, path = self._store(tmp_path)
        kct.mark_backup(store, path, kct.AirlockIncidentError("stuck; rolled back", reload={}, rolled_back=True))
        assert self._sidecar(path)["rolled_back"] is True
        assert store.entries(_Target(), incident_id="INC-1") == []

    def test_restore_failed_stays_a_revert_target(self, tmp_path):
        store, path = self._store(tmp_path)
        kct.mark_backup(store, path, kct.AirlockIncidentError("could NOT restore", reload={}, rolled_back=False))
        meta = self._sidecar(path)
        assert meta["restore_failed"] is True and "rolled_back" not in meta
        assert [entry["path"] for entry in store.entries(_Target(), incident_id="INC-1")] == [path]

    def test_no_backup(self, tmp_path):
        store, _path = self._store(tmp_path)
        assert kct.mark_backup(store, None, kct.AirlockIncidentError("x")) is None
