# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: report_html
short_description: The incident report or review as one self-contained HTML page
version_added: 0.1.0
description:
  - Renders an incident record as one HTML page with no external asset and no script (inline styles and SVG),
    so it can be attached to a mail and opened anywhere.
  - The page holds the facts (severity, status, times, time to acknowledge, mitigate and resolve computed from the
    recorded timeline), the timeline as a chart (one lane per kind of entry, failed deliveries in red), the recorded
    series as plots, impact, root cause, resolution, preventive measures and every entry. All text is escaped.
options:
  _input:
    description: The incident record (C(incident.json), or the C(incident) return value of M(airlock.incident.incident)).
    type: dict
    required: true
  series:
    description:
      - Recorded series by name (for example C(deny_rate), C(latency_p95_ms), C(restarts)), each a list of
        C({time, value}) points; damaged points are skipped and counted.
    type: dict
    default: {}
  title:
    description: The page title.
    type: str
    default: Incident Report
"""

EXAMPLES = r"""
- name: Write the report page
  ansible.builtin.copy:
    content: "{{ record | airlock.incident.report_html(series=series | default({})) }}"
    dest: /srv/incidents/INC-20261128-101500/incident.html
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.incident.html import render_html


def report_html(record: t.Any, series: t.Any = None, title: str = "Incident Report") -> str:
    if series is not None and not isinstance(series, dict):
        raise AnsibleFilterError("report_html: series must be a mapping of names to lists of {time, value} points")
    try:
        return render_html(record, series or {}, str(title))
    except AirlockIncidentError as exc:
        raise AnsibleFilterError("report_html: %s" % exc) from exc


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"report_html": report_html}
