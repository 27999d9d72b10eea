# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The incident report (and review) as one self-contained HTML page: the timeline as a chart, series as plots.

Pure functions of a record (:mod:`.model`) and optional series. No script, no
external asset (styles and SVG are inline), every text escaped: the page can
be mailed as an attachment and opened anywhere.

Series are ``{name: [{"time": RFC 3339, "value": number}, ...]}`` (for
example ``deny_rate``, ``latency_p95_ms``, ``restarts``); points that are not
a time and a finite number are skipped and counted.
"""

from __future__ import annotations

import datetime
import html
import math
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.incident.model import (
    SEVERITIES,
    TYPES,
    IncidentError,
    Record,
    format_duration,
    parse_time,
)

#: Timeline lanes: (label, colour, kinds); entries of other kinds go to "notes".
LANES: t.List[t.Tuple[str, str, t.Tuple[str, ...]]] = [
    ("detection", "#b91c1c", ("detected", "detection", "declared", "severity", "type", "commander", "correction")),
    ("status", "#7c3aed", ("status", "resolved", "review")),
    ("actions", "#c2410c", ("action", "evidence", "monitoring")),
    ("verification", "#15803d", ("verification",)),
    ("communication", "#1d4ed8", ("delivery", "delivery_failed", "notice", "escalation")),
    ("tasks", "#6b7280", ("task",)),
    ("notes", "#0f766e", ()),
]
WIDTH, LEFT, RIGHT, LANE_HEIGHT = 960, 120, 20, 34

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#111827;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #f3f4f6;text-align:left;
vertical-align:top}.facts td:first-child{color:#6b7280}.sev{display:inline-block;padding:2px 8px;border-radius:4px;
color:#fff;background:#b91c1c}.failed{color:#b91c1c}svg{display:block;margin:4px 0 12px}svg text{font-size:11px;
fill:#374151}.muted{color:#6b7280;font-size:12px}
"""


def _e(value: t.Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _time(value: t.Any) -> t.Optional[datetime.datetime]:
    try:
        return parse_time(value)
    except IncidentError:
        return None


def _lane(kind: t.Any) -> int:
    for index, (_label, _colour, kinds) in enumerate(LANES):
        if kind in kinds:
            return index
    return len(LANES) - 1


def _span(times: t.Sequence[datetime.datetime]) -> t.Tuple[datetime.datetime, float]:
    start = min(times)
    return start, max(1.0, (max(times) - start).total_seconds())


def _x(moment: datetime.datetime, start: datetime.datetime, seconds: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (moment - start).total_seconds() / seconds


def _axis(start: datetime.datetime, seconds: float, y: float) -> t.List[str]:
    parts = ['<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#9ca3af"/>' % (LEFT, y, WIDTH - RIGHT, y)]
    for step in range(5):
        moment = start + datetime.timedelta(seconds=seconds * step / 4)
        x = _x(moment, start, seconds)
        parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#9ca3af"/>' % (x, y, x, y + 4))
        anchor = "start" if step == 0 else ("end" if step == 4 else "middle")
        label = moment.strftime("%H:%M:%S")
        parts.append('<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>' % (x, y + 16, anchor, label))
    return parts


def timeline_svg(record: Record) -> str:
    """The timeline as an SVG chart: one lane per kind of entry, a marker per entry (its text as the tooltip)."""
    entries = [(moment, entry) for entry in record.get("timeline") or [] for moment in [_time(entry.get("time"))]
               if moment is not None]
    if not entries:
        return '<p class="muted">No timeline entry recorded.</p>'
    start, seconds = _span([moment for moment, _entry in entries])
    height = LANE_HEIGHT * len(LANES) + 30
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="Timeline">'
             % (WIDTH, height)]
    for index, (label, colour, _kinds) in enumerate(LANES):
        y = LANE_HEIGHT * index + LANE_HEIGHT / 2
        parts.append('<text x="0" y="%.1f" fill="%s">%s</text>' % (y + 4, colour, label))
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#f3f4f6"/>' % (LEFT, y, WIDTH - RIGHT, y))
    for moment, entry in entries:
        index = _lane(entry.get("kind"))
        colour = "#b91c1c" if entry.get("kind") == "delivery_failed" else LANES[index][1]
        parts.append('<circle cx="%.1f" cy="%.1f" r="5" fill="%s" fill-opacity="0.8"><title>%s %s</title></circle>'
                     % (_x(moment, start, seconds), LANE_HEIGHT * index + LANE_HEIGHT / 2, colour,
                        _e(entry.get("time")), _e(entry.get("text"))))
    parts += _axis(start, seconds, LANE_HEIGHT * len(LANES) + 4)
    parts.append("</svg>")
    return "".join(parts)


def _points(points: t.Any) -> t.Tuple[t.List[t.Tuple[datetime.datetime, float]], int]:
    good, skipped = [], 0
    for point in points if isinstance(points, list) else []:
        moment = _time(point.get("time")) if isinstance(point, dict) else None
        value = point.get("value") if isinstance(point, dict) else None
        if moment is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            skipped += 1
            continue
        good.append((moment, float(value)))
    return sorted(good, key=lambda item: item[0]), skipped


def series_svg(name: str, points: t.Any) -> str:
    """One series as an SVG line plot with its axis, minimum and maximum."""
    good, skipped = _points(points)
    note = ' <span class="muted">(%d damaged point%s skipped)</span>' % (skipped, "" if skipped == 1 else "s") \
        if skipped else ""
    if not good:
        return "<h3>%s</h3><p class=\"muted\">No usable point.%s</p>" % (_e(name), note)
    start, seconds = _span([moment for moment, _value in good])
    low, high = min(value for _m, value in good), max(value for _m, value in good)
    scale = (high - low) or 1.0
    plot = 140

    def y(value: float) -> float:
        return 10 + plot - plot * (value - low) / scale

    path = " ".join("%s%.1f,%.1f" % ("M" if index == 0 else "L", _x(moment, start, seconds), y(value))
                    for index, (moment, value) in enumerate(good))
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">'
             % (WIDTH, plot + 40, _e(name)),
             '<text x="0" y="%.1f">%s</text>' % (y(high) + 4, _e("%g" % high)),
             '<text x="0" y="%.1f">%s</text>' % (y(low) + 4, _e("%g" % low)),
             '<path d="%s" fill="none" stroke="#1d4ed8" stroke-width="2"/>' % path]
    parts += ['<circle cx="%.1f" cy="%.1f" r="3" fill="#1d4ed8"><title>%s %g</title></circle>'
              % (_x(moment, start, seconds), y(value), moment.strftime("%Y-%m-%dT%H:%M:%SZ"), value)
              for moment, value in good]
    parts += _axis(start, seconds, plot + 14)
    parts.append("</svg>")
    return "<h3>%s</h3>%s%s" % (_e(name), note, "".join(parts))


def _since(record: Record, moment: t.Any) -> str:
    start, end = _time(record.get("started_at")), _time(moment)
    if start is None or end is None:
        return "unknown"
    return format_duration((end - start).total_seconds())


def _facts(record: Record) -> str:
    timeline = record.get("timeline") or []
    first_action = next((entry.get("time") for entry in timeline if entry.get("kind") == "action"), None)
    rows = [
        ("Severity", "%s - %s" % (record.get("severity"), SEVERITIES.get(record.get("severity") or "", {}).get("name"))),
        ("Type", TYPES.get(record.get("type") or "", record.get("type"))),
        ("Status", record.get("status")),
        ("Incident Commander", record.get("commander") or "unassigned"),
        ("Started", record.get("started_at")),
        ("Resolved", record.get("resolved_at") or "not resolved"),
        ("Time to acknowledge", _since(record, record.get("declared_at"))),
        ("Time to mitigate", _since(record, first_action)),
        ("Time to resolve", _since(record, record.get("resolved_at"))),
    ]
    return '<table class="facts">%s</table>' % "".join("<tr><td>%s</td><td>%s</td></tr>" % (_e(k), _e(v)) for k, v in rows)


def _entries_table(record: Record) -> str:
    rows = []
    for entry in record.get("timeline") or []:
        css = ' class="failed"' if entry.get("kind") == "delivery_failed" else ""
        rows.append("<tr%s><td>%s</td><td>%s</td><td>%s</td></tr>" % (css, _e(entry.get("time")), _e(entry.get("kind")),
                                                                      _e(entry.get("text"))))
    return "<table><tr><th>Time (UTC)</th><th>Kind</th><th>Entry</th></tr>%s</table>" % "".join(rows)


def _items(values: t.Any, default: str) -> str:
    values = [value for value in (values or []) if value not in (None, "")]
    return "<ul>%s</ul>" % "".join("<li>%s</li>" % _e(value) for value in values) if values else \
        "<p class=\"muted\">%s</p>" % _e(default)


def render_html(record: Record, series: t.Optional[t.Mapping[str, t.Any]] = None, title: str = "Incident Report") -> str:
    """The whole page for ``record`` (and ``series``), titled ``title`` (``Incident Report``, ``Post-Incident Review``)."""
    if not isinstance(record, dict) or not record.get("id"):
        raise IncidentError("record: an incident record with an id is required")
    impact = record.get("impact") or {}
    plots = "".join(series_svg(str(name), points) for name, points in sorted((series or {}).items()))
    body = [
        "<h1>%s: %s</h1>" % (_e(title), _e(record["id"])),
        '<p><span class="sev">%s</span> %s</p>' % (_e(record.get("severity")), _e(record.get("title") or "")),
        _facts(record),
        "<h2>Timeline</h2>", timeline_svg(record),
        "<h2>Recorded series</h2>", plots or '<p class="muted">No series recorded.</p>',
        "<h2>Impact</h2>", _items([impact.get("business_impact"), impact.get("affected_users")]
                                  + list(impact.get("affected_services") or []), "Not assessed."),
        "<h2>Root cause</h2><p>%s</p>" % _e(record.get("root_cause") or "Not yet identified."),
        "<h2>Resolution</h2><p>%s</p>" % _e(record.get("resolution") or "Not yet resolved."),
        "<h2>Preventive measures</h2>", _items(record.get("preventive_measures"), "To be defined."),
        "<h2>All entries</h2>", _entries_table(record),
    ]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>%s %s</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><style>%s</style></head>'
            "<body>%s</body></html>\n" % (_e(title), _e(record["id"]), _CSS, "\n".join(body)))
