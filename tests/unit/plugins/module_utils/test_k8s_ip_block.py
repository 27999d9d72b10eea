# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The run of k8s_ip_block (module_utils/k8s/ip_block.py) without a cluster: input checks, planned blocks, the
status of a CIDR, and state=present/absent/expired against a fake cluster. The rule maths is in
test_netpol_block.py; the end-to-end behaviour in tests/integration/targets/k8s_ip_block."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core.durations import parse_rfc3339_ns
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s import ip_block
from ansible_collections.airlock.incident.plugins.module_utils.k8s import netpol as nb

AIRLOCK = {"app.kubernetes.io/name": "airlock"}
LB_INGRESS = [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 8080, "protocol": "TCP"}]}]
CHART_INGRESS = [{"from": [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}],
                  "ports": [{"port": 8080, "protocol": "TCP"}]}]
NOW = "2026-11-28T18:00:00Z"
NOW_NS = parse_rfc3339_ns(NOW)
HOUR = 3600 * 10 ** 9


def params(**kw):
    base = dict(namespace="airlock-system", request_timeout=10.0, deployment="airlock", cidrs=["203.0.113.7"], state="present",
                expires_in="24h", expires_at=None, reason="stuffing", now=NOW, incident_id="INC-1", confirm="INC-1", action=None)
    base.update(kw)
    return base


class Module:
    def __init__(self, check_mode=False, **kw):
        self.params = params(**kw)
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def policy(name, ingress, annotations=None):
    meta = {"name": name, "namespace": "airlock-system", "resourceVersion": "7"}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {"podSelector": {"matchLabels": AIRLOCK}, "policyTypes": ["Ingress"],
                                       "ingress": copy.deepcopy(ingress)}}


class Cluster:
    """Stands in for ip_block.Cluster: the policies of one namespace, every write kept."""

    def __init__(self, module, policies, pods=None):
        self.module = module
        self.ns = "airlock-system"
        self.items = policies
        self.pods = pods
        self.writes = []

    def pod_labels(self, name):
        return dict(AIRLOCK)

    def policies(self):
        return self.items

    def cluster_pods(self):
        return ({"ingress-nginx": {"name": "ingress-nginx"}}, self.pods) if self.pods is not None else (None, None)

    def write(self, policy, body):
        self.writes.append(body)
        return body


def result_of(module, cidrs=("203.0.113.7/32",)):
    return dict(changed=False, namespace="airlock-system", state=module.params["state"], cidrs=list(cidrs), now=NOW,
                policies=[], blocks=[])


# ---------------------------------------------------------------- input

@pytest.mark.parametrize("override,fragment", [
    (dict(expires_in="1d"), "expires_in: invalid value '1d'"),
    (dict(expires_in="0s"), "accepted values: a positive Go duration"),
    (dict(expires_in="1h", expires_at="2099-01-01T00:00:00Z"), "give one of them, not both"),
    (dict(expires_in=None, expires_at="2026-11-28T17:00:00Z"), "expires_at: 2026-11-28T17:00:00Z is not in the future (now 2026-11-28T18:00:00Z)"),
    (dict(expires_in=None, expires_at="soon"), "expires_at: "),
])
def test_expiry_refusals(override, fragment):
    expires, errors = ip_block.expiry(params(**override), NOW_NS)
    assert expires is None and len(errors) == 1 and fragment in errors[0]


def test_expiry_from_duration_or_timestamp():
    assert ip_block.expiry(params(expires_in="90m"), NOW_NS) == (NOW_NS + 90 * 60 * 10 ** 9, [])
    assert ip_block.expiry(params(expires_in=None, expires_at="2026-11-29T18:00:00Z"), NOW_NS) == (NOW_NS + 24 * HOUR, [])
    assert ip_block.expiry(params(expires_in=None), NOW_NS) == (None, [])


def test_state_errors():
    assert ip_block.state_errors(params(state="absent")) == ["expires_in, expires_at: only with state=present"]
    assert ip_block.state_errors(params(state="expired", expires_in=None)) == []
    errors = ip_block.state_errors(params(expires_in=None, reason=" "))
    assert errors[0].startswith("expires_in or expires_at: required with state=present")
    assert errors[1] == "reason: required with state=present (recorded with the block)"


def test_validate_fills_the_inputs_and_refuses_everything_at_once():
    inputs = {}
    assert ip_block.validate(Module(cidrs=["203.0.113.7", "198.51.100.0/24"]), inputs) == []
    assert inputs == dict(cidrs=["203.0.113.7/32", "198.51.100.0/24"], now_ns=NOW_NS, expires_ns=NOW_NS + 24 * HOUR)
    errors = ip_block.validate(Module(cidrs=["nope"], deployment="Bad_Name", confirm=None, reason=None), {})
    assert any(e.startswith("deployment: invalid value 'Bad_Name'") for e in errors)
    assert any(e.startswith("cidrs: 'nope' is not an IPv4/IPv6 address") for e in errors)
    assert any(e.startswith("reason: required") for e in errors)
    assert any(e.startswith("confirm: must equal incident_id") for e in errors)
    # Check mode and state=expired need no confirm.
    assert ip_block.validate(Module(check_mode=True, confirm=None), {}) == []
    assert ip_block.validate(Module(state="expired", cidrs=[], incident_id=None, confirm=None, expires_in=None), {}) == []
    errors = ip_block.validate(Module(state="absent", incident_id=None, confirm=None, expires_in=None), {})
    assert errors and errors[0].endswith("(required with state=absent)")


# ---------------------------------------------------------------- pure helpers

def test_planned_blocks_add_keep_renew_and_move():
    exp = NOW_NS + 24 * HOUR
    blocks = ip_block.planned_blocks(params(), None, LB_INGRESS, ["203.0.113.7/32"], NOW_NS, exp)
    assert blocks == [dict(cidr="203.0.113.7/32", incident_id="INC-1", reason="stuffing", added_at=NOW,
                           expires_at="2026-11-29T18:00:00Z")]
    record = dict(blocks=blocks)
    # A rerun with expires_in keeps the recorded expiry ...
    later = ip_block.planned_blocks(params(), record, LB_INGRESS, ["203.0.113.7/32"], NOW_NS + HOUR, exp + HOUR)
    assert later[0]["expires_at"] == "2026-11-29T18:00:00Z" and later[0]["added_at"] == NOW
    # ... unless it has run out; expires_at moves it.
    renewed = ip_block.planned_blocks(params(), record, LB_INGRESS, ["203.0.113.7/32"], exp + HOUR, exp + 25 * HOUR)
    assert renewed[0]["expires_at"] == "2026-11-30T19:00:00Z"
    moved = ip_block.planned_blocks(params(expires_at="2026-12-01T00:00:00Z"), record, LB_INGRESS, ["203.0.113.7/32"],
                                    NOW_NS, parse_rfc3339_ns("2026-12-01T00:00:00Z"))
    assert moved[0]["expires_at"] == "2026-12-01T00:00:00Z"
    assert record["blocks"][0]["expires_at"] == "2026-11-29T18:00:00Z"  # the input record is not changed
    # A CIDR the original rules do not admit by address is not recorded.
    assert ip_block.planned_blocks(params(), None, CHART_INGRESS, ["203.0.113.7/32"], NOW_NS, exp) == []


def test_expired_summary_and_remaining():
    block = dict(cidr="203.0.113.7/32", incident_id="INC-1", reason="r", added_at=NOW, expires_at=NOW, changes=[])
    assert ip_block.expired(block, NOW_NS) and not ip_block.expired(block, NOW_NS - 1)
    assert not ip_block.expired(dict(block, expires_at="bad"), NOW_NS) and not ip_block.expired({}, NOW_NS)
    summary = ip_block.block_summary(block, "lb")
    assert summary == dict(cidr="203.0.113.7/32", incident_id="INC-1", reason="r", added_at=NOW, expires_at=NOW, policy="lb")
    assert ip_block.remaining({"b": dict(blocks=[block]), "a": None, "c": dict(blocks=[])}) == [dict(summary, policy="b")]


@pytest.mark.parametrize("selecting,adm_before,adm_after,recorded,was_recorded,status,effective,fragment", [
    (False, [], [], False, False, "not_isolated", False, "no NetworkPolicy in airlock-system selects the Airlock pods"),
    (True, [], [dict(policy="lb", detail="rule 0")], True, True, "not_blocked", False, "203.0.113.7/32 is still admitted by lb rule 0"),
    (True, [dict(policy="lb", detail="rule 0")], [], True, False, "blocked", True, "203.0.113.7/32 is no longer admitted by address: lb rule 0"),
    (True, [], [], True, True, "already_blocked", True, "203.0.113.7/32 is already blocked by a recorded block"),
    (True, [], [], False, False, "not_admitted_directly", False, "no NetworkPolicy admits 203.0.113.7/32 directly"),
])
def test_block_status(selecting, adm_before, adm_after, recorded, was_recorded, status, effective, fragment):
    got = ip_block.block_status(False, "airlock-system", "203.0.113.7/32", selecting, adm_before, adm_after, recorded,
                                was_recorded, [])
    assert got[:2] == (status, effective) and fragment in got[2]
    if status in ("not_isolated", "not_admitted_directly"):
        assert ip_block.INGRESS_HINT in got[2]


def test_block_status_in_check_mode_says_would_be():
    got = ip_block.block_status(True, "ns", "203.0.113.7/32", True, [dict(policy="lb", detail="rule 0")], [], True, False, [])
    assert got[2] == "203.0.113.7/32 would be no longer admitted by address: lb rule 0"


def test_sentence():
    changed = dict(changed=True, policies=[dict(name="lb")], blocks=[dict(cidr="203.0.113.7/32", status="blocked")])
    assert ip_block.sentence(True, changed) == "would change NetworkPolicies lb (server-side dry run; nothing stored)"
    assert ip_block.sentence(False, changed) == "changed NetworkPolicies lb; 203.0.113.7/32: blocked"
    assert ip_block.sentence(False, dict(changed=False, policies=[])) == "no NetworkPolicy changed"


def test_records_of_refuses_a_damaged_record():
    good = policy("lb", LB_INGRESS)
    assert ip_block.records_of([good]) == {}
    bad = policy("lb", LB_INGRESS, annotations={nb.ANNOTATION: "not json"})
    with pytest.raises(AirlockIncidentError):
        ip_block.records_of([bad])


# ---------------------------------------------------------------- present / remove against a fake cluster

def present(module, policies, pods=None):
    cluster = Cluster(module, policies, pods)
    result = result_of(module)
    diff = dict(before={}, after={})
    ip_block.present(module, cluster, ["203.0.113.7/32"], NOW_NS, NOW_NS + 24 * HOUR, result, diff)
    return cluster, result, diff


def test_present_blocks_then_a_rerun_changes_nothing_and_absent_restores():
    module = Module()
    cluster, result, diff = present(module, [policy("lb", LB_INGRESS)])
    assert result["changed"] is True and result["selecting_policies"] == ["lb"] and result["effective"] is True
    assert result["blocks"][0]["status"] == "blocked" and result["expires_at"] == "2026-11-29T18:00:00Z"
    assert result["remaining"][0]["cidr"] == "203.0.113.7/32" and result["remaining"][0]["policy"] == "lb"
    written = cluster.writes[0]
    assert "203.0.113.7/32" in json.dumps(written["spec"]["ingress"]) and nb.ANNOTATION in written["metadata"]["annotations"]
    assert diff["before"]["lb"]["blocks"] == [] and diff["after"]["lb"]["blocks"] == ["203.0.113.7/32"]
    assert module.warnings == []

    again, result2, dummy = present(Module(), [written])
    assert result2["changed"] is False and again.writes == [] and result2["blocks"][0]["status"] == "already_blocked"

    module = Module(state="absent", expires_in=None)
    cluster = Cluster(module, [written])
    result = result_of(module)
    result.pop("blocks")
    ip_block.remove(module, cluster, ["203.0.113.7/32"], NOW_NS, result, dict(before={}, after={}))
    assert result["changed"] is True and result["removed"][0]["cidr"] == "203.0.113.7/32" and result["remaining"] == []
    assert cluster.writes[0]["spec"]["ingress"] == LB_INGRESS and result["policies"][0]["restored"] is True
    assert nb.ANNOTATION not in (cluster.writes[0]["metadata"].get("annotations") or {})


def test_present_with_only_selector_peers_changes_nothing_and_lists_the_pods():
    pods = [{"metadata": {"name": "ingress-1", "namespace": "ingress-nginx", "labels": {}}, "status": {"podIP": "203.0.113.7"}}]
    module = Module()
    cluster, result, dummy = present(module, [policy("airlock", CHART_INGRESS)], pods)
    assert result["changed"] is False and cluster.writes == [] and result["effective"] is False
    assert result["blocks"][0]["status"] == "not_admitted_directly"
    assert [p["pod"] for p in result["not_blockable"]] == ["ingress-1"]
    assert any("pod ingress-nginx/ingress-1 (203.0.113.7)" in w for w in module.warnings)


def test_present_refuses_a_policy_edited_since_it_was_blocked():
    cluster, result, dummy = present(Module(), [policy("lb", LB_INGRESS)])
    edited = copy.deepcopy(cluster.writes[0])
    edited["spec"]["ingress"][0]["ports"][0]["port"] = 9999
    with pytest.raises(AirlockIncidentError) as err:
        present(Module(), [edited])
    assert "lb" in err.value.msg


def test_a_failed_write_names_the_policies_already_changed():
    class Failing(Cluster):
        def write(self, policy, body):
            raise AirlockIncidentError("HTTP 409")

    module = Module()
    cluster = Failing(module, [policy("lb", LB_INGRESS)])
    result = result_of(module)
    with pytest.raises(AirlockIncidentError) as err:
        ip_block.present(module, cluster, ["203.0.113.7/32"], NOW_NS, NOW_NS + HOUR, result, dict(before={}, after={}))
    assert err.value.msg == "HTTP 409; NetworkPolicies already changed before this failure: none"
    assert err.value.result["changed"] is False


def test_expired_sweep_removes_only_run_out_blocks_and_refuses_a_bad_expiry():
    cluster, dummy, dummy2 = present(Module(), [policy("lb", LB_INGRESS)])
    written = cluster.writes[0]
    sweep = Module(state="expired", cidrs=[], incident_id=None, confirm=None, expires_in=None)
    for now, removed in ((NOW_NS, []), (NOW_NS + 24 * HOUR, ["203.0.113.7/32"])):
        fake = Cluster(sweep, [written])
        result = result_of(sweep, ())
        ip_block.remove(sweep, fake, [], now, result, dict(before={}, after={}))
        assert [r["cidr"] for r in result["removed"]] == removed and result["changed"] is bool(removed)
    record = json.loads(written["metadata"]["annotations"][nb.ANNOTATION])
    record["blocks"][0]["expires_at"] = None
    damaged = copy.deepcopy(written)
    damaged["metadata"]["annotations"][nb.ANNOTATION] = json.dumps(record)
    with pytest.raises(AirlockIncidentError) as err:
        ip_block.remove(sweep, Cluster(sweep, [damaged]), [], NOW_NS, result_of(sweep, ()), dict(before={}, after={}))
    assert err.value.msg == ("NetworkPolicy lb: recorded block 203.0.113.7/32 has no valid expires_at (None); fix or remove "
                             "the annotation airlock.incident/ip-blocks")


def test_absent_warns_about_blocks_of_other_incidents_and_missing_ones():
    cluster, dummy, dummy2 = present(Module(), [policy("lb", LB_INGRESS)])
    module = Module(state="absent", incident_id="INC-2", confirm="INC-2", expires_in=None, cidrs=["203.0.113.7", "192.0.2.1"])
    result = result_of(module)
    ip_block.remove(module, Cluster(module, [cluster.writes[0]]), ["203.0.113.7/32", "192.0.2.1/32"], NOW_NS, result,
                    dict(before={}, after={}))
    assert result["changed"] is False and result["removed"] == []
    assert module.warnings == ["203.0.113.7/32 stays blocked on lb by INC-1 (until 2026-11-29T18:00:00Z)",
                               "no block of 192.0.2.1/32 is recorded for incident INC-2 in namespace airlock-system"]
