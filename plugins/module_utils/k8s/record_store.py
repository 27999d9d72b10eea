# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes record store (the ``k8s_incident_store`` module's run).

Each incident's record and handoff live in one ConfigMap (or Secret) ``airlock-incident-<id>`` in a namespace
the user chooses, labelled ``airlock.incident/incident=<id>``. ``pull`` brings the record into the local
incident directory, ``push`` writes the local record back, ``absent`` deletes the object. A push replaces the
object only at the ``resourceVersion`` it read; when another job changed it in between, the API server answers
409 and the push reads again, merges (:func:`.incident.sync.merge_records`) and retries, so neither job's
entries are lost.
"""

from __future__ import annotations

import base64
import json
import os
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import confirm_error, incident_id_error
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.incident import store, sync
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import IncidentError, Record
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, NotFound, validate_common

KINDS = ("configmap", "secret")
STATES = ("pull", "push", "absent")
NAME_PREFIX = "airlock-incident-"
LABEL = "airlock.incident/incident"
ID_ANNOTATION = "airlock.incident/id"
MANAGED_LABELS = {"app.kubernetes.io/managed-by": "airlock.incident", "airlock.incident/record": "true"}
#: A label value: what the incident id must also be to label the object.
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
#: Reads, merges and replaces a push tries before it gives up on a store other jobs keep changing.
ATTEMPTS = 5


def object_name(incident_id: str) -> str:
    """``airlock-incident-<id>`` in lowercase, ``_`` as ``-`` (the exact id is kept in an annotation)."""
    return NAME_PREFIX + incident_id.lower().replace("_", "-")


def validate(module: t.Any) -> t.List[str]:
    """Every refusal of the options, each naming its field and the accepted values."""
    params = module.params
    errors = [error for error in (validate_common(params), incident_id_error(params.get("incident_id"))) if error]
    incident_id = params.get("incident_id")
    if not errors and not LABEL_VALUE.match(incident_id):
        errors.append("incident_id: invalid value %r for the Kubernetes record store; accepted values: an id that also "
                      "ends with a letter or digit (it labels the object)" % incident_id)
    if not isinstance(params.get("directory"), str) or not params["directory"].strip():
        errors.append("directory: invalid value %r; accepted values: a non-empty path of the directory that holds the "
                      "incident records" % (params.get("directory"),))
    if params.get("state") == "absent":
        error = confirm_error(params, module.check_mode, "delete the stored record of %s" % incident_id)
        if error:
            errors.append(error)
    return errors


class Remote:
    """The one ConfigMap or Secret of an incident."""

    def __init__(self, k8s: K8s, kind: str, namespace: str, incident_id: str) -> None:
        self.k8s, self.kind, self.namespace, self.incident_id = k8s, kind, namespace, incident_id
        self.name = object_name(incident_id)
        suffix = "config_map" if kind == "configmap" else "secret"
        self.api = {verb: getattr(k8s.core, "%s_namespaced_%s" % (verb, suffix))
                    for verb in ("read", "create", "replace", "delete")}
        self.what = "%s %s/%s" % ("ConfigMap" if kind == "configmap" else "Secret", namespace, self.name)

    def read(self) -> t.Optional[t.Dict[str, t.Any]]:
        """The object as a plain dict, None when there is none; refused when it is not this incident's record."""
        try:
            obj = self.k8s.sanitize(self.k8s.call(self.what, self.api["read"], self.name, self.namespace))
        except NotFound:
            return None
        meta = obj.get("metadata") or {}
        owner = (meta.get("annotations") or {}).get(ID_ANNOTATION)
        if (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") != "airlock.incident" or owner is None:
            raise AirlockIncidentError("%s exists but was not written by airlock.incident (no %s annotation); it is never "
                                       "read or overwritten: rename or delete it" % (self.what, ID_ANNOTATION))
        if owner != self.incident_id:
            raise AirlockIncidentError("%s holds the record of %s, not %s (the names differ only in case or '_'); use "
                                       "another namespace for one of them" % (self.what, owner, self.incident_id))
        return obj

    def data(self, obj: t.Mapping[str, t.Any]) -> t.Dict[str, str]:
        data = dict(obj.get("data") or {})
        if self.kind == "secret":
            data = {key: base64.b64decode(value).decode("utf-8") for key, value in data.items()}
        return data

    def body(self, data: t.Mapping[str, str], resource_version: t.Optional[str]) -> t.Dict[str, t.Any]:
        meta: t.Dict[str, t.Any] = {"name": self.name, "namespace": self.namespace,
                                    "labels": dict(MANAGED_LABELS, **{LABEL: self.incident_id}),
                                    "annotations": {ID_ANNOTATION: self.incident_id}}
        if resource_version:
            meta["resourceVersion"] = resource_version
        body: t.Dict[str, t.Any] = {"apiVersion": "v1", "kind": "ConfigMap" if self.kind == "configmap" else "Secret",
                                    "metadata": meta}
        if self.kind == "secret":
            body["type"] = "Opaque"
            body["data"] = {key: base64.b64encode(value.encode("utf-8")).decode("ascii") for key, value in data.items()}
        else:
            body["data"] = dict(data)
        return body

    def write(self, data: t.Mapping[str, str], resource_version: t.Optional[str], dry_run: bool) -> t.Optional[str]:
        """Create (no version) or replace at ``resource_version``; the new resourceVersion. 409 raises."""
        kwargs = {"dry_run": "All"} if dry_run else {}
        body = self.body(data, resource_version)
        if resource_version is None:
            self.k8s.ensure_namespace(self.namespace)
            result = self.k8s.call(self.what, self.api["create"], self.namespace, body, **kwargs)
        else:
            result = self.k8s.call(self.what, self.api["replace"], self.name, self.namespace, body, **kwargs)
        return (self.k8s.sanitize(result).get("metadata") or {}).get("resourceVersion")

    def delete(self, resource_version: str, dry_run: bool) -> None:
        # The API server takes a DELETE's options from its body when there is one (a dryRun query parameter
        # beside a body is ignored), so the dry run goes into the body with the precondition.
        options: t.Dict[str, t.Any] = {"preconditions": {"resourceVersion": resource_version}}
        if dry_run:
            options["dryRun"] = ["All"]
        self.k8s.call(self.what, self.api["delete"], self.name, self.namespace, body=options)


def _conflict(exc: AirlockIncidentError) -> bool:
    return exc.result.get("status") == 409


def _remote_record(remote: Remote, obj: t.Optional[t.Mapping[str, t.Any]]) -> t.Tuple[t.Optional[Record], t.Dict[str, str]]:
    if obj is None:
        return None, {}
    data = remote.data(obj)
    record = sync.parse_record(data.get(sync.RECORD_KEY), "%s (key %s)" % (remote.what, sync.RECORD_KEY))
    if record is None:
        raise IncidentError("%s has no %s key; it is not an incident record: delete it or push with another namespace"
                            % (remote.what, sync.RECORD_KEY))
    return record, data


def _version(obj: t.Optional[t.Mapping[str, t.Any]]) -> t.Optional[str]:
    return None if obj is None else (obj.get("metadata") or {}).get("resourceVersion")


def _save_local(paths: t.Mapping[str, str], directory: str, record: Record, state: t.Mapping[str, t.Any],
                handoff: t.Optional[t.Mapping[str, t.Any]]) -> bool:
    """Write the working copy (record, report, handoff, state) under the record's lock; whether the record or the
    handoff changed."""
    store.ensure_dir(paths["dir"])
    store.check_paths(directory, paths)
    with store.FileLock(paths["lock"]):
        store.check_paths(directory, paths)
        written = store.write_incident(paths, record)
        handed = sync.write_handoff(paths["dir"], handoff)
        if sync.read_state(paths["dir"]) != state:
            sync.write_state(paths["dir"], state)
    return bool(written) or handed


def _state(remote: Remote, resource_version: t.Optional[str], base: Record) -> t.Dict[str, t.Any]:
    return {"kind": remote.kind, "namespace": remote.namespace, "name": remote.name,
            "resource_version": resource_version, "base": base}


def _base(remote: Remote, case_dir: str) -> t.Optional[Record]:
    """The record this working copy last pulled or pushed from this very object (None: never)."""
    state = sync.read_state(case_dir)
    if (state.get("kind"), state.get("namespace"), state.get("name")) != (remote.kind, remote.namespace, remote.name):
        return None
    base = state.get("base")
    return base if isinstance(base, dict) else None


def _text(record: t.Optional[Record]) -> str:
    return "" if record is None else store.dump_record(record)


def pull(module: t.Any, remote: Remote, paths: t.Mapping[str, str], directory: str) -> t.Dict[str, t.Any]:
    obj = remote.read()
    theirs, data = _remote_record(remote, obj)
    result: t.Dict[str, t.Any] = {"found": obj is not None, "resource_version": _version(obj)}
    if theirs is None:
        return dict(result, changed=False, msg="%s does not exist: no stored record of %s, nothing pulled" % (remote.what, remote.incident_id))
    handoff = _json(data.get(sync.HANDOFF_KEY))
    store.check_paths(directory, paths)
    local = store.load_record(paths["record"])
    merged = t.cast(Record, sync.merge_records(_base(remote, paths["dir"]), local, theirs))
    changed = _text(local) != _text(merged) or sync.read_handoff(paths["dir"]) != handoff
    if not module.check_mode:
        # Only what differs is written; the state (version and base) is kept current even when the record is.
        _save_local(paths, directory, merged, _state(remote, result["resource_version"], theirs), handoff)
    unpushed = _text(merged) != _text(theirs)
    msg = "%s %s of %s from %s%s" % ("would pull" if module.check_mode else "pulled", "the record" if changed else "nothing new",
                                     remote.incident_id, remote.what,
                                     "; the local record has entries the store has not yet (push them)" if unpushed else "")
    return dict(result, changed=changed, msg=msg, handoff=handoff, status=merged.get("status"), unpushed=unpushed,
                diff={"before": _text(local), "after": _text(merged)})


def _json(text: t.Optional[str]) -> t.Optional[t.Dict[str, t.Any]]:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def push(module: t.Any, remote: Remote, paths: t.Mapping[str, str], directory: str) -> t.Dict[str, t.Any]:
    store.check_paths(directory, paths)
    local = store.load_record(paths["record"])
    if local is None:
        return dict(changed=False, found=False, msg="no local record of %s in %s: nothing to push" % (remote.incident_id, paths["dir"]))
    ours, masked = sync.without_credentials(local)
    conflicts = 0
    for _attempt in range(ATTEMPTS):
        obj = remote.read()
        theirs, current = _remote_record(remote, obj)
        merged = t.cast(Record, sync.merge_records(_base(remote, paths["dir"]) if obj is not None else None, ours, theirs))
        handoff, masked_handoff = sync.without_credentials(module.params.get("handoff") or sync.default_handoff(merged))
        data = sync.object_data(merged, handoff)
        sync.check_size(data, merged, remote.what)
        version = _version(obj)
        if current == data:
            break
        try:
            version = remote.write(data, version, module.check_mode)
        except AirlockIncidentError as exc:
            if not _conflict(exc):
                raise
            conflicts += 1
            continue
        break
    else:
        raise IncidentError("%s was changed by other jobs %d times while this job pushed the record of %s; nothing was lost "
                            "(the local record is unchanged): run the push again" % (remote.what, conflicts, remote.incident_id),
                            conflicts=conflicts)
    changed = current != data
    if not module.check_mode:
        _save_local(paths, directory, merged, _state(remote, version, merged), handoff)
    warnings = ["%d value(s) of the record or handoff looked like credentials and were masked before they were stored"
                % (masked + masked_handoff)] if masked + masked_handoff else []
    verb = ("would " if module.check_mode else "") + ("create" if obj is None else "update")
    msg = ("%s %s with the record of %s%s" % (verb, remote.what, remote.incident_id,
                                              " (merged with %d concurrent change(s))" % conflicts if conflicts else "")
           if changed else "%s already holds the record of %s" % (remote.what, remote.incident_id))
    return dict(changed=changed, found=obj is not None, msg=msg, resource_version=version, conflicts=conflicts,
                handoff=handoff, status=merged.get("status"), size=sync.data_size(data), warnings=warnings,
                diff={"before": current.get(sync.RECORD_KEY, ""), "after": data[sync.RECORD_KEY]})


def absent(module: t.Any, remote: Remote, paths: t.Mapping[str, str]) -> t.Dict[str, t.Any]:
    obj = remote.read()
    if obj is None:
        return dict(changed=False, found=False, msg="%s does not exist: nothing to delete" % remote.what)
    theirs, current = _remote_record(remote, obj)
    remote.delete(t.cast(str, _version(obj)), module.check_mode)
    state_path = os.path.join(paths["dir"], sync.STATE_FILE)
    if not module.check_mode and store.read_text(state_path) is not None:
        os.unlink(state_path)
    verb = "would delete" if module.check_mode else "deleted"
    return dict(changed=True, found=True, status=(theirs or {}).get("status"),
                msg="%s %s (the stored record of %s)" % (verb, remote.what, remote.incident_id),
                undo="push the record again from %s (state=push); the local record is untouched" % paths["dir"],
                diff={"before": current.get(sync.RECORD_KEY, ""), "after": ""})


def run(module: t.Any) -> t.Dict[str, t.Any]:
    params = module.params
    directory = store.check_directory(params["directory"])
    remote = Remote(K8s(params), params["kind"], params["namespace"], params["incident_id"])
    paths = store.record_paths(directory, params["incident_id"])
    if params["state"] == "pull":
        result = pull(module, remote, paths, directory)
    elif params["state"] == "push":
        result = push(module, remote, paths, directory)
    else:
        result = absent(module, remote, paths)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    result.update(incident_id=params["incident_id"], name=remote.name, namespace=remote.namespace, kind=remote.kind,
                  record_path=paths["record"])
    return result
