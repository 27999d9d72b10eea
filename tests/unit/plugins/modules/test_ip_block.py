# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ip_block refuses bad input before it loads a kubeconfig or calls an API server.

The kubeconfig given here does not exist: any check that ran after the
client was built would fail with a kubeconfig message instead.
"""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.airlock.incident.plugins.modules import k8s_ip_block as ip_block

BASE = dict(kubeconfig="/nonexistent/kubeconfig", cidrs=["203.0.113.7"], expires_in="24h", reason="r",
            incident_id="INC-1", confirm="INC-1")


def run(capsys, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            ip_block.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("override,fragment", [
    (dict(cidrs=["10.0.0.5/24"]), "cidrs: '10.0.0.5/24' has host bits set"),
    (dict(cidrs=["nope"]), "cidrs: 'nope' is not an IPv4/IPv6 address or CIDR"),
    (dict(cidrs=[]), "cidrs: required with state=present"),
    (dict(expires_in="1d"), "expires_in: invalid value '1d'"),
    (dict(expires_in="-1h"), "expires_in: invalid value '-1h'"),
    (dict(expires_in=None), "expires_in or expires_at: required with state=present"),
    (dict(expires_in=None, expires_at="2020-01-01T00:00:00Z"), "expires_at: 2020-01-01T00:00:00Z is not in the future"),
    (dict(expires_at="2099-01-01T00:00:00Z"), "give one of them, not both"),
    (dict(reason=" "), "reason: required with state=present"),
    (dict(confirm="INC-2"), "confirm: must equal incident_id ('INC-1')"),
    (dict(incident_id="bad id"), "incident_id: invalid value 'bad id'"),
    (dict(now="yesterday"), "now: invalid RFC 3339 timestamp 'yesterday'"),
    (dict(state="absent", expires_in=None, confirm=None), "confirm: must equal incident_id"),
    (dict(state="expired", expires_in="1h"), "expires_in, expires_at: only with state=present"),
])
def test_refused_before_any_api_call(capsys, override, fragment):
    out = run(capsys, dict(BASE, **override))
    assert out["failed"]
    assert fragment in out["msg"]
    assert "kubeconfig" not in out["msg"]


def test_check_mode_needs_no_confirm_and_then_reaches_the_client(capsys):
    pytest.importorskip("kubernetes")
    out = run(capsys, dict(BASE, confirm=None), check_mode=True)
    assert out["failed"]
    assert out["msg"].startswith("kubeconfig: cannot load a Kubernetes configuration from /nonexistent/kubeconfig")


def test_expired_needs_no_incident_or_confirm(capsys):
    pytest.importorskip("kubernetes")
    out = run(capsys, dict(kubeconfig="/nonexistent/kubeconfig", state="expired"))
    assert out["msg"].startswith("kubeconfig: cannot load")
