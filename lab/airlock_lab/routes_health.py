# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Health and metrics routes of the lab Airlock: ``/live``, ``/health``, ``/ready``, ``/info``
and the Prometheus endpoint (``documented`` profile)."""

from __future__ import annotations

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema

from airlock_lab import VERSION
from airlock_lab.httpbase import BaseHandler, json_body
from airlock_lab.util import rfc3339_now


class HealthRoutes(BaseHandler):
    """``/live``, ``/health``, ``/ready``, ``/info`` and ``/metrics``."""

    def _live(self, started):
        self._write_body(200, json_body([("status", "alive"), ("timestamp", rfc3339_now())]))
        self._log_request(200, started)

    def _health(self, started):
        self._write_body(200, json_body([("status", "healthy"), ("timestamp", rfc3339_now())]))
        self._log_request(200, started)

    def _info(self, started):
        pairs = [("service", "mcp-airlock"), ("version", VERSION), ("timestamp", rfc3339_now())]
        if self.lab.documented:
            pairs += [("commit", "unknown"), ("build_time", "unknown"), ("build", "airlock-lab documented")]
        self._write_body(200, json_body(pairs))
        self._log_request(200, started)

    def _metrics(self, started):
        body = self.lab.metrics.render()
        self._write_body(200, body, "text/plain; version=0.0.4; charset=utf-8")
        self._log_request(200, started, level="debug")

    def _metrics_path(self):
        enabled = schema.get(self.lab.document, "observability.metrics.enabled")
        if enabled is False or str(enabled).lower() == "false":
            return None
        return schema.get(self.lab.document, "observability.metrics.path") or "/metrics"

    def _ready(self, started):
        lab = self.lab
        if not lab.documented:
            # The release registers no checks: ready as soon as it serves.
            self._write_body(200, json_body([("status", "ready"), ("timestamp", rfc3339_now())]))
            self._log_request(200, started)
            return
        ready, checks = lab.readiness()
        status = 200 if ready else 503
        body = json_body([("status", "ready" if ready else "not_ready"), ("timestamp", rfc3339_now()),
                          ("checks", checks)])
        self._write_body(status, body)
        self._log_request(status, started, **({} if ready else {"checks": checks}))
