#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: health
short_description: Probe an MCP Airlock gateway without ever failing because it is down
version_added: 0.1.0
description:
  - Probes C(/live), C(/ready), C(/health) and C(/info), optionally C(/metrics) and one MCP JSON-RPC call
    on C(/mcp), and reports what answered, how fast and with what.
  - Like M(community.postgresql.postgresql_ping), the module never fails because Airlock is down, slow
    or unreachable; it returns RV(is_available) and the errors instead. Branch on the result, for example
    with C(failed_when) set to C(not result.is_available). It fails only on bad input (a malformed O(url), a
    timeout that is not positive).
  - Every request is bounded by O(timeout), reading included. C(/mcp) answers with a Server-Sent-Events
    stream that never ends by itself (a C(connected) event, the JSON-RPC reply, then heartbeats every 20 s);
    the module reads it only up to the reply and closes the connection.
  - When the first probe (C(/live)) cannot connect or times out, the other probes are skipped with the
    same error, so an unreachable gateway costs at most one O(timeout).
  - C(/metrics) is optional in Airlock; the current release answers 404. A 404 is reported as
    C(exposed=false) in RV(metrics), never as an outage.
author:
  - airlock.incident contributors (@airlock-incident)
extends_documentation_fragment:
  - airlock.incident.connection
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same probes in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Runs wherever the controller or target can reach O(url) over HTTP(S).
options:
  metrics:
    description:
      - Also read C(/metrics) (Prometheus text) and summarise it under RV(metrics).
    type: bool
    default: true
  mcp:
    description:
      - Also send one JSON-RPC request to C(/mcp), with a C(Authorization) bearer header when O(token) is set.
    type: bool
    default: true
  mcp_method:
    description:
      - The JSON-RPC method of the MCP probe. Both go through the upstream path; Airlock forwards
        V(ping) to its upstream MCP servers instead of answering it itself, so V(ping) fails exactly
        like V(tools/list) when no upstream answers (measured on the release).
    type: str
    default: tools/list
    choices: [tools/list, ping]
notes:
  - RV(is_available) is true when C(/live) and C(/ready) both answered 2xx. A failed MCP call, a C(/health)
    that is not 2xx, or failing C(/ready) checks make the gateway degraded (listed in
    RV(degraded_reasons)), not unavailable.
  - With no upstream configured, Airlock answers every MCP method with JSON-RPC error -32000
    C(No upstream servers configured); the module reports it as RV(mcp_ok=false) with a degraded reason.
  - Healthy for a gateway whose MCP path cannot answer (the release never answers C(tools/list) reliably; it
    rejects C(http) upstreams and kills its C(stdio) child right after the handshake), the module reports
    RV(mcp_state=upstream_error) and a degraded reason, and the P(airlock.incident.triage#filter) filter treats
    it as a finding of its own, not an incident, unless told that upstreams must answer (its C(upstreams_required)
    argument, the outage role's C(airlock_incident_require_upstreams)). Any other MCP failure (no answer,
    401, 403, 5xx) stays a P1.
  - The MCP request is sent with the header C(Connection) set to C(close) on purpose. Airlock flushes the SSE headers before it
    reads the body, and on a keep-alive connection the release loses the body and answers C(-32000 failed to
    read request body).
  - Metric values are cumulative since the process started (counters and histogram buckets); compare two
    probes to get a recent rate.
seealso:
  - module: airlock.incident.incident
"""

EXAMPLES = r"""
- name: Probe Airlock; fail the task only when it is unavailable
  airlock.incident.health:
    url: http://airlock.airlock-system.svc:8080
    timeout: 3
  register: airlock_health
  failed_when: not airlock_health.is_available

- name: Probe through the ingress with a token, branch on the MCP result
  airlock.incident.health:
    url: https://airlock.example.com
    token: "{{ airlock_test_token }}"
    mcp_method: tools/list
  register: airlock_health

- name: Report degradation
  ansible.builtin.debug:
    msg: "{{ airlock_health.msg }} {{ airlock_health.degraded_reasons }}"
  when: airlock_health.degraded_reasons | length > 0

- name: Set the connection once for a play
  module_defaults:
    group/airlock.incident.airlock:
      url: http://127.0.0.1:8080
      timeout: 2
  block:
    - name: Quick liveness probe, no MCP call and no metrics
      airlock.incident.health:
        mcp: false
        metrics: false
      register: airlock_quick
"""

RETURN = r"""
is_available:
  description: C(/live) and C(/ready) both answered with a 2xx status.
  returned: always
  type: bool
  sample: true
is_live:
  description: C(/live) answered with a 2xx status.
  returned: always
  type: bool
is_ready:
  description: C(/ready) answered with a 2xx status.
  returned: always
  type: bool
mcp_ok:
  description:
    - The MCP call returned a JSON-RPC result (not an error). Null when O(mcp=false).
  returned: always
  type: bool
  sample: false
mcp_state:
  description:
    - How the MCP path answered. V(answered) is a JSON-RPC result. V(upstream_error) means the gateway took the
      request and answered it (HTTP 200, a JSON-RPC error such as the release's C(-32000 No upstream servers
      configured) or C(-32003 ... connection closed)), so the gateway's MCP path works, its upstream MCP servers do
      not. V(failed) means no JSON-RPC answer (transport error, timeout), an HTTP error status (401, 403, 5xx)
      or an error about the request itself. V(skipped) when C(/live) was unreachable; null when O(mcp=false).
    - The P(airlock.incident.triage#filter) filter and the outage role read it; see the module notes for what
      healthy means for a gateway whose MCP path cannot answer.
  returned: always
  type: str
  sample: upstream_error
degraded_reasons:
  description: Why the gateway is not fully healthy, one short sentence each; empty when all is well.
  returned: always
  type: list
  elements: str
  sample: ["mcp: JSON-RPC error -32000 No upstream servers configured"]
version:
  description: The C(version) field of C(/info), if it answered.
  returned: always
  type: str
  sample: dev
msg:
  description: What the probes found, in one sentence.
  returned: always
  type: str
  sample: "Airlock at http://127.0.0.1:8080 is available (version dev) but degraded: mcp: JSON-RPC error -32000"
url:
  description: The base URL probed.
  returned: always
  type: str
endpoints:
  description:
    - One entry per probed path (C(live), C(ready), C(health), C(info)), each with C(url), C(status)
      (HTTP status, null when nothing answered), C(latency_ms), C(body) (parsed JSON or text), C(error)
      (null or a message) and, for C(ready), C(checks) (the dependency map newer builds return).
  returned: always
  type: dict
  sample:
    live: {url: "http://127.0.0.1:8080/live", status: 200, latency_ms: 1.2, error: null,
           body: {status: alive, timestamp: "2026-11-28T16:00:00Z"}}
mcp:
  description:
    - The MCP probe. C(status) (HTTP), C(latency_ms), C(transport) (V(sse) or V(json)), C(connection_id)
      (from the C(connected) event), C(result) (the JSON-RPC result) or C(error) (C(code) and C(message);
      C(code) is null for transport problems), C(events) (names of the SSE events read).
    - Null when O(mcp=false).
  returned: always
  type: dict
  sample:
    status: 200
    transport: sse
    connection_id: 0f3c9a7e5b1d4c2a8e6f0b9d7c5a3e1f
    error: {code: -32000, message: No upstream servers configured}
metrics:
  description:
    - The C(/metrics) probe. C(exposed) (false on 404), C(status), C(latency_ms), C(error) and C(samples)
      (C(requests_total), C(requests_by_status_class), C(error_rate) (5xx share, cumulative),
      C(memory_bytes), C(active_connections), C(goroutines), C(auth_failures_total),
      C(policy_denies_total), C(errors_total), C(request_duration_p95_seconds),
      C(request_duration_p99_seconds), C(sample_count)).
    - Null when O(metrics=false).
  returned: always
  type: dict
  sample: {exposed: false, status: 404, error: null, samples: null}
"""

from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import (
    AirlockClient,
    validate_base_url,
    validate_timeout,
)
from ansible_collections.airlock.incident.plugins.module_utils.airlock.probes import probe
from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule, connection_arg_spec
from ansible_collections.airlock.incident.plugins.module_utils.core.redact import redacting
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def run(module):
    """Probe the gateway; only bad input fails (InputError from the validators)."""
    params = module.params
    validate_base_url(params["url"])
    validate_timeout(params["timeout"])
    client = AirlockClient(params["url"], token=params["token"], timeout=params["timeout"],
                           validate_certs=params["validate_certs"], ca_path=params["ca_path"])
    result = probe(client, metrics=params["metrics"], mcp=params["mcp"], mcp_method=params["mcp_method"])
    result["changed"] = False
    return result


def main():
    module = AirlockModule(
        argument_spec=connection_arg_spec(
            metrics=dict(type="bool", default=True),
            mcp=dict(type="bool", default=True),
            mcp_method=dict(type="str", default="tools/list", choices=["tools/list", "ping"]),
        ),
        supports_check_mode=True,
    )
    run_module(module, redacting(run, ("token",), url_options=("url",)))


if __name__ == "__main__":
    main()
