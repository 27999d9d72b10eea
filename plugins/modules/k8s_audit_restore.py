#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_audit_restore
short_description: Restore a verified backup of the MCP Airlock audit database onto the release's claim
version_added: 0.1.0
description:
  - The audit database lives on the PersistentVolumeClaim the Deployment mounts, and the Airlock image has B(no shell)
    (the sqlite3 CLI and BusyBox applets). This module restores a backup there through a short-lived B(restore pod)
    while the Deployment is at 0 replicas (scale it with M(airlock.incident.k8s_scale) first and back after; each of
    those steps records its own undo).
  - The restore pod runs the Deployment's image with its security contexts and placement rules, the claim mounted at
    the same path, and C(sleep) as its command. The backup (O(backup), on the controller, opened read-only) travels
    as SQL - its dump is loaded into a temporary file next to the database with C(sqlite3 -bail <tmp> <statements>)
    execs (argv only, no shell), in chunks a command line holds, each a transaction.
  - The loaded copy is checked in the pod (C(PRAGMA integrity_check) and the row count of every table against the
    backup) before anything is moved. Then the files at O(db_path) (and C(-wal), C(-shm)) are moved to
    C(<db_path>.damaged-<action>) with C(mv) - never deleted - and the copy is moved into place. The restore pod is
    deleted afterwards, also when a step failed. With O(damaged_copy_dir) the damaged files are first copied out to
    the controller, each verified against its in-pod SHA-256.
  - The restore is recorded on the Deployment (annotation C(airlock.incident/audit-restore)) with the incident step
    and the backup's SHA-256, so a rerun for the same incident step changes nothing. The undo is
    O(state=reverted) for the same O(incident_id) and O(action) (Deployment at 0 replicas again) - the restored
    files are moved to C(<db_path>.damaged-<action>.restored) and the damaged ones put back.
  - The chain of the restored database is verified by the caller after the Deployment is back (the data_issues role
    takes a pod snapshot with M(airlock.incident.k8s_audit_snapshot) and runs M(airlock.incident.audit_verify) with the
    backup's chain head).
  - Check mode reads the Deployment, finds the claim and dumps the backup; it creates no pod and execs nothing.
author:
  - airlock.incident contributors (@airlock-incident)
requirements:
  - in the container image, the sqlite3 CLI and BusyBox (or coreutils) C(sleep), C(test), C(mv), C(rm), C(sha256sum)
    (and C(base64) with O(damaged_copy_dir))
attributes:
  check_mode:
    support: full
    description: Finds the claim and reads the backup; no pod is created, nothing is exec'd or recorded.
  diff_mode:
    support: none
    description: The change is a file swap on a volume; the result names the files moved.
  platform:
    support: full
    platforms: posix
    description: Runs where the kubernetes Python client reaches the API server and the backup is (usually the controller).
  idempotent:
    support: full
    description: A restore (or revert) recorded for the same O(incident_id) and O(action) is not repeated.
extends_documentation_fragment: [airlock.incident.kubernetes, airlock.incident.kubernetes.namespace, airlock.incident.action,
                                 airlock.incident.action.named]
options:
  name:
    description: Name of the Deployment whose claim holds the database (the chart names it after the release).
    type: str
    default: airlock
  incident_id:
    required: true
  action:
    default: restore
  state:
    description: V(restored) puts O(backup) in place; V(reverted) undoes the restore recorded for O(incident_id) and O(action).
    type: str
    choices: [restored, reverted]
    default: restored
  backup:
    description: The backup file on the controller (a backup whose own chain verified and contains the recorded head). Required with O(state=restored).
    type: path
  db_path:
    description: The audit database's path B(in the container).
    type: str
    default: /var/lib/airlock/audit.db
  container:
    description: The Airlock container of the Deployment (its image and mounts are used).
    type: str
    default: airlock
  volume:
    description: The pod volume (a PersistentVolumeClaim) that holds the database; by default the claim mounted at O(db_path)'s directory.
    type: str
  damaged_copy_dir:
    description:
      - An existing directory on the controller (not a link). With O(state=restored), every file found at O(db_path)
        (and its C(-wal), C(-shm)) is copied out of the restore pod into it B(before anything is moved) - as base64
        over the exec stream, decoded block by block - and named after the path it is kept at on the claim
        (C(<basename of db_path>.damaged-<action>) and its suffixes).
      - Each copy must have the SHA-256 C(sha256sum) computed in the pod, or the task fails with nothing moved. The
        copies are verified before any is placed, are read-only, and never replace a file (an identical copy from an
        interrupted run is kept). This is how the bytes of a database too damaged for M(airlock.incident.k8s_audit_snapshot)
        (SQLite's backup refuses a corrupt file) reach the evidence bundle; the data_issues role adds them.
    type: path
  wait_timeout:
    description: Seconds to wait for the restore pod to run and to be gone, 1 to 3600.
    type: int
    default: 300
  exec_timeout:
    description: Seconds each command in the restore pod may take, 1 to 3600.
    type: int
    default: 600
notes:
  - Needs C(get) and C(patch) on the Deployment, C(list) on pods, C(create), C(get), C(delete) on pods and C(create) on
    C(pods/exec) in the namespace.
seealso:
  - module: airlock.incident.k8s_scale
  - module: airlock.incident.k8s_audit_snapshot
  - module: airlock.incident.audit_restore
"""

EXAMPLES = r"""
- name: Restore the chosen backup (the Deployment is at 0 replicas)
  airlock.incident.k8s_audit_restore:
    namespace: airlock-system
    backup: /var/backups/airlock-audit/airlock-audit-20261205T120000Z.db
    incident_id: INC-20261205-130000
    confirm: INC-20261205-130000
    action: restore-20261205t130500z

- name: The same, keeping a verified copy of the damaged files for the evidence bundle
  airlock.incident.k8s_audit_restore:
    namespace: airlock-system
    backup: /var/backups/airlock-audit/airlock-audit-20261205T120000Z.db
    damaged_copy_dir: incidents/INC-20261205-130000/restore
    incident_id: INC-20261205-130000
    confirm: INC-20261205-130000
    action: restore-20261205t130500z

- name: Undo it
  airlock.incident.k8s_audit_restore:
    namespace: airlock-system
    state: reverted
    incident_id: INC-20261205-130000
    confirm: INC-20261205-130000
    action: restore-20261205t130500z
"""

RETURN = r"""
msg:
  description: What was done (or would be), in one sentence.
  returned: always
  type: str
claim:
  description: The PersistentVolumeClaim that holds the database.
  returned: always
  type: str
mount_path:
  description: Where the claim is mounted in the Airlock container (and in the restore pod).
  returned: always
  type: str
damaged_path:
  description: Where the files found at O(db_path) are kept (C(<db_path>.damaged-<action>), with their suffixes).
  returned: always
  type: str
moved_aside:
  description: The suffixes (C('') for the database, C(-wal), C(-shm)) that were moved aside.
  returned: when a restore or revert ran
  type: list
  elements: str
moved_aside_sha256:
  description:
    - SHA-256 of each file moved aside, hashed in the restore pod before the move, keyed by the path it is kept at
      (for a restore, the damaged database and its side files; for a revert, the restored ones).
    - The record on the Deployment keeps the damaged files' hashes as C(damaged_sha256), so the files kept on the
      claim can be shown to be the ones found.
  returned: when a restore or revert ran
  type: dict
damaged_copies:
  description:
    - With O(damaged_copy_dir), the verified local copies of the files moved aside, in the order found (database
      first); C(path) is the local copy, C(found_at) where it was on the claim, C(kept_at) where it is kept now,
      C(sha256) (equal to the in-pod hash in RV(moved_aside_sha256)) and C(size).
  returned: when a restore ran with O(damaged_copy_dir)
  type: list
  elements: dict
  sample: [{"path": "/srv/inc/restore/audit.db.damaged-restore-20261205t130500z", "found_at": "/var/lib/airlock/audit.db",
            "kept_at": "/var/lib/airlock/audit.db.damaged-restore-20261205t130500z",
            "sha256": "9f2c7f3e5b0d4a1c8e6f9b2d3a4c5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d", "size": 4096}]
rows:
  description: Row count of every table of the backup (the loaded copy was checked against it).
  returned: with O(state=restored)
  type: dict
backup_sha256:
  description: SHA-256 of O(backup).
  returned: with O(state=restored)
  type: str
pod:
  description: The restore pod's name (deleted again).
  returned: when a restore or revert ran
  type: str
commands:
  description: Each command exec'd in the restore pod (argv, rc, stderr tail, error, elapsed).
  returned: when a restore or revert ran
  type: list
  elements: dict
record:
  description: The record on the Deployment (C(mark), C(state), C(backup_sha256), C(damaged_path), C(damaged_sha256)).
  returned: always
  type: dict
undo:
  description: How to undo the restore.
  returned: always
  type: str
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule, action_arg_spec
from ansible_collections.airlock.incident.plugins.module_utils.k8s import audit_restore_run
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import k8s_arg_spec, run_k8s_module


def _argument_spec():
    spec = k8s_arg_spec(**action_arg_spec(
        action="restore",
        name=dict(type="str", default="airlock"),
        state=dict(type="str", choices=["restored", "reverted"], default="restored"),
        backup=dict(type="path"),
        db_path=dict(type="str", default="/var/lib/airlock/audit.db"),
        container=dict(type="str", default="airlock"),
        volume=dict(type="str"),
        damaged_copy_dir=dict(type="path"),
        exec_timeout=dict(type="int", default=600),
    ))
    spec.update(wait_timeout=dict(type="int", default=300))
    return spec


ARGUMENT_SPEC = _argument_spec()


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True),
                   audit_restore_run.run, audit_restore_run.validate)


if __name__ == "__main__":
    main()
