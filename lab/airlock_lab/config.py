# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Loading an Airlock ``config.yaml`` the way Airlock does, and deriving the lab copy.

Airlock reads the file with koanf, applies ``AIRLOCK_*`` environment overrides
(every ``_`` becomes ``.``), ignores unknown keys and refuses to start when the
document does not validate. The schema and validator live in the collection
(``plugins/module_utils/airlock/config_schema.py``) so that modules and the lab agree.
"""

from __future__ import annotations

import os

import yaml

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema

from airlock_lab import DEFAULT_POLICY


class ConfigError(Exception):
    """The configuration cannot be used; Airlock would exit with this message."""


def load(path, environ=None):
    """(document, errors, unknown) for the config at ``path`` after env overrides.

    ``errors`` is a list of strings (empty when valid); ``unknown`` is the list
    from ``airlock_config.unknown_keys``. Raises ConfigError when the file
    cannot be read or parsed (Airlock: ``failed to load config file``).
    """
    environ = os.environ if environ is None else environ
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("failed to load config file %s: %s" % (path, exc))
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("failed to load config file %s: yaml: %s" % (path, str(exc).replace("\n", " ")))
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError("failed to unmarshal config: top level of %s is not a mapping" % path)
    overrides = schema.env_overrides(environ)
    if overrides:
        document = schema.apply_overrides(document, overrides)
    errors = schema.validate(document)
    unknown = schema.unknown_keys(document)
    return document, errors, unknown


def error_message(errors):
    """Airlock's wording for a failed validation."""
    return "config validation failed: %s" % "; ".join(errors)


def _resolve(path, base):
    if not path:
        return path
    path = os.path.expanduser(str(path))
    if not os.path.isabs(path):
        path = os.path.join(base, path)
    return os.path.normpath(path)


def _choose_policy(policy_source, configured_policy, base):
    """The policy file the lab copies: ``--policy``, else the configured file, else the file with
    that name next to the config, else the lab default. ConfigError when ``--policy`` is missing."""
    candidates = []
    if policy_source:
        candidates.append(os.path.abspath(policy_source))
    if configured_policy:
        candidates.append(_resolve(configured_policy, base))
        candidates.append(os.path.join(base, os.path.basename(str(configured_policy))))
    candidates.append(DEFAULT_POLICY)
    chosen_policy = None
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            chosen_policy = candidate
            break
    if policy_source and chosen_policy != os.path.abspath(policy_source):
        raise ConfigError("policy file %s does not exist" % policy_source)
    return chosen_policy


def _override_database(document, lab_dir, database, overrides):
    """Point ``audit.database`` into the lab (see :func:`derive`); returns the database path."""
    audit_section = document.get("audit")
    if audit_section is None:
        audit_section = document["audit"] = {}
    if isinstance(audit_section, dict):
        configured_db = audit_section.get("database")
        if configured_db:
            resolved = str(configured_db)
            if not os.path.isabs(resolved):
                resolved = os.path.join(lab_dir, resolved)
            elif not os.path.isdir(os.path.dirname(resolved)):
                resolved = database
            database = os.path.normpath(resolved)
        if configured_db != database:
            overrides["audit.database"] = {"from": configured_db, "to": database}
        audit_section["database"] = database
    return database


def _override_issuer(document, idp_url, overrides):
    """``auth.oidc_issuer`` is the lab IdP (documented profile)."""
    auth_section = document.get("auth")
    if auth_section is None:
        auth_section = document["auth"] = {}
    if isinstance(auth_section, dict):
        if auth_section.get("oidc_issuer") != idp_url:
            overrides["auth.oidc_issuer"] = {"from": auth_section.get("oidc_issuer"), "to": idp_url}
        auth_section["oidc_issuer"] = idp_url


def derive(source, lab_dir, profile, idp_url=None, policy_source=None, no_upstreams=False):
    """Write the lab's copy of ``source`` under ``lab_dir`` and return a description.

    The user's file is never modified. The copy differs only where the lab must:

    * ``policy.rego_file`` points at ``<lab_dir>/policy.rego``, a copy of
      ``policy_source`` (``--policy``), else of the configured file, else of
      the file with the same name next to the config, else the lab default;
    * ``audit.database``: relative paths resolve against ``lab_dir``; an
      absolute path whose directory does not exist (``/var/lib/airlock``) is
      replaced by ``<lab_dir>/audit.db``;
    * ``auth.oidc_issuer`` is the lab IdP URL in the ``documented`` profile;
    * ``upstreams`` is removed with ``no_upstreams``.

    A file that is not a YAML mapping is copied verbatim so that the server
    reports the error itself, as Airlock would.
    """
    lab_dir = os.path.abspath(lab_dir)
    source = os.path.abspath(source)
    base = os.path.dirname(source)
    target = os.path.join(lab_dir, "config.yaml")
    policy_target = os.path.join(lab_dir, "policy.rego")
    overrides = {}
    with open(source, "rb") as handle:
        raw = handle.read()
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        document = None

    # policy source
    configured_policy = None
    if isinstance(document, dict):
        configured_policy = schema.get(document, "policy.rego_file")
    chosen_policy = _choose_policy(policy_source, configured_policy, base)
    with open(chosen_policy, "rb") as handle:
        policy_bytes = handle.read()
    from airlock_lab.util import atomic_write

    atomic_write(policy_target, policy_bytes)
    for stale in ("policy.rego.good",):
        try:
            os.unlink(os.path.join(lab_dir, stale))
        except OSError:
            pass

    database = os.path.join(lab_dir, "audit.db")
    if not isinstance(document, dict):
        atomic_write(target, raw)
        return {"config": target, "config_source": source, "policy": policy_target,
                "policy_source": chosen_policy, "db": database, "overrides": overrides}

    policy_section = document.setdefault("policy", {}) if isinstance(document.get("policy", {}), dict) else None
    if policy_section is not None:
        if configured_policy != policy_target:
            overrides["policy.rego_file"] = {"from": configured_policy, "to": policy_target}
        policy_section["rego_file"] = policy_target

    database = _override_database(document, lab_dir, database, overrides)

    if no_upstreams and "upstreams" in document:
        overrides["upstreams"] = {"from": "%d configured" % len(document.get("upstreams") or []), "to": None}
        document.pop("upstreams")

    if profile == "documented" and idp_url:
        _override_issuer(document, idp_url, overrides)

    header = (
        "# Lab copy of %s written by airlock-lab start.\n"
        "# Changed keys: %s\n" % (source, ", ".join(sorted(overrides)) or "none")
    )
    atomic_write(target, header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False))
    return {"config": target, "config_source": source, "policy": policy_target,
            "policy_source": chosen_policy, "db": database, "overrides": overrides}
