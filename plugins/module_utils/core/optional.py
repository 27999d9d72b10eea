# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Optional third-party packages, imported once so that importing a module_utils file never fails.

A module that needs the package checks ``error`` and fails with
``missing_required_lib(name)``; code that merely imports the file keeps working
on a host without it.
"""

from __future__ import annotations

import importlib
import typing as t


def optional_import(name: str) -> t.Tuple[t.Any, t.Optional[ImportError]]:
    """``(module, None)`` when ``name`` imports, ``(None, the ImportError)`` when it does not."""
    try:
        return importlib.import_module(name), None
    except ImportError as exc:  # pragma: no cover - exercised on hosts without the package
        return None, exc
