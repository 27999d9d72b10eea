#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_egress_check
short_description: Compute whether the NetworkPolicies let the Airlock pods reach an address (the IdP, an upstream)
version_added: 0.1.0
description:
  - The Airlock image has no shell and no curl, so the operator playbook's C(kubectl exec ... curl) to the identity
    provider cannot run. This module answers the same question from the objects that decide it - the
    NetworkPolicies of the namespace that select the pods of O(deployment) (its pod template labels).
  - Egress is unrestricted until a policy that governs egress (C(policyTypes) contains C(Egress)) selects the pods.
    Then a connection is allowed only when a rule allows both the destination (no C(to), or an C(ipBlock) whose
    C(cidr) holds the address outside its C(except)) and the port (no C(ports), or the protocol with the port or
    C(port)..C(endPort) range). Policies add up; any allowing rule is enough.
  - C(namespaceSelector)/C(podSelector) peers select pods in the cluster, not outside addresses, and a named port
    names a port of a destination pod; both are reported in RV(checks[].notes), never counted as allowing an IdP.
  - Host names are resolved where the module runs (usually the controller); give O(destinations[].addresses) when the
    cluster resolves the name differently. The pods must also reach DNS to resolve it (the chart allows port 53).
  - NetworkPolicies are enforced only by a CNI plugin that implements them; the module reads the objects, it cannot
    tell whether the cluster enforces them.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
extends_documentation_fragment:
  - airlock.incident.kubernetes
  - airlock.incident.kubernetes.namespace
options:
  deployment:
    description: The Airlock Deployment whose pod template labels the policies are matched against.
    type: str
    default: airlock
  destinations:
    description:
      - Where the pods must connect, for example the RV(airlock.incident.oidc_check#module:endpoints) of the IdP.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description: Host name or IP address.
        type: str
        required: true
      port:
        description: Port number.
        type: int
        required: true
      protocol:
        description: V(TCP), V(UDP) or V(SCTP).
        type: str
        default: TCP
      addresses:
        description: The addresses to check instead of resolving O(destinations[].host).
        type: list
        elements: str
seealso:
  - module: airlock.incident.oidc_check
  - module: airlock.incident.k8s_ip_block
"""

EXAMPLES = r"""
- name: Where must Airlock connect to validate tokens
  airlock.incident.oidc_check:
    issuer: https://idp.example.com/realms/mcp
  register: oidc
  delegate_to: localhost

- name: May the Airlock pods reach it
  airlock.incident.k8s_egress_check:
    namespace: airlock-system
    deployment: airlock
    destinations: "{{ oidc.endpoints | map('dict2items') | map('selectattr', 'key', 'in', ['host', 'port']) | map('items2dict') }}"
  register: egress
"""

RETURN = r"""
allowed:
  description: Every destination address is allowed.
  returned: success
  type: bool
namespace:
  description: The namespace.
  returned: success
  type: str
deployment:
  description: The Deployment.
  returned: success
  type: str
pod_labels:
  description: The pod template labels the policies were matched against.
  returned: success
  type: dict
checks:
  description: One entry per destination address.
  returned: success
  type: list
  elements: dict
  contains:
    host:
      description: The destination's host.
      type: str
    address:
      description: The address checked.
      type: str
    port:
      description: The port.
      type: int
    protocol:
      description: The protocol.
      type: str
    allowed:
      description: Whether the pods may connect.
      type: bool
    policies:
      description: The egress policies that select the pods (empty means egress is unrestricted).
      type: list
      elements: str
    allowed_by:
      description: The C(<policy> rule <n>) entries that allow it.
      type: list
      elements: str
    notes:
      description: Peers and ports that cannot allow an outside address (selector peers, named ports, excepts).
      type: list
      elements: str
    reason:
      description: One human line.
      type: str
blocked:
  description: The entries of RV(checks) that are not allowed.
  returned: success
  type: list
  elements: dict
"""


from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.k8s import egress
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import k8s_arg_spec, run_k8s_module
from ansible_collections.airlock.incident.plugins.module_utils.k8s.ip_block import Cluster

ARGUMENT_SPEC = k8s_arg_spec(
    deployment=dict(type="str", default="airlock"),
    destinations=dict(type="list", elements="dict", required=True, options=dict(
        host=dict(type="str", required=True),
        port=dict(type="int", required=True),
        protocol=dict(type="str", default="TCP"),
        addresses=dict(type="list", elements="str"),
    )),
)


def main():
    module = AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_k8s_module(module, lambda m: egress.run(Cluster(m), m.params), lambda m: egress.validate(m.params))


if __name__ == "__main__":
    main()
