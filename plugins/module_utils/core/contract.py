# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action contract every module that changes something follows.

* ``incident_id``: which incident the change is made for. One rule
  (:data:`INCIDENT_ID_PATTERN`) for every module: the id appears in file
  names, backup names, Kubernetes annotations and the incident record, so it
  is letters, digits, ``.``, ``_`` and ``-``, starts with a letter or digit
  and is at most 63 characters long. The ``incident`` module generates ids of
  the form ``INC-YYYYMMDD-HHMMSS[-suffix]``, a subset of this rule.
* ``confirm``: where the change is destructive it must equal ``incident_id``;
  check mode needs no confirmation (it changes nothing).
* ``action``: a short name of the step (``restore``, ``contain`` ...), so that
  two steps of one incident are told apart in the recorded markers.
* check mode is truthful, ``diff`` is returned only under ``--diff`` (the
  runner drops it otherwise), ``changed`` comes from before/after and the undo
  is recorded (returned as ``undo`` and kept where the change was made).

Options are documented once in the ``airlock.incident.action`` doc fragment.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

INCIDENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
INCIDENT_ID_RE = re.compile(INCIDENT_ID_PATTERN)
#: The accepted values, as every refusal states them.
INCIDENT_ID_RULE = ("letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters "
                    "(for example INC-20261128-160000)")

ACTION_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
ACTION_RULE = "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters"

#: Seconds a wait may be given, inclusive.
WAIT_TIMEOUT_RANGE = (1, 3600)


def incident_id_error(value: t.Any, field: str = "incident_id", required: bool = True) -> t.Optional[str]:
    """The refusal message for an incident id, or None when it is acceptable (or absent and optional)."""
    if value is None or value == "":
        return "%s: required; accepted values: %s" % (field, INCIDENT_ID_RULE) if required else None
    if not isinstance(value, str) or not INCIDENT_ID_RE.match(value) or value.endswith("\n"):
        return "%s: invalid value %r; accepted values: %s" % (field, value, INCIDENT_ID_RULE)
    return None


def validate_incident_id(value: t.Any, field: str = "incident_id", required: bool = True) -> t.Optional[str]:
    """The incident id, or None when absent and optional; :class:`InputError` naming the field otherwise."""
    error = incident_id_error(value, field, required)
    if error:
        raise InputError(error)
    return value or None


def action_error(value: t.Any, field: str = "action") -> t.Optional[str]:
    """The refusal message for an action name, or None."""
    if not isinstance(value, str) or not ACTION_RE.match(value):
        return "%s: invalid value %r; accepted values: %s" % (field, value, ACTION_RULE)
    return None


def wait_timeout_error(value: t.Any, field: str = "wait_timeout") -> t.Optional[str]:
    """The refusal message for a wait timeout in seconds, or None."""
    low, high = WAIT_TIMEOUT_RANGE
    if value is None or isinstance(value, bool) or not low <= value <= high:
        return "%s: invalid value %r; accepted values: %d to %d seconds" % (field, value, low, high)
    return None


def confirm_error(params: t.Mapping[str, t.Any], check_mode: bool, doing: str) -> t.Optional[str]:
    """The refusal when a destructive change is not confirmed: ``confirm`` must equal ``incident_id``.

    Check mode changes nothing and needs no confirmation.
    """
    if check_mode or params.get("confirm") == params.get("incident_id"):
        return None
    return "confirm: must equal incident_id (%r) to %s; got %r" % (params.get("incident_id"), doing, params.get("confirm"))


def action_errors(params: t.Mapping[str, t.Any], check_mode: bool, doing: str,
                  fields: t.Iterable[str] = ("incident_id", "action", "wait_timeout", "confirm")) -> t.List[str]:
    """Every refusal of the contract's options, in the order of ``fields``; empty when all are acceptable."""
    checks: t.Dict[str, t.Callable[[], t.Optional[str]]] = {
        "incident_id": lambda: incident_id_error(params.get("incident_id")),
        "action": lambda: action_error(params.get("action")),
        "wait_timeout": lambda: wait_timeout_error(params.get("wait_timeout")),
        "confirm": lambda: confirm_error(params, check_mode, doing),
    }
    errors = [checks[field]() for field in fields]
    return [error for error in errors if error]


def marker(params: t.Mapping[str, t.Any]) -> str:
    """``<incident_id>/<action>``: what the recorded undo markers hold."""
    return "%s/%s" % (params["incident_id"], params["action"])
