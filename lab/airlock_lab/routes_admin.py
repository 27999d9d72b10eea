# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Admin routes of the lab Airlock (``documented`` profile): ``/admin/policy/reload``,
``/admin/status`` and ``/admin/config``, for a bearer token of the admin group."""

from __future__ import annotations

import time

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema

from airlock_lab import VERSION
from airlock_lab.httpbase import BaseHandler, compact
from airlock_lab.oidc import AuthError

ADMIN_PATHS = ("/admin/policy/reload", "/admin/status", "/admin/config")


class AdminRoutes(BaseHandler):
    """The admin endpoints."""

    def _admin(self, path, started):
        claims = self._admin_claims(started)
        if claims is None:
            return
        if path == "/admin/policy/reload":
            self._admin_reload(started, claims)
            return
        if path == "/admin/status":
            self._admin_status(started, claims)
            return
        # /admin/config: the effective configuration, secrets elided
        self._write_body(200, compact({"config": self.lab.document}, default=str))
        self._log_request(200, started, subject=claims.get("sub"))

    def _admin_claims(self, started):
        """The claims of an admin's token; None when refused (the 401/403 is written)."""
        lab = self.lab
        token = self._bearer()
        if not token:
            self._write_body(401, compact({"error": "unauthorized", "message": "missing bearer token"}),
                             headers={"WWW-Authenticate": 'Bearer realm="airlock-admin"'})
            self._log_request(401, started, level="warn")
            return None
        try:
            claims = lab.auth.validate(token)
        except AuthError as exc:
            self._write_body(401, compact({"error": "unauthorized", "message": str(exc)}),
                             headers={"WWW-Authenticate": 'Bearer realm="airlock-admin", error="invalid_token"'})
            self._log_request(401, started, level="warn", error=str(exc))
            return None
        if lab.admin_group not in claims["groups"]:
            self._write_body(403, compact({"error": "forbidden",
                                           "message": "admin group %s required" % lab.admin_group}))
            self._log_request(403, started, level="warn", subject=claims.get("sub"))
            return None
        return claims

    def _admin_reload(self, started, claims):
        lab = self.lab
        if self.command != "POST":
            self._write_body(405, compact({"error": "method not allowed"}), headers={"Allow": "POST"})
            self._log_request(405, started)
            return
        ok = lab.load_policy(initial=False)
        active = lab.policy.sha256 if lab.policy else None
        if ok:
            self._write_body(200, compact({"status": "reloaded", "policy_sha256": active}))
            self._log_request(200, started, subject=claims.get("sub"))
        else:
            self._write_body(422, compact({"status": "failed", "error": lab.last_reload_error or
                                           lab.policy_error, "active_policy_sha256": active}))
            self._log_request(422, started, level="warn", subject=claims.get("sub"))

    def _admin_status(self, started, claims):
        lab = self.lab
        ready, checks = lab.readiness()
        document = {
            "status": "ready" if ready else "not_ready",
            "checks": checks,
            "profile": lab.profile,
            "version": VERSION,
            "uptime_seconds": round(time.time() - lab.started_at, 3),
            "policy": {"file": schema.get(lab.document, "policy.rego_file"),
                       "sha256": lab.policy.sha256 if lab.policy else None,
                       "loaded_at": lab.policy.loaded_at if lab.policy else None,
                       "last_error": lab.last_reload_error or lab.policy_error},
            "audit": {"database": lab.audit.path if lab.audit else None,
                      "events_written": lab.audit.events_written if lab.audit else 0},
            "active_connections": lab.metrics.active_connections,
            "upstreams": [u["name"] for u in lab.upstreams.items],
            "faults": sorted(lab.faults()),
        }
        self._write_body(200, compact(document))
        self._log_request(200, started, subject=claims.get("sub"))
