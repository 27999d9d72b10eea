# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash-safe file writes shared by every module that records something.

Incident records, evidence manifests, exports, snapshots and changed Airlock
files all go through ``atomic_write``: readers see the old content or the new
one, never a partial file, and the rename is made durable with ``fsync_dir``.
"""

from __future__ import annotations

import os
import tempfile


def fsync_dir(directory: str) -> None:
    """Flush a directory entry (a rename) to disk; best effort on filesystems that refuse it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, default_mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    A symlinked ``path`` is written through (its target is replaced, the link
    kept). The mode, owner and group of the replaced file are kept.
    """
    real = os.path.realpath(path)
    directory = os.path.dirname(real) or "."
    try:
        current = os.stat(real)
    except OSError:
        current = None
    handle, temp = tempfile.mkstemp(prefix="." + os.path.basename(real) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if current is not None:
            os.chmod(temp, current.st_mode & 0o7777)
            if hasattr(os, "chown") and (current.st_uid, current.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.chown(temp, current.st_uid, current.st_gid)
                except OSError:
                    pass
        else:
            os.chmod(temp, default_mode)
        os.replace(temp, real)
    except Exception:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    fsync_dir(directory)
