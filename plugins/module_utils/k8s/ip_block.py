# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the k8s_ip_block module does: check its input, read the Deployment's pod labels and the namespace's
NetworkPolicies, plan and write the blocks (:mod:`.netpol` computes the rules) and report per CIDR what admits it.

:func:`validate` refuses bad input before any API call; :func:`run` does the rest through :class:`Cluster`, the
only place that talks to the API server.
"""

from __future__ import annotations

import ipaddress
import json
import time
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import confirm_error, incident_id_error
from ansible_collections.airlock.incident.plugins.module_utils.core.durations import DurationError, parse_go_duration, parse_rfc3339_ns
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import format_ns
from ansible_collections.airlock.incident.plugins.module_utils.k8s import netpol as nb
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, NotFound, validate_common, validate_name

try:
    from kubernetes.client import NetworkingV1Api
except ImportError:
    # require_kubernetes reports the missing library.
    NetworkingV1Api = None  # pylint: disable=invalid-name

Obj = t.Dict[str, t.Any]

INGRESS_HINT = ("block the client at the ingress instead (ingress-nginx: the nginx.ingress.kubernetes.io/denylist-source-range "
                "annotation on the Ingress), where the client address is still known")


def expiry(params: t.Mapping[str, t.Any], now_ns: int) -> t.Tuple[t.Optional[int], t.List[str]]:
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


def state_errors(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """What state=present needs (an expiry and a reason) and what only it accepts."""
    if params["state"] != "present":
        if params["expires_in"] is not None or params["expires_at"] is not None:
            return ["expires_in, expires_at: only with state=present"]
        return []
    errors: t.List[str] = []
    if params["expires_in"] is None and params["expires_at"] is None:
        errors.append("expires_in or expires_at: required with state=present; a block must expire (for example expires_in: 24h)")
    if not (params["reason"] or "").strip():
        errors.append("reason: required with state=present (recorded with the block)")
    return errors


def validate(module: t.Any, inputs: t.Dict[str, t.Any]) -> t.List[str]:
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
    expires_ns, expiry_errors = expiry(params, now_ns)
    errors += expiry_errors + state_errors(params)
    if changes and params["incident_id"]:
        errors += [e for e in [confirm_error(params, module.check_mode, "change the NetworkPolicies of namespace %s"
                                             % params["namespace"])] if e]
    inputs.update(cidrs=cidrs, now_ns=now_ns, expires_ns=expires_ns)
    return errors


def _raw(k8s: K8s, what: str, func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
    """Call the API and return the JSON body as plain data (every field the server sent, none dropped by client models)."""
    resp = k8s.call(what, func, *args, _preload_content=False, **kwargs)
    return json.loads(resp.data)


class Cluster:
    """The API calls of ip_block: the Deployment's pod labels, the namespace's NetworkPolicies, the cluster's pods."""

    def __init__(self, module: t.Any) -> None:
        self.module = module
        self.k8s = K8s(module.params)
        self.net = NetworkingV1Api(self.k8s.api)
        self.ns = self.k8s.namespace

    def pod_labels(self, name: str) -> t.Dict[str, str]:
        self.k8s.ensure_namespace()
        what = "deployment %s/%s" % (self.ns, name)
        try:
            dep = _raw(self.k8s, what, self.k8s.apps.read_namespaced_deployment, name, self.ns)
        except NotFound as exc:
            raise AirlockIncidentError("deployment %s not found in namespace %s (API server %s); set deployment to the Airlock "
                                       "Deployment" % (name, self.ns, self.k8s.host)) from exc
        return ((dep.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}

    def policies(self) -> t.List[Obj]:
        data = _raw(self.k8s, "networkpolicies in %s" % self.ns, self.net.list_namespaced_network_policy, self.ns)
        return sorted(data.get("items") or [], key=lambda p: p["metadata"]["name"])

    def cluster_pods(self) -> t.Tuple[t.Optional[t.Dict[str, t.Dict[str, str]]], t.Optional[t.List[Obj]]]:
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

    def write(self, policy: Obj, body: Obj) -> t.Any:
        name = policy["metadata"]["name"]
        kwargs = {"dry_run": "All"} if self.module.check_mode else {}
        return _raw(self.k8s, "networkpolicy %s/%s" % (self.ns, name), self.net.replace_namespaced_network_policy,
                    name, self.ns, body, **kwargs)


def records_of(policies: t.List[Obj]) -> t.Dict[str, Obj]:
    """The block record of every policy that has one, by policy name (a damaged record fails)."""
    out = {}
    for policy in policies:
        try:
            record = nb.read_record(policy)
        except nb.BlockError as exc:
            raise AirlockIncidentError(str(exc)) from exc
        if record is not None:
            out[policy["metadata"]["name"]] = record
    return out


def check_drift(pairs: t.Iterable[t.Tuple[Obj, t.Optional[Obj]]], result: Obj) -> None:
    """Refuse before any write when a recorded policy was edited by someone else since."""
    for policy, record in pairs:
        if record is None:
            continue
        try:
            nb.check_drift(policy, record)
        except nb.BlockError as exc:
            raise AirlockIncidentError(str(exc), **result) from exc


def apply_policy(cluster: Cluster, policy: Obj, record: t.Optional[Obj], blocks: t.List[Obj], result: Obj, diff: Obj) -> bool:
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


def block_summary(block: Obj, policy: str) -> Obj:
    """The recorded fields of one block and the policy it is recorded on."""
    out = dict((k, block.get(k)) for k in BLOCK_FIELDS)
    out["policy"] = policy
    return out


def remaining(records: t.Mapping[str, t.Optional[Obj]]) -> t.List[Obj]:
    """Every block of ``records``, by policy name."""
    out = []
    for name in sorted(records):
        for block in (records[name] or {}).get("blocks") or []:
            out.append(block_summary(block, name))
    return out


def expired(block: Obj, now_ns: int) -> bool:
    """True when the block's expires_at is at or before ``now_ns`` (False when it is unreadable)."""
    try:
        return parse_rfc3339_ns(block["expires_at"]) <= now_ns
    except (DurationError, KeyError, TypeError, AttributeError):
        return False


def block_status(check_mode: bool, namespace: str, cidr: str, selecting: bool, adm_before: t.List[Obj], adm_after: t.List[Obj],
                 recorded: bool, was_recorded: bool, selector_entries: t.List[Obj]) -> t.Tuple[str, bool, str]:
    """``(status, effective, message)`` of one CIDR after the run."""
    if not selecting:
        status, effective = "not_isolated", False
        message = ("no NetworkPolicy in %s selects the Airlock pods for ingress, so every source is admitted and there is "
                   "no rule to narrow; nothing was changed (ip_block does not create policies); %s" % (namespace, INGRESS_HINT))
    elif adm_after:
        status, effective = "not_blocked", False
        message = "%s is still admitted by %s" % (cidr, "; ".join("%s %s" % (a["policy"], a["detail"]) for a in adm_after))
    elif recorded and adm_before:
        status, effective = "blocked", True
        message = "%s %s no longer admitted by address: %s" % (
            cidr, "would be" if check_mode else "is", "; ".join("%s %s" % (a["policy"], a["detail"]) for a in adm_before))
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


def planned_blocks(params: t.Mapping[str, t.Any], record: t.Optional[Obj], original: t.Optional[t.List[Obj]], cidrs: t.List[str],
                   now_ns: int, expires_ns: int) -> t.List[Obj]:
    """The blocks of one policy after adding ``cidrs`` for the incident (a rerun keeps the recorded block)."""
    incident = params["incident_id"]
    blocks = [dict(b) for b in (record or {}).get("blocks", [])]
    for cidr in cidrs:
        mine = [b for b in blocks if b["cidr"] == cidr and b["incident_id"] == incident]
        if mine:
            # expires_at moves the expiry; expires_in renews only a block that has run out (a rerun
            # with the same expires_in must not extend it on every run).
            if mine[0]["expires_at"] != format_ns(expires_ns, "s") and (params["expires_at"] is not None or expired(mine[0], now_ns)):
                mine[0]["expires_at"] = format_ns(expires_ns, "s")
            continue
        if not nb.relevant(original, cidr):
            continue
        blocks.append(dict(cidr=cidr, incident_id=incident, reason=params["reason"], added_at=format_ns(now_ns, "s"),
                           expires_at=format_ns(expires_ns, "s")))
    return blocks


def present(module: t.Any, cluster: Cluster, cidrs: t.List[str], now_ns: int, expires_ns: int, result: Obj, diff: Obj) -> None:
    """state=present: block ``cidrs`` on every selecting policy and report, per CIDR, what admits it."""
    params = module.params
    labels = cluster.pod_labels(params["deployment"])
    policies = cluster.policies()
    records = records_of(policies)
    selecting = [p for p in policies if nb.policy_selects(p, labels)]
    result["selecting_policies"] = [p["metadata"]["name"] for p in selecting]
    result["expires_at"] = format_ns(expires_ns, "s")
    new_records: t.Dict[str, t.Optional[Obj]] = dict(records)
    before_ingress = dict((p["metadata"]["name"], (p.get("spec") or {}).get("ingress")) for p in selecting)
    after_ingress = dict(before_ingress)
    check_drift([(p, records.get(p["metadata"]["name"])) for p in selecting], result)
    for policy in selecting:
        name = policy["metadata"]["name"]
        record = records.get(name)
        original = record["original_ingress"] if record else (policy.get("spec") or {}).get("ingress")
        blocks = planned_blocks(params, record, original, cidrs, now_ns, expires_ns)
        if apply_policy(cluster, policy, record, blocks, result, diff):
            result["changed"] = True
        ingress, new_record, dummy = nb.plan(policy, record, blocks)
        after_ingress[name] = ingress
        new_records[name] = new_record
    result["remaining"] = remaining(dict((k, v) for k, v in new_records.items() if v))

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
        not_blockable: t.List[Obj] = []
        selector_entries = []
        for peer in sel_peers:
            entry = dict((k, peer[k]) for k in ("policy", "rule", "peer", "kind", "detail", "ports"))
            if pods is not None and namespaces is not None:
                entry["pods_in_cidr"] = nb.pods_admitted(peer, namespaces, pods, net)
                not_blockable.extend(dict(p, cidr=cidr) for p in entry["pods_in_cidr"])
            selector_entries.append(entry)
        recorded = any(b["cidr"] == cidr for rec in new_records.values() if rec for b in rec["blocks"])
        was_recorded = any(b["cidr"] == cidr for rec in records.values() if rec for b in rec["blocks"])
        status, effective, message = block_status(module.check_mode, cluster.ns, cidr, bool(selecting), adm_before, adm_after,
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


def remove(module: t.Any, cluster: Cluster, cidrs: t.List[str], now_ns: int, result: Obj, diff: Obj) -> None:
    """state=absent and state=expired: remove the matching recorded blocks."""
    params = module.params
    state = params["state"]
    incident = params["incident_id"]
    policies = cluster.policies()
    records = records_of(policies)
    by_name = dict((p["metadata"]["name"], p) for p in policies)
    new_records: t.Dict[str, t.Optional[Obj]] = {}
    result["removed"] = []
    plans = []
    for name in sorted(records):
        record = records[name]
        keep: t.List[Obj] = []
        gone: t.List[Obj] = []
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
    check_drift([(by_name[name], record) for name, record, keep, gone in plans if gone], result)
    for name, record, keep, gone in plans:
        new_records[name] = record
        if not gone:
            continue
        if apply_policy(cluster, by_name[name], record, keep, result, diff):
            result["changed"] = True
        new_records[name] = dict(record, blocks=keep) if keep else None
        result["removed"].extend(block_summary(b, name) for b in gone)
    result["remaining"] = remaining(dict((k, v) for k, v in new_records.items() if v))
    if state == "absent":
        removed = set(r["cidr"] for r in result["removed"])
        for cidr in cidrs:
            others = [r for r in result["remaining"] if r["cidr"] == cidr]
            if others:
                holders = ", ".join("%s (until %s)" % (o["incident_id"], o["expires_at"]) for o in others)
                module.warn("%s stays blocked on %s by %s" % (cidr, ", ".join(sorted(set(o["policy"] for o in others))), holders))
            elif cidr not in removed:
                module.warn("no block of %s is recorded for incident %s in namespace %s" % (cidr, incident, cluster.ns))


def run(module: t.Any, cidrs: t.List[str], now_ns: int, expires_ns: t.Optional[int]) -> Obj:
    """The module's work after :func:`validate`: the result of state=present, absent or expired."""
    params = module.params
    cluster = Cluster(module)
    result = dict(changed=False, namespace=cluster.ns, state=params["state"], cidrs=cidrs, now=format_ns(now_ns, "s"),
                  policies=[], blocks=[])
    diff: Obj = dict(before={}, after={})
    if params["state"] == "present":
        present(module, cluster, cidrs, now_ns, t.cast(int, expires_ns), result, diff)
    else:
        result.pop("blocks")
        remove(module, cluster, cidrs, now_ns, result, diff)
    if result["changed"]:
        result["diff"] = diff
    result["msg"] = sentence(module.check_mode, result)
    return result


def sentence(check_mode: bool, result: Obj) -> str:
    """The ``msg`` of a run."""
    names = ", ".join(p["name"] for p in result["policies"])
    if result["changed"] and check_mode:
        return "would change NetworkPolicies %s (server-side dry run; nothing stored)" % names
    head = "changed NetworkPolicies %s" % names if result["changed"] else "no NetworkPolicy changed"
    statuses = "; ".join("%s: %s" % (b["cidr"], b["status"]) for b in result.get("blocks") or [])
    return "%s; %s" % (head, statuses) if statuses else head
