# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CIDR maths, rule editing and the block record of ip_block (no cluster).

The end-to-end behaviour against a real API server is in
tests/integration/targets/k8s_ip_block.
"""

from __future__ import annotations

import copy
import ipaddress
import json

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.k8s import netpol as nb

N = ipaddress.ip_network
AIRLOCK = {"app.kubernetes.io/name": "airlock", "app.kubernetes.io/instance": "airlock"}

# The chart's default policy: ingress 8080 only from two labelled namespaces.
CHART_INGRESS = [{"from": [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}},
                           {"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
                  "ports": [{"port": 8080, "protocol": "TCP"}]}]
LB_INGRESS = [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["192.0.2.0/24"]}}],
               "ports": [{"port": 8080, "protocol": "TCP"}]},
              {"from": [{"ipBlock": {"cidr": "198.51.100.7/32"}}], "ports": [{"port": 8080, "protocol": "TCP"}]}]
OPEN_INGRESS = [{"ports": [{"port": 9090, "protocol": "TCP"}]}]


def policy(name, ingress, selector=None, types=None, annotations=None):
    meta = {"name": name, "namespace": "airlock-system", "resourceVersion": "7", "managedFields": [{"manager": "kubectl"}]}
    if annotations:
        meta["annotations"] = annotations
    spec = {"podSelector": {"matchLabels": AIRLOCK} if selector is None else selector, "policyTypes": types or ["Ingress"]}
    if ingress is not None:
        spec["ingress"] = copy.deepcopy(ingress)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": spec}


# ---------------------------------------------------------------- CIDR input

@pytest.mark.parametrize("value,expected", [
    ("203.0.113.7", "203.0.113.7/32"),
    (" 198.51.100.0/24 ", "198.51.100.0/24"),
    ("2001:DB8::1", "2001:db8::1/128"),
    ("2001:db8:0:0::/48", "2001:db8::/48"),
    ("10.0.0.0/8", "10.0.0.0/8"),
])
def test_normalise_cidr(value, expected):
    assert nb.normalise_cidr(value) == expected


@pytest.mark.parametrize("value,fragment", [
    ("10.0.0.5/24", "host bits set; use the network 10.0.0.0/24 or the single address 10.0.0.5/32"),
    ("not-an-ip", "is not an IPv4/IPv6 address or CIDR"),
    ("300.1.1.1", "is not an IPv4/IPv6 address or CIDR"),
    ("0.0.0.0/0", "covers every address"),
    ("::/0", "covers every address"),
    ("", "is not an IPv4/IPv6 address or CIDR"),
    (7, "is not an IPv4/IPv6 address or CIDR"),
])
def test_normalise_cidr_refuses(value, fragment):
    with pytest.raises(nb.BlockError) as err:
        nb.normalise_cidr(value)
    assert fragment in str(err.value)
    assert repr(value) in str(err.value)


def test_normalise_cidrs_dedupes_and_collects_every_error():
    cidrs, errors = nb.normalise_cidrs(["203.0.113.7", "203.0.113.7/32", "bad", "2001:db8::/32", "1.2.3.4/8"])
    assert cidrs == ["203.0.113.7/32", "2001:db8::/32"]
    assert len(errors) == 2 and "'bad'" in errors[0] and "'1.2.3.4/8'" in errors[1]


def test_cidr_maths():
    assert nb.strict_subnet(N("10.1.0.0/16"), N("10.0.0.0/8"))
    assert not nb.strict_subnet(N("10.0.0.0/8"), N("10.0.0.0/8"))
    assert not nb.strict_subnet(N("2001:db8::/32"), N("0.0.0.0/1"))
    assert nb.covered(N("10.0.0.0/24"), [N("10.0.0.0/25"), N("10.0.0.128/25")])
    assert not nb.covered(N("10.0.0.0/24"), [N("10.0.0.0/25")])
    assert not nb.covered(N("10.0.0.0/24"), [N("::/0")])
    assert nb.collapse([N("10.1.0.0/16"), N("10.0.0.0/8"), N("2001:db8::/32"), N("10.0.0.0/8")]) == [N("10.0.0.0/8"), N("2001:db8::/32")]


# ---------------------------------------------------------------- selectors

@pytest.mark.parametrize("selector,labels,expected", [
    ({}, {"a": "1"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "2"}}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}, {"a": "1"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
    (None, {"a": "1"}, False),
])
def test_selector_matches(selector, labels, expected):
    assert nb.selector_matches(selector, labels) is expected


def test_policy_selects_only_ingress_policies_of_the_pods():
    assert nb.policy_selects(policy("a", CHART_INGRESS), AIRLOCK)
    assert not nb.policy_selects(policy("b", CHART_INGRESS, selector={"matchLabels": {"app": "other"}}), AIRLOCK)
    assert not nb.policy_selects(policy("c", None, types=["Egress"]), AIRLOCK)
    assert nb.policy_selects(policy("d", None, selector={}), AIRLOCK)


# ---------------------------------------------------------------- what admits a CIDR

def test_chart_policy_admits_nothing_by_address():
    assert nb.admitted_by_ip("airlock", CHART_INGRESS, N("203.0.113.7/32")) == []
    peers = nb.selector_peers("airlock", "airlock-system", CHART_INGRESS)
    assert [p["detail"] for p in peers] == ["rule 0 peer 0 namespaceSelector name=ingress-nginx",
                                            "rule 0 peer 1 namespaceSelector name=monitoring"]


def test_admitted_by_ip_kinds():
    found = nb.admitted_by_ip("lb", LB_INGRESS, N("198.51.100.0/24"))
    assert [(f["rule"], f["peer"], f["kind"]) for f in found] == [(0, 0, "ip_block"), (1, 0, "ip_block")]
    assert nb.admitted_by_ip("lb", LB_INGRESS, N("192.0.2.8/29")) == []
    assert [f["kind"] for f in nb.admitted_by_ip("open", OPEN_INGRESS, N("2001:db8::/32"))] == ["all_sources"]
    assert nb.admitted_by_ip("lb", LB_INGRESS, N("2001:db8::/32")) == []


def test_pods_admitted_by_selector_peers():
    peers = nb.selector_peers("airlock", "airlock-system", CHART_INGRESS)
    namespaces = {"ingress-nginx": {"name": "ingress-nginx"}, "monitoring": {"name": "monitoring"}, "default": {}}
    pods = [
        {"metadata": {"name": "ctrl", "namespace": "ingress-nginx"}, "status": {"podIP": "10.244.0.9", "podIPs": [{"ip": "10.244.0.9"}]}},
        {"metadata": {"name": "prom", "namespace": "monitoring"}, "status": {"podIP": "10.244.1.3"}},
        {"metadata": {"name": "x", "namespace": "default"}, "status": {"podIP": "10.244.0.10"}},
        {"metadata": {"name": "done", "namespace": "ingress-nginx"}, "status": {"phase": "Succeeded", "podIP": "10.244.0.11"}},
    ]
    hits = [p for peer in peers for p in nb.pods_admitted(peer, namespaces, pods, N("10.244.0.0/24"))]
    assert [(h["namespace"], h["pod"], h["ip"], h["peer"]) for h in hits] == [("ingress-nginx", "ctrl", "10.244.0.9", 0)]
    only_pods = nb.selector_peers("p", "airlock-system", [{"from": [{"podSelector": {"matchLabels": {"app": "x"}}}]}])
    pods2 = [{"metadata": {"name": "a", "namespace": "airlock-system", "labels": {"app": "x"}}, "status": {"podIP": "10.0.0.1"}},
             {"metadata": {"name": "b", "namespace": "other", "labels": {"app": "x"}}, "status": {"podIP": "10.0.0.2"}}]
    assert [h["pod"] for h in nb.pods_admitted(only_pods[0], {}, pods2, N("10.0.0.0/24"))] == ["a"]


# ---------------------------------------------------------------- rule editing

def test_except_added_to_containing_peer_keeping_existing_excepts():
    ingress, changes = nb.apply_blocks(LB_INGRESS, ["203.0.113.0/24"])
    assert ingress[0]["from"][0]["ipBlock"] == {"cidr": "0.0.0.0/0", "except": ["192.0.2.0/24", "203.0.113.0/24"]}
    assert ingress[1] == LB_INGRESS[1]
    assert [(c["action"], c["rule"], c["peer"], c["except"]) for c in changes] == [("except_added", 0, 0, "203.0.113.0/24")]
    assert LB_INGRESS[0]["from"][0]["ipBlock"]["except"] == ["192.0.2.0/24"]  # input untouched


def test_already_excepted_cidr_is_not_added_again():
    ingress, changes = nb.apply_blocks(LB_INGRESS, ["192.0.2.128/25"])
    assert changes == []
    assert ingress == LB_INGRESS


def test_peer_inside_the_block_is_removed_and_an_emptied_rule_goes():
    ingress, changes = nb.apply_blocks(LB_INGRESS, ["198.51.100.0/24"])
    assert len(ingress) == 1
    assert ingress[0]["from"][0]["ipBlock"]["except"] == ["192.0.2.0/24", "198.51.100.0/24"]
    assert [c["action"] for c in changes] == ["except_added", "peer_removed", "rule_removed"]
    assert changes[1]["removed"] == {"ipBlock": {"cidr": "198.51.100.7/32"}}


def test_a_rule_keeps_its_other_peers_when_one_peer_goes():
    rule = [{"from": [{"ipBlock": {"cidr": "198.51.100.7/32"}}, {"namespaceSelector": {}}]}]
    ingress, changes = nb.apply_blocks(rule, ["198.51.100.7/32"])
    assert ingress == [{"from": [{"namespaceSelector": {}}]}]
    assert [c["action"] for c in changes] == ["peer_removed"]


def test_every_source_rule_is_narrowed_for_both_families_and_keeps_pods():
    ingress, changes = nb.apply_blocks(OPEN_INGRESS, ["203.0.113.0/24", "2001:db8::/32"])
    assert ingress == [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["203.0.113.0/24"]}},
                                 {"ipBlock": {"cidr": "::/0", "except": ["2001:db8::/32"]}},
                                 {"namespaceSelector": {}}],
                        "ports": [{"port": 9090, "protocol": "TCP"}]}]
    assert set(c["action"] for c in changes) == {"rule_narrowed"}
    # An empty from list means the same as no from.
    assert nb.apply_blocks([{"from": []}], ["203.0.113.0/24"])[0][0]["from"][1] == {"ipBlock": {"cidr": "::/0"}}


def test_blocks_inside_other_blocks_are_collapsed():
    ingress, dummy = nb.apply_blocks(OPEN_INGRESS, ["10.1.0.0/16", "10.0.0.0/8"])
    assert ingress[0]["from"][0]["ipBlock"]["except"] == ["10.0.0.0/8"]


def test_nothing_to_do_for_the_chart_policy_and_absent_ingress():
    assert nb.apply_blocks(CHART_INGRESS, ["203.0.113.7/32"]) == (CHART_INGRESS, [])
    assert nb.apply_blocks(None, ["203.0.113.7/32"]) == (None, [])
    assert not nb.relevant(CHART_INGRESS, "203.0.113.7/32")
    assert nb.relevant(OPEN_INGRESS, "203.0.113.7/32")


def test_narrowed_rules_no_longer_admit_the_cidr_by_address():
    for original in (LB_INGRESS, OPEN_INGRESS):
        for cidr in ("203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"):
            ingress, dummy = nb.apply_blocks(original, [cidr])
            assert nb.admitted_by_ip("p", ingress, N(cidr)) == []
    # ... and keep admitting everything else.
    ingress, dummy = nb.apply_blocks(OPEN_INGRESS, ["203.0.113.0/24"])
    assert nb.admitted_by_ip("p", ingress, N("203.0.114.1/32"))


def test_every_except_the_api_accepts_is_a_strict_subset():
    ingress, dummy = nb.apply_blocks(LB_INGRESS + OPEN_INGRESS, ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"])
    for rule in ingress:
        for peer in rule.get("from") or []:
            ipb = peer.get("ipBlock")
            for exc in (ipb or {}).get("except") or []:
                assert nb.strict_subnet(N(exc), N(ipb["cidr"]))


# ---------------------------------------------------------------- record and undo

def block(cidr, incident="INC-1", expires="2026-11-29T10:00:00Z"):
    return dict(cidr=cidr, incident_id=incident, reason="r", added_at="2026-11-28T10:00:00Z", expires_at=expires)


def test_plan_records_original_and_undo_restores_exactly():
    pol = policy("lb", LB_INGRESS)
    ingress, record, changes = nb.plan(pol, None, [block("203.0.113.0/24"), block("198.51.100.0/24")])
    assert record["original_ingress"] == LB_INGRESS
    assert [b["cidr"] for b in record["blocks"]] == ["203.0.113.0/24", "198.51.100.0/24"]
    assert [c["action"] for c in record["blocks"][1]["changes"]] == ["except_added", "peer_removed"]
    assert len(record["rules_removed"]) == 1
    body = nb.with_ingress(pol, ingress, record)
    assert "managedFields" not in body["metadata"] and body["metadata"]["resourceVersion"] == "7"
    assert nb.read_record(body) == json.loads(nb.record_text(record))
    nb.check_drift(body, nb.read_record(body))

    # Remove one block: recomputed from the original.
    ingress2, record2, dummy = nb.plan(body, nb.read_record(body), [record["blocks"][0]])
    assert ingress2 == nb.apply_blocks(LB_INGRESS, ["203.0.113.0/24"])[0]
    assert len(ingress2) == 2
    # Remove the last: the original comes back and the annotation goes.
    body2 = nb.with_ingress(body, ingress2, record2)
    ingress3, record3, dummy = nb.plan(body2, nb.read_record(body2), [])
    assert ingress3 == LB_INGRESS and record3 is None
    restored = nb.with_ingress(body2, ingress3, record3)
    assert restored["spec"] == pol["spec"]
    assert "annotations" not in restored["metadata"]


def test_undo_keeps_other_annotations_and_an_absent_ingress_stays_absent():
    pol = policy("x", None, annotations={"team": "sec"})
    ingress, record, changes = nb.plan(pol, None, [block("203.0.113.0/24")])
    assert ingress is None and changes == []
    body = nb.with_ingress(pol, ingress, record)
    back = nb.with_ingress(body, *nb.plan(body, nb.read_record(body), [])[:2])
    assert "ingress" not in back["spec"] and back["metadata"]["annotations"] == {"team": "sec"}


def test_two_incidents_on_one_cidr_share_the_edit_until_both_are_gone():
    pol = policy("open", OPEN_INGRESS)
    ingress, record, dummy = nb.plan(pol, None, [block("203.0.113.0/24", "INC-1"), block("203.0.113.0/24", "INC-2")])
    body = nb.with_ingress(pol, ingress, record)
    ingress2, record2, dummy = nb.plan(body, nb.read_record(body), [record["blocks"][1]])
    assert ingress2 == ingress  # INC-2 still needs the except
    assert [b["incident_id"] for b in record2["blocks"]] == ["INC-2"]


def test_drift_is_detected_and_server_normalisation_is_not_drift():
    pol = policy("lb", LB_INGRESS)
    ingress, record, dummy = nb.plan(pol, None, [block("203.0.113.0/24")])
    body = nb.with_ingress(pol, ingress, record)
    # The server drops empty lists: not a change.
    body["spec"]["ingress"][1]["from"][0]["ipBlock"]["except"] = []
    nb.check_drift(body, nb.read_record(body))
    body["spec"]["ingress"].append({"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]})
    with pytest.raises(nb.BlockError) as err:
        nb.check_drift(body, nb.read_record(body))
    assert "NetworkPolicy lb was changed after airlock.incident.k8s_ip_block last edited it" in str(err.value)


@pytest.mark.parametrize("text,fragment", [
    ("{not json", "is not JSON"),
    ('{"version": 2, "blocks": [], "original_ingress": null}', "is not a version 1 ip-blocks record"),
    ('{"version": 1, "blocks": {}}', "is not a version 1 ip-blocks record"),
])
def test_unusable_records_are_refused(text, fragment):
    with pytest.raises(nb.BlockError) as err:
        nb.read_record(policy("p", None, annotations={nb.ANNOTATION: text}))
    assert fragment in str(err.value)


def test_same_ingress_keeps_empty_selectors_meaningful():
    assert nb.same_ingress([{"from": []}], [{}])
    assert not nb.same_ingress([{"from": [{"namespaceSelector": {}}]}], [{}])
