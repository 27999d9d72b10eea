# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash-safe file writes that never follow a link the collection did not create.

Every writer of the collection goes through these helpers:

* :func:`atomic_write` replaces a file all-or-nothing: the data goes to a new
  temporary file created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` in the target's
  directory (opened once, every name resolved relative to that directory fd),
  is flushed, then renamed over the target. An existing target that is a
  symbolic link or not a regular file is refused (:class:`UnsafePathError`,
  naming the path) before anything is written. Only a caller that documents it
  (the host file of ``config``/``policy``) passes ``follow_link=True`` to
  replace the link's target instead.
* :func:`write_new` creates a file that must not exist yet, all-or-nothing
  (temp file, then a hard link to the final name): a failed or short write
  (a full disk) leaves no file, never a truncated one.
* :func:`open_lock` opens (creating) a lock file with ``O_NOFOLLOW``: a link
  there, even a dangling one, is refused and its target never created.
* :func:`read_regular` reads a file without following a link and without
  blocking on a FIFO; :func:`check_real_dirs` checks that every path component
  under a base directory (an incident directory, an evidence bundle) is a real
  directory, not a link.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
#: The errno an ``O_NOFOLLOW`` open of a symbolic link fails with (ELOOP on Linux, EMLINK on some BSDs).
_LINK_ERRNOS = (errno.ELOOP, errno.EMLINK)


class UnsafePathError(InputError):
    """A path the collection refuses to write or read: a symbolic link or a non-regular file."""


_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_kind(mode: int) -> str:
    """``a regular file``, ``a symbolic link``, ``a FIFO (named pipe)``, ``a directory`` ... for an ``st_mode``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def refusal(path: str, mode: int, what: str = "file") -> UnsafePathError:
    """The refusal of ``path`` (of file mode ``mode``), naming it and what is accepted."""
    return UnsafePathError("%s is %s; refused: the collection only writes and reads a regular %s it can open "
                           "without following a link (remove or move it)" % (path, file_kind(mode), what))


def fsync_dir(directory: str) -> None:
    """Flush a directory entry (a rename) to disk; best effort on filesystems that refuse it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    _fsync_quietly(fd)
    os.close(fd)


def _fsync_quietly(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError:
        pass


def lstat_or_none(path: str, dir_fd: t.Optional[int] = None) -> t.Optional[os.stat_result]:
    """``lstat`` of ``path`` (relative to ``dir_fd`` when given), or None when it does not exist."""
    try:
        return os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def check_regular_or_absent(path: str, dir_fd: t.Optional[int] = None, shown: t.Optional[str] = None) -> bool:
    """True when ``path`` is a regular file, False when absent; :class:`UnsafePathError` otherwise."""
    info = lstat_or_none(path, dir_fd)
    if info is None:
        return False
    if not stat.S_ISREG(info.st_mode):
        raise refusal(shown or path, info.st_mode)
    return True


def check_real_dirs(base: str, path: str) -> None:
    """Every existing component of ``path`` below ``base`` is a real directory (not a link, not a file).

    ``base`` itself may be reached through links (it is the operator's choice); what lies under it is
    the collection's own and must be what the collection created.
    """
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    if relative == os.curdir:
        return
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        raise UnsafePathError("%s is not under %s; refused" % (path, base))
    current = os.path.abspath(base)
    for part in relative.split(os.sep):
        current = os.path.join(current, part)
        info = lstat_or_none(current)
        if info is None:
            return
        if not stat.S_ISDIR(info.st_mode):
            raise refusal(current, info.st_mode, "directory")


def open_dir(path: str, nofollow: bool = False) -> int:
    """A read-only fd of the directory ``path``; with ``nofollow`` its last component must not be a link.

    Without ``nofollow`` the directory may be reached through links: it is the operator's (a bundle,
    a backup directory); the names created in it are resolved relative to the fd.
    """
    flags = os.O_RDONLY | O_DIRECTORY | O_CLOEXEC | (O_NOFOLLOW if nofollow else 0)
    try:
        return os.open(path, flags)
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS or exc.errno == errno.ENOTDIR:
            info = lstat_or_none(path)
            if info is not None:
                raise refusal(path, info.st_mode, "directory") from exc
        raise


def create_temp(dir_fd: int, name: str, suffix: str = ".tmp", mode: int = 0o600,
                readable: bool = False) -> t.Tuple[int, str]:
    """A new empty file ``.<name>.<random><suffix>`` in the directory ``dir_fd``: (fd, its name).

    Created with ``O_CREAT|O_EXCL|O_NOFOLLOW``: never an existing file, never through a link.
    The descriptor is write-only unless ``readable`` (what was written is read back through it).
    """
    access = os.O_RDWR if readable else os.O_WRONLY
    for _attempt in range(100):
        temp = ".%s.%s%s" % (name[:100], os.urandom(6).hex(), suffix)
        try:
            fd = os.open(temp, access | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode, dir_fd=dir_fd)
        except FileExistsError:
            continue
        return fd, temp
    raise FileExistsError(errno.EEXIST, "no free temporary name in the directory", name)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (a short write is continued; ENOSPC raises) and fsync."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[written:]
    os.fsync(fd)


def _unlink_quietly(name: str, dir_fd: t.Optional[int] = None) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def _keep_owner_and_mode(fd: int, current: t.Optional[os.stat_result], default_mode: int) -> None:
    if current is None:
        os.fchmod(fd, default_mode)
        return
    os.fchmod(fd, current.st_mode & 0o7777)
    if (current.st_uid, current.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.fchown(fd, current.st_uid, current.st_gid)
        except OSError:
            pass


def _write_through_temp(directory: str, name: str, data: bytes, finish: t.Callable[[int], None],
                        place: t.Callable[[int, str], None]) -> None:
    """Write ``data`` to a new temporary file in ``directory``, ``finish(fd)`` it (mode, owner), then
    ``place(dir_fd, temp)`` it under ``name``. Any failure (a full disk, a short write, a refusal)
    removes the temporary file; the directory entry is flushed after the placing."""
    dir_fd = open_dir(directory)
    try:
        fd, temp = create_temp(dir_fd, name)
        try:
            try:
                write_all(fd, data)
                finish(fd)
            finally:
                os.close(fd)
            place(dir_fd, temp)
        except BaseException:
            _unlink_quietly(temp, dir_fd)
            raise
        _fsync_quietly(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write(path: str, data: bytes, default_mode: int = 0o644, follow_link: bool = False) -> None:
    """Replace ``path`` with ``data`` all-or-nothing; the mode, owner and group of a replaced file are kept.

    An existing ``path`` that is a symbolic link or not a regular file is refused
    (:class:`UnsafePathError`) before anything is written, unless ``follow_link`` is set: then the
    link's target is replaced and the link kept (only for a target the operator names explicitly).
    A failed write (a full disk) removes the temporary file and leaves ``path`` as it was.
    """
    target = os.path.realpath(path) if follow_link else os.path.abspath(path)
    directory, name = os.path.split(target)
    current = lstat_or_none(target)
    if current is not None and not stat.S_ISREG(current.st_mode):
        raise refusal(path, current.st_mode)

    def place(dir_fd: int, temp: str) -> None:
        # Looked at again just before the rename: a link planted meanwhile is refused too.
        check_regular_or_absent(name, dir_fd, shown=path)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)

    _write_through_temp(directory, name, data, lambda fd: _keep_owner_and_mode(fd, current, default_mode), place)


def link_new(dir_fd: int, temp: str, name: str) -> None:
    """Give the finished temp file ``temp`` its final ``name`` (both in ``dir_fd``), never replacing a file.

    A hard link fails when ``name`` exists (even as a dangling link) and the temp name is removed; on file
    systems without hard links the name is checked and the file renamed (a narrow race, documented).
    Raises FileExistsError when ``name`` is taken.
    """
    try:
        os.link(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.EEXIST or exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP,
                                                          errno.EXDEV, errno.ENOSYS):
            raise
        if lstat_or_none(name, dir_fd) is not None:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), name) from exc
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    os.unlink(temp, dir_fd=dir_fd)


def write_new(path: str, data: bytes, mode: int = 0o600) -> None:
    """Create ``path`` holding ``data``, all-or-nothing; FileExistsError when it exists (as anything).

    The data is written and flushed under a temporary name first, so a failed or short write (a full
    disk) leaves no file behind, never an empty or truncated one.
    """
    directory, name = os.path.split(os.path.abspath(path))
    _write_through_temp(directory, name, data, lambda fd: os.fchmod(fd, mode),
                        lambda dir_fd, temp: link_new(dir_fd, temp, name))


def open_lock(path: str, mode: int = 0o640) -> int:
    """An fd of the lock file ``path`` (created if missing) for ``fcntl.flock``.

    Opened with ``O_NOFOLLOW`` and without blocking: a symbolic link there (even a dangling one, whose
    target would otherwise be created) or a non-regular file is refused with :class:`UnsafePathError`.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode)
    except OSError as exc:
        info = lstat_or_none(path) if exc.errno in _LINK_ERRNOS + (errno.ENXIO, errno.EISDIR) else None
        if info is not None:
            raise refusal(path, info.st_mode, "lock file") from exc
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise refusal(path, info.st_mode, "lock file")
    return fd


def open_regular(path: str) -> int:
    """A read-only fd of the regular file ``path``, opened without following a link and without blocking."""
    try:
        fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
    except OSError as exc:
        info = lstat_or_none(path) if exc.errno in _LINK_ERRNOS + (errno.ENXIO,) else None
        if info is not None:
            raise refusal(path, info.st_mode) from exc
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise refusal(path, info.st_mode)
    return fd


def read_regular(path: str) -> t.Optional[bytes]:
    """The content of the regular file ``path``, None when it does not exist; links are refused."""
    try:
        fd = open_regular(path)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


# --------------------------------------------------------------------------- inputs
# Files the collection reads but does not own (an audit database, a log): the
# operator may point at a link to them, so links are followed; anything but a
# regular file is refused, naming the option, before an open could block on it.


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


def open_input(path: str, field: str, what: str = "a regular file") -> int:
    """A read-only descriptor of the regular file ``path``; InputError naming ``field`` for anything else.

    Opened with ``O_NONBLOCK`` (a FIFO does not block the open) and checked on the descriptor; blocking
    mode is restored before it is returned.
    """
    flags = os.O_RDONLY | O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | O_CLOEXEC
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(field, path, mode, what)
        current = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, current & ~O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_head(path: str, field: str, size: int, what: str = "a regular file") -> bytes:
    """The first ``size`` bytes of the regular file ``path`` (see :func:`open_input`)."""
    fd = open_input(path, field, what)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(size)
