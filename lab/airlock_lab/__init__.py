# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab Airlock: a loopback stand-in for MCP Airlock used for tests and drills.

Everything here runs on 127.0.0.1 only. ``airlock_lab.cli`` is the command
line (``lab/bin/airlock-lab``), ``airlock_lab.server`` the Airlock process (its request handler
is composed of ``httpbase``, ``routes_health``, ``routes_admin``, ``routes_mcp`` and ``sse``;
``oidc`` validates tokens, ``upstreams`` serves the canned upstreams),
``airlock_lab.idp`` the OIDC identity provider of the ``documented`` profile.
"""

from __future__ import annotations

import os
import sys

LAB_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(LAB_ROOT)
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".collections")
LAUNCHER = os.path.join(LAB_ROOT, "bin", "airlock-lab")
DEFAULT_CONFIG = os.path.join(LAB_ROOT, "config", "config.yaml")
DEFAULT_POLICY = os.path.join(LAB_ROOT, "config", "policy.rego")
DENY_ALL_POLICY = os.path.join(LAB_ROOT, "config", "policy-denies-all.rego")

PROFILES = ("release", "documented")
#: The version the lab Airlock reports (/info, the admin status, the start log), as a dev build does.
VERSION = "dev"

if os.path.isdir(COLLECTIONS_ROOT) and COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)
