# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The action contract (plugins/module_utils/core/contract.py): every module
    # that changes something takes the incident id, a confirmation where the
    # change is destructive, and records its undo. Use as
    # airlock.incident.action (incident_id + confirm), plus
    # airlock.incident.action.named (action) and airlock.incident.action.wait.
    DOCUMENTATION = r"""
options:
  incident_id:
    description:
      - The incident this change is made for. It is recorded with the undo (in an annotation, a backup name or the
        incident record), so a rerun for the same incident recognises its own change.
      - One rule for every module of the collection - letters, digits, C(.), C(_) and C(-), starting with a letter
        or digit, at most 63 characters. The ids M(airlock.incident.incident) generates
        (C(INC-YYYYMMDD-HHMMSS[-suffix])) follow it.
    type: str
  confirm:
    description:
      - Must equal O(incident_id) for a destructive change to be made; anything else is refused before anything is
        touched. Not needed in check mode, which changes nothing.
    type: str
notes:
  - Check mode reports what would change and changes nothing; C(diff) is returned only with C(--diff).
  - The undo of every change is recorded and returned (RV(ignore:undo) where the module has one).
"""

    NAMED = r"""
options:
  action:
    description:
      - A short name of this step of the response (for example C(restore), C(contain), C(mitigate)); recorded
        with O(incident_id) as C(<incident_id>/<action>) so two steps of one incident are told apart.
      - Lowercase letters, digits, C(.), C(_) and C(-), starting with a letter or digit, at most 63 characters.
    type: str
"""

    WAIT = r"""
options:
  wait:
    description:
      - Wait until the change has rolled out (or the pods are back) before returning.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true), from 1 to 3600. When the time is up the module fails and names what
        was not ready.
    type: int
    default: 300
"""
