# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Policy validation with the real Rego engine (regopy), and agreement with the real ``opa`` CLI.

The ``opa`` binary (v1.22.3, built from github.com/open-policy-agent/opa) is
found through ``AIRLOCK_OPA_BIN``, the path ``make units`` writes to ``tests/unit/opa-bin.path``, or
``~/.cache/airlock-lab/bin/opa-v1.22.3/opa``
(``make test`` installs it there). The agreement tests fail, not skip, when it
is missing: they are the proof that our verdicts are OPA's.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.airlock import rego_engine
from ansible_collections.airlock.incident.plugins.module_utils.airlock.rego import (
    Module,
    check_policy,
    format_error,
    parse_engine_error,
    static_check,
    summarize_failures,
    validate_known_requests,
)

OPA_DEFAULT = os.path.join(os.path.expanduser("~"), ".cache", "airlock-lab", "bin", "opa-v1.22.3", "opa")

# --------------------------------------------------------------------------- fixtures

GOOD_POLICY = """\
package airlock.authz

import rego.v1

default allow := false

user_tools := {"search_docs", "read_file"}

admin_tools := {"admin_exec", "rotate_keys"}

is_user if {
    some group in input.groups
    group == "mcp-users"
}

is_admin if {
    some group in input.groups
    group == "airlock-admins"
}

allow if {
    is_user
    input.method == "tools/call"
    user_tools[input.tool]
}

allow if {
    is_admin
    input.method == "tools/call"
    admin_tools[input.tool]
}

allow if {
    is_user
    input.method == "tools/list"
}
"""

# test_ rules as `opa test` runs them; the last one expects the wrong decision
GOOD_TESTS = """\
package airlock.authz

import rego.v1

test_user_reads_docs if {
    allow with input as {"sub": "alice", "groups": ["mcp-users"], "method": "tools/call", "tool": "read_file"}
}

test_user_cannot_run_admin_tools if {
    not allow with input as {"sub": "alice", "groups": ["mcp-users"], "method": "tools/call", "tool": "admin_exec"}
}

test_admin_rotates_keys if {
    allow with input as {"sub": "root", "groups": ["airlock-admins"], "method": "tools/call", "tool": "rotate_keys"}
}

test_anonymous_lists_tools if {
    allow with input as {"sub": "anonymous", "groups": [], "method": "tools/list"}
}
"""

# the project's configs/policy.rego mistake: compiles, reads keys Airlock never sends
DENY_ALL = """\
package airlock.authz

import rego.v1

default allow := false

allow if {
    input.token.sub != ""
    startswith(input.path, "/mcp")
}

allow if {
    "admin" in input.token.groups
}
"""

SYNTAX_ERROR = """\
package airlock.authz

import rego.v1

default allow := false

allow if {
    input.method == "tools/list"
"""

UNDEFINED_FUNCTION = """\
package airlock.authz

import rego.v1

default allow := false

allow if {
    is_valid_tenant(input.tenant)
}
"""

UNSAFE_VAR = """\
package airlock.authz

import rego.v1

default allow := false

allow if {
    input.tool == requested_tool
}
"""

V0_SYNTAX = """\
package airlock.authz

default allow = false

allow {
    input.method == "tools/list"
}
"""

DEPRECATED_BUILTIN = """\
package airlock.authz

import rego.v1

default allow := false

allow if {
    any([input.method == "ping", input.method == "tools/list"])
}
"""

WRONG_PACKAGE = """\
package airlock

import rego.v1

allow := true
"""

# valid Rego v1 exercising what the static checks must not mistake for errors
CORPUS_POLICY = """\
package airlock.authz

import rego.v1

import data.airlock.lib as lib

default allow := false

admins := {"alice", "bob"}

roles := {
    "reader": ["read_file", "search_docs"],
    "admin": ["admin_exec"],
}

allow if {
    some role, tools in roles
    role in input.groups
    input.tool in tools
}

allow if {
    input.sub in admins
    not blocked
}

allow if {
    every g in input.groups {
        startswith(g, "mcp-")
    }
    count(input.groups) > 0
}

allow if {
    [first, _] := split(input.resource, "/")
    first == "mcp:"
}

allow if {
    input.headers["x-break-glass"] == "yes"
    lib.approved(input.sub)
}

allow if {
    x := [t | some t in input.groups; t != "banned"]
    count(x) > 2
}

allow if {
    obj := {k: v | some k, v in input.headers; k != "authorization"}
    obj.host == "a"
}

allow if {
    input.groups[i] == "ops"
    i < 3
}

blocked if input.tenant == "evil"

denied_reason contains msg if {
    not allow
    msg := sprintf("denied %v", [input.tool])
}

is_even(n) if n % 2 == 0

double(n) := m if {
    m := n * 2
}

allow if {
    is_even(double(count(input.groups)))
    input.method = "ping"
}

allow if {
    {"a": a} = input.headers
    a == "b"
}

tools_by_role[role] := tools if {
    some role, tools in roles
}

level := "high" if {
    input.tenant == "a"
} else := "low"

allow if {
    input.tool == `raw {string}`
    time.now_ns() > 0
}
"""

CORPUS_LIB = """\
package airlock.lib

import rego.v1

approved(sub) if sub in {"alice"}

approved(sub) if {
    some s in data.approvers
    s == sub
}
"""

# regopy 1.5.2 segfaults on this valid module: `with input as <object>` on a rule
# that uses another rule (object literals are rewritten per key; a variable is not)
CRASHES_REGOPY = """\
package airlock.authz

import rego.v1

default allow := false

is_user if "mcp-users" in input.groups

allow if is_user

member := {"groups": ["mcp-users"]}

test_member_allowed if {
    allow with input as member
}
"""

# compiles and answers every known request, but evaluating the whole package
# with an empty input is an eval_conflict_error (the lab's documented build
# loads policies that way and goes not-ready)
CONFLICT = """\
package airlock.authz

import rego.v1

default allow := false

allow if input.method == "tools/list"

mode := "anonymous" if not input.sub

mode := "no-tool" if not input.tool
"""

KNOWN_REQUESTS = [
    {"name": "user reads a file", "expect": "allow",
     "input": {"sub": "alice", "tenant": "acme", "groups": ["mcp-users"], "tool": "read_file",
               "resource": "mcp://docs/runbook.md", "method": "tools/call", "headers": {}}},
    {"name": "user cannot run admin tools", "expect": "deny",
     "input": {"sub": "alice", "tenant": "acme", "groups": ["mcp-users"], "tool": "admin_exec",
               "resource": "", "method": "tools/call", "headers": {}}},
    {"name": "admin rotates keys", "expect": "allow",
     "input": {"sub": "root", "tenant": "acme", "groups": ["airlock-admins"], "tool": "rotate_keys",
               "resource": "", "method": "tools/call", "headers": {}}},
    {"name": "anonymous lists tools", "expect": "deny",
     "input": {"sub": "anonymous", "tenant": "default", "groups": [], "tool": "", "resource": "",
               "method": "tools/list", "headers": {}}},
]

COMPILE_CASES = [
    # file name, text, compiles, part of our message, error code (ours and opa's)
    ("good.rego", GOOD_POLICY, True, None, None),
    ("deny_all.rego", DENY_ALL, True, None, None),
    ("syntax.rego", SYNTAX_ERROR, False, "this is unclosed", "rego_parse_error"),
    ("undefined.rego", UNDEFINED_FUNCTION, False, "undefined function is_valid_tenant", "rego_type_error"),
    ("unsafe.rego", UNSAFE_VAR, False, "var requested_tool is unsafe", "rego_unsafe_var_error"),
    ("v0.rego", V0_SYNTAX, False, "`if` keyword is required before rule body", "rego_parse_error"),
    ("deprecated.rego", DEPRECATED_BUILTIN, False, "deprecated built-in function calls in expression: any",
     "rego_type_error"),
    ("conflict.rego", CONFLICT, True, None, None),
]


def known():
    return validate_known_requests(KNOWN_REQUESTS)[0]


# --------------------------------------------------------------------------- opa


def _staged_opa_path():
    """The opa CLI `make units` names in the staged copy (tests/unit/opa-bin.path).

    ansible-test hands pytest only a fixed set of environment variables, so a
    cache moved with AIRLOCK_LAB_CACHE reaches the test through this file.
    """
    named = os.path.join(os.path.dirname(__file__), "..", "..", "opa-bin.path")
    if os.path.isfile(named):
        with open(named, encoding="utf-8") as handle:
            return handle.read().strip()
    return None


@pytest.fixture(scope="module")
def opa():
    path = os.environ.get("AIRLOCK_OPA_BIN") or _staged_opa_path() or OPA_DEFAULT
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("the opa CLI is missing at %s: run `make test` (it runs `go install "
                    "github.com/open-policy-agent/opa@v1.22.3` into that directory) or set AIRLOCK_OPA_BIN" % path)
    version = subprocess.run([path, "version"], capture_output=True, text=True, check=True).stdout
    assert "Version: 1.22.3" in version, version
    return path


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def opa_check(opa, *paths):
    result = subprocess.run([opa, "check"] + list(paths), capture_output=True, text=True, check=False)
    return result.returncode == 0, result.stdout + result.stderr


def opa_decision(opa, policy_path, document, tmp_path):
    input_path = write(tmp_path, "input.json", json.dumps(document))
    result = subprocess.run([opa, "eval", "-f", "raw", "-d", policy_path, "-i", input_path,
                             "data.airlock.authz.allow"], capture_output=True, text=True, check=True)
    return "allow" if result.stdout.strip() == "true" else "deny"


def opa_tests(opa, *paths):
    result = subprocess.run([opa, "test", "--format", "json"] + list(paths), capture_output=True, text=True,
                            check=False)
    verdicts = {}
    for item in json.loads(result.stdout):
        verdicts[item["name"]] = "error" if item.get("error") else ("fail" if item.get("fail") else "pass")
    return verdicts


# --------------------------------------------------------------------------- compile verdicts


@pytest.mark.parametrize("name,text,compiles,message,code", COMPILE_CASES, ids=[c[0] for c in COMPILE_CASES])
def test_compile_verdict_matches_opa_check(opa, tmp_path, name, text, compiles, message, code):
    path = write(tmp_path, name, text)
    opa_ok, opa_output = opa_check(opa, path)
    report = check_policy(text, filename=name)
    assert opa_ok == compiles, opa_output
    assert report["compiled"] == opa_ok, (report["messages"], opa_output)
    if not compiles:
        assert any(message in line and code in line and line.startswith(name + ":") for line in report["messages"]), \
            report["messages"]
        assert code in opa_output, opa_output
        if code != "rego_parse_error" or "if" in message:
            # same words as opa check (rego-cpp words its own parse errors)
            assert message in opa_output, opa_output


def test_compile_errors_point_at_file_line_and_column():
    report = check_policy(SYNTAX_ERROR, filename="policy.rego")
    assert not report["compiled"] and not report["ok"]
    assert "policy.rego:7:10: rego_parse_error: this is unclosed" in report["messages"]
    report = check_policy(UNSAFE_VAR, filename="policy.rego")
    assert report["messages"] == ["policy.rego:8:19: rego_unsafe_var_error: var requested_tool is unsafe"]
    report = check_policy(UNDEFINED_FUNCTION, filename="policy.rego")
    assert report["messages"] == ["policy.rego:8:5: rego_type_error: undefined function is_valid_tenant"]
    report = check_policy(V0_SYNTAX, filename="policy.rego")
    assert report["messages"] == ["policy.rego:5:7: rego_parse_error: `if` keyword is required before rule body"]


def test_a_policy_outside_the_airlock_package_is_refused(opa, tmp_path):
    assert opa_check(opa, write(tmp_path, "p.rego", WRONG_PACKAGE))[0]
    report = check_policy(WRONG_PACKAGE, filename="p.rego")
    assert not report["ok"]
    assert "but Airlock queries data.airlock.authz.allow" in report["messages"][0]


def test_static_checks_never_refuse_valid_rego(opa, tmp_path):
    """A policy OPA compiles must not be refused: valid constructs the checks must understand."""
    ok, output = opa_check(opa, write(tmp_path, "corpus.rego", CORPUS_POLICY), write(tmp_path, "lib.rego", CORPUS_LIB))
    assert ok, output
    modules = [Module("corpus.rego", CORPUS_POLICY), Module("lib.rego", CORPUS_LIB)]
    assert static_check(modules) == []
    for name, text, compiles, dummy, dummy in COMPILE_CASES:
        if compiles:
            assert static_check([Module(name, text)]) == [], name


def test_static_checks_resolve_functions_of_imported_packages(opa, tmp_path):
    broken = CORPUS_POLICY.replace("lib.approved(input.sub)", "lib.approve(input.sub)")
    ok, output = opa_check(opa, write(tmp_path, "corpus.rego", broken), write(tmp_path, "lib.rego", CORPUS_LIB))
    assert not ok and "undefined function data.airlock.lib.approve" in output
    errors = static_check([Module("corpus.rego", broken), Module("lib.rego", CORPUS_LIB)])
    assert [e["message"] for e in errors] == ["undefined function data.airlock.lib.approve"]


# --------------------------------------------------------------------------- decisions


def test_decisions_of_the_good_policy_match_opa_eval(opa, tmp_path):
    policy_path = write(tmp_path, "policy.rego", GOOD_POLICY)
    report = check_policy(GOOD_POLICY, filename="policy.rego", tests=known())
    assert report["ok"], summarize_failures(report)
    for request, decision in zip(KNOWN_REQUESTS, report["decisions"]):
        assert decision["name"] == request["name"]
        assert decision["actual"] == request["expect"] and decision["ok"] and decision["error"] is None
        assert opa_decision(opa, policy_path, request["input"], tmp_path) == decision["actual"], request["name"]


def test_the_deny_all_sample_is_refused_and_opa_agrees_it_denies(opa, tmp_path):
    policy_path = write(tmp_path, "policy.rego", DENY_ALL)
    report = check_policy(DENY_ALL, filename="policy.rego", tests=known())
    assert report["compiled"] and not report["ok"]
    assert [d["actual"] for d in report["decisions"]] == ["deny"] * 4
    for request in KNOWN_REQUESTS:
        assert opa_decision(opa, policy_path, request["input"], tmp_path) == "deny"
    failures = summarize_failures(report)
    assert "the policy reads input.path, input.token, keys Airlock never sends" in failures
    assert "known request 'user reads a file': expected allow, got deny" in failures
    assert report["unknown_input_keys"] == ["input.path", "input.token"]


def test_only_boolean_true_allows(opa, tmp_path):
    text = 'package airlock.authz\n\nimport rego.v1\n\nallow := "yes" if input.method == "ping"\n'
    policy_path = write(tmp_path, "policy.rego", text)
    tests = validate_known_requests([{"name": "ping", "expect": "deny", "input": {"method": "ping"}}])[0]
    report = check_policy(text, filename="policy.rego", tests=tests)
    assert report["decisions"][0]["actual"] == "deny" and report["ok"]
    assert opa_decision(opa, policy_path, {"method": "ping"}, tmp_path) == "deny"


def test_a_runtime_conflict_in_another_rule_does_not_change_the_allow_decision(opa, tmp_path):
    policy_path = write(tmp_path, "policy.rego", CONFLICT)
    tests = validate_known_requests([
        {"name": "list", "expect": "allow", "input": {"sub": "a", "tool": "", "method": "tools/list"}},
        {"name": "empty", "expect": "deny", "input": {}},
    ])[0]
    report = check_policy(CONFLICT, filename="policy.rego", tests=tests)
    assert report["ok"], summarize_failures(report)
    assert opa_decision(opa, policy_path, {}, tmp_path) == "deny"
    whole = subprocess.run([opa, "eval", "-d", policy_path, "data.airlock.authz"], capture_output=True, text=True,
                           check=False)
    assert "eval_conflict_error" in whole.stdout + whole.stderr


# --------------------------------------------------------------------------- test_ rules


def test_rego_test_verdicts_match_opa_test(opa, tmp_path):
    policy_path = write(tmp_path, "policy.rego", GOOD_POLICY)
    tests_path = write(tmp_path, "policy_test.rego", GOOD_TESTS)
    expected = opa_tests(opa, policy_path, tests_path)
    assert expected == {"test_user_reads_docs": "pass", "test_user_cannot_run_admin_tools": "pass",
                        "test_admin_rotates_keys": "pass", "test_anonymous_lists_tools": "fail"}
    report = check_policy(GOOD_POLICY, filename="policy.rego", test_modules=[("policy_test.rego", GOOD_TESTS)],
                          run_rego_tests=True)
    assert report["rego_tests"] == expected
    assert not report["ok"]
    assert "test_anonymous_lists_tools: FAIL" in summarize_failures(report)
    passing = GOOD_TESTS.replace("\ntest_anonymous_lists_tools if {\n    allow", "\ntest_anonymous_lists_tools if {\n    not allow")
    assert opa_tests(opa, policy_path, write(tmp_path, "policy_test.rego", passing))["test_anonymous_lists_tools"] == "pass"
    report = check_policy(GOOD_POLICY, filename="policy.rego", test_modules=[("policy_test.rego", passing)],
                          run_rego_tests=True, tests=known())
    assert report["ok"] and set(report["rego_tests"].values()) == {"pass"}


def test_inline_test_rules_are_run_and_do_not_affect_decisions(opa, tmp_path):
    inline = GOOD_POLICY + "\n" + GOOD_TESTS.split("import rego.v1\n", 1)[1]
    path = write(tmp_path, "policy.rego", inline)
    assert opa_check(opa, path)[0]
    report = check_policy(inline, filename="policy.rego", tests=known(), run_rego_tests=True)
    assert report["rego_tests"] == opa_tests(opa, path)
    assert all(d["ok"] for d in report["decisions"])


def test_with_input_object_literals_are_evaluated_per_key(opa, tmp_path):
    """The rewrite that keeps regopy alive gives OPA's verdicts, pass and fail alike."""
    module = Module("policy_test.rego", GOOD_TESTS)
    rewritten = module.with_input_rewritten()
    assert 'allow with input["sub"] as "alice" with input["groups"] as ["mcp-users"]' in rewritten
    assert "with input as" not in rewritten
    assert rewritten.count("\n") == GOOD_TESTS.count("\n")
    empty = "package airlock.authz\n\nimport rego.v1\n\ntest_empty if {\n    not allow with input as {}\n}\n"
    assert "    not allow \n" in Module("t.rego", empty).with_input_rewritten()
    policy_path = write(tmp_path, "policy.rego", GOOD_POLICY)
    tests_path = write(tmp_path, "t_test.rego", empty)
    report = check_policy(GOOD_POLICY, filename="policy.rego", test_modules=[("t_test.rego", empty)],
                          run_rego_tests=True)
    assert report["rego_tests"] == opa_tests(opa, policy_path, tests_path) == {"test_empty": "pass"}


def test_a_regopy_crash_is_contained_and_fails_closed(opa, tmp_path):
    """regopy 1.5.2 segfaults here where OPA passes: we must survive and refuse, never pass."""
    path = write(tmp_path, "policy.rego", CRASHES_REGOPY)
    assert opa_tests(opa, path) == {"test_member_allowed": "pass"}
    tests = validate_known_requests([
        {"name": "member", "expect": "allow", "input": {"groups": ["mcp-users"]}},
        {"name": "stranger", "expect": "deny", "input": {"groups": []}},
    ])[0]
    report = check_policy(CRASHES_REGOPY, filename="policy.rego", tests=tests, run_rego_tests=True)
    # decisions are evaluated without the inline test rule: they work
    assert [d["actual"] for d in report["decisions"]] == ["allow", "deny"]
    assert report["rego_tests"] == {"test_member_allowed": "error"}
    assert "crashed (SIGSEGV)" in report["rego_test_errors"]["test_member_allowed"]
    assert "with input[<key>] as" in report["rego_test_errors"]["test_member_allowed"]
    assert not report["ok"]


def test_no_test_rules_is_a_warning(tmp_path):
    report = check_policy(GOOD_POLICY, filename="policy.rego", run_rego_tests=True)
    assert report["ok"] and report["rego_tests"] == {}
    assert any("no test_* rule found" in w for w in report["warnings"])


# --------------------------------------------------------------------------- helpers


def test_engine_error_text_is_turned_into_file_line_col():
    dump = ("(rego-errorseq\n  (error 8:syn.rego|46|2\n    (errormsg 16:this is unclosed)\n"
            "    (errorast |46|2))\n  (error 8:syn.rego|0|7\n    (errormsg 16:this is unclosed)\n"
            "    (errorast |0|7)))\n")
    source = "package airlock.authz\nimport rego.v1\nallow if {\n  input.x == 1\n"
    errors = parse_engine_error(dump, {"syn.rego": source})
    assert [format_error(e) for e in errors] == ["syn.rego:1:1: rego_parse_error: this is unclosed",
                                                 "syn.rego:3:10: rego_parse_error: this is unclosed"]
    runtime = "(error\n  (errormsg 26:Function not found: nosuch)\n  (errorast\n    (rego-input))\n  (rego-errorcode))\n"
    assert parse_engine_error(runtime, {}, "p.rego", "eval_error")[0]["message"] == "Function not found: nosuch"
    assert parse_engine_error("garbage", {}, "p.rego")[0]["message"] == "garbage"


def test_known_requests_are_validated_before_any_evaluation():
    with pytest.raises(ValueError, match=r"tests\[0\].expect: invalid value 'maybe'; accepted values: allow, deny"):
        validate_known_requests([{"input": {}, "expect": "maybe"}])
    with pytest.raises(ValueError, match=r"tests\[0\].input: expected a mapping"):
        validate_known_requests([{"input": "sub=alice", "expect": "allow"}])
    with pytest.raises(ValueError, match="duplicate name"):
        validate_known_requests([{"name": "a", "input": {}, "expect": "allow"},
                                 {"name": "a", "input": {}, "expect": "deny"}])
    warnings = validate_known_requests([{"input": {"path": "/mcp", "token": {}}, "expect": "deny"}])[1]
    assert "input keys path, token are never sent by Airlock" in warnings[0]


def test_builtins_regopy_lacks_are_named():
    text = ('package airlock.authz\n\nimport rego.v1\n\ndefault allow := false\n\n'
            'allow if net.cidr_contains("10.0.0.0/8", input.headers["x-real-ip"])\n')
    report = check_policy(text, filename="policy.rego")
    assert report["compiled"]
    assert any("does not implement (net.cidr_contains)" in w for w in report["warnings"])


def test_the_engine_runs_in_a_child_and_reports_its_version():
    results, version = rego_engine.run_engine([("a.rego", "package a\nx := 1\n")],
                                              [{"id": 1, "kind": "query", "modules": [0], "query": "x := data.a.x"}])
    assert version == rego_engine.REGOPY_VERSION
    assert json.loads(results[1]["output"])["bindings"]["x"] == 1
