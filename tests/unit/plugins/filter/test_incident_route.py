# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.filter.incident_route import incident_route

ROUTES = {"service_outage": "airlock.incident.outage", "authentication_issues": "airlock.incident.auth_failure",
          "policy_failures": "airlock.incident.policy_failure"}
PLAYBOOKS = {"performance_degradation": "airlock.incident.performance_latency"}


def _verdict(severity, kind):
    return {"incident": severity is not None, "severity": severity, "type": kind,
            "summary": "%s %s: something" % (severity, kind) if severity else "UP: live, ready and MCP answered"}


@pytest.mark.parametrize("severity,kind,role", [
    ("P0", "service_outage", "airlock.incident.outage"),
    ("P1", "authentication_issues", "airlock.incident.auth_failure"),
    ("P1", "policy_failures", "airlock.incident.policy_failure"),
])
def test_each_verdict_goes_to_its_role(severity, kind, role):
    route = incident_route(_verdict(severity, kind), routes=ROUTES, playbooks=PLAYBOOKS)
    assert (route["action"], route["role"], route["type"], route["severity"], route["source"]) == \
        ("respond", role, kind, severity, "triage")


def test_an_unrouted_p2_is_reported_with_the_playbook_to_run():
    route = incident_route(_verdict("P2", "performance_degradation"), routes=ROUTES, playbooks=PLAYBOOKS)
    assert route["action"] == "report" and route["role"] is None
    assert route["type"] == "performance_degradation" and route["severity"] == "P2"
    assert "run airlock.incident.performance_latency" in route["msg"]


def test_adding_one_route_routes_p2():
    routes = dict(ROUTES, performance_degradation="airlock.incident.performance")
    route = incident_route(_verdict("P2", "performance_degradation"), routes=routes, playbooks=PLAYBOOKS)
    assert route["action"] == "respond" and route["role"] == "airlock.incident.performance"


def test_an_unrouted_type_without_a_playbook_still_says_so():
    route = incident_route(_verdict("P1", "data_issues"), routes=ROUTES)
    assert route["action"] == "report" and "no role or playbook is routed" in route["msg"]


def test_nothing_wrong_is_only_reported():
    route = incident_route(_verdict(None, None), routes=ROUTES)
    assert route["action"] == "report" and route["type"] is None and route["msg"].startswith("Nothing to respond to")


def test_an_explicit_type_wins_over_triage():
    route = incident_route(_verdict("P0", "service_outage"), incident_type="policy_failures", routes=ROUTES)
    assert (route["role"], route["type"], route["severity"], route["source"]) == \
        ("airlock.incident.policy_failure", "policy_failures", "P1", "explicit")


def test_an_explicit_type_on_a_healthy_gateway_still_responds():
    route = incident_route(_verdict(None, None), incident_type="authentication_issues", routes=ROUTES)
    assert route["action"] == "respond" and route["role"] == "airlock.incident.auth_failure"


def test_an_explicit_type_that_triage_agrees_with_keeps_its_severity():
    route = incident_route(_verdict("P0", "policy_failures"), incident_type="policy_failures", routes=ROUTES)
    assert route["severity"] == "P0"


@pytest.mark.parametrize("verdict,kwargs,fragment", [
    ("P0", {}, "the input must be the verdict"),
    (_verdict(None, None), {"incident_type": "outage"}, "incident_type must be '' or one of"),
    (_verdict(None, None), {"routes": ["airlock.incident.outage"]}, "routes and playbooks must be mappings"),
    (_verdict(None, None), {"routes": {"p2": "x"}}, "unknown incident types p2"),
])
def test_refusals_name_the_field_and_accepted_values(verdict, kwargs, fragment):
    kwargs.setdefault("routes", ROUTES)
    with pytest.raises(AnsibleFilterError, match=fragment):
        incident_route(verdict, **kwargs)
