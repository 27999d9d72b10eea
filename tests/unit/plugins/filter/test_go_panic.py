# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""go_panic: the real release's crash report is found in a log tail as the host outage role reads it (plain, or
with journalctl's prefixes), named as the known keep-alive crash, and nothing is found where there is none."""

from __future__ import annotations

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.filter.go_panic import go_panic

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "module_utils", "fixtures", "real_release_keepalive_panic.log")


def real_text():
    with open(FIXTURE, encoding="utf-8") as handle:
        return "".join(line for line in handle if not line.startswith("# "))


def test_the_real_crash_report_in_a_plain_log():
    crash = go_panic(real_text())
    assert crash["known_issue"] == "release_keepalive_crash"
    assert crash["text"].startswith("Go panic: send on closed channel in server.(*ClientConnection).sendMessage "
                                    "from sendErrorResponse (connection.go:684). This is MCP Airlock's own crash")
    assert crash["lines"][0] == "panic: send on closed channel" and len(crash["frames"]) == 4


def test_the_same_report_through_journalctl_short_iso_precise():
    journal = "\n".join("2026-12-06T02:58:13.428137+00:00 gw-1 airlock[4242]: " + line
                        for line in real_text().splitlines())
    crash = go_panic(journal)
    assert crash["known_issue"] == "release_keepalive_crash"
    assert crash["frames"][1]["file"].endswith("internal/server/connection.go:657")
    assert go_panic(journal.splitlines()) == crash


def test_no_report_no_answer_and_bad_input_is_refused():
    assert go_panic("2026-12-06T02:58:13Z\tINFO\tserver started\nsomething panicked: not at line start") is None
    assert go_panic("") is None and go_panic([]) is None and go_panic(None) is None
    with pytest.raises(AnsibleFilterError, match="text or a list of lines"):
        go_panic({"stdout": "panic: x"})
    with pytest.raises(AnsibleFilterError, match="text or a list of lines"):
        go_panic(["panic: x", 3])


def test_another_panic_is_not_the_known_crash():
    crash = go_panic("fatal error: concurrent map writes\n\ngoroutine 7 [running]:\nmain.main()\n\t/src/main.go:9 +0x1")
    assert crash["message"] == "concurrent map writes" and crash["known_issue"] is None
    assert crash["kind"] == "fatal error"
    assert crash["text"] == "Go fatal error: concurrent map writes in main.main (main.go:9)"
