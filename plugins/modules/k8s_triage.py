#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_triage
short_description: Read-only triage of the Airlock deployment on Kubernetes, with findings and a summary
version_added: 0.1.0
description:
  - Collects in one pass what the P0 outage steps of the operator playbook look at with C(kubectl), and returns
    it as one structured result plus a short human summary in RV(msg).
  - Pods (phase, readiness, restarts, state and last termination reason including C(OOMKilled)), the log lines
    that explain a CrashLoopBackOff (previous container's log), Deployment conditions and replica counts,
    ReplicaSet revisions, namespace events newest first, node conditions (NotReady, memory, disk and PID
    pressure), claim binding, container requests and limits, and the Helm release history (read from Helm's
    release secrets, no C(helm) binary needed).
  - Recognises the states the published Airlock chart is known to end up in and says so in RV(findings) -
    C(config_error_at_start) (CrashLoopBackOff with a configuration error in the log),
    C(seccomp_profile_missing) (CreateContainerError because the Localhost seccomp profile is not on the node),
    C(rwo_claim_blocks_replica) (the single ReadWriteOnce claim keeps a replica on another node from starting;
    scaling up is not a fix), next to generic findings such as C(oom_killed), C(unschedulable),
    C(readiness_failing), C(pvc_unbound), C(node_pressure) and C(rollout_incomplete).
  - C(go_panic) when the previous container ended in a Go C(panic:) or C(fatal error:) (critical while the
    container crash-loops; once it runs again V(info), which leaves RV(status) V(ok)), with the message, the
    panicking goroutine's frames and the crash report's lines. The released gateway's own crash under keep-alive
    requests (C(send on closed channel) in C(ClientConnection.sendMessage) from C(sendErrorResponse)) has
    C(known_issue) set to C(release_keepalive_crash) in RV(findings[].evidence). The previous log of a container
    whose last termination was C(Error) is read even when it runs again.
  - C(oom_killed) names the container, its memory limit and request, the restart count, the exit code and time of the
    last termination, the previous container's log tail and the mitigation (a memory limit twice the one it was
    killed at, set with M(airlock.incident.k8s_resources)). The previous log of a container whose last termination was
    C(OOMKilled) is read even when it runs again.
  - Never changes anything. It fails only on bad input, an unreachable API server or a namespace that does not
    exist; a missing Deployment is a finding, not a failure.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: The module only reads; it does the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
extends_documentation_fragment:
  - airlock.incident.kubernetes
options:
  name:
    description:
      - Name of the Deployment.
    type: str
    default: airlock
  release:
    description:
      - Name of the Helm release; its history is read from the secrets C(sh.helm.release.v1.<release>.v<N>), and
        when the Deployment is missing, its pods are found with the chart's selector labels
        C(app.kubernetes.io/name=airlock) and C(app.kubernetes.io/instance=<release>).
    type: str
    default: airlock
  namespace:
    description:
      - Namespace of the release.
    type: str
    default: airlock-system
  log_lines:
    description:
      - Lines of log read from the end of the previous (crashed) container of each failing container, 0 to 500.
        V(0) reads no logs.
    type: int
    default: 20
  events_limit:
    description:
      - Most recent namespace events returned, 1 to 500.
    type: int
    default: 30
requirements:
  - kubernetes (Python client)
notes:
  - Needs C(get)/C(list) on deployments, replicasets, pods, C(pods/log), events, persistentvolumeclaims and
    secrets in the namespace; C(list) on nodes is optional (without it RV(nodes) is empty and RV(notes) says why).
  - Helm release secrets contain the rendered values; the module returns only revision, status, chart,
    app version and description from them.
seealso:
  - module: airlock.incident.k8s_rollout_restart
  - module: airlock.incident.k8s_helm_rollback
"""

EXAMPLES = r"""
- name: Triage Airlock on Kubernetes
  airlock.incident.k8s_triage:
    namespace: airlock-system
  register: triage

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ triage.summary.split('\n') }}"

- name: Roll back when the pods crash on a bad config
  airlock.incident.k8s_helm_rollback:
    namespace: airlock-system
  when: triage.findings | selectattr('id', 'equalto', 'config_error_at_start') | list | length > 0
"""

RETURN = r"""
status:
  description: V(ok), V(degraded) (something is wrong but replicas are available) or V(outage) (no available replica
    or no Deployment).
  returned: always
  type: str
  sample: outage
msg:
  description: Short human-readable summary, one line per pod and per finding.
  returned: always
  type: str
findings:
  description: What is wrong, most severe first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable identifier, for example V(config_error_at_start), V(seccomp_profile_missing),
        V(rwo_claim_blocks_replica), V(oom_killed), V(go_panic), V(crash_loop), V(unschedulable).
      type: str
    severity:
      description: V(critical), V(warning) or V(info).
      type: str
    summary:
      description: One sentence, with what to do where known.
      type: str
    evidence:
      description: The data the finding rests on (pod, container, log lines, claim, nodes, events). For
        V(oom_killed) - C(pod), C(container), C(memory_limit), C(memory_request), C(restarts), C(exit_code),
        C(last_terminated_at), C(log_lines) (previous container's log tail), C(suggested_memory_limit) and
        C(mitigation) (steps, as strings). For V(go_panic) - C(pod), C(container), C(message), C(frames) (C(function)
        and C(file), innermost first, at most 8), C(known_issue) (V(release_keepalive_crash) or null), C(restarts),
        C(exit_code), C(last_terminated_at) and C(log_lines) (the crash report).
      type: dict
deployment:
  description: Replica counts, rollout state, revision, conditions and selector of the Deployment; null when it does
    not exist.
  returned: always
  type: dict
pods:
  description: The release's pods with phase, readiness, restarts, node, claims and per-container state, reason,
    message and last termination.
  returned: always
  type: list
  elements: dict
logs:
  description: Log tails of failing containers, by pod and container (previous container when it crashed).
  returned: always
  type: dict
replicasets:
  description: ReplicaSets of the Deployment, newest revision first.
  returned: always
  type: list
  elements: dict
events:
  description: Namespace events, newest first, at most O(events_limit).
  returned: always
  type: list
  elements: dict
nodes:
  description: Nodes with readiness, pressure conditions and allocatable resources.
  returned: always
  type: list
  elements: dict
pvcs:
  description: Claims in the namespace with phase, access modes, size and volume.
  returned: always
  type: list
  elements: dict
resources:
  description: Requests and limits of each container of the Deployment's pod template.
  returned: always
  type: list
  elements: dict
helm_history:
  description: Helm release revisions, oldest first (revision, status, chart, app_version, description, updated).
  returned: always
  type: list
  elements: dict
notes:
  description: What could not be read and why (for example no permission to list nodes).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import triage_collect
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import k8s_arg_spec, run_k8s_module


ARGUMENT_SPEC = k8s_arg_spec(
    name=dict(type="str", default="airlock"),
    release=dict(type="str", default="airlock"),
    log_lines=dict(type="int", default=20),
    events_limit=dict(type="int", default=30),
)


def main():
    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), triage_collect.collect, triage_collect.validate)


if __name__ == "__main__":
    main()
