# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one poll loop of the Kubernetes modules (one poll interval, :data:`POLL`).

:func:`poll` calls a check until it reports done or a deadline passes;
:func:`wait_rollout` is that loop over a Deployment's rollout state (the rules of
``kubectl rollout status``, :func:`.rollout.rollout_state`).
"""

from __future__ import annotations

import time
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import rollout_state

#: Seconds between two reads of the cluster.
POLL = 1.0

V = t.TypeVar("V")


def poll(check: t.Callable[[], t.Tuple[bool, V]], timeout: t.Optional[float],
         deadline: t.Optional[float] = None) -> t.Tuple[bool, V, float]:
    """Call ``check()`` -> ``(done, value)`` every :data:`POLL` seconds until done or ``timeout`` seconds (or
    ``deadline``, a :func:`time.monotonic` time) passed. Returns ``(done, value, elapsed)``; the check runs at
    least once."""
    start = time.monotonic()
    end = deadline if deadline is not None else start + (timeout or 0)
    while True:
        done, value = check()
        now = time.monotonic()
        if done or now >= end:
            return done, value, round(now - start, 1)
        time.sleep(min(POLL, max(0.1, end - now)))


def wait_rollout(read: t.Callable[[], t.Dict[str, t.Any]], timeout: float,
                 done: t.Optional[t.Callable[[t.Dict[str, t.Any]], bool]] = None
                 ) -> t.Tuple[t.Dict[str, t.Any], t.Dict[str, t.Any], float]:
    """Poll ``read()`` (the Deployment) until its rollout is complete (and ``done(dep)`` when given), failed, or
    ``timeout`` seconds passed. Returns ``(deployment, state, elapsed)``; ``state["complete"]`` is False unless
    the wait finished."""

    def check() -> t.Tuple[bool, t.Tuple[t.Dict[str, t.Any], t.Dict[str, t.Any], bool]]:
        dep = read()
        state = rollout_state(dep)
        finished = state["complete"] and (done is None or done(dep))
        return finished or state["failed"], (dep, state, finished)

    dummy, (dep, state, finished), elapsed = poll(check, timeout)
    if not finished:
        state = dict(state, complete=False)
    return dep, state, elapsed
