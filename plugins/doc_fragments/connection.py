# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # Connection options shared by every module that talks to Airlock over HTTP.
    # Set them once for a play with module_defaults: group/airlock.incident.airlock.
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the Airlock gateway, without a path, for example V(https://airlock.example.com)
        or V(http://127.0.0.1:8080).
      - Airlock itself speaks plain HTTP on C(server.addr); TLS is normally terminated in front of it.
    type: str
    required: true
  token:
    description:
      - "Bearer token (a JWT from the identity provider Airlock trusts) sent as C(Authorization: Bearer <token>)."
      - "Builds that enforce authentication answer C(/mcp) with 401 without it; the current release ignores it."
      - Never logged.
    type: str
  timeout:
    description:
      - Seconds allowed for each HTTP request, connection and first response byte included.
      - Every probe is bounded by it, so an unresponsive gateway cannot hang the play.
    type: float
    default: 5.0
  validate_certs:
    description:
      - Verify the TLS certificate of an C(https) O(url).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificates used to verify an C(https) O(url).
    type: path
"""
