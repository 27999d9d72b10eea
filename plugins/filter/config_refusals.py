# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: config_refusals
short_description: Why settings meant for an Airlock config.yaml would be refused (unknown keys, with the reason)
version_added: 0.1.0
description:
  - Checks the keys of a settings mapping (what a role would merge with M(airlock.incident.config)) against
    Airlock's configuration schema and returns one sentence per key Airlock does not have, with the reason and
    the real key where there is one, for example the operator playbook's C(policy.cacheTTL) (use
    C(policy.cache_ttl)), C(policy.cacheSize), C(server.maxConnections) and C(server.maxClients) (no such keys,
    the limits are compiled in).
  - Lets a role refuse such settings before it measures or changes anything; the values of known keys are checked
    by M(airlock.incident.config) itself, which refuses before writing.
  - An empty list means every key exists.
options:
  _input:
    description: The settings, a mapping in the shape of C(config.yaml) (for example a C(policy) mapping with C(cache_ttl)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse the playbook's nonexistent settings before anything runs
  ansible.builtin.assert:
    that: settings_problems | length == 0
    fail_msg: "airlock_incident_perf_config_settings: {{ settings_problems | join('; ') }}"
  vars:
    settings_problems: "{{ {'policy': {'cacheTTL': '10m'}} | airlock.incident.config_refusals }}"
"""

RETURN = r"""
_value:
  description:
    - One sentence per unknown key, naming the key, the reason and the real key, for example that C(policy.cacheTTL) is
      unknown and C(policy.cache_ttl) is meant.
  type: list
  elements: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.airlock.incident.plugins.module_utils.airlock.config_schema import format_unknown, unknown_keys


def config_refusals(settings: t.Any) -> t.List[str]:
    """The unknown keys of ``settings``, one sentence each."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("config_refusals expects a mapping of settings, got %s" % type(settings).__name__)
    return [format_unknown(item) for item in unknown_keys(settings)]


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"config_refusals": config_refusals}
