# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The errors of the evidence package, both in the collection's one error model."""

from __future__ import annotations

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError


class EvidenceError(AirlockIncidentError):
    """An evidence bundle that cannot be collected or checked; ``msg`` says which item and why."""


class ScanError(InputError):
    """A scan that cannot start (bad pattern name, missing file): refused before anything is read."""
