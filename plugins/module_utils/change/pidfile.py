# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PID a reload may signal: read from a PID file and verified to be the service, or refused.

``os.kill`` with what a PID file holds is dangerous: ``-1`` signals every
process the user may signal (as root, the whole host), ``0`` the caller's own
process group, ``1`` init; a stale file names a process that has since died or,
worse, a PID reused by another program. :func:`service_pid` accepts a PID only
when all of this holds:

* the PID file is a regular file, not a link (opened with ``O_NOFOLLOW``,
  checked with ``fstat`` on the open descriptor), owned by root or by the user
  the module runs as, and small;
* its first line is a decimal number (ASCII digits only) greater than 1;
* the process is alive (and not a zombie);
* the process is the service: ``process_name`` is the name of its executable
  (``/proc/<pid>/exe``), of its ``argv[0]``, or of the script its interpreter
  runs (``argv[1]``, for ``python airlock-lab ...``).

Anything else raises :class:`PidFileError` naming ``pid_file`` and why.

:func:`signal_service` closes the PID-reuse race between the check and the
signal where the platform allows it: it opens a pidfd for the PID first
(``os.pidfd_open``, Linux 5.3 and Python 3.9 or later), verifies the process
through ``/proc/<pid>``, and signals through the pidfd
(``signal.pidfd_send_signal``). A pidfd names one process, never a later
holder of its PID; if the signal is delivered, that process was alive from the
open to the signal, so the PID was never reused and the ``/proc`` check saw
it. If it exited meanwhile, the signal fails (``ESRCH``) and nothing is
signalled. Without pidfds (older Python or kernel, not Linux) it falls back to
``os.kill`` right after the check: a PID freed and reused in between would
get the signal (documented in docs/security.md).
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

#: The process name expected by default.
DEFAULT_PROCESS_NAME = "airlock"
#: Largest PID file read (a PID and a newline, with room for a comment).
MAX_PID_FILE_BYTES = 4096
#: Largest PID Linux hands out (``pid_max`` is at most 2^22).
MAX_PID = 4194304

_NUMBER = re.compile(r"^[0-9]{1,8}$")


class PidFileError(InputError):
    """The PID file does not name the running service; the message starts with ``pid_file:``."""


def _refuse(path: str, why: str) -> PidFileError:
    return PidFileError("pid_file: refusing to signal the PID in %s: %s; nothing was signalled" % (path, why))


def read_pid_file(path: str) -> int:
    """The PID in ``path``: a regular file, not a link, owned by root or the current user, holding a PID > 1."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(path, "it is a symbolic link (a PID file must be a regular file)") from exc
        raise _refuse(path, "cannot open it (%s)" % (exc.strerror or exc)) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, "it is not a regular file")
        if info.st_uid not in (0, os.geteuid()):
            raise _refuse(path, "it is owned by uid %d, neither root nor the user the module runs as (uid %d)"
                          % (info.st_uid, os.geteuid()))
        data = os.read(fd, MAX_PID_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_PID_FILE_BYTES:
        raise _refuse(path, "it is larger than %d bytes" % MAX_PID_FILE_BYTES)
    lines = data.decode("ascii", "replace").strip().splitlines()
    text = lines[0].strip() if lines else ""
    if not _NUMBER.match(text):
        raise _refuse(path, "it does not hold a PID (a decimal number greater than 1 on its first line)")
    pid = int(text)
    if pid <= 1 or pid > MAX_PID:
        raise _refuse(path, "PID %d is not a service's (accepted: 2 to %d; 0, 1 and negative PIDs signal a "
                            "process group, init or every process)" % (pid, MAX_PID))
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as stream:
            fields = stream.read().rsplit(")", 1)[-1].split()
    except OSError:
        return True
    return not fields or fields[0] not in ("Z", "X", "x")


def process_names(pid: int) -> t.List[str]:
    """The names the process goes by: its executable's, its ``argv[0]``'s and its ``argv[1]``'s (base names).

    The executable comes first when it can be read (``/proc/<pid>/exe`` needs the right to trace the process).
    """
    names = []
    try:
        names.append(os.path.basename(os.readlink("/proc/%d/exe" % pid)).replace(" (deleted)", ""))
    except OSError:
        pass
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as stream:
            argv = stream.read(65536).split(b"\0")
    except OSError:
        argv = []
    for arg in argv[:2]:
        if arg:
            names.append(os.path.basename(arg.decode("utf-8", "replace")))
    return names


def service_pid(path: t.Optional[str], process_name: t.Optional[str] = None) -> int:
    """The verified PID of the service in the PID file ``path``; :class:`PidFileError` otherwise."""
    path = str(path)
    expected = process_name or DEFAULT_PROCESS_NAME
    pid = read_pid_file(path)
    if not _alive(pid):
        raise _refuse(path, "process %d is not running (a stale PID file)" % pid)
    if not os.path.isdir("/proc/%d" % pid):
        raise _refuse(path, "process %d cannot be verified (no /proc on this host)" % pid)
    names = process_names(pid)
    if expected not in names:
        shown = ", ".join(sorted(set(names[:2]))) or "an unknown program"
        raise _refuse(path, "process %d is not %s (it runs %s); set process_name if the service runs under "
                            "another name" % (pid, expected, shown))
    return pid


def open_pidfd(pid: int) -> t.Optional[int]:
    """A pidfd for ``pid``, or None when this Python or kernel has none; ProcessLookupError when it is gone."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None or getattr(signal, "pidfd_send_signal", None) is None:
        return None
    try:
        return t.cast(int, pidfd_open(pid))
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
            return None  # no pidfd support (seccomp or an old kernel): fall back to kill
        raise


def signal_service(path: t.Optional[str], process_name: t.Optional[str], signum: int) -> t.Tuple[int, str]:
    """Send ``signum`` to the verified service of the PID file ``path``; ``(pid, "pidfd" or "kill")``.

    :class:`PidFileError` when the PID file does not name the running service, or when the process exited
    before the signal (nothing was signalled); OSError when the signal itself fails (EPERM).
    """
    shown = str(path)
    pid = read_pid_file(shown)
    try:
        pidfd = open_pidfd(pid)
    except ProcessLookupError as exc:
        raise _refuse(shown, "process %d is not running (a stale PID file)" % pid) from exc
    if pidfd is None:
        pid = service_pid(path, process_name)
        os.kill(pid, signum)
        return pid, "kill"
    try:
        if service_pid(path, process_name) != pid:
            raise _refuse(shown, "the PID file changed while it was checked")
        try:
            getattr(signal, "pidfd_send_signal")(pidfd, signum)
        except ProcessLookupError as exc:
            raise _refuse(shown, "process %d exited after it was checked (its PID may have been reused)"
                          % pid) from exc
    finally:
        os.close(pidfd)
    return pid, "pidfd"
