# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Process management for one lab directory: start, stop, restart, status, faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from airlock_lab import DEFAULT_CONFIG, LAUNCHER
from airlock_lab import config as lab_config
from airlock_lab.client import request
from airlock_lab.util import (
    FAULTS_FILE,
    LOG_FILE,
    PORT_FILE,
    STATE_FILE,
    STDERR_FILE,
    is_lab_process,
    pid_cmdline,
    read_json,
    rfc3339_now,
    terminate,
    write_json,
)

START_TIMEOUT = 10.0


class LabError(Exception):
    """A lab command failed; the message is printed as one line, exit code 1."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class Lab:
    def __init__(self, lab_dir):
        self.dir = os.path.abspath(lab_dir)

    # ------------------------------------------------------------------ files
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def state(self):
        return read_json(self.path(STATE_FILE), None)

    def save_state(self, state):
        write_json(self.path(STATE_FILE), state)

    def faults(self):
        faults = read_json(self.path(FAULTS_FILE), {})
        return faults if isinstance(faults, dict) else {}

    def set_fault(self, name, value):
        faults = self.faults()
        if value is None:
            faults.pop(name, None)
        else:
            faults[name] = value
        write_json(self.path(FAULTS_FILE), faults)
        return faults

    # -------------------------------------------------------------- processes
    def airlock_running(self, state=None):
        state = state or self.state() or {}
        return is_lab_process(state.get("pid"), "_serve", self.dir)

    def idp_running(self, state=None):
        state = state or self.state() or {}
        return is_lab_process(state.get("idp_pid"), "_idp", self.dir)

    def live(self, url, timeout=1.0):
        try:
            return request(url, path="/live", timeout=timeout).status == 200
        except OSError:
            return False

    def _log_offset(self):
        try:
            return os.path.getsize(self.path(LOG_FILE))
        except OSError:
            return 0

    def _fatal_since(self, offset):
        """The last fatal/error line written after ``offset``, as one readable line."""
        try:
            with open(self.path(LOG_FILE), "rb") as handle:
                handle.seek(offset)
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            lines = []
        chosen = None
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("level") in ("fatal", "error"):
                chosen = record
                if record.get("level") == "fatal":
                    break
        if chosen is None:
            try:
                with open(self.path(STDERR_FILE), "rb") as handle:
                    tail = handle.read().decode("utf-8", "replace").strip().splitlines()[-1:]
            except OSError:
                tail = []
            return tail[0] if tail else None
        text = chosen.get("msg", "")
        if chosen.get("error"):
            text += ": %s" % chosen["error"]
        return text

    def spawn_airlock(self, profile, port, config_path, admin_group):
        """Start the Airlock process and wait for /live; returns (pid, port)."""
        try:
            os.unlink(self.path(PORT_FILE))
        except OSError:
            pass
        offset = self._log_offset()
        command = [sys.executable, LAUNCHER, "--dir", self.dir, "_serve", "--profile", profile,
                   "--port", str(int(port or 0)), "--config", config_path, "--admin-group", admin_group]
        with open(self.path(STDERR_FILE), "ab") as errors:
            process = subprocess.Popen(command, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=errors,
                                       stderr=errors, start_new_session=True, close_fds=True)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            code = process.poll()
            if code is not None:
                reason = self._fatal_since(offset) or "exit status %d" % code
                raise LabError("airlock exited during start (exit status %d): %s" % (code, reason))
            port_text = None
            try:
                with open(self.path(PORT_FILE)) as handle:
                    port_text = handle.read().strip()
            except OSError:
                pass
            if port_text:
                actual = int(port_text)
                if self.live("http://127.0.0.1:%d" % actual, timeout=0.5):
                    return process.pid, actual
            time.sleep(0.05)
        terminate(process.pid, timeout=2)
        reason = self._fatal_since(offset)
        raise LabError("airlock did not answer /live within %d s%s" % (START_TIMEOUT,
                                                                      (": " + reason) if reason else ""))

    def spawn_idp(self, port=0, tls=None):
        """Start the IdP; ``tls`` is ``{"cert": path, "key": path}`` to serve https (drill idp-cert-expired)."""
        port_file = self.path("idp", "idp.port")
        os.makedirs(self.path("idp"), exist_ok=True)
        try:
            os.unlink(port_file)
        except OSError:
            pass
        command = [sys.executable, LAUNCHER, "--dir", self.dir, "_idp", "--port", str(int(port or 0))]
        if tls:
            command += ["--tls-cert", tls["cert"], "--tls-key", tls["key"]]
        with open(self.path("idp", "idp.stderr"), "ab") as errors:
            process = subprocess.Popen(command, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=errors,
                                       stderr=errors, start_new_session=True, close_fds=True)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if process.poll() is not None:
                raise LabError("the lab IdP exited during start (see %s)" % self.path("idp", "idp.stderr"))
            try:
                with open(port_file) as handle:
                    text = handle.read().strip()
            except OSError:
                text = ""
            if text:
                url = "%s://127.0.0.1:%d" % ("https" if tls else "http", int(text))
                try:
                    if request(url, path="/.well-known/openid-configuration", timeout=0.5).status == 200:
                        return process.pid, int(text), url
                except OSError:
                    pass
            time.sleep(0.05)
        terminate(process.pid, timeout=2)
        raise LabError("the lab IdP did not answer within %d s" % START_TIMEOUT)

    # --------------------------------------------------------------- commands
    def start(self, profile="release", port=0, config=None, policy=None, no_upstreams=False,
              admin_group="airlock-admins", idp_port=0):
        state = self.state()
        if state and self.airlock_running(state) and self.live(state.get("url", "")):
            return state, False
        os.makedirs(self.dir, exist_ok=True)
        # a fresh start: stop leftovers of an earlier run of this directory
        self.stop()
        write_json(self.path(FAULTS_FILE), {})
        config_source = os.path.abspath(config or DEFAULT_CONFIG)
        if not os.path.isfile(config_source):
            raise LabError("config file %s does not exist" % config_source)
        idp_pid = idp_url = None
        bound_idp_port = None
        if profile == "documented":
            idp_pid, bound_idp_port, idp_url = self.spawn_idp(idp_port)
        try:
            derived = lab_config.derive(config_source, self.dir, profile, idp_url=idp_url, policy_source=policy,
                                        no_upstreams=no_upstreams)
        except (lab_config.ConfigError, OSError) as exc:
            if idp_pid:
                terminate(idp_pid)
            raise LabError(str(exc))
        try:
            pid, actual_port = self.spawn_airlock(profile, port, derived["config"], admin_group)
        except LabError:
            if idp_pid:
                terminate(idp_pid)
            raise
        server_addr = None
        database = derived["db"]
        try:
            # what the server really uses, AIRLOCK_* environment overrides included
            document, _, _ = lab_config.load(derived["config"])
            server_addr = (document.get("server") or {}).get("addr")
            configured = (document.get("audit") or {}).get("database")
            if configured:
                database = os.path.normpath(os.path.join(self.dir, str(configured)))
        except Exception:
            pass
        state = {
            "profile": profile,
            "url": "http://127.0.0.1:%d" % actual_port,
            "port": actual_port,
            "pid": pid,
            "idp_url": idp_url,
            "idp_pid": idp_pid,
            "idp_port": bound_idp_port,
            "db": database,
            "config": derived["config"],
            "config_source": derived["config_source"],
            "policy": derived["policy"],
            "policy_source": derived["policy_source"],
            "overrides": derived["overrides"],
            "server_addr": server_addr,
            "no_upstreams": bool(no_upstreams),
            "admin_group": admin_group,
            "log": self.path(LOG_FILE),
            "dir": self.dir,
            "started_at": rfc3339_now(),
        }
        self.save_state(state)
        return state, True

    def _orphans(self, role):
        """Lab processes of ``role`` for this directory that state.json does not name."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and is_lab_process(int(entry), role, self.dir):
                argv = pid_cmdline(int(entry))
                if "--dir" in argv and argv[argv.index("--dir") + 1:argv.index("--dir") + 2] == [self.dir]:
                    found.append(int(entry))
        return found

    def stop(self):
        state = self.state() or {}
        stopped = []
        if self.airlock_running(state):
            terminate(state["pid"], timeout=8)
            stopped.append("airlock")
        if self.idp_running(state):
            terminate(state["idp_pid"], timeout=5)
            stopped.append("idp")
        for role, name in (("_serve", "airlock"), ("_idp", "idp")):
            for pid in self._orphans(role):
                terminate(pid, timeout=5)
                if name not in stopped:
                    stopped.append(name)
        return stopped

    def restart(self):
        state = self.state()
        if not state:
            raise LabError("no lab state in %s: run `start` first" % self.dir)
        if self.airlock_running(state):
            terminate(state["pid"], timeout=8)
        self.set_fault("down", None)
        pid, port = self.spawn_airlock(state["profile"], state["port"], state["config"],
                                       state.get("admin_group") or "airlock-admins")
        state["pid"] = pid
        state["port"] = port
        state["url"] = "http://127.0.0.1:%d" % port
        state["started_at"] = rfc3339_now()
        self.save_state(state)
        return state

    def status(self):
        state = self.state() or {}
        running = bool(state) and self.airlock_running(state)
        result = {
            "running": running,
            "live": bool(running and self.live(state.get("url", ""))),
            "pid": state.get("pid") if running else None,
            "url": state.get("url"),
            "port": state.get("port"),
            "profile": state.get("profile"),
            "faults": self.faults(),
            "idp_running": bool(state) and self.idp_running(state),
            "idp_url": state.get("idp_url"),
            "db": state.get("db"),
            "config": state.get("config"),
            "policy": state.get("policy"),
            "log": state.get("log"),
            "dir": self.dir,
            "started_at": state.get("started_at"),
        }
        return result
