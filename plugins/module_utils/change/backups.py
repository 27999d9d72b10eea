# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backups of the previous content of a changed target (a host file or one key of a ConfigMap).

``BackupStore`` keeps every previous content in one directory (for example
the incident's evidence directory) under a name with the incident id, the UTC
time and the sha256, with a JSON sidecar; files are created exclusively, never
overwritten. A backup whose change was rolled back is marked so in its
sidecar and is no revert target (the target holds its content again).
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import atomic_write, write_new
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import utc_stamp


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BackupStore:
    """Backups of one target's previous contents, in one directory."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.abspath(os.path.expanduser(directory))

    def _create(self, name: str, data: bytes, mode: int = 0o600) -> str:
        """Create ``name`` all-or-nothing (never a 0-byte or short backup); FileExistsError when taken."""
        path = os.path.join(self.directory, name)
        write_new(path, data, mode)
        return path

    def save(self, target: t.Any, data: bytes, incident_id: t.Optional[str] = None, kind: str = "pre-change",
             module: t.Optional[str] = None, extra: t.Optional[t.Mapping[str, t.Any]] = None) -> str:
        """Keep ``data`` (the content of ``target`` now); returns the backup path."""
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, 0o700)
        digest = sha256_bytes(data)
        name = getattr(target, "backup_name", None) or os.path.basename(target.describe())
        base = "%s.%s.%s.%s" % (name, incident_id or "no-incident", utc_stamp(), digest[:16])
        attempt = 0
        while True:
            name = base + ("" if not attempt else "-%d" % attempt) + ".bak"
            try:
                path = self._create(name, data)
                break
            except OSError as exc:
                if exc.errno != errno.EEXIST or attempt > 100:
                    raise
                attempt += 1
        metadata: t.Dict[str, t.Any] = {
            "target": target.describe(),
            "target_kind": target.kind,
            "incident_id": incident_id,
            "kind": kind,
            "sha256": digest,
            "size": len(data),
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "module": module,
            "backup": os.path.basename(path),
        }
        if extra:
            metadata.update(extra)
        self._create(os.path.basename(path) + ".json", (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode())
        return path

    def mark(self, backup_path: str, **fields: t.Any) -> None:
        """Add ``fields`` to the JSON sidecar of ``backup_path`` (the backup itself is never rewritten)."""
        sidecar = backup_path + ".json"
        with open(sidecar, "rb") as stream:
            metadata = json.loads(stream.read().decode("utf-8"))
        metadata.update(fields)
        atomic_write(sidecar, (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode(), default_mode=0o600)

    def entries(self, target: t.Any, incident_id: t.Optional[str] = None,
                kinds: t.Sequence[str] = ("pre-change",)) -> t.List[t.Dict[str, t.Any]]:
        """Metadata of the backups of ``target`` (oldest first), each with ``path``.

        Backups of changes that were rolled back are left out: the content
        they hold is what the target has again.
        """
        found: t.List[t.Dict[str, t.Any]] = []
        if not os.path.isdir(self.directory):
            return found
        for name in os.listdir(self.directory):
            if not name.endswith(".bak.json"):
                continue
            try:
                with open(os.path.join(self.directory, name), "rb") as stream:
                    metadata = json.loads(stream.read().decode("utf-8"))
            except (OSError, ValueError):
                continue
            if metadata.get("target") != target.describe():
                continue
            if incident_id is not None and metadata.get("incident_id") != incident_id:
                continue
            if kinds and metadata.get("kind") not in kinds:
                continue
            if metadata.get("rolled_back"):
                continue
            metadata["path"] = os.path.join(self.directory, metadata.get("backup") or name[:-len(".json")])
            if os.path.isfile(metadata["path"]):
                found.append(metadata)
        found.sort(key=lambda item: (item.get("created") or "", item["path"]))
        return found

    @staticmethod
    def read(entry: t.Mapping[str, t.Any]) -> bytes:
        with open(entry["path"], "rb") as stream:
            data = stream.read()
        if entry.get("sha256") and sha256_bytes(data) != entry["sha256"]:
            raise AirlockIncidentError("backup %s does not match the sha256 in its metadata (%s): refusing to "
                                       "restore it" % (entry["path"], entry["sha256"]))
        return data
