# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s.wait: the one poll loop."""

from __future__ import annotations

import time

from ansible_collections.airlock.incident.plugins.module_utils.k8s import wait


def test_poll_returns_when_done(monkeypatch):
    monkeypatch.setattr(wait, "POLL", 0.01)
    calls = []

    def check():
        calls.append(1)
        return len(calls) >= 3, len(calls)

    done, value, elapsed = wait.poll(check, 5)
    assert done and value == 3 and len(calls) == 3


def test_poll_stops_at_the_timeout_and_checks_once_at_least():
    calls = []
    done, value, dummy = wait.poll(lambda: (calls.append(1), (False, "x"))[1], 0)
    assert not done and value == "x" and len(calls) == 1
    done = wait.poll(lambda: (False, None), None, deadline=time.monotonic() + 0.2)[0]
    assert not done


def deployment(updated, available, replicas=2, deadline=False):
    conds = [dict(type="Progressing", status="False", reason="ProgressDeadlineExceeded", message="m")] if deadline else []
    return dict(metadata=dict(generation=1), spec=dict(replicas=replicas),
                status=dict(observedGeneration=1, replicas=replicas, updatedReplicas=updated, readyReplicas=available,
                            availableReplicas=available, conditions=conds))


def test_wait_rollout_complete_failed_and_done(monkeypatch):
    monkeypatch.setattr(wait, "POLL", 0.01)
    reads = iter([deployment(1, 1), deployment(2, 2)])
    dep, state, dummy = wait.wait_rollout(lambda: next(reads), 5)
    assert state["complete"] and dep["status"]["updatedReplicas"] == 2
    dep, state, dummy = wait.wait_rollout(lambda: deployment(1, 1, deadline=True), 5)
    assert state["failed"] and not state["complete"]
    # complete, but the extra condition does not hold: not complete when the time is up
    dep, state, dummy = wait.wait_rollout(lambda: deployment(2, 2), 0.05, done=lambda d: False)
    assert not state["complete"]
