# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The forensic modules (audit_snapshot, audit_query, audit_verify, log_scan).
    # airlock.incident.forensics: no diff mode. airlock.incident.forensics.read_only:
    # modules that never change anything. airlock.incident.forensics.database: the
    # modules that read an audit database (no diff mode, where they run, busy_timeout);
    # it stands alone (do not combine it with airlock.incident.forensics).
    DOCUMENTATION = r"""
options: {}
attributes:
  diff_mode:
    support: none
    description: Nothing is shown as a diff (what a run would write is reported in its result).
"""

    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  idempotent:
    support: full
    description: It never changes anything.
"""

    DATABASE = r"""
options:
  busy_timeout:
    description: Seconds to wait for a lock held by another connection before failing, from 0 to 2147483 (SQLite's limit; V(inf) and V(nan) are refused).
    type: float
    default: 5.0
attributes:
  diff_mode:
    support: none
    description: Nothing is shown as a diff (what a run would write is reported in its result).
  platform:
    support: full
    platforms: posix
    description: Runs where the database file is, usually on the Airlock host or against a copy.
"""
