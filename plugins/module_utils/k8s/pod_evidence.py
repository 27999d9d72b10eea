# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Evidence from an MCP Airlock pod: an audit database snapshot with a chain of custody.

The Airlock image has no shell, so every in-pod command is an argv exec'd
directly (``sqlite3``, ``sha256sum``, ``wc``, ``df``, ``stat``, ``base64``,
``rm``: the sqlite3 CLI and BusyBox applets the image ships). The sequence:

1. ``sqlite3 -readonly <db> ".backup <tmp>"``: SQLite's online backup of the
   live WAL database into a temp file (the live database is opened read-only);
2. ``sqlite3 <tmp> "PRAGMA journal_mode=DELETE"``: the copy becomes a single
   self-contained file (no ``-wal``/``-shm`` needed to open it);
3. ``sha256sum <tmp>`` and ``wc -c <tmp>``: hashed and measured in the pod;
4. ``base64 <tmp>``: the bytes leave the pod as base64 text over the exec
   stream (the kubernetes client decodes exec output as UTF-8 text, which
   base64 survives unchanged), decoded and written to a temporary file in the
   destination directory block by block: never held in memory;
5. the local file is hashed again; only when size and SHA-256 equal the
   in-pod values is it made read-only and linked under its final name
   (never replacing an existing file);
6. ``rm -f <tmp> <tmp>-journal <tmp>-wal <tmp>-shm`` in the pod, always,
   also after a failure.

Pure helpers (validation, parsing of command output and exec status,
the base64 stream decoder, pod selection) are kept free of API calls so that
they are unit-tested.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import os
import re
import time
import uuid

from ansible_collections.airlock.incident.plugins.module_utils.audit import db as audit_db
from ansible_collections.airlock.incident.plugins.module_utils.evidence import store as store
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import utc_stamp
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import fsync_dir
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import NotFound, validate_common, validate_name

try:
    from kubernetes.stream import stream as k8s_stream
except ImportError:  # reported by k8s_common.require_kubernetes
    k8s_stream = None

#: Absolute in-pod paths passed to sqlite3 dot-commands unquoted: a strict alphabet.
POD_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]*$")
INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
CONTAINER = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")

STDOUT_CHANNEL = 1
STDERR_CHANNEL = 2
ERROR_CHANNEL = 3

#: Bytes of stderr kept per command (the rest is counted, not stored).
STDERR_KEEP = 64 * 1024
#: Bytes of stdout kept for the small commands (hash, size, df).
STDOUT_KEEP = 64 * 1024
#: Free space asked for beyond the database size in the pod temp directory.
SPACE_MARGIN = 4 * 1024 * 1024
TRANSPORT = "base64 over the Kubernetes exec stream (stdout), decoded block by block"


class PodEvidenceError(AirlockIncidentError):
    """A failure reported to the user; ``result`` carries what was learned before it."""


# ------------------------------------------------------------------ validation


def validate_pod_path(field, value):
    """Error message for an unusable in-pod path, or None."""
    if not value or not POD_PATH.match(value):
        return ("%s: invalid value %r; accepted values: an absolute path of letters, digits, '.', '_', '@', '+', "
                "'-' and '/' (no spaces or quotes: it is passed to sqlite3 unquoted)" % (field, value))
    if "/../" in value + "/" or "/./" in value + "/" or "//" in value:
        return "%s: invalid value %r; accepted values: a normalised absolute path (no '.', '..' or '//' parts)" % (
            field, value)
    return None


def validate_container(value):
    if not value or not CONTAINER.match(value):
        return "container: invalid value %r; accepted values: a container name (DNS label)" % (value,)
    return None


def validate_incident_id(value):
    if value is not None and not INCIDENT_ID.match(value):
        return ("incident_id: invalid value %r; accepted values: letters, digits, '.', '_' and '-' (starting with a "
                "letter or digit, at most 128), it is used in the file name" % (value,))
    return None


def resolve_dest(dest, incident_id, moment=None):
    """The local destination file for ``dest`` (a file, or a directory / path ending in '/')."""
    is_directory = os.path.isdir(dest) or dest.endswith(os.sep)
    if is_directory:
        if not os.path.isdir(dest):
            raise PodEvidenceError("dest: directory %s does not exist" % dest)
        name = "airlock-audit-%s.db" % (incident_id or utc_stamp(moment, fraction=False))
        target = os.path.join(dest, name)
    else:
        target = dest
        parent = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(parent):
            raise PodEvidenceError("dest: directory %s does not exist" % parent)
    target = os.path.abspath(target)
    if os.path.basename(target).startswith("."):
        raise PodEvidenceError("dest: %s starts with '.', which is reserved for temporary files" % target)
    return target


def pod_temp_path(tmp_dir, token=None):
    """A fresh in-pod temp file name under ``tmp_dir``."""
    token = token or uuid.uuid4().hex
    return "%s/airlock-audit-snapshot-%s.db" % (tmp_dir.rstrip("/") or "", token)


def custody_path(target):
    return target + ".custody.json"


# -------------------------------------------------------------- command plans


def backup_argv(db_path, tmp):
    # -readonly: the live database is opened read-only, so closing the CLI
    # never checkpoints or truncates Airlock's WAL.
    return ["sqlite3", "-readonly", db_path, ".backup %s" % tmp]


def journal_argv(tmp):
    return ["sqlite3", tmp, "PRAGMA journal_mode=DELETE;"]


def hash_argv(tmp):
    return ["sha256sum", tmp]


def size_argv(path):
    return ["wc", "-c", path]


def space_argv(directory):
    return ["df", "-P", "-k", directory]


def copy_argv(tmp):
    return ["base64", tmp]


def cleanup_argv(tmp):
    return ["rm", "-f", tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"]


def db_size_argv(db_path):
    # The -wal file may be absent (wc then exits 1 but still counts the database).
    return ["wc", "-c", db_path, db_path + "-wal"]


def plan(db_path, tmp):
    """Every in-pod command of a snapshot, in order (what check mode reports)."""
    return [db_size_argv(db_path), space_argv(os.path.dirname(tmp) or "/"), backup_argv(db_path, tmp),
            journal_argv(tmp), hash_argv(tmp), size_argv(tmp), copy_argv(tmp), cleanup_argv(tmp)]


def argv_text(argv):
    """A readable, shell-like rendering of an argv for messages and records."""
    out = []
    for arg in argv:
        if arg and re.match(r"^[A-Za-z0-9._@+/=:,-]+$", arg):
            out.append(arg)
        else:
            out.append("'%s'" % arg.replace("'", "'\\''"))
    return " ".join(out)


# ------------------------------------------------------------- output parsing


def parse_sha256sum(stdout, path):
    """The hex digest from ``sha256sum <path>`` output; PodEvidenceError otherwise."""
    for line in stdout.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and parts[1].lstrip("*") == path and HEX64.match(parts[0].lower()):
            return parts[0].lower()
    raise PodEvidenceError("unexpected sha256sum output for %s in the pod: %r" % (path, stdout[:200]))


def parse_wc(stdout, path, required=True):
    """The byte count of ``path`` from ``wc -c <path>...`` output (None when absent and not required)."""
    for line in stdout.splitlines():
        parts = line.strip().split(None, 1)
        if parts and parts[0].isdigit() and len(parts) == 2 and parts[1] == path:
            return int(parts[0])
    if not required:
        return None
    raise PodEvidenceError("unexpected wc -c output for %s in the pod: %r" % (path, stdout[:200]))


def parse_df(stdout):
    """Available bytes from POSIX ``df -P -k`` output (the last line, 4th column)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if len(lines) < 2:
        raise PodEvidenceError("unexpected df output in the pod: %r" % stdout[:200])
    fields = lines[-1].split()
    # A long device name may wrap the line in some df builds: the numbers are then the last 5 fields.
    numbers = [f for f in fields if f.isdigit()]
    if len(numbers) < 3:
        raise PodEvidenceError("unexpected df output in the pod: %r" % stdout[:200])
    return int(numbers[2]) * 1024


def parse_exec_status(raw):
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


class Base64Decoder(object):
    """Decodes base64 text arriving in arbitrary pieces (line breaks anywhere) into a binary sink."""

    def __init__(self, sink):
        self.sink = sink
        self.pending = ""
        self.size = 0
        self.text_chars = 0

    def feed(self, text):
        if not text:
            return
        self.text_chars += len(text)
        data = self.pending + "".join(text.split())
        usable = len(data) - len(data) % 4
        self.pending = data[usable:]
        if usable:
            try:
                block = base64.b64decode(data[:usable], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise PodEvidenceError("the copy stream is not valid base64 (%s): the transfer was corrupted" % exc)
            self.sink.write(block)
            self.size += len(block)

    def close(self):
        if self.pending.strip():
            raise PodEvidenceError("the copy stream ended in the middle of a base64 block (%d characters left): "
                                   "the transfer was cut short" % len(self.pending))


# ------------------------------------------------------------- pod selection


def _condition(pod, ctype):
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond.get("status") == "True"
    return False


def container_status(pod, container):
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            return cs
    return None


def pod_state(pod, container):
    """(usable for exec, ready, why not) for one pod dict (camelCase, as sanitised)."""
    name = pod["metadata"]["name"]
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if container not in names:
        return False, False, "pod %s has no container %s (containers: %s)" % (name, container, ", ".join(names) or "none")
    if pod["metadata"].get("deletionTimestamp"):
        return False, False, "pod %s is terminating" % name
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        return False, False, "pod %s is %s" % (name, phase or "in an unknown phase")
    cs = container_status(pod, container)
    if cs is None or not (cs.get("state") or {}).get("running"):
        state = ", ".join(sorted(((cs or {}).get("state") or {}).keys())) or "unknown"
        return False, False, "container %s of pod %s is not running (%s)" % (container, name, state)
    ready = bool(cs.get("ready")) and _condition(pod, "Ready")
    return True, ready, None if ready else "pod %s is running but not ready" % name


def choose_pod(pods, container):
    """The Running+Ready pod to exec into (oldest first, then by name) and why the others were skipped."""
    candidates = []
    skipped = []
    for pod in pods:
        usable, ready, why = pod_state(pod, container)
        if usable and ready:
            candidates.append(pod)
        else:
            skipped.append(why)
    candidates.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
    return (candidates[0] if candidates else None), sorted(skipped)


def selector_of(deployment):
    """A label selector string for the Deployment's ``spec.selector`` (matchLabels and matchExpressions)."""
    selector = (deployment.get("spec") or {}).get("selector") or {}
    parts = ["%s=%s" % (k, v) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append("%s in (%s)" % (key, ",".join(values)))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (key, ",".join(values)))
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append("!" + key)
    return ",".join(parts)


# ------------------------------------------------------------------ exec


class _Discard(object):
    """Replaces the client's capture-everything buffer: a 1 GiB copy must not be kept twice."""

    def write(self, _data):
        return None

    def getvalue(self):
        return ""


class ExecResult(object):
    __slots__ = ("argv", "rc", "stdout", "stderr", "error", "missing", "elapsed")

    def __init__(self, argv):
        self.argv = argv
        self.rc = None
        self.stdout = ""
        self.stderr = ""
        self.error = None
        self.missing = False
        self.elapsed = 0.0

    def as_dict(self):
        return dict(argv=list(self.argv), rc=self.rc, stderr=self.stderr[-2000:], error=self.error,
                    elapsed=round(self.elapsed, 3))


class PodExec(object):
    """Runs argv lists in one container of one pod, without a shell, bounded by ``timeout`` seconds."""

    def __init__(self, k8s, namespace, pod, container, timeout):
        self.k8s = k8s
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.timeout = timeout
        self.history = []

    def where(self):
        return "container %s of pod %s/%s" % (self.container, self.namespace, self.pod)

    def run(self, argv, on_stdout=None):
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
                                   unreachable=isinstance(exc, OSError))
        if hasattr(client, "_all"):
            client._all = _Discard()  # pylint: disable=protected-access
        stdout_parts = []
        kept = [0]
        stderr_parts = []
        stderr_size = [0]

        def take(channel, data):
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
                    raise PodEvidenceError("the exec stream of %s in %s broke: %s" % (argv_text(argv), self.where(), exc))
                except Exception as exc:  # pylint: disable=broad-except
                    # websocket-client errors (connection closed, protocol) have no common base we can import here.
                    if isinstance(exc, PodEvidenceError):
                        raise
                    raise PodEvidenceError("the exec stream of %s in %s broke: %s: %s" % (
                        argv_text(argv), self.where(), type(exc).__name__, exc))
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


def _exec_tail(res):
    stderr = res.stderr.strip()
    bits = []
    if res.rc is not None:
        bits.append("exit code %d" % res.rc)
    if res.error:
        bits.append(res.error)
    if stderr:
        bits.append("stderr: %s" % stderr[-1500:])
    return "; ".join(bits) or "no output"


def _exc_text(exc):
    reason = getattr(exc, "reason", None)
    body = getattr(exc, "body", None)
    text = str(reason or exc)
    if body:
        text = "%s %s" % (text, body)
    return text.strip()


def check_ok(res, where, what):
    """Raise PodEvidenceError unless ``res`` exited 0; name a missing executable plainly."""
    if res.missing:
        raise PodEvidenceError("%s is not available in %s (%s): the image must ship it (the Airlock image has the "
                               "sqlite3 CLI and BusyBox); exec %s" % (res.argv[0], where, res.error, argv_text(res.argv)))
    if res.rc != 0:
        raise PodEvidenceError("%s failed in %s: %s (command: %s)" % (what, where, _exec_tail(res), argv_text(res.argv)))
    return res


# ------------------------------------------------------------ orchestration

CUSTODY_FORMAT = "airlock.incident/k8s-audit-snapshot/v1"


def validate(params):
    """Every option problem, before any API call or file access; a list of messages."""
    errors = []
    for msg in (validate_common(params), validate_name("name", params["name"]),
                validate_container(params["container"]), validate_incident_id(params.get("incident_id")),
                validate_pod_path("db_path", params["db_path"]), validate_pod_path("pod_tmp_dir", params["pod_tmp_dir"])):
        if msg:
            errors.append(msg)
    if params.get("pod") is not None:
        msg = validate_name("pod", params["pod"])
        if msg:
            errors.append(msg)
    if params["db_path"] in ("/", "") or params["db_path"].endswith("/"):
        errors.append("db_path: invalid value %r; accepted values: the path of the audit database file" % params["db_path"])
    if not 1 <= params["exec_timeout"] <= 86400:
        errors.append("exec_timeout: invalid value %r; accepted values: 1 to 86400 seconds" % (params["exec_timeout"],))
    if not params.get("dest"):
        errors.append("dest: a local file or directory is required")
    return errors


def _sqlite_mode(path):
    """Bytes 18-19 of an SQLite file (1,1 rollback journal; 2,2 WAL), or None."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except (IOError, OSError):
        return None
    if len(header) < 20:
        return None
    return header[18], header[19]


def local_facts(path):
    """events, chain head and integrity of a local snapshot (read-only; WAL-format files are refused)."""
    if _sqlite_mode(path) != (1, 1):
        raise PodEvidenceError("%s is not a self-contained SQLite file in rollback-journal mode (header bytes 18-19 "
                               "%r); it was not made by this module" % (path, _sqlite_mode(path)))
    conn = audit_db.open_readonly(path, 5.0, field="dest")
    try:
        audit_db.check_schema(conn, path)
        head = audit_db.last_event(conn)
        lines = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        return dict(events=audit_db.count_events(conn), chain_head=head[1] if head else None,
                    chain_head_rowid=head[0] if head else None,
                    integrity_check="\n".join(str(line) for line in lines))
    finally:
        conn.close()


def read_custody(target):
    path = custody_path(target)
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (IOError, OSError, ValueError):
        return None


def evidence_item(target, facts, custody):
    """The item to hand to airlock.incident.evidence (same shape as the host audit snapshot's)."""
    return dict(
        name=os.path.basename(target),
        src=target,
        kind="audit_snapshot",
        chain_head=facts.get("chain_head") or "",
        events=facts.get("events") or 0,
        source="airlock.incident.k8s_audit_snapshot pod=%s/%s container=%s db_path=%s" % (
            custody.get("namespace"), custody.get("pod"), custody.get("container"), custody.get("db_path")),
        description="sqlite3 .backup in the pod; in-pod sha256 %s, local sha256 %s, %s bytes, copied as %s" % (
            custody.get("pod_sha256"), custody.get("local_sha256"), custody.get("local_size"), TRANSPORT),
    )


def _pod_summary(pod, container):
    cs = container_status(pod, container) or {}
    return dict(pod=pod["metadata"]["name"], pod_uid=pod["metadata"].get("uid"),
                node=(pod.get("spec") or {}).get("nodeName"), image=cs.get("image"), image_id=cs.get("imageID"))


def find_pod(module, k8s):
    """(pod dict, warnings) for the exec: the named pod, or a Running+Ready pod of the Deployment."""
    params = module.params
    namespace = k8s.namespace
    container = params["container"]
    if params.get("pod"):
        what = "pod %s/%s" % (namespace, params["pod"])
        try:
            pod = k8s.sanitize(k8s.call(what, k8s.core.read_namespaced_pod, params["pod"], namespace))
        except NotFound:
            raise PodEvidenceError("pod %s not found in namespace %s (API server %s)" % (params["pod"], namespace, k8s.host))
        usable, ready, why = pod_state(pod, container)
        if not usable:
            raise PodEvidenceError("cannot exec into %s: %s" % (what, why))
        return pod, ([] if ready else ["%s; collecting from it anyway because it was named with pod" % why])
    name = params["name"]
    what = "deployment %s/%s" % (namespace, name)
    try:
        dep = k8s.sanitize(k8s.call(what, k8s.apps.read_namespaced_deployment, name, namespace))
    except NotFound:
        raise PodEvidenceError("deployment %s not found in namespace %s (API server %s); set name, or pod" % (
            name, namespace, k8s.host))
    selector = selector_of(dep)
    if not selector:
        raise PodEvidenceError("%s has an empty selector; name the pod with pod" % what)
    pods = k8s.sanitize(k8s.call("pods %s in %s" % (selector, namespace), k8s.core.list_namespaced_pod, namespace,
                                 label_selector=selector))
    items = pods.get("items") or []
    pod, skipped = choose_pod(items, container)
    if pod is None:
        raise PodEvidenceError("no Running and Ready pod of %s with container %s (%s); a crash-looping pod cannot be "
                               "exec'd into: name a running pod with pod, or restore the Deployment first" % (
                                   what, container, "; ".join(skipped) if skipped else "no pods match %s" % selector),
                               pods_skipped=skipped)
    return pod, []


def _supersede(target, moment):
    """Keep an existing snapshot (and its custody record) under a .superseded-<UTC> name; returns the new name."""
    base = "%s.superseded-%s" % (target, utc_stamp(moment, fraction=False))
    candidate = base
    counter = 1
    while os.path.lexists(candidate):
        counter += 1
        candidate = "%s-%d" % (base, counter)
    os.rename(target, candidate)
    if os.path.lexists(custody_path(target)):
        os.rename(custody_path(target), custody_path(candidate))
    return candidate


def run_snapshot(module, k8s_factory):
    """Take the in-pod snapshot and bring it home with a verified chain of custody."""
    params = module.params
    moment = datetime.datetime.now(datetime.timezone.utc)
    target = resolve_dest(params["dest"], params.get("incident_id"), moment)
    result = dict(changed=False, dest=target, namespace=params["namespace"], container=params["container"],
                  db_path=params["db_path"])
    exists = os.path.lexists(target)
    if exists and not params["force"]:
        if not os.path.isfile(target):
            raise PodEvidenceError("dest: %s exists and is not a regular file" % target, **result)
        try:
            facts = local_facts(target)
        except AirlockIncidentError as exc:
            raise PodEvidenceError("dest: %s exists but is not an audit snapshot (%s); refusing to replace it without "
                                   "force=true" % (target, exc.msg), **result)
        digest = store.hash_file(target)
        custody = read_custody(target) or {}
        result.update(facts, sha256=digest.sha256, local_sha256=digest.sha256, blake3=digest.blake3,
                      size=digest.size, pod_sha256=custody.get("pod_sha256"), pod=custody.get("pod"),
                      custody=custody, custody_path=custody_path(target) if custody else None,
                      pod_tmp=custody.get("pod_tmp"), pod_tmp_removed=custody.get("pod_tmp_removed"),
                      evidence_item=evidence_item(target, facts, custody))
        result["msg"] = "snapshot %s already exists (%d events, head %s); nothing was exec'd: use force=true for a new one" % (
            target, facts["events"], facts["chain_head"])
        if custody.get("local_sha256") and custody["local_sha256"] != digest.sha256:
            raise PodEvidenceError("dest: %s no longer has the sha256 recorded in %s (%s, now %s): the snapshot was "
                                   "modified after collection"
                                   % (target, custody_path(target), custody["local_sha256"], digest.sha256), **result)
        return result

    k8s = k8s_factory(params)
    k8s.ensure_namespace()
    pod, warnings = find_pod(module, k8s)
    info = _pod_summary(pod, params["container"])
    for warning in warnings:
        module.warn(warning)
    tmp = pod_temp_path(params["pod_tmp_dir"])
    commands = plan(params["db_path"], tmp)
    result.update(info, pod_tmp=tmp, commands=[argv_text(c) for c in commands])
    if module.check_mode:
        result["changed"] = True
        result["msg"] = ("would exec in container %s of pod %s/%s (no shell): %s; then copy %s out as base64, compare "
                         "its sha256 with the in-pod one and store it as %s%s" % (
                             params["container"], k8s.namespace, info["pod"], "; ".join(result["commands"][:6]), tmp,
                             target, " (keeping the existing file as a .superseded copy)" if exists else ""))
        return result

    ex = PodExec(k8s, k8s.namespace, info["pod"], params["container"], params["exec_timeout"])
    where = ex.where()
    directory = os.path.dirname(target)
    local_tmp = None
    removed = None
    failure = None
    try:
        try:
            res = ex.run(db_size_argv(params["db_path"]))
            if res.missing:
                check_ok(res, where, "measuring the database")
            db_size = parse_wc(res.stdout, params["db_path"], required=False)
            if db_size is None or res.rc not in (0, 1):
                raise PodEvidenceError("db_path: %s cannot be read in %s: %s" % (params["db_path"], where, _exec_tail(res)))
            db_size += parse_wc(res.stdout, params["db_path"] + "-wal", required=False) or 0
            res = ex.run(space_argv(params["pod_tmp_dir"]))
            check_ok(res, where, "checking free space in pod_tmp_dir %s" % params["pod_tmp_dir"])
            free = parse_df(res.stdout)
            if free < db_size + SPACE_MARGIN:
                raise PodEvidenceError("pod_tmp_dir: %s in %s has %d bytes free, the copy of %s needs about %d: choose "
                                       "another writable directory (the chart mounts an emptyDir at /tmp and the data "
                                       "volume at /var/lib/airlock)" % (params["pod_tmp_dir"], where, free,
                                                                        params["db_path"], db_size + SPACE_MARGIN))
            check_ok(ex.run(backup_argv(params["db_path"], tmp)), where, "sqlite3 .backup of %s" % params["db_path"])
            res = check_ok(ex.run(journal_argv(tmp)), where, "converting the copy to rollback-journal mode")
            if res.stdout.strip().lower() != "delete":
                raise PodEvidenceError("sqlite3 did not switch the copy %s to journal_mode=DELETE in %s (it answered %r)"
                                       % (tmp, where, res.stdout.strip()[:100]))
            pod_sha256 = parse_sha256sum(check_ok(ex.run(hash_argv(tmp)), where, "sha256sum of the copy").stdout, tmp)
            pod_size = parse_wc(check_ok(ex.run(size_argv(tmp)), where, "measuring the copy").stdout, tmp)
            fd, local_tmp = store.temp_path(directory, os.path.basename(target))
            with os.fdopen(fd, "wb") as out:
                decoder = Base64Decoder(out)
                check_ok(ex.run(copy_argv(tmp), on_stdout=decoder.feed), where, "copying the snapshot out (base64)")
                decoder.close()
                out.flush()
                os.fsync(out.fileno())
        finally:
            try:
                res = ex.run(cleanup_argv(tmp))
                removed = res.rc == 0
                if not removed:
                    module.warn("could not remove the temporary copy %s in %s: %s; remove it by hand" % (
                        tmp, where, _exec_tail(res)))
            except AirlockIncidentError as exc:
                removed = False
                module.warn("could not remove the temporary copy %s in %s: %s; remove it by hand" % (tmp, where, exc.msg))
            result["pod_tmp_removed"] = removed
            result["exec"] = [r.as_dict() for r in ex.history]

        digest = store.hash_file(local_tmp)
        result.update(pod_sha256=pod_sha256, pod_size=pod_size, local_sha256=digest.sha256, size=digest.size)
        if digest.size != pod_size or digest.sha256 != pod_sha256:
            raise PodEvidenceError(
                "chain of custody broken: the copy of %s from %s has %d bytes and sha256 %s, the pod reported %d bytes "
                "and sha256 %s; nothing was kept" % (tmp, where, digest.size, digest.sha256, pod_size, pod_sha256))
        facts = local_facts(local_tmp)
        custody = dict(
            format=CUSTODY_FORMAT,
            file=os.path.basename(target),
            collected_at=store.rfc3339(moment),
            collector=store.collector(),
            tool=store.tool_info(),
            api_server=k8s.host,
            namespace=k8s.namespace,
            deployment=None if params.get("pod") else params["name"],
            container=params["container"],
            db_path=params["db_path"],
            db_size=db_size,
            pod_tmp=tmp,
            pod_tmp_removed=removed,
            transport=TRANSPORT,
            pod_sha256=pod_sha256,
            pod_size=pod_size,
            local_sha256=digest.sha256,
            local_blake3=digest.blake3,
            local_size=digest.size,
            hashes_match=True,
            commands=[dict(argv=r.argv, rc=r.rc, elapsed=round(r.elapsed, 3)) for r in ex.history],
        )
        custody.update(info)
        custody.update(facts)
        superseded = None
        if exists:
            superseded = _supersede(target, moment)
        store.place_new(local_tmp, target)
        local_tmp = None
        record_tmp = store.bytes_to_temp(store.render_manifest(custody), directory, os.path.basename(custody_path(target)))
        try:
            store.place_new(record_tmp, custody_path(target))
        except BaseException:
            store.discard(record_tmp)
            raise
        fsync_dir(directory)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if local_tmp is not None:
            store.discard(local_tmp)
        if failure is not None and isinstance(failure, AirlockIncidentError):
            merged = dict(result)
            merged.update(failure.result)
            failure.result = merged
            if removed is not None:
                failure.msg = "%s (in-pod temporary copy %s: %s)" % (
                    failure.msg, tmp, "removed" if removed else "NOT removed, see the warning")
    result.update(facts, changed=True, sha256=digest.sha256, blake3=digest.blake3, custody=custody,
                  custody_path=custody_path(target), superseded=superseded,
                  evidence_item=evidence_item(target, facts, custody))
    result["msg"] = ("copied %s from %s: %d events, head %s, sha256 %s in the pod and locally, integrity_check %s"
                     % (params["db_path"], where, facts["events"], facts["chain_head"], digest.sha256,
                        facts["integrity_check"]))
    if facts["integrity_check"] != "ok":
        module.warn("PRAGMA integrity_check on the copy reported problems: %s" % facts["integrity_check"])
    return result
