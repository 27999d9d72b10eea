# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What ``airlock.incident.config`` does: merge settings into Airlock's ``config.yaml``, or restore a backup.

The shared safe-change flow (:mod:`.flow`) backs up, writes, restarts, verifies
and rolls back; this file holds what is particular to the configuration:

* the restart options (:func:`check_restart`) and the other refusals made
  before anything is touched (:func:`check_params`);
* the YAML merge and the schema check of the merged document
  (:func:`check_document`), for ``state=present`` (:func:`present`);
* restoring the incident's backup for ``state=reverted`` (:func:`reverted`).

Functions that decide take the module's ``params``, ``check_mode`` and its
``warn`` callback; only :func:`run` takes the module itself, because the
restart command and the Kubernetes target run through it.
"""

from __future__ import annotations

import os
import typing as t

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema
from ansible_collections.airlock.incident.plugins.module_utils.change.backups import BackupStore, sha256_bytes
from ansible_collections.airlock.incident.plugins.module_utils.change.flow import (
    SafeChange,
    check_change_params,
    decode,
    failure,
    open_target,
)
from ansible_collections.airlock.incident.plugins.module_utils.change.safe_change import Reloader
from ansible_collections.airlock.incident.plugins.module_utils.change.yaml_merge import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    YamlBoundsError,
    YamlDocument,
    YamlMergeError,
    changed_keys,
    merge_text,
    text_diff,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.redact import Redactor
from ansible_collections.airlock.incident.plugins.module_utils.k8s.config_target import (
    CONFIG_KEY,
    precheck_settings,
)

#: The module name backups and messages carry.
MODULE_NAME = "airlock.incident.config"

Warn = t.Callable[[str], None]
Result = t.Dict[str, t.Any]


def check_document(after: t.Any, settings: t.Optional[t.Mapping[str, t.Any]]) -> t.Tuple[t.List[str], t.List[str]]:
    """(errors, warnings) for the merged document: unknown keys from ``settings`` are errors, unknown keys
    already in the file are warnings, and every value of the merged document is checked against the schema."""
    errors = []
    from_settings = set()
    for item in schema.unknown_keys(settings or {}):
        from_settings.add(item["key"])
        errors.append("settings: " + schema.format_unknown(item))
    warnings = []
    for item in schema.unknown_keys(after):
        if item["key"] not in from_settings:
            warnings.append("already in the file: " + schema.format_unknown(item))
    errors.extend(schema.validate(after))
    return errors, warnings


def check_restart(params: t.Dict[str, t.Any]) -> None:
    """Fill in the default restart method of the target; InputError for one that does not fit."""
    configmap = params["target"] == "configmap"
    if params["restart"] is None:
        params["restart"] = "rollout" if configmap else "none"
    if configmap and params["restart"] not in ("rollout", "none"):
        raise InputError("restart: invalid value %r with target=configmap; accepted values: rollout (a rolling restart "
                         "through the checksum annotation), none" % params["restart"])
    if not configmap and params["restart"] == "rollout":
        raise InputError("restart: rollout is only for target=configmap; with target=file accepted values: none, "
                         "command, systemd")
    if params["restart"] == "command" and not params["restart_command"]:
        raise InputError("restart_command: required (an argv list) when restart=command")
    if params["restart"] == "systemd" and not params["service_name"]:
        raise InputError("service_name: required when restart=systemd")


#: What ``settings`` must look like, for the refusals that name it.
SETTINGS_SHAPE = "a mapping (dict) of nested Airlock config keys, e.g. {server: {addr: ':9090'}}"


def dotted_keys(settings: t.Any, prefix: str = "") -> t.List[str]:
    """The keys of ``settings`` (at any depth, outside the free-form ``env`` mappings) that contain a dot."""
    found = []
    if isinstance(settings, dict):
        for key, value in settings.items():
            path = str(key) if not prefix else "%s.%s" % (prefix, key)
            if "." in str(key):
                found.append(path)
            elif str(key) != "env":
                found.extend(dotted_keys(value, path))
    elif isinstance(settings, (list, tuple)):
        for index, item in enumerate(settings):
            found.extend(dotted_keys(item, "%s[%d]" % (prefix, index)))
    return found


def check_settings(settings: t.Any) -> None:
    """InputError naming ``settings`` unless it is None or a mapping of nested keys (no dotted key)."""
    if settings is None:
        return
    if not isinstance(settings, dict):
        raise InputError("settings: invalid value of type %s; accepted: %s (a k=v string or a JSON text is not "
                         "accepted)" % (type(settings).__name__, SETTINGS_SHAPE))
    dotted = dotted_keys(settings)
    if dotted:
        nested = dotted[0].split(".")
        raise InputError("settings: key %r contains a dot, which Airlock would read as a literal key and the real "
                         "setting would stay unchanged; write it nested, e.g. %s: ... (keys with a dot: %s)"
                         % (dotted[0], "".join("{%s: " % part for part in nested) + "..." + "}" * len(nested),
                            ", ".join(dotted)))


def check_params(params: t.Dict[str, t.Any], check_mode: bool, warn: Warn) -> None:
    """Refuse (InputError naming the option) everything that can be refused before anything is touched."""
    check_settings(params["settings"])
    check_change_params(params, check_mode, ("path", "restart_command", "service_name"))
    check_restart(params)
    if params["state"] == "present" and not params["settings"]:
        raise InputError("settings: required (a non-empty mapping of Airlock config keys) when state=present")
    if params["state"] == "reverted" and not params["incident_id"]:
        raise InputError("incident_id: required when state=reverted (the backups to restore are the incident's)")
    if params["verify_url"] and params["restart"] == "none":
        warn("verify_url is only used after a restart; restart=none, so the service is not checked")
    if params["target"] == "configmap" and params["state"] == "present":
        # Everything that can be known from the settings alone is refused before any API call.
        errors = precheck_settings(params["settings"])
        if errors:
            raise InputError("refusing to change %s of configmap %s/%s, nothing was touched (no API call was made): "
                             "%s" % (CONFIG_KEY, params["namespace"], params["configmap"], "; ".join(errors)),
                             errors=errors)


def make_reloader(module: t.Any) -> Reloader:
    """The host restart the options ask for (``none`` when there is none)."""
    params = module.params
    method = {"command": "command", "systemd": "systemd"}.get(params["restart"], "none")
    return Reloader(module, method, command=params["restart_command"], service_name=params["service_name"],
                    validate_certs=params["validate_certs"])


def _result(change: SafeChange, before: t.Optional[bytes], **extra: t.Any) -> Result:
    fields: Result = dict(path=change.target.path, changed_keys=[], would_restart=False, yaml_engine=None)
    fields.update(extra)
    return change.result(before, **fields)


def _commit(warn: Warn, change: SafeChange, before: t.Optional[bytes], new_data: bytes, result: Result, kind: str,
            extra: t.Mapping[str, t.Any], reloader: t.Optional[Reloader]) -> None:
    """Back up, write, restart, verify (and roll back); updates ``result``."""
    change.commit(before, new_data, result, kind, extra, reloader=reloader)
    if change.cluster is None and not t.cast(Reloader, reloader).active:
        warn("Airlock reads config.yaml only at start: the change takes effect at the next restart "
             "(set restart to restart it now)")
    elif change.cluster is not None and change.cluster.reloader is None:
        warn("restart=none: the Airlock pods keep the previous configuration until they restart (Airlock reads "
             "config.yaml only at start)")


def merge(change: SafeChange, before: bytes, settings: t.Mapping[str, t.Any]
          ) -> t.Tuple[str, str, t.Any, t.List[str], t.Optional[str]]:
    """(text, new_text, new_document, changed keys, engine) of ``settings`` merged into ``before``."""
    name = change.name()
    text = decode(before, name)
    try:
        new_text, _old_doc, new_doc, keys, engine = merge_text(text, settings)
    except YamlBoundsError as exc:
        field = "path" if change.cluster is None else "configmap"
        raise AirlockIncidentError("%s: %s: %s; nothing was changed" % (field, name, exc)) from exc
    except YamlMergeError as exc:
        raise AirlockIncidentError("%s: %s; nothing was changed" % (name, exc)) from exc
    return text, new_text, new_doc, keys, engine


def document_redactor(*documents: t.Any) -> Redactor:
    """A redactor of the secret values (``upstreams[].env``, tokens, passwords) of these documents and settings."""
    redactor = Redactor()
    for document in documents:
        redactor.add_document(document)
    return redactor


def plain_or_none(text: str) -> t.Any:
    """The plain document of ``text``, or None when it does not load (only used to find its secrets)."""
    try:
        return YamlDocument(text, prefer_ruamel=False).plain()
    except YamlMergeError:
        return None


def present(params: t.Mapping[str, t.Any], check_mode: bool, warn: Warn, change: SafeChange, before: bytes,
            reloader: t.Optional[Reloader]) -> Result:
    """``state=present``: merge ``params["settings"]``, check, and write (restart, verify) unless nothing changes.

    ``reloader`` is the host restart (:func:`make_reloader`); None with ``target=configmap``.
    """
    name = change.name()
    text, new_text, new_doc, keys, engine = merge(change, before, params["settings"])
    redactor = document_redactor(params["settings"], new_doc, plain_or_none(text))
    errors, warnings = check_document(new_doc, params["settings"])
    errors = [redactor.text(error) for error in errors]
    for warning in warnings:
        warn(redactor.text(warning))
    result = _result(change, before, yaml_engine=engine, changed_keys=keys)
    if errors:
        raise failure("refusing to change %s, nothing was touched: %s" % (name, "; ".join(errors)), result,
                      errors=errors)
    if not keys:
        result["msg"] = "%s already has these settings; nothing to do" % name
        return result
    new_data = new_text.encode("utf-8")
    result.update(diff=redactor.value(text_diff(text, new_text, "%s (before)" % name, "%s (after)" % name)),
                  sha256_after=sha256_bytes(new_data), would_restart=params["restart"] != "none")
    if engine != "ruamel.yaml":
        warn("ruamel.yaml is not installed on the host: comments of %s are dropped (the backup keeps them)" % name)
    if check_mode:
        if change.cluster is not None:
            change.cluster.preview(new_data, result)
        restart = " and restart Airlock" if change.cluster is None else " and roll out deployment %s" % params["deployment"]
        restart = restart if result["would_restart"] else ""
        result.update(changed=True, msg="would change %s in %s%s" % (", ".join(keys), name, restart))
        return result
    _commit(warn, change, before, new_data, result, "pre-change", {"changed_keys": keys}, reloader)
    result["msg"] = "changed %s in %s%s" % (", ".join(keys), name, change.done(result, "restarted"))
    return result


def compare(before: bytes, data: bytes, name: str, entry: t.Mapping[str, t.Any]
            ) -> t.Tuple[t.List[str], t.Optional[str], t.List[str]]:
    """(changed keys, YAML engine, schema errors) between the current content and a backup."""
    try:
        new_document = YamlDocument(decode(data, entry["path"]))
        keys = changed_keys(YamlDocument(decode(before, name)).plain(), new_document.plain())
        return keys, new_document.engine, schema.validate(new_document.plain())
    except YamlMergeError as exc:
        return [], None, ["%s: %s" % (entry["path"], exc)]


def reverted(params: t.Mapping[str, t.Any], check_mode: bool, warn: Warn, change: SafeChange, before: bytes,
             reloader: t.Optional[Reloader]) -> Result:
    """``state=reverted``: restore the incident's newest (or oldest) backup, restarting and verifying."""
    name = change.name()
    entries = change.store.entries(change.target, incident_id=params["incident_id"], kinds=("pre-change",))
    if not entries:
        raise AirlockIncidentError("no backup of %s for incident %s in %s: nothing to revert to" % (
            name, params["incident_id"], change.store.directory))
    entry = entries[-1] if params["revert_to"] == "newest" else entries[0]
    data = BackupStore.read(entry)
    keys, engine, errors = compare(before, data, name, entry)
    result = _result(change, before, yaml_engine=engine)
    if data == before:
        result["msg"] = "%s already has the content of %s; nothing to do" % (name, entry["path"])
        return result
    before_text, data_text = decode(before, name), decode(data, entry["path"])
    redactor = document_redactor(plain_or_none(before_text), plain_or_none(data_text))
    for error in errors:
        warn(redactor.text("the backup being restored does not validate: %s" % error))
    result.update(changed_keys=keys, sha256_after=sha256_bytes(data), would_restart=params["restart"] != "none",
                  diff=redactor.value(text_diff(before_text, data_text, "%s (before)" % name, entry["path"])))
    if change.cluster is not None:
        change.cluster.remember(entry.get("configmap_checksum"), entry.get("annotation"))
    if check_mode:
        if change.cluster is not None:
            change.cluster.preview(data, result)
        result.update(changed=True, msg="would restore %s from %s" % (name, entry["path"]))
        return result
    _commit(warn, change, before, data, result, "pre-revert", {"restores": entry["path"]}, reloader)
    result["msg"] = "restored %s from %s%s" % (name, entry["path"], change.done(result, "restarted"))
    return result


def run(module: t.Any) -> Result:
    """The module's work: check the options, open the target, then merge or restore."""
    if not HAS_YAML:
        raise AirlockIncidentError(missing_required_lib("PyYAML"), exception=str(YAML_IMPORT_ERROR))
    params = module.params
    check_params(params, module.check_mode, module.warn)
    change, before = open_target(module, MODULE_NAME, CONFIG_KEY, "configuration", "restarted",
                                 params["restart"] == "rollout", "path", must_exist=True)
    reloader = None if change.cluster is not None else make_reloader(module)
    apply = present if params["state"] == "present" else reverted
    return apply(params, module.check_mode, module.warn, change, t.cast(bytes, before), reloader)


def where(module: t.Any) -> str:
    """What an I/O error of the module names: the file, or the backup directory with ``target=configmap``."""
    params = module.params
    return t.cast(str, os.path.abspath(params["path"]) if params["path"] else params["backup_dir"])
