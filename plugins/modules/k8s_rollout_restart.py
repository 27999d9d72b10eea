#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rollout_restart
short_description: Rolling restart of the Airlock Deployment, once per incident action
version_added: 0.1.0
description:
  - Restarts the pods of a Deployment (by default C(airlock) in C(airlock-system)) the way
    C(kubectl rollout restart) does, by changing its pod template, and waits for the rollout to finish.
  - This is how MCP Airlock loads a changed C(config.yaml) or C(policy.rego); the released binary has no
    reload (C(SIGHUP) kills the process), so a rolling restart is the one reload that works.
  - The pod template gets the annotations C(airlock.incident/restarted-for) (V(<incident_id>/<action>)) and
    C(airlock.incident/restarted-at) (UTC time). When the template already carries the same
    C(restarted-for) value, the restart was done for this incident action and the module changes nothing,
    so rerunning a playbook does not restart Airlock again. Use another O(action) for a second restart in
    the same incident.
  - The wait is bounded by O(wait_timeout); a rollout that does not complete in time (for example new pods
    in CrashLoopBackOff) fails with the pods that are not ready and why. A rollout whose progress deadline
    is exceeded fails at once.
  - In check mode the change is sent to the API server as a server-side dry run (validated by admission,
    stored nowhere) and the module reports what it would change.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    description: Server-side dry run of the pod-template patch; nothing is stored and nothing waits.
  diff_mode:
    description: Shows the pod-template annotations before and after.
extends_documentation_fragment: [airlock.incident.kubernetes, airlock.incident.kubernetes.namespace,
                                 airlock.incident.kubernetes.recovery, airlock.incident.action,
                                 airlock.incident.action.named, airlock.incident.action.wait]
options:
  action:
    default: restart
notes:
  - Needs C(get) and C(patch) on C(deployments) and C(list) on C(pods) in the namespace.
  - To undo, there is nothing to roll back in the configuration; the restart only replaced pods. The
    previous ReplicaSet is kept as a revision (C(kubectl rollout undo) or M(airlock.incident.k8s_helm_rollback)
    return to an earlier template).
seealso:
  - module: airlock.incident.k8s_helm_rollback
  - module: airlock.incident.k8s_triage
"""

EXAMPLES = r"""
- name: Restart Airlock to load the fixed policy (once per incident)
  airlock.incident.k8s_rollout_restart:
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
    action: reload-policy
    wait_timeout: 300
  register: restart

- name: Preview the restart
  airlock.incident.k8s_rollout_restart:
    incident_id: INC-20260101-001
    kubeconfig: /work/main/.lab/kubeconfig
  check_mode: true
"""

RETURN = r"""
msg:
  description: What was done or would be done, and the state of the rollout.
  returned: always
  type: str
name:
  description: Name of the Deployment.
  returned: always
  type: str
  sample: airlock
namespace:
  description: Namespace of the Deployment.
  returned: always
  type: str
  sample: airlock-system
restarted_for:
  description: The C(airlock.incident/restarted-for) value the pod template carries (or would carry in check mode).
  returned: success
  type: str
  sample: INC-20260101-001/restart
restarted_at:
  description: The C(airlock.incident/restarted-at) value of the pod template after the run.
  returned: success
  type: str
  sample: "2026-01-01T10:00:00Z"
already_restarted:
  description: True when the template already carried this incident action, so nothing was patched.
  returned: success
  type: bool
revision_before:
  description: The Deployment's C(deployment.kubernetes.io/revision) before the run.
  returned: success
  type: str
  sample: "3"
revision_after:
  description: The Deployment's revision after the run (unchanged in check mode).
  returned: success
  type: str
  sample: "4"
rollout:
  description: Rollout progress after the run, with the same rules as C(kubectl rollout status).
  returned: success
  type: dict
  contains:
    complete:
      description: All replicas updated and available and no old replica left.
      type: bool
    failed:
      description: The progress deadline was exceeded.
      type: bool
    message:
      description: Human-readable progress.
      type: str
    replicas:
      description: Desired replicas.
      type: int
    updated_replicas:
      description: Replicas running the current template.
      type: int
    available_replicas:
      description: Available replicas.
      type: int
    ready_replicas:
      description: Ready replicas.
      type: int
not_ready_pods:
  description: Pods that were not ready at the end of the wait, with the reason.
  returned: when the rollout did not complete
  type: list
  elements: dict
  sample: [{"name": "airlock-7d9c-x2", "problem": "airlock: CrashLoopBackOff: back-off 5m0s"}]
elapsed:
  description: Seconds spent waiting for the rollout.
  returned: success
  type: float
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import restart
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import recovery_arg_spec, run_k8s_module


ARGUMENT_SPEC = recovery_arg_spec("restart")


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), restart.run, restart.validate)


if __name__ == "__main__":
    main()
