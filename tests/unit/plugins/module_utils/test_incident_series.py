# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""series.json: points added once, under the record's lock, atomically, never through a link; plotted in the HTML."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import UnsafePathError
from ansible_collections.airlock.incident.plugins.module_utils.incident import html, series, store, task
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import IncidentError

IID = "INC-20261128-160000"
T0 = datetime.datetime(2026, 11, 28, 16, 0, 0, tzinfo=datetime.timezone.utc)


def params(directory, **extra):
    base = dict((key, None) for key in task.CHANGE_KEYS)
    base.update(directory=str(directory), id=IID, severity="P1", type="policy_failures", reopen=False,
                notify="none", series=None)
    base.update(extra)
    return base


def test_points_are_added_once_and_a_rerun_changes_nothing(tmp_path):
    points = {"deny_rate": [{"time": "2026-11-28T16:05:00Z", "value": 0.4}, {"time": "2026-11-28T16:06:00Z", "value": "0.5"}]}
    first = task.run(params(tmp_path, series=points), check_mode=False, now=T0)
    assert first["changed"] and first["series_added"] == 2
    assert first["series_path"] == str(tmp_path / IID / "series.json")
    rerun = task.run(params(tmp_path, series=points), check_mode=False, now=T0)
    assert not rerun["changed"] and rerun["series_added"] == 0
    more = {"deny_rate": [{"time": "2026-11-28T16:04:00+00:00", "value": 0.1}],
            "latency_p95_ms": [{"time": "2026-11-28T16:05:00Z", "value": 2300}]}
    later = task.run(params(tmp_path, series=more), check_mode=False, now=T0)
    assert later["series_added"] == 2
    recorded = json.loads((tmp_path / IID / "series.json").read_text())
    assert [p["value"] for p in recorded["deny_rate"]] == [0.1, 0.4, 0.5]  # ordered by time
    assert recorded["latency_p95_ms"] == [{"time": "2026-11-28T16:05:00Z", "value": 2300}]


def test_check_mode_writes_nothing(tmp_path):
    task.run(params(tmp_path), check_mode=False, now=T0)
    result = task.run(params(tmp_path, series={"restarts": [{"time": "2026-11-28T16:05:00Z", "value": 1}]}),
                      check_mode=True, now=T0)
    assert result["changed"] and result["series_added"] == 1
    assert not (tmp_path / IID / "series.json").exists()


@pytest.mark.parametrize("bad, field", [
    ({"Deny Rate": []}, "series: invalid name 'Deny Rate'"),
    ({"deny_rate": "0.4"}, "series.deny_rate: a list"),
    ({"deny_rate": [{"time": "2026-11-28T16:05:00Z", "value": float("nan")}]}, "series.deny_rate[0].value"),
    ({"deny_rate": [{"time": "yesterday", "value": 1}]}, "series.deny_rate[0].time"),
    ({"deny_rate": [{"time": "2026-11-28T16:05:00Z", "value": True}]}, "series.deny_rate[0].value"),
    ({"deny_rate": [{"time": "2026-11-28T16:05:00Z", "value": 1, "unit": "%"}]}, "series.deny_rate[0]: a mapping"),
])
def test_bad_points_are_refused_by_field_before_anything_is_written(tmp_path, bad, field):
    with pytest.raises(IncidentError, match=field.replace("[", "\\[").replace("]", "\\]").replace("(", "\\(")):
        task.run(params(tmp_path, series=bad), check_mode=False, now=T0)
    assert not (tmp_path / IID).exists()


def test_a_link_in_place_of_the_series_file_is_refused_and_not_followed(tmp_path):
    task.run(params(tmp_path), check_mode=False, now=T0)
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    os.symlink(str(target), str(tmp_path / IID / "series.json"))
    with pytest.raises(UnsafePathError):
        series.add_series(str(tmp_path), IID, {"restarts": [{"time": "2026-11-28T16:05:00Z", "value": 1}]})
    assert target.read_text() == "{}"


def test_a_damaged_file_is_never_overwritten_and_damaged_points_are_skipped(tmp_path):
    task.run(params(tmp_path), check_mode=False, now=T0)
    path = tmp_path / IID / "series.json"
    path.write_text("{not json")
    with pytest.raises(IncidentError, match="never overwritten"):
        series.add_series(str(tmp_path), IID, {"restarts": [{"time": "2026-11-28T16:05:00Z", "value": 1}]})
    assert path.read_text() == "{not json"
    path.write_text(json.dumps({"restarts": [{"time": "2026-11-28T16:01:00Z", "value": 1}, "junk", {"value": 2}]}))
    result = series.add_series(str(tmp_path), IID, {"restarts": [{"time": "2026-11-28T16:05:00Z", "value": 2}]})
    assert result["added"] == 1
    assert [p["value"] for p in series.load_series(str(path))["restarts"]] == [1, 2]


def test_the_html_report_plots_the_recorded_series(tmp_path):
    task.run(params(tmp_path, series={"deny_rate": [{"time": "2026-11-28T16:05:00Z", "value": 0.4},
                                                    {"time": "2026-11-28T16:10:00Z", "value": 0.9}]}),
             check_mode=False, now=T0)
    record = store.load_record(str(tmp_path / IID / "incident.json"))
    page = html.render_html(record, series.load_series(str(tmp_path / IID / "series.json")))
    assert '<h3>deny_rate</h3><svg' in page and 'aria-label="deny_rate"' in page
    assert "2026-11-28T16:10:00Z 0.9" in page
