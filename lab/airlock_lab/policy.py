# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OPA/Rego evaluation with the real Rego engine (``regopy``, rego-cpp).

Airlock queries ``data.airlock.authz.allow``; only boolean ``true`` allows.
regopy returns the string ``undefined`` for a rule that does not evaluate, so
the whole package document is bound to a variable and read from the JSON
text of the output (``Output.expressions()`` is avoided: it aborted the
interpreter process in testing). A fresh Interpreter is used per evaluation
(about 5-10 ms); a lock serialises calls into the C++ engine.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time

try:
    import regopy

    HAS_REGOPY = True
except ImportError:  # pragma: no cover - regopy is in the lab's virtualenv
    regopy = None
    HAS_REGOPY = False

MODULE_NAME = "airlock.rego"
QUERY = "x := data.airlock.authz"


class PolicyLoadError(Exception):
    """The policy does not compile."""


_ERROR = re.compile(r"\(error \d+:([^|\s]+)\|(\d+)\|(\d+)\s*\(errormsg \d+:([^)]*)\)")


def _first_error_line(text, source=None):
    match = _ERROR.search(str(text))
    if match:
        name, offset, message = match.group(1), int(match.group(2)), match.group(4).strip()
        if source is not None:
            before = source.encode("utf-8")[:offset].decode("utf-8", "replace")
            line = before.count("\n") + 1
            column = len(before) - (before.rfind("\n") + 1) + 1
            return "%s:%d:%d: %s" % (name, line, column, message)
        return "%s: %s" % (name, message)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    for line in lines:
        if "errormsg" in line:
            return line.split("errormsg", 1)[1].strip(" )").split(":", 1)[-1].strip()
    return lines[0] if lines else "policy compilation failed"


class PolicyEngine:
    """A compiled policy source and its evaluation."""

    def __init__(self, source, path=None):
        self.source = source
        self.path = path
        self.sha256 = hashlib.sha256(source.encode("utf-8")).hexdigest()
        self.loaded_at = time.time()
        self._lock = threading.Lock()
        # compile check: evaluate once with an empty input
        self._query({})

    @classmethod
    def from_file(cls, path):
        try:
            with open(path, "rb") as handle:
                source = handle.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyLoadError("failed to read policy file %s: %s" % (path, exc))
        return cls(source, path)

    def _query(self, input_document):
        if not HAS_REGOPY:
            raise PolicyLoadError("the regopy package is not installed")
        with self._lock:
            try:
                interpreter = regopy.Interpreter()
                interpreter.add_module(MODULE_NAME, self.source)
                interpreter.set_input_term(json.dumps(input_document))
                output = str(interpreter.query(QUERY))
            except regopy.RegoError as exc:
                raise PolicyLoadError("policy compilation failed: %s" % _first_error_line(exc, self.source))
            except Exception as exc:  # defensive: the binding raises plain errors too
                raise PolicyLoadError("policy evaluation failed: %s" % exc)
        if output.strip() == "undefined":
            return {}
        try:
            parsed = json.loads(output)
        except ValueError:
            if "error" in output.lower():
                raise PolicyLoadError("policy evaluation failed: %s" % _first_error_line(output))
            return {}
        package = (parsed.get("bindings") or {}).get("x")
        return package if isinstance(package, dict) else {}

    def evaluate(self, input_document):
        """(allowed, rule_id, error) for one request.

        ``rule_id`` is the package's ``rule_id`` value when the policy defines
        one, else ``allow``/``default_deny``; ``error`` is None or the
        evaluation error (which denies).
        """
        try:
            package = self._query(input_document)
        except PolicyLoadError as exc:
            return False, "evaluation_error", str(exc)
        allowed = package.get("allow") is True
        rule_id = package.get("rule_id")
        if not isinstance(rule_id, str) or not rule_id:
            rule_id = "allow" if allowed else "default_deny"
        return allowed, rule_id, None


def input_digest(input_document):
    """sha256 of the canonical JSON of the policy input (the ``input_digest`` metadata)."""
    text = json.dumps(input_document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
