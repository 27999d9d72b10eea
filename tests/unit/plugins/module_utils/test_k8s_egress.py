# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Egress from the Airlock pods computed from NetworkPolicies."""

from __future__ import annotations

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s import egress

LABELS = {"app.kubernetes.io/name": "airlock", "app.kubernetes.io/instance": "airlock"}
SELECTOR = {"matchLabels": {"app.kubernetes.io/name": "airlock"}}


def _policy(name, egress_rules, types=("Ingress", "Egress"), selector=None):
    spec = {"podSelector": SELECTOR if selector is None else selector, "policyTypes": list(types)}
    if egress_rules is not None:
        spec["egress"] = egress_rules
    return {"metadata": {"name": name}, "spec": spec}


#: The chart's policy: egress 443 to anywhere and DNS.
CHART = _policy("airlock", [{"ports": [{"protocol": "TCP", "port": 443}]},
                            {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}])
DNS_ONLY = _policy("airlock", [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}])


def test_the_charts_policy_allows_an_https_idp():
    check = egress.evaluate([CHART], LABELS, "203.0.113.7", 443)
    assert check["allowed"] and check["allowed_by"] == ["airlock rule 0"] and check["policies"] == ["airlock"]


def test_the_charts_policy_blocks_an_idp_on_another_port():
    check = egress.evaluate([CHART], LABELS, "203.0.113.7", 8443)
    assert not check["allowed"] and "BLOCKED" in check["reason"] and "restricted by airlock" in check["reason"]


def test_a_dns_only_policy_blocks_the_idp():
    assert not egress.evaluate([DNS_ONLY], LABELS, "203.0.113.7", 443)["allowed"]


def test_policies_add_up():
    extra = _policy("airlock-idp", [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
                                     "ports": [{"port": 8443}]}], types=("Egress",))
    check = egress.evaluate([DNS_ONLY, extra], LABELS, "203.0.113.7", 8443)
    assert check["allowed"] and check["allowed_by"] == ["airlock-idp rule 0"]


def test_no_egress_policy_means_unrestricted():
    ingress_only = _policy("ingress", None, types=("Ingress",))
    check = egress.evaluate([ingress_only], LABELS, "203.0.113.7", 8443)
    assert check["allowed"] and check["policies"] == [] and "no NetworkPolicy restricts egress" in check["reason"]


def test_a_policy_for_other_pods_does_not_apply():
    other = _policy("other", [], selector={"matchLabels": {"app": "db"}})
    assert egress.evaluate([other], LABELS, "203.0.113.7", 443)["allowed"]


def test_an_empty_egress_list_denies_everything():
    check = egress.evaluate([_policy("deny-all", [], types=("Egress",))], LABELS, "203.0.113.7", 443)
    assert not check["allowed"] and check["policies"] == ["deny-all"]


def test_no_policy_types_with_an_egress_key_governs_egress():
    policy = {"metadata": {"name": "implicit"}, "spec": {"podSelector": {}, "egress": []}}
    assert not egress.evaluate([policy], LABELS, "203.0.113.7", 443)["allowed"]


def test_an_except_excludes_the_idp():
    policy = _policy("p", [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.0/28"]}}]}])
    check = egress.evaluate([policy], LABELS, "203.0.113.7", 443)
    assert not check["allowed"] and "p rule 0: ipBlock 203.0.113.0/24 excepts 203.0.113.0/28" in check["notes"]


def test_selector_peers_and_named_ports_never_allow_an_outside_address():
    policy = _policy("p", [{"to": [{"namespaceSelector": {}}]}, {"ports": [{"port": "https"}]}])
    check = egress.evaluate([policy], LABELS, "203.0.113.7", 443)
    assert not check["allowed"]
    assert any("select pods" in note for note in check["notes"]) and any("named port" in note for note in check["notes"])


@pytest.mark.parametrize("port,allowed", [(8000, True), (8999, True), (9000, False), (7999, False)])
def test_port_ranges(port, allowed):
    policy = _policy("p", [{"ports": [{"port": 8000, "endPort": 8999}]}])
    assert egress.evaluate([policy], LABELS, "10.0.0.1", port)["allowed"] is allowed


def test_the_protocol_must_match():
    policy = _policy("p", [{"ports": [{"protocol": "UDP", "port": 443}]}])
    assert not egress.evaluate([policy], LABELS, "10.0.0.1", 443, "TCP")["allowed"]
    assert egress.evaluate([policy], LABELS, "10.0.0.1", 443, "UDP")["allowed"]


def test_ipv6_addresses_only_match_ipv6_blocks():
    policy = _policy("p", [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])
    assert not egress.evaluate([policy], LABELS, "2001:db8::1", 443)["allowed"]


class _Cluster:
    ns = "airlock-system"

    def __init__(self, policies):
        self._policies = policies

    def pod_labels(self, name):
        return LABELS

    def policies(self):
        return self._policies


def _params(**extra):
    params = dict(namespace="airlock-system", request_timeout=10.0, deployment="airlock",
                  destinations=[{"host": "127.0.0.1", "port": 8443, "protocol": "TCP", "addresses": None}])
    params.update(extra)
    return params


def test_run_names_what_blocks_the_idp():
    result = egress.run(_Cluster([CHART]), _params())
    assert not result["allowed"] and len(result["blocked"]) == 1
    assert "BLOCKED" in result["msg"] and "(127.0.0.1)" in result["msg"]


def test_run_uses_given_addresses():
    dest = [{"host": "idp.example.com", "port": 443, "protocol": "TCP", "addresses": ["203.0.113.7", "2001:db8::7"]}]
    result = egress.run(_Cluster([CHART]), _params(destinations=dest))
    assert [c["address"] for c in result["checks"]] == ["203.0.113.7", "2001:db8::7"] and result["allowed"]


def test_an_unresolvable_host_says_what_to_give():
    dest = [{"host": "no-such-host.invalid", "port": 443, "protocol": "TCP", "addresses": None}]
    with pytest.raises(AirlockIncidentError, match="give destinations"):
        egress.run(_Cluster([CHART]), _params(destinations=dest))


@pytest.mark.parametrize("dest,fragment", [
    ({"host": "", "port": 443}, "destinations[0]: needs host"),
    ({"host": "idp", "port": 0}, "destinations[0].port: invalid value 0; accepted values: 1 to 65535"),
    ({"host": "idp", "port": 443, "protocol": "ICMP"}, "accepted values: TCP, UDP, SCTP"),
    ({"host": "idp", "port": 443, "addresses": ["idp"]}, "'idp' is not an IP address"),
])
def test_refusals_name_the_field(dest, fragment):
    errors = egress.validate(_params(destinations=[dest]))
    assert any(fragment in error for error in errors), errors


def test_no_destination_is_refused():
    assert "destinations: give at least one {host, port}" in egress.validate(_params(destinations=[]))
