# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""May the Airlock pods open a connection to an address? Computed from the NetworkPolicies (the ``k8s_egress_check``
module).

The Airlock image has no shell or curl, so "can the gateway reach its IdP" cannot be tried from inside the pod.
It can be computed: NetworkPolicies are allow-lists that add up. Egress from a pod is unrestricted until at least
one policy that governs egress (``policyTypes`` contains ``Egress``, or no ``policyTypes`` and an ``egress`` key)
selects it; from then on a connection is allowed only when some rule of such a policy allows both the destination
(no ``to``, or an ``ipBlock`` whose ``cidr`` holds the address and no ``except`` does) and the port (no ``ports``,
or an entry with the protocol, the port number or the ``port``..``endPort`` range). ``namespaceSelector`` and
``podSelector`` peers select pods, never addresses outside the cluster; a named port names a port of the
destination pod, so neither allows an external IdP (each is reported).

:func:`evaluate` is pure (plain dicts, camelCase keys); :func:`run` reads the cluster.
"""

from __future__ import annotations

import ipaddress
import socket
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import NotFound, validate_common, validate_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import selector_matches

Obj = t.Dict[str, t.Any]
PROTOCOLS = ("TCP", "UDP", "SCTP")


def egress_applies(policy: Obj) -> bool:
    """True when the policy governs egress."""
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return "Egress" in types
    return "egress" in spec


def _name(policy: Obj) -> str:
    return str((policy.get("metadata") or {}).get("name"))


def port_allows(ports: t.Optional[t.List[Obj]], port: int, protocol: str) -> t.Tuple[bool, t.List[str]]:
    """(allowed, notes) for one rule's ``ports``."""
    if not ports:
        return True, []
    notes = []
    for entry in ports:
        if (entry.get("protocol") or "TCP") != protocol:
            continue
        number = entry.get("port")
        if number is None:
            return True, []
        if isinstance(number, str) and not number.isdigit():
            notes.append("named port %r only matches ports of pods in the cluster" % number)
            continue
        first = int(number)
        last = int(entry.get("endPort") or first)
        if first <= port <= last:
            return True, []
    return False, notes


def peer_allows(peer: Obj, address: t.Any) -> t.Tuple[bool, t.Optional[str]]:
    """(allowed, note) for one ``to`` peer and an address outside the cluster."""
    block = peer.get("ipBlock")
    if not block:
        return False, "selector peers (namespaceSelector/podSelector) select pods, not an address outside the cluster"
    cidr = ipaddress.ip_network(block["cidr"], strict=False)
    if cidr.version != address.version or address not in cidr:
        return False, None
    for excluded in block.get("except") or []:
        net = ipaddress.ip_network(excluded, strict=False)
        if net.version == address.version and address in net:
            return False, "ipBlock %s excepts %s" % (block["cidr"], excluded)
    return True, None


def rule_allows(rule: Obj, address: t.Any, port: int, protocol: str) -> t.Tuple[bool, t.List[str]]:
    """(allowed, notes) for one egress rule."""
    port_ok, notes = port_allows(rule.get("ports"), port, protocol)
    peers = rule.get("to")
    if not peers:
        return port_ok, notes
    peer_ok = False
    for peer in peers:
        allowed, note = peer_allows(peer, address)
        if note:
            notes.append(note)
        peer_ok = peer_ok or allowed
    return port_ok and peer_ok, notes


def _reason(allowed: bool, selecting: t.List[str], by: t.List[str], target: str) -> str:
    if not selecting:
        return "%s: allowed, no NetworkPolicy restricts egress of the Airlock pods" % target
    if allowed:
        return "%s: allowed by %s" % (target, ", ".join(by))
    return "%s: BLOCKED; egress of the Airlock pods is restricted by %s and no rule allows it" % (
        target, ", ".join(selecting))


def evaluate(policies: t.List[Obj], pod_labels: t.Mapping[str, str], address: str, port: int,
             protocol: str = "TCP") -> Obj:
    """Whether pods with ``pod_labels`` may connect to ``address``:``port``, and which policies decide."""
    ip = ipaddress.ip_address(address)
    selecting = [p for p in policies if egress_applies(p)
                 and selector_matches((p.get("spec") or {}).get("podSelector") or {}, pod_labels)]
    by: t.List[str] = []
    notes: t.List[str] = []
    for policy in selecting:
        for index, rule in enumerate((policy.get("spec") or {}).get("egress") or []):
            allowed, rule_notes = rule_allows(rule, ip, port, protocol)
            if allowed:
                by.append("%s rule %d" % (_name(policy), index))
            notes.extend("%s rule %d: %s" % (_name(policy), index, note) for note in rule_notes)
    allowed = not selecting or bool(by)
    target = "%s %s:%d" % (protocol, address, port)
    return {"address": address, "port": port, "protocol": protocol, "allowed": allowed,
            "policies": [_name(p) for p in selecting], "allowed_by": by, "notes": sorted(set(notes)),
            "reason": _reason(allowed, [_name(p) for p in selecting], by, target)}


# ---------------------------------------------------------------- module


def _destination(item: t.Any, index: int) -> Obj:
    field = "destinations[%d]" % index
    if not isinstance(item, dict) or not item.get("host"):
        raise InputError("%s: needs host (a name or an address) and port" % field)
    port = item.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InputError("%s.port: invalid value %r; accepted values: 1 to 65535" % (field, port))
    protocol = item.get("protocol") or "TCP"
    if protocol not in PROTOCOLS:
        raise InputError("%s.protocol: invalid value %r; accepted values: %s" % (field, protocol, ", ".join(PROTOCOLS)))
    addresses = item.get("addresses") or []
    if not isinstance(addresses, list):
        raise InputError("%s.addresses: must be a list of IP addresses" % field)
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError as exc:
            raise InputError("%s.addresses: %r is not an IP address" % (field, address)) from exc
    return {"host": str(item["host"]), "port": port, "protocol": protocol, "addresses": list(addresses)}


def validate(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """Every refusal before any API call or name lookup."""
    errors = [e for e in (validate_common(params), validate_name("deployment", params["deployment"])) if e]
    if not params["destinations"]:
        errors.append("destinations: give at least one {host, port}")
    for index, item in enumerate(params["destinations"] or []):
        try:
            _destination(item, index)
        except InputError as exc:
            errors.append(exc.msg)
    return errors


def resolve(host: str, port: int) -> t.List[str]:
    """The addresses ``host`` resolves to (here, where the module runs), or the address itself."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise AirlockIncidentError("cannot resolve %s: %s; give destinations[].addresses" % (host, exc)) from exc
    return sorted({str(info[4][0]) for info in infos})


def run(cluster: t.Any, params: t.Mapping[str, t.Any]) -> Obj:
    """Read the Deployment's pod labels and the namespace's policies; evaluate every destination address."""
    try:
        labels = cluster.pod_labels(params["deployment"])
    except NotFound as exc:
        raise AirlockIncidentError("deployment %s not found in namespace %s" % (params["deployment"], cluster.ns)) from exc
    policies = cluster.policies()
    checks = []
    for index, item in enumerate(params["destinations"]):
        dest = _destination(item, index)
        for address in dest["addresses"] or resolve(dest["host"], dest["port"]):
            check = evaluate(policies, labels, address, dest["port"], dest["protocol"])
            check["host"] = dest["host"]
            checks.append(check)
    blocked = [c for c in checks if not c["allowed"]]
    msg = ("egress of deployment %s/%s: %s" % (cluster.ns, params["deployment"], "; ".join(
        "%s (%s)" % (c["reason"], c["host"]) for c in (blocked or checks))))
    return {"changed": False, "allowed": not blocked, "namespace": cluster.ns, "deployment": params["deployment"],
            "pod_labels": labels, "checks": checks, "blocked": blocked, "msg": msg}
