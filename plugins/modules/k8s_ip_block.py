#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_ip_block
short_description: Block source CIDRs in front of Airlock by narrowing its NetworkPolicies, reversibly and with an expiry
version_added: 0.2.0
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
        scheduled unblock job (C(playbooks/unblock-expired.yml)). It needs no O(confirm) because it only removes blocks
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

import ipaddress
import json
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import action_arg_spec
from ansible_collections.airlock.incident.plugins.module_utils.core.contract import confirm_error, incident_id_error
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import DurationError, parse_go_duration, parse_rfc3339_ns
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns
from ansible_collections.airlock.incident.plugins.module_utils.k8s import netpol as nb
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, NotFound, k8s_arg_spec, run_k8s_module, validate_common
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import validate_name

try:
    from kubernetes.client import NetworkingV1Api
except ImportError:
    # require_kubernetes reports the missing library.
    NetworkingV1Api = None  # pylint: disable=invalid-name

INGRESS_HINT = ("block the client at the ingress instead (ingress-nginx: the nginx.ingress.kubernetes.io/denylist-source-range "
                "annotation on the Ingress), where the client address is still known")


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


def _expiry(params, now_ns):
    """``(expires_ns, errors)`` from expires_in / expires_at (at most one of them, in the future)."""
    if params["expires_in"] is not None and params["expires_at"] is not None:
        return None, ["expires_in, expires_at: give one of them, not both"]
    if params["expires_in"] is not None:
        try:
            span = parse_go_duration(params["expires_in"])
        except DurationError as exc:
            return None, ["expires_in: invalid value %r: %s; accepted values: a Go duration such as 24h, 90m or 1h30m "
                          "(there is no day unit: 1d is 24h)" % (params["expires_in"], exc)]
        if span <= 0:
            return None, ["expires_in: invalid value %r; accepted values: a positive Go duration such as 24h"
                          % (params["expires_in"],)]
        return now_ns + span, []
    if params["expires_at"] is not None:
        try:
            expires_ns = parse_rfc3339_ns(params["expires_at"])
        except DurationError as exc:
            return None, ["expires_at: %s" % exc]
        if expires_ns <= now_ns:
            return None, ["expires_at: %s is not in the future (now %s)" % (params["expires_at"], format_ns(now_ns, "s"))]
        return expires_ns, []
    return None, []


def _state_errors(params):
    """What state=present needs (an expiry and a reason) and what only it accepts."""
    if params["state"] != "present":
        if params["expires_in"] is not None or params["expires_at"] is not None:
            return ["expires_in, expires_at: only with state=present"]
        return []
    errors = []
    if params["expires_in"] is None and params["expires_at"] is None:
        errors.append("expires_in or expires_at: required with state=present; a block must expire (for example expires_in: 24h)")
    if not (params["reason"] or "").strip():
        errors.append("reason: required with state=present (recorded with the block)")
    return errors


def _validate(module, inputs):
    """Every input check, before any API call; fills ``inputs`` with cidrs, now_ns and expires_ns."""
    params = module.params
    changes = params["state"] in ("present", "absent")
    errors = [m for m in (validate_common(params), validate_name("deployment", params["deployment"])) if m]
    cidrs, cidr_errors = nb.normalise_cidrs(params["cidrs"] or [])
    errors.extend("cidrs: %s; accepted values: IPv4/IPv6 addresses or CIDRs such as 203.0.113.7 or 198.51.100.0/24" % e
                  for e in cidr_errors)
    if changes and not params["cidrs"]:
        errors.append("cidrs: required with state=%s; accepted values: a list of IPv4/IPv6 addresses or CIDRs" % params["state"])
    incident_error = incident_id_error(params["incident_id"], required=changes)
    if incident_error:
        errors.append(incident_error + (" (required with state=%s)" % params["state"] if changes else ""))
    now_ns = time.time_ns()
    if params["now"] is not None:
        try:
            now_ns = parse_rfc3339_ns(params["now"])
        except DurationError as exc:
            errors.append("now: %s" % exc)
    expires_ns, expiry_errors = _expiry(params, now_ns)
    errors += expiry_errors + _state_errors(params)
    if changes and params["incident_id"]:
        errors += [e for e in [confirm_error(params, module.check_mode, "change the NetworkPolicies of namespace %s"
                                             % params["namespace"])] if e]
    inputs.update(cidrs=cidrs, now_ns=now_ns, expires_ns=expires_ns)
    return errors


def _raw(k8s, what, func, *args, **kwargs):
    """Call the API and return the JSON body as plain data (every field the server sent, none dropped by client models)."""
    resp = k8s.call(what, func, *args, _preload_content=False, **kwargs)
    return json.loads(resp.data)


class Cluster(object):
    def __init__(self, module):
        self.module = module
        self.k8s = K8s(module.params)
        self.net = NetworkingV1Api(self.k8s.api)
        self.ns = self.k8s.namespace

    def pod_labels(self, name):
        self.k8s.ensure_namespace()
        what = "deployment %s/%s" % (self.ns, name)
        try:
            dep = _raw(self.k8s, what, self.k8s.apps.read_namespaced_deployment, name, self.ns)
        except NotFound as exc:
            raise AirlockIncidentError("deployment %s not found in namespace %s (API server %s); set deployment to the Airlock "
                                       "Deployment" % (name, self.ns, self.k8s.host)) from exc
        return ((dep.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}

    def policies(self):
        data = _raw(self.k8s, "networkpolicies in %s" % self.ns, self.net.list_namespaced_network_policy, self.ns)
        return sorted(data.get("items") or [], key=lambda p: p["metadata"]["name"])

    def cluster_pods(self):
        """({namespace: labels}, [pods]) or (None, None) with a warning when RBAC forbids it."""
        try:
            nss = _raw(self.k8s, "namespaces", self.k8s.core.list_namespace)
            pods = _raw(self.k8s, "pods in all namespaces", self.k8s.core.list_pod_for_all_namespaces)
        except AirlockIncidentError as exc:
            if exc.result.get("status") in (401, 403):
                self.module.warn("cannot list namespaces and pods (%s), so the pods that selector peers admit from the blocked "
                                 "CIDRs are not listed" % exc.msg)
                return None, None
            raise
        labels = dict((n["metadata"]["name"], n["metadata"].get("labels") or {}) for n in nss.get("items") or [])
        return labels, pods.get("items") or []

    def write(self, policy, body):
        name = policy["metadata"]["name"]
        kwargs = {"dry_run": "All"} if self.module.check_mode else {}
        return _raw(self.k8s, "networkpolicy %s/%s" % (self.ns, name), self.net.replace_namespaced_network_policy,
                    name, self.ns, body, **kwargs)


def _records(policies):
    out = {}
    for policy in policies:
        try:
            record = nb.read_record(policy)
        except nb.BlockError as exc:
            raise AirlockIncidentError(str(exc)) from exc
        if record is not None:
            out[policy["metadata"]["name"]] = record
    return out


def _check_drift(pairs, result):
    """Refuse before any write when a recorded policy was edited by someone else since."""
    for policy, record in pairs:
        if record is None:
            continue
        try:
            nb.check_drift(policy, record)
        except nb.BlockError as exc:
            raise AirlockIncidentError(str(exc), **result) from exc


def _apply(cluster, policy, record, blocks, result, diff):
    """Plan and write one policy; appends to result["policies"]. Returns True when it changed."""
    name = policy["metadata"]["name"]
    ingress, new_record, changes = nb.plan(policy, record, blocks)
    before = (policy.get("spec") or {}).get("ingress")
    old_text = nb.record_text(record) if record is not None else None
    new_text = nb.record_text(new_record) if new_record is not None else None
    if nb.same_ingress(before, ingress) and old_text == new_text:
        return False
    body = nb.with_ingress(policy, ingress, new_record)
    try:
        cluster.write(policy, body)
    except AirlockIncidentError as exc:
        done = [p["name"] for p in result["policies"]]
        fields = dict(result, changed=bool(done) and not cluster.module.check_mode)
        raise AirlockIncidentError("%s; NetworkPolicies already %s before this failure: %s" % (
            exc.msg, "checked" if cluster.module.check_mode else "changed", ", ".join(done) or "none"), **fields) from exc
    result["policies"].append(dict(name=name, ingress_before=before, ingress_after=ingress, changes=changes,
                                   restored=new_record is None and record is not None))
    diff["before"][name] = {"spec.ingress": before, "blocks": [b["cidr"] for b in (record or {}).get("blocks", [])]}
    diff["after"][name] = {"spec.ingress": ingress, "blocks": [b["cidr"] for b in (new_record or {}).get("blocks", [])]}
    return True


BLOCK_FIELDS = ("cidr", "incident_id", "reason", "added_at", "expires_at")


def _summary(block, policy):
    out = dict((k, block.get(k)) for k in BLOCK_FIELDS)
    out["policy"] = policy
    return out


def _remaining(records):
    out = []
    for name in sorted(records):
        for block in (records[name] or {}).get("blocks") or []:
            out.append(_summary(block, name))
    return out


def _expired(block, now_ns):
    try:
        return parse_rfc3339_ns(block["expires_at"]) <= now_ns
    except (DurationError, KeyError, TypeError, AttributeError):
        return False


def _block_status(module, cluster, cidr, selecting, adm_before, adm_after, recorded, was_recorded, selector_entries):
    """``(status, effective, message)`` of one CIDR after the run."""
    if not selecting:
        status, effective = "not_isolated", False
        message = ("no NetworkPolicy in %s selects the Airlock pods for ingress, so every source is admitted and there is "
                   "no rule to narrow; nothing was changed (ip_block does not create policies); %s" % (cluster.ns, INGRESS_HINT))
    elif adm_after:
        status, effective = "not_blocked", False
        message = "%s is still admitted by %s" % (cidr, "; ".join("%s %s" % (a["policy"], a["detail"]) for a in adm_after))
    elif recorded and adm_before:
        status, effective = "blocked", True
        message = "%s %s no longer admitted by address: %s" % (
            cidr, "would be" if module.check_mode else "is", "; ".join("%s %s" % (a["policy"], a["detail"]) for a in adm_before))
    elif recorded and was_recorded:
        status, effective = "already_blocked", True
        message = "%s is already blocked by a recorded block" % cidr
    else:
        status, effective = "not_admitted_directly", False
        message = ("no NetworkPolicy admits %s directly (by address), so there is nothing to block here: traffic from it can "
                   "only arrive through a selector peer (%s), where the peer Airlock sees is the ingress or monitoring pod, "
                   "not the client; %s" % (cidr, "; ".join("%s %s" % (s["policy"], s["detail"]) for s in selector_entries) or "none",
                                           INGRESS_HINT))
    return status, effective, message


def _planned_blocks(params, record, original, cidrs, now_ns, expires_ns):
    """The blocks of one policy after adding ``cidrs`` for the incident (a rerun keeps the recorded block)."""
    incident = params["incident_id"]
    blocks = [dict(b) for b in (record or {}).get("blocks", [])]
    for cidr in cidrs:
        mine = [b for b in blocks if b["cidr"] == cidr and b["incident_id"] == incident]
        if mine:
            # expires_at moves the expiry; expires_in renews only a block that has run out (a rerun
            # with the same expires_in must not extend it on every run).
            if mine[0]["expires_at"] != format_ns(expires_ns, "s") and (params["expires_at"] is not None or _expired(mine[0], now_ns)):
                mine[0]["expires_at"] = format_ns(expires_ns, "s")
            continue
        if not nb.relevant(original, cidr):
            continue
        blocks.append(dict(cidr=cidr, incident_id=incident, reason=params["reason"], added_at=format_ns(now_ns, "s"),
                           expires_at=format_ns(expires_ns, "s")))
    return blocks


def _present(module, cluster, cidrs, now_ns, expires_ns, result, diff):
    params = module.params
    labels = cluster.pod_labels(params["deployment"])
    policies = cluster.policies()
    records = _records(policies)
    selecting = [p for p in policies if nb.policy_selects(p, labels)]
    result["selecting_policies"] = [p["metadata"]["name"] for p in selecting]
    result["expires_at"] = format_ns(expires_ns, "s")
    new_records = dict(records)
    before_ingress = dict((p["metadata"]["name"], (p.get("spec") or {}).get("ingress")) for p in selecting)
    after_ingress = dict(before_ingress)
    _check_drift([(p, records.get(p["metadata"]["name"])) for p in selecting], result)
    for policy in selecting:
        name = policy["metadata"]["name"]
        record = records.get(name)
        original = record["original_ingress"] if record else (policy.get("spec") or {}).get("ingress")
        blocks = _planned_blocks(params, record, original, cidrs, now_ns, expires_ns)
        if _apply(cluster, policy, record, blocks, result, diff):
            result["changed"] = True
        ingress, new_record, dummy = nb.plan(policy, record, blocks)
        after_ingress[name] = ingress
        new_records[name] = new_record
    result["remaining"] = _remaining(dict((k, v) for k, v in new_records.items() if v))

    sel_peers = []
    for policy in selecting:
        sel_peers.extend(nb.selector_peers(policy["metadata"]["name"], cluster.ns, after_ingress[policy["metadata"]["name"]]))
    namespaces, pods = (None, None)
    if sel_peers:
        namespaces, pods = cluster.cluster_pods()
    warnings = []
    all_not_blockable = []
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr)
        adm_before, adm_after = [], []
        for name in sorted(before_ingress):
            adm_before.extend(nb.admitted_by_ip(name, before_ingress[name], net))
            adm_after.extend(nb.admitted_by_ip(name, after_ingress[name], net))
        not_blockable = []
        selector_entries = []
        for peer in sel_peers:
            entry = dict((k, peer[k]) for k in ("policy", "rule", "peer", "kind", "detail", "ports"))
            if pods is not None:
                entry["pods_in_cidr"] = nb.pods_admitted(peer, namespaces, pods, net)
                not_blockable.extend(dict(p, cidr=cidr) for p in entry["pods_in_cidr"])
            selector_entries.append(entry)
        recorded = any(b["cidr"] == cidr for rec in new_records.values() if rec for b in rec["blocks"])
        was_recorded = any(b["cidr"] == cidr for rec in records.values() if rec for b in rec["blocks"])
        status, effective, message = _block_status(module, cluster, cidr, bool(selecting), adm_before, adm_after,
                                                   recorded, was_recorded, selector_entries)
        if status != "blocked" and status != "already_blocked":
            warnings.append(message)
        for pod in not_blockable:
            warnings.append("pod %s/%s (%s) is in %s and is admitted by NetworkPolicy %s %s: a NetworkPolicy cannot block it by "
                            "address%s" % (pod["namespace"], pod["pod"], pod["ip"], cidr, pod["policy"], pod["admitted_by"],
                                           "; if it is an ingress controller, " + INGRESS_HINT if status != "not_admitted_directly" else ""))
        all_not_blockable.extend(not_blockable)
        result["blocks"].append(dict(cidr=cidr, status=status, effective=effective, admitted_by_before=adm_before,
                                     admitted_by=adm_after + selector_entries, not_blockable=not_blockable, message=message))
    result["not_blockable"] = all_not_blockable
    result["effective"] = bool(result["blocks"]) and all(b["effective"] for b in result["blocks"])
    for warning in warnings:
        module.warn(warning)


def _remove(module, cluster, cidrs, now_ns, result, diff):
    params = module.params
    state = params["state"]
    incident = params["incident_id"]
    policies = cluster.policies()
    records = _records(policies)
    by_name = dict((p["metadata"]["name"], p) for p in policies)
    new_records = {}
    result["removed"] = []
    plans = []
    for name in sorted(records):
        record = records[name]
        keep, gone = [], []
        for block in record["blocks"]:
            hit = (not cidrs or block["cidr"] in cidrs) and (not incident or block["incident_id"] == incident)
            if state == "expired":
                try:
                    expired = parse_rfc3339_ns(block["expires_at"]) <= now_ns
                except (DurationError, KeyError, TypeError) as exc:
                    raise AirlockIncidentError("NetworkPolicy %s: recorded block %s has no valid expires_at (%r); fix or remove "
                                               "the annotation %s" % (name, block.get("cidr"), block.get("expires_at"), nb.ANNOTATION),
                                               **result) from exc
                hit = hit and expired
            (gone if hit else keep).append(block)
        plans.append((name, record, keep, gone))
    _check_drift([(by_name[name], record) for name, record, keep, gone in plans if gone], result)
    for name, record, keep, gone in plans:
        new_records[name] = record
        if not gone:
            continue
        if _apply(cluster, by_name[name], record, keep, result, diff):
            result["changed"] = True
        new_records[name] = dict(record, blocks=keep) if keep else None
        result["removed"].extend(_summary(b, name) for b in gone)
    result["remaining"] = _remaining(dict((k, v) for k, v in new_records.items() if v))
    if state == "absent":
        removed = set(r["cidr"] for r in result["removed"])
        for cidr in cidrs:
            others = [r for r in result["remaining"] if r["cidr"] == cidr]
            if others:
                holders = ", ".join("%s (until %s)" % (o["incident_id"], o["expires_at"]) for o in others)
                module.warn("%s stays blocked on %s by %s" % (cidr, ", ".join(sorted(set(o["policy"] for o in others))), holders))
            elif cidr not in removed:
                module.warn("no block of %s is recorded for incident %s in namespace %s" % (cidr, incident, cluster.ns))


def run(module, cidrs, now_ns, expires_ns):
    params = module.params
    cluster = Cluster(module)
    result = dict(changed=False, namespace=cluster.ns, state=params["state"], cidrs=cidrs, now=format_ns(now_ns, "s"),
                  policies=[], blocks=[])
    diff = dict(before={}, after={})
    if params["state"] == "present":
        _present(module, cluster, cidrs, now_ns, expires_ns, result, diff)
    else:
        result.pop("blocks")
        _remove(module, cluster, cidrs, now_ns, result, diff)
    if result["changed"]:
        result["diff"] = diff
    result["msg"] = _sentence(module, result)
    return result


def _sentence(module, result):
    names = ", ".join(p["name"] for p in result["policies"])
    if result["changed"] and module.check_mode:
        return "would change NetworkPolicies %s (server-side dry run; nothing stored)" % names
    head = "changed NetworkPolicies %s" % names if result["changed"] else "no NetworkPolicy changed"
    statuses = "; ".join("%s: %s" % (b["cidr"], b["status"]) for b in result.get("blocks") or [])
    return "%s; %s" % (head, statuses) if statuses else head


def main():
    inputs = {}
    run_k8s_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), lambda m: run(m, **inputs), lambda m: _validate(m, inputs))


if __name__ == "__main__":
    main()
