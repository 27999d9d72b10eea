#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_helm_rollback
short_description: Roll the Airlock Helm release back to an earlier revision, idempotently
version_added: 0.1.0
description:
  - Runs C(helm rollback) for a release (by default C(airlock) in C(airlock-system)) with the C(helm) binary
    found on E(PATH) or given by O(binary_path), and returns the revision before and after.
  - The target is O(revision), or when it is omitted the revision before the current one. When the current
    revision was itself made by a rollback (Helm's description V(Rollback to N)), the omitted target is V(N),
    so rerunning the same task does not flip back and forth.
  - When the current revision already has the target's content (the same chart and the same rendered
    manifest), nothing is done and the task reports no change.
  - In check mode the module reads the history and manifests only and reports the target revision and the
    revision a rollback would create.
  - Before running Helm the module checks with the Kubernetes API (bounded by O(request_timeout)) that the
    API server answers and the namespace exists, so an unreachable cluster fails quickly with a clear message.
    O(kubeconfig) and O(context) are passed to Helm as C(--kubeconfig) and C(--kube-context).
  - The rollback follows the action contract - O(incident_id) is required, O(confirm) must equal it outside check
    mode, and the undo (the revision rolled back from) is returned as RV(undo) and recorded on the release, in the
    annotations C(airlock.incident/rolled-back-for) (V(<incident_id>/<action>)) and
    C(airlock.incident/rolled-back-from-revision) of the Secret Helm keeps the new revision in
    (C(sh.helm.release.v1.<release>.v<revision>)). Helm reads only the Secret's labels and data. A rerun of the same
    incident action finds the release at the target's content, changes nothing and returns the recorded undo.
  - With O(wait=true) Helm is run with C(--wait --timeout <wait_timeout>s), so the module returns once the
    rolled-back resources are ready.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: Only C(helm history) and C(helm get manifest) run in check mode.
  diff_mode:
    support: full
    description: The rendered manifests of the current and the target revision.
  platform:
    support: full
    platforms: posix
    description: Needs the C(helm) 3 binary and the kubernetes Python client where the module runs.
extends_documentation_fragment:
  - airlock.incident.kubernetes
  - airlock.incident.kubernetes.namespace
  - airlock.incident.action
  - airlock.incident.action.named
  - airlock.incident.action.wait
options:
  incident_id:
    required: true
  action:
    default: helm-rollback
  release:
    description:
      - Name of the Helm release.
    type: str
    default: airlock
  revision:
    description:
      - Revision to roll back to (a positive integer that exists in C(helm history)). Omitted means the
        previous revision, as described above.
    type: int
  binary_path:
    description:
      - Path to the C(helm) binary. Defaults to C(helm) on E(PATH).
    type: path
requirements:
  - helm 3
notes:
  - A rollback creates a new revision with the target's content; undo it by rolling back to RV(undo) (the same as
    RV(before.revision)).
  - Needs, besides what Helm needs, C(get) and C(patch) on C(secrets) in the namespace (to read and write the undo
    record on the release revision).
  - Helm restores the chart's objects, including the ConfigMap C(airlock-config); pods restart only when the pod
    template changes. If only C(config.yaml) or C(policy.rego) differ, follow with M(airlock.incident.k8s_rollout_restart).
seealso:
  - module: airlock.incident.k8s_rollout_restart
  - module: airlock.incident.k8s_triage
"""

EXAMPLES = r"""
- name: Roll Airlock back to the previous release
  airlock.incident.k8s_helm_rollback:
    release: airlock
    namespace: airlock-system
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
  register: rollback

- name: Undo - roll forward again to the revision it rolled back from
  airlock.incident.k8s_helm_rollback:
    revision: "{{ rollback.undo }}"
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    action: undo-helm-rollback

- name: Roll back to a known good revision with the lab's helm
  airlock.incident.k8s_helm_rollback:
    revision: 3
    incident_id: INC-20260101-001
    confirm: INC-20260101-001
    binary_path: "{{ lookup('env', 'HOME') }}/.cache/airlock-lab/bin/helm-v3.22.0/helm"
    kubeconfig: /work/main/.lab/kubeconfig
    wait_timeout: 120
"""

RETURN = r"""
msg:
  description: What was done or would be done.
  returned: always
  type: str
  sample: rolled back release airlock-system/airlock from revision 2 to revision 1 (new revision 3)
undo:
  description:
    - The revision rolled back from (roll back to it to undo); for a rerun that changed nothing, the revision recorded
      by the same incident action on the current revision; null when there is nothing of this action to undo.
  returned: success
  type: int
  sample: 2
undo_recorded:
  description: True when the undo is recorded on the release (the annotations of the revision's Secret).
  returned: success
  type: bool
rolled_back_for:
  description: The C(airlock.incident/rolled-back-for) value recorded (V(<incident_id>/<action>)).
  returned: success
  type: str
  sample: INC-20260101-001/helm-rollback
release:
  description: Release name.
  returned: always
  type: str
  sample: airlock
namespace:
  description: Release namespace.
  returned: always
  type: str
  sample: airlock-system
target_revision:
  description: The revision rolled back to (or that would be).
  returned: success
  type: int
  sample: 1
new_revision:
  description: The revision the rollback created, or would create in check mode; null when nothing changed.
  returned: success
  type: int
  sample: 3
before:
  description: The current revision before the run.
  returned: success
  type: dict
  contains:
    revision:
      description: Revision number.
      type: int
    status:
      description: Helm status of that revision.
      type: str
    chart:
      description: Chart name and version.
      type: str
    app_version:
      description: App version of the chart.
      type: str
    description:
      description: Helm's description of the revision.
      type: str
after:
  description: The current revision after the run (same keys as RV(before)); in check mode, the target revision.
  returned: success
  type: dict
history:
  description: C(helm history) after the run, oldest first.
  returned: success
  type: list
  elements: dict
command:
  description: The Helm command that was run (or would run in check mode); null when nothing was to do.
  returned: success
  type: list
  elements: str
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule, action_arg_spec
from ansible_collections.airlock.incident.plugins.module_utils.k8s import helm_rollback
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import k8s_arg_spec, run_k8s_module


ARGUMENT_SPEC = k8s_arg_spec(**action_arg_spec(
    action="helm-rollback", wait=True,
    release=dict(type="str", default="airlock"),
    revision=dict(type="int"),
    binary_path=dict(type="path"),
))


def main():
    module = AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_k8s_module(module, helm_rollback.run, helm_rollback.validate)


if __name__ == "__main__":
    main()
