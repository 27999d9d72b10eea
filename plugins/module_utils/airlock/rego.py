# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validating an Airlock Rego policy before it is deployed.

Airlock queries ``data.airlock.authz.allow``; only boolean ``true`` allows.
A policy is fit to deploy when

1. every module parses and compiles as OPA v1 would compile it: the real
   engine ``regopy`` (:mod:`.rego_engine`, in a child process) compiles it,
   then :mod:`.rego_checks` reports what OPA refuses and rego-cpp accepts;
2. every *known request* (an input document and the expected ``allow`` or
   ``deny``) gets the expected decision;
3. optionally, every ``test_*`` rule is true (what ``opa test`` checks).

Decisions are evaluated without the policy's ``test_*`` rules, and test
rules' ``with input as {"k": v}`` is evaluated as the equivalent ``with
input["k"] as v`` (regopy 1.5.2 crashes on the former). A decision that
reaches an OPA built-in regopy lacks is reported as an engine error, never
guessed.
"""

from __future__ import annotations

import json
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError
from ansible_collections.airlock.incident.plugins.module_utils.airlock.rego_checks import (
    AIRLOCK_PACKAGE,
    AIRLOCK_QUERY,
    AIRLOCK_RULE,
    INPUT_KEYS,
    OPA_BUILTINS,
    Module,
    module_calls,
    static_check,
    unknown_input_keys,
)
from ansible_collections.airlock.incident.plugins.module_utils.airlock.rego_engine import (
    ENGINE_TIMEOUT,
    RegoCheckError,
    format_error,
    make_error,
    parse_engine_error,
    run_engine,
)

# ---------------------------------------------------------------------------
# the whole check
# ---------------------------------------------------------------------------


def validate_known_requests(tests: t.Optional[t.Iterable[t.Any]]) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.List[str]]:
    """Normalised known requests, or raise InputError (a ValueError) naming the bad field."""
    normalised: t.List[t.Dict[str, t.Any]] = []
    warnings: t.List[str] = []
    for index, test in enumerate(tests or []):
        label = "tests[%d]" % index
        if not isinstance(test, dict):
            raise InputError("%s: expected a mapping with input, expect and name" % label)
        unknown = sorted(set(test) - {"input", "expect", "name"})
        if unknown:
            raise InputError("%s: unknown field(s) %s; accepted fields: input, expect, name" % (label, ", ".join(unknown)))
        expect = test.get("expect")
        if isinstance(expect, bool):
            expect = "allow" if expect else "deny"
        if expect not in ("allow", "deny"):
            raise InputError("%s.expect: invalid value %r; accepted values: allow, deny" % (label, test.get("expect")))
        document = test.get("input")
        if not isinstance(document, dict):
            raise InputError("%s.input: expected a mapping (the policy input document), got %r" % (label, document))
        name = test.get("name") or "request %d" % (index + 1)
        extra = sorted(set(document) - set(INPUT_KEYS))
        if extra:
            warnings.append("%s (%s): input keys %s are never sent by Airlock (it sends %s); a policy that reads "
                            "them denies real requests" % (label, name, ", ".join(extra), ", ".join(INPUT_KEYS[:7])))
        normalised.append({"name": str(name), "input": document, "expect": expect})
    names = [test["name"] for test in normalised]
    duplicates = sorted(set(n for n in names if names.count(n) > 1))
    if duplicates:
        raise InputError("tests: duplicate name(s) %s; every known request needs its own name" % ", ".join(duplicates))
    return normalised, warnings


def _decision(result: t.Mapping[str, t.Any], sources: t.Mapping[str, str],
              filename: t.Optional[str]) -> t.Tuple[str, t.Optional[str]]:
    """(actual, error) for one engine result of the ``allow`` query."""
    if "crashed" in result:
        return "deny", "the Rego engine crashed (%s) evaluating it" % result["crashed"]
    if "error" in result:
        return "deny", format_error(parse_engine_error(result["error"], sources, filename, "eval_error")[0])
    if result.get("module_errors"):
        return "deny", "the policy does not compile"
    output = str(result.get("output", "")).strip()
    if not result.get("ok", False):
        return "deny", "evaluation error (%s)" % (output or "no detail from rego-cpp")
    if output == "undefined":
        return "deny", None
    if output.startswith("(error"):
        return "deny", format_error(parse_engine_error(output, sources, filename, "eval_error")[0])
    try:
        parsed = json.loads(output)
    except ValueError:
        return "deny", "unreadable engine output %r" % output[:200]
    value = (parsed.get("bindings") or {}).get("x") if isinstance(parsed, dict) else None
    return ("allow" if value is True else "deny"), None


def _compile_errors(modules: t.List[t.Tuple[str, str]], parsed: t.List[Module], sources: t.Mapping[str, str],
                    python: t.Optional[str], timeout: float) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.Optional[str]]:
    """(errors, engine version): the engine compiles every module, then the static checks run."""
    compile_jobs = [{"id": "compile:%d" % index, "kind": "modules", "modules": [index]}
                    for index in range(len(modules))]
    results, engine = run_engine(modules, compile_jobs, python=python, timeout=timeout)
    errors: t.List[t.Dict[str, t.Any]] = []
    for index, (name, dummy) in enumerate(modules):
        result = results.get("compile:%d" % index, {})
        for module_name, text in result.get("module_errors", []):
            errors.extend(parse_engine_error(text, sources, module_name))
        if "crashed" in result:
            errors.append(make_error(name, None, None, "rego_error",
                                     "the Rego engine crashed (%s) compiling this module" % result["crashed"]))
        elif "error" in result:
            errors.extend(parse_engine_error(result["error"], sources, name))
    # what OPA refuses and rego-cpp accepts
    if not errors:
        errors.extend(static_check(parsed))
    policy = parsed[0]
    if not errors and policy.lexable:
        if policy.package != AIRLOCK_PACKAGE:
            errors.append(make_error(policy.name, 1, 1, "airlock_package",
                                     "the policy declares package %s but Airlock queries %s: every request would "
                                     "be denied" % (policy.package or "(none)", AIRLOCK_QUERY)))
        elif AIRLOCK_RULE not in policy.rule_names:
            errors.append(make_error(policy.name, 1, 1, "airlock_rule",
                                     "the policy defines no %s rule: Airlock queries %s, so every request would "
                                     "be denied" % (AIRLOCK_RULE, AIRLOCK_QUERY)))
    return errors, engine


def _test_jobs(parsed: t.List[Module], module_count: int) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.List[str]]:
    """(jobs, labels): one query per ``test_*`` rule of every module (each label once)."""
    jobs = []
    labels: t.List[str] = []
    for module in parsed:
        for rule in module.test_rules():
            label = "data.%s.%s" % (module.package, rule) if module.package else rule
            if label in labels:
                continue
            labels.append(label)
            jobs.append({"id": "test:%s" % label, "kind": "query", "modules": list(range(module_count)),
                         "query": "x := %s" % label, "input": {}})
    return jobs, labels


def _record_test(report: t.Dict[str, t.Any], label: str, result: t.Mapping[str, t.Any],
                 sources: t.Mapping[str, str]) -> None:
    """The verdict of one ``test_*`` rule, into ``report``."""
    verdict, error = _decision(result, sources, None)
    short = label.rsplit(".", 1)[-1] if label.startswith("data.%s." % AIRLOCK_PACKAGE) else label
    if error is None:
        report["rego_tests"][short] = "pass" if verdict == "allow" else "fail"
        return
    report["rego_tests"][short] = "error"
    report["rego_test_errors"][short] = error
    if "crashed" in result:
        report["rego_test_errors"][short] += (
            "; regopy 1.5.2 crashes on `with input as <value>` when the rule under test uses other "
            "rules (object literals are evaluated per key automatically): write the test with "
            "`with input[<key>] as ...` clauses or an object literal, or check it with `opa test`")


def _engine_modules(decision_modules: t.List[t.Tuple[str, str]], parsed: t.List[Module]) -> t.List[t.Tuple[str, str]]:
    """The modules as the engine evaluates them: test rules' ``with input as {...}`` rewritten."""
    engine_modules = list(decision_modules)
    for index, module in enumerate(parsed):
        rewritten = module.with_input_rewritten()
        if rewritten != module.text:
            engine_modules[index] = (module.name, rewritten)
    return engine_modules


def check_policy(source: str, filename: str = "policy.rego", tests: t.Optional[t.List[t.Dict[str, t.Any]]] = None,
                 test_modules: t.Optional[t.Iterable[t.Tuple[str, str]]] = None, run_rego_tests: bool = False,
                 python: t.Optional[str] = None, timeout: float = ENGINE_TIMEOUT) -> t.Dict[str, t.Any]:
    """Validate a policy; returns a report dict.

    ``tests`` are normalised known requests (``validate_known_requests``);
    ``test_modules`` a list of ``(name, text)`` loaded next to the policy for
    ``test_*`` rules. Report keys: ``ok`` (fit to deploy), ``compiled``,
    ``errors`` (dicts), ``messages`` (formatted errors), ``decisions`` (name,
    expected, actual, ok, error), ``rego_tests`` (name -> pass/fail/error),
    ``rego_test_errors`` (name -> text), ``warnings``, ``engine``.
    """
    tests = tests or []
    extra_modules = list(test_modules or [])
    report: t.Dict[str, t.Any] = {
        "ok": False, "compiled": False, "errors": [], "messages": [], "decisions": [], "rego_tests": {},
        "rego_test_errors": {}, "warnings": [], "engine": None, "unknown_input_keys": []}
    names = [filename] + [module[0] for module in extra_modules]
    duplicates = sorted(set(n for n in names if names.count(n) > 1))
    if duplicates:
        raise RegoCheckError("two modules are named %s; give the test files distinct names" % ", ".join(duplicates))
    modules = [(filename, source)] + extra_modules
    sources = dict(modules)
    # the unit Airlock evaluates: the policy without its inline test rules (see Module.without_test_rules)
    deployed = Module(filename, source).without_test_rules()
    decision_modules = modules + [(filename, deployed)] if deployed != source else modules

    # 1. compile (the engine, then what OPA refuses and rego-cpp accepts)
    parsed = [Module(name, text) for name, text in modules]
    errors, report["engine"] = _compile_errors(modules, parsed, sources, python, timeout)
    report["unknown_input_keys"] = unknown_input_keys(parsed[0])
    if report["unknown_input_keys"]:
        report["warnings"].append(
            "the policy reads %s, which Airlock never sends (its input has %s): rules that need them never match"
            % (", ".join(report["unknown_input_keys"]), ", ".join(INPUT_KEYS)))
    report.update(errors=errors, messages=[format_error(e) for e in errors], compiled=not errors)
    if errors:
        return report

    # 2. decisions and test rules
    decision_index = len(decision_modules) - 1 if decision_modules is not modules else 0
    jobs = [{"id": "decision:%d" % index, "kind": "query", "modules": [decision_index],
             "query": "x := %s" % AIRLOCK_QUERY, "input": test["input"]} for index, test in enumerate(tests)]
    test_names: t.List[str] = []
    if run_rego_tests:
        test_jobs, test_names = _test_jobs(parsed, len(modules))
        jobs.extend(test_jobs)
        if not test_names:
            report["warnings"].append("run_rego_tests: no test_* rule found in %s" % ", ".join(names))
    lacking = sorted(set(call for module in parsed for call in module_calls(module)
                         if call in OPA_BUILTINS and call not in ("print", "internal.print")))
    if lacking:
        jobs.append({"id": "builtins", "kind": "builtins", "names": lacking})
    results: t.Dict[t.Any, t.Dict[str, t.Any]] = {}
    if jobs:
        results = run_engine(_engine_modules(decision_modules, parsed), jobs, python=python, timeout=timeout)[0]
    missing = sorted(name for name, known in (results.get("builtins") or {}).get("builtins", {}).items() if not known)
    if missing:
        report["warnings"].append(
            "the policy calls OPA built-ins that regopy %s does not implement (%s): OPA and Airlock evaluate "
            "them, but a decision or test that reaches them is not checked reliably here"
            % (report["engine"], ", ".join(missing)))
    for index, test in enumerate(tests):
        actual, error = _decision(results.get("decision:%d" % index, {"error": "not evaluated"}), sources, filename)
        report["decisions"].append({"name": test["name"], "expected": test["expect"], "actual": actual,
                                    "ok": actual == test["expect"] and error is None, "error": error})
    for label in test_names:
        _record_test(report, label, results.get("test:%s" % label, {"error": "not evaluated"}), sources)
    report["ok"] = (all(d["ok"] for d in report["decisions"])
                    and all(v == "pass" for v in report["rego_tests"].values()))
    return report


def summarize_failures(report: t.Mapping[str, t.Any]) -> t.List[str]:
    """One line per problem in a ``check_policy`` report."""
    lines = list(report["messages"])
    wrongly_denied = [d for d in report["decisions"] if d["expected"] == "allow" and d["actual"] == "deny"]
    if wrongly_denied and report.get("unknown_input_keys"):
        lines.append("the policy reads %s, keys Airlock never sends" % ", ".join(report["unknown_input_keys"]))
    for decision in report["decisions"]:
        if not decision["ok"]:
            text = "known request %r: expected %s, got %s" % (decision["name"], decision["expected"], decision["actual"])
            if decision.get("error"):
                text += " (%s)" % decision["error"]
            lines.append(text)
    for name, verdict in sorted(report["rego_tests"].items()):
        if verdict != "pass":
            text = "%s: %s" % (name, verdict.upper())
            if report["rego_test_errors"].get(name):
                text += " (%s)" % report["rego_test_errors"][name]
            lines.append(text)
    return lines
