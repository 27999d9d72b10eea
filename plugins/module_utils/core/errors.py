# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one error model of airlock.incident.

Every domain error derives from :class:`AirlockIncidentError`; the runner
(:mod:`.runner`) turns it into ``fail_json(msg=..., **result)``. Raise with the
cause chained (``raise SomeError(...) from exc``) so a traceback under ``-vvv``
shows where it came from. :class:`InputError` is a refusal made before anything
is touched: its message names the field and the accepted values.
"""

from __future__ import annotations

import typing as t


class AirlockIncidentError(Exception):
    """An error a module reports with ``fail_json``.

    ``result`` carries whatever was learned before the failure so that the
    module can return it next to the message.
    """

    def __init__(self, msg: str = "", **result: t.Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result

    def __str__(self) -> str:
        return self.msg


class InputError(AirlockIncidentError, ValueError):
    """A refusal of an option's value, made before anything is read or changed."""


def choices_message(field: str, value: t.Any, accepted: t.Iterable[t.Any]) -> str:
    """A uniform 'bad value' message that names the field and the accepted values."""
    return "%s: invalid value %r; accepted values: %s" % (field, value, ", ".join(str(a) for a in accepted))
