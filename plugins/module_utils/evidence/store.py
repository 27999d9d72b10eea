# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Evidence bundles with a chain of custody: manifest model, names, placing files, verification.

A bundle is one directory::

    incidents/INC-20261128-101500/evidence/
        manifest.json          what was collected, by whom, when, from where, with which hashes
        manifest.json.sha256   the manifest's own SHA-256 (``sha256sum -c`` format)
        SHA256SUMS             every item, ``sha256sum -c`` format, relative names
        <items>                the evidence files, read-only (0444)

Items are hashed and staged by :mod:`.hashing`. Files are
written to a temporary name in the bundle directory, flushed, made read-only
and linked into place, so a bundle never holds a half-written item and an
existing file is never replaced. Manifest and checksum files are replaced
atomically (``os.replace``).
"""

from __future__ import annotations

import datetime
import errno
import getpass
import hashlib
import json
import os
import platform
import re
import socket
import stat
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core import fileutil
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import utc_stamp
from ansible_collections.airlock.incident.plugins.module_utils.evidence import journal
from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import EvidenceError
from ansible_collections.airlock.incident.plugins.module_utils.evidence.hashing import hash_file

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

KINDS = ("audit_snapshot", "command_output", "config", "health", "log", "metrics", "policy", "report",
         "state", "other")
SOURCES = ("src", "content", "url")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SUPERSEDED = re.compile(r"\.superseded-\d{8}T\d{6}Z(-\d+)?$")

#: A manifest (JSON object) and one of its items or mismatches.
Manifest = t.Dict[str, t.Any]
Item = t.Dict[str, t.Any]


# ------------------------------------------------------------------ metadata


def rfc3339(moment: datetime.datetime) -> str:
    """RFC 3339 UTC text with microseconds: ``2026-11-28T10:15:00.123456Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compact_stamp(moment: datetime.datetime) -> str:
    """A file-name-safe UTC timestamp: ``20261128T101500Z``."""
    return utc_stamp(moment, fraction=False)


def collector() -> t.Dict[str, str]:
    """Who collects: the login name (or uid) and the host name."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "uid:%d" % os.getuid()
    host = socket.gethostname() or platform.node()
    return dict(user=user, host=host)


def tool_info() -> t.Dict[str, str]:
    return dict(
        collection=COLLECTION_NAME,
        collection_version=COLLECTION_VERSION,
        python=platform.python_version(),
        ansible_core=ANSIBLE_CORE_VERSION,
    )


def validate_name(name: t.Any) -> t.Optional[str]:
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


def validate_chain_head(chain_head: t.Any, events: t.Any) -> t.Optional[str]:
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


def place_new(temp: str, final: str, mode: int = READ_ONLY) -> None:
    """Move a finished temp file to ``final`` read-only, refusing to replace an existing file."""
    os.chmod(temp, mode)
    try:
        os.link(temp, final)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise EvidenceError("%s appeared in the bundle while collecting; nothing was overwritten" % final) from exc
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # File systems without hard links: check, then rename (a narrow race, documented).
        if os.path.lexists(final):
            raise EvidenceError("%s appeared in the bundle while collecting; nothing was overwritten" % final) from exc
        os.rename(temp, final)
        return
    os.unlink(temp)


def write_atomic(directory: str, name: str, data: bytes, mode: int = READ_ONLY) -> None:
    """Replace ``directory/name`` with ``data`` atomically (:func:`.fileutil.atomic_write`: links refused)."""
    fileutil.atomic_write(os.path.join(directory, name), data, default_mode=mode)


# ------------------------------------------------------------------ manifest


def new_manifest(incident_id: str, now: datetime.datetime) -> Manifest:
    return dict(
        format=MANIFEST_FORMAT,
        incident_id=incident_id,
        created_at=rfc3339(now),
        updated_at=rfc3339(now),
        tool=tool_info(),
        items=[],
        history=[],
    )


def render_manifest(manifest: Manifest) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode("utf-8")


def sums_line(sha256: str, name: str) -> str:
    return "%s  %s\n" % (sha256, name)


def render_sums(manifest: Manifest) -> bytes:
    """SHA256SUMS for every item of the manifest (current and superseded), sorted by name."""
    lines = [sums_line(item["sha256"], item["name"]) for item in sorted(manifest["items"], key=lambda i: i["name"])]
    return "".join(lines).encode("utf-8")


def render_manifest_hash(manifest_bytes: bytes) -> bytes:
    return sums_line(hashlib.sha256(manifest_bytes).hexdigest(), MANIFEST_NAME).encode("ascii")


def read_manifest(directory: str) -> t.Tuple[t.Optional[Manifest], t.Optional[str], t.List[Item]]:
    """(manifest dict or None, manifest sha256 or None, problems list).

    Problems are dicts like verify mismatches for the manifest's own files.
    Raises EvidenceError when manifest.json exists but is not a manifest.
    """
    path = os.path.join(directory, MANIFEST_NAME)
    raw = fileutil.read_regular(path)  # a link or FIFO there is refused, never read through
    if raw is None:
        return None, None, []
    actual = hashlib.sha256(raw).hexdigest()
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvidenceError("%s is not valid JSON (%s)" % (path, exc)) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT or not isinstance(
            manifest.get("items"), list):
        raise EvidenceError("%s is not an airlock.incident evidence manifest (format %s)" % (path, MANIFEST_FORMAT))
    manifest.setdefault("history", [])
    problems: t.List[Item] = []
    hash_path = os.path.join(directory, MANIFEST_HASH_NAME)
    hash_info = fileutil.lstat_or_none(hash_path)
    if hash_info is None:
        problems.append(dict(name=MANIFEST_HASH_NAME, expected_sha256=None, actual_sha256=None, reason="missing"))
    elif not stat.S_ISREG(hash_info.st_mode):
        problems.append(dict(name=MANIFEST_HASH_NAME, expected_sha256=None, actual_sha256=None,
                             reason=_not_a_file(hash_info.st_mode)))
    else:
        recorded = (fileutil.read_regular(hash_path) or b"").decode("utf-8", "replace").split()
        expected = recorded[0] if recorded else None
        if expected != actual:
            problems.append(dict(name=MANIFEST_NAME, expected_sha256=expected, actual_sha256=actual,
                                 reason="modified"))
    return manifest, actual, problems


def current_items(manifest: Manifest) -> t.List[Item]:
    return [i for i in manifest["items"] if i.get("status", "current") == "current"]


def find_current(manifest: Manifest, name: str) -> t.Optional[Item]:
    for item in manifest["items"]:
        if item["name"] == name and item.get("status", "current") == "current":
            return item
    return None


def has_chain_head(items: t.Iterable[Item]) -> bool:
    """True when a current audit_snapshot item records a chain head."""
    for item in items:
        if item.get("status", "current") == "current" and item.get("kind") == "audit_snapshot" and item.get(
                "chain_head"):
            return True
    return False


def summary(items: t.Iterable[Item]) -> t.List[Item]:
    """The item list as --diff shows it."""
    out: t.List[Item] = []
    for item in sorted(items, key=lambda i: i["name"]):
        entry = dict(name=item["name"], kind=item.get("kind"), size=item["size"], sha256=item["sha256"],
                     status=item.get("status", "current"))
        if item.get("kind") == "audit_snapshot":
            entry["chain_head"] = item.get("chain_head")
            entry["events"] = item.get("events")
        out.append(entry)
    return out


def superseded_name(directory: str, name: str, moment: datetime.datetime) -> str:
    base = "%s.superseded-%s" % (name, compact_stamp(moment))
    candidate = base
    counter = 1
    while os.path.lexists(os.path.join(directory, candidate)):
        counter += 1
        candidate = "%s-%d" % (base, counter)
    return candidate


# -------------------------------------------------------------------- verify


def _not_a_file(mode: int) -> str:
    """The mismatch reason of something that is not a regular file: ``symlink`` or ``not_regular``."""
    return "symlink" if stat.S_ISLNK(mode) else "not_regular"


def _check_item(directory: str, item: Item) -> t.Optional[Item]:
    """The mismatch of one listed item, or None; never follows a link (``lstat``) nor opens a FIFO."""
    name = str(item.get("name"))
    path = os.path.join(directory, name)
    info = fileutil.lstat_or_none(path)
    if info is None:
        return dict(name=name, expected_sha256=item.get("sha256"), actual_sha256=None, reason="missing")
    if not stat.S_ISREG(info.st_mode):
        return dict(name=name, expected_sha256=item.get("sha256"), actual_sha256=None,
                    reason=_not_a_file(info.st_mode))
    try:
        digest = hash_file(path, nofollow=True)
    except fileutil.UnsafePathError:  # replaced between the lstat and the open
        return dict(name=name, expected_sha256=item.get("sha256"), actual_sha256=None, reason="symlink")
    if digest.sha256 != item.get("sha256") or digest.blake3 != item.get("blake3") or digest.size != item.get("size"):
        return dict(name=name, expected_sha256=item.get("sha256"), actual_sha256=digest.sha256, reason="modified")
    return None


def _check_sums(directory: str, manifest: Manifest) -> t.Optional[Item]:
    sums_path = os.path.join(directory, SUMS_NAME)
    expected_sums = render_sums(manifest)
    expected = hashlib.sha256(expected_sums).hexdigest()
    info = fileutil.lstat_or_none(sums_path)
    if info is None:
        return dict(name=SUMS_NAME, expected_sha256=expected, actual_sha256=None, reason="missing")
    if not stat.S_ISREG(info.st_mode):
        return dict(name=SUMS_NAME, expected_sha256=expected, actual_sha256=None, reason=_not_a_file(info.st_mode))
    actual_sums = fileutil.read_regular(sums_path) or b""
    if actual_sums != expected_sums:
        return dict(name=SUMS_NAME, expected_sha256=expected, actual_sha256=hashlib.sha256(actual_sums).hexdigest(),
                    reason="modified")
    return None


def _read_manifest_for_verify(directory: str) -> t.Tuple[t.Optional[Manifest], t.List[Item]]:
    """The manifest and the problems of the manifest files; a linked manifest is a mismatch, not a failure."""
    try:
        manifest, _sha, problems = read_manifest(directory)
    except fileutil.UnsafePathError:
        info = os.lstat(os.path.join(directory, MANIFEST_NAME))
        return None, [dict(name=MANIFEST_NAME, expected_sha256=None, actual_sha256=None,
                           reason=_not_a_file(info.st_mode))]
    if manifest is None:
        problems.append(dict(name=MANIFEST_NAME, expected_sha256=None, actual_sha256=None, reason="missing"))
    return manifest, problems


def verify_bundle(directory: str) -> t.Tuple[bool, t.List[Item], int]:
    """Re-hash every listed file: (verified, mismatches, checked item count).

    Mismatches are dicts {name, expected_sha256, actual_sha256, reason} with
    reason ``modified``, ``missing``, ``extra``, ``symlink`` (a link where a file
    was collected, never followed) or ``not_regular``. What an interrupted run left
    (:func:`.journal.leftovers`) is not a mismatch: see :func:`verify_leftovers`.
    Nothing is written.
    """
    manifest, mismatches = _read_manifest_for_verify(directory)
    listed = set(RESERVED_NAMES)
    checked = 0
    for item in (manifest or {}).get("items", []):
        listed.add(item.get("name"))
        checked += 1
        mismatch = _check_item(directory, item)
        if mismatch:
            mismatches.append(mismatch)
    if manifest is not None:
        mismatch = _check_sums(directory, manifest)
        if mismatch:
            mismatches.append(mismatch)
    for entry in sorted(os.listdir(directory)):
        if entry in listed or journal.is_leftover(directory, entry):
            continue
        path = os.path.join(directory, entry)
        info = os.lstat(path)
        actual = hash_file(path, nofollow=True).sha256 if stat.S_ISREG(info.st_mode) else None
        mismatches.append(dict(name=entry, expected_sha256=None, actual_sha256=actual, reason="extra"))
    return not mismatches, mismatches, checked
