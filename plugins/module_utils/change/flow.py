# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The safe-change flow ``airlock.incident.config`` and ``airlock.incident.policy`` share.

Both change one document Airlock reads at start (``config.yaml`` or
``policy.rego``), on a host (:class:`.safe_change.FileTarget`) or as one key of
the Helm chart's ConfigMap (``k8s.config_target``). The flow is the same:

1. refuse bad options before anything is touched (:func:`check_change_params`);
2. back up the previous content (:class:`.backups.BackupStore`);
3. write, restart or reload, verify ``/live`` and ``/ready``;
4. on failure restore the previous content, restart again, and fail with a
   result that says what was restored (:meth:`SafeChange.commit` raises
   :class:`AirlockIncidentError` carrying it; only the runner exits).

What differs lives in one file per module: how the new content is made and
checked (YAML merge and schema, Rego compile and known requests), the restart
or reload options, and ``state=reverted`` (config): :mod:`.config_change` and
:mod:`.policy_change`.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.change.backups import BackupStore, sha256_bytes
from ansible_collections.airlock.incident.plugins.module_utils.change.safe_change import (
    FileTarget,
    Reloader,
    apply_change,
    check_verify_url,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.contract import validate_incident_id
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.config_target import (
    Cluster,
    apply_configmap_change,
    file_only_options,
    mark_backup,
    target_arg_spec,
    validate_target_params,
)

#: Markers errors of the ConfigMap target carry that are no module result.
_MARKERS = ("conflict",)


def safe_change_arg_spec(**extra: t.Dict[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """The options config and policy share (fragment ``airlock.incident.connection.safe_change``), plus ``extra``."""
    spec = target_arg_spec(
        restart_command=dict(type="list", elements="str"),
        service_name=dict(type="str"),
        verify_url=dict(type="str"),
        verify_timeout=dict(type="float", default=30.0),
        validate_certs=dict(type="bool", default=True),
        backup_dir=dict(type="path"),
        incident_id=dict(type="str"),
    )
    spec.update(extra)
    return spec


def check_change_params(params: t.Dict[str, t.Any], check_mode: bool, file_only: t.Sequence[str]) -> None:
    """Refuse (InputError naming the option) what both modules refuse; normalises incident_id and verify_url."""
    params["incident_id"] = validate_incident_id(params["incident_id"], required=False)
    params["verify_url"] = check_verify_url(params["verify_url"])
    error = file_only_options(params, file_only)
    if error:
        raise InputError(error)
    errors = validate_target_params(params, check_mode)
    if errors:
        raise InputError("; ".join(errors))
    if not params["verify_timeout"] > 0:
        raise InputError("verify_timeout: invalid value %r; it must be a number of seconds greater than 0"
                         % params["verify_timeout"])


def run_change(run: t.Callable[[t.Any], t.Dict[str, t.Any]], where: t.Callable[[t.Any], str]
               ) -> t.Callable[[t.Any], t.Dict[str, t.Any]]:
    """``run`` as the runner calls it: an I/O error names ``where(module)``; internal markers are dropped."""

    def guarded(module: t.Any) -> t.Dict[str, t.Any]:
        try:
            return run(module)
        except AirlockIncidentError as exc:
            for key in _MARKERS:
                exc.result.pop(key, None)
            raise
        except (IOError, OSError) as exc:
            raise AirlockIncidentError("%s: %s" % (where(module), exc)) from exc

    return guarded


def read_text(path: str, field: str) -> str:
    """The UTF-8 text of a file on the host; AirlockIncidentError naming ``field`` otherwise."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except (IOError, OSError) as exc:
        raise AirlockIncidentError("%s: cannot read %s: %s" % (field, path, exc)) from exc
    return decode(data, path, field)


def decode(data: bytes, path: str, field: str = "path") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AirlockIncidentError("%s: %s is not UTF-8 text (%s)" % (field, path, exc)) from exc


def failure(msg: str, result: t.Mapping[str, t.Any], **extra: t.Any) -> AirlockIncidentError:
    """The error that fails the module with ``msg`` and the result learned so far (its own ``msg`` left out)."""
    fields = {key: value for key, value in result.items() if key != "msg"}
    fields.update(extra)
    return AirlockIncidentError(msg, **fields)


class SafeChange:
    """One change of a target for a module: the backup, the commit, and what the result says about them.

    ``done_key`` is the result key telling that the restart (config:
    ``restarted``) or reload (policy: ``reloaded``) ran and succeeded.
    ``cluster`` is the module's ``k8s.config_target.Cluster`` with
    ``target=configmap``, else None.
    """

    def __init__(self, params: t.Mapping[str, t.Any], module_name: str, what: str, done_key: str, target: t.Any,
                 cluster: t.Any = None) -> None:
        self.params, self.target, self.cluster = params, target, cluster
        #: How backups, messages and results name the module, the content and the restart or reload.
        self.module_name, self.what, self.done_key = module_name, what, done_key
        directory = params["backup_dir"] or (os.path.dirname(target.path) if cluster is None else None)
        self.store = BackupStore(t.cast(str, directory))

    def name(self) -> str:
        """How messages name the target: the file path, or the key of the ConfigMap."""
        return t.cast(str, self.target.path if self.cluster is None else self.target.what())

    def result(self, before: t.Optional[bytes], **extra: t.Any) -> t.Dict[str, t.Any]:
        """The result before anything happened: nothing changed, nothing restarted."""
        digest = sha256_bytes(before) if before is not None else None
        result: t.Dict[str, t.Any] = {"changed": False, "backup_path": None, self.done_key: False, "verified": False,
                                      "rolled_back": False, "sha256_before": digest, "sha256_after": digest, "msg": ""}
        result.update(extra)
        if self.cluster is not None:
            result.update(self.cluster.result())
        return result

    def backup(self, before: t.Optional[bytes], kind: str, extra: t.Optional[t.Mapping[str, t.Any]]) -> t.Optional[str]:
        """Save the previous content (none when there was none); returns the backup path."""
        if before is None:
            return None
        metadata = dict(self.cluster.backup_extra()) if self.cluster is not None else {}
        metadata.update(extra or {})
        return self.store.save(self.target, before, incident_id=self.params["incident_id"], kind=kind,
                               module=self.module_name, extra=metadata or None)

    def commit(self, before: t.Optional[bytes], new_data: bytes, result: t.Dict[str, t.Any], kind: str,
               extra: t.Optional[t.Mapping[str, t.Any]] = None, reloader: t.Optional[Reloader] = None,
               rollback_reloader: t.Optional[Reloader] = None) -> None:
        """Back up, write, restart or reload, verify; updates ``result``.

        On failure the previous content is restored (and restarted again) and
        AirlockIncidentError is raised with ``result`` saying what happened.
        """
        result["backup_path"] = self.backup(before, kind, extra)
        if self.cluster is not None:
            self._commit_configmap(before, new_data, result)
            return
        params = self.params
        try:
            outcome = apply_change(self.target, new_data, before, result["backup_path"], t.cast(Reloader, reloader),
                                   verify_url=params["verify_url"], verify_timeout=params["verify_timeout"],
                                   rollback_reloader=rollback_reloader, validate_certs=params["validate_certs"],
                                   what=self.what)
        except AirlockIncidentError as exc:
            if result["backup_path"]:
                self.store.mark(result["backup_path"], rolled_back=True, rollback_reason=exc.msg)
            current = self.target.read()
            result.update({"changed": True, "rolled_back": True, "verified": False, "msg": exc.msg,
                           self.done_key: bool((exc.result.get("rollback_reload") or {}).get("ok")),
                           "sha256_after": sha256_bytes(current) if current is not None else None})
            raise failure(exc.msg, result) from exc
        result.update({"changed": True, self.done_key: outcome["restarted"], "verified": outcome["verified"],
                       "rolled_back": False, "sha256_after": sha256_bytes(new_data)})

    def _commit_configmap(self, before: t.Optional[bytes], new_data: bytes, result: t.Dict[str, t.Any]) -> None:
        params, cluster, target = self.params, self.cluster, self.target
        try:
            outcome = apply_configmap_change(target, new_data, before, result["backup_path"], cluster.reloader,
                                             verify_url=params["verify_url"], verify_timeout=params["verify_timeout"],
                                             validate_certs=params["validate_certs"], what=self.what)
        except AirlockIncidentError as exc:
            mark_backup(self.store, result["backup_path"], exc)
            last = exc.result.get("rollback_reload") or exc.result.get("reload") or {}
            current = (target.data or {}).get(target.key)
            result.update({"changed": "reload" in exc.result, "rolled_back": bool(exc.result.get("rolled_back")),
                           "verified": False, self.done_key: False, "rollout": last.get("rollout"),
                           "not_ready_pods": (exc.result.get("reload") or {}).get("not_ready_pods"),
                           "sha256_after": sha256_bytes(current.encode("utf-8")) if current is not None else None,
                           "msg": exc.msg})
            result["checksum_annotation"]["after"] = last.get("annotation_after", cluster.annotation)
            result["configmap"]["resource_version"] = target.resource_version
            raise failure(exc.msg, result) from exc
        reload_result = outcome["reload"] or {}
        result.update({"changed": True, self.done_key: bool(reload_result.get("patched") and reload_result.get("ok")),
                       "verified": outcome["verified"], "rolled_back": False, "sha256_after": sha256_bytes(new_data),
                       "rollout": reload_result.get("rollout")})
        result["configmap"]["resource_version"] = target.resource_version
        if cluster.reloader is not None:
            result["checksum_annotation"]["after"] = reload_result.get("annotation_after")

    def done(self, result: t.Mapping[str, t.Any], how: str) -> str:
        """The tail of a success message: what happened after the write (``how``: the restart or reload)."""
        if self.cluster is not None:
            if not result[self.done_key] and not result["verified"]:
                return ""
            return ", rolled out %s%s" % (self.params["deployment"], " and verified" if result["verified"] else "")
        if result["verified"]:
            return ", %s and verified" % how
        return ", %s" % how if result[self.done_key] else ""


def open_target(module: t.Any, module_name: str, key: str, what: str, done_key: str, rolls: bool, path_field: str,
                must_exist: bool) -> t.Tuple[SafeChange, t.Optional[bytes]]:
    """The change ``module_name`` makes and the content before it: the ConfigMap key ``key`` with ``target=configmap``
    (``rolls``: the change rolls the Deployment), else the file ``params[path_field]``.

    With ``must_exist`` a target without content is refused (the module changes an existing Airlock
    ``what``, it never creates one); a file that cannot be read is refused naming ``path_field``.
    """
    params = module.params
    never = "; this module changes an existing Airlock %s, it never creates one" % what
    if params["target"] == "configmap":
        cluster = Cluster(module, key, rolls)
        before = cluster.read()
        if before is None and must_exist:
            raise AirlockIncidentError("configmap: %s/%s has no %s key%s"
                                       % (cluster.target.namespace, cluster.target.name, key, never))
        if cluster.warning:
            module.warn(cluster.warning)
        return SafeChange(params, module_name, what, done_key, cluster.target, cluster), before
    target = FileTarget(params[path_field])
    try:
        before = target.read()
    except (IOError, OSError) as exc:
        raise AirlockIncidentError("%s: cannot read %s: %s" % (path_field, target.path, exc)) from exc
    if before is None and must_exist:
        raise AirlockIncidentError("%s: %s does not exist%s" % (path_field, target.path, never))
    return SafeChange(params, module_name, what, done_key, target), before
