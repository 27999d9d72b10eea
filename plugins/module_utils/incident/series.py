# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The figures an incident measured over time: ``<directory>/<id>/series.json``.

Roles that measure (the auth failure rate, the deny rate, the latency
quantiles, restarts) add points through ``airlock.incident.incident``
(option ``series``); the HTML report and review plot them
(:func:`.html.render_html`). The file is a JSON object of series names to
lists of ``{"time", "value"}`` points, ordered by time::

    {"deny_rate": [{"time": "2026-11-28T16:05:00Z", "value": 0.4}]}

A point at a time the series already holds is kept as first recorded, so a
rerun that measures nothing new changes nothing. The file is written under the
incident's lock, atomically, never through a link (:mod:`.store`).
"""

from __future__ import annotations

import json
import math
import os
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core import fileutil
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import (
    IncidentError,
    format_time,
    parse_time,
)
from ansible_collections.airlock.incident.plugins.module_utils.incident.store import (
    FileLock,
    atomic_write,
    check_directory,
    check_paths,
    ensure_dir,
    read_text,
    record_paths,
)

SERIES_FILE = "series.json"
#: Points kept per series (the newest); a long incident measured every minute stays readable.
MAX_POINTS = 5000
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$", re.ASCII)

Series = t.Dict[str, t.List[t.Dict[str, t.Any]]]


def series_path(directory: str, incident_id: str) -> str:
    return os.path.join(record_paths(directory, incident_id)["dir"], SERIES_FILE)


def normalize(series: t.Any) -> Series:
    """The points to add, checked: names, times (UTC text) and finite numbers; refused by field otherwise."""
    if not isinstance(series, dict):
        raise IncidentError("series: a mapping of series names to lists of {time, value} points is required")
    out: Series = {}
    for name, points in series.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise IncidentError("series: invalid name %r; accepted names: lower-case letters, digits and _, "
                                "starting with a letter (for example deny_rate, latency_p95_ms)" % (name,))
        if not isinstance(points, list):
            raise IncidentError("series.%s: a list of {time, value} points is required" % name)
        checked = []
        for index, point in enumerate(points):
            where = "series.%s[%d]" % (name, index)
            if not isinstance(point, dict) or set(point) - {"time", "value"}:
                raise IncidentError("%s: a mapping with time and value (and nothing else) is required" % where)
            value = point.get("value")
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    value = None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise IncidentError("%s.value: a finite number is required; got %r" % (where, point.get("value")))
            checked.append({"time": format_time(parse_time(point.get("time"), where + ".time")), "value": value})
        out[name] = checked
    return out


def load_series(path: str) -> Series:
    """The recorded series at ``path`` ({} when there is none); damaged points are left out, never fatal."""
    text = read_text(path)
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise IncidentError("%s is not valid JSON (%s); fix or move it, it is never overwritten" % (path, exc)) from exc
    if not isinstance(data, dict):
        raise IncidentError("%s is not a mapping of series; fix or move it, it is never overwritten" % path)
    kept: Series = {}
    for name, points in data.items():
        if not isinstance(name, str) or not isinstance(points, list):
            continue
        kept[name] = [point for point in points if isinstance(point, dict) and isinstance(point.get("time"), str)
                      and "value" in point]
    return kept


def merge(existing: Series, additions: Series) -> t.Tuple[Series, int]:
    """``(merged, points added)``: a point at a time its series holds already is not added."""
    merged = {name: list(points) for name, points in existing.items()}
    added = 0
    for name, points in additions.items():
        current = merged.setdefault(name, [])
        times = set(point.get("time") for point in current)
        for point in points:
            if point["time"] in times:
                continue
            current.append(dict(point))
            times.add(point["time"])
            added += 1
        current.sort(key=lambda point: str(point.get("time")))
        del current[:-MAX_POINTS]
    return merged, added


def dump(series: Series) -> str:
    return json.dumps(series, indent=1, sort_keys=True) + "\n"


def add_series(directory: str, incident_id: str, series: t.Any, check_mode: bool = False) -> t.Dict[str, t.Any]:
    """Add ``series`` points to the incident's ``series.json``; ``{path, added, changed}``.

    Under the incident's lock, written atomically, never through a link; check mode writes nothing.
    """
    additions = normalize(series)
    paths = record_paths(check_directory(directory), incident_id)
    path = series_path(directory, incident_id)
    check_paths(directory, paths)
    fileutil.check_regular_or_absent(path)
    if check_mode or not additions:
        _merged, added = merge(load_series(path), additions)
        return {"path": path, "added": added, "changed": added > 0}
    ensure_dir(paths["dir"])
    with FileLock(paths["lock"]):
        check_paths(directory, paths)
        fileutil.check_regular_or_absent(path)
        merged, added = merge(load_series(path), additions)
        if added:
            atomic_write(path, dump(merged))
    return {"path": path, "added": added, "changed": added > 0}
