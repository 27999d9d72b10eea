# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Blocking source CIDRs by editing the NetworkPolicies that admit them (pure logic).

NetworkPolicies are allow-lists and they add up: a pod selected by several
policies admits the union of what they admit. A new "allow everything except
X" policy would therefore widen access. A block has to narrow the rules that
admit the traffic:

* an ``ipBlock`` peer whose ``cidr`` strictly contains the blocked CIDR gets
  it in ``except`` (the API requires every except to be a strict subset);
* an ``ipBlock`` peer that lies entirely inside the blocked CIDR is removed
  (an except cannot cover the whole cidr); a rule left without peers is
  removed, because a rule with an empty ``from`` admits every source;
* a rule without ``from`` (every source) becomes ``from: [ipBlock 0.0.0.0/0
  except ..., ipBlock ::/0 except ..., namespaceSelector {}]``: every address
  but the blocked ones, plus every pod of every namespace as before;
* ``namespaceSelector`` / ``podSelector`` peers cannot be narrowed by address;
  the module reports the pods they admit from the blocked CIDR.

Reversibility: the first block on a policy records the policy's
``spec.ingress`` as it was (``original_ingress``) in the annotation
``airlock.incident/ip-blocks`` together with every block (CIDR, incident,
reason, added_at, expires_at and the exact edits it makes). The ingress the
module writes is always ``apply_blocks(original_ingress, active CIDRs)``, so
removing a block recomputes the rules from the original and removing the last
one restores the original exactly. A policy whose ingress no longer equals
that computation was edited by someone else; the module refuses to touch it.

No client calls here: everything works on plain dicts (camelCase keys).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import selector_matches

ANNOTATION = "airlock.incident/ip-blocks"
RECORD_VERSION = 1
ALL_V4 = "0.0.0.0/0"
ALL_V6 = "::/0"

Obj = t.Dict[str, t.Any]
#: An ipaddress.IPv4Network or IPv6Network; the two families are compared only after a version check.
Net = t.Any


class BlockError(InputError):
    """Input or recorded state the module cannot work with."""


# ---------------------------------------------------------------- CIDRs

def normalise_cidr(value: t.Any) -> str:
    """``"203.0.113.7"`` -> ``"203.0.113.7/32"``; ``"2001:DB8::/32"`` -> ``"2001:db8::/32"``.

    Refuses host bits (``10.0.0.5/24`` is ambiguous: one address or the
    network?) and ``/0`` (that is not blocking an address, it is a shutdown).
    """
    if not isinstance(value, str) or not value.strip():
        raise BlockError("%r is not an IPv4/IPv6 address or CIDR" % (value,))
    text = value.strip()
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise BlockError("%r is not an IPv4/IPv6 address or CIDR (%s)" % (value, exc)) from exc
        raise BlockError("%r has host bits set; use the network %s or the single address %s/%d"
                         % (value, loose, text.split("/")[0], loose.max_prefixlen)) from exc
    if net.prefixlen == 0:
        raise BlockError("%r covers every address; block a narrower CIDR" % (value,))
    return str(net)


def normalise_cidrs(values: t.Any) -> t.Tuple[t.List[str], t.List[str]]:
    """Normalised, de-duplicated CIDRs in input order, and the list of error messages."""
    out: t.List[str] = []
    errors: t.List[str] = []
    if not isinstance(values, list):
        return out, ["%r is not a list" % (values,)]
    for value in values:
        try:
            cidr = normalise_cidr(value)
        except BlockError as exc:
            errors.append(str(exc))
            continue
        if cidr not in out:
            out.append(cidr)
    return out, errors


def _net(text: str) -> Net:
    """An ip_network from a CIDR the API server accepted (host bits tolerated, as the server does)."""
    return ipaddress.ip_network(text, strict=False)


def _sort_key(net: Net) -> t.Tuple[int, int, int]:
    return (net.version, int(net.network_address), net.prefixlen)


def strict_subnet(inner: Net, outer: Net) -> bool:
    """True when ``inner`` is inside ``outer`` and smaller (same family)."""
    return inner.version == outer.version and inner.subnet_of(outer) and inner.prefixlen > outer.prefixlen


def covered(net: Net, nets: t.Iterable[Net]) -> bool:
    """True when every address of ``net`` is in the union of ``nets``."""
    rest = [net]
    for other in nets:
        if other.version != net.version:
            continue
        remaining: t.List[Net] = []
        for part in rest:
            if part.subnet_of(other):
                continue
            if other.subnet_of(part):
                remaining.extend(part.address_exclude(other))
            else:
                remaining.append(part)
        rest = remaining
        if not rest:
            return True
    return not rest


def collapse(nets: t.Iterable[Net]) -> t.List[Net]:
    """Drop every network that lies inside another one of the list; sorted, de-duplicated."""
    uniq = sorted(set(nets), key=_sort_key)
    return [n for n in uniq if not any(o != n and o.version == n.version and n.subnet_of(o) for o in uniq)]


# ---------------------------------------------------------------- selectors
# (selector_matches comes from k8s.objects)

def selector_text(selector: Obj) -> str:
    """``{matchLabels: {name: x}}`` -> ``"name=x"``; ``{}`` -> ``"(all)"``."""
    parts = ["%s=%s" % (k, v) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        parts.append("%s %s (%s)" % (expr.get("key"), expr.get("operator"), ",".join(expr.get("values") or [])))
    return ",".join(parts) if parts else "(all)"


def ingress_applies(policy: Obj) -> bool:
    """True when the policy governs ingress (policyTypes contains Ingress; the server defaults it)."""
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if not types:
        return True
    return "Ingress" in types


def policy_selects(policy: Obj, pod_labels: t.Optional[t.Mapping[str, str]]) -> bool:
    """True when the policy's podSelector selects pods with ``pod_labels`` and it governs ingress."""
    spec = policy.get("spec") or {}
    return ingress_applies(policy) and selector_matches(spec.get("podSelector") or {}, pod_labels)


# ---------------------------------------------------------------- what admits a CIDR

def peer_admits(peer: Obj, net: Net) -> bool:
    """True when an ipBlock peer admits at least one address of ``net``."""
    ipb = peer.get("ipBlock")
    if not ipb:
        return False
    cidr = _net(ipb["cidr"])
    if cidr.version != net.version or not cidr.overlaps(net):
        return False
    part = net if net.subnet_of(cidr) else cidr
    return not covered(part, [_net(e) for e in ipb.get("except") or []])


def admitted_by_ip(policy_name: str, ingress: t.Optional[t.List[Obj]], net: Net) -> t.List[Obj]:
    """Rules and peers of one policy's ingress that admit addresses of ``net`` by address."""
    out = []
    for i, rule in enumerate(ingress or []):
        peers = rule.get("from")
        if not peers:
            out.append(dict(policy=policy_name, rule=i, peer=None, kind="all_sources",
                            detail="rule %d has no 'from': it admits every source" % i, ports=rule.get("ports")))
            continue
        for j, peer in enumerate(peers):
            if peer_admits(peer, net):
                ipb = peer["ipBlock"]
                detail = "rule %d peer %d ipBlock %s" % (i, j, ipb["cidr"])
                if ipb.get("except"):
                    detail += " except %s" % ",".join(ipb["except"])
                out.append(dict(policy=policy_name, rule=i, peer=j, kind="ip_block", detail=detail, ports=rule.get("ports")))
    return out


def selector_peers(policy_name: str, policy_namespace: str, ingress: t.Optional[t.List[Obj]]) -> t.List[Obj]:
    """Peers that admit pods by label (cannot be narrowed by address)."""
    out = []
    for i, rule in enumerate(ingress or []):
        for j, peer in enumerate(rule.get("from") or []):
            if "ipBlock" in peer:
                continue
            ns_sel = peer.get("namespaceSelector")
            pod_sel = peer.get("podSelector")
            parts = []
            if ns_sel is not None:
                parts.append("namespaceSelector %s" % selector_text(ns_sel))
            if pod_sel is not None:
                parts.append("podSelector %s" % selector_text(pod_sel))
            out.append(dict(policy=policy_name, rule=i, peer=j, kind="selector", namespace_selector=ns_sel,
                            pod_selector=pod_sel, policy_namespace=policy_namespace,
                            detail="rule %d peer %d %s" % (i, j, " + ".join(parts)), ports=rule.get("ports")))
    return out


def pods_admitted(peer: Obj, namespaces: t.Mapping[str, t.Mapping[str, str]], pods: t.List[Obj], net: Net) -> t.List[Obj]:
    """Pods a selector peer admits whose IPs are in ``net``.

    ``namespaces``: {name: labels}; ``pods``: plain pod dicts. A peer with only a
    podSelector selects pods of the policy's own namespace; one with a
    namespaceSelector selects pods of the matching namespaces (all of their
    pods, or those matching its podSelector).
    """
    out = []
    ns_sel, pod_sel = peer["namespace_selector"], peer["pod_selector"]
    for pod in pods:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            continue
        namespace = meta.get("namespace") or ""
        if ns_sel is not None:
            if namespace not in namespaces or not selector_matches(ns_sel, namespaces[namespace]):
                continue
        elif namespace != peer["policy_namespace"]:
            continue
        if pod_sel is not None and not selector_matches(pod_sel, meta.get("labels")):
            continue
        ips = [p.get("ip") for p in status.get("podIPs") or [] if p.get("ip")] or ([status["podIP"]] if status.get("podIP") else [])
        for ip in ips:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                continue
            if addr.version == net.version and addr in net:
                out.append(dict(namespace=namespace, pod=meta.get("name"), ip=ip,
                                host_network=bool((pod.get("spec") or {}).get("hostNetwork")),
                                policy=peer["policy"], rule=peer["rule"], peer=peer["peer"], admitted_by=peer["detail"]))
    return out


# ---------------------------------------------------------------- rule editing

def apply_blocks(original: t.Optional[t.List[Obj]], cidrs: t.Iterable[str]) -> t.Tuple[t.Optional[t.List[Obj]], t.List[Obj]]:
    """The ingress rules ``original`` narrowed so that no rule admits ``cidrs`` by address.

    Returns ``(ingress, changes)``. ``original`` is never modified; ``None``
    (no ingress field) stays ``None``. ``changes`` lists every edit with the
    CIDR that caused it: ``except_added``, ``peer_removed``, ``rule_narrowed``,
    ``rule_removed``. Rule and peer numbers refer to ``original``.
    """
    nets = collapse([_net(c) for c in cidrs])
    if original is None:
        return None, []
    ingress: t.List[Obj] = []
    changes: t.List[Obj] = []
    for i, rule in enumerate(original):
        peers = rule.get("from")
        new_rule = copy.deepcopy(rule)
        if not peers:
            if nets:
                new_from = []
                for family, everything in ((4, ALL_V4), (6, ALL_V6)):
                    excepts = [str(n) for n in nets if n.version == family]
                    ipb: Obj = {"cidr": everything}
                    if excepts:
                        ipb["except"] = excepts
                    new_from.append({"ipBlock": ipb})
                new_from.append({"namespaceSelector": {}})
                new_rule["from"] = new_from
                for n in nets:
                    changes.append(dict(cidr=str(n), action="rule_narrowed", rule=i,
                                        detail="rule %d admitted every source; now ipBlock %s/%s except the blocked CIDRs, "
                                               "plus namespaceSelector {} (every pod, as before)" % (i, ALL_V4, ALL_V6)))
            ingress.append(new_rule)
            continue
        new_peers = []
        for j, peer in enumerate(peers):
            ipb = peer.get("ipBlock")
            if not ipb:
                new_peers.append(copy.deepcopy(peer))
                continue
            cidr = _net(ipb["cidr"])
            inside = [n for n in nets if n.version == cidr.version and cidr.subnet_of(n)]
            if inside:
                changes.append(dict(cidr=str(inside[0]), action="peer_removed", rule=i, peer=j, removed=copy.deepcopy(peer),
                                    detail="rule %d peer %d ipBlock %s lies inside %s and is removed" % (i, j, ipb["cidr"], inside[0])))
                continue
            existing = [_net(e) for e in ipb.get("except") or []]
            added = [n for n in nets if strict_subnet(n, cidr) and not covered(n, existing)]
            new_peer = copy.deepcopy(peer)
            if added:
                new_peer["ipBlock"]["except"] = list(ipb.get("except") or []) + [str(n) for n in added]
                for n in added:
                    changes.append({"cidr": str(n), "action": "except_added", "rule": i, "peer": j, "except": str(n),
                                    "detail": "rule %d peer %d ipBlock %s: except %s added" % (i, j, ipb["cidr"], n)})
            new_peers.append(new_peer)
        if not new_peers:
            changes.append(dict(cidr=None, action="rule_removed", rule=i, removed=copy.deepcopy(rule),
                                detail="rule %d is removed: every peer was inside a blocked CIDR and an empty 'from' "
                                       "would admit every source" % i))
            continue
        new_rule["from"] = new_peers
        ingress.append(new_rule)
    return ingress, changes


def canonical(value: t.Any) -> t.Any:
    """Value with None and empty lists dropped (the API server treats them as absent); ``{}`` is kept."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = canonical(item)
            if item is None or item == []:
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def same_ingress(left: t.Any, right: t.Any) -> bool:
    """True when two ingress lists mean the same to the API server."""
    return json.dumps(canonical({"i": left}), sort_keys=True) == json.dumps(canonical({"i": right}), sort_keys=True)


# ---------------------------------------------------------------- the record

def read_record(policy: Obj) -> t.Optional[Obj]:
    """The ip-blocks record of a policy, or None. Raises BlockError when the annotation is unusable."""
    meta = policy.get("metadata") or {}
    text = (meta.get("annotations") or {}).get(ANNOTATION)
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise BlockError("NetworkPolicy %s: annotation %s is not JSON (%s)" % (meta.get("name"), ANNOTATION, exc)) from exc
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION or not isinstance(record.get("blocks"), list) \
            or "original_ingress" not in record:
        raise BlockError("NetworkPolicy %s: annotation %s is not a version %d ip-blocks record"
                         % (meta.get("name"), ANNOTATION, RECORD_VERSION))
    return record


def record_text(record: Obj) -> str:
    """Compact, stable JSON for the annotation."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def check_drift(policy: Obj, record: Obj) -> None:
    """Raise BlockError when the policy's ingress is not what the recorded blocks produce."""
    expected, dummy = apply_blocks(record["original_ingress"], [b["cidr"] for b in record["blocks"]])
    current = (policy.get("spec") or {}).get("ingress")
    if not same_ingress(current, expected):
        name = (policy.get("metadata") or {}).get("name")
        raise BlockError(
            "NetworkPolicy %s was changed after airlock.incident.k8s_ip_block last edited it: its spec.ingress is not the "
            "recorded original with the recorded blocks applied (%s), so the module will not edit it (it would undo "
            "that change). Review the policy, re-apply the blocks you still need by hand or remove the annotation %s "
            "to start over" % (name, ", ".join(b["cidr"] for b in record["blocks"]) or "none", ANNOTATION))


def _attributed(changes: t.List[Obj], cidr: str) -> t.List[Obj]:
    return [dict((k, v) for k, v in c.items() if k not in ("cidr",)) for c in changes if c.get("cidr") == cidr]


def plan(policy: Obj, record: t.Optional[Obj], blocks: t.List[Obj]) -> t.Tuple[t.Optional[t.List[Obj]], t.Optional[Obj], t.List[Obj]]:
    """New spec.ingress and record of a policy for the list of ``blocks`` that should be active.

    Returns ``(ingress, record_or_None, changes)``: with no block left the
    ingress is the recorded original (exactly) and the record is None (the
    annotation goes away).
    """
    current = (policy.get("spec") or {}).get("ingress")
    original = record["original_ingress"] if record else copy.deepcopy(current)
    if not blocks:
        return copy.deepcopy(original), None, []
    ingress, changes = apply_blocks(original, [b["cidr"] for b in blocks])
    new_blocks = []
    for block in blocks:
        block = dict(block)
        block["changes"] = _attributed(changes, block["cidr"])
        new_blocks.append(block)
    removed_rules = [c for c in changes if c["action"] == "rule_removed"]
    new_record = dict(version=RECORD_VERSION, original_ingress=original, blocks=new_blocks, rules_removed=removed_rules)
    return ingress, new_record, changes


def with_ingress(policy: Obj, ingress: t.Optional[t.List[Obj]], record: t.Optional[Obj]) -> Obj:
    """A copy of ``policy`` for a PUT: new spec.ingress, the record annotation set or removed, no managedFields."""
    body = copy.deepcopy(policy)
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    meta.pop("managedFields", None)
    spec = body.setdefault("spec", {})
    if ingress is None:
        spec.pop("ingress", None)
    else:
        spec["ingress"] = ingress
    annotations = dict(meta.get("annotations") or {})
    if record is None:
        annotations.pop(ANNOTATION, None)
    else:
        annotations[ANNOTATION] = record_text(record)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return body


def relevant(original: t.Optional[t.List[Obj]], cidr: str) -> bool:
    """True when blocking ``cidr`` alone changes ``original`` (some rule admits it by address)."""
    dummy, changes = apply_blocks(original, [cidr])
    return bool(changes)
