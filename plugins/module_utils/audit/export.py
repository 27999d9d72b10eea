# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exports of audit query results: CSV (with a header row) or JSON Lines, written atomically.

Rows are streamed into a SHA-256 and, outside check mode, into a temporary
file next to the target. :func:`settle` then decides: an existing file with the
same content is left alone, one with other content is replaced only with
``force``, and the new file is renamed into place with mode ``0600``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.audit.db import (
    clash_text,
    file_sha256,
    side_file_clash,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import fsync_dir

FORMATS = ("csv", "jsonl")
EXPORT_MODE = 0o600
#: Bytes buffered before they are hashed and written.
FLUSH_AT = 1 << 20


def check_export_path(export_path: str, database: str) -> None:
    """InputError unless ``export_path`` names a new or regular file in an existing directory, not the database."""
    directory = os.path.dirname(os.path.abspath(export_path))
    if os.path.isdir(export_path):
        raise InputError("export_path: %s is a directory; give a file name" % export_path)
    if not os.path.isdir(directory):
        raise InputError("export_path: directory %s does not exist" % directory)
    clash = side_file_clash(export_path, database)
    if clash is not None:
        raise InputError("export_path: %s is the database%s; choose another file" % (export_path, clash_text(clash)))


class Export:
    """Streams rows into a hash and, unless check mode, a temp file next to the target."""

    def __init__(self, path: str, fmt: str, check_mode: bool) -> None:
        self.path = path
        self.fmt = fmt
        self.check_mode = check_mode
        self.digest = hashlib.sha256()
        self.rows = 0
        self.tmp: t.Optional[str] = None
        self.handle: t.Optional[t.BinaryIO] = None
        self.buffer = io.StringIO()
        self.writer: t.Optional[csv.DictWriter] = None
        if not check_mode:
            directory = os.path.dirname(os.path.abspath(path))
            fd, self.tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
            self.handle = os.fdopen(fd, "wb")

    def _emit(self) -> None:
        data = self.buffer.getvalue().encode("utf-8")
        self.buffer.seek(0)
        self.buffer.truncate(0)
        self.digest.update(data)
        if self.handle is not None:
            self.handle.write(data)

    def write(self, row: t.Dict[str, t.Any]) -> None:
        if self.fmt == "csv":
            if self.writer is None:
                self.writer = csv.DictWriter(self.buffer, fieldnames=list(row.keys()), lineterminator="\r\n")
                self.writer.writeheader()
            self.writer.writerow(row)
        else:
            self.buffer.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            self.buffer.write("\n")
        self.rows += 1
        if self.buffer.tell() > FLUSH_AT:
            self._emit()

    def header_only(self, columns: t.List[str]) -> None:
        """The CSV header of an empty result (JSON Lines has none)."""
        if self.fmt == "csv" and self.writer is None:
            self.writer = csv.DictWriter(self.buffer, fieldnames=columns, lineterminator="\r\n")
            self.writer.writeheader()

    def close(self) -> str:
        """Flush and close the temp file; the SHA-256 of the content."""
        self._emit()
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None
        return self.digest.hexdigest()

    def restart(self) -> None:
        """Start again from no rows (a query that is run again after a damaged page stopped it)."""
        self.discard()
        self.__init__(self.path, self.fmt, self.check_mode)  # type: ignore[misc]

    def discard(self) -> None:
        """Drop the temp file (nothing is left behind)."""
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.tmp and os.path.exists(self.tmp):
            os.unlink(self.tmp)


def settle(export: Export, force: bool, check_mode: bool) -> t.Tuple[t.Dict[str, t.Any], bool, str]:
    """Put the finished export in place: ``(result facts, changed, sentence)``.

    AirlockIncidentError (with the facts) when a different file exists and ``force`` is false.
    """
    digest = export.close()
    facts: t.Dict[str, t.Any] = dict(export_path=export.path, export_sha256=digest, exported_rows=export.rows)
    existing = file_sha256(export.path) if os.path.isfile(export.path) else None
    if existing == digest:
        export.discard()
        return facts, False, "export %s already holds this content" % export.path
    if existing is not None and not force:
        export.discard()
        raise AirlockIncidentError("export_path: %s exists with different content (sha256 %s); refusing to replace "
                                   "it without force=true (or choose another file name)" % (export.path, existing),
                                   **facts)
    if check_mode:
        return facts, True, "would write %d rows to %s" % (export.rows, export.path)
    tmp = t.cast(str, export.tmp)
    os.chmod(tmp, EXPORT_MODE)
    os.replace(tmp, export.path)
    fsync_dir(os.path.dirname(os.path.abspath(export.path)))
    return facts, True, "wrote %d rows to %s" % (export.rows, export.path)
