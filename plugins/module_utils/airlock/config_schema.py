# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MCP Airlock ``config.yaml`` schema and a validator that reports like Airlock.

Airlock loads its configuration with koanf (snake_case keys, ``.`` as the
path delimiter), decodes durations with Go's ``time.ParseDuration`` and refuses
to start when ``server.addr`` is missing or a value cannot be decoded. Unknown
keys are silently ignored by Airlock itself, which is how the operator
playbook's ``maxConnections``/``cacheSize``/top-level ``logging`` patches go
unnoticed; ``unknown_keys`` finds them and proposes the valid neighbours.

* ``SCHEMA``: every known key, as a dotted path. Items of lists of mappings use
  ``[]`` (``upstreams[].timeout``). Each entry says its ``type`` (``str``,
  ``int``, ``bool``, ``duration``, ``rate``, ``url``, ``list``, ``map``,
  ``section``, ``list_of_sections``) and optionally ``required``,
  ``choices``, ``min``/``max`` (durations as Go strings, ints as numbers) and
  a one-line ``description``.
* ``validate(document)``: a list of error strings, empty when Airlock would
  start. Each error starts with the dotted key it concerns.
* ``unknown_keys(document)``: unknown dotted keys, each with close valid
  neighbours found with ``difflib``.
* ``env_overrides(environ)``: the keys Airlock's ``AIRLOCK_`` environment
  provider would set (every ``_`` becomes ``.``).

Only the standard library is used, so modules can import this on any host.
"""

from __future__ import annotations

import difflib
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.durations import (
    DurationError,
    NS,
    parse_go_duration,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

ENV_PREFIX = "AIRLOCK_"

#: ``200/min``, ``10/s``, ``5000/hour``: what ``rate_limiting.per_*`` accept.
RATE_PATTERN = re.compile(r"^\s*([0-9]+)\s*/\s*(s|sec|second|m|min|minute|h|hr|hour)\s*$")
_RATE_UNIT_SECONDS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hr": 3600, "hour": 3600,
}

_URL_PATTERN = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def _entry(kind: str, description: str, **extra: t.Any) -> t.Dict[str, t.Any]:
    entry: t.Dict[str, t.Any] = {"type": kind, "description": description}
    entry.update(extra)
    return entry


#: Every key Airlock knows (``pkg/config/config.go`` and the interface notes).
SCHEMA = {
    "server": _entry("section", "HTTP server settings"),
    "server.addr": _entry("str", "listen address, e.g. ':8080'", required=True),
    "server.public_base_url": _entry("url", "externally visible base URL"),
    "server.tls": _entry("section", "TLS (normally terminated in front of Airlock)"),
    "server.tls.cert_file": _entry("str", "TLS certificate file"),
    "server.tls.key_file": _entry("str", "TLS key file"),
    "server.timeouts": _entry("section", "HTTP server timeouts"),
    "server.timeouts.read": _entry("duration", "read timeout", min="0s"),
    "server.timeouts.write": _entry("duration", "write timeout", min="0s"),
    "server.timeouts.idle": _entry("duration", "idle timeout", min="0s"),
    "server.timeouts.connect": _entry("duration", "connection timeout (default 2s)", min="0s"),
    "server.timeouts.upstream": _entry("duration", "upstream call timeout (default 30s)", min="0s"),
    "auth": _entry("section", "OIDC/JWT authentication"),
    "auth.oidc_issuer": _entry("url", "OIDC issuer; JWKS is found through its discovery document"),
    "auth.audience": _entry("str", "expected JWT audience"),
    "auth.jwks_cache_ttl": _entry("duration", "JWKS cache lifetime", min="1m", max="1h"),
    "auth.clock_skew": _entry("duration", "allowed clock skew for exp/nbf", min="30s", max="10m"),
    "auth.required_groups": _entry("list", "groups a token must carry"),
    "policy": _entry("section", "OPA/Rego policy"),
    "policy.rego_file": _entry("str", "Rego policy file, e.g. /etc/airlock/policy.rego"),
    "policy.cache_ttl": _entry("duration", "decision cache lifetime", min="0s"),
    "policy.reload_signal": _entry("str", "signal name newer builds reload on"),
    "roots": _entry("list_of_sections", "virtual root mappings"),
    "roots[].name": _entry("str", "root name", required=True),
    "roots[].type": _entry("str", "root type", required=True, choices=("fs", "s3")),
    "roots[].virtual": _entry("str", "virtual URI prefix", required=True),
    "roots[].real": _entry("str", "real path or bucket", required=True),
    "roots[].read_only": _entry("bool", "refuse writes"),
    "dlp": _entry("section", "data loss prevention"),
    "dlp.patterns": _entry("list_of_sections", "redaction patterns"),
    "dlp.patterns[].name": _entry("str", "pattern name", required=True),
    "dlp.patterns[].regex": _entry("str", "regular expression", required=True),
    "dlp.patterns[].replace": _entry("str", "replacement text", required=True),
    "dlp.patterns[].fields": _entry("list", "fields the pattern applies to"),
    "rate_limiting": _entry("section", "rate limits (parsed by newer builds, ignored by the current binary)"),
    "rate_limiting.per_token": _entry("rate", "requests per token, e.g. '200/min'"),
    "rate_limiting.per_ip": _entry("rate", "requests per client address, e.g. '1000/min'"),
    "rate_limiting.burst": _entry("int", "burst size", min=1),
    "upstreams": _entry("list_of_sections", "upstream MCP servers"),
    "upstreams[].name": _entry("str", "upstream name", required=True),
    "upstreams[].type": _entry("str", "transport", required=True, choices=("stdio", "unix", "http")),
    "upstreams[].command": _entry("list", "command for stdio upstreams"),
    "upstreams[].socket": _entry("str", "socket path for unix upstreams"),
    "upstreams[].url": _entry("url", "URL for http upstreams"),
    "upstreams[].env": _entry("map", "environment for stdio upstreams"),
    "upstreams[].timeout": _entry("duration", "call timeout", min="0s"),
    "upstreams[].connect_timeout": _entry("duration", "connect timeout", min="0s"),
    "upstreams[].allow_tools": _entry("list", "tools exposed from this upstream"),
    "audit": _entry("section", "audit log"),
    "audit.backend": _entry("str", "audit store", choices=("sqlite", "postgresql")),
    "audit.database": _entry("str", "database path, e.g. /var/lib/airlock/audit.db"),
    "audit.retention": _entry("duration", "retention as a Go duration (720h, never 30d)", min="0s"),
    "audit.export_format": _entry("str", "export format", choices=("jsonl", "json")),
    "observability": _entry("section", "metrics, tracing and logging"),
    "observability.metrics": _entry("section", "Prometheus metrics"),
    "observability.metrics.enabled": _entry("bool", "serve metrics"),
    "observability.metrics.path": _entry("str", "metrics path, e.g. /metrics"),
    "observability.tracing": _entry("section", "OpenTelemetry tracing"),
    "observability.tracing.enabled": _entry("bool", "export traces"),
    "observability.tracing.endpoint": _entry("str", "OTLP endpoint"),
    "observability.logging": _entry("section", "logging"),
    "observability.logging.level": _entry("str", "log level", choices=("debug", "info", "warn", "error")),
    "observability.logging.format": _entry("str", "log format", choices=("json", "text")),
}

#: Keys the operator playbook uses that exist nowhere, with the real key (or why none).
KNOWN_MISTAKES = {
    "server.maxConnections": "no such key: the SSE connection limit (1000) is compiled in",
    "server.maxClients": "no such key: the upstream client limit (100) is compiled in",
    "policy.cacheTTL": "use policy.cache_ttl (snake_case)",
    "policy.cacheSize": "no such key: the decision cache size is not configurable",
    "logging": "use observability.logging (there is no top-level logging key)",
    "logging.level": "use observability.logging.level",
    "logging.audit_all_requests": "no such key: every request is audited already",
    "monitoring": "no such key",
    "monitoring.enhanced": "no such key",
    "monitoring.duration": "no such key",
    "auth.jwks_url": "no such key: JWKS comes from OIDC discovery of auth.oidc_issuer",
}


def _parent_types() -> t.Dict[str, str]:
    parents: t.Dict[str, str] = {}
    for key, entry in SCHEMA.items():
        parents[key] = entry["type"]
    return parents


_TYPES = _parent_types()


def duration_ns(value: t.Any) -> int:
    """Nanoseconds for a duration value as Airlock decodes it.

    Strings go through Go's ``time.ParseDuration``; integers are nanoseconds
    (mapstructure's weak decoding). Raises DurationError otherwise.
    """
    if isinstance(value, bool):
        raise DurationError("time: invalid duration %r" % (value,))
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_go_duration(value.strip())
    raise DurationError("time: invalid duration %r" % (value,))


def rate_per_second(value: t.Any) -> t.Tuple[int, int]:
    """(count, window_seconds) for a rate string such as ``"200/min"``; InputError (a ValueError) if malformed."""
    match = RATE_PATTERN.match(value) if isinstance(value, str) else None
    if not match:
        raise InputError("invalid rate %r: use <count>/<s|min|hour>, e.g. \"200/min\"" % (value,))
    return int(match.group(1)), _RATE_UNIT_SECONDS[match.group(2)]


def _check_str(key: str, entry: t.Mapping[str, t.Any], value: t.Any, errors: t.List[str]) -> None:
    if isinstance(value, (dict, list)):
        errors.append("%s: expected a string, got a %s" % (key, "mapping" if isinstance(value, dict) else "list"))
        return
    if entry["type"] == "url" and str(value).strip() and not _URL_PATTERN.match(str(value).strip()):
        errors.append("%s: %r is not an http(s) URL" % (key, value))
        return
    choices = entry.get("choices")
    if choices and str(value) not in choices:
        errors.append("%s: invalid value %r; accepted values: %s" % (key, value, ", ".join(choices)))


def _check_int(key: str, entry: t.Mapping[str, t.Any], value: t.Any, errors: t.List[str]) -> None:
    number = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.match(r"^\s*-?[0-9]+\s*$", value):
        number = int(value)
    if number is None:
        errors.append("%s: expected an integer, got %r" % (key, value))
        return
    if "min" in entry and number < entry["min"]:
        errors.append("%s: %d is below the minimum %d" % (key, number, entry["min"]))
    if "max" in entry and number > entry["max"]:
        errors.append("%s: %d is above the maximum %d" % (key, number, entry["max"]))


def _check_bool(key: str, entry: t.Mapping[str, t.Any], value: t.Any, errors: t.List[str]) -> None:
    if not isinstance(value, bool) and str(value).lower() not in ("true", "false", "1", "0"):
        errors.append("%s: expected a boolean, got %r" % (key, value))


def _check_duration(key: str, entry: t.Mapping[str, t.Any], value: t.Any, errors: t.List[str]) -> None:
    try:
        nanos = duration_ns(value)
    except DurationError as exc:
        errors.append("%s: %s (use a Go duration such as 720h, 30m, 90s)" % (key, exc))
        return
    low = entry.get("min")
    high = entry.get("max")
    if low is not None and nanos < parse_go_duration(low):
        if low == "0s":
            errors.append("%s: %r must not be negative" % (key, value))
        else:
            errors.append("%s: %r is out of range (%s to %s)" % (key, value, low, high or "unbounded"))
    elif high is not None and nanos > parse_go_duration(high):
        errors.append("%s: %r is out of range (%s to %s)" % (key, value, low or "0s", high))


def _check_rate(key: str, entry: t.Mapping[str, t.Any], value: t.Any, errors: t.List[str]) -> None:
    try:
        rate_per_second(value)
    except ValueError as exc:
        errors.append("%s: %s" % (key, exc))


def _check_list(key: str, entry: t.Mapping[str, t.Any], value: t.Any, errors: t.List[str]) -> None:
    if not isinstance(value, list):
        errors.append("%s: expected a list, got %r" % (key, value))
        return
    for index, item in enumerate(value):
        if isinstance(item, (dict, list)):
            errors.append("%s[%d]: expected a string" % (key, index))


def _check_map(key: str, entry: t.Mapping[str, t.Any], value: t.Any, errors: t.List[str]) -> None:
    if not isinstance(value, dict):
        errors.append("%s: expected a mapping, got %r" % (key, value))


#: The check of each scalar type of the schema.
_SCALAR_CHECKS: t.Dict[str, t.Callable[[str, t.Mapping[str, t.Any], t.Any, t.List[str]], None]] = {
    "str": _check_str, "url": _check_str, "int": _check_int, "bool": _check_bool, "duration": _check_duration,
    "rate": _check_rate, "list": _check_list, "map": _check_map,
}


def _check_scalar(key: str, entry: t.Mapping[str, t.Any], value: t.Any, errors: t.List[str]) -> None:
    check = _SCALAR_CHECKS.get(entry["type"])
    if value is not None and check is not None:
        check(key, entry, value, errors)


def _walk(document: t.Mapping[t.Any, t.Any], prefix: str, schema_prefix: str, errors: t.List[str]) -> None:
    """Validate the mapping ``document`` found at ``prefix`` (schema path ``schema_prefix``)."""
    for key, value in document.items():
        key = str(key)
        path = prefix + key if not prefix else prefix + "." + key
        schema_path = key if not schema_prefix else schema_prefix + "." + key
        entry = SCHEMA.get(schema_path)
        if entry is None:
            continue  # unknown: Airlock ignores it; see unknown_keys()
        kind = entry["type"]
        if kind == "section":
            if value is None:
                continue
            if not isinstance(value, dict):
                errors.append("%s: expected a mapping, got %r" % (path, value))
                continue
            _walk(value, path, schema_path, errors)
        elif kind == "list_of_sections":
            if value is None:
                continue
            if not isinstance(value, list):
                errors.append("%s: expected a list of mappings, got %r" % (path, value))
                continue
            for index, item in enumerate(value):
                item_path = "%s[%d]" % (path, index)
                if not isinstance(item, dict):
                    errors.append("%s: expected a mapping, got %r" % (item_path, item))
                    continue
                _walk(item, item_path, schema_path + "[]", errors)
                for child, child_entry in SCHEMA.items():
                    if child.startswith(schema_path + "[].") and child_entry.get("required"):
                        leaf = child[len(schema_path) + 3:]
                        if "." not in leaf and item.get(leaf) in (None, ""):
                            errors.append("%s.%s is required" % (item_path, leaf))
        else:
            _check_scalar(path, entry, value, errors)


def validate(document: t.Any) -> t.List[str]:
    """Errors Airlock (or a build that enforces its documented schema) reports at start.

    ``document`` is the parsed YAML (after environment overrides). Returns a
    list of strings, empty when the configuration is valid. Unknown keys are
    not errors here (Airlock ignores them); see ``unknown_keys``.
    """
    errors: t.List[str] = []
    if document is None:
        document = {}
    if not isinstance(document, dict):
        return ["config: expected a YAML mapping at the top level, got %s" % type(document).__name__]
    server = document.get("server")
    addr = server.get("addr") if isinstance(server, dict) else None
    if addr is None or (isinstance(addr, str) and not addr.strip()):
        errors.append("server.addr is required")
    _walk(document, "", "", errors)
    return errors


def _flatten(document: t.Any, prefix: str = "", schema_prefix: str = "") -> t.Iterator[t.Tuple[str, str]]:
    """Yield (dotted_path, schema_path) for every key in the document."""
    if not isinstance(document, dict):
        return
    for key, value in document.items():
        key = str(key)
        path = key if not prefix else prefix + "." + key
        schema_path = key if not schema_prefix else schema_prefix + "." + key
        yield path, schema_path
        kind = _TYPES.get(schema_path)
        if kind == "section" and isinstance(value, dict):
            yield from _flatten(value, path, schema_path)
        elif kind == "list_of_sections" and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _flatten(item, "%s[%d]" % (path, index), schema_path + "[]")


def suggest(schema_path: str, limit: int = 3) -> t.List[str]:
    """Valid keys close to ``schema_path`` (difflib), best first."""
    candidates = list(SCHEMA)
    found: t.List[str] = []
    hint = KNOWN_MISTAKES.get(schema_path)
    if hint:
        for word in re.findall(r"[a-z_\[\]]+(?:\.[a-z_\[\]]+)+", hint):
            if word in SCHEMA and word not in found:
                found.append(word)
    # whole dotted path
    for match in difflib.get_close_matches(schema_path, candidates, n=limit, cutoff=0.6):
        if match not in found:
            found.append(match)
    # same parent, close leaf (camelCase written for snake_case)
    parent, _dot, leaf = schema_path.rpartition(".")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", leaf).lower()
    siblings = [key for key in SCHEMA if key.rpartition(".")[0] == parent]
    sibling_leaves = [key.rpartition(".")[2] for key in siblings]
    for match in difflib.get_close_matches(snake, sibling_leaves, n=limit, cutoff=0.5):
        full = parent + "." + match if parent else match
        if full not in found:
            found.append(full)
    # the same leaf somewhere else (top-level ``logging`` -> ``observability.logging``)
    for key in SCHEMA:
        if key.endswith("." + leaf) or key.endswith("." + snake):
            tail_len = len(schema_path.split("."))
            if key.split(".")[-tail_len:] == schema_path.split(".") and key not in found:
                found.append(key)
    return found[:limit]


def unknown_keys(document: t.Any) -> t.List[t.Dict[str, t.Any]]:
    """Unknown keys in ``document``: ``[{"key", "suggestions", "hint"}]``.

    ``key`` is the dotted path as written (list items as ``upstreams[0].x``);
    ``suggestions`` lists close valid keys (schema paths); ``hint`` explains
    well-known mistakes from the operator playbook (or is None).
    """
    found = []
    for path, schema_path in _flatten(document or {}):
        if schema_path in SCHEMA:
            continue
        parent = schema_path.rpartition(".")[0]
        if parent and parent not in SCHEMA and not (parent.endswith("[]") and parent[:-2] in SCHEMA):
            continue  # reported at the first unknown level
        found.append({
            "key": path,
            "suggestions": suggest(schema_path),
            "hint": KNOWN_MISTAKES.get(schema_path),
        })
    return found


def format_unknown(item: t.Mapping[str, t.Any]) -> str:
    """One line for an ``unknown_keys`` entry."""
    text = "%s: unknown key (Airlock ignores it)" % item["key"]
    if item.get("hint"):
        text += "; %s" % item["hint"]
    if item.get("suggestions"):
        text += "; did you mean %s?" % " or ".join(item["suggestions"])
    return text


def env_overrides(environ: t.Mapping[str, str]) -> t.Dict[str, str]:
    """``{dotted_key: value}`` that koanf's env provider derives from ``AIRLOCK_*`` variables.

    ``AIRLOCK_SERVER_ADDR=:9090`` sets ``server.addr``; every ``_`` becomes a
    ``.``, so ``AIRLOCK_RATE_LIMITING_PER_TOKEN`` sets ``rate.limiting.per.token``
    (an unknown key), which is why keys containing ``_`` cannot be set this way.
    """
    result: t.Dict[str, str] = {}
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or len(name) == len(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):].lower().replace("_", ".")
        result[key] = value
    return result


def apply_overrides(document: t.Any, overrides: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """A copy of ``document`` with dotted ``overrides`` merged in (koanf semantics)."""
    import copy

    merged: t.Dict[str, t.Any] = copy.deepcopy(document) if isinstance(document, dict) else {}
    for dotted, value in overrides.items():
        node = merged
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return merged


def get(document: t.Any, dotted: str, default: t.Any = None) -> t.Any:
    """The value at ``dotted`` in ``document`` or ``default``."""
    node = document
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def duration_seconds(document: t.Any, dotted: str, default: str) -> float:
    """Seconds for the duration at ``dotted`` (``default`` is a Go duration string)."""
    value = get(document, dotted)
    if value is None or value == "":
        value = default
    return duration_ns(value) / float(NS["s"])
