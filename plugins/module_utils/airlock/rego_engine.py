# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Rego engine ``regopy`` (rego-cpp), run in a child Python process.

What was learned about regopy 1.5.2, and how this file copes with it:

* it **crashes the process** (SIGSEGV) on some valid modules (``with input
  as <object>`` applied to a rule that uses other rules, typical of
  ``test_*`` rules), whatever the query, so every engine call runs in a child
  Python process (``ENGINE_WORKER``): a crash becomes an error on the one item
  being evaluated, never a dead module;
* ``Interpreter.query`` returns the text ``undefined`` when a rule is
  undefined, and its ``Output`` object fails to parse runtime errors; the
  worker uses the low-level calls and hands back the output *text*, which the
  caller parses as JSON (``Output.expressions()`` aborted the process);
* compile errors raise ``RegoError`` whose text is an AST dump
  (``(error 8:file.rego|46|2 (errormsg 16:this is unclosed) ...)``):
  :func:`parse_engine_error` extracts the message and turns the byte offset
  into ``file:line:col``;
* it lacks some OPA built-ins (``net.cidr_*``, ``http.send``, ``print``...).

The module does not import regopy itself: ``HAS_REGOPY`` tells whether the
interpreter running the module can, and the worker runs under the same
interpreter (``sys.executable``).
"""

from __future__ import annotations

import bisect
import json
import os
import re
import signal
import subprocess
import sys
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError

try:
    import regopy  # noqa: F401  (only probed here; the engine runs in ENGINE_WORKER)

    HAS_REGOPY = True
    REGOPY_IMPORT_ERROR: t.Optional[Exception] = None
    REGOPY_VERSION: t.Optional[str] = getattr(regopy, "__version__", "unknown")
except Exception as _exc:  # ImportError, or OSError when librego_shared cannot load
    HAS_REGOPY = False
    REGOPY_IMPORT_ERROR = _exc
    REGOPY_VERSION = None

#: Seconds one engine child may run before it is killed.
ENGINE_TIMEOUT = 120.0


class RegoCheckError(AirlockIncidentError):
    """The check itself could not run (not: the policy is bad)."""


# ---------------------------------------------------------------------------


def make_error(filename: t.Optional[str], line: t.Optional[int], col: t.Optional[int], code: str,
               message: str) -> t.Dict[str, t.Any]:
    return {"file": filename, "line": line, "col": col, "code": code, "message": message}


def format_error(error: t.Mapping[str, t.Any]) -> str:
    """``file:line:col: code: message`` (the form ``opa check`` prints, with a column)."""
    where = error.get("file") or "<policy>"
    if error.get("line"):
        where += ":%d" % error["line"]
        if error.get("col"):
            where += ":%d" % error["col"]
    code = error.get("code")
    return "%s: %s%s" % (where, (code + ": ") if code else "", error.get("message", ""))


class _Lines:
    """Byte offset -> (line, column) for one source text (both 1-based)."""

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8")
        self.starts = [0]
        for index, byte in enumerate(bytearray(self.data)):
            if byte == 10:
                self.starts.append(index + 1)

    def position(self, offset: int) -> t.Tuple[int, int]:
        offset = max(0, min(int(offset), len(self.data)))
        line = bisect.bisect_right(self.starts, offset)
        column = len(self.data[self.starts[line - 1]:offset].decode("utf-8", "replace")) + 1
        return line, column


def _length_prefixed(text: str, pos: int) -> t.Tuple[t.Optional[str], int]:
    """(value, end) for ``<n>:<n chars>`` at ``pos``; (None, pos) when absent."""
    match = re.compile(r"(\d+):").match(text, pos)
    if not match:
        return None, pos
    size = int(match.group(1))
    start = match.end()
    return text[start:start + size], start + size


def parse_engine_error(text: t.Any, sources: t.Mapping[str, str], default_file: t.Optional[str] = None,
                       code: str = "rego_parse_error") -> t.List[t.Dict[str, t.Any]]:
    """Errors from a regopy ``RegoError`` text (an AST dump) or a ``(error ...)`` output.

    ``sources`` maps module name to source text, to turn byte offsets into
    line and column. Returns a list of ``make_error`` dicts (at least one).
    """
    text = str(text or "")
    errors = []
    for match in re.finditer(r"\(error\b", text):
        pos = match.end()
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        filename = line = col = None
        name, after = _length_prefixed(text, pos)
        if name is not None:
            location = re.compile(r"\|(\d+)\|(\d+)").match(text, after)
            if location:
                filename = name
                if name in sources:
                    line, col = _Lines(sources[name]).position(int(location.group(1)))
        message = None
        msg_at = text.find("(errormsg", pos)
        if msg_at >= 0:
            value, dummy = _length_prefixed(text, msg_at + len("(errormsg") + 1)
            message = value
        if message is None:
            continue
        errors.append(make_error(filename or default_file, line, col, code, message.strip()))
    if not errors:
        stripped = " ".join(text.split())
        errors.append(make_error(default_file, None, None, code, stripped[:500] or "unknown engine error"))
    errors.sort(key=lambda e: (e["file"] or "", e["line"] or 0, e["col"] or 0))
    return errors


# ---------------------------------------------------------------------------
# the engine, in a child process
# ---------------------------------------------------------------------------

#: The child program: reads a JSON request on stdin, writes one line per event.
ENGINE_WORKER = r'''
import json, os, sys
_out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # rego-cpp prints diagnostics on stdout: keep them off the result channel
def emit(obj):
    _out.write("@@airlock-rego@@ " + json.dumps(obj) + "\n")
    _out.flush()
try:
    import regopy
    from regopy import rego_shared as rs
except Exception as exc:
    emit({"fatal": "cannot import regopy: %s" % (exc,)})
    sys.exit(0)
request = json.loads(sys.stdin.read())
modules = request["modules"]
emit({"version": getattr(regopy, "__version__", "unknown")})
for job in request["jobs"]:
    emit({"start": job["id"]})
    result = {"id": job["id"]}
    try:
        interpreter = regopy.Interpreter()
        if job["kind"] == "builtins":
            result["builtins"] = dict((name, bool(interpreter.is_builtin(name))) for name in job["names"])
        else:
            module_errors = []
            for index in job["modules"]:
                name, text = modules[index]
                try:
                    interpreter.add_module(name, text)
                except regopy.RegoError as exc:
                    module_errors.append([name, str(exc)])
            if module_errors:
                result["module_errors"] = module_errors
            elif job.get("query"):
                interpreter.set_input_term(json.dumps(job.get("input") or {}))
                handle = rs.rego_query(interpreter._impl, job["query"])
                try:
                    result["ok"] = bool(rs.rego_output_ok(handle))
                    result["output"] = rs.rego_output_string(handle)
                finally:
                    rs.rego_free_output(handle)
    except regopy.RegoError as exc:
        result["error"] = str(exc)
    except Exception as exc:
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
    emit(result)
'''

_PREFIX = "@@airlock-rego@@ "


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except (ValueError, AttributeError):
        return "signal %d" % -code


def run_engine(modules: t.Sequence[t.Tuple[str, str]], jobs: t.Sequence[t.Dict[str, t.Any]],
               python: t.Optional[str] = None, timeout: float = ENGINE_TIMEOUT
               ) -> t.Tuple[t.Dict[t.Any, t.Dict[str, t.Any]], t.Optional[str]]:
    """Run ``jobs`` in engine children; returns ``(results_by_id, version)``.

    ``modules`` is a list of ``(name, text)``; each job is a dict with ``id``,
    ``kind`` (``modules``, ``query`` or ``builtins``) and its arguments. When a
    child dies (a rego-cpp crash) the job it was running gets
    ``{"crashed": "SIGSEGV"}`` and the remaining jobs run in a new child.
    """
    python = python or sys.executable
    env = dict(os.environ)
    env["RUST_BACKTRACE"] = "0"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    results = {}
    version = None
    pending = list(jobs)
    while pending:
        request = json.dumps({"modules": [list(m) for m in modules], "jobs": pending})
        try:
            process = subprocess.Popen([python, "-c", ENGINE_WORKER], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        except OSError as exc:
            raise RegoCheckError("cannot start the Rego engine with %s: %s" % (python, exc)) from exc
        timed_out = False
        try:
            stdout, stderr = process.communicate(request.encode("utf-8"), timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            timed_out = True
        started = None
        for raw in stdout.decode("utf-8", "replace").splitlines():
            if not raw.startswith(_PREFIX):
                continue
            event = json.loads(raw[len(_PREFIX):])
            if "fatal" in event:
                raise RegoCheckError(event["fatal"])
            if "version" in event:
                version = event["version"]
            elif "start" in event:
                started = event["start"]
            elif "id" in event:
                results[event["id"]] = event
                started = None
        done = set(results)
        if started is not None and started not in done:
            if timed_out:
                reason = "timed out after %gs" % timeout
            elif process.returncode is not None and process.returncode < 0:
                reason = _signal_name(process.returncode)
            else:
                reason = "exit status %s" % process.returncode
            results[started] = {"id": started, "crashed": reason}
            done.add(started)
        remaining = [job for job in pending if job["id"] not in done]
        if len(remaining) == len(pending):
            detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise RegoCheckError("the Rego engine child failed before evaluating anything: %s" % detail[0])
        pending = remaining
    return results, version
