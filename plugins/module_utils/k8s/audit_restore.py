# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What ``k8s_audit_restore`` does: put a verified audit-database backup onto the release's claim.

The database lives on the PersistentVolumeClaim the Deployment mounts; the
Airlock image has no shell (sqlite3 CLI and BusyBox applets only). With the
Deployment scaled to zero (``k8s_scale``, its own recorded step), a short-lived
restore pod runs the same image with the same claim mounted and ``sleep`` as
its command. The backup travels as SQL: its dump (Python's ``iterdump``) is
loaded with ``sqlite3 -bail <tmp> <statements>`` execs, argv only, in chunks a
command line holds; the loaded copy is checked in the pod (``PRAGMA
integrity_check`` and the row count of every table against the backup) before
the damaged files are moved aside (``mv``, never deleted: ``<db>.damaged-<stamp>``
with its -wal and -shm) and the copy is moved into place. The restore pod is
deleted afterwards, also on failure. Undo (``state=reverted``): the same pod,
the restored files moved aside and the damaged ones put back.
"""

from __future__ import annotations

import posixpath
import re
import sqlite3
import typing as t

Obj = t.Dict[str, t.Any]

ANNOTATION = "airlock.incident/audit-restore"
CHUNK_LIMIT = 48 * 1024
SIDE = ("-wal", "-shm")
_NAME_OK = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def pod_name(incident_id: str, action: str) -> str:
    """The restore pod's name: DNS-1123, at most 63 characters, the same for one incident step."""
    base = re.sub(r"[^a-z0-9-]+", "-", ("airlock-restore-%s-%s" % (incident_id, action)).lower()).strip("-")
    base = re.sub(r"-+", "-", base)[:63].rstrip("-")
    return base if _NAME_OK.match(base) else "airlock-restore"


def data_mount(dep: Obj, container: str, db_path: str, volume: t.Optional[str]) -> t.Tuple[str, str, str]:
    """``(volume, claim, mount_path)`` holding the database: the named ``volume``, else the claim mounted at the
    database's directory (or above it) in ``container``. Raises ValueError naming the option when there is none."""
    spec = dep["spec"]["template"]["spec"]
    claims: t.Dict[str, str] = {str(v.get("name")): str(v["persistentVolumeClaim"]["claimName"])
                                for v in spec.get("volumes") or [] if (v.get("persistentVolumeClaim") or {}).get("claimName")}
    spec_c = next((c for c in spec.get("containers") or [] if c.get("name") == container), None)
    if spec_c is None:
        raise ValueError("container: %r is not a container of the Deployment (accepted values: %s)"
                         % (container, ", ".join(c.get("name") for c in spec.get("containers") or [])))
    mounts = spec_c.get("volumeMounts") or []
    if volume:
        found = [m for m in mounts if m.get("name") == volume]
        if not found or volume not in claims:
            raise ValueError("volume: %r is not a PersistentVolumeClaim volume mounted in container %s (accepted values: %s)"
                             % (volume, container, ", ".join(sorted(str(m.get("name")) for m in mounts if claims.get(str(m.get("name"))))) or "none"))
        return volume, claims[volume], str(found[0]["mountPath"])
    directory = posixpath.dirname(db_path)
    best = None
    for m in mounts:
        mp = m.get("mountPath", "").rstrip("/") or "/"
        if claims.get(str(m.get("name"))) and (directory == mp or directory.startswith(mp + "/")):
            if best is None or len(mp) > len(best["mountPath"]):
                best = m
    if best is None:
        names = ", ".join(sorted(str(m.get("name")) for m in mounts if claims.get(str(m.get("name"))))) or "none"
        raise ValueError("db_path: %s is on no PersistentVolumeClaim mounted in container %s; give volume (accepted "
                         "values: %s)" % (db_path, container, names))
    return str(best["name"]), claims[str(best["name"])], str(best["mountPath"])


def restore_pod(dep: Obj, container: str, name: str, volume: str, claim: str, mount_path: str, mark: str) -> Obj:
    """The restore pod: the Deployment's image, security contexts, placement rules and the claim; ``sleep`` runs
    (a BusyBox applet), everything else is exec'd into it."""
    spec = dep["spec"]["template"]["spec"]
    c = next(x for x in spec.get("containers") or [] if x.get("name") == container)
    pod_spec: Obj = {
        "restartPolicy": "Never",
        "containers": [{"name": container, "image": c.get("image"), "command": ["sleep", "3600"],
                        "volumeMounts": [{"name": volume, "mountPath": mount_path}]}],
        "volumes": [{"name": volume, "persistentVolumeClaim": {"claimName": claim}}],
    }
    if c.get("securityContext"):
        pod_spec["containers"][0]["securityContext"] = c["securityContext"]
    for key in ("securityContext", "nodeSelector", "tolerations", "affinity", "serviceAccountName", "imagePullSecrets"):
        if spec.get(key):
            pod_spec[key] = spec[key]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "airlock.incident"},
                         "annotations": {ANNOTATION: mark}},
            "spec": pod_spec}


def dump_chunks(path: str, limit: int = CHUNK_LIMIT) -> t.Tuple[t.List[str], t.Dict[str, int]]:
    """The backup as SQL statement groups of at most ``limit`` characters (each a transaction), and the row count
    of every table. The backup is opened read-only; a single statement over the limit is refused."""
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        counts = {name: conn.execute('SELECT count(*) FROM "%s"' % name.replace('"', '""')).fetchone()[0] for name in tables}
        chunks: t.List[str] = []
        current: t.List[str] = []
        size = 0
        for stmt in conn.iterdump():
            if stmt in ("BEGIN TRANSACTION;", "COMMIT;"):
                continue
            if len(stmt) > limit:
                raise ValueError("backup: %s has a statement of %d characters, more than a command line takes (%d)"
                                 % (path, len(stmt), limit))
            if size + len(stmt) + 1 > limit and current:
                chunks.append("BEGIN;\n" + "\n".join(current) + "\nCOMMIT;")
                current, size = [], 0
            current.append(stmt)
            size += len(stmt) + 1
        if current:
            chunks.append("BEGIN;\n" + "\n".join(current) + "\nCOMMIT;")
    finally:
        conn.close()
    return chunks, counts


def count_sql(counts: t.Mapping[str, int]) -> str:
    """One query giving ``table|rows`` lines for the tables of the backup."""
    parts = ["SELECT '%s', count(*) FROM \"%s\"" % (n.replace("'", "''"), n.replace('"', '""')) for n in sorted(counts)]
    return " UNION ALL ".join(parts) + ";" if parts else "SELECT 1 WHERE 0;"


def parse_counts(text: str) -> t.Dict[str, int]:
    """``table|rows`` lines of the sqlite3 CLI into a mapping (lines that do not parse are left out)."""
    out: t.Dict[str, int] = {}
    for line in text.splitlines():
        name, sep, rows = line.rpartition("|")
        if sep and rows.strip().isdigit():
            out[name] = int(rows)
    return out


def moves(db_path: str, aside: str, present: t.Iterable[str]) -> t.List[t.List[str]]:
    """``mv`` argvs moving the database and its side files that are ``present`` (suffixes, '' for the file itself)
    to ``aside`` (keeping their suffixes)."""
    return [["mv", db_path + s, aside + s] for s in ("",) + SIDE if s in present]


def plan_text(state: str, what: str, claim: str, db_path: str, aside: str, backup: str,
              copy_dir: t.Optional[str] = None) -> str:
    """One sentence of what the restore (or its undo) does."""
    if state == "reverted":
        return ("put %s (the damaged database kept on claim %s) back in place of %s, the restored files moved to %s.restored"
                % (aside, claim, db_path, aside))
    copy = (" (copied out to %s first, each copy verified against its in-pod sha256)" % copy_dir) if copy_dir else ""
    return ("load %s into a restore pod mounting claim %s of %s, check it, move %s (and -wal, -shm)%s to %s and put the "
            "verified copy in its place" % (backup, claim, what, db_path, copy, aside))
