#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_usage
short_description: CPU and memory use of the Airlock pods against their requests and limits, with HPA state
version_added: 0.1.0
description:
  - What the operator playbook's C(kubectl top pods --containers) shows, read through the metrics API
    (C(metrics.k8s.io/v1beta1) PodMetrics) and put next to each container's requests and limits, its restarts and
    last termination (C(OOMKilled)), and the HorizontalPodAutoscalers that target the Deployment.
  - With O(samples) greater than 1 the metrics API is read that many times, O(interval) seconds apart, so memory use
    against the limit over time shows as a series per container (C(series) of each container in RV(pods)) and steady growth
    as a C(memory_growing) finding. The metrics API keeps no history; this is the only series it gives.
  - Where the cluster does not serve the metrics API (no metrics-server), C(served) of RV(metrics_api) is false with the
    reason, usage is null, and requests, limits, restarts and HPAs are still reported. That is a result, not a
    failure.
  - Findings - C(oom_killed), C(cpu_saturated) (usage at or above O(saturation) of the CPU limit; throttling
    likely), C(cpu_throttled) (measured, see below), C(memory_near_limit), C(memory_growing), C(hpa_at_max) and
    C(no_limits).
  - "CPU throttling is not part of the metrics API. It is read from the kubelet's cAdvisor counters
    C(container_cpu_cfs_throttled_periods_total) and C(container_cpu_cfs_periods_total) of each pod's node, through
    the API server's node proxy (C(/api/v1/nodes/<node>/proxy/metrics/cadvisor), or O(cadvisor_path)); the ratio
    is the share of CFS periods in which the container hit its CPU quota, over the sampling window when O(samples)
    is more than 1 (two scrapes), else since the container started. C(cpu_throttled) is reported from
    O(throttled_share). Where the endpoint cannot be read (no C(nodes/proxy) permission, a node that does not serve
    it, a node address the API server does not proxy to), RV(throttling) says C(measured=false) with the reason per
    node, and the message says C(throttling: unavailable); that is a result, not a failure."
  - Never changes anything.
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
  - airlock.incident.kubernetes.namespace
options:
  name:
    description: Name of the Deployment whose pods are read.
    type: str
    default: airlock
  samples:
    description: Reads of the metrics API, 1 to 10.
    type: int
    default: 1
  interval:
    description: Seconds between two reads when O(samples) is more than 1, 1 to 60.
    type: int
    default: 5
  saturation:
    description: Share of a limit (more than 0, at most 1) from which use counts as saturated.
    type: float
    default: 0.9
  throttled_share:
    description: Share of CFS periods (more than 0, at most 1) from which a container counts as CPU-throttled
      (V(0.25) is the share the common C(CPUThrottlingHigh) alert uses).
    type: float
    default: 0.25
  cadvisor_path:
    description:
      - The kubelet's cAdvisor metrics path behind the node proxy; C({node}) is replaced by the node's name (for
        emulated kubelets that serve every node from one server, as kwok does).
    type: str
    default: /metrics/cadvisor
notes:
  - Needs C(get) on the Deployment, C(list) on pods and horizontalpodautoscalers in the namespace, C(list) on
    C(pods.metrics.k8s.io), and C(get) on C(nodes/proxy) for the throttling figure.
seealso:
  - module: airlock.incident.k8s_triage
  - module: airlock.incident.k8s_resources
  - module: airlock.incident.k8s_hpa
"""

EXAMPLES = r"""
- name: Resource use now
  airlock.incident.k8s_usage:
    namespace: airlock-system
  register: airlock_usage

- name: Memory over a minute (7 reads, 10 s apart)
  airlock.incident.k8s_usage:
    namespace: airlock-system
    samples: 7
    interval: 10
  register: airlock_memory

- name: Say when the metrics API is missing
  ansible.builtin.debug:
    msg: "metrics API not served: {{ airlock_usage.metrics_api.error }}"
  when: not airlock_usage.metrics_api.served
"""

RETURN = r"""
msg:
  description: Pods, usage per container and the findings that are not informational, in one line.
  returned: always
  type: str
  sample: "deployment airlock-system/airlock: 2 pod(s); metrics API not served (HTTP 404: no APIService serves
    metrics.k8s.io), usage unknown; no saturation, growth or OOM kill found"
metrics_api:
  description: C(served) (bool), C(status) (HTTP status of the read) and C(error) (why it is not served, else null).
  returned: always
  type: dict
  sample: {served: false, status: 404, error: "HTTP 404: no APIService serves metrics.k8s.io"}
samples_taken:
  description: Reads of the metrics API that returned data.
  returned: always
  type: int
replicas:
  description: C(desired) and C(ready) replicas of the Deployment.
  returned: always
  type: dict
pods:
  description:
    - One entry per pod (C(name), C(node), C(phase), C(ready), C(containers)). Each container has C(requests) and
      C(limits) (as written), C(cpu_m) (millicores) and C(memory_bytes) (latest sample, null without metrics),
      C(cpu_of_request), C(cpu_of_limit), C(memory_of_request), C(memory_of_limit) (shares, null without a value),
      C(series) (C(cpu_m), C(memory_bytes), C(time) per sample), C(memory_growing), C(restarts) and
      C(last_termination) (C(reason), C(exit_code), C(finished_at)).
  returned: always
  type: list
  elements: dict
hpas:
  description: The HPAs that target the Deployment - C(name), C(min_replicas), C(max_replicas), C(current_replicas),
    C(desired_replicas), C(metrics), C(current_metrics), C(conditions) (by type).
  returned: always
  type: list
  elements: dict
findings:
  description: C(id), C(severity) (V(critical), V(warning), V(info)), C(summary) and C(evidence), most severe first.
  returned: always
  type: list
  elements: dict
throttling:
  description:
    - C(measured) (bool), C(source) (the node-proxy path read), C(error) (why it was not measured, else null),
      C(node_errors) (by node), C(damaged_lines) (exposition lines skipped) and C(containers) (C(pod), C(container),
      C(periods), C(throttled_periods), C(ratio), C(basis)); each container of RV(pods) has C(throttled_ratio) too.
  returned: always
  type: dict
  sample: {measured: true, source: /api/v1/nodes/<node>/proxy/metrics/cadvisor, error: null, node_errors: {},
           damaged_lines: 0, containers: [{pod: airlock-5d8f7c9b6-x2k4q, container: airlock, periods: 300.0,
           throttled_periods: 180.0, ratio: 0.6, basis: between the two scrapes}]}
deployment:
  description: The Deployment read.
  returned: always
  type: str
namespace:
  description: The namespace read.
  returned: always
  type: str
"""


from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import usage
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import k8s_arg_spec, run_k8s_module

ARGUMENT_SPEC = k8s_arg_spec(
    name=dict(type="str", default="airlock"),
    samples=dict(type="int", default=1),
    interval=dict(type="int", default=5),
    saturation=dict(type="float", default=0.9),
    throttled_share=dict(type="float", default=0.25),
    cadvisor_path=dict(type="str", default="/metrics/cadvisor"),
)


def main():
    module = AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_k8s_module(module, lambda mod: usage.collect(mod.params), lambda mod: usage.validate(mod.params))


if __name__ == "__main__":
    main()
