# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The probes of ``airlock.incident.health``: what answered, how fast, and why the gateway is degraded.

:func:`probe` never raises because Airlock is down: an unreachable ``/live``
skips the other probes with the same error (so an unreachable gateway costs at
most one timeout), a ``/metrics`` 404 is "not exposed", never an outage, and
every problem becomes one sentence of ``degraded_reasons``. The result's
human sentence is ``msg``.
"""

from __future__ import annotations

import time
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import NO_UPSTREAM_CODE, AirlockClient
from ansible_collections.airlock.incident.plugins.module_utils.airlock.metrics import (
    parse_prometheus_text,
    summarize_metrics,
)

PROBES = ("live", "ready", "health", "info")

#: ``/ready`` check states that count as healthy.
HEALTHY_STATES = ("ok", "healthy", "ready", "up", "pass", "true")


def _ok(status: t.Optional[int]) -> bool:
    return status is not None and 200 <= status < 300


def _unreachable(result: t.Mapping[str, t.Any]) -> bool:
    return result["status"] is None and result["error"] is not None


def _endpoint(result: t.Mapping[str, t.Any], with_checks: bool = False) -> t.Dict[str, t.Any]:
    entry = {key: result[key] for key in ("url", "status", "latency_ms", "body", "error")}
    if with_checks:
        body = result.get("body")
        entry["checks"] = body.get("checks") if isinstance(body, dict) else None
    return entry


def _skipped(client: AirlockClient, path: str, why: str) -> t.Dict[str, t.Any]:
    return {"url": client.url_for(path), "status": None, "latency_ms": None, "body": None,
            "error": "skipped: %s" % why, "raw": None}


def failing_checks(checks: t.Any) -> t.List[str]:
    """Names of the ``/ready`` dependency checks that are not healthy (sorted)."""
    failing: t.List[str] = []
    if not isinstance(checks, dict):
        return failing
    for name, value in sorted(checks.items()):
        state = value.get("status") if isinstance(value, dict) else value
        healthy = state if isinstance(state, bool) else str(state).lower() in HEALTHY_STATES
        if not healthy:
            failing.append(name)
    return failing


def _http_problem(result: t.Mapping[str, t.Any]) -> str:
    return t.cast(str, result["error"] or "HTTP %s" % result["status"])


def endpoint_reasons(endpoints: t.Mapping[str, t.Mapping[str, t.Any]], unreachable: bool) -> t.List[str]:
    """Degraded reasons from ``/live``, ``/ready`` (and its failing checks) and ``/health``."""
    reasons = []
    live, ready = endpoints["live"], endpoints["ready"]
    ready_body = ready.get("body")
    failing = failing_checks(ready_body.get("checks") if isinstance(ready_body, dict) else None)
    if not _ok(live["status"]):
        reasons.append("/live: %s" % _http_problem(live))
    if not unreachable and not _ok(ready["status"]):
        reasons.append("/ready: %s%s" % (_http_problem(ready),
                                         (" (failing checks: %s)" % ", ".join(failing)) if failing else ""))
    elif _ok(ready["status"]) and failing:
        reasons.append("/ready: failing checks: %s" % ", ".join(failing))
    if not unreachable and not _ok(endpoints["health"]["status"]):
        reasons.append("/health: %s" % _http_problem(endpoints["health"]))
    return reasons


def info_version(info: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """The ``version`` field of a 2xx ``/info`` answer, or None."""
    body = info.get("body")
    if _ok(info["status"]) and isinstance(body, dict) and body.get("version") is not None:
        return str(body.get("version"))
    return None


def probe_metrics(client: AirlockClient, skip: t.Optional[str], reasons: t.List[str]) -> t.Dict[str, t.Any]:
    """The ``/metrics`` probe (``skip``: why it is not sent); a failure other than 404 adds a reason."""
    raw = _skipped(client, "/metrics", skip) if skip else client.get("/metrics", parse_json=False)
    exposed = _ok(raw["status"])
    result: t.Dict[str, t.Any] = {
        "url": raw["url"], "exposed": exposed, "status": raw["status"], "latency_ms": raw["latency_ms"],
        "error": None if raw["status"] == 404 else raw["error"], "samples": None}
    if exposed:
        samples = summarize_metrics(parse_prometheus_text(raw.get("raw") or ""))
        result["samples"] = samples
        if not samples["sample_count"]:
            result["error"] = "no Prometheus samples in the /metrics body"
    elif raw["status"] is not None and raw["status"] != 404:
        reasons.append("/metrics: %s" % _http_problem(raw))
    return result


def mcp_reason(mcp_result: t.Mapping[str, t.Any]) -> str:
    """One sentence for a failed MCP call."""
    err = mcp_result["error"]
    if err.get("code") is not None:
        text = "mcp: JSON-RPC error %s %s" % (err["code"], err.get("message") or "")
        if err["code"] == NO_UPSTREAM_CODE:
            text += " (gateway reachable, no upstream MCP server answers)"
    elif mcp_result["status"] == 401:
        text = "mcp: %s (token missing or rejected)" % err.get("message")
    else:
        text = "mcp: %s" % err.get("message")
    return text.strip()


#: JSON-RPC errors the gateway makes about the request itself, not about its upstreams.
GATEWAY_ERRORS = ("failed to read request body", "invalid JSON-RPC message")


def mcp_state(mcp_result: t.Optional[t.Mapping[str, t.Any]]) -> t.Optional[str]:
    """How the MCP path answered: ``answered``, ``upstream_error``, ``failed``, ``skipped`` (None: not probed).

    ``upstream_error``: the gateway took the request and answered it over HTTP 200 with a
    JSON-RPC error from its upstream side (the release's ``-32000 No upstream servers
    configured`` or ``-32003 ... connection closed``): the gateway's own MCP path works,
    its upstreams do not. ``failed``: no JSON-RPC answer (transport error, timeout),
    an HTTP error status (401 authentication, 403 policy, 5xx), or an error about the
    request itself (:data:`GATEWAY_ERRORS`).
    """
    if mcp_result is None:
        return None
    error = mcp_result.get("error")
    if error is None:
        return "answered"
    message = str(error.get("message") or "")
    if error.get("code") is None:
        return "skipped" if message.startswith("skipped: ") else "failed"
    if mcp_result.get("status") == 200 and not message.startswith(GATEWAY_ERRORS):
        return "upstream_error"
    return "failed"


def probe_mcp(client: AirlockClient, method: str, skip: t.Optional[str], reasons: t.List[str]) -> t.Dict[str, t.Any]:
    """The MCP JSON-RPC probe (``skip``: why it is not sent); a failed call adds a reason."""
    if skip:
        return {"url": client.url_for("/mcp"), "method": method, "status": None, "latency_ms": None,
                "transport": None, "connection_id": None, "result": None, "events": [],
                "error": {"code": None, "message": "skipped: %s" % skip}}
    result = client.mcp_call(method)
    if result["error"] is not None:
        reasons.append(mcp_reason(result))
    return result


def message(url: str, state: t.Mapping[str, t.Any], reasons: t.Sequence[str],
            metrics_result: t.Optional[t.Mapping[str, t.Any]], live: t.Mapping[str, t.Any]) -> str:
    """The one-line verdict: unreachable, available (but degraded), live but not ready, or not available."""
    if state["unreachable"]:
        return "Airlock at %s is unreachable: %s" % (url, live["error"])
    version_text = (" (version %s)" % state["version"]) if state["version"] else ""
    if state["is_available"]:
        text = "Airlock at %s is available%s" % (url, version_text)
        if reasons:
            text += " but degraded: " + "; ".join(reasons)
    else:
        label = "live but not ready" if state["is_live"] and not state["is_ready"] else "not available"
        text = "Airlock at %s is %s%s: %s" % (url, label, version_text, "; ".join(reasons))
    if metrics_result is not None and not metrics_result["exposed"] and metrics_result["status"] == 404:
        text += "; /metrics not exposed"
    return text


def probe(client: AirlockClient, metrics: bool = True, mcp: bool = True,
          mcp_method: str = "tools/list") -> t.Dict[str, t.Any]:
    """Run the probes; the module's result without ``changed``."""
    live = client.get("/live")
    endpoints = {"live": live}
    unreachable = _unreachable(live)
    skip = "/live unreachable (%s)" % live["error"] if unreachable else None
    for name in PROBES[1:]:
        endpoints[name] = _skipped(client, "/" + name, skip) if skip else client.get("/" + name)

    is_live = _ok(live["status"])
    is_ready = _ok(endpoints["ready"]["status"])
    reasons = endpoint_reasons(endpoints, unreachable)
    state = {"unreachable": unreachable, "is_live": is_live, "is_ready": is_ready,
             "is_available": is_live and is_ready, "version": info_version(endpoints["info"])}
    metrics_result = probe_metrics(client, skip, reasons) if metrics else None
    mcp_result = probe_mcp(client, mcp_method, skip, reasons) if mcp else None
    return {
        "url": client.base_url,
        "is_available": state["is_available"],
        "is_live": is_live,
        "is_ready": is_ready,
        "mcp_ok": None if mcp_result is None else mcp_result["error"] is None,
        "mcp_state": mcp_state(mcp_result),
        "degraded_reasons": reasons,
        "version": state["version"],
        "msg": message(client.base_url, state, reasons, metrics_result, live),
        "endpoints": {
            "live": _endpoint(endpoints["live"]),
            "ready": _endpoint(endpoints["ready"], with_checks=True),
            "health": _endpoint(endpoints["health"]),
            "info": _endpoint(endpoints["info"]),
        },
        "mcp": mcp_result,
        "metrics": metrics_result,
    }


#: Seconds between two health polls of :func:`wait_healthy`.
POLL_INTERVAL = 0.5


def wait_healthy(url: str, timeout: float, interval: float = POLL_INTERVAL, validate_certs: bool = True,
                 ca_path: t.Optional[str] = None) -> t.Dict[str, t.Any]:
    """Poll ``/live`` and ``/ready`` of ``url`` until both answer 2xx or ``timeout`` passes.

    Returns ``{"ok", "elapsed", "attempts", "live", "ready"}`` where live/ready
    are the last ``{status, error}`` seen.
    """
    started = time.monotonic()
    deadline = started + timeout
    attempts = 0
    last: t.Dict[str, t.Any] = {"live": None, "ready": None}
    while True:
        attempts += 1
        remaining = max(0.2, min(5.0, deadline - time.monotonic()))
        client = AirlockClient(url, timeout=remaining, validate_certs=validate_certs, ca_path=ca_path)
        ok = True
        for path in ("/live", "/ready"):
            result = client.get(path)
            last[path[1:]] = {"status": result["status"], "error": result["error"]}
            if result["status"] is None or not 200 <= result["status"] < 300:
                ok = False
                break
        if ok:
            return {"ok": True, "elapsed": round(time.monotonic() - started, 3), "attempts": attempts,
                    "live": last["live"], "ready": last["ready"]}
        if time.monotonic() + interval > deadline:
            return {"ok": False, "elapsed": round(time.monotonic() - started, 3), "attempts": attempts,
                    "live": last["live"], "ready": last["ready"]}
        time.sleep(interval)


def describe_health(health: t.Optional[t.Mapping[str, t.Any]]) -> str:
    if health is None:
        return "not checked"
    parts = []
    for name in ("live", "ready"):
        entry = health.get(name)
        if entry is None:
            parts.append("/%s not reached" % name)
        elif entry.get("status") is not None and 200 <= entry["status"] < 300:
            parts.append("/%s %s" % (name, entry["status"]))
        else:
            parts.append("/%s %s" % (name, entry.get("error") or entry.get("status")))
    return "%s after %.1fs" % (", ".join(parts), health.get("elapsed", 0.0))
