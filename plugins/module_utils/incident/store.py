# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where incident records live: ``<directory>/<id>/incident.json`` and the report ``incident.md`` beside it.

Writers take an exclusive ``fcntl.flock`` on a sibling lock file, re-read the
record under the lock, apply their change (:func:`.model.apply_changes`), and
replace the file atomically, so concurrent writers never lose each other's
entries and readers never see a partial file. The report is always rendered
from the record (:func:`.render.render_markdown`).
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import typing as t

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from ansible_collections.airlock.incident.plugins.module_utils.core import fileutil
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import (
    ID_RE,
    IncidentError,
    Record,
    apply_changes,
    generate_id,
    utcnow,
)
from ansible_collections.airlock.incident.plugins.module_utils.incident.render import render_markdown

RECORD_FILE = "incident.json"
REPORT_FILE = "incident.md"
LOCK_FILE = ".incident.lock"
DIRECTORY_LOCK_FILE = ".airlock-incident.lock"
FILE_MODE = 0o640
DIR_MODE = 0o750


def record_paths(directory: str, incident_id: str) -> t.Dict[str, str]:
    base = os.path.join(directory, incident_id)
    return {
        "dir": base,
        "record": os.path.join(base, RECORD_FILE),
        "report": os.path.join(base, REPORT_FILE),
        "lock": os.path.join(base, LOCK_FILE),
    }


def dump_record(record: Record) -> str:
    return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_record(path: str) -> t.Optional[Record]:
    """The record at ``path``, or None if there is none; IncidentError if unreadable.

    A link or a non-regular file there is refused (:class:`.fileutil.UnsafePathError`), never read.
    """
    try:
        data = fileutil.read_regular(path)
    except fileutil.UnsafePathError:
        raise
    except (IOError, OSError) as exc:
        raise IncidentError("cannot read %s: %s" % (path, exc)) from exc
    if data is None:
        return None
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise IncidentError("%s is not a valid incident record (invalid JSON: %s); fix or move it, "
                            "it is never overwritten" % (path, exc)) from exc
    if not isinstance(record, dict) or not record.get("id"):
        raise IncidentError("%s is not a valid incident record (no id); fix or move it, it is never overwritten"
                            % path)
    return record


def read_text(path: str) -> t.Optional[str]:
    """The text at ``path``, None when there is none; a link or non-regular file is refused."""
    data = fileutil.read_regular(path)
    return None if data is None else data.decode("utf-8", "replace")


def atomic_write(path: str, text: str, mode: int = FILE_MODE) -> None:
    """Write ``text`` to ``path`` atomically (see fileutil.atomic_write); an existing file keeps its mode.

    A link or non-regular file at ``path`` is refused, never written through.
    """
    fileutil.atomic_write(path, text.encode("utf-8"), default_mode=mode)


class FileLock:
    """An exclusive ``fcntl.flock`` on ``path`` (created if missing, never through a link) for a ``with`` block."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: t.Optional[int] = None

    def __enter__(self) -> "FileLock":
        self.fd = fileutil.open_lock(self.path, FILE_MODE)
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        fd = t.cast(int, self.fd)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
            self.fd = None


def ensure_dir(path: str) -> None:
    try:
        os.makedirs(path, DIR_MODE)
    except OSError as exc:
        if exc.errno != errno.EEXIST or not os.path.isdir(path):
            raise


def check_paths(directory: str, paths: t.Mapping[str, str]) -> None:
    """Refuse, before anything is read or written, links and non-regular files where the record lives.

    ``<id>`` must be a real directory under ``directory``; the record, the report and the lock file
    must be regular files when they exist. The collection never creates links there, so one is
    someone else's (a write through it would overwrite a file outside the incident directory).
    """
    fileutil.check_real_dirs(directory, paths["dir"])
    for key in ("record", "report", "lock"):
        fileutil.check_regular_or_absent(paths[key])


def check_directory(directory: t.Any) -> str:
    """The records directory; an empty value is refused (it would write into the current directory)."""
    if not isinstance(directory, str) or not directory.strip():
        raise InputError("directory: invalid value %r; accepted values: a non-empty path of the directory that "
                         "holds the incident records (for example /var/lib/airlock-incidents)" % (directory,))
    return directory


def write_incident(paths: t.Mapping[str, str], record: Record) -> t.List[str]:
    """Write record and report where their content differs; return the list of paths written."""
    written = []
    record_text = dump_record(record)
    if read_text(paths["record"]) != record_text:
        atomic_write(paths["record"], record_text)
        written.append(paths["record"])
    report_text = render_markdown(record)
    if read_text(paths["report"]) != report_text:
        atomic_write(paths["report"], report_text)
        written.append(paths["report"])
    return written


def update_incident(directory: str, incident_id: str, changes: t.Mapping[str, t.Any],
                    now: t.Optional[datetime.datetime] = None, check_mode: bool = False
                    ) -> t.Tuple[t.Optional[Record], Record, t.List[str], bool]:
    """Apply ``changes`` to the incident ``incident_id`` under ``directory``.

    Returns ``(before, after, written_paths, report_pending)``. The read, merge
    and write happen under an exclusive lock on ``<id>/.incident.lock``, so
    concurrent callers serialise and none loses an entry. In check mode nothing
    is created (no directory, no lock file); the record is read as it is.
    """
    now = now or utcnow()
    paths = record_paths(check_directory(directory), incident_id)
    check_paths(directory, paths)
    if check_mode:
        before = load_record(paths["record"])
        after = apply_changes(before, changes, now, incident_id)
        report_pending = read_text(paths["report"]) != render_markdown(after)
        return before, after, [], report_pending
    # Validate on the current record first, so bad input fails before anything is created.
    apply_changes(load_record(paths["record"]), changes, now, incident_id)
    ensure_dir(paths["dir"])
    check_paths(directory, paths)
    with FileLock(paths["lock"]):
        check_paths(directory, paths)
        before = load_record(paths["record"])
        after = apply_changes(before, changes, now, incident_id)
        written = write_incident(paths, after)
    return before, after, written, bool(written)


def list_records(directory: str) -> t.List[Record]:
    """Every readable record directly under ``directory`` (unreadable ones are skipped)."""
    records: t.List[Record] = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return records
    for name in names:
        if not ID_RE.fullmatch(name):
            continue
        base = os.path.join(directory, name)
        if os.path.islink(base):
            continue  # not the collection's: never read through it
        try:
            record = load_record(os.path.join(base, RECORD_FILE))
        except (IncidentError, InputError):
            continue
        if record is not None:
            records.append(record)
    return records


def resolve_id(directory: str, now: datetime.datetime, title: t.Optional[str] = None,
               inc_type: t.Optional[str] = None, check_mode: bool = False) -> t.Tuple[str, bool]:
    """The id to use when the caller gave none: ``(id, reused)``.

    If ``title`` is given and exactly one open (not RESOLVED) incident in
    ``directory`` has that title (and ``inc_type``, when given), its id is
    reused, so a rerun of the same declaration task does not open a second
    incident; several matches are an error asking for an explicit id. Else a
    new ``INC-YYYYMMDD-HHMMSS`` id is generated from ``now``; if it is taken, a
    numeric suffix is added. Outside check mode the new id's directory is
    created exclusively to claim it.
    """
    if title:
        matches = [rec for rec in list_records(directory)
                   if rec.get("title") == title and rec.get("status") != "RESOLVED"
                   and (inc_type is None or rec.get("type") == inc_type)]
        if len(matches) == 1:
            return matches[0]["id"], True
        if len(matches) > 1:
            raise IncidentError("id: %d open incidents in %s have the title %r (%s); pass id to choose one"
                                % (len(matches), directory, title, ", ".join(rec["id"] for rec in matches)))
    for attempt in range(0, 100):
        candidate = generate_id(now, None if attempt == 0 else str(attempt + 1))
        target = os.path.join(directory, candidate)
        if check_mode:
            if not os.path.exists(target):
                return candidate, False
            continue
        try:
            ensure_dir(directory)
            os.mkdir(target, DIR_MODE)
            return candidate, False
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
    raise IncidentError("id: could not generate a free id in %s; pass id explicitly" % directory)


def directory_lock(directory: str) -> FileLock:
    """A lock on the whole records directory (used while choosing a new id)."""
    ensure_dir(check_directory(directory))
    return FileLock(os.path.join(directory, DIRECTORY_LOCK_FILE))
