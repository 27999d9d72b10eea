# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``python -m airlock_lab`` runs the lab CLI."""

from __future__ import annotations

import sys

from airlock_lab.cli import main

sys.exit(main())
