# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one runner: every module is ``run(module) -> dict`` executed by :func:`run_module`.

* The human sentence is always ``msg``.
* ``diff`` is returned only when the user asked for it (``--diff``).
* A domain error (:class:`AirlockIncidentError` or a subclass) fails the module
  with its message and whatever it learned before the failure; keys listed in
  :data:`INTERNAL_KEYS` are markers between layers, never results.
* Anything else is a bug and fails with the traceback, as Ansible does.
"""

from __future__ import annotations

import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError

#: Keys errors carry between layers that are not module results.
INTERNAL_KEYS = ("status", "unreachable")


def finish(module: t.Any, result: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """The result as the module returns it: ``changed`` always present, ``diff`` only under ``--diff``."""
    result = dict(result)
    result.setdefault("changed", False)
    if not getattr(module, "_diff", False):
        result.pop("diff", None)
    return result


def run_module(module: t.Any, run: t.Callable[[t.Any], t.Dict[str, t.Any]]) -> None:
    """Run ``run(module)`` and exit with its result, or fail with the error's message and partial result."""
    try:
        result = run(module)
    except AirlockIncidentError as exc:
        fields = finish(module, exc.result)
        for key in INTERNAL_KEYS + ("msg", "failed"):
            fields.pop(key, None)
        module.fail_json(msg=exc.msg, **fields)
        return
    module.exit_json(**finish(module, result))
