#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_restart
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
    support: full
    description: Server-side dry run of the pod-template patch; nothing is stored and nothing waits.
  diff_mode:
    support: full
    description: Shows the pod-template annotations before and after.
  platform:
    support: full
    platforms: posix
    description: Runs where the kubernetes Python client can reach the API server.
extends_documentation_fragment:
  - airlock.incident.kubernetes
options:
  name:
    description:
      - Name of the Deployment. The Helm chart names it after the release (V(airlock)).
    type: str
    default: airlock
  namespace:
    description:
      - Namespace of the Deployment.
    type: str
    default: airlock-system
  incident_id:
    description:
      - The incident this restart belongs to, for example V(INC-20260101-001). Letters, digits, C(.), C(_),
        C(:) and C(-); at most 63 characters.
    type: str
    required: true
  action:
    description:
      - Names this restart within the incident (lowercase letters, digits, C(.), C(_), C(-)). The pair
        O(incident_id)/O(action) is what makes a rerun a no-op.
    type: str
    default: restart
  confirm:
    description:
      - Must equal O(incident_id) for the restart to happen. Not needed in check mode.
    type: str
  wait:
    description:
      - Wait until the rollout is complete (all replicas updated and available, no old pods left).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the rollout, 1 to 3600.
    type: int
    default: 300
requirements:
  - kubernetes (Python client)
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

import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import (
    K8s,
    NotFound,
    k8s_arg_spec,
    require_kubernetes,
    validate_common,
    validate_name,
)
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import (
    RESTARTED_AT,
    RESTARTED_FOR,
    REVISION,
    pod_problem,
    rollout_state,
    selector_string,
    wait_rollout,
)

INCIDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$")
ACTION_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def _validate(module):
    params = module.params
    errors = []
    for msg in (validate_common(params), validate_name("name", params["name"])):
        if msg:
            errors.append(msg)
    if not INCIDENT_RE.match(params["incident_id"] or ""):
        errors.append("incident_id: invalid value %r; accepted values: letters, digits, '.', '_', ':', '-' "
                      "(starting with a letter or digit, at most 63)" % (params["incident_id"],))
    if not ACTION_RE.match(params["action"] or ""):
        errors.append("action: invalid value %r; accepted values: lowercase letters, digits, '.', '_', '-' "
                      "(starting with a letter or digit, at most 63)" % (params["action"],))
    if not 1 <= params["wait_timeout"] <= 3600:
        errors.append("wait_timeout: invalid value %r; accepted values: 1 to 3600 seconds" % (params["wait_timeout"],))
    if not module.check_mode and params["confirm"] != params["incident_id"]:
        errors.append("confirm: must equal incident_id (%r) to restart deployment %s/%s; got %r"
                      % (params["incident_id"], params["namespace"], params["name"], params["confirm"]))
    if errors:
        module.fail_json(msg="; ".join(errors))


def _not_ready_pods(k8s, dep):
    selector = selector_string(((dep.get("spec") or {}).get("selector") or {}).get("matchLabels"))
    pods = k8s.sanitize(k8s.call("pods %s in %s" % (selector, k8s.namespace), k8s.core.list_namespaced_pod,
                                 k8s.namespace, label_selector=selector))
    out = []
    for pod in pods.get("items") or []:
        problem = pod_problem(pod)
        if problem:
            out.append(dict(name=pod["metadata"]["name"], node=(pod.get("spec") or {}).get("nodeName"), problem=problem))
    return sorted(out, key=lambda p: p["name"])


def _wait(k8s, name, timeout):
    what = "deployment %s/%s" % (k8s.namespace, name)
    return wait_rollout(lambda: k8s.sanitize(k8s.call(what, k8s.apps.read_namespaced_deployment, name, k8s.namespace)), timeout)


def run(module):
    params = module.params
    name = params["name"]
    marker = "%s/%s" % (params["incident_id"], params["action"])
    k8s = K8s(params)
    k8s.ensure_namespace()
    what = "deployment %s/%s" % (k8s.namespace, name)
    try:
        dep = k8s.sanitize(k8s.call(what, k8s.apps.read_namespaced_deployment, name, k8s.namespace))
    except NotFound:
        raise AirlockIncidentError("deployment %s not found in namespace %s (API server %s)" % (name, k8s.namespace, k8s.host))

    annotations = ((dep["spec"]["template"].get("metadata") or {}).get("annotations")) or {}
    before = dict((k, annotations[k]) for k in (RESTARTED_FOR, RESTARTED_AT) if k in annotations)
    revision_before = (dep["metadata"].get("annotations") or {}).get(REVISION)
    result = dict(changed=False, name=name, namespace=k8s.namespace, revision_before=revision_before,
                  restarted_for=marker, already_restarted=before.get(RESTARTED_FOR) == marker)

    if result["already_restarted"]:
        after = before
    else:
        if dep["spec"].get("paused"):
            raise AirlockIncidentError("%s is paused; resume it (kubectl rollout resume) before restarting" % what, **result)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        after = {RESTARTED_FOR: marker, RESTARTED_AT: now}
        patch = {"spec": {"template": {"metadata": {"annotations": after}}}}
        kwargs = {"dry_run": "All"} if module.check_mode else {}
        dep = k8s.sanitize(k8s.call(what, k8s.apps.patch_namespaced_deployment, name, k8s.namespace, patch, **kwargs))
        result["changed"] = True
    result["restarted_at"] = after.get(RESTARTED_AT)
    if module._diff:
        result["diff"] = dict(before={"spec.template.metadata.annotations": before},
                              after={"spec.template.metadata.annotations": after})

    elapsed = 0.0
    if params["wait"] and not module.check_mode:
        dep, state, elapsed = _wait(k8s, name, params["wait_timeout"])
    else:
        state = rollout_state(dep)
    result["elapsed"] = elapsed
    result["revision_after"] = (dep["metadata"].get("annotations") or {}).get(REVISION) if not module.check_mode else revision_before
    result["rollout"] = dict((k, state[k]) for k in ("complete", "failed", "message", "replicas", "updated_replicas",
                                                     "available_replicas", "ready_replicas"))
    if params["wait"] and not module.check_mode and not state["complete"]:
        pods = _not_ready_pods(k8s, dep)
        result["not_ready_pods"] = pods
        detail = "; ".join("%s (%s)" % (p["name"], p["problem"]) for p in pods) or "no pod reports a problem"
        if state["failed"]:
            head = "%s rollout failed after %ss: %s" % (what, elapsed, state["message"])
        else:
            head = "%s did not finish its rollout within wait_timeout=%ss: %s" % (what, params["wait_timeout"], state["message"])
        raise AirlockIncidentError("%s; not ready: %s" % (head, detail), **result)
    return result


def main():
    module = AnsibleModule(
        argument_spec=k8s_arg_spec(
            name=dict(type="str", default="airlock"),
            incident_id=dict(type="str", required=True),
            action=dict(type="str", default="restart"),
            confirm=dict(type="str"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    _validate(module)
    require_kubernetes(module)
    run_module(module, run)


if __name__ == "__main__":
    main()
