#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_ip_block
short_description: Block source CIDRs in front of Airlock by narrowing its NetworkPolicies, reversibly and with an expiry
version_added: 0.1.0
description:
  - MCP Airlock has no IP block of its own (the operator playbook's C(POST /admin/security/block) answers 404).
    This module blocks in front of it by editing the NetworkPolicies of the namespace that select the Airlock
    pods (matched against the pod template labels of O(deployment)).
  - NetworkPolicies are allow-lists and add up (a pod admits the union of every policy that selects it), so adding
    an "allow all except X" policy would B(widen) access. The module narrows what admits the traffic instead, rule
    by rule. An C(ipBlock) peer whose C(cidr) strictly contains a blocked CIDR gets it added to C(except). An
    C(ipBlock) peer that lies entirely inside a blocked CIDR is removed (an except must be a strict subset), and a
    rule left without peers is removed (an empty C(from) would admit every source). A rule without C(from) (every
    source) becomes C(from) V(ipBlock 0.0.0.0/0) and V(ipBlock ::/0), both with the blocked CIDRs as excepts,
    plus V(namespaceSelector {}), so every pod of the cluster stays admitted as before.
  - C(namespaceSelector)/C(podSelector) peers admit pods by label and cannot be narrowed by address. The module lists
    the pods those peers admit whose IPs are in a blocked CIDR and reports them in RV(not_blockable) with a warning.
    Behind an ingress controller the peer Airlock's pods see is the controller pod, not the client; with the chart's
    default policy (ingress only from namespaces labelled C(name=ingress-nginx) and C(name=monitoring)) no policy
    admits an external CIDR directly, so the module changes nothing and says to block at the ingress instead (for
    ingress-nginx the C(nginx.ingress.kubernetes.io/denylist-source-range) annotation).
  - Every edited policy carries the annotation C(airlock.incident/ip-blocks) (JSON) with its C(spec.ingress) as it was
    before the first block (C(original_ingress)) and every block (C(cidr), C(incident_id), C(reason), C(added_at),
    C(expires_at) and the exact C(changes) it makes). The ingress the module writes is always the original with the
    recorded blocks applied, so O(state=absent) and O(state=expired) remove only what the module added and removing
    the last block restores the original rules exactly (and removes the annotation).
  - A policy whose ingress is no longer what the record produces (edited by someone else since) is not touched;
    the module fails naming it.
  - NetworkPolicies are enforced only by a CNI plugin that implements them (Calico, Cilium, ...). The module checks
    and edits the objects; it cannot tell whether the cluster enforces them.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: Each changed policy is sent as a server-side dry run (validated, stored nowhere); the result says what would change.
  diff_mode:
    support: full
    description: Shows the C(spec.ingress) of every changed policy before and after.
extends_documentation_fragment:
  - airlock.incident.kubernetes
  - airlock.incident.kubernetes.namespace
  - airlock.incident.action
options:
  cidrs:
    description:
      - Source addresses to block, IPv4 or IPv6. A single address becomes a V(/32) or V(/128) network. A CIDR with host
        bits set (V(10.0.0.5/24)) and V(/0) are refused, naming the value.
      - Required with O(state=present) and O(state=absent). With O(state=expired) it limits the sweep to these CIDRs.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) blocks O(cidrs) for O(incident_id) until O(expires_in)/O(expires_at).
      - V(absent) removes the blocks of O(cidrs) recorded for O(incident_id) (blocks of the same CIDR recorded by another
        incident stay and are reported).
      - V(expired) removes every recorded block whose C(expires_at) has passed, whichever incident added it; for a
        scheduled unblock job (C(playbooks/unblock_expired.yml)). It needs no O(confirm) because it only removes blocks
        that have run out.
    type: str
    choices: [present, absent, expired]
    default: present
  expires_in:
    description:
      - How long the block lasts, as a Go duration (V(24h), V(90m), V(1h30m)); days (V(1d)) are not a Go unit and are
        refused. One of O(expires_in) or O(expires_at) is required with O(state=present).
      - A rerun for a block that already exists keeps its recorded expiry (reruns do not extend it), unless that
        expiry has already passed; then the block is renewed from now.
    type: str
  expires_at:
    description:
      - When the block ends, RFC 3339 (V(2026-11-29T18:00:00Z)); must be in the future. Given again with another time for
        a block that already exists, it moves that block's expiry.
    type: str
  reason:
    description:
      - Why the CIDR is blocked; recorded with the block. Required with O(state=present).
    type: str
  incident_id:
    description:
      - The incident the block belongs to, recorded with the block (the collection's one incident-id rule - letters,
        digits, C(.), C(_) and C(-), starting with a letter or digit, at most 63 characters). Required with
        O(state=present) and O(state=absent); with O(state=expired) it limits the sweep to that incident.
  confirm:
    description:
      - Must equal O(incident_id) for O(state=present) and O(state=absent) to change anything. Not needed in check mode
        or with O(state=expired).
  now:
    description:
      - The current time as RFC 3339, for tests and replays only (recorded as C(added_at) and compared with
        C(expires_at)). Defaults to the clock of the machine that runs the module.
    type: str
  deployment:
    description:
      - The Airlock Deployment whose pod template labels decide which NetworkPolicies select the pods.
    type: str
    default: airlock
notes:
  - Needs C(get) on the Deployment, C(list) and C(update) on C(networkpolicies) in the namespace and, to find the pods
    that selector peers admit, C(list) on C(namespaces) and C(pods) cluster-wide (without it the module warns and
    cannot list them).
  - Policies are written with C(update) and their C(resourceVersion), so a concurrent change fails instead of being lost.
  - When no NetworkPolicy selects the Airlock pods for ingress, every source is admitted and there is nothing to
    narrow; the module changes nothing and warns (it does not create policies).
  - To undo, run the module with O(state=absent) and the same O(incident_id); see C(docs/ip-blocking.md).
seealso:
  - module: airlock.incident.k8s_triage
"""

EXAMPLES = r"""
- name: Block an attacker for 24 hours
  airlock.incident.k8s_ip_block:
    cidrs: [203.0.113.7, 198.51.100.0/24, "2001:db8:bad::/48"]
    expires_in: 24h
    reason: credential stuffing against /mcp
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"
  register: block

- name: Say where the block could not apply
  ansible.builtin.debug:
    msg: "{{ block.blocks | selectattr('effective', 'equalto', false) | map(attribute='message') | list }}"

- name: Lift the block again
  airlock.incident.k8s_ip_block:
    cidrs: [203.0.113.7, 198.51.100.0/24, "2001:db8:bad::/48"]
    state: absent
    incident_id: "{{ airlock_incident_id }}"
    confirm: "{{ airlock_incident_id }}"

- name: Scheduled job - remove every block that has expired
  airlock.incident.k8s_ip_block:
    state: expired
"""

RETURN = r"""
msg:
  description: What was done or would be done (in check mode, the NetworkPolicies that would change), with the status of each CIDR.
  returned: always
  type: str
namespace:
  description: Namespace of the policies.
  returned: always
  type: str
  sample: airlock-system
state:
  description: The requested state.
  returned: always
  type: str
  sample: present
cidrs:
  description: The normalised CIDRs.
  returned: always
  type: list
  elements: str
  sample: ["203.0.113.7/32"]
now:
  description: The time used for C(added_at) and the expiry comparison.
  returned: always
  type: str
  sample: "2026-11-28T18:00:00Z"
expires_at:
  description: The expiry of new blocks.
  returned: when O(state=present)
  type: str
  sample: "2026-11-29T18:00:00Z"
selecting_policies:
  description: NetworkPolicies whose podSelector selects the Airlock pods and that govern ingress.
  returned: when O(state=present)
  type: list
  elements: str
  sample: ["airlock", "airlock-lb"]
effective:
  description: True when every CIDR is blocked by the policies after the run (RV(blocks[].effective)).
  returned: when O(state=present)
  type: bool
blocks:
  description: One entry per CIDR with what admitted it and what the module did.
  returned: when O(state=present)
  type: list
  elements: dict
  contains:
    cidr:
      description: The CIDR.
      type: str
    status:
      description:
        - V(blocked) (the policies admitted it by address and no longer do), V(already_blocked) (a recorded block
          already keeps it out), V(not_admitted_directly) (no rule admits it by address; traffic from it can only
          arrive through a selector peer such as the ingress controller), V(not_isolated) (no policy selects the pods
          for ingress, every source is admitted).
      type: str
    effective:
      description: True when after the run no rule of a selecting policy admits the CIDR by address and the CIDR was
        or is blocked by this module. False for V(not_admitted_directly) and V(not_isolated).
      type: bool
    admitted_by_before:
      description: Rules and peers that admitted addresses of the CIDR by address before the run.
      type: list
      elements: dict
    admitted_by:
      description: Rules and peers that admit addresses of the CIDR after the run (by address, C(kind) V(ip_block) or
        V(all_sources), or by label, C(kind) V(selector), which cannot be narrowed).
      type: list
      elements: dict
    not_blockable:
      description: Pods in the CIDR that selector peers admit (for example an ingress controller pod).
      type: list
      elements: dict
    message:
      description: One sentence on the outcome.
      type: str
not_blockable:
  description: All pods of RV(blocks[].not_blockable), with namespace, pod, ip and the admitting peer.
  returned: when O(state=present)
  type: list
  elements: dict
  sample: [{"namespace": "ingress-nginx", "pod": "ingress-nginx-controller-5d8f", "ip": "10.244.0.9", "policy": "airlock"}]
policies:
  description: Every policy the run changed (or would change in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Policy name.
      type: str
    ingress_before:
      description: C(spec.ingress) before.
      type: list
    ingress_after:
      description: C(spec.ingress) after.
      type: list
    changes:
      description: The edits of the active blocks (C(except_added), C(peer_removed), C(rule_narrowed), C(rule_removed)).
      type: list
    restored:
      description: True when the last block was removed and the original ingress restored.
      type: bool
removed:
  description: Blocks removed (O(state=absent) and O(state=expired)), each with the policy it was recorded on.
  returned: when O(state=absent) or O(state=expired)
  type: list
  elements: dict
  sample: [{"policy": "airlock-lb", "cidr": "203.0.113.0/24", "incident_id": "INC-1", "expires_at": "2026-11-28T18:00:00Z"}]
remaining:
  description: Blocks still recorded after the run, with their policy.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule, action_arg_spec
from ansible_collections.airlock.incident.plugins.module_utils.k8s import ip_block
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import k8s_arg_spec, run_k8s_module


ARGUMENT_SPEC = k8s_arg_spec(**action_arg_spec(
    required=False,
    cidrs=dict(type="list", elements="str", default=[]),
    state=dict(type="str", default="present", choices=["present", "absent", "expired"]),
    expires_in=dict(type="str"),
    expires_at=dict(type="str"),
    reason=dict(type="str"),
    now=dict(type="str"),
    deployment=dict(type="str", default="airlock"),
))


def main():
    inputs: dict = {}

    def validate(module):
        """Every input check (module_utils/k8s/ip_block.py), before any API call; keeps the normalised inputs."""
        return ip_block.validate(module, inputs)

    def run(module):
        """Block, unblock or sweep the expired blocks with the inputs validate() normalised."""
        return ip_block.run(module, **inputs)

    run_k8s_module(AirlockModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run, validate)


if __name__ == "__main__":
    main()
