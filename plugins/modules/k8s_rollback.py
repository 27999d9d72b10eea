#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rollback
short_description: Roll a Deployment not managed by Helm back to an earlier revision (kubectl rollout undo)
version_added: 0.1.0
description:
  - For Airlock installed without Helm, rolls the Deployment (by default C(airlock) in C(airlock-system)) back
    the way C(kubectl rollout undo) does - the pod template of the ReplicaSet of the target revision
    (annotation C(deployment.kubernetes.io/revision)) replaces the Deployment's pod template, without the
    ReplicaSet's C(pod-template-hash) label - and waits for the rollout.
  - The target is O(revision), or when it is omitted the newest revision before the current one.
  - When the current template already equals the target's, nothing is patched (C(changed=false)). The
    Deployment's metadata records the rollback (C(airlock.incident/rolled-back-for) V(<incident_id>/<action>),
    C(airlock.incident/rolled-back-to) the target ReplicaSet, C(airlock.incident/rolled-back-from-revision));
    a rerun of the same incident action whose target is still the current template changes nothing, even
    though the Deployment controller has renumbered the target as the newest revision (a rerun with the
    old O(revision) number, which no longer exists, is recognised; another existing O(revision) is rolled back to).
  - A Deployment managed by Helm (label C(app.kubernetes.io/managed-by=Helm) or annotation
    C(meta.helm.sh/release-name)) is refused unless O(allow_helm_managed=true), because the next C(helm upgrade) puts
    the chart's template back. Roll the release back with M(airlock.incident.k8s_helm_rollback) instead.
  - The wait is bounded by O(wait_timeout) and follows C(kubectl rollout status); a rollout that does not finish
    fails with the pods that are not ready and why.
  - In check mode the patch is sent as a server-side dry run and the result names the target revision and the
    template differences; nothing is stored and nothing waits.
  - The patch carries a C(test) of the Deployment's C(resourceVersion), so a concurrent change makes it fail
    instead of being overwritten.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    description: Server-side dry run of the template patch; nothing is stored and nothing waits.
  diff_mode:
    description: The pod template before and after.
extends_documentation_fragment: [airlock.incident.kubernetes, airlock.incident.kubernetes.namespace,
                                 airlock.incident.kubernetes.recovery, airlock.incident.action,
                                 airlock.incident.action.named, airlock.incident.action.wait]
options:
  revision:
    description:
      - Revision to roll back to, as shown by C(kubectl rollout history). Omitted means the newest revision before
        the current one.
    type: int
  allow_helm_managed:
    description:
      - Roll back a Deployment managed by Helm anyway (the next C(helm upgrade) reverts it).
    type: bool
    default: false
  action:
    default: rollback
notes:
  - Needs C(get) and C(patch) on C(deployments) and C(list) on C(replicasets) and C(pods) in the namespace.
  - "Undo: roll back again with O(revision=<revision_before>) (RV(undo)); the ReplicaSet you left keeps its revision number."
  - Only the pod template is rolled back, as with C(kubectl rollout undo); ConfigMaps (C(config.yaml), C(policy.rego))
    and the replica count are not. A paused Deployment is refused (resume it first).
seealso:
  - module: airlock.incident.k8s_helm_rollback
  - module: airlock.incident.k8s_rollout_restart
  - module: airlock.incident.k8s_triage
"""

EXAMPLES = r"""
- name: Roll Airlock (installed from plain manifests) back to the previous revision
  airlock.incident.k8s_rollback:
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
  register: rollback

- name: Which revision would it be, and what changes
  airlock.incident.k8s_rollback:
    revision: 3
    incident_id: INC-20260101-001
  check_mode: true
  diff: true
"""

RETURN = r"""
name:
  description: The Deployment rolled back.
  returned: always
  type: str
  sample: airlock
namespace:
  description: Namespace of the Deployment rolled back.
  returned: always
  type: str
  sample: airlock-system
revisions:
  description: The revisions the Deployment's ReplicaSets carry before the run, oldest first.
  returned: success
  type: list
  elements: int
  sample: [1, 2, 3]
target_revision:
  description: The revision rolled back to (or that would be), as numbered before the run.
  returned: success
  type: int
  sample: 2
target_replicaset:
  description: The ReplicaSet whose template is the target.
  returned: success
  type: str
  sample: airlock-7df9cb968f
revision_before:
  description: The Deployment's revision before the run.
  returned: success
  type: int
  sample: 3
revision_after:
  description: The Deployment's revision after the run (the Deployment controller renumbers the target as the newest revision).
  returned: success
  type: int
  sample: 4
undo:
  description: The revision to roll back to in order to undo this run; null when nothing changed.
  returned: success
  type: int
  sample: 3
already_current:
  description: True when the current template already equals the target, so nothing was patched.
  returned: success
  type: bool
template_changes:
  description: The pod template fields that differ between the current template and the target, with both values.
  returned: success
  type: dict
  sample: {"spec.containers[0].image": ["ghcr.io/ik-labs/mcp-airlock:v2", "ghcr.io/ik-labs/mcp-airlock:v1"]}
helm_managed:
  description: Why the Deployment counts as managed by Helm, or null.
  returned: success
  type: str
rollout:
  description: Rollout progress after the rollback, with the same keys as RV(airlock.incident.k8s_rollout_restart#module:rollout).
  returned: success
  type: dict
msg:
  description: What was done or would be done.
  returned: always
  type: str
not_ready_pods:
  description: Pods not ready when the rollout to the target revision stopped, and why.
  returned: when the rollout did not complete
  type: list
  elements: dict
elapsed:
  description: Seconds the rolled-back template took to roll out.
  returned: success
  type: float
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import rollback
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import recovery_arg_spec, run_k8s_module


ARGUMENT_SPEC = recovery_arg_spec(
    "rollback",
    revision=dict(type="int"),
    allow_helm_managed=dict(type="bool", default=False),
)


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), rollback.run, rollback.validate)


if __name__ == "__main__":
    main()
