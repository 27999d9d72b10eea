# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: go_panic
short_description: The Go crash report in an MCP Airlock log, and whether it is the release's known crash
version_added: 0.1.0
description:
  - Finds the last Go crash report (C(panic:) or C(fatal error:) at the start of a line, then the panicking
    goroutine's stack) in a log tail, as C(journalctl) (its C(short-iso) prefixes are removed), a logs command or
    C(kubectl logs) return it.
  - Names the released gateway's own crash under keep-alive requests (C(send on closed channel) in
    C(ClientConnection.sendMessage) from C(sendErrorResponse)) as C(release_keepalive_crash), with what to do.
  - Returns null when the log has no crash report. The same reading gives M(airlock.incident.k8s_triage)'s
    C(go_panic) finding.
options:
  _input:
    description: The log text, or its lines.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Read the service log
  ansible.builtin.command:
    argv: [journalctl, --unit, airlock, --lines, "200", --no-pager, --output, short-iso-precise]
  register: service_log
  changed_when: false

- name: Say why the gateway died
  ansible.builtin.debug:
    msg: "{{ crash.text if crash else 'no Go crash report in the log' }}"
  vars:
    crash: "{{ service_log.stdout | airlock.incident.go_panic }}"
"""

RETURN = r"""
_value:
  description: The crash report, or null when there is none.
  type: dict
  contains:
    kind:
      description: V(panic) or V(fatal error) (a runtime fault such as concurrent map writes).
      type: str
    message:
      description: The panic message, for example V(send on closed channel) (at most 200 characters).
      type: str
    frames:
      description: The panicking goroutine's frames, innermost first (at most 8), each with C(function) and C(file)
        (C(path.go:line), or null).
      type: list
      elements: dict
    known_issue:
      description: V(release_keepalive_crash) for the release's keep-alive crash, else null.
      type: str
    lines:
      description: The crash report's lines as they appear in the log (prefixes removed).
      type: list
      elements: str
    text:
      description: One sentence - the panic, where it happened and, for a known crash, what it is and what to do.
      type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.module_utils.airlock.crash import describe
from ansible_collections.airlock.incident.plugins.module_utils.airlock.crash import go_panic as _go_panic


def go_panic(log: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    """The last Go crash report in ``log`` (text or lines) with its description, or None."""
    if log is None:
        return None
    if isinstance(log, (list, tuple)):
        if not all(isinstance(line, str) for line in log):
            raise AnsibleFilterError("go_panic expects the log as text or a list of lines (strings)")
    elif not isinstance(log, str):
        raise AnsibleFilterError("go_panic expects the log as text or a list of lines, got %s" % type(log).__name__)
    panic = _go_panic(log)
    if panic is None:
        return None
    panic["text"] = describe(panic)
    return panic


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"go_panic": go_panic}
