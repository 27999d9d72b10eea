# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Journaled collection: the items, ``SHA256SUMS`` and the manifest of one run become visible together.

A collection stages everything in ``<bundle>/.staging-<stamp>-<random>/``: the new item files (under
temporary names), the new ``SHA256SUMS``, ``manifest.json`` and ``manifest.json.sha256``. When all of
them are flushed, ``journal.json`` is written there (all-or-nothing): from that moment the run is
*committed*. Publishing then renames superseded copies, links the new items into the bundle and
replaces the three manifest files; every step can be done again, so a publish interrupted by a crash
or a full disk is completed by the next run (:func:`recover`), under the bundle lock.

A staging directory without a journal is a run that never committed: nothing of it is visible and it
is removed. ``state=verify`` changes nothing: it ignores such leftovers and reports them
(:func:`leftovers`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core import fileutil
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import utc_stamp
from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import EvidenceError

STAGING_PREFIX = ".staging-"
JOURNAL_NAME = "journal.json"
JOURNAL_FORMAT = "airlock.incident/evidence-journal/v1"
#: Names an interrupted run may leave in a bundle: staging directories and temporary files.
LEFTOVER_RE = re.compile(r"^(\.staging-[0-9A-Za-z-]+|\..+\.partial|\..+\.tmp)$", re.ASCII)
#: The bundle's own files, replaced from the staging directory in this order (the manifest hash last).
MANIFEST_FILES = ("SHA256SUMS", "manifest.json", "manifest.json.sha256")
READ_ONLY = 0o444


def is_leftover(directory: str, name: str) -> bool:
    """``name`` in ``directory`` is what an interrupted run leaves: a staging dir or a temp file (not a link)."""
    if not LEFTOVER_RE.match(name):
        return False
    info = fileutil.lstat_or_none(os.path.join(directory, name))
    if info is None:
        return False
    if name.startswith(STAGING_PREFIX):
        return stat.S_ISDIR(info.st_mode)
    return stat.S_ISREG(info.st_mode)


def is_committed(staging: str) -> bool:
    return os.path.isfile(os.path.join(staging, JOURNAL_NAME)) and not os.path.islink(
        os.path.join(staging, JOURNAL_NAME))


def leftovers(directory: str) -> t.Tuple[t.List[str], t.List[str]]:
    """(every leftover name, the committed staging dirs among them: runs whose publish is pending)."""
    names = [name for name in sorted(os.listdir(directory)) if is_leftover(directory, name)]
    pending = [name for name in names if name.startswith(STAGING_PREFIX)
               and is_committed(os.path.join(directory, name))]
    return names, pending


class Staging:
    """The staging directory of one run."""

    def __init__(self, bundle: str) -> None:
        self.bundle = bundle
        self.name = "%s%s-%s" % (STAGING_PREFIX, utc_stamp(fraction=False), os.urandom(4).hex())
        self.path = os.path.join(bundle, self.name)
        self.created = False
        self.committed = False

    def create(self) -> None:
        os.mkdir(self.path, 0o700)
        self.created = True

    def commit(self, renames: t.Sequence[t.Tuple[str, str]], items: t.Sequence[t.Tuple[str, str]],
               files: t.Mapping[str, bytes]) -> None:
        """Write the manifest files and the journal: from here on the run is completed, never undone.

        ``renames`` are (current name, superseded name) in the bundle; ``items`` are (final name, staged
        temp path); ``files`` the new bundle files by name.
        """
        for name in MANIFEST_FILES:
            fileutil.write_new(os.path.join(self.path, name), files[name], READ_ONLY)
        journal = dict(format=JOURNAL_FORMAT, renames=[list(pair) for pair in renames],
                       items=[[name, os.path.basename(temp)] for name, temp in items])
        for _name, temp in items:
            os.chmod(temp, READ_ONLY)
        fileutil.fsync_dir(self.path)
        fileutil.write_new(os.path.join(self.path, JOURNAL_NAME),
                           (json.dumps(journal, indent=2) + "\n").encode("utf-8"), 0o600)
        self.committed = True

    def publish(self) -> None:
        publish(self.bundle, self.name)

    def discard(self) -> None:
        """Remove an uncommitted staging directory (a failed run leaves nothing)."""
        if self.created and not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)


def _load(staging: str) -> t.Dict[str, t.Any]:
    data = fileutil.read_regular(os.path.join(staging, JOURNAL_NAME)) or b""
    try:
        journal = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise EvidenceError("%s is not a readable journal (%s); move it out of the bundle and run state=verify"
                            % (os.path.join(staging, JOURNAL_NAME), exc)) from exc
    if not isinstance(journal, dict) or journal.get("format") != JOURNAL_FORMAT:
        raise EvidenceError("%s is not an evidence journal (format %s)" % (os.path.join(staging, JOURNAL_NAME),
                                                                           JOURNAL_FORMAT))
    return journal


def _place(bundle: str, staging: str, name: str, staged: str) -> None:
    """Link the staged item into the bundle unless that was done already (same inode)."""
    source = os.path.join(staging, staged)
    final = os.path.join(bundle, name)
    have = fileutil.lstat_or_none(final)
    mine = fileutil.lstat_or_none(source)
    if mine is None:
        if have is None:
            raise EvidenceError("%s: the staged copy of %s is gone and the item is not in the bundle" % (staging, name))
        return  # moved into place by the rename fallback
    if have is not None:
        if (have.st_dev, have.st_ino) == (mine.st_dev, mine.st_ino):
            return
        raise EvidenceError("%s appeared in the bundle while collecting; nothing was overwritten" % final)
    try:
        os.link(source, final, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS):
            raise
        os.rename(source, final)  # no hard links here: checked above, a narrow race (documented)


def publish(bundle: str, name: str) -> None:
    """Complete the committed run staged in ``bundle/name`` (each step can be done again) and remove it."""
    staging = os.path.join(bundle, name)
    journal = _load(staging)
    for current, superseded in journal.get("renames") or []:
        if fileutil.lstat_or_none(os.path.join(bundle, superseded)) is None:
            os.rename(os.path.join(bundle, current), os.path.join(bundle, superseded))
    for final, staged in journal.get("items") or []:
        _place(bundle, staging, final, staged)
    for file_name in MANIFEST_FILES:
        data = t.cast(bytes, fileutil.read_regular(os.path.join(staging, file_name)))
        fileutil.atomic_write(os.path.join(bundle, file_name), data, default_mode=READ_ONLY)
    fileutil.fsync_dir(bundle)
    shutil.rmtree(staging)
    fileutil.fsync_dir(bundle)


def recover(bundle: str) -> t.List[str]:
    """Repair what interrupted runs left in ``bundle`` (caller holds the bundle lock): what was done."""
    done: t.List[str] = []
    names, _pending = leftovers(bundle)
    for name in names:
        path = os.path.join(bundle, name)
        if not name.startswith(STAGING_PREFIX):
            os.unlink(path)
            done.append("removed %s, a temporary file of an interrupted run" % name)
        elif is_committed(path):
            publish(bundle, name)
            done.append("completed the interrupted collection %s (it was committed; its items, "
                        "SHA256SUMS and manifest are now in place)" % name)
        else:
            shutil.rmtree(path)
            done.append("removed %s, left by a collection interrupted before it committed "
                        "(nothing of it was in the bundle)" % name)
    return done
