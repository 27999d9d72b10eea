# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small helpers shared by the lab processes: files, time, logging, processes."""

from __future__ import annotations

import datetime
import json
import os
import signal
import tempfile
import threading
import time

STATE_FILE = "state.json"
FAULTS_FILE = "faults.json"
LOG_FILE = "airlock.log"
STDERR_FILE = "airlock.stderr"
PORT_FILE = "airlock.port"

LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40, "fatal": 50}


def rfc3339_now():
    """``time.Now().UTC().Format(time.RFC3339)``: second precision, ``Z``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def atomic_write(path, data, mode=0o644):
    """Write ``data`` (bytes or str) to ``path`` atomically (tempfile + os.replace)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(path, document):
    atomic_write(path, json.dumps(document, indent=2, sort_keys=True) + "\n")


def read_json(path, default=None):
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return default


class ZapLogger:
    """JSON lines in the shape of zap's production encoder.

    ``{"level":"info","ts":1732812345.123456,"msg":"...", <fields>}``; the
    ``text`` format imitates zap's console encoder.
    """

    def __init__(self, path, level="info", fmt="json", name=None):
        self.path = path
        self.level = LEVELS.get(level, 20)
        self.fmt = fmt
        self.name = name
        self._lock = threading.Lock()
        self._handle = open(path, "a", encoding="utf-8")

    def set_level(self, level, fmt=None):
        self.level = LEVELS.get(level, self.level)
        if fmt:
            self.fmt = fmt

    def log(self, level, msg, **fields):
        if LEVELS.get(level, 20) < self.level and level != "fatal":
            return
        now = time.time()
        if self.fmt == "text":
            stamp = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            line = "%s\t%s\t%s" % (stamp, level.upper(), msg)
            if fields:
                line += "\t" + json.dumps(fields, separators=(",", ":"), default=str)
        else:
            record = {"level": level, "ts": round(now, 6)}
            if self.name:
                record["logger"] = self.name
            record["msg"] = msg
            for key, value in fields.items():
                record[key] = value
            line = json.dumps(record, separators=(",", ":"), default=str)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()

    def debug(self, msg, **fields):
        self.log("debug", msg, **fields)

    def info(self, msg, **fields):
        self.log("info", msg, **fields)

    def warn(self, msg, **fields):
        self.log("warn", msg, **fields)

    def error(self, msg, **fields):
        self.log("error", msg, **fields)

    def fatal(self, msg, **fields):
        self.log("fatal", msg, **fields)


def pid_alive(pid):
    """True if ``pid`` exists and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    try:
        with open("/proc/%d/stat" % int(pid), "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        if fields and fields[0] in (b"Z", b"X"):
            return False
    except OSError:
        return False
    return True


def pid_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % int(pid), "rb") as handle:
            return [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
    except (OSError, ValueError, TypeError):
        return []


def is_lab_process(pid, role, lab_dir):
    """True if ``pid`` is a lab process of ``role`` (``_serve``/``_idp``) for ``lab_dir``."""
    if not pid_alive(pid):
        return False
    argv = pid_cmdline(pid)
    return role in argv and os.path.abspath(lab_dir) in argv


def terminate(pid, timeout=8.0):
    """SIGTERM, then SIGKILL after ``timeout``; True if the process is gone."""
    if not pid_alive(pid):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return True
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return True
    deadline = time.time() + 5
    while time.time() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def rss_bytes():
    """Resident set size of this process in bytes."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def go_duration_text(seconds):
    """A Go-like duration string (``1.234ms``) for log lines."""
    if seconds >= 1:
        return "%.3fs" % seconds
    if seconds >= 0.001:
        return "%.3fms" % (seconds * 1000)
    return "%.1f\u00b5s" % (seconds * 1e6)
