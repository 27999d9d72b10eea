#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_audit_snapshot
short_description: Snapshot the MCP Airlock audit database inside its pod and copy it out with a chain of custody
version_added: "0.1.0"
description:
  - Takes a consistent copy of the live Airlock audit database B(inside the pod) with the sqlite3 CLI's online
    backup (C(sqlite3 -readonly <db_path> ".backup <tmp>")), hashes it in the pod (C(sha256sum)), copies the bytes out
    through the Kubernetes exec API, hashes them again locally and keeps the copy only when size and SHA-256 match.
  - The Airlock image has B(no shell), so every command is exec'd as an argv, never through C(sh -c). It uses the
    sqlite3 CLI and the BusyBox applets C(wc), C(df), C(sha256sum), C(base64) and C(rm) that the image ships.
  - The pod is a Running and Ready pod of the Deployment O(name) (the oldest one), or the pod named with O(pod).
  - The temporary copy in the pod (under O(pod_tmp_dir)) is switched to rollback-journal mode
    (C(PRAGMA journal_mode=DELETE)) before it is hashed, so the evidence is one self-contained file, then removed
    with C(rm -f) after the copy, also when anything failed. The live database is opened read-only and never written.
  - The bytes travel as base64 text on the exec stream's stdout (the kubernetes client decodes exec output as UTF-8,
    which base64 survives unchanged) and are decoded into a temporary file in the destination directory block by
    block, never held in memory. The local file is hashed from disk; on a size or hash mismatch it is deleted and the
    task fails. Only a verified copy is made read-only (0444) and linked under its final name, which never replaces
    an existing file.
  - Next to the snapshot, C(<dest>.custody.json) (read-only) records the chain of custody, pod, node, container and
    image, the in-pod and local hashes, the commands and their exit codes, who collected it, when and with which tools,
    and the audit facts (events, chain head, integrity check).
  - RV(evidence_item) is ready to pass to M(airlock.incident.evidence), which copies the snapshot into the incident's
    evidence bundle with its chain head, as the host workflow does with M(airlock.incident.audit_snapshot).
  - Check mode reads the Deployment and pods to say which pod it would use and which commands it would run; it execs
    nothing and writes nothing.
author:
  - airlock.incident contributors (@airlock-incident)
requirements:
  - blake3 (Python package)
  - in the container, the sqlite3 CLI and BusyBox (or coreutils) C(wc), C(df), C(sha256sum), C(base64), C(rm)
attributes:
  check_mode:
    support: full
    description: Chooses the pod and reports the commands it would run; nothing is exec'd and nothing is written.
  diff_mode:
    support: none
    description: It creates new evidence files and changes nothing that a diff could show.
  platform:
    support: full
    platforms: posix
    description: Runs where the kubernetes Python client can reach the API server and the snapshot is stored (usually the controller).
  idempotent:
    support: full
    description: >-
      When the destination file exists, the module returns its facts and custody record and execs nothing
      (unless O(force=true)); give O(incident_id) with a directory O(dest) for a stable name.
extends_documentation_fragment:
  - airlock.incident.kubernetes
  - airlock.incident.kubernetes.namespace
options:
  name:
    description:
      - Name of the Deployment whose pods are considered. The Helm chart names it after the release (V(airlock)).
    type: str
    default: airlock
  pod:
    description:
      - Name of the pod to exec into instead of choosing a Running and Ready pod of O(name). A running pod that is
        not ready is accepted (with a warning); a pod whose container is not running is refused.
    type: str
  container:
    description: Container that runs Airlock and has the database volume mounted.
    type: str
    default: airlock
  db_path:
    description:
      - Path of the audit database B(inside the container), Airlock's C(audit.database); the chart mounts the data
        claim at C(/var/lib/airlock) and the documented configuration uses C(/var/lib/airlock/audit.db).
      - An absolute path of letters, digits, C(.), C(_), C(@), C(+), C(-) and C(/) (it is passed to sqlite3 unquoted).
    type: str
    default: /var/lib/airlock/audit.db
  pod_tmp_dir:
    description:
      - Writable directory inside the container for the temporary copy. The root file system is read-only; the chart
        mounts an emptyDir at C(/tmp). Use C(/var/lib/airlock) (the data volume) when the pod has no writable C(/tmp),
        keeping in mind that the copy then takes space on the volume Airlock writes to.
      - The module checks with C(df) that it has room for a copy of the database (plus 4 MiB) before the backup.
    type: str
    default: /tmp
  dest:
    description:
      - Local destination file, or an existing directory (or a path ending in C(/)) in which the snapshot is named
        C(airlock-audit-<incident_id>.db), or C(airlock-audit-<UTC time>.db) without O(incident_id).
      - The parent directory must exist. The custody record is written beside it as C(<dest>.custody.json).
    type: path
    required: true
  incident_id:
    description:
      - Incident identifier used in the file name when O(dest) is a directory (the collection's one incident-id rule -
        letters, digits, C(.), C(_) and C(-), starting with a letter or digit, at most 63 characters). Makes reruns
        idempotent.
    type: str
  force:
    description:
      - Take a new snapshot even when the destination file exists. The existing file and its custody record are
        kept, renamed C(<dest>.superseded-<UTC time>); nothing is overwritten.
    type: bool
    default: false
  exec_timeout:
    description:
      - Seconds each in-pod command may take (the copy of a large database is one command), 1 to 86400.
    type: int
    default: 600
notes:
  - O(request_timeout) bounds the API requests; the in-pod commands are bounded by O(exec_timeout) instead.
  - Needs C(get) on C(deployments), C(get) and C(list) on C(pods) and C(create) (and C(get)) on C(pods/exec) in the
    namespace.
  - "What changes in the pod: only the temporary copy under O(pod_tmp_dir) (and, while sqlite3 converts it, its
    C(-journal)/C(-wal)/C(-shm) files), removed at the end. If the removal fails, the task warns and returns
    RV(pod_tmp_removed=false) with the path to remove by hand."
  - "Undo: delete the local snapshot and its C(.custody.json) (both mode 0444)."
  - In the kwok lab (C(lab/k8s)), exec runs the command B(on the host) in C(.lab/k8s), so O(db_path) names the host lab
    Airlock's database (C(db) in its C(state.json)) and O(pod_tmp_dir) a host directory. See C(docs/kubernetes-evidence.md).
seealso:
  - module: airlock.incident.audit_snapshot
  - module: airlock.incident.audit_verify
  - module: airlock.incident.evidence
"""

EXAMPLES = r"""
- name: Snapshot the audit database inside a ready Airlock pod
  airlock.incident.k8s_audit_snapshot:
    namespace: airlock-system
    dest: "incidents/{{ airlock_incident_id }}/snapshots/"
    incident_id: "{{ airlock_incident_id }}"
  register: snap

- name: Verify the copied snapshot's hash chain
  airlock.incident.audit_verify:
    path: "{{ snap.dest }}"
    expected_head: "{{ snap.chain_head }}"
    expected_events: "{{ snap.events }}"
  register: chain

- name: Bind it into the evidence bundle with its chain head and custody record
  airlock.incident.evidence:
    path: "incidents/{{ airlock_incident_id }}/evidence"
    incident_id: "{{ airlock_incident_id }}"
    require_audit_snapshot: true
    items:
      - "{{ snap.evidence_item }}"
      - name: "{{ snap.custody_path | basename }}"
        src: "{{ snap.custody_path }}"
        kind: other
        source: airlock.incident.k8s_audit_snapshot custody record

- name: A pod without a writable /tmp, copy beside the database instead
  airlock.incident.k8s_audit_snapshot:
    pod: airlock-7df9cb968f-2nbwc
    pod_tmp_dir: /var/lib/airlock
    dest: /srv/evidence/audit-pod.db
"""

RETURN = r"""
dest:
  description: Local path of the snapshot (in check mode, the path it would have).
  returned: always
  type: str
  sample: /srv/incidents/INC-20261128-101500/snapshots/airlock-audit-INC-20261128-101500.db
sha256:
  description: SHA-256 of the local snapshot (equal to RV(pod_sha256) and RV(local_sha256)).
  returned: success, not in check mode
  type: str
  sample: 4f0c1f0c6bd1c3a0b4a5d2e59e0f8ad1b44e1f3a9e1d8c3b2a1f0e9d8c7b6a59
pod_sha256:
  description: SHA-256 computed by C(sha256sum) inside the pod before the copy.
  returned: success, not in check mode
  type: str
  sample: 4f0c1f0c6bd1c3a0b4a5d2e59e0f8ad1b44e1f3a9e1d8c3b2a1f0e9d8c7b6a59
local_sha256:
  description: SHA-256 of the copied file, read back from the local disk.
  returned: success, not in check mode
  type: str
  sample: 4f0c1f0c6bd1c3a0b4a5d2e59e0f8ad1b44e1f3a9e1d8c3b2a1f0e9d8c7b6a59
blake3:
  description: BLAKE3 of the local snapshot.
  returned: success, not in check mode
  type: str
size:
  description: Size of the snapshot in bytes.
  returned: success, not in check mode
  type: int
  sample: 92274688
pod_size:
  description: Size of the in-pod copy reported by C(wc -c).
  returned: when a snapshot was taken
  type: int
events:
  description: Number of rows in C(audit_events) of the snapshot.
  returned: success, not in check mode
  type: int
  sample: 125000
chain_head:
  description: C(hash) of the event with the highest rowid in the snapshot (null when it has no events).
  returned: success, not in check mode
  type: str
chain_head_rowid:
  description: Rowid of that event.
  returned: success, not in check mode
  type: int
integrity_check:
  description: C(PRAGMA integrity_check) of the snapshot, C(ok) when sound.
  returned: success, not in check mode
  type: str
  sample: ok
pod:
  description: Pod the snapshot was (or would be) taken in.
  returned: when a pod was chosen
  type: str
  sample: airlock-7df9cb968f-2nbwc
pod_uid:
  description: UID of that pod.
  returned: when a pod was chosen
  type: str
node:
  description: Node the pod runs on.
  returned: when a pod was chosen
  type: str
image:
  description: Image of the container, as the kubelet reports it.
  returned: when a pod was chosen
  type: str
image_id:
  description: Image digest reference of the container.
  returned: when a pod was chosen
  type: str
namespace:
  description: Namespace.
  returned: always
  type: str
container:
  description: Container the commands ran in.
  returned: always
  type: str
db_path:
  description: In-container path of the live database.
  returned: always
  type: str
pod_tmp:
  description: In-container path of the temporary copy.
  returned: when a pod was chosen
  type: str
  sample: /tmp/airlock-audit-snapshot-1f0e3c7d9a8b4c5d6e7f8091a2b3c4d5.db
pod_tmp_removed:
  description: True when C(rm -f) of the temporary copy succeeded in the pod.
  returned: when commands were exec'd
  type: bool
commands:
  description: The in-pod commands (argv rendered as text), in order.
  returned: when a pod was chosen
  type: list
  elements: str
exec:
  description: Each command exec'd, with its exit code, the end of its stderr and how long it took.
  returned: when commands were exec'd
  type: list
  elements: dict
custody:
  description: The chain-of-custody record, also stored as RV(custody_path).
  returned: success, not in check mode
  type: dict
custody_path:
  description: Path of the read-only custody record C(<dest>.custody.json).
  returned: success, not in check mode
  type: str
superseded:
  description: New name of the previous snapshot kept because of O(force=true), or null.
  returned: when a snapshot was taken
  type: str
evidence_item:
  description: An item for M(airlock.incident.evidence) (kind C(audit_snapshot), chain head, events, source, description).
  returned: success, not in check mode
  type: dict
"""

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.evidence import hashing
from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import EvidenceError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, k8s_arg_spec, run_k8s_module
from ansible_collections.airlock.incident.plugins.module_utils.k8s.pod_evidence import PodEvidenceError, run_snapshot, validate


ARGUMENT_SPEC = k8s_arg_spec(
    name=dict(type="str", default="airlock"),
    pod=dict(type="str"),
    container=dict(type="str", default="airlock"),
    db_path=dict(type="str", default="/var/lib/airlock/audit.db"),
    pod_tmp_dir=dict(type="str", default="/tmp"),
    dest=dict(type="path", required=True),
    incident_id=dict(type="str"),
    force=dict(type="bool", default=False),
    exec_timeout=dict(type="int", default=600),
)


def _run(module):
    if not hashing.HAS_BLAKE3:
        raise AirlockIncidentError(missing_required_lib("blake3"), exception=str(hashing.BLAKE3_IMPORT_ERROR))
    try:
        return run_snapshot(module, K8s)
    except (IOError, OSError) as exc:
        raise PodEvidenceError("cannot write the snapshot under %s: %s" % (module.params["dest"], exc),
                               exception=traceback.format_exc()) from exc
    except EvidenceError as exc:
        raise PodEvidenceError(str(exc)) from exc


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), _run, lambda m: validate(m.params))


if __name__ == "__main__":
    main()
