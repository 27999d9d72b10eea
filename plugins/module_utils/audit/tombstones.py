# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Erased subjects (``audit_tombstones``) shown only in the product's erased form.

Airlock erases a subject at a user's request by recording it in ``audit_tombstones``
and logging a ``tombstone`` event; the events themselves are kept (the hash chain
needs them). The product's own query path then shows the subject as
``erased_<lowercase hex(BLAKE3-256(salt || subject))>`` (``SQLiteAuditLogger.
applyTombstoneRedactionWithMap``, the salt being the database's ``hasher_salt``).

:class:`Eraser` applies that form to everything a query returns, not only the
``subject`` column: the product's own tombstone event carries the subject again in
its metadata (``{"erased_subject": ...}``), and a subject may appear inside other
text. Every occurrence of an erased subject, and of its Go JSON-escaped spelling,
is replaced, so no erased subject leaves a module in clear text.

A row whose ``subject`` is an erased subject also gets the key the product adds to
such an event's metadata, ``"original_subject_erased": true`` (same function). The
stored metadata text is kept byte for byte and the key appended to its JSON object;
metadata that is not a JSON object (damaged) is left as it is.
"""

from __future__ import annotations

import json
import sqlite3
import typing as t

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.airlock.incident.plugins.module_utils.audit.chain import go_json_string
from ansible_collections.airlock.incident.plugins.module_utils.audit.db import read_salt, table_names
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.core.optional import optional_import

_blake3, BLAKE3_IMPORT_ERROR = optional_import("blake3")

#: The product's tombstone table.
TOMBSTONES_TABLE = "audit_tombstones"

#: The metadata key the product adds to an event whose subject it shows erased.
ERASED_KEY = "original_subject_erased"


class TombstoneError(AirlockIncidentError):
    """Erased subjects exist but cannot be shown in the erased form (no blake3, no salt)."""


def erased_form(salt: bytes, subject: str) -> str:
    """``erased_`` + lowercase hex BLAKE3-256 of ``salt || subject`` (the product's form)."""
    if _blake3 is None:
        raise TombstoneError("%s: the database has erased subjects, shown only in Airlock's erased form"
                             % missing_required_lib("blake3"), exception=str(BLAKE3_IMPORT_ERROR))
    hasher = _blake3.blake3(salt)
    hasher.update(subject.encode("utf-8", "surrogateescape"))
    return "erased_" + hasher.hexdigest()


def _text(value: t.Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


class Eraser:
    """Replaces every erased subject by its erased form in the values given to it."""

    def __init__(self, forms: t.Optional[t.Mapping[str, str]] = None) -> None:
        pairs: t.Dict[str, str] = {}
        for subject, form in (forms or {}).items():
            if not subject:
                continue  # an empty subject would match everywhere
            pairs[subject] = form
            escaped = go_json_string(subject.encode("utf-8", "surrogateescape")).decode("utf-8", "replace")[1:-1]
            if escaped != subject:
                pairs[escaped] = form
        # longest first, so that a subject that contains another one is replaced whole
        self._pairs = sorted(pairs.items(), key=lambda item: -len(item[0]))
        self._subjects = frozenset(subject for subject in (forms or {}) if subject)

    @property
    def active(self) -> bool:
        return bool(self._pairs)

    @property
    def count(self) -> int:
        return len({form for _subject, form in self._pairs})

    @classmethod
    def load(cls, conn: sqlite3.Connection, path: str) -> "Eraser":
        """The erased subjects of an open audit database (none when it has no tombstone table)."""
        tables = table_names(conn)
        if TOMBSTONES_TABLE not in tables:
            return cls()
        subjects = [_text(row[0]) for row in
                    conn.execute("SELECT CAST(subject AS BLOB) FROM %s" % TOMBSTONES_TABLE).fetchall()
                    if row[0] is not None]
        subjects = [subject for subject in subjects if subject]
        if not subjects:
            return cls()
        try:
            salt = read_salt(conn, path, tables)
        except AirlockIncidentError as exc:
            raise TombstoneError("%s has erased subjects but no usable salt to show them in the erased form: %s"
                                 % (path, exc.msg)) from exc
        return cls({subject: erased_form(salt, subject) for subject in subjects})

    def text(self, value: str) -> str:
        for subject, form in self._pairs:
            if subject in value:
                value = value.replace(subject, form)
        return value

    def value(self, value: t.Any) -> t.Any:
        """``value`` with every erased subject replaced (strings, lists, tuples and dicts, keys included)."""
        if not self._pairs:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(item) for item in value)
        return value

    def row(self, row: t.Dict[str, t.Any]) -> bool:
        """Erase in place; True when the row showed an erased subject.

        A row whose ``subject`` is erased (the product's test: the whole subject is
        tombstoned) gets ``original_subject_erased: true`` in its ``metadata``."""
        if not self._pairs:
            return False
        tombstoned = isinstance(row.get("subject"), str) and row["subject"] in self._subjects
        touched = False
        for key, item in row.items():
            erased = self.value(item)
            if erased != item:
                row[key] = erased
                touched = True
        if tombstoned and "metadata" in row:
            row["metadata"] = self.text(mark_erased(row["metadata"]))
        return touched


def mark_erased(metadata: t.Any) -> t.Any:
    """The metadata text with ``"original_subject_erased":true`` added to its JSON object.

    No metadata (NULL, empty, ``null``) becomes ``{"original_subject_erased":true}``, as
    the product makes a new map; the stored text of an object is kept and the key
    appended (or set, where it already exists); anything else is returned unchanged."""
    if metadata is None or (isinstance(metadata, str) and metadata.strip() in ("", "null")):
        return '{"%s":true}' % ERASED_KEY
    if not isinstance(metadata, str):
        return metadata
    try:
        decoded = json.loads(metadata)
    except ValueError:
        return metadata
    if not isinstance(decoded, dict):
        return metadata
    if ERASED_KEY in decoded:
        decoded[ERASED_KEY] = True
        return json.dumps(decoded, ensure_ascii=False, separators=(",", ":"))
    body = metadata.rstrip()[:-1].rstrip()
    return body + ('' if body.endswith("{") else ",") + '"%s":true}' % ERASED_KEY
