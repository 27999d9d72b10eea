#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: latency
short_description: Measure the latency of an MCP Airlock gateway now (p50, p95, p99 with the sample size)
version_added: 0.1.0
description:
  - Reads C(/metrics) and, where the gateway exposes the C(airlock_request_duration_seconds) histogram, computes
    p50, p95 and p99 from its buckets the way PromQL's C(histogram_quantile) does, and the same quantiles of
    C(airlock_upstream_duration_seconds) when present, so that a slow upstream MCP server is told apart from a
    slow gateway. Histogram values are cumulative since the gateway process started.
  - Where C(/metrics) is not exposed (the current Airlock release answers 404) or has no request histogram, times
    a bounded burst of O(probes) sequential MCP requests (O(method)) and reports nearest-rank quantiles of the
    burst with its sample size. With 20 probes p99 is the slowest probe; the sample size is always stated.
  - A JSON-RPC error reply (for example C(-32000 No upstream servers configured)) is a full round trip through
    the gateway and is timed; transport failures are counted in C(errors) of RV(probes) and not timed.
  - Compares p95 and p99 with O(p95_threshold_ms) and O(p99_threshold_ms) (by default the thresholds of the
    HighLatencyP95 and HighLatencyP99 alerts Airlock ships) and reports RV(slow) with the reasons. It never fails
    because the gateway is slow or down.
author:
  - airlock.incident contributors (@airlock-incident)
extends_documentation_fragment:
  - airlock.incident.connection
attributes:
  check_mode:
    support: full
    description: The module only reads; it sends the same requests in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Runs wherever the controller or target can reach O(url) over HTTP(S).
options:
  source:
    description:
      - V(auto) uses the C(/metrics) histogram when there is one, else a burst of probes.
      - V(metrics) reads only C(/metrics) (no request is added to a struggling gateway); RV(quantiles) is null when
        the histogram is not exposed.
      - V(probes) always times a burst (what a client sees now, not since the process started).
    type: str
    choices: [auto, metrics, probes]
    default: auto
  probes:
    description: Number of sequential MCP requests of a burst, 5 to 200.
    type: int
    default: 20
  method:
    description:
      - The JSON-RPC method of the probes. V(ping) is the cheapest; V(tools/list) exercises the upstream path.
    type: str
    choices: [ping, tools/list]
    default: ping
  p95_threshold_ms:
    description: p95 above this many milliseconds makes RV(slow) true (HighLatencyP95 fires above 60 ms).
    type: float
    default: 60
  p99_threshold_ms:
    description: p99 above this many milliseconds makes RV(slow) true (HighLatencyP99 fires above 100 ms).
    type: float
    default: 100
notes:
  - The operator playbook greps C(/metrics) for C(duration|latency); this module computes the quantiles instead, and
    says so when C(/metrics) is not there rather than reporting nothing.
seealso:
  - module: airlock.incident.health
  - module: airlock.incident.audit_query
    description: Its query V(latency) gives the latency over a window from the audit database's C(latency_ms).
"""

EXAMPLES = r"""
- name: Latency now, from /metrics where exposed, else 20 probes
  airlock.incident.latency:
    url: http://airlock.airlock-system.svc:8080
  register: airlock_latency

- name: Say whether it is slow
  ansible.builtin.debug:
    msg: "{{ airlock_latency.msg }}"

- name: Time what a client sees through the upstream path, 50 requests
  airlock.incident.latency:
    url: https://airlock.example.com
    token: "{{ airlock_test_token }}"
    source: probes
    probes: 50
    method: tools/list
"""

RETURN = r"""
msg:
  description: The quantiles, their source and sample size, and the verdict, in one sentence.
  returned: always
  type: str
  sample: "Latency of http://127.0.0.1:8080 from a burst of ping probes (n=20): p50 251.2 ms, p95 253.0 ms,
    p99 253.4 ms; SLOW: p95 253.0 ms > 60.0 ms; p99 253.4 ms > 100.0 ms"
url:
  description: The base URL measured.
  returned: always
  type: str
source:
  description: Where RV(quantiles) come from, V(metrics) or V(probes); null when nothing could be measured.
  returned: always
  type: str
  sample: probes
quantiles:
  description:
    - C(p50_ms), C(p95_ms), C(p99_ms), C(mean_ms) and C(sample_size) (observations in the histogram, or timed probes),
      plus for a burst C(max_ms), C(errors), C(jsonrpc_errors), C(error_samples) and C(method); C(metric) for a
      histogram. Null when nothing could be measured.
  returned: always
  type: dict
  sample: {p50_ms: 251.2, p95_ms: 253.0, p99_ms: 253.4, sample_size: 20, errors: 0, method: ping}
upstream:
  description: The same quantiles of C(airlock_upstream_duration_seconds) when C(/metrics) has it, else null.
  returned: always
  type: dict
metrics:
  description: The C(/metrics) read (C(url), C(status), C(exposed), C(error)); null with O(source=probes).
  returned: always
  type: dict
  sample: {exposed: false, status: 404, error: "not exposed (HTTP 404)"}
probes:
  description: The burst (the same keys as a burst's RV(quantiles)) when one was timed, else null.
  returned: always
  type: dict
slow:
  description: p95 or p99 is above its threshold.
  returned: always
  type: bool
reasons:
  description: One sentence per threshold crossed.
  returned: always
  type: list
  elements: str
notes:
  description: What could not be read (C(/metrics) not exposed, probes that got no answer).
  returned: always
  type: list
  elements: str
thresholds:
  description: The thresholds compared (C(p95_ms), C(p99_ms)).
  returned: always
  type: dict
cumulative:
  description: True when the quantiles are cumulative since the gateway started (histogram), false for a burst.
  returned: always
  type: bool
"""


from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import AirlockClient
from ansible_collections.airlock.incident.plugins.module_utils.airlock.latency import check_options, measure
from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import connection_arg_spec
from ansible_collections.airlock.incident.plugins.module_utils.core.redact import redacting
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def run(module):
    """Measure; only bad input fails."""
    p = module.params
    check_options(p["source"], p["probes"], p["p95_threshold_ms"], p["p99_threshold_ms"])
    client = AirlockClient(p["url"], token=p["token"], timeout=p["timeout"], validate_certs=p["validate_certs"],
                           ca_path=p["ca_path"])
    result = measure(client, p["source"], p["probes"], p["method"], p["p95_threshold_ms"], p["p99_threshold_ms"])
    result["changed"] = False
    return result


def main():
    module = AirlockModule(
        argument_spec=connection_arg_spec(
            source=dict(type="str", default="auto", choices=["auto", "metrics", "probes"]),
            probes=dict(type="int", default=20),
            method=dict(type="str", default="ping", choices=["ping", "tools/list"]),
            p95_threshold_ms=dict(type="float", default=60.0),
            p99_threshold_ms=dict(type="float", default=100.0),
        ),
        supports_check_mode=True,
    )
    run_module(module, redacting(run, ("token",), url_options=("url",)))


if __name__ == "__main__":
    main()
