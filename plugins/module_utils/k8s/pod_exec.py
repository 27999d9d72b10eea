# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""In-pod command execution over the Kubernetes exec API, without a shell (the transport of k8s_audit_snapshot).

:class:`PodExec` runs one argv at a time in one container, bounded by a
timeout, streams stdout to a callback (a 1 GiB copy is never held twice) and
keeps a bounded part of stderr; :func:`parse_exec_status` reads the exit status
the API server sends on the error channel; :func:`check_ok` turns a failed
command into :class:`PodEvidenceError` naming the command, where it ran and why.
"""

from __future__ import annotations

import json
import re
import time
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s

try:
    from kubernetes.stream import stream as k8s_stream
except ImportError:  # reported by k8s.client.require_kubernetes
    k8s_stream = None

STDOUT_CHANNEL = 1
STDERR_CHANNEL = 2
ERROR_CHANNEL = 3

#: Bytes of stderr kept per command (the rest is counted, not stored).
STDERR_KEEP = 64 * 1024
#: Bytes of stdout kept for the small commands (hash, size, df).
STDOUT_KEEP = 64 * 1024


class PodEvidenceError(AirlockIncidentError):
    """A failure reported to the user; ``result`` carries what was learned before it."""


def argv_text(argv: t.Sequence[str]) -> str:
    """A readable, shell-like rendering of an argv for messages and records."""
    out = []
    for arg in argv:
        if arg and re.match(r"^[A-Za-z0-9._@+/=:,-]+$", arg):
            out.append(arg)
        else:
            out.append("'%s'" % arg.replace("'", "'\\''"))
    return " ".join(out)


def parse_exec_status(raw: t.Any) -> t.Tuple[t.Optional[int], t.Optional[str], bool]:
    """(exit code or None, error message or None, missing executable?) from the exec status channel.

    The API server sends a ``metav1.Status`` on channel 3: ``Success``, or
    ``Failure`` with reason ``NonZeroExitCode`` and the code as a cause. Runtimes
    that cannot start the command (or kwok's local exec) send another Failure
    whose message says why (``executable file not found``, ``exit status N``).
    """
    if raw is None or not str(raw).strip():
        return None, "the exec stream closed without an exit status", False
    try:
        status = json.loads(raw)
    except ValueError:
        return None, "unreadable exec status: %r" % (str(raw)[:300],), False
    if not isinstance(status, dict):
        return None, "unreadable exec status: %r" % (str(raw)[:300],), False
    if status.get("status") == "Success":
        return 0, None, False
    message = status.get("message") or status.get("reason") or "exec failed"
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message")), None, False
                except (TypeError, ValueError):
                    break
    missing = bool(re.search(r"executable file not found|no such file or directory|not found in \$PATH", message, re.I))
    match = re.search(r"exit (?:status|code) (\d+)", message)
    if match and not missing:
        return int(match.group(1)), None, False
    return None, message, missing


class _Discard:
    """Replaces the client's capture-everything buffer: a 1 GiB copy must not be kept twice."""

    def write(self, _data: t.Any) -> None:
        return None

    def getvalue(self) -> str:
        return ""


class ExecResult:
    """What one command did: exit code, bounded output, exec error, whether the executable was missing."""

    __slots__ = ("argv", "rc", "stdout", "stderr", "error", "missing", "elapsed")

    def __init__(self, argv: t.Sequence[str]) -> None:
        self.argv = argv
        self.rc: t.Optional[int] = None
        self.stdout = ""
        self.stderr = ""
        self.error: t.Optional[str] = None
        self.missing = False
        self.elapsed = 0.0

    def as_dict(self) -> t.Dict[str, t.Any]:
        """The record of the command kept in the result (stderr tail only)."""
        return dict(argv=list(self.argv), rc=self.rc, stderr=self.stderr[-2000:], error=self.error,
                    elapsed=round(self.elapsed, 3))


class PodExec:
    """Runs argv lists in one container of one pod, without a shell, bounded by ``timeout`` seconds."""

    def __init__(self, k8s: K8s, namespace: str, pod: str, container: str, timeout: float) -> None:
        self.k8s = k8s
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.timeout = timeout
        self.history: t.List[ExecResult] = []

    def where(self) -> str:
        """``container <c> of pod <ns>/<pod>`` for messages."""
        return "container %s of pod %s/%s" % (self.container, self.namespace, self.pod)

    def run(self, argv: t.Sequence[str], on_stdout: t.Optional[t.Callable[[str], None]] = None) -> ExecResult:
        """Run ``argv``; stdout goes to ``on_stdout(text)`` when given, else is kept (bounded)."""
        result = ExecResult(argv)
        self.history.append(result)
        start = time.monotonic()
        try:
            client = k8s_stream(
                self.k8s.core.connect_get_namespaced_pod_exec, self.pod, self.namespace,
                command=list(argv), container=self.container,
                stdin=False, stdout=True, stderr=True, tty=False,
                _preload_content=False, _request_timeout=self.k8s.timeout)
        except Exception as exc:  # pylint: disable=broad-except
            result.elapsed = time.monotonic() - start
            raise PodEvidenceError("cannot exec %s in %s through the API server %s: %s"
                                   % (argv_text(argv), self.where(), self.k8s.host, _exc_text(exc)),
                                   unreachable=isinstance(exc, OSError)) from exc
        if hasattr(client, "_all"):
            client._all = _Discard()  # pylint: disable=protected-access
        stdout_parts: t.List[str] = []
        kept = [0]
        stderr_parts: t.List[str] = []
        stderr_size = [0]

        def take(channel: int, data: str) -> None:
            if not data:
                return
            if channel == STDOUT_CHANNEL:
                if on_stdout is not None:
                    on_stdout(data)
                elif kept[0] < STDOUT_KEEP:
                    stdout_parts.append(data[:STDOUT_KEEP - kept[0]])
                    kept[0] += len(data)
            else:
                if stderr_size[0] < STDERR_KEEP:
                    stderr_parts.append(data[:STDERR_KEEP - stderr_size[0]])
                stderr_size[0] += len(data)

        deadline = start + self.timeout
        try:
            while client.is_open():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PodEvidenceError("%s in %s did not finish within exec_timeout=%ss"
                                           % (argv_text(argv), self.where(), self.timeout))
                try:
                    client.update(timeout=min(remaining, 5.0))
                    out, err = client.read_stdout(timeout=0), client.read_stderr(timeout=0)
                except (OSError, ValueError) as exc:
                    raise PodEvidenceError("the exec stream of %s in %s broke: %s" % (argv_text(argv), self.where(), exc)) from exc
                except Exception as exc:  # pylint: disable=broad-except
                    # websocket-client errors (connection closed, protocol) have no common base we can import here.
                    if isinstance(exc, PodEvidenceError):
                        raise
                    raise PodEvidenceError("the exec stream of %s in %s broke: %s: %s" % (
                        argv_text(argv), self.where(), type(exc).__name__, exc)) from exc
                take(STDOUT_CHANNEL, out)
                take(STDERR_CHANNEL, err)
            # Closed: whatever the last frames brought, then the exit status.
            take(STDOUT_CHANNEL, client.read_stdout(timeout=0))
            take(STDERR_CHANNEL, client.read_stderr(timeout=0))
            raw_status = client.read_channel(ERROR_CHANNEL)
        finally:
            try:
                client.close()
            except Exception:  # pylint: disable=broad-except
                pass
            result.elapsed = time.monotonic() - start
            result.stdout = "".join(stdout_parts)
            result.stderr = "".join(stderr_parts)
        result.rc, result.error, result.missing = parse_exec_status(raw_status)
        return result


def exec_tail(res: ExecResult) -> str:
    """Exit code, exec error and stderr tail of a command, for messages."""
    stderr = res.stderr.strip()
    bits = []
    if res.rc is not None:
        bits.append("exit code %d" % res.rc)
    if res.error:
        bits.append(res.error)
    if stderr:
        bits.append("stderr: %s" % stderr[-1500:])
    return "; ".join(bits) or "no output"


def _exc_text(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    body = getattr(exc, "body", None)
    text = str(reason or exc)
    if body:
        text = "%s %s" % (text, body)
    return text.strip()


def check_ok(res: ExecResult, where: str, what: str) -> ExecResult:
    """Raise PodEvidenceError unless ``res`` exited 0; name a missing executable plainly."""
    if res.missing:
        raise PodEvidenceError("%s is not available in %s (%s): the image must ship it (the Airlock image has the "
                               "sqlite3 CLI and BusyBox); exec %s" % (res.argv[0], where, res.error, argv_text(res.argv)))
    if res.rc != 0:
        raise PodEvidenceError("%s failed in %s: %s (command: %s)" % (what, where, exec_tail(res), argv_text(res.argv)))
    return res
