# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airlock.incident.url_check: an ansible-rulebook event source that probes the gateway.

Polls ``<url>/live`` and ``<url>/ready`` every ``delay`` seconds and puts an
Alertmanager-shaped event on the queue when the verdict changes:
``{"status": "firing", "labels": {"alertname": "AirlockUnreachable", ...}}``
when either probe fails (refused, timed out or not 2xx), ``"resolved"`` when
both answer 2xx again. A gateway that is up at the start emits nothing, so the
rulebook's rules treat it like any other Alertmanager alert.

    sources:
      - airlock.incident.url_check:
          url: https://airlock.example.com
          delay: 30
"""

from __future__ import annotations

import asyncio
import ssl
import typing as t
import urllib.error
import urllib.request

DOCUMENTATION = r"""
---
short_description: Probe MCP Airlock's /live and /ready and raise AirlockUnreachable.
description:
  - Polls the gateway's health endpoints and emits an Alertmanager-shaped event when it goes down
    (status firing) and when it comes back (status resolved).
options:
  url:
    description: Base URL of the gateway.
    type: str
    required: true
  delay:
    description: Seconds between probes.
    type: int
    default: 30
  timeout:
    description: Seconds allowed for each probe.
    type: float
    default: 5
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
"""

ALERT = "AirlockUnreachable"
PATHS = ("/live", "/ready")


def probe(url: str, timeout: float, validate_certs: bool) -> t.Dict[str, t.Any]:
    """The status of each health path: the HTTP status, or the error that prevented one."""
    context = None if validate_certs else ssl._create_unverified_context()  # pylint: disable=protected-access
    results: t.Dict[str, t.Any] = {}
    for path in PATHS:
        try:
            with urllib.request.urlopen(url.rstrip("/") + path, timeout=timeout, context=context) as resp:  # nosec B310
                results[path] = resp.status
        except urllib.error.HTTPError as exc:
            results[path] = exc.code
        except (urllib.error.URLError, OSError, ValueError) as exc:
            results[path] = "unreachable: %s" % (getattr(exc, "reason", None) or exc)
    return results


def event(url: str, results: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """The Alertmanager-shaped event for one verdict."""
    down = [p for p, status in results.items() if not (isinstance(status, int) and 200 <= status < 300)]
    return {
        "status": "firing" if down else "resolved",
        "labels": {"alertname": ALERT, "instance": url, "severity": "critical"},
        "annotations": {"summary": ("MCP Airlock %s failing: %s" % (", ".join(down), results)) if down
                        else "MCP Airlock answers /live and /ready"},
        "url_check": {"url": url, "results": results},
    }


async def main(queue: t.Any, args: t.Dict[str, t.Any]) -> None:
    url = args["url"]
    delay = int(args.get("delay", 30))
    timeout = float(args.get("timeout", 5))
    validate_certs = str(args.get("validate_certs", True)).lower() not in ("false", "no", "0")
    loop = asyncio.get_running_loop()
    last = "resolved"
    while True:
        results = await loop.run_in_executor(None, probe, url, timeout, validate_certs)
        current = event(url, results)
        if current["status"] != last:
            await queue.put(current)
            last = current["status"]
        await asyncio.sleep(delay)


if __name__ == "__main__":

    class MockQueue:
        async def put(self, item: t.Any) -> None:
            print(item)

    asyncio.run(main(MockQueue(), {"url": "http://127.0.0.1:8080", "delay": 5}))
