# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Merging settings into a real Airlock config.yaml: nothing else may change."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.airlock.incident.plugins.module_utils.change import yaml_merge
from ansible_collections.airlock.incident.plugins.module_utils.change.yaml_merge import (
    YamlDocument,
    YamlMergeError,
    changed_keys,
    deep_merge,
    flatten,
    merge_text,
    to_plain,
)

CONFIG = """\
# MCP Airlock production config (koanf, snake_case keys).
server:
  addr: ":8080"
  timeouts:
    read: 30s
    write: 30s
    idle: 120s

auth:
  oidc_issuer: "https://idp.example.com"
  audience: "mcp-airlock"
  jwks_cache_ttl: 5m
  required_groups:
    - mcp-users
    - airlock-admins

policy:
  rego_file: /etc/airlock/policy.rego  # mounted from the ConfigMap
  cache_ttl: 1m

rate_limiting:
  per_token: "200/min"
  per_ip: "1000/min"
  burst: 50

# Upstream MCP servers.
upstreams:
  - name: docs
    type: http
    url: "http://docs-mcp:3000/mcp"
    timeout: 30s

audit:
  backend: sqlite
  database: /var/lib/airlock/audit.db
  retention: 720h

observability:
  logging:
    level: info
    format: json
"""

INCIDENT_SETTINGS = {
    "rate_limiting": {"per_token": "10/min", "per_ip": "50/min"},
    "observability": {"logging": {"level": "debug"}},
}


def test_merge_changes_only_the_given_keys_and_keeps_comments():
    new_text, before, after, keys, engine = merge_text(CONFIG, INCIDENT_SETTINGS)
    assert engine == "ruamel.yaml"
    assert keys == ["observability.logging.level", "rate_limiting.per_ip", "rate_limiting.per_token"]
    # every other leaf is untouched
    flat_before, flat_after = flatten(before), flatten(after)
    for key, value in flat_before.items():
        if key not in keys:
            assert flat_after[key] == value, key
    assert flat_after["server.addr"] == ":8080"
    # comments, order and the untouched lines survive byte for byte
    assert "# MCP Airlock production config" in new_text
    assert "rego_file: /etc/airlock/policy.rego  # mounted from the ConfigMap" in new_text
    assert "# Upstream MCP servers." in new_text
    changed_lines = [(a, b) for a, b in zip(CONFIG.splitlines(), new_text.splitlines()) if a != b]
    assert len(CONFIG.splitlines()) == len(new_text.splitlines())
    assert changed_lines == [
        ('  per_token: "200/min"', '  per_token: "10/min"'),
        ('  per_ip: "1000/min"', '  per_ip: "50/min"'),
        ("    level: info", "    level: debug"),
    ]
    assert yaml.safe_load(new_text) == after


def test_an_identical_merge_returns_the_original_text_and_no_keys():
    new_text = merge_text(CONFIG, INCIDENT_SETTINGS)[0]
    again, keys = merge_text(new_text, INCIDENT_SETTINGS)[0], merge_text(new_text, INCIDENT_SETTINGS)[3]
    assert keys == []
    assert again is new_text


def test_lists_are_replaced_wholesale_not_appended():
    new_text, dummy, after, keys, engine = merge_text(CONFIG, {"auth": {"required_groups": ["incident-responders"]}})
    assert engine == "ruamel.yaml"
    assert after["auth"]["required_groups"] == ["incident-responders"]
    assert keys == ["auth.required_groups"]
    assert "mcp-users" not in new_text


def test_new_keys_are_added_without_disturbing_the_next_section():
    new_text, dummy, after, keys, engine = merge_text(CONFIG, {"server": {"timeouts": {"upstream": "10s"}}})
    assert engine == "ruamel.yaml"
    assert keys == ["server.timeouts.upstream"]
    assert after["server"]["timeouts"] == {"read": "30s", "write": "30s", "idle": "120s", "upstream": "10s"}
    lines = new_text.splitlines()
    at = lines.index("    upstream: 10s")
    assert lines[at - 1] == "    idle: 120s"
    assert lines[at + 1] == "" and lines[at + 2] == "auth:"


def test_pyyaml_fallback_merges_the_same_document_but_drops_comments():
    new_text, dummy, after, keys, engine = merge_text(CONFIG, INCIDENT_SETTINGS, prefer_ruamel=False)
    assert engine == "PyYAML"
    ruamel_after = merge_text(CONFIG, INCIDENT_SETTINGS)[2]
    assert after == ruamel_after
    assert keys == ["observability.logging.level", "rate_limiting.per_ip", "rate_limiting.per_token"]
    assert "#" not in new_text
    assert list(yaml.safe_load(new_text)) == ["server", "auth", "policy", "rate_limiting", "upstreams", "audit",
                                              "observability"]


def test_other_indentation_styles_are_kept():
    text = "server:\n    addr: ':8080'\nauth:\n    required_groups:\n    - a\n    - b\n"
    new_text = merge_text(text, {"auth": {"audience": "x"}})[0]
    keys = merge_text(text, {"auth": {"audience": "x"}})[3]
    assert keys == ["auth.audience"]
    assert new_text.startswith("server:\n    addr: ':8080'\nauth:\n    required_groups:\n    - a\n    - b\n")


def test_changed_keys_counts_lists_as_one_value_and_ignores_int_float_spelling():
    before = {"a": {"b": 1, "c": [1, 2]}, "d": True}
    assert changed_keys(before, {"a": {"b": 1.0, "c": [1, 2]}, "d": True}) == []
    assert changed_keys(before, {"a": {"b": 1, "c": [2, 1]}, "d": 1}) == ["a.c", "d"]
    assert changed_keys(before, {"a": {"b": 1}, "d": True, "e": None}) == ["a.c", "e"]


def test_deep_merge_does_not_touch_its_inputs():
    base = {"a": {"b": 1}}
    overlay = {"a": {"c": [1]}}
    merged = deep_merge(base, overlay)
    merged["a"]["c"].append(2)
    assert base == {"a": {"b": 1}} and overlay == {"a": {"c": [1]}}


def test_broken_yaml_and_non_mappings_are_refused_with_a_reason():
    with pytest.raises(YamlMergeError, match="cannot parse"):
        merge_text("server: [\n", {"a": 1})
    with pytest.raises(YamlMergeError, match="not a mapping"):
        merge_text("- a\n- b\n", {"a": 1})
    with pytest.raises(YamlMergeError, match="mapping"):
        YamlDocument(CONFIG).merge(["not", "a", "mapping"])


def test_an_empty_file_becomes_a_mapping():
    new_text, before, after, keys, engine = merge_text("", {"server": {"addr": ":9090"}})
    assert keys == ["server"] and engine
    assert before == {} and after == {"server": {"addr": ":9090"}}
    assert yaml.safe_load(new_text) == after


def test_to_plain_removes_ruamel_types():
    document = YamlDocument(CONFIG)
    plain = to_plain(document.data)
    # exact types: ruamel's subclasses (CommentedMap, ScalarString...) must be gone
    assert plain.__class__ is dict
    assert plain["rate_limiting"]["per_token"].__class__ is str
    assert plain["rate_limiting"]["burst"].__class__ is int
    assert plain["auth"]["required_groups"].__class__ is list
    assert plain == yaml.safe_load(CONFIG)


def test_text_diff_is_an_ansible_diff_entry():
    entry = yaml_merge.text_diff("a: 1\n", "a: 2\n", "before", "after")
    assert entry == {"before": "a: 1\n", "after": "a: 2\n", "before_header": "before", "after_header": "after"}


# --------------------------------------------------------------------------- bounded loading


def test_an_alias_bomb_is_refused_before_it_is_expanded():
    levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 9):  # 10^9 nodes once expanded, a few hundred bytes
        levels.append("a%d: &a%d [%s]" % (level, level, ",".join(["*a%d" % (level - 1)] * 10)))
    with pytest.raises(yaml_merge.YamlBoundsError, match="aliases expand to more than 100000 nodes"):
        yaml_merge.YamlDocument("\n".join(levels) + "\n")
    with pytest.raises(yaml_merge.YamlBoundsError):
        yaml_merge.parse_plain("\n".join(levels) + "\n")


def test_deep_nesting_is_refused_and_ordinary_aliases_still_load():
    with pytest.raises(yaml_merge.YamlBoundsError, match="nests deeper than 64 levels"):
        yaml_merge.YamlDocument("a: " + "[" * 65 + "]" * 65 + "\n")
    document = yaml_merge.YamlDocument("base: &b {level: info}\nother: *b\n")
    assert document.plain() == {"base": {"level": "info"}, "other": {"level": "info"}}
