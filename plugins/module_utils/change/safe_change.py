# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Changing a file Airlock reads, safely: backup, atomic write, reload, verify, roll back.

Used by ``airlock.incident.config`` and ``airlock.incident.policy`` through :mod:`.flow`.

* ``FileTarget`` is the host-file target (``config.yaml``/``policy.rego`` on a
  host). The Kubernetes ConfigMap target (``k8s.config_target.ConfigMapTarget``)
  offers the same ``read``/``write``/``describe`` methods (one key of the
  ConfigMap, written with a resourceVersion precondition) and a rolling
  restart as its reload.
* ``BackupStore`` (:mod:`.backups`) keeps every previous content.
* ``Reloader`` runs the configured reload: a restart command (argv), a
  systemd restart, a signal to the PID in a PID file, or an admin HTTP call.
  SIGHUP kills the released Airlock (it does not handle it), so restart is
  the default everywhere.
* ``wait_healthy`` (from ``airlock.probes``) polls ``/live`` and ``/ready`` until both answer 2xx.
* ``apply_change`` ties them together and restores the previous content
  (and reloads again) when the service does not come back healthy.
"""

from __future__ import annotations

import errno
import os
import signal
import typing as t
from urllib.error import HTTPError, URLError

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import Request

from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import validate_base_url
from ansible_collections.airlock.incident.plugins.module_utils.airlock.probes import describe_health, wait_healthy
from ansible_collections.airlock.incident.plugins.module_utils.change.pidfile import PidFileError, signal_service
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import atomic_write

#: Signals a reload may send, by name.
SIGNALS = ("HUP", "USR1", "USR2")


class FileTarget:
    """A file on the managed host."""

    kind = "file"

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))

    def describe(self) -> str:
        return self.path

    def exists(self) -> bool:
        return os.path.isfile(self.path)

    def read(self) -> t.Optional[bytes]:
        """The content as bytes, or None when the file does not exist."""
        try:
            with open(self.path, "rb") as stream:
                return stream.read()
        except IOError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    def write(self, data: bytes) -> None:
        # Documented (config/policy docs, test_a_symlinked_config_is_written_through): a symlinked
        # target file named by the operator is written through, the link kept.
        atomic_write(self.path, data, follow_link=True)

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise


# ---------------------------------------------------------------------------
# reload and verify
# ---------------------------------------------------------------------------


class Reloader:
    """One way of making Airlock load the new content.

    ``method`` is ``command`` (run ``command``, an argv list), ``systemd``
    (``systemctl restart service_name``), ``signal`` (send ``signal_name`` to
    the PID in ``pid_file`` once :func:`.pidfile.service_pid` verified it is
    the service named ``process_name``, or run ``command`` when given), ``admin``
    (POST ``admin_url`` with a bearer ``admin_token``) or ``none``.
    """

    def __init__(self, module: t.Any, method: str, command: t.Optional[t.List[str]] = None,
                 service_name: t.Optional[str] = None, signal_name: str = "HUP", pid_file: t.Optional[str] = None,
                 admin_url: t.Optional[str] = None, admin_token: t.Optional[str] = None, timeout: float = 30.0,
                 validate_certs: bool = True, process_name: t.Optional[str] = None) -> None:
        self.module = module
        self.process_name = process_name
        self.method = method
        self.command = command
        self.service_name = service_name
        self.signal_name = signal_name
        self.pid_file = pid_file
        self.admin_url = admin_url
        self.admin_token = admin_token
        self.timeout = timeout
        self.validate_certs = validate_certs

    @property
    def active(self) -> bool:
        return self.method != "none"

    def describe(self) -> str:
        if self.method == "command":
            return "restart command %s" % " ".join(self.command or [])
        if self.method == "systemd":
            return "systemctl restart %s" % self.service_name
        if self.method == "signal":
            if self.command:
                return "reload command %s" % " ".join(self.command)
            return "SIG%s to the PID in %s" % (self.signal_name, self.pid_file)
        if self.method == "admin":
            return "POST %s" % self.admin_url
        return "none"

    def run(self) -> t.Dict[str, t.Any]:
        """``{"ok", "method", "detail"}``; never raises for an operational failure."""
        if self.method == "none":
            return {"ok": True, "method": "none", "detail": "no reload configured"}
        if self.method in ("command", "systemd") or (self.method == "signal" and self.command):
            argv = list(self.command or [])
            if self.method == "systemd":
                systemctl = self.module.get_bin_path("systemctl", required=True)
                argv = [systemctl, "restart", str(self.service_name)]
            rc, out, err = self.module.run_command(argv, check_rc=False)
            detail = (err or out or "").strip().splitlines()
            text = "rc=%d%s" % (rc, (": " + detail[-1]) if detail else "")
            return {"ok": rc == 0, "method": self.method, "detail": text, "rc": rc,
                    "stdout": out[-4000:], "stderr": err[-4000:]}
        if self.method == "signal":
            signum = getattr(signal, "SIG" + self.signal_name)
            try:
                pid, how = signal_service(self.pid_file, self.process_name, signum)
            except PidFileError as exc:
                return {"ok": False, "method": "signal", "detail": exc.msg}
            except OSError as exc:
                return {"ok": False, "method": "signal", "detail": "kill -%s failed: %s"
                        % (self.signal_name, to_native(exc))}
            return {"ok": True, "method": "signal", "detail": "sent SIG%s to %d %s" % (
                self.signal_name, pid, "through its pidfd" if how == "pidfd" else "with kill (no pidfd on this host)"),
                "pid": pid}
        return self._admin()

    def _admin(self) -> t.Dict[str, t.Any]:
        request = Request(validate_certs=self.validate_certs, timeout=self.timeout, http_agent="airlock.incident")
        headers = {"Content-Type": "application/json"}
        if self.admin_token:
            headers["Authorization"] = "Bearer %s" % self.admin_token
        try:
            response = request.open("POST", self.admin_url, data=b"{}", headers=headers)
            status = response.getcode()
            body = response.read(65536)
        except HTTPError as exc:
            status = exc.code
            try:
                body = exc.read(65536)
            except Exception:  # pylint: disable=broad-except
                body = b""
        except (URLError, OSError, ValueError) as exc:
            return {"ok": False, "method": "admin", "detail": "POST %s failed: %s" % (self.admin_url, to_native(exc))}
        text = to_native(body, errors="surrogate_or_replace")[:500]
        return {"ok": 200 <= status < 300, "method": "admin", "status": status,
                "detail": "HTTP %d%s" % (status, (": " + text) if text else "")}


def check_verify_url(url: t.Optional[str]) -> t.Optional[str]:
    """The verify URL without a trailing slash, or None; InputError naming ``verify_url`` otherwise."""
    if url is None:
        return None
    try:
        return validate_base_url(url)
    except ValueError as exc:
        raise InputError(str(exc).replace("url:", "verify_url:", 1)) from exc


def apply_change(target: t.Any, new_data: bytes, old_data: t.Optional[bytes], backup_path: t.Optional[str],
                 reloader: Reloader, verify_url: t.Optional[str] = None, verify_timeout: float = 30.0,
                 rollback_reloader: t.Optional[Reloader] = None, validate_certs: bool = True,
                 what: str = "file") -> t.Dict[str, t.Any]:
    """Write ``new_data``, reload, verify; restore ``old_data`` and reload again on failure.

    The caller has already validated ``new_data`` and saved ``old_data`` to
    ``backup_path``. Returns ``{"restarted", "verified", "rolled_back",
    "reload", "health"}``; raises AirlockIncidentError (with those keys) when
    it had to roll back.
    """
    target.write(new_data)
    outcome: t.Dict[str, t.Any] = {"restarted": False, "verified": False, "rolled_back": False, "reload": None,
                                   "health": None}
    if not reloader.active:
        return outcome
    reload_result = reloader.run()
    outcome["reload"] = reload_result
    outcome["restarted"] = bool(reload_result["ok"])
    problem = None
    if not reload_result["ok"]:
        problem = "%s failed (%s)" % (reloader.describe(), reload_result["detail"])
    elif verify_url:
        health = wait_healthy(verify_url, verify_timeout, validate_certs=validate_certs)
        outcome["health"] = health
        if health["ok"]:
            outcome["verified"] = True
            return outcome
        problem = "the service did not become live and ready within %gs (%s)" % (verify_timeout,
                                                                                 describe_health(health))
    else:
        return outcome

    # roll back
    if old_data is None:
        target.remove()
        restored = "removed the new %s %s (there was none before)" % (what, target.describe())
    else:
        target.write(old_data)
        restored = "restored %s from %s" % (target.describe(), backup_path)
    outcome["rolled_back"] = True
    again = rollback_reloader or reloader
    second = again.run() if again.active else {"ok": True, "detail": "no reload"}
    outcome["rollback_reload"] = second
    health_after = None
    if second["ok"] and verify_url:
        health_after = wait_healthy(verify_url, verify_timeout, validate_certs=validate_certs)
    outcome["rollback_health"] = health_after
    if not second["ok"]:
        after = "but %s failed after the rollback (%s): the service may be DOWN" % (
            again.describe(), second["detail"])
    elif health_after is None:
        after = "and ran %s again" % again.describe()
    elif health_after["ok"]:
        after = "ran %s again; the service is live and ready again (%s)" % (
            again.describe(), describe_health(health_after))
    else:
        after = "ran %s again, but the service is STILL NOT healthy (%s): investigate now" % (
            again.describe(), describe_health(health_after))
    raise AirlockIncidentError("%s after the %s change; rolled back: %s, %s" % (problem, what, restored, after),
                               **outcome)
