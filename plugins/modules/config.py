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
    version_added: 0.1.0
  path:
    description:
      - The Airlock C(config.yaml) on the host. It must exist; the module never creates a configuration.
      - A symlink is written through (its target is replaced, the link is kept).
      - Required with O(target=file); not used with O(target=configmap).
    type: path
  settings:
    description:
      - Nested Airlock settings (snake_case keys, as in C(config.yaml)) merged into the document.
      - Must be a mapping; a C(k=v) string or a JSON text is refused naming this option. A key with a dot
        (C(server.addr)) is refused too, write it nested (a mapping C(server) holding C(addr)).
      - Values under secret keys (C(upstreams[].env), tokens, passwords) are masked in every result, message,
        warning and RV(diff).
      - Required when O(state=present).
    type: raw
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
  version_added: 0.1.0
configmap:
  description: The ConfigMap changed (or checked) and its resourceVersion after the task.
  returned: with O(target=configmap)
  type: dict
  version_added: 0.1.0
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
  version_added: 0.1.0
checksum_annotation:
  description: The pod-template annotation C(airlock.incident/config-checksum) before and after the task (what it
    would be, in check mode); null means absent.
  returned: with O(target=configmap)
  type: dict
  version_added: 0.1.0
  sample: {before: null, after: 6f0c2d1e...}
rollout:
  description: Rollout progress at the end of the last wait (C(complete), C(failed), C(message), replica counts);
    null when nothing rolled.
  returned: with O(target=configmap)
  type: dict
  version_added: 0.1.0
not_ready_pods:
  description: Pods that were not ready when the rollout of the change timed out, with the reason.
  returned: with O(target=configmap), when the change was rolled back
  type: list
  elements: dict
  version_added: 0.1.0
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

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.change import config_change
from ansible_collections.airlock.incident.plugins.module_utils.change.flow import run_change, safe_change_arg_spec
from ansible_collections.airlock.incident.plugins.module_utils.core.redact import redacting
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def main():
    module = AirlockModule(
        argument_spec=safe_change_arg_spec(
            path=dict(type="path"),
            settings=dict(type="raw"),
            state=dict(type="str", default="present", choices=["present", "reverted"]),
            revert_to=dict(type="str", default="newest", choices=["newest", "oldest"]),
            restart=dict(type="str", choices=["none", "command", "systemd", "rollout"]),
        ),
        required_if=[("target", "file", ["path"])],
        supports_check_mode=True,
    )
    run_module(module, redacting(run_change(config_change.run, config_change.where), documents=("settings",),
                                 url_options=("verify_url",)))


if __name__ == "__main__":
    main()
