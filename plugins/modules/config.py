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
    (C(plugins/module_utils/airlock_config.py)). Unknown keys coming from O(settings) are refused with the key
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
author:
  - airlock.incident contributors (@airlock-incident)
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
    description: Changes a file on the managed host. A Kubernetes ConfigMap target is not implemented yet.
  idempotent:
    support: full
    description: >-
      When the merged document equals the current one nothing is written and nothing restarts; a second
      O(state=reverted) finds the content already restored.
options:
  path:
    description:
      - The Airlock C(config.yaml) on the host. It must exist; the module never creates a configuration.
      - A symlink is written through (its target is replaced, the link is kept).
    type: path
    required: true
  settings:
    description:
      - Nested Airlock settings (snake_case keys, as in C(config.yaml)) merged into the document.
      - Required when O(state=present).
    type: dict
  state:
    description:
      - V(present) merges O(settings). V(reverted) restores the backup saved for O(incident_id).
    type: str
    choices: [present, reverted]
    default: present
  backup_dir:
    description:
      - Directory where previous contents are kept, for example the incident's evidence directory. Created
        (mode 0700) if missing.
      - Defaults to the directory of O(path).
    type: path
  incident_id:
    description:
      - The incident this change belongs to; recorded in the backup name and metadata.
      - Required when O(state=reverted).
    type: str
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
      - There is no signal option, because the released Airlock does not handle SIGHUP (it dies).
    type: str
    choices: [none, command, systemd]
    default: none
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
  verify_timeout:
    description:
      - Seconds to wait for C(/live) and C(/ready) after a restart.
    type: float
    default: 30
  validate_certs:
    description:
      - Verify the TLS certificate of O(verify_url).
    type: bool
    default: true
requirements:
  - PyYAML (ships with ansible-core); ruamel.yaml is used when installed, to keep comments.
notes:
  - Keys containing C(_) cannot be set through Airlock's C(AIRLOCK_*) environment overrides; this module changes
    the file, which is the only reliable way to set them.
  - C(rate_limiting) is parsed by newer builds and ignored by the current Airlock release.
seealso:
  - module: airlock.incident.policy
  - module: airlock.incident.health
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

- name: Close the incident - undo every change it made
  airlock.incident.config:
    path: /etc/airlock/config.yaml
    state: reverted
    revert_to: oldest
    incident_id: INC-20261128-001
    backup_dir: /var/lib/airlock-incidents/INC-20261128-001/backups
    restart: systemd
    service_name: airlock
    verify_url: http://127.0.0.1:8080
"""

RETURN = r"""
path:
  description: The configuration file changed (or checked).
  returned: always
  type: str
  sample: /etc/airlock/config.yaml
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
  description: The previous content was restored because the service did not come back healthy.
  returned: always
  type: bool
would_restart:
  description: A change is (or would be, in check mode) followed by a restart.
  returned: always
  type: bool
diff:
  description: The YAML text before and after (the C(--diff) output); empty texts when nothing changes.
  returned: always
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

from ansible_collections.airlock.incident.plugins.module_utils import airlock_config as schema
from ansible_collections.airlock.incident.plugins.module_utils.common import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.safe_change import (
    BackupStore,
    FileTarget,
    Reloader,
    apply_change,
    check_verify_url,
    sha256_bytes,
    validate_incident_id,
)
from ansible_collections.airlock.incident.plugins.module_utils.yaml_merge import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    YamlDocument,
    YamlMergeError,
    changed_keys,
    merge_text,
    text_diff,
)


def _decode(data, path):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AirlockIncidentError("path: %s is not UTF-8 text (%s)" % (path, exc))


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


def _check_params(module):
    params = module.params
    try:
        params["incident_id"] = validate_incident_id(params["incident_id"])
        params["verify_url"] = check_verify_url(params["verify_url"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if params["state"] == "present" and not params["settings"]:
        module.fail_json(msg="settings: required (a non-empty mapping of Airlock config keys) when state=present")
    if params["state"] == "reverted" and not params["incident_id"]:
        module.fail_json(msg="incident_id: required when state=reverted (the backups to restore are the incident's)")
    if params["restart"] == "command" and not params["restart_command"]:
        module.fail_json(msg="restart_command: required (an argv list) when restart=command")
    if params["restart"] == "systemd" and not params["service_name"]:
        module.fail_json(msg="service_name: required when restart=systemd")
    if not params["verify_timeout"] > 0:
        module.fail_json(msg="verify_timeout: invalid value %r; it must be a number of seconds greater than 0"
                         % params["verify_timeout"])
    if params["verify_url"] and params["restart"] == "none":
        module.warn("verify_url is only used after a restart; restart=none, so the service is not checked")


def _base_result(target, before):
    return {
        "changed": False,
        "path": target.path,
        "changed_keys": [],
        "backup_path": None,
        "restarted": False,
        "verified": False,
        "rolled_back": False,
        "would_restart": False,
        "diff": {"before": "", "after": ""},
        "sha256_before": sha256_bytes(before),
        "sha256_after": sha256_bytes(before),
        "yaml_engine": None,
        "msg": "",
    }


def _commit(module, target, before, new_data, result, kind, extra=None):
    """Back up, write, restart, verify (and roll back); updates ``result``."""
    params = module.params
    store = BackupStore(params["backup_dir"] or os.path.dirname(target.path))
    backup_path = store.save(target, before, incident_id=params["incident_id"], kind=kind,
                             module="airlock.incident.config", extra=extra)
    result["backup_path"] = backup_path
    reloader = _reloader(module)
    try:
        outcome = apply_change(target, new_data, before, backup_path, reloader, verify_url=params["verify_url"],
                               verify_timeout=params["verify_timeout"], validate_certs=params["validate_certs"],
                               what="configuration")
    except AirlockIncidentError as exc:
        store.mark(backup_path, rolled_back=True, rollback_reason=exc.msg)
        result.update(changed=True, restarted=bool((exc.result.get("rollback_reload") or {}).get("ok")),
                      verified=False, rolled_back=True, sha256_after=sha256_bytes(target.read() or b""))
        result["msg"] = exc.msg
        module.fail_json(**result)
    result.update(changed=True, restarted=outcome["restarted"], verified=outcome["verified"],
                  rolled_back=False, sha256_after=sha256_bytes(new_data))
    if not reloader.active:
        module.warn("Airlock reads config.yaml only at start: the change takes effect at the next restart "
                    "(set restart to restart it now)")


def present(module, target, before):
    params = module.params
    text = _decode(before, target.path)
    try:
        new_text, old_doc, new_doc, keys, engine = merge_text(text, params["settings"])
    except YamlMergeError as exc:
        module.fail_json(msg="%s: %s; nothing was changed" % (target.path, exc))
    errors, warnings = _check_document(new_doc, params["settings"])
    for warning in warnings:
        module.warn(warning)
    result = _base_result(target, before)
    result["yaml_engine"] = engine
    if errors:
        result["changed_keys"] = keys
        result["msg"] = "refusing to change %s, nothing was touched: %s" % (target.path, "; ".join(errors))
        module.fail_json(errors=errors, **result)
    result["changed_keys"] = keys
    if not keys:
        result["msg"] = "%s already has these settings; nothing to do" % target.path
        module.exit_json(**result)
    new_data = new_text.encode("utf-8")
    result["diff"] = text_diff(text, new_text, "%s (before)" % target.path, "%s (after)" % target.path)
    result["sha256_after"] = sha256_bytes(new_data)
    result["would_restart"] = params["restart"] != "none"
    if engine != "ruamel.yaml":
        module.warn("ruamel.yaml is not installed on the host: comments of %s are dropped (the backup keeps them)"
                    % target.path)
    if module.check_mode:
        result["changed"] = True
        result["msg"] = "would change %s in %s%s" % (", ".join(keys), target.path,
                                                     " and restart Airlock" if result["would_restart"] else "")
        module.exit_json(**result)
    _commit(module, target, before, new_data, result, "pre-change", extra={"changed_keys": keys})
    result["msg"] = "changed %s in %s%s" % (", ".join(keys), target.path,
                                            ", restarted and verified" if result["verified"] else
                                            (", restarted" if result["restarted"] else ""))
    module.exit_json(**result)


def reverted(module, target, before):
    params = module.params
    store = BackupStore(params["backup_dir"] or os.path.dirname(target.path))
    entries = store.entries(target, incident_id=params["incident_id"], kinds=("pre-change",))
    if not entries:
        module.fail_json(msg="no backup of %s for incident %s in %s: nothing to revert to" % (
            target.path, params["incident_id"], store.directory))
    entry = entries[-1] if params["revert_to"] == "newest" else entries[0]
    data = BackupStore.read(entry)
    result = _base_result(target, before)
    text_before = _decode(before, target.path)
    text_after = _decode(data, entry["path"])
    keys = []
    try:
        old_document = YamlDocument(text_before)
        new_document = YamlDocument(text_after)
        result["yaml_engine"] = new_document.engine
        keys = changed_keys(old_document.plain(), new_document.plain())
        errors = schema.validate(new_document.plain())
    except YamlMergeError as exc:
        errors = ["%s: %s" % (entry["path"], exc)]
    if data == before:
        result["msg"] = "%s already has the content of %s; nothing to do" % (target.path, entry["path"])
        module.exit_json(**result)
    for error in errors:
        module.warn("the backup being restored does not validate: %s" % error)
    result.update(changed_keys=keys, sha256_after=sha256_bytes(data), would_restart=params["restart"] != "none",
                  diff=text_diff(text_before, text_after, "%s (before)" % target.path, entry["path"]))
    if module.check_mode:
        result["changed"] = True
        result["msg"] = "would restore %s from %s" % (target.path, entry["path"])
        module.exit_json(**result)
    _commit(module, target, before, data, result, "pre-revert", extra={"restores": entry["path"]})
    result["msg"] = "restored %s from %s%s" % (target.path, entry["path"],
                                               ", restarted and verified" if result["verified"] else "")
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            settings=dict(type="dict"),
            state=dict(type="str", default="present", choices=["present", "reverted"]),
            backup_dir=dict(type="path"),
            incident_id=dict(type="str"),
            revert_to=dict(type="str", default="newest", choices=["newest", "oldest"]),
            restart=dict(type="str", default="none", choices=["none", "command", "systemd"]),
            restart_command=dict(type="list", elements="str"),
            service_name=dict(type="str"),
            verify_url=dict(type="str"),
            verify_timeout=dict(type="float", default=30.0),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=str(YAML_IMPORT_ERROR))
    _check_params(module)
    target = FileTarget(module.params["path"])
    try:
        before = target.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg="path: cannot read %s: %s" % (target.path, exc))
    if before is None:
        module.fail_json(msg="path: %s does not exist; this module changes an existing Airlock configuration, it "
                             "never creates one" % target.path)
    try:
        if module.params["state"] == "present":
            present(module, target, before)
        else:
            reverted(module, target, before)
    except AirlockIncidentError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    except (IOError, OSError) as exc:
        module.fail_json(msg="%s: %s" % (target.path, exc))


if __name__ == "__main__":
    main()
