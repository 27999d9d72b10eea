# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Go crash reports in MCP Airlock's output: what crashed, where, and whether it is a known crash of the release.

A Go program that panics writes ``panic: <message>`` (or ``fatal error: <message>`` for a runtime fault) at the
start of a line of its stderr, then ``goroutine N [running]:`` and two lines per stack frame (the function with its
arguments, then a tab and ``file.go:line +0x..``), innermost first, and exits with status 2. The log may carry a
prefix per line (``journalctl --output short-iso-precise``: time, host and unit); it is removed first.

Log text is input from the service, so everything taken from it is bounded.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.redact import mask_patterns

#: The first line of a Go crash report (the runtime writes it at the start of a line).
GO_PANIC_RE = re.compile(r"^(panic|fatal error): (.*)$")
#: The function of a stack frame: ``pkg.(*Type).Method``, ``main.main``, ``pkg.F[...].func4``.
GO_FUNCTION_RE = re.compile(r"[\w./*()\[\]-]+")
GO_FILE_RE = re.compile(r"^\s+(\S+\.go:\d+)")
#: journalctl's short-iso(-precise) prefix: ``2026-12-06T02:58:13.428137+00:00 host unit[pid]: ``.
JOURNAL_PREFIX_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\S+ \S+ [^\s:]+(?:\[\d+\])?: ")
#: The released gateway's crash under keep-alive requests (internal/server/connection.go).
KEEPALIVE_CRASH = "release_keepalive_crash"
MAX_FRAMES = 8
MAX_TEXT = 200
#: Longer lines are cut before they are read: a crash report's lines are short, a hostile log's need not be.
MAX_LINE = 4096

Obj = t.Dict[str, t.Any]


def _strip(lines: t.Sequence[str]) -> t.List[str]:
    return [JOURNAL_PREFIX_RE.sub("", line[:MAX_LINE], count=1) for line in lines]


def _frame(line: str) -> t.Optional[str]:
    """The function of a stack-frame line ``pkg.(*Type).Method(0x1, {0x2, 0x3})``, else None.

    The arguments are the last parenthesis that is not a receiver's ``(*Type)``; no regular expression runs over
    the whole line (linear in its length whatever it holds).
    """
    if not line.endswith(")") or line[:1].isspace():
        return None
    opening = line.rfind("(")
    while opening > 0 and line[opening + 1:opening + 2] == "*":
        opening = line.rfind("(", 0, opening)
    if opening <= 0:
        return None
    name = line[:opening]
    return name if GO_FUNCTION_RE.fullmatch(name) else None


def go_panic(lines: t.Union[str, t.Sequence[str]]) -> t.Optional[Obj]:
    """The last Go crash report in a log tail, else None.

    ``kind`` (``panic`` or ``fatal error``), ``message``, ``frames`` (``function`` and ``file``, innermost first, at most 8), ``known_issue``
    (:data:`KEEPALIVE_CRASH` for the release's keep-alive crash, else None) and ``lines`` (the report).
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    lines = _strip([line for line in lines if line.strip()])
    start = None
    for index, line in enumerate(lines):
        if GO_PANIC_RE.match(line):
            start = index
    if start is None:
        return None
    match = GO_PANIC_RE.match(lines[start])
    kind = match.group(1) if match else "panic"
    # A panic message is the program's own text: credentials in it (a bearer token, a URL's password) are masked.
    message = mask_patterns(match.group(2).strip())[:MAX_TEXT] if match else ""
    frames: t.List[Obj] = []
    end = start + 1
    for index in range(start + 1, len(lines)):
        function = _frame(lines[index])
        if function is None:
            continue
        where = GO_FILE_RE.match(lines[index + 1]) if index + 1 < len(lines) else None
        frames.append(dict(function=function[:MAX_TEXT], file=where.group(1)[:MAX_TEXT] if where else None))
        end = index + (2 if where else 1)
        if len(frames) == MAX_FRAMES:
            break
    names = [f["function"].rsplit(".", 1)[-1] for f in frames]
    known = None
    if (message == "send on closed channel" and names[:2] == ["sendMessage", "sendErrorResponse"]
            and "(*ClientConnection)" in frames[0]["function"]):
        known = KEEPALIVE_CRASH
    return dict(kind=kind, message=message, frames=frames, known_issue=known,
                lines=[mask_patterns(line)[:MAX_TEXT * 2] for line in lines[start:end]])


def where(panic: Obj) -> str:
    """`` in server.(*ClientConnection).sendMessage from sendErrorResponse (connection.go:684)``, or ''."""
    if not panic["frames"]:
        return ""
    top = panic["frames"][0]
    caller = panic["frames"][1]["function"].rsplit(".", 1)[-1] if len(panic["frames"]) > 1 else None
    return " in %s%s%s" % (top["function"].rsplit("/", 1)[-1], " from %s" % caller if caller else "",
                           " (%s)" % top["file"].rsplit("/", 1)[-1] if top["file"] else "")


#: What to say about a known crash, after the panic itself.
KNOWN_ISSUES = {
    KEEPALIVE_CRASH: (
        "This is MCP Airlock's own crash under keep-alive requests (an error reply sent on a connection that is "
        "closing); a restart recovers it and no configuration change prevents it. Clients that send "
        "Connection: close avoid it; keep the crash report for the upstream issue"),
}


def describe(panic: Obj) -> str:
    """One sentence about the crash: the message, where, and what is known about it."""
    text = "Go %s: %s%s" % (panic["kind"], panic["message"], where(panic))
    if panic["known_issue"] in KNOWN_ISSUES:
        text += ". " + KNOWN_ISSUES[panic["known_issue"]]
    return text
