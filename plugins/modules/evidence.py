#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evidence
short_description: Build and verify an incident evidence bundle with a chain of custody
version_added: "0.1.0"
description:
  - Collects evidence files into one bundle directory per incident (for example
    C(incidents/INC-20261128-101500/evidence)) and keeps a custody record of each of them.
  - Every item is recorded in C(manifest.json) with its size, SHA-256 and BLAKE3 hashes, the UTC
    collection time (RFC 3339), the collector (user and host), its origin and free-text source
    (the command that produced it), and the tool versions (collection, Python, ansible-core).
  - Writes C(SHA256SUMS) in C(sha256sum -c) format (relative names) covering every item, and
    C(manifest.json.sha256), the manifest's own hash in the same format.
  - Collected files are made read-only (0444). A different file or content under a name that is
    already collected is never overwritten; the task fails naming the item unless O(force=true),
    which keeps the old copy as C(<name>.superseded-<UTC timestamp>) and records both.
  - O(state=verify) re-hashes everything the manifest lists and reports modified, missing and
    extra files, and files replaced by a symbolic link (never followed) or by a non-regular file;
    it never changes anything.
  - A collection is journaled, so that its items, C(SHA256SUMS) and manifest become visible together.
    Everything is staged in a C(.staging-<UTC timestamp>-<random>) directory inside the bundle and
    committed with a journal before anything in the bundle changes. A run interrupted before the
    commit (killed, disk full) leaves nothing visible; one interrupted after it is completed. Either
    way the next O(state=present) run on the bundle repairs the leftover first and reports it in
    RV(recovered), and O(state=verify) ignores such leftovers and reports them in RV(leftovers).
  - The bundle's own files are never written through a link, and a link or non-regular file where the
    manifest or an item should be is refused or reported, never read through.
  - An item of O(items[].kind=audit_snapshot) records the audit chain head and event count at
    collection time, without which the audit hash chain proves nothing (whoever can write the
    database can rebuild the chain). O(require_audit_snapshot) enforces its presence.
author:
  - airlock.incident contributors (@airlock-incident)
requirements:
  - blake3 (Python package) on the host that runs the module
attributes:
  check_mode:
    support: full
    description:
      - Reports what would be collected (sources are hashed, URLs are fetched with GET and hashed
        in memory) and writes nothing, not even the bundle directory.
  diff_mode:
    support: full
    description: Shows the manifest item list before and after.
  platform:
    support: full
    platforms: posix
    description: Runs on the host that holds the bundle directory (usually the controller, delegated to localhost).
  idempotent:
    support: full
    description: A rerun with unchanged sources reports no change and rewrites nothing.
options:
  path:
    description:
      - The bundle directory, created (mode 0750) if missing, for example
        C(incidents/INC-20261128-101500/evidence).
    type: path
    required: true
  incident_id:
    description:
      - Incident identifier recorded in the manifest. Required with O(state=present).
      - The collection's one incident-id rule applies (letters, digits, C(.), C(_) and C(-), starting with a
        letter or digit, at most 63 characters); anything else is refused before anything is read.
      - A bundle belongs to one incident; adding to a bundle of another incident fails.
      - With O(state=verify), checked against the manifest when given.
    type: str
  state:
    description:
      - V(present) collects O(items) into the bundle.
      - V(verify) re-hashes every listed file and returns RV(verified) and RV(mismatches).
    type: str
    choices: [present, verify]
    default: present
  items:
    description:
      - Evidence to collect. Each item has a O(items[].name) and exactly one of O(items[].src),
        O(items[].content) or O(items[].url).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - File name inside the bundle. No path separators, no C(..), no leading dot, not one of
            C(manifest.json), C(manifest.json.sha256), C(SHA256SUMS).
        type: str
        required: true
      src:
        description:
          - Local file (on the host running the module) copied into the bundle, streamed.
        type: path
      content:
        description:
          - Text stored as the item (UTF-8), for example a registered command's C(stdout) or a
            health result passed through C(to_nice_json).
          - Module arguments are visible in verbose output; set C(no_log) on the task if the text
            holds secrets.
        type: str
      url:
        description:
          - HTTP(S) endpoint fetched with GET; the response body is stored whatever the HTTP status
            (a C(503) from C(/ready) is evidence too), and the status is recorded.
          - Do not put credentials in the URL.
        type: str
      description:
        description: What the item is.
        type: str
      source:
        description:
          - Free text saying where the item came from, for example
            C(kubectl logs -n airlock-system -l app.kubernetes.io/name=airlock --since=2h).
        type: str
      kind:
        description:
          - Kind of evidence. V(audit_snapshot) requires O(items[].chain_head) and O(items[].events).
        type: str
        choices: [audit_snapshot, command_output, config, health, log, metrics, policy, report, state, other]
        default: other
      chain_head:
        description:
          - For V(audit_snapshot) only, the audit chain head (hash of the highest rowid, 64 lowercase
            hex characters) at snapshot time, as returned by M(airlock.incident.audit_snapshot).
          - May be empty only when O(items[].events=0).
        type: str
      events:
        description:
          - For V(audit_snapshot) only, the number of audit events at snapshot time.
        type: int
      versioned:
        description:
          - For an observation that changes between runs, such as the body of a health endpoint. When the
            content differs from the copy already collected under this name, the old copy is kept as
            C(<name>.superseded-<UTC timestamp>) and the new one is recorded (both in the manifest items
            and history), as O(force=true) does, but for this item only. Nothing is ever deleted.
          - Without it (the default), a different content under a collected name fails the task naming the item.
        type: bool
        default: false
  force:
    description:
      - Allow a different file or content under a name that is already collected. The old copy is
        kept, renamed C(<name>.superseded-<UTC timestamp>), and both are recorded in the manifest
        items and history. Nothing is ever deleted.
    type: bool
    default: false
  require_audit_snapshot:
    description:
      - Fail, before anything is written, unless the bundle (after this task) holds an item of
        O(items[].kind=audit_snapshot) with a chain head.
      - The security playbooks of this collection set it to V(true). Hashing evidence without the
        audit database snapshot and its chain head is one of the operator playbook's mistakes.
      - Also honoured by O(state=verify).
    type: bool
    default: false
  timeout:
    description: Seconds allowed for each O(items[].url) request (connection and each read).
    type: float
    default: 30.0
  validate_certs:
    description: Verify TLS certificates of C(https) O(items[].url) endpoints.
    type: bool
    default: true
  ca_path:
    description: PEM file with the CA certificates used to verify C(https) O(items[].url) endpoints.
    type: path
  url_max_bytes:
    description: Largest response body accepted from an O(items[].url); larger ones fail the task.
    type: int
    default: 268435456
notes:
  - The manifest, checksum files and items are read-only. To undo a collection, remove the bundle
    directory (C(chmod -R u+w) first); the module itself never deletes anything.
  - O(state=present) checks that listed files still exist with their recorded size; only
    O(state=verify) re-hashes their content.
  - Concurrent runs on the same bundle are serialised with a lock on the bundle directory (C(fcntl.flock));
    a second run waits for the first, then reads the bundle as the first one left it.
seealso:
  - module: airlock.incident.audit_snapshot
  - module: airlock.incident.audit_verify
  - module: airlock.incident.log_scan
"""

EXAMPLES = r"""
- name: Snapshot the audit database (consistent copy, chain head, event count)
  airlock.incident.audit_snapshot:
    path: /var/lib/airlock/audit.db
    dest: "incidents/{{ airlock_incident_id }}/work/"
    incident_id: "{{ airlock_incident_id }}"
  register: snap

- name: Capture pod logs
  ansible.builtin.command:
    argv: [kubectl, logs, -n, airlock-system, -l, app.kubernetes.io/name=airlock, --since=2h, --timestamps]
  register: pod_logs
  changed_when: false

- name: Preserve the evidence with a chain of custody
  airlock.incident.evidence:
    path: "incidents/{{ airlock_incident_id }}/evidence"
    incident_id: "{{ airlock_incident_id }}"
    require_audit_snapshot: true
    items:
      - name: audit.db
        src: "{{ snap.dest }}"
        kind: audit_snapshot
        chain_head: "{{ snap.chain_head }}"
        events: "{{ snap.events }}"
        source: "airlock.incident.audit_snapshot of /var/lib/airlock/audit.db"
      - name: pod-logs.txt
        content: "{{ pod_logs.stdout }}"
        kind: log
        source: "{{ pod_logs.cmd | join(' ') }}"
      - name: ready.json
        url: http://airlock.airlock-system.svc:8080/ready
        kind: health
        versioned: true  # the body changes between runs: a rerun keeps the old copy and records the new
  register: bundle

- name: Hand the manifest to the next workflow node
  ansible.builtin.set_stats:
    data:
      airlock_evidence_manifest: "{{ bundle.manifest_path }}"
      airlock_evidence_manifest_sha256: "{{ bundle.manifest_sha256 }}"

- name: Later, prove nothing changed
  airlock.incident.evidence:
    path: "incidents/{{ airlock_incident_id }}/evidence"
    state: verify
  register: check
  failed_when: not check.verified
"""

RETURN = r"""
msg:
  description: What was collected (or would be, in check mode), or whether the bundle matches its manifest.
  returned: always
  type: str
  sample: "collected 2 item(s) into incidents/INC-20261128-101500/evidence: pod-logs.txt, ready.json"
manifest_path:
  description: Path of C(manifest.json).
  returned: always
  type: str
  sample: incidents/INC-20261128-101500/evidence/manifest.json
manifest_sha256:
  description:
    - SHA-256 of C(manifest.json) after the task (also in C(manifest.json.sha256)).
    - In check mode, the hash of the manifest on disk (null when there is none yet).
  returned: always
  type: str
  sample: 3b5d5c3712955042212316173ccf37be800a9c33b1d8fa1aa5f3d3d2c8a1f5f0
items:
  description: Every item the manifest lists (current and superseded), with hashes and custody data.
  returned: always
  type: list
  elements: dict
  sample:
    - name: pod-logs.txt
      kind: log
      size: 182733
      sha256: 0b0d3bd0e6b4b3d3a5f1b2f0ad43d4c2e1f0a5b6c7d8e9f00112233445566778
      blake3: 5a1c4e0d1f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f901234567
      collected_at: "2026-11-28T10:21:04.512345Z"
      collector: {user: sre, host: bastion-1}
      origin: content
      origin_ref: null
      source: kubectl logs -n airlock-system -l app.kubernetes.io/name=airlock --since=2h
      status: current
changed_items:
  description: Names added, replaced or whose description/source/kind changed in this run.
  returned: always
  type: list
  elements: str
  sample: [pod-logs.txt]
superseded:
  description: Names given to the old copies kept because of O(force=true).
  returned: when state is present
  type: list
  elements: str
  sample: [pod-logs.txt.superseded-20261128T102104Z]
verified:
  description: True when every listed file matches its hashes and no file is missing or extra.
  returned: when state is verify
  type: bool
  sample: false
mismatches:
  description:
    - One entry per problem. C(reason) is C(modified) (content differs from the manifest, or the
      manifest differs from C(manifest.json.sha256)), C(missing), C(extra) (in the directory
      but not in the manifest), C(symlink) (a symbolic link where a file was collected; never
      followed) or C(not_regular) (a FIFO, directory or device there).
  returned: when state is verify
  type: list
  elements: dict
  sample:
    - name: pod-logs.txt
      expected_sha256: 0b0d3bd0e6b4b3d3a5f1b2f0ad43d4c2e1f0a5b6c7d8e9f00112233445566778
      actual_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      reason: modified
leftovers:
  description:
    - What an interrupted collection left in the bundle (staging directories, temporary files), ignored
      by the verification. The next O(state=present) run removes or completes them.
  returned: when state is verify
  type: list
  elements: str
  sample: [.staging-20261128T102104Z-5f3a9c01]
recovered:
  description: What this run repaired first, left by an interrupted collection (removed or completed).
  returned: when state is present and something was repaired
  type: list
  elements: str
  sample: ["removed .staging-20261128T102104Z-5f3a9c01, left by a collection interrupted before it committed (nothing of it was in the bundle)"]
audit_snapshot:
  description: Chain head and event count of the current audit snapshot item, if any.
  returned: always
  type: dict
  sample: {name: audit.db, chain_head: 7a95df69c5daa2e048401ed8fd74268ff11789bc675bb3f68d3d0fdf500610aa, events: 125000}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.redact import redacting
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module
from ansible_collections.airlock.incident.plugins.module_utils.evidence import bundle, hashing, store


def run(module):
    if not hashing.HAS_BLAKE3:
        raise AirlockIncidentError(missing_required_lib("blake3"), exception=str(hashing.BLAKE3_IMPORT_ERROR))
    errors = bundle.validate(module.params)
    if errors:
        raise InputError("; ".join(errors))
    return bundle.run_evidence(module.params, module.check_mode)


def main():
    module = AirlockModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            incident_id=dict(type="str"),
            state=dict(type="str", choices=["present", "verify"], default="present"),
            items=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    name=dict(type="str", required=True),
                    src=dict(type="path"),
                    content=dict(type="str"),
                    url=dict(type="str"),
                    description=dict(type="str"),
                    source=dict(type="str"),
                    kind=dict(type="str", choices=list(store.KINDS), default="other"),
                    chain_head=dict(type="str"),
                    events=dict(type="int"),
                    versioned=dict(type="bool", default=False),
                ),
            ),
            force=dict(type="bool", default=False),
            require_audit_snapshot=dict(type="bool", default=False),
            timeout=dict(type="float", default=30.0),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            url_max_bytes=dict(type="int", default=268435456),
        ),
        supports_check_mode=True,
    )
    run_module(module, redacting(run, url_options=("items.url",)))


if __name__ == "__main__":
    main()
