# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""config_refusals: the operator playbook's nonexistent settings are named with the reason."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.filter.config_refusals import config_refusals


def test_playbook_settings_are_refused_with_the_reason():
    problems = config_refusals({"policy": {"cacheTTL": "10m", "cacheSize": 20000},
                                "server": {"maxConnections": 1000, "maxClients": 500}})
    assert len(problems) == 4
    text = "\n".join(problems)
    assert "policy.cacheTTL: unknown key (Airlock ignores it); use policy.cache_ttl (snake_case)" in text
    assert "policy.cacheSize: unknown key (Airlock ignores it); no such key: the decision cache size is not configurable" in text
    assert "server.maxConnections: unknown key (Airlock ignores it); no such key: the SSE connection limit (1000) is compiled in" in text
    assert "server.maxClients" in text


def test_real_keys_pass():
    assert config_refusals({"policy": {"cache_ttl": "10m"}, "server": {"timeouts": {"read": "30s"}}}) == []
    assert config_refusals({}) == []


def test_not_a_mapping():
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        config_refusals(["policy.cacheTTL"])
