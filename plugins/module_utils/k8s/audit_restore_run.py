# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The API side of ``k8s_audit_restore`` (the pure parts are in :mod:`.audit_restore`): refusals, the restore pod's
life, the execs, the record on the Deployment."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import fsync_dir
from ansible_collections.airlock.incident.plugins.module_utils.evidence import hashing, store
from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import EvidenceError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import NotFound
from ansible_collections.airlock.incident.plugins.module_utils.k8s.custody import copy_to_temp
from ansible_collections.airlock.incident.plugins.module_utils.k8s import audit_restore as ar
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import deployment_action_errors, list_pods, open_deployment
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import annotations_of, pod_name
from ansible_collections.airlock.incident.plugins.module_utils.k8s.pod_evidence import parse_sha256sum
from ansible_collections.airlock.incident.plugins.module_utils.k8s.pod_exec import PodExec, check_ok
from ansible_collections.airlock.incident.plugins.module_utils.k8s.wait import poll

Obj = t.Dict[str, t.Any]


def validate(module: t.Any) -> t.List[str]:
    """Every refusal of k8s_audit_restore, each naming its option, before anything is touched."""
    params = module.params
    errors = deployment_action_errors(params, module.check_mode, "restore the audit database of")
    db = params.get("db_path") or ""
    if not db.startswith("/") or ".." in db.split("/") or db.endswith("/"):
        errors.append("db_path: invalid value %r; accepted values: an absolute file path in the container" % (db,))
    if params["state"] == "restored":
        backup = params.get("backup")
        if not backup or not os.path.isfile(backup) or os.path.islink(backup):
            errors.append("backup: %r is not a regular file on the controller; accepted values: the path of a backup "
                          "that verified (data_issues.yml offers one)" % (backup,))
    copy_dir = params.get("damaged_copy_dir")
    if copy_dir is not None:
        if params["state"] != "restored":
            errors.append("damaged_copy_dir: only with state=restored (a revert moves the restored files aside, which "
                          "are a copy of the backup)")
        elif not os.path.isdir(copy_dir) or os.path.islink(copy_dir):
            errors.append("damaged_copy_dir: %r is not a directory on the controller (a link is not followed); accepted "
                          "values: an existing directory for the copies of the damaged files" % (copy_dir,))
    if not 1 <= params["exec_timeout"] <= 3600:
        errors.append("exec_timeout: invalid value %r; accepted values: 1 to 3600 seconds" % (params["exec_timeout"],))
    return errors


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _record(dep: Obj) -> Obj:
    try:
        return json.loads(annotations_of(dep).get(ar.ANNOTATION, "{}")) or {}
    except ValueError:
        return {}


class _Pod:
    """The restore pod: created, waited for, exec'd into, deleted."""

    def __init__(self, k8s: t.Any, manifest: Obj, params: t.Mapping[str, t.Any]) -> None:
        self.k8s, self.manifest, self.params = k8s, manifest, params
        self.name = manifest["metadata"]["name"]
        self.what = "restore pod %s/%s" % (k8s.namespace, self.name)

    def _read(self) -> t.Optional[Obj]:
        try:
            return self.k8s.sanitize(self.k8s.call(self.what, self.k8s.core.read_namespaced_pod, self.name, self.k8s.namespace))
        except NotFound:
            return None

    def delete(self) -> None:
        """Delete it (if there) and wait until it is gone, so the claim is free for the Deployment again."""
        try:
            self.k8s.call(self.what, self.k8s.core.delete_namespaced_pod, self.name, self.k8s.namespace, grace_period_seconds=0)
        except NotFound:
            return
        gone = poll(lambda: (self._read() is None, None), self.params["wait_timeout"])[0]
        if not gone:
            raise AirlockIncidentError("%s was not gone within wait_timeout=%ss" % (self.what, self.params["wait_timeout"]))

    def start(self) -> PodExec:
        """Create it and wait until it runs; the exec runner for its container."""
        existing = self._read()
        if existing is not None:
            if ar.ANNOTATION not in annotations_of(existing):
                raise AirlockIncidentError("%s exists and was not made by k8s_audit_restore; not touched" % self.what)
            self.delete()
        self.k8s.call(self.what, self.k8s.core.create_namespaced_pod, self.k8s.namespace, self.manifest)
        running, pod = poll(lambda: _phase(self._read()), self.params["wait_timeout"])[:2]
        if not running:
            raise AirlockIncidentError("%s did not run within wait_timeout=%ss (phase %s)"
                                       % (self.what, self.params["wait_timeout"], ((pod or {}).get("status") or {}).get("phase")))
        return PodExec(self.k8s, self.k8s.namespace, self.name, self.manifest["spec"]["containers"][0]["name"],
                       self.params["exec_timeout"])


def _phase(pod: t.Optional[Obj]) -> t.Tuple[bool, t.Optional[Obj]]:
    return ((pod or {}).get("status") or {}).get("phase") == "Running", pod


def _present(px: PodExec, base: str) -> t.List[str]:
    """Which of the database file and its side files exist (``test -e``, no shell)."""
    return [s for s in ("",) + ar.SIDE if px.run(["test", "-e", base + s]).rc == 0]


def load(px: PodExec, tmp: str, chunks: t.Sequence[str], counts: t.Mapping[str, int]) -> None:
    """Load the backup's SQL into ``tmp`` in the pod and check it against the backup (integrity, row counts)."""
    where = px.where()
    check_ok(px.run(["rm", "-f", tmp] + [tmp + s for s in ("-journal",) + ar.SIDE]), where, "removing an old restore copy")
    for chunk in chunks:
        check_ok(px.run(["sqlite3", "-bail", tmp, chunk]), where, "loading the backup")
    res = check_ok(px.run(["sqlite3", "-readonly", tmp, "PRAGMA integrity_check;"]), where, "checking the loaded copy")
    if res.stdout.strip() != "ok":
        raise AirlockIncidentError("the loaded copy %s in %s fails PRAGMA integrity_check: %s" % (tmp, where, res.stdout.strip()[:500]))
    res = check_ok(px.run(["sqlite3", "-readonly", tmp, ar.count_sql(counts)]), where, "counting the loaded rows")
    got = ar.parse_counts(res.stdout)
    if got != dict(counts):
        raise AirlockIncidentError("the loaded copy %s in %s has other row counts than the backup: %s, expected %s"
                                   % (tmp, where, got, dict(counts)))


def hashes(px: PodExec, base: str, suffixes: t.Sequence[str], aside: str) -> t.Dict[str, str]:
    """SHA-256 of ``base`` + each suffix, hashed in the pod (``sha256sum``, no shell), keyed by the path each file
    will have at ``aside``: the record that the files kept aside are the ones that were found."""
    if not suffixes:
        return {}
    res = check_ok(px.run(["sha256sum"] + [base + s for s in suffixes]), px.where(), "hashing %s before moving it aside" % base)
    return dict((aside + s, parse_sha256sum(res.stdout, base + s)) for s in suffixes)


def copy_out(px: PodExec, base: str, suffixes: t.Sequence[str], aside: str, digests: t.Mapping[str, str],
             directory: str) -> t.List[Obj]:
    """Copy ``base`` + each suffix out of the pod (``base64``, decoded block by block) into ``directory``, each named
    after the path it is kept at on the claim, before anything is moved.

    Each copy must have the SHA-256 the pod computed (``digests``). All-or-nothing: every copy is verified before
    any is placed, none replaces a file (an identical copy already there, from an interrupted run, is kept), and the
    copies are read-only."""
    where = px.where()
    pending: t.List[Obj] = []
    try:
        for suffix in suffixes:
            kept_at = aside + suffix
            name = posixpath.basename(kept_at)
            tmp = copy_to_temp(px, base + suffix, directory, name)
            pending.append(dict(path=os.path.join(directory, name), tmp=tmp, found_at=base + suffix, kept_at=kept_at))
            local = _sha256(tmp)
            if local != digests[kept_at]:
                raise AirlockIncidentError(
                    "chain of custody broken: the copy of %s from %s has sha256 %s, the pod reported %s; nothing was "
                    "kept and nothing was moved" % (base + suffix, where, local, digests[kept_at]))
            pending[-1].update(sha256=local, size=os.path.getsize(tmp))
        for item in pending:
            if os.path.lexists(item["path"]):
                if os.path.islink(item["path"]) or not os.path.isfile(item["path"]) or _sha256(item["path"]) != item["sha256"]:
                    raise AirlockIncidentError("damaged_copy_dir: %s already exists with other content; nothing was "
                                               "overwritten and nothing was moved" % item["path"])
        for item in pending:
            tmp = item.pop("tmp")
            if os.path.lexists(item["path"]):
                hashing.discard(tmp)
                continue
            try:
                store.place_new(tmp, item["path"])
            except EvidenceError as exc:
                raise AirlockIncidentError("damaged_copy_dir: %s" % exc) from exc
        fsync_dir(directory)
    finally:
        for item in pending:
            hashing.discard(item.pop("tmp", None))
    return pending


def swap(px: PodExec, db: str, aside: str, incoming: t.Optional[str],
         copy_dir: t.Optional[str] = None) -> t.Tuple[t.List[str], t.Dict[str, str], t.List[Obj]]:
    """Hash the files at ``db``, copy them out to ``copy_dir`` when given (:func:`copy_out`), and move them to
    ``aside`` (never deleted), then ``incoming`` (a file or a base with side files) into place. Returns the suffixes
    moved aside, their SHA-256 by their new path and the verified local copies."""
    where = px.where()
    moved = _present(px, db)
    digests = hashes(px, db, moved, aside)
    copies = copy_out(px, db, moved, aside, digests, copy_dir) if copy_dir and moved else []
    for argv in ar.moves(db, aside, moved):
        check_ok(px.run(argv), where, "moving %s aside" % argv[1])
    if incoming is not None:
        for argv in ar.moves(incoming, db, _present(px, incoming)):
            check_ok(px.run(argv), where, "putting %s in place" % argv[1])
    return moved, digests, copies


def run(module: t.Any) -> Obj:
    """Restore (or revert) the audit database on the Deployment's claim through a restore pod."""
    p = module.params
    mark = marker(p)
    k8s, dep, what = open_deployment(p)
    try:
        volume, claim, mount = ar.data_mount(dep, p["container"], p["db_path"], p["volume"])
    except ValueError as exc:
        raise AirlockIncidentError(str(exc)) from exc
    db, state = p["db_path"], p["state"]
    aside = "%s.damaged-%s" % (db, p["action"])
    record = _record(dep)
    result: Obj = dict(changed=False, deployment=p["name"], namespace=k8s.namespace, claim=claim, volume=volume,
                       mount_path=mount, db_path=db, damaged_path=aside, state=state, record=record)
    undo = "airlock.incident.k8s_audit_restore state=reverted incident_id=%s action=%s (Deployment at 0 replicas)" % (
        p["incident_id"], p["action"])
    if record.get("mark") == mark and record.get("state") == state:
        result.update(msg="%s: the audit database is already %s for %s" % (what, state, mark), undo=undo if state == "restored" else None)
        return result
    if state == "reverted" and not (record.get("mark") == mark and record.get("state") == "restored"):
        raise AirlockIncidentError("%s: no restore of %s is recorded (annotation %s); nothing to revert" % (what, mark, ar.ANNOTATION), **result)
    chunks: t.List[str] = []
    counts: t.Dict[str, int] = {}
    digest: t.Optional[str] = None
    if state == "restored":
        try:
            chunks, counts = ar.dump_chunks(p["backup"])
        except (ValueError, OSError) as exc:
            raise AirlockIncidentError(str(exc), **result) from exc
        digest = _sha256(p["backup"])
    plan = ar.plan_text(state, what, claim, db, aside, p.get("backup") or "", p.get("damaged_copy_dir"))
    result.update(plan=plan, backup_sha256=digest, rows=counts, statements_chunks=len(chunks), undo=undo if state == "restored" else None)
    replicas = (dep.get("spec") or {}).get("replicas", 1)
    if module.check_mode:
        result.update(changed=True, msg="would %s (the Deployment must be at 0 replicas first: it has %s)" % (plan, replicas))
        return result
    pods = list_pods(k8s, dep)
    if replicas != 0 or pods:
        raise AirlockIncidentError("%s has %s replicas and pods %s: scale it to 0 first (airlock.incident.k8s_scale replicas=0); "
                                   "the database is not touched while Airlock has it open" % (what, replicas, [pod_name(x) for x in pods]), **result)
    manifest = ar.restore_pod(dep, p["container"], ar.pod_name(p["incident_id"], p["action"]), volume, claim, mount, mark)
    pod = _Pod(k8s, manifest, p)
    result["pod"] = pod.name
    try:
        px = pod.start()
        if state == "restored":
            tmp = posixpath.join(posixpath.dirname(db), ".airlock-restore-%s.db" % p["action"])
            load(px, tmp, chunks, counts)
            result["moved_aside"], result["moved_aside_sha256"], result["damaged_copies"] = swap(
                px, db, aside, tmp, p.get("damaged_copy_dir"))
        else:
            result["moved_aside"], result["moved_aside_sha256"], dummy = swap(px, db, aside + ".restored", aside)
        result["commands"] = [r.as_dict() for r in px.history]
    finally:
        pod.delete()
    new = {"mark": mark, "state": state, "backup_sha256": digest or record.get("backup_sha256"), "damaged_path": aside,
           "damaged_sha256": result["moved_aside_sha256"] if state == "restored" else record.get("damaged_sha256")}
    patch = {"metadata": {"annotations": {ar.ANNOTATION: json.dumps(new, sort_keys=True)}}}
    k8s.call(what, k8s.apps.patch_namespaced_deployment, p["name"], k8s.namespace, patch)
    done = "restored the audit database" if state == "restored" else "reverted the restore of the audit database"
    kept = "; ".join("%s sha256 %s" % item for item in sorted(result["moved_aside_sha256"].items()))
    copies = result.get("damaged_copies") or []
    result.update(changed=True, record=new, msg="%s: %s: %s%s%s" % (
        what, done, plan, " (kept: %s)" % kept if kept else "",
        "; %d of them copied out first, each with the in-pod sha256" % len(copies) if copies else ""))
    return result
