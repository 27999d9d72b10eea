# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Airlock config schema: every invalid key/value named in the interface notes is caught."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as ac

VALID = {
    "server": {"addr": ":8080", "public_base_url": "https://airlock.example.com",
               "timeouts": {"read": "30s", "write": "30s", "idle": "120s"}},
    "auth": {"oidc_issuer": "https://idp.example.com", "audience": "mcp-airlock", "jwks_cache_ttl": "5m",
             "clock_skew": "2m", "required_groups": ["mcp-users"]},
    "policy": {"rego_file": "/etc/airlock/policy.rego", "cache_ttl": "1m", "reload_signal": "SIGHUP"},
    "roots": [{"name": "docs", "type": "fs", "virtual": "mcp://docs/", "real": "/srv/docs", "read_only": True}],
    "dlp": {"patterns": [{"name": "ssn", "regex": "\\d{3}-\\d{2}-\\d{4}", "replace": "[ssn]"}]},
    "rate_limiting": {"per_token": "200/min", "per_ip": "1000/min", "burst": 50},
    "upstreams": [{"name": "docs", "type": "http", "url": "http://docs:3000/mcp", "timeout": "30s",
                   "allow_tools": ["search_docs"]}],
    "audit": {"backend": "sqlite", "database": "/var/lib/airlock/audit.db", "retention": "720h",
              "export_format": "jsonl"},
    "observability": {"metrics": {"enabled": True, "path": "/metrics"},
                      "logging": {"level": "info", "format": "json"}},
}


def _with(path, value):
    document = copy.deepcopy(VALID)
    node = document
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if value is _DELETE:
        node.pop(parts[-1])
    else:
        node[parts[-1]] = value
    return document


_DELETE = object()


def test_valid_document_has_no_errors_or_unknown_keys():
    assert ac.validate(VALID) == []
    assert ac.unknown_keys(VALID) == []


@pytest.mark.parametrize("path,value,expected", [
    ("audit.retention", "30d", 'audit.retention: time: unknown unit "d" in duration "30d"'),
    ("server.addr", _DELETE, "server.addr is required"),
    ("server.addr", "", "server.addr is required"),
    ("observability.logging.level", "verbose", "observability.logging.level: invalid value 'verbose'"),
    ("observability.logging.format", "xml", "observability.logging.format: invalid value 'xml'"),
    ("auth.jwks_cache_ttl", "2h", "auth.jwks_cache_ttl: '2h' is out of range (1m to 1h)"),
    ("auth.jwks_cache_ttl", "30s", "auth.jwks_cache_ttl: '30s' is out of range (1m to 1h)"),
    ("auth.clock_skew", "10s", "auth.clock_skew: '10s' is out of range (30s to 10m)"),
    ("auth.clock_skew", "11m", "auth.clock_skew: '11m' is out of range (30s to 10m)"),
    ("rate_limiting.burst", 0, "rate_limiting.burst: 0 is below the minimum 1"),
    ("rate_limiting.burst", "many", "rate_limiting.burst: expected an integer"),
    ("rate_limiting.per_token", "fast", "rate_limiting.per_token: invalid rate 'fast'"),
    ("rate_limiting.per_ip", "1000", "rate_limiting.per_ip: invalid rate '1000'"),
    ("audit.backend", "mysql", "audit.backend: invalid value 'mysql'; accepted values: sqlite, postgresql"),
    ("audit.export_format", "csv", "audit.export_format: invalid value 'csv'"),
    ("policy.cache_ttl", "10 minutes", "policy.cache_ttl: time: "),
    ("server.timeouts.read", "-5s", "server.timeouts.read: '-5s' must not be negative"),
    ("auth.oidc_issuer", "idp.example.com", "auth.oidc_issuer: 'idp.example.com' is not an http(s) URL"),
    ("auth.required_groups", "admins", "auth.required_groups: expected a list"),
    ("server", "0.0.0.0:8080", "server: expected a mapping"),
])
def test_each_invalid_value_is_reported_with_its_key(path, value, expected):
    errors = ac.validate(_with(path, value))
    assert any(error.startswith(expected) for error in errors), errors


def test_durations_accept_go_forms_at_the_range_edges():
    for ttl in ("1m", "60s", "1h", "59m59s", "0.5h"):
        assert ac.validate(_with("auth.jwks_cache_ttl", ttl)) == [], ttl
    for skew in ("30s", "10m", "2m30s"):
        assert ac.validate(_with("auth.clock_skew", skew)) == [], skew
    assert ac.validate(_with("audit.retention", "2160h")) == []


def test_list_items_are_validated():
    document = _with("upstreams", [{"name": "x", "type": "grpc", "timeout": "5d"}, {"type": "http"}])
    errors = ac.validate(document)
    assert "upstreams[0].type: invalid value 'grpc'; accepted values: stdio, unix, http" in errors
    assert any(e.startswith('upstreams[0].timeout: time: unknown unit "d"') for e in errors)
    assert "upstreams[1].name is required" in errors
    document = _with("roots", [{"name": "r", "type": "nfs", "virtual": "v", "real": "r"}])
    assert ac.validate(document) == ["roots[0].type: invalid value 'nfs'; accepted values: fs, s3"]


def test_playbook_keys_are_unknown_with_suggestions():
    document = copy.deepcopy(VALID)
    document["server"]["maxConnections"] = 1000
    document["server"]["maxClients"] = 500
    document["policy"]["cacheTTL"] = "10m"
    document["policy"]["cacheSize"] = 20000
    document["logging"] = {"level": "debug", "audit_all_requests": True}
    document["monitoring"] = {"enhanced": True, "duration": "24h"}
    document["auth"]["jwks_url"] = "https://idp/jwks"
    found = {item["key"]: item for item in ac.unknown_keys(document)}
    assert set(found) == {"server.maxConnections", "server.maxClients", "policy.cacheTTL", "policy.cacheSize",
                          "logging", "monitoring", "auth.jwks_url"}
    assert found["policy.cacheTTL"]["suggestions"][0] == "policy.cache_ttl"
    assert "policy.cache_ttl" in found["policy.cacheSize"]["suggestions"]
    assert found["logging"]["suggestions"][0] == "observability.logging"
    assert "compiled in" in found["server.maxConnections"]["hint"]
    assert "OIDC discovery" in found["auth.jwks_url"]["hint"]
    # unknown keys are not validation errors: Airlock ignores them
    assert ac.validate(document) == []
    line = ac.format_unknown(found["policy.cacheTTL"])
    assert line.startswith("policy.cacheTTL: unknown key (Airlock ignores it)")
    assert "did you mean policy.cache_ttl" in line


def test_unknown_keys_inside_lists_and_the_playbook_patch():
    document = _with("upstreams", [{"name": "docs", "type": "http", "timeout": "30s", "tools": ["a"]}])
    found = ac.unknown_keys(document)
    assert [item["key"] for item in found] == ["upstreams[0].tools"]
    assert "upstreams[].allow_tools" in found[0]["suggestions"]
    # the playbook's destructive ConfigMap patch: a whole file with only rate_limiting
    patch = {"rate_limiting": {"per_token": "10/min", "per_ip": "50/min"}}
    assert ac.validate(patch) == ["server.addr is required"]


def test_env_overrides_follow_koanf_rules():
    environ = {"AIRLOCK_SERVER_ADDR": ":9090", "AIRLOCK_OBSERVABILITY_LOGGING_LEVEL": "debug",
               "AIRLOCK_RATE_LIMITING_PER_TOKEN": "10/min", "HOME": "/root", "AIRLOCK_": "x"}
    overrides = ac.env_overrides(environ)
    assert overrides == {"server.addr": ":9090", "observability.logging.level": "debug",
                         "rate.limiting.per.token": "10/min"}
    merged = ac.apply_overrides(VALID, overrides)
    assert merged["server"]["addr"] == ":9090"
    assert merged["rate_limiting"]["per_token"] == "200/min"  # keys with "_" cannot be set from the env
    assert [item["key"] for item in ac.unknown_keys(merged)] == ["rate"]
    assert VALID["server"]["addr"] == ":8080"  # the input is not modified


def test_helpers():
    assert ac.rate_per_second("200/min") == (200, 60)
    assert ac.rate_per_second("5/s") == (5, 1)
    with pytest.raises(ValueError):
        ac.rate_per_second("200 per minute")
    assert ac.duration_seconds(VALID, "auth.jwks_cache_ttl", "5m") == 300.0
    assert ac.duration_seconds({}, "auth.clock_skew", "2m") == 120.0
    assert ac.get(VALID, "observability.logging.level") == "info"
    assert ac.get(VALID, "observability.nothing.here", "d") == "d"
    for key, entry in ac.SCHEMA.items():
        assert entry["type"] in ("section", "list_of_sections", "str", "url", "int", "bool", "duration", "rate",
                                 "list", "map"), key
        assert entry["description"], key
