#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: config
short_description: Merge validated settings into an MCP Airlock config.yaml, restart, verify, roll back
version_added: 0.1.0
description:
  - Changes an MCP Airlock C(config.yaml) on a host the safe way, in place of the operator playbook's
    ConfigMap patches (which replace the whole file, drop C(server.addr), use keys Airlock does not have and
    reload with SIGHUP, which kills the released binary).
  - O(settings) is B(merged) into the existing document, never replacing it. Mappings are merged key by key,
    lists are replaced wholesale (O(settings) C(auth.required_groups) replaces the whole list), other values
    replace the old value, and every key not mentioned is kept.
  - Before anything is touched, every key of the merged document is checked against Airlock's schema
    (C(plugins/module_utils/airlock/config_schema.py)). Unknown keys coming from O(settings) are refused with the key
    named and valid neighbours suggested (C(server.maxConnections), C(policy.cacheSize), a top-level
    C(logging) key, C(monitoring.enhanced)...). Durations must be Go durations (C(720h), never C(30d)); enums
    (C(observability.logging.level), C(observability.logging.format), C(audit.backend),
    C(audit.export_format)) and ranges (C(auth.jwks_cache_ttl) 1m to 1h, C(auth.clock_skew) 30s to 10m,
    C(rate_limiting.burst) at least 1, rates such as C(200/min)) are checked, and C(server.addr) must remain.
    Unknown keys already in the file are reported as warnings (Airlock ignores them).
  - The previous content is saved in O(backup_dir) under a name with the incident id, the UTC time and the
    sha256 (with a JSON sidecar); backups are never overwritten. The file is written atomically, keeping
    its mode and owner.
  - Airlock reads its configuration only at start, so a change takes effect at the next restart. With
    O(restart), the module restarts the service, then polls C(/live) and C(/ready) of O(verify_url) until
    both answer 2xx. If the restart fails or the service does not come back within O(verify_timeout), the
    previous content is restored, the service restarted again, and the task fails saying it was rolled back.
  - O(state=reverted) restores the backup saved for O(incident_id) (the newest, or the oldest with
    O(revert_to=oldest) to undo every change of the incident), restarting and verifying the same way.
  - With ruamel.yaml on the host, comments, key order and quoting are kept; with PyYAML only, comments are
    lost (the backup keeps them).
  - With O(target=configmap) the document is the C(config.yaml) key of the chart's ConfigMap; the same validation,
    backup, diff, check mode and O(state=reverted) apply (see the notes).
  - There is never a C(kill -HUP 1) reload, because the released Airlock does not handle SIGHUP (the process dies).
author:
  - airlock.incident contributors (@airlock-incident)
extends_documentation_fragment:
  - airlock.incident.connection.safe_change
attributes:
  check_mode:
    support: full
    description: Validates and reports the change (RV(changed_keys), RV(diff), RV(would_restart)); writes nothing,
      makes no backup and restarts nothing.
  diff_mode:
    support: full
    description: Shows the YAML text before and after the change.
  platform:
    support: full
    platforms: posix
    description: Changes a file on the managed host (O(target=file)), or the ConfigMap of the Helm chart through
      the Kubernetes API (O(target=configmap); runs where the kubernetes Python client reaches the API server).
  idempotent:
    support: full
    description: >-
      When the merged document equals the current one nothing is written and nothing restarts (on Kubernetes
      the pod template is not touched, so no new ReplicaSet); a second O(state=reverted) finds the content
      already restored.
options:
  target:
    description:
      - Where the configuration lives. V(file) is a C(config.yaml) on the managed host (O(path)). V(configmap) is
        the C(config.yaml) key of O(configmap) in O(namespace), rolled out by restarting O(deployment).
    type: str
    choices: [file, configmap]
    default: file
    version_added: 0.2.0
  path:
    description:
      - The Airlock C(config.yaml) on the host. It must exist; the module never creates a configuration.
      - A symlink is written through (its target is replaced, the link is kept).
      - Required with O(target=file); not used with O(target=configmap).
    type: path
  settings:
    description:
      - Nested Airlock settings (snake_case keys, as in C(config.yaml)) merged into the document.
      - Required when O(state=present).
    type: dict
  state:
    description:
      - V(present) merges O(settings). V(reverted) restores the backup saved for O(incident_id) (required then).
    type: str
    choices: [present, reverted]
    default: present
  backup_dir:
    description:
      - Directory where previous contents are kept, for example the incident's evidence directory. Created
        (mode 0700) if missing.
      - Defaults to the directory of O(path). Required with O(target=configmap).
    type: path
  revert_to:
    description:
      - With O(state=reverted), which backup of the incident to restore. V(newest) undoes the last change,
        V(oldest) restores the content from before the incident's first change.
    type: str
    choices: [newest, oldest]
    default: newest
  restart:
    description:
      - How to restart Airlock after a change. V(none) only writes the file (it takes effect at the next
        restart). V(command) runs O(restart_command). V(systemd) runs C(systemctl restart) O(service_name).
      - With O(target=configmap), V(rollout) (the default there) rolls O(deployment) through the checksum
        annotation and waits for it; V(none) only changes the ConfigMap (the pods keep the old configuration
        until they restart). V(command) and V(systemd) are for O(target=file) only.
      - Defaults to V(none) with O(target=file) and V(rollout) with O(target=configmap).
      - There is no signal option, because the released Airlock does not handle SIGHUP (it dies).
    type: str
    choices: [none, command, systemd, rollout]
  restart_command:
    description:
      - Command (argv list, no shell) that restarts Airlock and returns 0 when it did. Required with
        O(restart=command).
    type: list
    elements: str
  service_name:
    description:
      - The systemd unit of Airlock. Required with O(restart=systemd).
    type: str
  verify_url:
    description:
      - Base URL of Airlock (for example V(http://127.0.0.1:8080)). After the restart, C(/live) and C(/ready)
        are polled until both answer 2xx; otherwise the change is rolled back.
      - Without it, the restart command's exit status is the only check.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of O(verify_url).
    type: bool
    default: true
requirements:
  - PyYAML (ships with ansible-core); ruamel.yaml is used when installed, to keep comments.
  - kubernetes (Python client), with O(target=configmap) only.
notes:
  - With O(target=configmap) the kubernetes Python client is needed, and C(get) and C(patch) on C(configmaps) and
    C(deployments) and C(list) on C(pods) in O(namespace).
  - Keys containing C(_) cannot be set through Airlock's C(AIRLOCK_*) environment overrides; this module changes
    the file, which is the only reliable way to set them.
  - C(rate_limiting) is parsed by newer builds and ignored by the current Airlock release.
seealso:
  - module: airlock.incident.policy
  - module: airlock.incident.health
  - module: airlock.incident.k8s_rollout_restart
"""

EXAMPLES = r"""
- name: Tighten rate limits and raise the log level during a security incident
  airlock.incident.config:
    path: /etc/airlock/config.yaml
    settings:
      rate_limiting:
        per_token: "10/min"
        per_ip: "50/min"
      observability:
        logging:
          level: debug
    incident_id: INC-20261128-001
    backup_dir: /var/lib/airlock-incidents/INC-20261128-001/backups
    restart: systemd
    service_name: airlock
    verify_url: http://127.0.0.1:8080
  register: airlock_config

- name: Tune the policy decision cache (the playbook's cacheTTL/cacheSize do not exist)
  airlock.incident.config:
    path: /etc/airlock/config.yaml
    settings:
      policy:
        cache_ttl: 10m
    incident_id: INC-20261128-002
    restart: command
    restart_command: [/usr/local/bin/airlock-restart]
    verify_url: http://127.0.0.1:8080

- name: On Kubernetes - merge into config.yaml of the airlock-config ConfigMap and roll the Deployment
  airlock.incident.config:
    target: configmap
    namespace: airlock-system
    configmap: airlock-config
    deployment: airlock
    settings:
      rate_limiting:
        per_token: "10/min"
    incident_id: INC-20261128-001
    confirm: INC-20261128-001
    backup_dir: /var/lib/airlock-incidents/INC-20261128-001/backups
    wait_timeout: 300
  register: airlock_config_k8s

- name: On Kubernetes - undo the incident's changes to the ConfigMap and roll again
  airlock.incident.config:
    target: configmap
    state: reverted
    revert_to: oldest
    incident_id: INC-20261128-001
    confirm: INC-20261128-001
    backup_dir: /var/lib/airlock-incidents/INC-20261128-001/backups

- name: Close the incident - undo every change it made
  airlock.incident.config:
    path: /etc/airlock/config.yaml
    state: reverted
    revert_to: oldest
    restart: systemd
    service_name: airlock
    incident_id: INC-20261128-001
    backup_dir: /var/lib/airlock-incidents/INC-20261128-001/backups
"""

RETURN = r"""
path:
  description: The configuration file changed (or checked); null with O(target=configmap).
  returned: always
  type: str
  sample: /etc/airlock/config.yaml
target:
  description: V(configmap).
  returned: with O(target=configmap)
  type: str
  version_added: 0.2.0
configmap:
  description: The ConfigMap changed (or checked) and its resourceVersion after the task.
  returned: with O(target=configmap)
  type: dict
  version_added: 0.2.0
  contains:
    namespace:
      description: Its namespace.
      type: str
    name:
      description: Its name.
      type: str
    key:
      description: The key written, V(config.yaml).
      type: str
    resource_version:
      description: The resourceVersion after the task (unchanged in check mode and when nothing changed).
      type: str
  sample: {namespace: airlock-system, name: airlock-config, key: config.yaml, resource_version: "4711"}
deployment:
  description: The Deployment rolled after a change; null with O(restart=none).
  returned: with O(target=configmap)
  type: str
  version_added: 0.2.0
checksum_annotation:
  description: The pod-template annotation C(airlock.incident/config-checksum) before and after the task (what it
    would be, in check mode); null means absent.
  returned: with O(target=configmap)
  type: dict
  version_added: 0.2.0
  sample: {before: null, after: 6f0c2d1e...}
rollout:
  description: Rollout progress at the end of the last wait (C(complete), C(failed), C(message), replica counts);
    null when nothing rolled.
  returned: with O(target=configmap)
  type: dict
  version_added: 0.2.0
not_ready_pods:
  description: Pods that were not ready when the rollout of the change timed out, with the reason.
  returned: with O(target=configmap), when the change was rolled back
  type: list
  elements: dict
  version_added: 0.2.0
changed_keys:
  description: Dotted keys whose value changed (or would change in check mode). A list counts as one value.
  returned: always
  type: list
  elements: str
  sample: [observability.logging.level, rate_limiting.per_ip, rate_limiting.per_token]
backup_path:
  description: The backup of the previous content; null when nothing was written.
  returned: always
  type: str
  sample: /var/lib/airlock-incidents/INC-1/backups/config.yaml.INC-1.20261128T163501.123456Z.3f1c0a9e5b7d2c4e.bak
restarted:
  description: The restart ran and succeeded (the last one, after a rollback).
  returned: always
  type: bool
verified:
  description: C(/live) and C(/ready) of O(verify_url) answered 2xx after the change.
  returned: always
  type: bool
rolled_back:
  description: The previous content was restored because the service did not come back healthy (on Kubernetes
    also the previous checksum annotation, because the rollout did not complete or the service was unhealthy).
  returned: always
  type: bool
would_restart:
  description: A change is (or would be, in check mode) followed by a restart.
  returned: always
  type: bool
diff:
  description: The YAML text before and after.
  returned: with C(--diff), when the content changes (or would, in check mode)
  type: dict
  sample: {before: "rate_limiting:\n  per_token: 200/min\n", after: "rate_limiting:\n  per_token: 10/min\n"}
sha256_before:
  description: sha256 of the file before the task.
  returned: always
  type: str
sha256_after:
  description: sha256 of the file after the task (or after the change, in check mode).
  returned: always
  type: str
yaml_engine:
  description: V(ruamel.yaml) (comments kept) or V(PyYAML) (comments lost).
  returned: always
  type: str
  sample: ruamel.yaml
msg:
  description: What was done, in one sentence.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema
from ansible_collections.airlock.incident.plugins.module_utils.change.backups import BackupStore, sha256_bytes
from ansible_collections.airlock.incident.plugins.module_utils.change.flow import (
    check_change_params,
    decode,
    failure,
    open_target,
    run_change,
    safe_change_arg_spec,
)
from ansible_collections.airlock.incident.plugins.module_utils.change.safe_change import Reloader
from ansible_collections.airlock.incident.plugins.module_utils.change.yaml_merge import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    YamlDocument,
    YamlMergeError,
    changed_keys,
    merge_text,
    text_diff,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module
from ansible_collections.airlock.incident.plugins.module_utils.k8s.config_target import (
    CONFIG_KEY,
    precheck_settings,
)


def _check_document(after, settings):
    """(errors, warnings) for the merged document."""
    errors = []
    from_settings = set()
    for item in schema.unknown_keys(settings or {}):
        from_settings.add(item["key"])
        errors.append("settings: " + schema.format_unknown(item))
    warnings = []
    for item in schema.unknown_keys(after):
        if item["key"] not in from_settings:
            warnings.append("already in the file: " + schema.format_unknown(item))
    errors.extend(schema.validate(after))
    return errors, warnings


def _reloader(module):
    params = module.params
    method = {"command": "command", "systemd": "systemd"}.get(params["restart"], "none")
    return Reloader(module, method, command=params["restart_command"], service_name=params["service_name"],
                    validate_certs=params["validate_certs"])


def _check_restart(params):
    """The restart method for the target (its default filled in); InputError for one that does not fit."""
    configmap = params["target"] == "configmap"
    if params["restart"] is None:
        params["restart"] = "rollout" if configmap else "none"
    if configmap and params["restart"] not in ("rollout", "none"):
        raise InputError("restart: invalid value %r with target=configmap; accepted values: rollout (a rolling restart "
                         "through the checksum annotation), none" % params["restart"])
    if not configmap and params["restart"] == "rollout":
        raise InputError("restart: rollout is only for target=configmap; with target=file accepted values: none, "
                         "command, systemd")
    if params["restart"] == "command" and not params["restart_command"]:
        raise InputError("restart_command: required (an argv list) when restart=command")
    if params["restart"] == "systemd" and not params["service_name"]:
        raise InputError("service_name: required when restart=systemd")


def _check_params(module):
    params = module.params
    check_change_params(params, module.check_mode, ("path", "restart_command", "service_name"))
    _check_restart(params)
    if params["state"] == "present" and not params["settings"]:
        raise InputError("settings: required (a non-empty mapping of Airlock config keys) when state=present")
    if params["state"] == "reverted" and not params["incident_id"]:
        raise InputError("incident_id: required when state=reverted (the backups to restore are the incident's)")
    if params["verify_url"] and params["restart"] == "none":
        module.warn("verify_url is only used after a restart; restart=none, so the service is not checked")
    if params["target"] == "configmap" and params["state"] == "present":
        # Everything that can be known from the settings alone is refused before any API call.
        errors = precheck_settings(params["settings"])
        if errors:
            raise InputError("refusing to change %s of configmap %s/%s, nothing was touched (no API call was made): "
                             "%s" % (CONFIG_KEY, params["namespace"], params["configmap"], "; ".join(errors)),
                             errors=errors)


def _result(change, before, **extra):
    fields = dict(path=change.target.path, changed_keys=[], would_restart=False, yaml_engine=None)
    fields.update(extra)
    return change.result(before, **fields)


def _commit(module, change, before, new_data, result, kind, extra):
    """Back up, write, restart, verify (and roll back); updates ``result``."""
    reloader = None if change.cluster is not None else _reloader(module)
    change.commit(before, new_data, result, kind, extra, reloader=reloader)
    if change.cluster is None and not reloader.active:
        module.warn("Airlock reads config.yaml only at start: the change takes effect at the next restart "
                    "(set restart to restart it now)")
    elif change.cluster is not None and change.cluster.reloader is None:
        module.warn("restart=none: the Airlock pods keep the previous configuration until they restart (Airlock reads "
                    "config.yaml only at start)")


def _merge(change, before, settings):
    """(text, new_text, new_document, changed keys, engine) of ``settings`` merged into ``before``."""
    name = change.name()
    text = decode(before, name)
    try:
        new_text, _old_doc, new_doc, keys, engine = merge_text(text, settings)
    except YamlMergeError as exc:
        raise AirlockIncidentError("%s: %s; nothing was changed" % (name, exc)) from exc
    return text, new_text, new_doc, keys, engine


def present(module, change, before):
    params = module.params
    name = change.name()
    text, new_text, new_doc, keys, engine = _merge(change, before, params["settings"])
    errors, warnings = _check_document(new_doc, params["settings"])
    for warning in warnings:
        module.warn(warning)
    result = _result(change, before, yaml_engine=engine, changed_keys=keys)
    if errors:
        raise failure("refusing to change %s, nothing was touched: %s" % (name, "; ".join(errors)), result,
                      errors=errors)
    if not keys:
        result["msg"] = "%s already has these settings; nothing to do" % name
        return result
    new_data = new_text.encode("utf-8")
    result.update(diff=text_diff(text, new_text, "%s (before)" % name, "%s (after)" % name),
                  sha256_after=sha256_bytes(new_data), would_restart=params["restart"] != "none")
    if engine != "ruamel.yaml":
        module.warn("ruamel.yaml is not installed on the host: comments of %s are dropped (the backup keeps them)"
                    % name)
    if module.check_mode:
        if change.cluster is not None:
            change.cluster.preview(new_data, result)
        restart = " and restart Airlock" if change.cluster is None else " and roll out deployment %s" % params["deployment"]
        restart = restart if result["would_restart"] else ""
        result.update(changed=True, msg="would change %s in %s%s" % (", ".join(keys), name, restart))
        return result
    _commit(module, change, before, new_data, result, "pre-change", {"changed_keys": keys})
    result["msg"] = "changed %s in %s%s" % (", ".join(keys), name, change.done(result, "restarted"))
    return result


def _compare(before, data, name, entry):
    """(changed keys, YAML engine, schema errors) between the current content and a backup."""
    try:
        new_document = YamlDocument(decode(data, entry["path"]))
        keys = changed_keys(YamlDocument(decode(before, name)).plain(), new_document.plain())
        return keys, new_document.engine, schema.validate(new_document.plain())
    except YamlMergeError as exc:
        return [], None, ["%s: %s" % (entry["path"], exc)]


def reverted(module, change, before):
    params = module.params
    name = change.name()
    entries = change.store.entries(change.target, incident_id=params["incident_id"], kinds=("pre-change",))
    if not entries:
        raise AirlockIncidentError("no backup of %s for incident %s in %s: nothing to revert to" % (
            name, params["incident_id"], change.store.directory))
    entry = entries[-1] if params["revert_to"] == "newest" else entries[0]
    data = BackupStore.read(entry)
    keys, engine, errors = _compare(before, data, name, entry)
    result = _result(change, before, yaml_engine=engine)
    if data == before:
        result["msg"] = "%s already has the content of %s; nothing to do" % (name, entry["path"])
        return result
    for error in errors:
        module.warn("the backup being restored does not validate: %s" % error)
    result.update(changed_keys=keys, sha256_after=sha256_bytes(data), would_restart=params["restart"] != "none",
                  diff=text_diff(decode(before, name), decode(data, entry["path"]), "%s (before)" % name, entry["path"]))
    if change.cluster is not None:
        change.cluster.remember(entry.get("configmap_checksum"), entry.get("annotation"))
    if module.check_mode:
        if change.cluster is not None:
            change.cluster.preview(data, result)
        result.update(changed=True, msg="would restore %s from %s" % (name, entry["path"]))
        return result
    _commit(module, change, before, data, result, "pre-revert", {"restores": entry["path"]})
    result["msg"] = "restored %s from %s%s" % (name, entry["path"], change.done(result, "restarted"))
    return result


def run(module):
    if not HAS_YAML:
        raise AirlockIncidentError(missing_required_lib("PyYAML"), exception=str(YAML_IMPORT_ERROR))
    _check_params(module)
    change, before = open_target(module, "airlock.incident.config", CONFIG_KEY, "configuration", "restarted",
                                 module.params["restart"] == "rollout", "path", must_exist=True)
    if module.params["state"] == "present":
        return present(module, change, before)
    return reverted(module, change, before)


def _where(module):
    params = module.params
    return os.path.abspath(params["path"]) if params["path"] else params["backup_dir"]


def main():
    module = AnsibleModule(
        argument_spec=safe_change_arg_spec(
            path=dict(type="path"),
            settings=dict(type="dict"),
            state=dict(type="str", default="present", choices=["present", "reverted"]),
            revert_to=dict(type="str", default="newest", choices=["newest", "oldest"]),
            restart=dict(type="str", choices=["none", "command", "systemd", "rollout"]),
        ),
        required_if=[("target", "file", ["path"])],
        supports_check_mode=True,
    )
    run_module(module, run_change(run, _where))


if __name__ == "__main__":
    main()
