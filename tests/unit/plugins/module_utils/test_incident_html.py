# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML report: self-contained, escaped, and shown by a real headless browser (Debian's chromium)."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import struct
import subprocess
import zlib

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.incident import html, model

T0 = datetime.datetime(2026, 11, 28, 16, 0, 0, tzinfo=datetime.timezone.utc)
SERIES = {
    "deny_rate": [{"time": "2026-11-28T16:%02d:00Z" % m, "value": v} for m, v in ((0, 0.01), (5, 0.4), (10, 0.02))],
    "latency_p95_ms": [{"time": "2026-11-28T16:%02d:00Z" % m, "value": v} for m, v in ((0, 120), (5, 2300), (10, 140))]
    + [{"time": "later", "value": 1}, {"time": "2026-11-28T16:11:00Z", "value": float("nan")}],
    "restarts": [{"time": "2026-11-28T16:06:00Z", "value": 1}],
}


def record():
    rec = model.apply_changes(None, {"severity": "P0", "type": "service_outage", "title": "Gateway <down> & out",
                                     "commander": "Jane", "impact": {"affected_services": ["gateway"]}},
                              T0, "INC-20261128-160000")
    for minutes, text, kind in ((2, "Restarted the gateway", "action"),
                                (3, "[notification] delivered to oncall (email)", "delivery"),
                                (3, "[notification] not delivered to hook (webhook) after 3 attempts: HTTP 500",
                                 "delivery_failed"),
                                (9, "Verified: live 200 <script>alert(1)</script>", "verification")):
        rec = model.apply_changes(rec, {"timeline": [{"text": text, "kind": kind}]}, T0 + datetime.timedelta(minutes=minutes))
    return model.apply_changes(rec, {"status": "RESOLVED", "resolution": "restart"}, T0 + datetime.timedelta(minutes=10))


def test_page_is_self_contained_and_escaped():
    page = html.render_html(record(), SERIES)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Gateway &lt;down&gt; &amp; out" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert page.count("<svg") == 4  # the timeline and three series
    assert "(2 damaged points skipped)" in page
    assert "Time to resolve</td><td>10m 0s" in page and "Time to mitigate</td><td>2m 0s" in page
    assert 'fill="#b91c1c" fill-opacity="0.8"><title>2026-11-28T16:03:00Z [notification] not delivered' in page


def test_a_record_without_id_is_refused():
    with pytest.raises(model.IncidentError, match="record: an incident record with an id is required"):
        html.render_html({"timeline": []})


def _png_pixels(path):
    """Decode an 8-bit RGB/RGBA PNG (what chromium writes) into rows of pixel tuples."""
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind, cur = line[0], bytearray(line[1:])
        for i in range(stride):
            a = cur[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                cur[i] = (cur[i] + a) & 255
            elif kind == 2:
                cur[i] = (cur[i] + b) & 255
            elif kind == 3:
                cur[i] = (cur[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(cur[x:x + 3]) for x in range(0, stride, channels)])
        prev = cur
    return rows


def test_a_real_browser_shows_the_page(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (Debian package chromium): the browser check of the HTML report did not run")
    page = tmp_path / "incident.html"
    page.write_text(html.render_html(record(), SERIES), encoding="utf-8")
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
         "--v=0", "--no-first-run", "--user-data-dir=%s" % (tmp_path / "profile"), "--window-size=1100,900",
         "--screenshot=%s" % shot, page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False, env=dict(os.environ, HOME=str(tmp_path)))
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    pixels = _png_pixels(str(shot))
    colours = set(pixel for row in pixels[::10] for pixel in row[::10])
    assert len(pixels) == 900 and len(colours) > 20  # text, the severity badge and the charts, not a blank page
    assert (185, 28, 28) in colours  # the red severity badge / failed delivery marker was painted
