#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: oidc_check
short_description: Check the identity provider MCP Airlock validates tokens against (discovery, JWKS, TLS, clock)
version_added: 0.1.0
description:
  - Reads OIDC discovery (C(<issuer>/.well-known/openid-configuration)) and the JWKS at its C(jwks_uri), the way
    Airlock does (Airlock has no C(jwks_url) setting), and reports every reason tokens would be refused as one
    entry of RV(findings).
  - "Checks: discovery reachable and JSON; its C(issuer) equal to Airlock's C(auth.oidc_issuer)
    (O(expected_issuer)); the JWKS reachable with at least one usable signing key (C(kid), C(kty), C(alg), C(use));
    the C(kid) of O(token) (or O(kid)) among them (a rotation that dropped the key); the TLS certificate of an
    C(https) issuer valid and not expiring within O(min_cert_days); the IdP's clock (its C(Date) header) within
    O(max_clock_skew) of ours."
  - Like M(airlock.incident.health) the module does not fail because the IdP is down; RV(ok) is false and
    RV(findings) says why. It fails only on bad input.
  - Run it on the controller for the IdP as seen from there, and on the gateway host (host platform) for the
    IdP as Airlock sees it. On Kubernetes the image has no shell or curl; use M(airlock.incident.k8s_egress_check)
    with RV(endpoints) to see whether the NetworkPolicies let the pods reach it.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same checks in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Runs wherever the IdP is reachable over HTTP(S).
options:
  issuer:
    description:
      - The issuer URL Airlock is configured with (C(auth.oidc_issuer)), for example V(https://idp.example.com/realms/mcp).
    type: str
    required: true
  expected_issuer:
    description:
      - The C(issuer) the discovery document must name. Defaults to O(issuer); set it when the issuer is reached
        through another URL than the one tokens carry.
    type: str
  token:
    description:
      - A token that was refused, decoded without verification for its C(kid), C(alg), C(iss), C(exp) and C(nbf).
        It is never returned or logged.
    type: str
  kid:
    description:
      - A key id that must be in the JWKS (for example the C(kid) of refused tokens). Defaults to the C(kid) of O(token).
    type: str
  timeout:
    description: Seconds allowed for each request.
    type: float
    default: 5.0
  validate_certs:
    description: Verify the IdP's TLS certificate for the discovery and JWKS requests.
    type: bool
    default: true
  ca_path:
    description: PEM file with the CA certificates that verify the IdP.
    type: path
  max_clock_skew:
    description:
      - Seconds the IdP's clock may differ from ours before it is a finding (Airlock's C(auth.clock_skew) accepts
        30 s to 10 min).
    type: float
    default: 30
  min_cert_days:
    description: A certificate that expires within this many days is a finding.
    type: int
    default: 14
seealso:
  - module: airlock.incident.k8s_egress_check
  - module: airlock.incident.health
"""

EXAMPLES = r"""
- name: Check the IdP from the controller, with a refused token for its kid
  airlock.incident.oidc_check:
    issuer: https://idp.example.com/realms/mcp
    token: "{{ refused_token }}"
  register: oidc
  delegate_to: localhost

- name: Fail when Airlock cannot validate tokens
  ansible.builtin.assert:
    that: oidc.ok
    fail_msg: "{{ oidc.msg }}"
"""

RETURN = r"""
ok:
  description: Every check passed.
  returned: always
  type: bool
reachable:
  description: The discovery URL answered (any HTTP status).
  returned: always
  type: bool
issuer:
  description: The issuer checked.
  returned: always
  type: str
expected_issuer:
  description: The issuer the discovery document must name.
  returned: always
  type: str
discovery:
  description: The discovery request (C(url), C(status), C(latency_ms), C(error)), the document's C(issuer) and
    C(jwks_uri), and C(clock_skew_seconds).
  returned: always
  type: dict
jwks:
  description: The JWKS request (C(url), C(status), C(error)) and C(keys), one entry per key with C(kid), C(kty),
    C(alg), C(use), C(usable) and the C(problem) that makes it unusable.
  returned: always
  type: dict
tls:
  description:
    - C(checked) (an https issuer), C(valid), C(not_after), C(days_to_expiry), C(subject) and C(cert_issuer) (the
      common names of the certificate and of its issuer), C(error).
    - A certificate that does not verify is read again without verification so that the finding names it;
      C(days_to_expiry) is then negative for an expired certificate.
  returned: always
  type: dict
clock_skew_seconds:
  description: Seconds the IdP's clock is ahead of ours (negative when behind); null without a Date header.
  returned: always
  type: float
kid:
  description: The key id looked for in the JWKS (O(kid), or the token's), or null.
  returned: always
  type: str
token:
  description: What the token says (C(decodable), C(kid), C(alg), C(iss), C(aud), C(exp), C(nbf), C(expired),
    C(not_yet_valid)); null without O(token). Never the token.
  returned: always
  type: dict
endpoints:
  description: The addresses Airlock must reach (issuer, and the JWKS host when it differs), each C(url),
    C(scheme), C(host), C(port); the input of M(airlock.incident.k8s_egress_check).
  returned: always
  type: list
  elements: dict
findings:
  description: One entry per failed check, C(check) (V(discovery), V(issuer), V(jwks), V(jwks_keys), V(kid),
    V(certificate) (the IdP's certificate does not verify, named with its days to expiry), V(tls) (a handshake
    failure, or a certificate that expires within O(min_cert_days)), V(clock), V(token)) and C(detail).
  returned: always
  type: list
  elements: dict
"""


from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.airlock.oidc import check_oidc
from ansible_collections.airlock.incident.plugins.module_utils.core.redact import redacting
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module


def main():
    module = AirlockModule(
        argument_spec=dict(
            issuer=dict(type="str", required=True),
            expected_issuer=dict(type="str"),
            token=dict(type="str", no_log=True),
            kid=dict(type="str"),
            timeout=dict(type="float", default=5.0),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            max_clock_skew=dict(type="float", default=30.0),
            min_cert_days=dict(type="int", default=14),
        ),
        supports_check_mode=True,
    )
    run_module(module, redacting(lambda m: check_oidc(m.params), ("token",), url_options=("issuer",)))


if __name__ == "__main__":
    main()
