#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: policy
short_description: Validate an MCP Airlock Rego policy against known requests, deploy it, reload, verify, roll back
version_added: 0.1.0
description:
  - Deploys the OPA/Rego policy Airlock queries as C(data.airlock.authz.allow) (only boolean C(true) allows),
    in place of the operator playbook's C(opa fmt)/C(opa test) and C(kill -HUP 1).
  - The policy is validated B(before) anything is touched, with the real Rego engine C(regopy) (rego-cpp)
    run in a child process. A policy is never deployed when it does not compile (errors are reported as
    C(file:line:col)), when a known request in O(tests) gets another decision than expected (the
    project's sample policy reads C(input.path) and C(input.token.sub), keys Airlock never sends, so it
    compiles and denies everything), or, with O(run_rego_tests), when a C(test_*) rule is not true.
  - Compile checks also cover what OPA v1 refuses and rego-cpp accepts (rule bodies without C(if),
    undefined or deprecated functions, variables used once that nothing binds).
  - The deployed policy is compared by sha256; no change means no write and no reload. Otherwise the
    previous policy is saved in O(backup_dir), the new one written atomically, Airlock reloaded by
    O(reload), and C(/live) and C(/ready) of O(verify_url) polled until both answer 2xx. If the reload fails
    or the service does not come back healthy, the previous policy is restored, Airlock reloaded again, and
    the task fails saying it was rolled back.
  - The released Airlock has no policy reload. It does not handle SIGHUP (which kills it) and has no
    C(/admin) endpoints, so O(reload=restart) is the default; use V(signal) or V(admin) only for a build
    that documents them.
  - With O(target=configmap) the policy is deployed as the C(policy.rego) key of the chart's ConfigMap, never to
    an C(airlock-policy) ConfigMap (the chart has none); the cluster is contacted only after the policy passed
    every check, and O(reload=restart) is the rolling restart the notes describe.
author:
  - airlock.incident contributors (@airlock-incident)
extends_documentation_fragment:
  - airlock.incident.connection.safe_change
attributes:
  check_mode:
    support: full
    description: Validates the policy and reports what would be deployed (RV(decisions), RV(sha256_after));
      writes nothing and reloads nothing.
  diff_mode:
    support: full
    description: Shows the policy text before and after (a unified diff).
  platform:
    support: full
    platforms: posix
    description: Deploys a file on the managed host (O(target=file)), or the C(policy.rego) key of the Helm chart's
      ConfigMap through the Kubernetes API (O(target=configmap); runs where the kubernetes Python client reaches
      the API server).
  idempotent:
    support: full
    description: The deployed policy is compared by sha256; the same policy is neither written nor reloaded (on
      Kubernetes the pod template is not touched, so no new ReplicaSet).
options:
  target:
    description:
      - Where the policy is deployed. V(file) is a file on the managed host (O(dest)). V(configmap) is the
        C(policy.rego) key of O(configmap) in O(namespace), rolled out by restarting O(deployment).
    type: str
    choices: [file, configmap]
    default: file
    version_added: 0.1.0
  src:
    description:
      - A Rego file on the managed host to deploy. Mutually exclusive with O(content).
      - To deploy a file from the controller, use O(content) with a C(file) lookup.
    type: path
  content:
    description:
      - The Rego policy text to deploy. Mutually exclusive with O(src).
    type: str
  restore_from:
    description:
      - Deploy the last good policy from this module's own backups of the same target in this directory (the
        O(backup_dir) of earlier runs) - the newest backup, whether a policy a change replaced or a copy of one
        this module deployed, that compiles with the Rego engine and gets every known request in O(tests) its
        expected decision. Older backups are tried in turn; RV(candidates) says why each was passed over.
      - Nothing is touched when none passes. Mutually exclusive with O(src) and O(content).
      - Give O(tests), without them only compilation decides what "good" means.
    type: path
    version_added: 0.1.0
  dest:
    description:
      - The deployed policy file Airlock reads (its C(policy.rego_file), e.g. C(/etc/airlock/policy.rego)).
      - Required with O(target=file); not used with O(target=configmap).
    type: path
  tests:
    description:
      - Known requests and the decision Airlock must make for each. The policy is not deployed unless every
        one gets its expected decision.
      - Without any, only compilation is checked (a warning says so).
    type: list
    elements: dict
    suboptions:
      name:
        description: A name for the request, shown in RV(decisions).
        type: str
      input:
        description:
          - The policy input as Airlock sends it, with keys C(sub), C(tenant), C(groups) (list), C(tool),
            C(resource), C(method), C(headers) (mapping) and optionally C(virtual_uri), C(real_path),
            C(root_type), C(read_only), C(operation).
        type: dict
        required: true
      expect:
        description: The expected decision.
        type: str
        required: true
        choices: [allow, deny]
  run_rego_tests:
    description:
      - Also evaluate every C(test_*) rule of the policy and of O(test_files), as C(opa test) does; each must
        be true.
    type: bool
    default: false
  test_files:
    description:
      - Rego files (on the managed host) with C(test_*) rules, loaded next to the policy for O(run_rego_tests).
        They are not deployed.
    type: list
    elements: path
  reload:
    description:
      - How Airlock loads the new policy.
      - V(restart) runs O(restart_command), or C(systemctl restart) O(service_name); the only method that works
        on the released Airlock.
      - V(signal) sends O(signal) to the PID in O(pid_file), or runs O(reload_command); only for builds that
        handle it (the release dies on SIGHUP).
      - V(admin) POSTs to O(admin_url) with O(admin_token); only for builds that serve it (the release answers
        404).
      - V(none) only deploys the file.
      - With O(target=configmap) only V(restart) (a rolling restart of O(deployment) through the checksum
        annotation; no O(restart_command) or O(service_name) needed) and V(none) (only the ConfigMap changes;
        the pods keep the old policy until they restart) are accepted. A signal would need C(kubectl exec ... kill
        -HUP 1), which kills the released Airlock.
    type: str
    choices: [restart, signal, admin, none]
    default: restart
  restart_command:
    description:
      - Command (argv list, no shell) that restarts Airlock and returns 0 when it did. Used by O(reload=restart)
        and, when set, to recover after a failed O(reload=signal) or O(reload=admin).
    type: list
    elements: str
  service_name:
    description:
      - The systemd unit of Airlock, restarted by O(reload=restart) when O(restart_command) is not set.
    type: str
  reload_command:
    description:
      - With O(reload=signal), a command (argv list) that makes Airlock reload, instead of signalling the PID in
        O(pid_file).
    type: list
    elements: str
  signal:
    description:
      - The signal sent by O(reload=signal).
    type: str
    choices: [HUP, USR1, USR2]
    default: HUP
  pid_file:
    description:
      - File holding the PID of the Airlock process, for O(reload=signal).
      - Before anything is written, and again before the signal is sent, the PID is verified; otherwise the module
        refuses naming this option and why. The file must be a regular file (not a symbolic link) owned by root
        or by the user the module runs as; its first line a PID greater than 1; the process alive and named
        O(process_name).
    type: path
  process_name:
    description:
      - With O(reload=signal) and O(pid_file), the name the Airlock process must go by before it is signalled, the base
        name of its executable (C(/proc/<pid>/exe)), of its C(argv[0]), or of the script its
        interpreter runs (C(argv[1])).
      - Defaults to V(airlock) with O(reload=signal).
    type: str
    version_added: 0.1.0
  admin_url:
    description:
      - Full URL of the policy reload endpoint, for O(reload=admin), e.g. V(http://127.0.0.1:8080/admin/policy/reload).
    type: str
  admin_token:
    description:
      - Bearer token for O(admin_url).
    type: str
  verify_url:
    description:
      - Base URL of Airlock. After the reload, C(/live) and C(/ready) are polled until both answer 2xx;
        otherwise the previous policy is restored.
    type: str
  validate_certs:
    description:
      - Verify TLS certificates of O(verify_url) and O(admin_url).
    type: bool
    default: true
  backup_dir:
    description:
      - Directory where the previous policy is kept (for example the incident's evidence directory), under a
        name with the incident id, the UTC time and the sha256. Defaults to the directory of O(dest).
      - After a successful deployment a copy of the deployed policy is kept there too (kind C(deployed),
        RV(deployed_copy)), so that O(restore_from) can bring back the last policy this module deployed.
      - Required with O(target=configmap).
    type: path
requirements:
  - regopy (the rego-cpp Rego engine) on the host that runs the module, for validation.
  - kubernetes (Python client), with O(target=configmap) only.
notes:
  - With O(target=configmap), needs C(get) and C(patch) on C(configmaps) and C(deployments) and C(list) on C(pods) in
    O(namespace). To undo a deployed policy there, deploy the backup (O(content) with a C(file) lookup of
    RV(backup_path)); the change is rolled out the same way.
  - regopy 1.5.2 crashes on some valid policies (the infix C(x in coll) evaluated under C(with input as {...}),
    typically in C(test_*) rules); the crash is contained in a child process and reported as an error for that
    test, and decisions are evaluated without the policy's inline C(test_*) rules.
  - regopy lacks a few OPA built-ins (C(net.cidr_*), C(http.send), C(trace)); a warning names those the policy
    calls.
seealso:
  - module: airlock.incident.config
  - module: airlock.incident.health
  - module: airlock.incident.k8s_rollout_restart
"""

EXAMPLES = r"""
- name: Bring back the last good policy from this module's backups (newest that passes the known requests)
  airlock.incident.policy:
    restore_from: /etc/airlock
    dest: /etc/airlock/policy.rego
    tests:
      - name: user lists tools
        input: {sub: alice, tenant: acme, groups: [mcp-users], method: tools/list, tool: "", resource: "", headers: {}}
        expect: allow
    service_name: airlock
    verify_url: http://127.0.0.1:8080
    incident_id: INC-20261128-101500
    backup_dir: /var/lib/airlock-incidents/INC-20261128-101500/backups
- name: Deploy a fixed policy, proven against known requests, restart and verify
  airlock.incident.policy:
    content: "{{ lookup('ansible.builtin.file', 'files/policy.rego') }}"
    dest: /etc/airlock/policy.rego
    tests:
      - name: user reads docs
        input: {sub: alice, tenant: acme, groups: [mcp-users], method: tools/call, tool: read_file,
                resource: "mcp://docs/runbook.md", headers: {}}
        expect: allow
      - name: user cannot run admin tools
        input: {sub: alice, tenant: acme, groups: [mcp-users], method: tools/call, tool: admin_exec,
                resource: "", headers: {}}
        expect: deny
    incident_id: INC-20261128-003
    backup_dir: /var/lib/airlock-incidents/INC-20261128-003/backups
    reload: restart
    service_name: airlock
    verify_url: http://127.0.0.1:8080
  register: airlock_policy

- name: Check a candidate policy and its opa-style tests only (nothing is written)
  airlock.incident.policy:
    src: /tmp/candidate.rego
    dest: /etc/airlock/policy.rego
    run_rego_tests: true
    test_files: [/tmp/candidate_test.rego]
    reload: none
  check_mode: true

- name: On Kubernetes - deploy the fixed policy as policy.rego of airlock-config and roll the Deployment
  airlock.incident.policy:
    target: configmap
    namespace: airlock-system
    configmap: airlock-config
    deployment: airlock
    content: "{{ lookup('ansible.builtin.file', 'files/policy.rego') }}"
    tests:
      - name: user reads docs
        input: {sub: alice, tenant: acme, groups: [mcp-users], method: tools/call, tool: read_file,
                resource: "mcp://docs/runbook.md", headers: {}}
        expect: allow
    incident_id: INC-20261128-003
    confirm: INC-20261128-003
    backup_dir: /var/lib/airlock-incidents/INC-20261128-003/backups
    wait_timeout: 300

- name: A build that documents /admin/policy/reload
  airlock.incident.policy:
    src: /etc/airlock/staging/policy.rego
    dest: /etc/airlock/policy.rego
    reload: admin
    admin_url: http://127.0.0.1:8080/admin/policy/reload
    admin_token: "{{ airlock_admin_token }}"
    restart_command: [systemctl, restart, airlock]
    verify_url: http://127.0.0.1:8080
"""

RETURN = r"""
dest:
  description: The deployed policy file; null with O(target=configmap).
  returned: always
  type: str
target:
  description: V(configmap).
  returned: with O(target=configmap)
  type: str
  version_added: 0.1.0
configmap:
  description: The ConfigMap (C(namespace), C(name), C(key) V(policy.rego), C(resource_version) after the task), as
    RV(airlock.incident.config#module:configmap) describes it.
  returned: with O(target=configmap)
  type: dict
  version_added: 0.1.0
  sample: {namespace: airlock-system, name: airlock-config, key: policy.rego, resource_version: "4711"}
deployment:
  description: The Deployment rolled after a change; null with O(reload=none).
  returned: with O(target=configmap)
  type: str
  version_added: 0.1.0
would_restart:
  description: The change rolls (or would roll, in check mode) the Deployment.
  returned: with O(target=configmap)
  type: bool
  version_added: 0.1.0
checksum_annotation:
  description: As RV(airlock.incident.config#module:checksum_annotation) (C(before) and C(after)).
  returned: with O(target=configmap)
  type: dict
  version_added: 0.1.0
rollout:
  description: As RV(airlock.incident.config#module:rollout); null when nothing rolled.
  returned: with O(target=configmap)
  type: dict
  version_added: 0.1.0
not_ready_pods:
  description: As RV(airlock.incident.config#module:not_ready_pods), for the rollout of the policy.
  returned: with O(target=configmap), when the change was rolled back
  type: list
  elements: dict
  version_added: 0.1.0
sha256_before:
  description: sha256 of the deployed policy before the task; null when there was none.
  returned: always
  type: str
sha256_after:
  description: sha256 of the policy deployed (or that would be, in check mode).
  returned: always
  type: str
decisions:
  description: One entry per known request of O(tests).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The request's name.
      type: str
    expected:
      description: V(allow) or V(deny).
      type: str
    actual:
      description: The decision the policy gave (V(allow) only for boolean C(true)).
      type: str
    ok:
      description: The decision is the expected one.
      type: bool
    error:
      description: An engine error while evaluating the request, or null.
      type: str
  sample: [{name: user reads docs, expected: allow, actual: allow, ok: true, error: null}]
rego_tests:
  description: C(test_*) rule name to V(pass), V(fail) or V(error), with O(run_rego_tests).
  returned: always
  type: dict
  sample: {test_user_can_read: pass, test_admin_tool_denied: pass}
errors:
  description: "Compile errors as C(file:line:col: code: message) and failed checks, one per line."
  returned: always
  type: list
  elements: str
  sample: ["policy.rego:12:3: rego_parse_error: `if` keyword is required before rule body"]
reloaded:
  description: The reload ran and succeeded (the last one, after a rollback).
  returned: always
  type: bool
verified:
  description: C(/live) and C(/ready) of O(verify_url) answered 2xx after the reload.
  returned: always
  type: bool
rolled_back:
  description: The previous policy was restored because the service did not come back healthy.
  returned: always
  type: bool
backup_path:
  description: The backup of the previous policy; null when nothing was written.
  returned: always
  type: str
deployed_copy:
  description: The copy of the deployed policy kept in O(backup_dir) (kind C(deployed)) after a successful deployment.
  returned: when a policy was deployed
  type: str
restored_from:
  description: With O(restore_from), the backup whose policy is deployed (or already was).
  returned: with O(restore_from)
  type: str
candidates:
  description:
    - With O(restore_from), the backups tried, newest first, each with C(backup), C(kind) (V(pre-change) or
      V(deployed)), C(created), C(sha256), C(ok) and the C(errors) that passed it over.
  returned: with O(restore_from)
  type: list
  elements: dict
diff:
  description: The policy text deployed before and the new one.
  returned: with C(--diff), when the policy changes (or would, in check mode)
  type: dict
engine:
  description: The Rego engine used for validation.
  returned: always
  type: str
  sample: regopy 1.5.2
msg:
  description: What was done, in one sentence.
  returned: always
  type: str
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.change import policy_change
from ansible_collections.airlock.incident.plugins.module_utils.change.flow import run_change, safe_change_arg_spec
from ansible_collections.airlock.incident.plugins.module_utils.core.redact import redacting
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def main():
    module = AirlockModule(
        argument_spec=safe_change_arg_spec(
            src=dict(type="path"),
            content=dict(type="str"),
            restore_from=dict(type="path"),
            dest=dict(type="path"),
            tests=dict(type="list", elements="dict", options=dict(
                name=dict(type="str"),
                input=dict(type="dict", required=True),
                expect=dict(type="str", required=True, choices=["allow", "deny"]),
            )),
            run_rego_tests=dict(type="bool", default=False),
            test_files=dict(type="list", elements="path"),
            reload=dict(type="str", default="restart", choices=["restart", "signal", "admin", "none"]),
            reload_command=dict(type="list", elements="str"),
            signal=dict(type="str", default="HUP", choices=["HUP", "USR1", "USR2"]),
            pid_file=dict(type="path"),
            process_name=dict(type="str"),
            admin_url=dict(type="str"),
            admin_token=dict(type="str", no_log=True),
        ),
        mutually_exclusive=[("src", "content", "restore_from")],
        required_one_of=[("src", "content", "restore_from")],
        required_if=[("target", "file", ["dest"])],
        supports_check_mode=True,
    )
    run_module(module, redacting(run_change(policy_change.run, policy_change.where), ("admin_token",),
                                 url_options=("admin_url", "verify_url")))


if __name__ == "__main__":
    main()
