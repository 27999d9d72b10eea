# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Evidence from an MCP Airlock pod: an audit database snapshot with a chain of custody.

The Airlock image has no shell, so every in-pod command is an argv exec'd
directly (``sqlite3``, ``sha256sum``, ``wc``, ``df``, ``stat``, ``base64``,
``rm``: the sqlite3 CLI and BusyBox applets the image ships). The sequence:

1. ``sqlite3 -readonly <db> ".backup <tmp>"``: SQLite's online backup of the
   live WAL database into a temp file (the live database is opened read-only);
2. ``sqlite3 <tmp> "PRAGMA journal_mode=DELETE"``: the copy becomes a single
   self-contained file (no ``-wal``/``-shm`` needed to open it);
3. ``sha256sum <tmp>`` and ``wc -c <tmp>``: hashed and measured in the pod;
4. ``base64 <tmp>``: the bytes leave the pod as base64 text over the exec
   stream (the kubernetes client decodes exec output as UTF-8 text, which
   base64 survives unchanged), decoded and written to a temporary file in the
   destination directory block by block: never held in memory;
5. the local file is hashed again; only when size and SHA-256 equal the
   in-pod values is it made read-only and linked under its final name
   (never replacing an existing file);
6. ``rm -f <tmp> <tmp>-journal <tmp>-wal <tmp>-shm`` in the pod, always,
   also after a failure.

This module is the orchestration: validation, the command plan, parsing of
the command output, pod selection and the snapshot itself. The exec transport
is :mod:`.pod_exec`, the local side (destination, base64 decoder, custody
record, placing the file) :mod:`.custody`. The pure parts are unit-tested.
"""

from __future__ import annotations

import datetime
import os
import re
import typing as t
import uuid

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import incident_id_error
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.evidence import hashing, store
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, NotFound, validate_common, validate_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.custody import (
    copy_argv,
    copy_to_temp,
    custody_path,
    custody_record,
    evidence_item,
    existing_snapshot,
    keep,
    local_facts,
    resolve_dest,
)
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import condition, label_selector
from ansible_collections.airlock.incident.plugins.module_utils.k8s.pod_exec import (
    ExecResult,
    PodEvidenceError,
    PodExec,
    argv_text,
    check_ok,
    exec_tail,
)

#: Absolute in-pod paths passed to sqlite3 dot-commands unquoted: a strict alphabet.
POD_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]*$")
CONTAINER = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")

#: Free space asked for beyond the database size in the pod temp directory.
SPACE_MARGIN = 4 * 1024 * 1024

Obj = t.Dict[str, t.Any]
Argv = t.List[str]


# ------------------------------------------------------------------ validation


def validate_pod_path(field: str, value: t.Optional[str]) -> t.Optional[str]:
    """Error message for an unusable in-pod path, or None."""
    if not value or not POD_PATH.match(value):
        return ("%s: invalid value %r; accepted values: an absolute path of letters, digits, '.', '_', '@', '+', "
                "'-' and '/' (no spaces or quotes: it is passed to sqlite3 unquoted)" % (field, value))
    if "/../" in value + "/" or "/./" in value + "/" or "//" in value:
        return "%s: invalid value %r; accepted values: a normalised absolute path (no '.', '..' or '//' parts)" % (
            field, value)
    return None


def validate_container(value: t.Optional[str]) -> t.Optional[str]:
    """Error message for a container name that is not a DNS label, or None."""
    if not value or not CONTAINER.match(value):
        return "container: invalid value %r; accepted values: a container name (DNS label)" % (value,)
    return None


def validate(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """Every option problem, before any API call or file access; a list of messages."""
    errors = []
    for msg in (validate_common(params), validate_name("name", params["name"]),
                validate_container(params["container"]), incident_id_error(params.get("incident_id"), required=False),
                validate_pod_path("db_path", params["db_path"]), validate_pod_path("pod_tmp_dir", params["pod_tmp_dir"])):
        if msg:
            errors.append(msg)
    if params.get("pod") is not None:
        msg = validate_name("pod", params["pod"])
        if msg:
            errors.append(msg)
    if params["db_path"] in ("/", "") or params["db_path"].endswith("/"):
        errors.append("db_path: invalid value %r; accepted values: the path of the audit database file" % params["db_path"])
    if not 1 <= params["exec_timeout"] <= 86400:
        errors.append("exec_timeout: invalid value %r; accepted values: 1 to 86400 seconds" % (params["exec_timeout"],))
    if not params.get("dest"):
        errors.append("dest: a local file or directory is required")
    return errors


def pod_temp_path(tmp_dir: str, token: t.Optional[str] = None) -> str:
    """A fresh in-pod temp file name under ``tmp_dir``."""
    token = token or uuid.uuid4().hex
    return "%s/airlock-audit-snapshot-%s.db" % (tmp_dir.rstrip("/") or "", token)


# -------------------------------------------------------------- command plans


def backup_argv(db_path: str, tmp: str) -> Argv:
    # -readonly: the live database is opened read-only, so closing the CLI
    # never checkpoints or truncates Airlock's WAL.
    return ["sqlite3", "-readonly", db_path, ".backup %s" % tmp]


def journal_argv(tmp: str) -> Argv:
    return ["sqlite3", tmp, "PRAGMA journal_mode=DELETE;"]


def hash_argv(tmp: str) -> Argv:
    return ["sha256sum", tmp]


def size_argv(path: str) -> Argv:
    return ["wc", "-c", path]


def space_argv(directory: str) -> Argv:
    return ["df", "-P", "-k", directory]


def cleanup_argv(tmp: str) -> Argv:
    return ["rm", "-f", tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"]


def db_size_argv(db_path: str) -> Argv:
    # The -wal file may be absent (wc then exits 1 but still counts the database).
    return ["wc", "-c", db_path, db_path + "-wal"]


def plan(db_path: str, tmp: str) -> t.List[Argv]:
    """Every in-pod command of a snapshot, in order (what check mode reports)."""
    return [db_size_argv(db_path), space_argv(os.path.dirname(tmp) or "/"), backup_argv(db_path, tmp),
            journal_argv(tmp), hash_argv(tmp), size_argv(tmp), copy_argv(tmp), cleanup_argv(tmp)]


# ------------------------------------------------------------- output parsing


def parse_sha256sum(stdout: str, path: str) -> str:
    """The hex digest from ``sha256sum <path>`` output; PodEvidenceError otherwise."""
    for line in stdout.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and parts[1].lstrip("*") == path and HEX64.match(parts[0].lower()):
            return parts[0].lower()
    raise PodEvidenceError("unexpected sha256sum output for %s in the pod: %r" % (path, stdout[:200]))


def parse_wc(stdout: str, path: str, required: bool = True) -> t.Optional[int]:
    """The byte count of ``path`` from ``wc -c <path>...`` output (None when absent and not required)."""
    for line in stdout.splitlines():
        parts = line.strip().split(None, 1)
        if parts and parts[0].isdigit() and len(parts) == 2 and parts[1] == path:
            return int(parts[0])
    if not required:
        return None
    raise PodEvidenceError("unexpected wc -c output for %s in the pod: %r" % (path, stdout[:200]))


def parse_df(stdout: str) -> int:
    """Available bytes from POSIX ``df -P -k`` output (the last line, 4th column)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if len(lines) < 2:
        raise PodEvidenceError("unexpected df output in the pod: %r" % stdout[:200])
    fields = lines[-1].split()
    # A long device name may wrap the line in some df builds: the numbers are then the last 5 fields.
    numbers = [f for f in fields if f.isdigit()]
    if len(numbers) < 3:
        raise PodEvidenceError("unexpected df output in the pod: %r" % stdout[:200])
    return int(numbers[2]) * 1024


# ------------------------------------------------------------- pod selection


def container_status(pod: Obj, container: str) -> t.Optional[Obj]:
    """The status of the named container of a pod, or None."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            return cs
    return None


def pod_state(pod: Obj, container: str) -> t.Tuple[bool, bool, t.Optional[str]]:
    """(usable for exec, ready, why not) for one pod dict (camelCase, as sanitised)."""
    name = pod["metadata"]["name"]
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if container not in names:
        return False, False, "pod %s has no container %s (containers: %s)" % (name, container, ", ".join(names) or "none")
    if pod["metadata"].get("deletionTimestamp"):
        return False, False, "pod %s is terminating" % name
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        return False, False, "pod %s is %s" % (name, phase or "in an unknown phase")
    cs = container_status(pod, container)
    if cs is None or not (cs.get("state") or {}).get("running"):
        state = ", ".join(sorted(((cs or {}).get("state") or {}).keys())) or "unknown"
        return False, False, "container %s of pod %s is not running (%s)" % (container, name, state)
    ready = bool(cs.get("ready")) and condition(pod, "Ready").get("status") == "True"
    return True, ready, None if ready else "pod %s is running but not ready" % name


def choose_pod(pods: t.List[Obj], container: str) -> t.Tuple[t.Optional[Obj], t.List[str]]:
    """The Running+Ready pod to exec into (oldest first, then by name) and why the others were skipped."""
    candidates = []
    skipped: t.List[str] = []
    for pod in pods:
        usable, ready, why = pod_state(pod, container)
        if usable and ready:
            candidates.append(pod)
        else:
            skipped.append(why or "")
    candidates.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
    return (candidates[0] if candidates else None), sorted(skipped)


def _pod_summary(pod: Obj, container: str) -> Obj:
    cs = container_status(pod, container) or {}
    return dict(pod=pod["metadata"]["name"], pod_uid=pod["metadata"].get("uid"),
                node=(pod.get("spec") or {}).get("nodeName"), image=cs.get("image"), image_id=cs.get("imageID"))


def find_pod(module: t.Any, k8s: K8s) -> t.Tuple[Obj, t.List[str]]:
    """(pod dict, warnings) for the exec: the named pod, or a Running+Ready pod of the Deployment."""
    params = module.params
    namespace = k8s.namespace
    container = params["container"]
    if params.get("pod"):
        what = "pod %s/%s" % (namespace, params["pod"])
        try:
            pod = k8s.sanitize(k8s.call(what, k8s.core.read_namespaced_pod, params["pod"], namespace))
        except NotFound as exc:
            raise PodEvidenceError("pod %s not found in namespace %s (API server %s)"
                                   % (params["pod"], namespace, k8s.host)) from exc
        usable, ready, why = pod_state(pod, container)
        if not usable:
            raise PodEvidenceError("cannot exec into %s: %s" % (what, why))
        return pod, ([] if ready else ["%s; collecting from it anyway because it was named with pod" % why])
    name = params["name"]
    what = "deployment %s/%s" % (namespace, name)
    try:
        dep = k8s.sanitize(k8s.call(what, k8s.apps.read_namespaced_deployment, name, namespace))
    except NotFound as exc:
        raise PodEvidenceError("deployment %s not found in namespace %s (API server %s); set name, or pod" % (
            name, namespace, k8s.host)) from exc
    selector = label_selector((dep.get("spec") or {}).get("selector"))
    if not selector:
        raise PodEvidenceError("%s has an empty selector; name the pod with pod" % what)
    pods = k8s.sanitize(k8s.call("pods %s in %s" % (selector, namespace), k8s.core.list_namespaced_pod, namespace,
                                 label_selector=selector))
    items = pods.get("items") or []
    pod, skipped = choose_pod(items, container)
    if pod is None:
        raise PodEvidenceError("no Running and Ready pod of %s with container %s (%s); a crash-looping pod cannot be "
                               "exec'd into: name a running pod with pod, or restore the Deployment first" % (
                                   what, container, "; ".join(skipped) if skipped else "no pods match %s" % selector),
                               pods_skipped=skipped)
    return pod, []


# ------------------------------------------------------------ orchestration


def _db_size(ex: PodExec, params: t.Mapping[str, t.Any], where: str) -> int:
    """The size of the live database (with its -wal), after checking pod_tmp_dir has room for a copy of it."""
    res = ex.run(db_size_argv(params["db_path"]))
    if res.missing:
        check_ok(res, where, "measuring the database")
    db_size = parse_wc(res.stdout, params["db_path"], required=False)
    if db_size is None or res.rc not in (0, 1):
        raise PodEvidenceError("db_path: %s cannot be read in %s: %s" % (params["db_path"], where, exec_tail(res)))
    db_size += parse_wc(res.stdout, params["db_path"] + "-wal", required=False) or 0
    res = ex.run(space_argv(params["pod_tmp_dir"]))
    check_ok(res, where, "checking free space in pod_tmp_dir %s" % params["pod_tmp_dir"])
    free = parse_df(res.stdout)
    if free < db_size + SPACE_MARGIN:
        raise PodEvidenceError("pod_tmp_dir: %s in %s has %d bytes free, the copy of %s needs about %d: choose "
                               "another writable directory (the chart mounts an emptyDir at /tmp and the data "
                               "volume at /var/lib/airlock)" % (params["pod_tmp_dir"], where, free,
                                                                params["db_path"], db_size + SPACE_MARGIN))
    return db_size


def _copy_out(ex: PodExec, params: t.Mapping[str, t.Any], tmp: str, target: str, state: Obj) -> Obj:
    """The in-pod backup, hashed and measured in the pod, copied into a local temp file (``state["local_tmp"]``)."""
    where = ex.where()
    db_size = _db_size(ex, params, where)
    check_ok(ex.run(backup_argv(params["db_path"], tmp)), where, "sqlite3 .backup of %s" % params["db_path"])
    res = check_ok(ex.run(journal_argv(tmp)), where, "converting the copy to rollback-journal mode")
    if res.stdout.strip().lower() != "delete":
        raise PodEvidenceError("sqlite3 did not switch the copy %s to journal_mode=DELETE in %s (it answered %r)"
                               % (tmp, where, res.stdout.strip()[:100]))
    pod_sha256 = parse_sha256sum(check_ok(ex.run(hash_argv(tmp)), where, "sha256sum of the copy").stdout, tmp)
    pod_size = parse_wc(check_ok(ex.run(size_argv(tmp)), where, "measuring the copy").stdout, tmp)
    state["local_tmp"] = copy_to_temp(ex, tmp, os.path.dirname(target), os.path.basename(target))
    return dict(db_size=db_size, pod_sha256=pod_sha256, pod_size=pod_size)


def _cleanup(module: t.Any, ex: PodExec, tmp: str) -> bool:
    """Remove the in-pod temporary copy (always, also after a failure); warns when it stays."""
    where = ex.where()
    try:
        res: ExecResult = ex.run(cleanup_argv(tmp))
    except AirlockIncidentError as exc:
        module.warn("could not remove the temporary copy %s in %s: %s; remove it by hand" % (tmp, where, exc.msg))
        return False
    if res.rc != 0:
        module.warn("could not remove the temporary copy %s in %s: %s; remove it by hand" % (tmp, where, exec_tail(res)))
    return res.rc == 0


def _verify(local_tmp: str, tmp: str, where: str, copied: Obj) -> t.Any:
    """The local hashes of the copy; the chain of custody is broken unless size and sha256 equal the pod's."""
    digest = store.hash_file(local_tmp)
    if digest.size != copied["pod_size"] or digest.sha256 != copied["pod_sha256"]:
        raise PodEvidenceError(
            "chain of custody broken: the copy of %s from %s has %d bytes and sha256 %s, the pod reported %d bytes "
            "and sha256 %s; nothing was kept" % (tmp, where, digest.size, digest.sha256, copied["pod_size"],
                                                 copied["pod_sha256"]))
    return digest


def _check_mode_result(params: t.Mapping[str, t.Any], k8s: K8s, info: Obj, tmp: str, target: str, exists: bool,
                       result: Obj) -> Obj:
    result["changed"] = True
    result["msg"] = ("would exec in container %s of pod %s/%s (no shell): %s; then copy %s out as base64, compare "
                     "its sha256 with the in-pod one and store it as %s%s" % (
                         params["container"], k8s.namespace, info["pod"], "; ".join(result["commands"][:6]), tmp,
                         target, " (keeping the existing file as a .superseded copy)" if exists else ""))
    return result


def run_snapshot(module: t.Any, k8s_factory: t.Callable[[t.Mapping[str, t.Any]], K8s]) -> Obj:
    """Take the in-pod snapshot and bring it home with a verified chain of custody."""
    params = module.params
    moment = datetime.datetime.now(datetime.timezone.utc)
    target = resolve_dest(params["dest"], params.get("incident_id"), moment)
    result: Obj = dict(changed=False, dest=target, namespace=params["namespace"], container=params["container"],
                       db_path=params["db_path"])
    exists = os.path.lexists(target)
    if exists and not params["force"]:
        return existing_snapshot(target, result)

    k8s = k8s_factory(params)
    k8s.ensure_namespace()
    pod, warnings = find_pod(module, k8s)
    info = _pod_summary(pod, params["container"])
    for warning in warnings:
        module.warn(warning)
    tmp = pod_temp_path(params["pod_tmp_dir"])
    result.update(info, pod_tmp=tmp, commands=[argv_text(c) for c in plan(params["db_path"], tmp)])
    if module.check_mode:
        return _check_mode_result(params, k8s, info, tmp, target, exists, result)

    ex = PodExec(k8s, k8s.namespace, info["pod"], params["container"], params["exec_timeout"])
    where = ex.where()
    state: Obj = dict(local_tmp=None, removed=None)
    try:
        try:
            copied = _copy_out(ex, params, tmp, target, state)
        finally:
            state["removed"] = result["pod_tmp_removed"] = _cleanup(module, ex, tmp)
            result["exec"] = [r.as_dict() for r in ex.history]
        digest = _verify(state["local_tmp"], tmp, where, copied)
        result.update(pod_sha256=copied["pod_sha256"], pod_size=copied["pod_size"], local_sha256=digest.sha256,
                      size=digest.size)
        facts = local_facts(state["local_tmp"])
        custody = custody_record(
            target, moment, dict(api_server=k8s.host, namespace=k8s.namespace,
                                 deployment=None if params.get("pod") else params["name"], container=params["container"],
                                 db_path=params["db_path"], db_size=copied["db_size"], pod_tmp=tmp,
                                 pod_tmp_removed=state["removed"], **info),
            copied, digest, [dict(argv=r.argv, rc=r.rc, elapsed=round(r.elapsed, 3)) for r in ex.history])
        custody.update(facts)
        superseded = keep(state["local_tmp"], target, custody, exists, moment)
        state["local_tmp"] = None
    except AirlockIncidentError as exc:
        exc.result = dict(result, **exc.result)
        if state["removed"] is not None:
            exc.msg = "%s (in-pod temporary copy %s: %s)" % (exc.msg, tmp, "removed" if state["removed"] else
                                                             "NOT removed, see the warning")
        raise
    finally:
        if state["local_tmp"] is not None:
            hashing.discard(state["local_tmp"])
    result.update(facts, changed=True, sha256=digest.sha256, blake3=digest.blake3, custody=custody,
                  custody_path=custody_path(target), superseded=superseded,
                  evidence_item=evidence_item(target, facts, custody))
    result["msg"] = ("copied %s from %s: %d events, head %s, sha256 %s in the pod and locally, integrity_check %s"
                     % (params["db_path"], where, facts["events"], facts["chain_head"], digest.sha256,
                        facts["integrity_check"]))
    if facts["integrity_check"] != "ok":
        module.warn("PRAGMA integrity_check on the copy reported problems: %s" % facts["integrity_check"])
    return result
