# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.filter.policy_verdict import policy_verdict

OK = {"decisions": [{"name": "user reads", "expected": "allow", "actual": "allow", "ok": True}], "errors": []}
DENY_ALL = {"decisions": [{"name": "user reads", "expected": "allow", "actual": "deny", "ok": False}],
            "errors": ["known request 'user reads': expected allow, got deny"]}
BROKEN = {"decisions": [], "errors": ["policy.rego:4:10: rego_parse_error: this is unclosed"]}
DENIALS = {"summary": {"events": 40, "denials": 40, "per_minute": 4.0},
           "rows": [{"resource": "mcp://docs/README.md", "rule_id": "deny_all", "subject": "alice", "tenant": "acme",
                     "denials": 40}]}


def test_a_policy_that_does_not_compile_is_not_loaded():
    verdict = policy_verdict(BROKEN, deployed_sha256="a")
    assert verdict["cause"] == "not_compiling" and verdict["redeploy"]
    assert "validation: policy.rego:4:10: rego_parse_error: this is unclosed" in verdict["evidence"]


def test_a_deny_all_policy_is_too_strict():
    verdict = policy_verdict(DENY_ALL, deployed_sha256="a", denials=DENIALS)
    assert verdict["cause"] == "too_strict" and verdict["redeploy"]
    assert "known request 'user reads': expected allow, got deny" in verdict["evidence"]
    assert any("40 of 40 policy decisions denied" in line for line in verdict["evidence"])


def test_compile_errors_in_the_logs_mean_not_loaded_even_when_the_file_is_fine():
    verdict = policy_verdict(OK, compile_errors=["Failed to reload policy, keeping the previous policy"])
    assert verdict["cause"] == "not_loaded" and not verdict["redeploy"]


def test_engine_denials_without_a_policy_mean_not_loaded():
    denials = {"summary": {"events": 3, "denials": 3}, "rows": [{"rule_id": "policy_unavailable", "denials": 3}]}
    assert policy_verdict(OK, denials=denials)["cause"] == "not_loaded"


def test_a_missing_policy_is_not_deployed():
    assert policy_verdict({}, deployed=False)["cause"] == "not_deployed"


def test_a_passing_policy_that_is_not_the_intended_one_is_drift():
    verdict = policy_verdict(OK, deployed_sha256="a" * 64, intended_sha256="b" * 64)
    assert verdict["cause"] == "drift" and "deployed sha256 aaaaaaaaaaaaaaaa, intended bbbbbbbbbbbbbbbb" in verdict["evidence"]


def test_the_intended_policy_passing_is_no_fault():
    verdict = policy_verdict(OK, deployed_sha256="a", intended_sha256="a", denials={"summary": {"events": 5}})
    assert verdict["cause"] == "none" and not verdict["redeploy"]
    assert "audit: no policy_evaluate denials in the window (5 decisions)" in verdict["evidence"]


def test_bad_input_is_refused():
    with pytest.raises(AnsibleFilterError, match="registered result of airlock.incident.policy"):
        policy_verdict({"msg": "x"})
