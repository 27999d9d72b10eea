# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s_triage names a Go panic in the previous container's log (go_panic), also once the container runs again,
and recognises the released gateway's own keep-alive crash from its real crash report."""

from __future__ import annotations

import os

from ansible_collections.airlock.incident.plugins.module_utils.airlock.crash import go_panic
from ansible_collections.airlock.incident.plugins.module_utils.k8s import triage as k8s_triage

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "real_release_keepalive_panic.log")


def real_lines():
    with open(FIXTURE, encoding="utf-8") as handle:
        # As triage_collect keeps them: no comment header, no blank lines.
        return [ln for ln in handle.read().splitlines() if ln.strip() and not ln.startswith("# ")]


def pod(ready, reason=None, restarts=3, last_reason="Error", exit_code=2):
    container = dict(name="airlock", ready=ready, restarts=restarts, state="running" if ready else "waiting",
                     reason=reason, message=None,
                     last_termination=dict(reason=last_reason, exit_code=exit_code,
                                           finished_at="2026-12-06T02:58:13Z") if last_reason else None)
    return dict(name="airlock-7d9f-abcde", phase="Running", node="node-1", problem=None, deleting=False,
                containers=[container], claims=[], ready=ready, restarts=restarts)


def findings(the_pod, lines):
    """The findings about the pod (deployment=None adds deployment_missing, which these tests leave out)."""
    data = dict(deployment=None, pods=[the_pod], events=[], pvcs=[], nodes=[],
                logs={the_pod["name"]: {"airlock": lines}}, namespace="airlock-system", name="airlock")
    return [f for f in k8s_triage.analyse(data) if f["id"] != "deployment_missing"]


def by_id(items, fid):
    return [f for f in items if f["id"] == fid]


def test_the_real_release_crash_report_is_read():
    panic = go_panic(real_lines())
    assert panic["message"] == "send on closed channel"
    assert panic["known_issue"] == "release_keepalive_crash"
    assert [f["function"].rsplit(".", 1)[-1] for f in panic["frames"]][:3] == [
        "sendMessage", "sendErrorResponse", "handleMessageProcessor"]
    assert panic["frames"][1]["file"].endswith("internal/server/connection.go:657")
    assert panic["lines"][0] == "panic: send on closed channel"
    assert panic["lines"][-1].strip().startswith("/tmp/realairlock/src/internal/server/connection.go:214")


def test_a_container_that_crashed_and_runs_again_gets_an_info_naming_the_known_crash():
    got = findings(pod(ready=True), real_lines())
    panics = by_id(got, "go_panic")
    assert len(panics) == 1 and panics[0]["severity"] == "info"
    # Recovered: the finding is on record, the status stays ok.
    assert k8s_triage.overall(got, dict(name="airlock")) == "ok"
    summary = panics[0]["summary"]
    assert "send on closed channel" in summary and "sendErrorResponse" in summary and "runs again" in summary
    assert "keep-alive" in summary and "connection.go:684" in summary
    assert panics[0]["evidence"]["known_issue"] == "release_keepalive_crash"
    assert panics[0]["evidence"]["exit_code"] == 2
    assert not by_id(got, "crash_loop")


def test_a_crash_looping_container_with_another_panic_is_critical_and_not_the_known_crash():
    lines = ["2026-12-06T02:58:13.428Z\tINFO\tserver/server.go:88\tstarting",
             "panic: runtime error: invalid memory address or nil pointer dereference",
             "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x6f1c2a]",
             "goroutine 1 [running]:",
             "github.com/ik-labs/mcp-airlock/internal/policy.(*Engine).Evaluate(0x0, {0x1, 0x2})",
             "\t/src/internal/policy/engine.go:120 +0x2a",
             "main.main()",
             "\t/src/cmd/airlock/main.go:40 +0x1c"]
    got = findings(pod(ready=False, reason="CrashLoopBackOff"), lines)
    panics = by_id(got, "go_panic")
    assert len(panics) == 1 and panics[0]["severity"] == "critical"
    assert panics[0]["evidence"]["known_issue"] is None
    assert "nil pointer dereference" in panics[0]["summary"] and "crash-loops" in panics[0]["summary"]
    assert [f["function"] for f in panics[0]["evidence"]["frames"]] == [
        "github.com/ik-labs/mcp-airlock/internal/policy.(*Engine).Evaluate", "main.main"]
    assert not by_id(got, "crash_loop")


def test_a_configuration_error_at_start_still_wins():
    lines = ["2026-12-06T02:58:13Z\tFATAL\tfailed to load config: time: unknown unit \"d\" in duration \"30d\"",
             "panic: failed to load config", "goroutine 1 [running]:", "main.main()", "\t/src/main.go:1 +0x1"]
    got = findings(pod(ready=False, reason="CrashLoopBackOff"), lines)
    assert by_id(got, "config_error_at_start") and not by_id(got, "go_panic")


def test_no_panic_no_finding_for_a_running_container_and_a_plain_crash_loop_is_unchanged():
    quiet = ["2026-12-06T02:58:13Z\tINFO\tserver/connection.go:774\tConnection closed"]
    assert findings(pod(ready=True), quiet) == []
    got = findings(pod(ready=False, reason="CrashLoopBackOff"), quiet + ["error: exit"])
    assert [f["id"] for f in got] == ["crash_loop"]
    # An OOM kill is not read as a panic even if the log has one.
    got = findings(pod(ready=True, last_reason="OOMKilled", exit_code=137), real_lines())
    assert [f["id"] for f in got] == ["oom_killed"]


def test_hostile_panic_text_is_bounded():
    lines = ["panic: " + "x" * 100000, "goroutine 1 [running]:", "f" * 3000 + "()", "\t" + "y" * 3000 + ".go:1"]
    panic = go_panic(lines)
    assert len(panic["message"]) == 200 and len(panic["frames"][0]["function"]) == 200
    assert panic["known_issue"] is None


def test_hostile_lines_are_read_in_linear_time_and_credentials_are_masked():
    # A line of many parentheses without a frame's shape, and a very long one: read in bounded time.
    lines = ["panic: token leaked: Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789",
             "fetching https://user:hunter2@example.com/x", "(" * 200000, "x(" * 100000 + ")", "main.main()",
             "\t/src/main.go:3 +0x1"]
    panic = go_panic(lines)
    assert "abcdefghijklmnopqrstuvwxyz0123456789" not in panic["message"]
    assert [f["function"] for f in panic["frames"]] == ["main.main"]
    assert panic["lines"][1].startswith("fetching https://user:") and not any("hunter2" in ln for ln in panic["lines"])
