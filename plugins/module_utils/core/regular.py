# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inputs that must be regular files: refused, naming the field, before anything blocks on them.

A FIFO opened for reading blocks until a writer appears, a character device
may never end, a socket cannot be opened at all: a forensic module pointed at
one of them (by mistake or by whoever controls the path) would hang. Both
helpers look at the file type first (:func:`check_regular`, ``os.stat``) and,
when they open it, open with ``O_NONBLOCK`` and check the opened descriptor
again (:func:`open_regular`), so a file swapped for a FIFO between the check
and the open is refused instead of blocking.
"""

from __future__ import annotations

import fcntl
import os
import stat

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_kind(mode: int) -> str:
    """``a regular file``, ``a FIFO (named pipe)``, ``a directory`` ... for an ``st_mode``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _refuse(field: str, path: str, mode: int, what: str) -> InputError:
    return InputError("%s: %s is %s, not %s; accepted values: the path of a regular file"
                      % (field, path, file_kind(mode), what))


def check_regular(path: str, field: str, what: str = "a regular file") -> os.stat_result:
    """``os.stat(path)`` when it is a regular file (links followed); InputError naming ``field`` otherwise.

    OSError (missing, no permission) is left to the caller, which knows how to word it.
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(field, path, info.st_mode, what)
    return info


def open_regular(path: str, field: str, what: str = "a regular file") -> int:
    """A read-only descriptor of the regular file ``path``; InputError naming ``field`` for anything else.

    Opened with ``O_NONBLOCK`` (a FIFO does not block the open) and checked on the descriptor; blocking
    mode is restored before it is returned.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(field, path, mode, what)
        current = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, current & ~getattr(os, "O_NONBLOCK", 0))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_head(path: str, field: str, size: int, what: str = "a regular file") -> bytes:
    """The first ``size`` bytes of the regular file ``path`` (see :func:`open_regular`)."""
    fd = open_regular(path, field, what)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(size)
