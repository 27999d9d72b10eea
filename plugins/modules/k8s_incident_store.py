#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_incident_store
short_description: Keep an incident's record in a ConfigMap or Secret, so it survives ephemeral execution environments
version_added: 0.1.0
description:
  - The record store of an incident on Kubernetes. An AWX/AAP job runs in a fresh execution environment whose
    incident directory starts empty; this module keeps each incident's record (C(incident.json) with its timeline)
    and its handoff (what the job hands the next workflow node) in one object, C(airlock-incident-<id>) (lowercase,
    C(_) as C(-)), in O(namespace), labelled C(airlock.incident/incident=<id>) with the exact id in the annotation
    C(airlock.incident/id).
  - O(state=pull) brings the stored record into O(directory)C(/<id>/incident.json) (and renders C(incident.md)
    and writes C(handoff.json) beside it), so the roles and M(airlock.incident.incident) work on it as on any local
    record. A local record that already exists is merged with the stored one, never replaced (see below).
    No object is not an error - RV(found) is V(false) and nothing is written.
  - O(state=push) writes the local record back. The object is replaced only at the C(resourceVersion) read just
    before, so a concurrent push by another job makes the API server refuse (HTTP 409); the module then reads
    again, merges and retries (up to 5 times). The merge is three-way, against the record this directory last
    pulled or pushed (kept in C(.record-store.json)) - the timeline is the union of both (entries are never
    lost), every other field takes this job's value where this job changed it, else the stored one. The merged
    record is written to the local directory too.
  - O(state=absent) deletes the object (destructive, so O(confirm) must equal O(incident_id)); the local record
    is left alone.
  - The stored record never holds a credential - bearer/basic values, the userinfo of URLs and credential query
    parameters in any string are masked before it is sent (a warning says how many).
  - A ConfigMap or Secret holds at most 1 MiB; a record that would not fit is refused before anything is sent,
    with its size and what to do (RV(size)).
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description:
      - O(state=push) and O(state=absent) are sent as server-side dry runs (validated, stored nowhere); nothing local
        is written. O(state=pull) reports what it would write and writes nothing.
  diff_mode:
    support: full
    description: The record's JSON text before and after (the local copy for O(state=pull), the stored one otherwise).
  idempotent:
    support: full
    description: A second pull or push with nothing new changes nothing.
extends_documentation_fragment: [airlock.incident.kubernetes, airlock.incident.action]
options:
  state:
    description:
      - V(pull) the stored record into O(directory), V(push) the local record to the store, V(absent) delete the
        stored record.
    type: str
    choices: [pull, push, absent]
    required: true
  incident_id:
    description:
      - For the store the id must also end with a letter or digit (it is a label value).
    required: true
  directory:
    description:
      - The incident directory, the one the roles use (C(airlock_incident_directory)); the record is
        O(directory)C(/<incident_id>/incident.json).
    type: path
    required: true
  namespace:
    description:
      - Namespace of the record objects, a DNS label. It must exist; the job's credentials need C(get), C(create),
        C(update) and C(delete) on C(configmaps) (or C(secrets)) there, and may need C(get) on the namespace.
    type: str
    default: airlock-system
  kind:
    description:
      - V(configmap) or V(secret). A Secret is for clusters whose policy keeps incident details (affected users,
        tenants) out of ConfigMaps; the record holds no credentials either way.
    type: str
    choices: [configmap, secret]
    default: configmap
  handoff:
    description:
      - The handoff to keep with the record (the C(airlock_incident_handoff) the role hands on). Default - the
        incident id, its status and the record's and report's paths relative to O(directory).
    type: dict
notes:
  - "RBAC: a Role with C(get), C(create), C(update), C(delete) on C(configmaps) (or C(secrets)) in O(namespace),
    bound to the job's service account or AWX credential; docs/awx.md shows one."
  - "Undo of O(state=push): push an earlier record (the local directory keeps the one this job had); of
    O(state=absent): push the local record again."
  - Evidence bundles are not stored (they exceed 1 MiB and belong on shared storage); see docs/awx.md.
seealso:
  - module: airlock.incident.incident
"""

EXAMPLES = r"""
- name: Pull the record at the start of a job (a fresh execution environment)
  airlock.incident.k8s_incident_store:
    state: pull
    incident_id: "{{ airlock_incident_id }}"
    directory: "{{ airlock_incident_directory }}"
    namespace: airlock-incidents

- name: Push it back at the end
  airlock.incident.k8s_incident_store:
    state: push
    incident_id: "{{ airlock_incident_id }}"
    directory: "{{ airlock_incident_directory }}"
    namespace: airlock-incidents
    kind: secret

- name: Delete the stored record once the incident is archived
  airlock.incident.k8s_incident_store:
    state: absent
    incident_id: INC-20260101-120000
    confirm: INC-20260101-120000
    directory: /var/lib/airlock-incidents
    namespace: airlock-incidents
"""

RETURN = r"""
msg:
  description: What was done or would be done.
  returned: always
  type: str
  sample: update ConfigMap airlock-incidents/airlock-incident-inc-20260101-120000 with the record of INC-20260101-120000
found:
  description: Whether the object (for O(state=push), the local record) existed.
  returned: success
  type: bool
name:
  description: Name of the object.
  returned: success
  type: str
  sample: airlock-incident-inc-20260101-120000
namespace:
  description: Namespace of the object.
  returned: success
  type: str
kind:
  description: V(configmap) or V(secret).
  returned: success
  type: str
incident_id:
  description: The incident.
  returned: success
  type: str
record_path:
  description: The local record, O(directory)C(/<id>/incident.json).
  returned: success
  type: str
resource_version:
  description: The object's C(resourceVersion) after the run (read for O(state=pull)).
  returned: when the object exists
  type: str
status:
  description: The incident's status in the record after the run.
  returned: when there is a record
  type: str
  sample: RESOLVED
handoff:
  description: The handoff kept with the record.
  returned: when there is a record
  type: dict
  sample: {"id": "INC-20260101-120000", "status": "RESOLVED", "record": "INC-20260101-120000/incident.json"}
unpushed:
  description: For O(state=pull), whether the local record has entries the store has not (push them).
  returned: when O(state=pull) found a record
  type: bool
conflicts:
  description: For O(state=push), how many times another job's concurrent change was merged.
  returned: when O(state=push) had a local record
  type: int
size:
  description: Bytes of the object's data (the limit is 1048576).
  returned: when O(state=push) had a local record
  type: int
undo:
  description: How to undo O(state=absent).
  returned: when O(state=absent) deleted the object
  type: str
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import record_store
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import k8s_arg_spec, run_k8s_module

ARGUMENT_SPEC = k8s_arg_spec(
    state=dict(type="str", required=True, choices=list(record_store.STATES)),
    incident_id=dict(type="str", required=True),
    confirm=dict(type="str"),
    directory=dict(type="path", required=True),
    kind=dict(type="str", default="configmap", choices=list(record_store.KINDS)),
    handoff=dict(type="dict"),
)


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), record_store.run,
                   record_store.validate)


if __name__ == "__main__":
    main()
