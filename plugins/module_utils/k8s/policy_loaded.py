# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which policy the running Airlock pods loaded, compared with the chart's ConfigMap.

Airlock reads ``policy.rego`` once, when its container starts (the release has
no reload; the chart mounts the ConfigMap at ``/etc/airlock``). A ConfigMap
changed after a container started (a ``kubectl edit`` with no rollout, say) is
therefore not what that container enforces: it still runs the policy it read
at its start, and will run the ConfigMap's only when it restarts. The image has
no shell to read the mounted file, so this is told from the API alone: the
ConfigMap's last write (the newest ``managedFields`` time, else its creation)
against each pod's ``airlock`` container start (``state.running.startedAt``).
Timestamps are RFC 3339 with one-second resolution; a container started in the
same second as the write counts as current. Damaged or missing timestamps are
reported as ``unknown``, never guessed.
"""

from __future__ import annotations

import datetime
import typing as t

#: What each pod's entry says: started after the last write (``current``),
#: before it (``older``), its container not running, or no usable timestamps.
STATES = ("current", "older", "not running", "unknown")


def _time(value: t.Any) -> t.Optional[datetime.datetime]:
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(datetime.timezone.utc)


def _stamp(value: t.Optional[datetime.datetime]) -> t.Optional[str]:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def configmap_written_at(configmap: t.Any) -> t.Optional[datetime.datetime]:
    """The ConfigMap's last write: the newest ``managedFields`` time, else ``creationTimestamp``."""
    meta = configmap.get("metadata") if isinstance(configmap, dict) else None
    if not isinstance(meta, dict):
        return None
    times = [_time(entry.get("time")) for entry in meta.get("managedFields") or [] if isinstance(entry, dict)]
    known = [item for item in times if item is not None]
    if known:
        return max(known)
    return _time(meta.get("creationTimestamp"))


def container_started_at(pod: t.Any, container: str) -> t.Tuple[str, t.Optional[datetime.datetime]]:
    """``(state, start)`` of the named container of ``pod``: running with its start, not running, or unknown."""
    status = pod.get("status") if isinstance(pod, dict) else None
    statuses = status.get("containerStatuses") if isinstance(status, dict) else None
    for entry in statuses if isinstance(statuses, list) else []:
        if not isinstance(entry, dict) or entry.get("name") != container:
            continue
        state = entry.get("state")
        running = state.get("running") if isinstance(state, dict) else None
        if not isinstance(running, dict):
            return "not running", None
        started = _time(running.get("startedAt"))
        return ("running", started) if started is not None else ("unknown", None)
    return "unknown", None


def policy_loaded(pods: t.Any, configmap: t.Any, container: str = "airlock") -> t.Dict[str, t.Any]:
    """Each pod's container start against the ConfigMap's last write (see the module docstring).

    Returns ``configmap_written_at`` (UTC text or None), ``pods`` (name,
    ``started_at``, ``state`` one of :data:`STATES`), ``older`` (the names of
    the pods that run a policy older than the ConfigMap) and ``lines`` (one
    human sentence per finding, empty when every running pod is current).
    """
    written = configmap_written_at(configmap)
    entries: t.List[t.Dict[str, t.Any]] = []
    for pod in pods if isinstance(pods, list) else []:
        meta = pod.get("metadata") if isinstance(pod, dict) else None
        name = meta.get("name") if isinstance(meta, dict) else None
        if not isinstance(name, str):
            continue
        state, started = container_started_at(pod, container)
        if state == "running":
            state = "unknown" if written is None or started is None else ("older" if started < written else "current")
        entries.append({"name": name, "started_at": _stamp(started), "state": state})
    older = [item["name"] for item in entries if item["state"] == "older"]
    lines = []
    if older:
        lines.append("pods %s started before the ConfigMap's policy was last written (%s): they enforce the policy "
                     "they loaded at their start, and load the ConfigMap's only when restarted"
                     % (", ".join(sorted(older)), _stamp(written)))
    unknown = [item["name"] for item in entries if item["state"] == "unknown"]
    if unknown:
        lines.append("pods %s: which policy they loaded is unknown (no usable start or ConfigMap write time)"
                     % ", ".join(sorted(unknown)))
    return {"configmap_written_at": _stamp(written), "pods": entries, "older": older, "lines": lines}
