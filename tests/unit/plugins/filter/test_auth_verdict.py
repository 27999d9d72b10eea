# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.filter.auth_verdict import auth_verdict


def _oidc(*checks):
    return {"findings": [{"check": check, "detail": "%s detail" % check} for check in checks]}


FAILURES = {"summary": {"denials": 600, "per_minute": 60.0, "first_seen": "a", "last_seen": "b"},
            "rows": [{"subject": "", "client_ip": None, "error": "token expired", "attempts": 600}]}


@pytest.mark.parametrize("checks,cause", [
    (("discovery",), "idp_unreachable"),
    (("tls", "discovery"), "idp_unreachable"),
    (("tls",), "idp_certificate"),
    (("certificate", "discovery"), "idp_certificate"),
    (("issuer",), "issuer_mismatch"),
    (("jwks_keys",), "jwks"),
    (("kid",), "jwks_rotated"),
    (("clock",), "clock_skew"),
    (("token",), "client_tokens"),
])
def test_the_idp_is_ruled_out_first(checks, cause):
    verdict = auth_verdict(_oidc(*checks), failures=FAILURES)
    assert verdict["cause"] == cause and "restart" not in verdict["advice"]


def test_a_blocking_egress_policy_is_the_cause_when_the_idp_is_fine():
    egress = {"allowed": False, "blocked": [{"reason": "TCP 10.0.0.1:443: BLOCKED"}]}
    verdict = auth_verdict(_oidc(), egress=egress, failures=FAILURES)
    assert verdict["cause"] == "egress_blocked" and "NetworkPolicy: TCP 10.0.0.1:443: BLOCKED" in verdict["evidence"]


def test_a_gateway_that_cannot_reach_a_healthy_idp():
    verdict = auth_verdict(_oidc(), gateway=_oidc("discovery"))
    assert verdict["cause"] == "gateway_cannot_reach_idp"


def test_a_gateway_failure_is_not_blamed_when_the_idp_is_down_for_everyone():
    verdict = auth_verdict(_oidc("discovery"), gateway=_oidc("discovery"))
    assert verdict["causes"] == ["idp_unreachable"]


def test_many_failures_with_a_healthy_idp_are_a_storm():
    verdict = auth_verdict(_oidc(), failures=FAILURES, log_lines=12)
    assert verdict["cause"] == "auth_storm"
    assert any("600 token_validate denials (60.0/min)" in line for line in verdict["evidence"])
    assert "logs: 12 authentication-failure (401) line(s)" in verdict["evidence"]


def test_a_few_failures_with_a_healthy_idp_are_no_fault():
    failures = {"summary": {"denials": 2, "per_minute": 0.1}, "rows": []}
    verdict = auth_verdict(_oidc(), failures=failures)
    assert verdict["cause"] == "none" and verdict["causes"] == []


def test_bad_input_is_refused():
    with pytest.raises(AnsibleFilterError, match="must be a registered result of airlock.incident.oidc_check"):
        auth_verdict({"msg": "x"})


def test_a_certificate_that_does_not_verify_is_the_cause_not_the_failed_requests():
    verdict = auth_verdict(_oidc("discovery", "certificate", "jwks"))
    assert verdict["causes"] == ["idp_certificate"]
    assert verdict["evidence"][0] == "IdP (from the controller): certificate detail"
    assert "IdP (from the controller): discovery detail" in verdict["evidence"]
    assert "restart" not in verdict["summary"]
