# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A reload signal goes only to the verified service (change/pidfile.py, safe_change.Reloader).

Real processes and real signals. The processes are ``sleep``, which SIGHUP kills in the kernel (no handler
that could be deferred); the stand-in Airlock is ``sleep`` run with ``argv[0]`` "airlock". Whether a signal
was sent is decided without timing: a process that must have had none is then sent SIGTERM by the test and
must die of SIGTERM (Linux delivers the lowest pending signal first, so a SIGHUP sent before would win); the
one that must have had SIGHUP is waited for and must have died of it. Every child gets the default SIGHUP
disposition explicitly, whatever the shell that started the tests ignores (nohup). ``Popen`` returns once
the child has exec'd, so the PID names ``sleep`` when the test writes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.change import pidfile
from ansible_collections.airlock.incident.plugins.module_utils.change.safe_change import Reloader


def _default_sighup():
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def start_sleep(argv0="sleep"):
    return subprocess.Popen([argv0, "1000"], executable="/bin/sleep", stdin=subprocess.DEVNULL,
                            preexec_fn=_default_sighup)


def start_service():
    """The stand-in Airlock: sleep with argv[0] "airlock"."""
    return start_sleep("airlock")


def terminated_by(child):
    """The signal that ended ``child`` after the test sends SIGTERM (SIGHUP if one was pending or delivered)."""
    if child.poll() is None:
        try:
            os.kill(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return -child.wait()


def pid_file(tmp_path, text, name="airlock.pid"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def hup(path, process_name=None):
    return Reloader(None, "signal", pid_file=path, signal_name="HUP", process_name=process_name).run()


@pytest.mark.parametrize("text, why", [
    ("-1\n", "does not hold a PID"),
    ("0\n", "PID 0 is not a service's"),
    ("1\n", "PID 1 is not a service's"),
    ("airlock\n", "does not hold a PID"),
    ("", "does not hold a PID"),
    ("\u0661\u0662\u0663\n", "does not hold a PID"),  # Arabic-Indic digits pass str.isdigit
    ("99999999999\n", "does not hold a PID"),
])
def test_a_pid_file_without_a_service_pid_is_refused(tmp_path, text, why):
    path = pid_file(tmp_path, text)
    with pytest.raises(pidfile.PidFileError) as info:
        pidfile.service_pid(path)
    assert info.value.msg.startswith("pid_file: refusing to signal the PID in %s: " % path)
    assert why in info.value.msg and info.value.msg.endswith("nothing was signalled")
    outcome = hup(path)
    assert outcome["ok"] is False and outcome["detail"] == info.value.msg


def test_a_dead_pid_is_refused(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    path = pid_file(tmp_path, "%d\n" % child.pid)
    with pytest.raises(pidfile.PidFileError, match="process %d is not running" % child.pid):
        pidfile.service_pid(path)


def test_the_pid_of_another_process_is_refused_and_it_gets_no_signal(tmp_path):
    sleeper = start_sleep()
    try:
        path = pid_file(tmp_path, "%d\n" % sleeper.pid)
        outcome = hup(path)
        assert outcome["ok"] is False
        assert "process %d is not airlock (it runs sleep)" % sleeper.pid in outcome["detail"]
        assert sleeper.poll() is None  # still alive
    finally:
        assert terminated_by(sleeper) == signal.SIGTERM  # it never had a SIGHUP


def test_a_pid_file_that_is_a_symlink_is_refused(tmp_path):
    service = start_service()
    try:
        real = pid_file(tmp_path, "%d\n" % service.pid, "real.pid")
        link = tmp_path / "airlock.pid"
        link.symlink_to(real)
        outcome = hup(str(link))
        assert outcome["ok"] is False and "it is a symbolic link" in outcome["detail"]
        assert service.poll() is None
    finally:
        assert terminated_by(service) == signal.SIGTERM


def test_a_pid_file_owned_by_another_user_is_refused(tmp_path):
    if os.geteuid() != 0:
        print("skipped: changing a file's owner needs root")
        pytest.skip("needs root")
    service = start_service()
    try:
        path = pid_file(tmp_path, "%d\n" % service.pid)
        os.chown(path, 4242, 4242)
        outcome = hup(path)
        assert outcome["ok"] is False and "owned by uid 4242" in outcome["detail"]
    finally:
        assert terminated_by(service) == signal.SIGTERM


def test_a_fifo_is_refused_without_blocking(tmp_path):
    path = str(tmp_path / "airlock.pid")
    os.mkfifo(path)
    with pytest.raises(pidfile.PidFileError, match="not a regular file"):
        pidfile.service_pid(path)


def test_the_verified_service_gets_the_signal(tmp_path):
    service = start_service()
    path = pid_file(tmp_path, "%d\n" % service.pid)
    assert pidfile.service_pid(path) == service.pid
    assert "airlock" in pidfile.process_names(service.pid)
    outcome = hup(path)
    assert outcome == {"ok": True, "method": "signal", "detail": "sent SIGHUP to %d through its pidfd" % service.pid,
                       "pid": service.pid}
    assert -service.wait() == signal.SIGHUP


def test_process_name_names_the_service(tmp_path):
    sleeper = start_sleep()
    try:
        path = pid_file(tmp_path, "%d\n" % sleeper.pid)
        assert pidfile.service_pid(path, "sleep") == sleeper.pid
        with pytest.raises(pidfile.PidFileError, match="set process_name"):
            pidfile.service_pid(path, "airlock")
    finally:
        assert terminated_by(sleeper) == signal.SIGTERM


NS_LAST_PID = "/proc/sys/kernel/ns_last_pid"


def start_with_pid(pid, argv0):
    """A stand-in started with exactly ``pid`` (root writes ns_last_pid, then forks); None if another process
    took the PID first every time."""
    for dummy in range(200):
        with open(NS_LAST_PID, "w") as stream:
            stream.write(str(pid - 1))
        child = start_sleep(argv0)
        if child.pid == pid:
            return child
        assert terminated_by(child) == signal.SIGTERM
    return None


def test_a_pid_reused_between_the_check_and_the_signal_gets_nothing(tmp_path, monkeypatch):
    """The race pidfds close, made to happen: after the pidfd is open and while the PID is being verified,
    the service dies and another "airlock" process gets its PID. The check passes (it looks at /proc/<pid>,
    now the newcomer); the signal must still not reach the newcomer."""
    if os.geteuid() != 0 or not os.access(NS_LAST_PID, os.W_OK) or not hasattr(os, "pidfd_open"):
        print("skipped: reusing a PID on purpose needs root (ns_last_pid) and os.pidfd_open")
        pytest.skip("needs root, ns_last_pid and pidfd_open")
    service = start_service()
    path = pid_file(tmp_path, "%d\n" % service.pid)
    newcomer = []
    real_names = pidfile.process_names

    def names_after_reuse(pid):
        if not newcomer:
            service.kill()
            service.wait()
            newcomer.append(start_with_pid(pid, "airlock"))
            if newcomer[0] is None:
                pytest.skip("another process took PID %d every time" % pid)
        return real_names(pid)

    monkeypatch.setattr(pidfile, "process_names", names_after_reuse)
    outcome = hup(path)
    assert newcomer[0].pid == service.pid
    assert outcome["ok"] is False and "exited after it was checked" in outcome["detail"], outcome
    assert terminated_by(newcomer[0]) == signal.SIGTERM, "the process that reused the PID got the signal"
