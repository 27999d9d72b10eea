# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Changing a file Airlock reads, safely: backup, atomic write, reload, verify, roll back.

Used by ``airlock.incident.config`` and ``airlock.incident.policy``.

* ``FileTarget`` is the host-file target (``config.yaml``/``policy.rego`` on a
  host). The Kubernetes ConfigMap target (``k8s_config_target.ConfigMapTarget``)
  offers the same ``read``/``write``/``describe`` methods (one key of the
  ConfigMap, written with a resourceVersion precondition) and a rolling
  restart as its reload.
* ``BackupStore`` keeps every previous content in a directory (for example
  the incident's evidence directory) under a name with the UTC time and the
  sha256, with a JSON sidecar; files are created exclusively, never
  overwritten.
* ``Reloader`` runs the configured reload: a restart command (argv), a
  systemd restart, a signal to the PID in a PID file, or an admin HTTP call.
  SIGHUP kills the released Airlock (it does not handle it), so restart is
  the default everywhere.
* ``wait_healthy`` polls ``/live`` and ``/ready`` until both answer 2xx.
* ``apply_change`` ties them together and restores the previous content
  (and reloads again) when the service does not come back healthy.
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import re
import signal
import time

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import Request

from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import (
    AirlockClient,
    validate_base_url,
)
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import utc_stamp
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import atomic_write  # noqa: F401 (re-exported)

_INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

#: Signals a reload may send, by name.
SIGNALS = ("HUP", "USR1", "USR2")

#: Seconds between two health polls.
POLL_INTERVAL = 0.5


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def validate_incident_id(value):
    """The incident id, usable in a file name; ValueError naming the field otherwise."""
    if value is None:
        return None
    text = str(value)
    if not _INCIDENT_ID.match(text):
        raise ValueError("incident_id: invalid value %r; use letters, digits, '.', '_' and '-' (at most 128, "
                         "starting with a letter or digit), e.g. INC-20261128-001" % (value,))
    return text


class FileTarget(object):
    """A file on the managed host."""

    kind = "file"

    def __init__(self, path):
        self.path = os.path.abspath(os.path.expanduser(path))

    def describe(self):
        return self.path

    def exists(self):
        return os.path.isfile(self.path)

    def read(self):
        """The content as bytes, or None when the file does not exist."""
        try:
            with open(self.path, "rb") as stream:
                return stream.read()
        except IOError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    def write(self, data):
        atomic_write(self.path, data)

    def remove(self):
        try:
            os.unlink(self.path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise


class BackupStore(object):
    """Backups of one target's previous contents, in one directory."""

    def __init__(self, directory):
        self.directory = os.path.abspath(os.path.expanduser(directory))

    def _create(self, name, data, mode=0o600):
        path = os.path.join(self.directory, name)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        return path

    def save(self, target, data, incident_id=None, kind="pre-change", module=None, extra=None):
        """Keep ``data`` (the content of ``target`` now); returns the backup path."""
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, 0o700)
        digest = sha256_bytes(data)
        name = getattr(target, "backup_name", None) or os.path.basename(target.describe())
        base = "%s.%s.%s.%s" % (name, incident_id or "no-incident", utc_stamp(), digest[:16])
        attempt = 0
        while True:
            name = base + ("" if not attempt else "-%d" % attempt) + ".bak"
            try:
                path = self._create(name, data)
                break
            except OSError as exc:
                if exc.errno != errno.EEXIST or attempt > 100:
                    raise
                attempt += 1
        metadata = {
            "target": target.describe(),
            "target_kind": target.kind,
            "incident_id": incident_id,
            "kind": kind,
            "sha256": digest,
            "size": len(data),
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "module": module,
            "backup": os.path.basename(path),
        }
        if extra:
            metadata.update(extra)
        self._create(os.path.basename(path) + ".json", (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode())
        return path

    def mark(self, backup_path, **fields):
        """Add ``fields`` to the JSON sidecar of ``backup_path`` (the backup itself is never rewritten)."""
        sidecar = backup_path + ".json"
        with open(sidecar, "rb") as stream:
            metadata = json.loads(stream.read().decode("utf-8"))
        metadata.update(fields)
        atomic_write(sidecar, (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode(), default_mode=0o600)

    def entries(self, target, incident_id=None, kinds=("pre-change",)):
        """Metadata of the backups of ``target`` (oldest first), each with ``path``.

        Backups of changes that were rolled back are left out: the content
        they hold is what the target has again.
        """
        found = []
        if not os.path.isdir(self.directory):
            return found
        for name in os.listdir(self.directory):
            if not name.endswith(".bak.json"):
                continue
            try:
                with open(os.path.join(self.directory, name), "rb") as stream:
                    metadata = json.loads(stream.read().decode("utf-8"))
            except (OSError, ValueError):
                continue
            if metadata.get("target") != target.describe():
                continue
            if incident_id is not None and metadata.get("incident_id") != incident_id:
                continue
            if kinds and metadata.get("kind") not in kinds:
                continue
            if metadata.get("rolled_back"):
                continue
            metadata["path"] = os.path.join(self.directory, metadata.get("backup") or name[:-len(".json")])
            if os.path.isfile(metadata["path"]):
                found.append(metadata)
        found.sort(key=lambda item: (item.get("created") or "", item["path"]))
        return found

    @staticmethod
    def read(entry):
        with open(entry["path"], "rb") as stream:
            data = stream.read()
        if entry.get("sha256") and sha256_bytes(data) != entry["sha256"]:
            raise AirlockIncidentError("backup %s does not match the sha256 in its metadata (%s): refusing to "
                                       "restore it" % (entry["path"], entry["sha256"]))
        return data


# ---------------------------------------------------------------------------
# reload and verify
# ---------------------------------------------------------------------------


class Reloader(object):
    """One way of making Airlock load the new content.

    ``method`` is ``command`` (run ``command``, an argv list), ``systemd``
    (``systemctl restart service_name``), ``signal`` (send ``signal_name`` to
    the PID in ``pid_file``, or run ``command`` when given), ``admin``
    (POST ``admin_url`` with a bearer ``admin_token``) or ``none``.
    """

    def __init__(self, module, method, command=None, service_name=None, signal_name="HUP", pid_file=None,
                 admin_url=None, admin_token=None, timeout=30.0, validate_certs=True):
        self.module = module
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
    def active(self):
        return self.method != "none"

    def describe(self):
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

    def run(self):
        """``{"ok", "method", "detail"}``; never raises for an operational failure."""
        if self.method == "none":
            return {"ok": True, "method": "none", "detail": "no reload configured"}
        if self.method in ("command", "systemd") or (self.method == "signal" and self.command):
            argv = list(self.command or [])
            if self.method == "systemd":
                systemctl = self.module.get_bin_path("systemctl", required=True)
                argv = [systemctl, "restart", self.service_name]
            rc, out, err = self.module.run_command(argv, check_rc=False)
            detail = (err or out or "").strip().splitlines()
            text = "rc=%d%s" % (rc, (": " + detail[-1]) if detail else "")
            return {"ok": rc == 0, "method": self.method, "detail": text, "rc": rc,
                    "stdout": out[-4000:], "stderr": err[-4000:]}
        if self.method == "signal":
            try:
                with open(self.pid_file) as stream:
                    pid = int(stream.read().strip().split()[0])
            except (OSError, ValueError, IndexError) as exc:
                return {"ok": False, "method": "signal", "detail": "cannot read a PID from %s: %s"
                        % (self.pid_file, to_native(exc))}
            try:
                os.kill(pid, getattr(signal, "SIG" + self.signal_name))
            except OSError as exc:
                return {"ok": False, "method": "signal", "detail": "kill -%s %d failed: %s"
                        % (self.signal_name, pid, to_native(exc))}
            return {"ok": True, "method": "signal", "detail": "sent SIG%s to %d" % (self.signal_name, pid),
                    "pid": pid}
        return self._admin()

    def _admin(self):
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


def wait_healthy(url, timeout, interval=POLL_INTERVAL, validate_certs=True, ca_path=None):
    """Poll ``/live`` and ``/ready`` of ``url`` until both answer 2xx or ``timeout`` passes.

    Returns ``{"ok", "elapsed", "attempts", "live", "ready"}`` where live/ready
    are the last ``{status, error}`` seen.
    """
    started = time.monotonic()
    deadline = started + timeout
    attempts = 0
    last = {"live": None, "ready": None}
    while True:
        attempts += 1
        remaining = max(0.2, min(5.0, deadline - time.monotonic()))
        client = AirlockClient(url, timeout=remaining, validate_certs=validate_certs, ca_path=ca_path)
        ok = True
        for path in ("/live", "/ready"):
            result = client.get(path)
            last[path[1:]] = {"status": result["status"], "error": result["error"]}
            if result["status"] is None or not 200 <= result["status"] < 300:
                ok = False
                break
        if ok:
            return {"ok": True, "elapsed": round(time.monotonic() - started, 3), "attempts": attempts,
                    "live": last["live"], "ready": last["ready"]}
        if time.monotonic() + interval > deadline:
            return {"ok": False, "elapsed": round(time.monotonic() - started, 3), "attempts": attempts,
                    "live": last["live"], "ready": last["ready"]}
        time.sleep(interval)


def describe_health(health):
    if health is None:
        return "not checked"
    parts = []
    for name in ("live", "ready"):
        entry = health.get(name)
        if entry is None:
            parts.append("/%s not reached" % name)
        elif entry.get("status") is not None and 200 <= entry["status"] < 300:
            parts.append("/%s %s" % (name, entry["status"]))
        else:
            parts.append("/%s %s" % (name, entry.get("error") or entry.get("status")))
    return "%s after %.1fs" % (", ".join(parts), health.get("elapsed", 0.0))


def check_verify_url(url):
    if url is None:
        return None
    try:
        return validate_base_url(url)
    except ValueError as exc:
        raise ValueError(str(exc).replace("url:", "verify_url:", 1))


def apply_change(target, new_data, old_data, backup_path, reloader, verify_url=None, verify_timeout=30.0,
                 rollback_reloader=None, validate_certs=True, what="file"):
    """Write ``new_data``, reload, verify; restore ``old_data`` and reload again on failure.

    The caller has already validated ``new_data`` and saved ``old_data`` to
    ``backup_path``. Returns ``{"restarted", "verified", "rolled_back",
    "reload", "health"}``; raises AirlockIncidentError (with those keys) when
    it had to roll back.
    """
    target.write(new_data)
    outcome = {"restarted": False, "verified": False, "rolled_back": False, "reload": None, "health": None}
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
