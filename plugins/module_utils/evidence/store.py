# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Evidence bundles with a chain of custody: manifest model, hashing, atomic writes.

A bundle is one directory::

    incidents/INC-20261128-101500/evidence/
        manifest.json          what was collected, by whom, when, from where, with which hashes
        manifest.json.sha256   the manifest's own SHA-256 (``sha256sum -c`` format)
        SHA256SUMS             every item, ``sha256sum -c`` format, relative names
        <items>                the evidence files, read-only (0444)

Every item is hashed with SHA-256 and BLAKE3 in one pass over large buffers
while it is copied in (sources are streamed, never held in memory). Files are
written to a temporary name in the bundle directory, flushed, made read-only
and linked into place, so a bundle never holds a half-written item and an
existing file is never replaced. Manifest and checksum files are replaced
atomically (``os.replace``).
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime
import errno
import getpass
import hashlib
import json
import os
import platform
import re
import socket
import tempfile

try:
    import blake3 as _blake3

    HAS_BLAKE3 = True
    BLAKE3_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - exercised on hosts without blake3
    _blake3 = None
    HAS_BLAKE3 = False
    BLAKE3_IMPORT_ERROR = _exc

try:
    from ansible.module_utils.ansible_release import __version__ as ANSIBLE_CORE_VERSION
except ImportError:  # pragma: no cover - ansible-core always ships it
    ANSIBLE_CORE_VERSION = "unknown"

COLLECTION_NAME = "airlock.incident"
COLLECTION_VERSION = "0.1.0"
MANIFEST_FORMAT = "airlock.incident/evidence-manifest/v1"
MANIFEST_NAME = "manifest.json"
MANIFEST_HASH_NAME = "manifest.json.sha256"
SUMS_NAME = "SHA256SUMS"
RESERVED_NAMES = (MANIFEST_NAME, MANIFEST_HASH_NAME, SUMS_NAME)
READ_ONLY = 0o444
DIR_MODE = 0o750
#: One pass, both hashes, over 1 MiB reads: the block is still in cache for the
#: second hash (see tests/benchmarks/bench_evidence.py for the measurements).
HASH_BUFFER = 1024 * 1024

KINDS = ("audit_snapshot", "command_output", "config", "health", "log", "metrics", "policy", "report",
         "state", "other")
SOURCES = ("src", "content", "url")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SUPERSEDED = re.compile(r"\.superseded-\d{8}T\d{6}Z(-\d+)?$")


class EvidenceError(Exception):
    """A problem reported to the user with fail_json."""


# ------------------------------------------------------------------ metadata


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339(moment):
    """RFC 3339 UTC text with microseconds: ``2026-11-28T10:15:00.123456Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compact_stamp(moment):
    """A file-name-safe UTC timestamp: ``20261128T101500Z``."""
    return moment.strftime("%Y%m%dT%H%M%SZ")


def collector():
    """Who collects: the login name (or uid) and the host name."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "uid:%d" % os.getuid()
    host = socket.gethostname() or platform.node()
    return dict(user=user, host=host)


def tool_info():
    return dict(
        collection=COLLECTION_NAME,
        collection_version=COLLECTION_VERSION,
        python=platform.python_version(),
        ansible_core=ANSIBLE_CORE_VERSION,
    )


def validate_name(name):
    """None when ``name`` is a valid item file name, else the reason it is not."""
    if not isinstance(name, str) or not name:
        return "it must be a non-empty file name"
    if "/" in name or "\\" in name or os.sep in name or (os.altsep and os.altsep in name):
        return "it must not contain a path separator"
    if ".." in name:
        return "it must not contain '..'"
    if name.startswith("."):
        return "it must not start with '.' (hidden and temporary files are reserved)"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it must not contain control characters (they break SHA256SUMS)"
    if name in RESERVED_NAMES:
        return "%s is reserved for the bundle's own files" % name
    if _SUPERSEDED.search(name):
        return "names ending in .superseded-<timestamp> are reserved for superseded copies"
    if len(name.encode("utf-8")) > 200:
        return "it must be at most 200 bytes long"
    return None


def validate_chain_head(chain_head, events):
    """None when an audit snapshot's chain head and event count are consistent, else why not."""
    if isinstance(events, bool) or not isinstance(events, int) or events < 0:
        return "events must be a whole number >= 0 (the audit event count at snapshot time)"
    if chain_head in (None, ""):
        if events:
            return "chain_head is required when events > 0 (the hash of the highest rowid)"
        return None
    if not isinstance(chain_head, str) or not _HEX64.match(chain_head):
        return "chain_head must be 64 lowercase hex characters (an Airlock audit event hash)"
    return None


# ------------------------------------------------------------------- hashing


class Digest(object):
    """Size and hashes of one byte stream."""

    __slots__ = ("size", "sha256", "blake3")

    def __init__(self, size, sha256, blake3):
        self.size = size
        self.sha256 = sha256
        self.blake3 = blake3

    def as_dict(self):
        return dict(size=self.size, sha256=self.sha256, blake3=self.blake3)

    def __eq__(self, other):
        return isinstance(other, Digest) and (self.size, self.sha256, self.blake3) == (
            other.size, other.sha256, other.blake3)

    def __ne__(self, other):
        return not self == other


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parallel_default():
    """Hash SHA-256 in a helper thread while BLAKE3 runs in the caller (both release the GIL)?

    Only when the process may use two CPUs or more and the machine is not overloaded
    (1-minute load average below CPUs + 1). Measured on 2 CPUs with
    tests/benchmarks/bench_evidence.py: 1.5x faster than sequential at load 1.8, 0.8x at
    load 5-7, where the helper thread waits for a CPU at every block.
    """
    cpus = _cpus()
    if cpus < 2:
        return False
    try:
        return os.getloadavg()[0] < cpus + 1
    except (AttributeError, OSError):
        return True


class _Hasher(object):
    """SHA-256 and BLAKE3 fed together, so every byte is read once.

    In parallel mode SHA-256 runs in a helper thread: a block passed to
    update() must stay unchanged until ``settle(1)`` returns (callers that
    reuse two buffers call it before refilling one); at most two blocks are
    in flight. Always call close() (digest() does).
    """

    def __init__(self, parallel=None):
        if not HAS_BLAKE3:
            raise EvidenceError("the blake3 Python package is required")
        self._sha = hashlib.sha256()
        self._b3 = _blake3.blake3()
        self.size = 0
        self._pool = None
        self._pending = collections.deque()
        if parallel_default() if parallel is None else parallel:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def update(self, data):
        self.size += len(data)
        if self._pool is None:
            self._sha.update(data)
            self._b3.update(data)
            return
        self.settle(1)
        self._pending.append(self._pool.submit(self._sha.update, data))
        self._b3.update(data)

    def settle(self, keep=0):
        """Wait until at most ``keep`` blocks are still being hashed."""
        while len(self._pending) > keep:
            self._pending.popleft().result()

    def close(self):
        if self._pool is not None:
            self.settle()
            self._pool.shutdown()
            self._pool = None

    def digest(self):
        self.close()
        return Digest(self.size, self._sha.hexdigest(), self._b3.hexdigest())


def hash_bytes(data):
    hasher = _Hasher(parallel=False)
    hasher.update(data)
    return hasher.digest()


def _read_blocks(handle, hasher, buffer_size, sink=None):
    """Feed ``handle`` to ``hasher`` through two reused buffers (and write each block to ``sink``)."""
    buffers = (bytearray(buffer_size), bytearray(buffer_size))
    views = (memoryview(buffers[0]), memoryview(buffers[1]))
    turn = 0
    while True:
        hasher.settle(1)  # the block that last used this buffer is hashed
        count = handle.readinto(buffers[turn])
        if not count:
            return
        block = views[turn][:count]
        hasher.update(block)
        if sink is not None:
            written = 0
            while written < count:
                written += sink.write(block[written:])
        turn ^= 1


def hash_file(path, buffer_size=HASH_BUFFER, parallel=None):
    """Digest of a file, read in ``buffer_size`` blocks into reused buffers."""
    hasher = _Hasher(parallel)
    try:
        with open(path, "rb", buffering=0) as handle:
            _read_blocks(handle, hasher, buffer_size)
        return hasher.digest()
    finally:
        hasher.close()


def hash_stream(reader, max_bytes=None, buffer_size=HASH_BUFFER):
    """Digest of a readable stream, without storing it; EvidenceError past ``max_bytes``."""
    hasher = _Hasher()
    try:
        while True:
            block = reader.read(buffer_size)
            if not block:
                break
            hasher.update(block)
            if max_bytes is not None and hasher.size > max_bytes:
                raise EvidenceError("more than %d bytes" % max_bytes)
        return hasher.digest()
    finally:
        hasher.close()


def temp_path(directory, name):
    """A new empty temporary file in ``directory`` (same file system as the item): (fd, path)."""
    return tempfile.mkstemp(prefix="." + name[:100] + ".", suffix=".partial", dir=directory)


def stream_to_temp(reader, directory, name, max_bytes=None, buffer_size=HASH_BUFFER):
    """Copy a stream into a temp file in ``directory`` while hashing it: (temp path, Digest)."""
    fd, path = temp_path(directory, name)
    hasher = _Hasher()
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                block = reader.read(buffer_size)
                if not block:
                    break
                hasher.update(block)
                if max_bytes is not None and hasher.size > max_bytes:
                    raise EvidenceError("more than %d bytes" % max_bytes)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        return path, hasher.digest()
    except BaseException:
        _unlink_quietly(path)
        raise
    finally:
        hasher.close()


def copy_to_temp(src, directory, name, buffer_size=HASH_BUFFER, parallel=None):
    """Stream-copy ``src`` into a temp file in ``directory``, hashing what is written: (temp path, Digest)."""
    fd, path = temp_path(directory, name)
    hasher = _Hasher(parallel)
    try:
        with open(src, "rb", buffering=0) as handle, os.fdopen(fd, "wb", buffering=0) as out:
            _read_blocks(handle, hasher, buffer_size, sink=out)
            os.fsync(out.fileno())
        return path, hasher.digest()
    except BaseException:
        _unlink_quietly(path)
        raise
    finally:
        hasher.close()


def bytes_to_temp(data, directory, name):
    fd, path = temp_path(directory, name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        return path
    except BaseException:
        _unlink_quietly(path)
        raise


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def discard(path):
    """Remove a temporary file (no error when it is already gone)."""
    if path:
        _unlink_quietly(path)


def place_new(temp, final, mode=READ_ONLY):
    """Move a finished temp file to ``final`` read-only, refusing to replace an existing file."""
    os.chmod(temp, mode)
    try:
        os.link(temp, final)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise EvidenceError("%s appeared in the bundle while collecting; nothing was overwritten" % final)
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # File systems without hard links: check, then rename (a narrow race, documented).
        if os.path.lexists(final):
            raise EvidenceError("%s appeared in the bundle while collecting; nothing was overwritten" % final)
        os.rename(temp, final)
        return
    os.unlink(temp)


def write_atomic(directory, name, data, mode=READ_ONLY):
    """Replace ``directory/name`` with ``data`` atomically (temp file, fsync, os.replace)."""
    temp = bytes_to_temp(data, directory, name)
    try:
        os.chmod(temp, mode)
        os.replace(temp, os.path.join(directory, name))
    except BaseException:
        _unlink_quietly(temp)
        raise


# ------------------------------------------------------------------ manifest


def new_manifest(incident_id, now):
    return dict(
        format=MANIFEST_FORMAT,
        incident_id=incident_id,
        created_at=rfc3339(now),
        updated_at=rfc3339(now),
        tool=tool_info(),
        items=[],
        history=[],
    )


def render_manifest(manifest):
    return (json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode("utf-8")


def sums_line(sha256, name):
    return "%s  %s\n" % (sha256, name)


def render_sums(manifest):
    """SHA256SUMS for every item of the manifest (current and superseded), sorted by name."""
    lines = [sums_line(item["sha256"], item["name"]) for item in sorted(manifest["items"], key=lambda i: i["name"])]
    return "".join(lines).encode("utf-8")


def render_manifest_hash(manifest_bytes):
    return sums_line(hashlib.sha256(manifest_bytes).hexdigest(), MANIFEST_NAME).encode("ascii")


def read_manifest(directory):
    """(manifest dict or None, manifest sha256 or None, problems list).

    Problems are dicts like verify mismatches for the manifest's own files.
    Raises EvidenceError when manifest.json exists but is not a manifest.
    """
    path = os.path.join(directory, MANIFEST_NAME)
    if not os.path.exists(path):
        return None, None, []
    with open(path, "rb") as handle:
        raw = handle.read()
    actual = hashlib.sha256(raw).hexdigest()
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvidenceError("%s is not valid JSON (%s)" % (path, exc))
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT or not isinstance(
            manifest.get("items"), list):
        raise EvidenceError("%s is not an airlock.incident evidence manifest (format %s)" % (path, MANIFEST_FORMAT))
    manifest.setdefault("history", [])
    problems = []
    hash_path = os.path.join(directory, MANIFEST_HASH_NAME)
    if not os.path.exists(hash_path):
        problems.append(dict(name=MANIFEST_HASH_NAME, expected_sha256=None, actual_sha256=None, reason="missing"))
    else:
        with open(hash_path, "rb") as handle:
            recorded = handle.read().decode("utf-8", "replace").split()
        expected = recorded[0] if recorded else None
        if expected != actual:
            problems.append(dict(name=MANIFEST_NAME, expected_sha256=expected, actual_sha256=actual,
                                 reason="modified"))
    return manifest, actual, problems


def current_items(manifest):
    return [i for i in manifest["items"] if i.get("status", "current") == "current"]


def find_current(manifest, name):
    for item in manifest["items"]:
        if item["name"] == name and item.get("status", "current") == "current":
            return item
    return None


def has_chain_head(items):
    """True when a current audit_snapshot item records a chain head."""
    for item in items:
        if item.get("status", "current") == "current" and item.get("kind") == "audit_snapshot" and item.get(
                "chain_head"):
            return True
    return False


def summary(items):
    """The item list as --diff shows it."""
    out = []
    for item in sorted(items, key=lambda i: i["name"]):
        entry = dict(name=item["name"], kind=item.get("kind"), size=item["size"], sha256=item["sha256"],
                     status=item.get("status", "current"))
        if item.get("kind") == "audit_snapshot":
            entry["chain_head"] = item.get("chain_head")
            entry["events"] = item.get("events")
        out.append(entry)
    return out


def superseded_name(directory, name, moment):
    base = "%s.superseded-%s" % (name, compact_stamp(moment))
    candidate = base
    counter = 1
    while os.path.lexists(os.path.join(directory, candidate)):
        counter += 1
        candidate = "%s-%d" % (base, counter)
    return candidate


# -------------------------------------------------------------------- verify


def verify_bundle(directory):
    """Re-hash every listed file: (verified, mismatches, checked item count).

    Mismatches are dicts {name, expected_sha256, actual_sha256, reason} with
    reason ``modified``, ``missing`` or ``extra``. Nothing is written.
    """
    manifest, _sha, problems = read_manifest(directory)
    mismatches = list(problems)
    listed = set(RESERVED_NAMES)
    checked = 0
    if manifest is None:
        mismatches.append(dict(name=MANIFEST_NAME, expected_sha256=None, actual_sha256=None, reason="missing"))
    else:
        for item in manifest["items"]:
            name = item.get("name")
            listed.add(name)
            path = os.path.join(directory, name)
            checked += 1
            if not os.path.isfile(path):
                mismatches.append(dict(name=name, expected_sha256=item.get("sha256"), actual_sha256=None,
                                       reason="missing"))
                continue
            digest = hash_file(path)
            if digest.sha256 != item.get("sha256") or digest.blake3 != item.get("blake3") or digest.size != item.get(
                    "size"):
                mismatches.append(dict(name=name, expected_sha256=item.get("sha256"), actual_sha256=digest.sha256,
                                       reason="modified"))
        sums_path = os.path.join(directory, SUMS_NAME)
        expected_sums = render_sums(manifest)
        if not os.path.exists(sums_path):
            mismatches.append(dict(name=SUMS_NAME, expected_sha256=hashlib.sha256(expected_sums).hexdigest(),
                                   actual_sha256=None, reason="missing"))
        else:
            with open(sums_path, "rb") as handle:
                actual_sums = handle.read()
            if actual_sums != expected_sums:
                mismatches.append(dict(name=SUMS_NAME, expected_sha256=hashlib.sha256(expected_sums).hexdigest(),
                                       actual_sha256=hashlib.sha256(actual_sums).hexdigest(), reason="modified"))
    for entry in sorted(os.listdir(directory)):
        if entry in listed:
            continue
        path = os.path.join(directory, entry)
        actual = hash_file(path).sha256 if os.path.isfile(path) else None
        mismatches.append(dict(name=entry, expected_sha256=None, actual_sha256=actual, reason="extra"))
    return not mismatches, mismatches, checked
