#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evidence
short_description: Build and verify an incident evidence bundle with a chain of custody
version_added: "0.1.0"
description:
  - Collects evidence files into one bundle directory per incident (for example
    C(incidents/INC-20261128-101500/evidence)) and keeps a custody record of each of them.
  - Every item is recorded in C(manifest.json) with its size, SHA-256 and BLAKE3 hashes, the UTC
    collection time (RFC 3339), the collector (user and host), its origin and free-text source
    (the command that produced it), and the tool versions (collection, Python, ansible-core).
  - Writes C(SHA256SUMS) in C(sha256sum -c) format (relative names) covering every item, and
    C(manifest.json.sha256), the manifest's own hash in the same format.
  - Collected files are made read-only (0444). A different file or content under a name that is
    already collected is never overwritten; the task fails naming the item unless O(force=true),
    which keeps the old copy as C(<name>.superseded-<UTC timestamp>) and records both.
  - O(state=verify) re-hashes everything the manifest lists and reports modified, missing and
    extra files; it never changes anything.
  - An item of O(items[].kind=audit_snapshot) records the audit chain head and event count at
    collection time, without which the audit hash chain proves nothing (whoever can write the
    database can rebuild the chain). O(require_audit_snapshot) enforces its presence.
author:
  - airlock.incident contributors (@airlock-incident)
requirements:
  - blake3 (Python package) on the host that runs the module
attributes:
  check_mode:
    support: full
    description:
      - Reports what would be collected (sources are hashed, URLs are fetched with GET and hashed
        in memory) and writes nothing, not even the bundle directory.
  diff_mode:
    support: full
    description: Shows the manifest item list before and after.
  platform:
    support: full
    platforms: posix
    description: Runs on the host that holds the bundle directory (usually the controller, delegated to localhost).
  idempotent:
    support: full
    description: A rerun with unchanged sources reports no change and rewrites nothing.
options:
  path:
    description:
      - The bundle directory, created (mode 0750) if missing, for example
        C(incidents/INC-20261128-101500/evidence).
    type: path
    required: true
  incident_id:
    description:
      - Incident identifier recorded in the manifest. Required with O(state=present).
      - A bundle belongs to one incident; adding to a bundle of another incident fails.
      - With O(state=verify), checked against the manifest when given.
    type: str
  state:
    description:
      - V(present) collects O(items) into the bundle.
      - V(verify) re-hashes every listed file and returns RV(verified) and RV(mismatches).
    type: str
    choices: [present, verify]
    default: present
  items:
    description:
      - Evidence to collect. Each item has a O(items[].name) and exactly one of O(items[].src),
        O(items[].content) or O(items[].url).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - File name inside the bundle. No path separators, no C(..), no leading dot, not one of
            C(manifest.json), C(manifest.json.sha256), C(SHA256SUMS).
        type: str
        required: true
      src:
        description:
          - Local file (on the host running the module) copied into the bundle, streamed.
        type: path
      content:
        description:
          - Text stored as the item (UTF-8), for example a registered command's C(stdout) or a
            health result passed through C(to_nice_json).
          - Module arguments are visible in verbose output; set C(no_log) on the task if the text
            holds secrets.
        type: str
      url:
        description:
          - HTTP(S) endpoint fetched with GET; the response body is stored whatever the HTTP status
            (a C(503) from C(/ready) is evidence too), and the status is recorded.
          - Do not put credentials in the URL.
        type: str
      description:
        description: What the item is.
        type: str
      source:
        description:
          - Free text saying where the item came from, for example
            C(kubectl logs -n airlock-system -l app.kubernetes.io/name=airlock --since=2h).
        type: str
      kind:
        description:
          - Kind of evidence. V(audit_snapshot) requires O(items[].chain_head) and O(items[].events).
        type: str
        choices: [audit_snapshot, command_output, config, health, log, metrics, policy, report, state, other]
        default: other
      chain_head:
        description:
          - For V(audit_snapshot) only, the audit chain head (hash of the highest rowid, 64 lowercase
            hex characters) at snapshot time, as returned by M(airlock.incident.audit_snapshot).
          - May be empty only when O(items[].events=0).
        type: str
      events:
        description:
          - For V(audit_snapshot) only, the number of audit events at snapshot time.
        type: int
  force:
    description:
      - Allow a different file or content under a name that is already collected. The old copy is
        kept, renamed C(<name>.superseded-<UTC timestamp>), and both are recorded in the manifest
        items and history. Nothing is ever deleted.
    type: bool
    default: false
  require_audit_snapshot:
    description:
      - Fail, before anything is written, unless the bundle (after this task) holds an item of
        O(items[].kind=audit_snapshot) with a chain head.
      - The security playbooks of this collection set it to V(true). Hashing evidence without the
        audit database snapshot and its chain head is one of the operator playbook's mistakes.
      - Also honoured by O(state=verify).
    type: bool
    default: false
  timeout:
    description: Seconds allowed for each O(items[].url) request (connection and each read).
    type: float
    default: 30.0
  validate_certs:
    description: Verify TLS certificates of C(https) O(items[].url) endpoints.
    type: bool
    default: true
  ca_path:
    description: PEM file with the CA certificates used to verify C(https) O(items[].url) endpoints.
    type: path
  url_max_bytes:
    description: Largest response body accepted from an O(items[].url); larger ones fail the task.
    type: int
    default: 268435456
notes:
  - The manifest, checksum files and items are read-only. To undo a collection, remove the bundle
    directory (C(chmod -R u+w) first); the module itself never deletes anything.
  - O(state=present) checks that listed files still exist with their recorded size; only
    O(state=verify) re-hashes their content.
  - Concurrent runs on the same bundle are serialised with a lock on the bundle directory.
seealso:
  - module: airlock.incident.audit_snapshot
  - module: airlock.incident.audit_verify
  - module: airlock.incident.log_scan
"""

EXAMPLES = r"""
- name: Snapshot the audit database (consistent copy, chain head, event count)
  airlock.incident.audit_snapshot:
    path: /var/lib/airlock/audit.db
    dest: "incidents/{{ airlock_incident_id }}/work/"
    incident_id: "{{ airlock_incident_id }}"
  register: snap

- name: Capture pod logs
  ansible.builtin.command:
    argv: [kubectl, logs, -n, airlock-system, -l, app.kubernetes.io/name=airlock, --since=2h, --timestamps]
  register: pod_logs
  changed_when: false

- name: Preserve the evidence with a chain of custody
  airlock.incident.evidence:
    path: "incidents/{{ airlock_incident_id }}/evidence"
    incident_id: "{{ airlock_incident_id }}"
    require_audit_snapshot: true
    items:
      - name: audit.db
        src: "{{ snap.dest }}"
        kind: audit_snapshot
        chain_head: "{{ snap.chain_head }}"
        events: "{{ snap.events }}"
        source: "airlock.incident.audit_snapshot of /var/lib/airlock/audit.db"
      - name: pod-logs.txt
        content: "{{ pod_logs.stdout }}"
        kind: log
        source: "{{ pod_logs.cmd | join(' ') }}"
      - name: ready.json
        url: http://airlock.airlock-system.svc:8080/ready
        kind: health
  register: bundle

- name: Hand the manifest to the next workflow node
  ansible.builtin.set_stats:
    data:
      airlock_evidence_manifest: "{{ bundle.manifest_path }}"
      airlock_evidence_manifest_sha256: "{{ bundle.manifest_sha256 }}"

- name: Later, prove nothing changed
  airlock.incident.evidence:
    path: "incidents/{{ airlock_incident_id }}/evidence"
    state: verify
  register: check
  failed_when: not check.verified
"""

RETURN = r"""
manifest_path:
  description: Path of C(manifest.json).
  returned: always
  type: str
  sample: incidents/INC-20261128-101500/evidence/manifest.json
manifest_sha256:
  description:
    - SHA-256 of C(manifest.json) after the task (also in C(manifest.json.sha256)).
    - In check mode, the hash of the manifest on disk (null when there is none yet).
  returned: always
  type: str
  sample: 3b5d5c3712955042212316173ccf37be800a9c33b1d8fa1aa5f3d3d2c8a1f5f0
items:
  description: Every item the manifest lists (current and superseded), with hashes and custody data.
  returned: always
  type: list
  elements: dict
  sample:
    - name: pod-logs.txt
      kind: log
      size: 182733
      sha256: 0b0d3bd0e6b4b3d3a5f1b2f0ad43d4c2e1f0a5b6c7d8e9f00112233445566778
      blake3: 5a1c4e0d1f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f901234567
      collected_at: "2026-11-28T10:21:04.512345Z"
      collector: {user: sre, host: bastion-1}
      origin: content
      origin_ref: null
      source: kubectl logs -n airlock-system -l app.kubernetes.io/name=airlock --since=2h
      status: current
changed_items:
  description: Names added, replaced or whose description/source/kind changed in this run.
  returned: always
  type: list
  elements: str
  sample: [pod-logs.txt]
superseded:
  description: Names given to the old copies kept because of O(force=true).
  returned: when state is present
  type: list
  elements: str
  sample: [pod-logs.txt.superseded-20261128T102104Z]
verified:
  description: True when every listed file matches its hashes and no file is missing or extra.
  returned: when state is verify
  type: bool
  sample: false
mismatches:
  description:
    - One entry per problem. C(reason) is C(modified) (content differs from the manifest, or the
      manifest differs from C(manifest.json.sha256)), C(missing) or C(extra) (in the directory
      but not in the manifest).
  returned: when state is verify
  type: list
  elements: dict
  sample:
    - name: pod-logs.txt
      expected_sha256: 0b0d3bd0e6b4b3d3a5f1b2f0ad43d4c2e1f0a5b6c7d8e9f00112233445566778
      actual_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      reason: modified
audit_snapshot:
  description: Chain head and event count of the current audit snapshot item, if any.
  returned: always
  type: dict
  sample: {name: audit.db, chain_head: 7a95df69c5daa2e048401ed8fd74268ff11789bc675bb3f68d3d0fdf500610aa, events: 125000}
"""

import copy
import fcntl
import hashlib
import os
import tempfile
import traceback
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes
from ansible.module_utils.urls import open_url

from ansible_collections.airlock.incident.plugins.module_utils.evidence import store as store
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import choices_message
from ansible_collections.airlock.incident.plugins.module_utils.core.fileutil import fsync_dir

METADATA_FIELDS = ("kind", "description", "source")


def _label(index, item):
    return "items[%d] (name %r)" % (index, item.get("name"))


def _validate(params):
    """Every input problem, before anything is touched."""
    errors = []
    state = params["state"]
    if state == "present":
        incident_id = params.get("incident_id")
        if not incident_id or not incident_id.strip() or any(ord(c) < 32 for c in incident_id):
            errors.append("incident_id: required with state=present, a non-empty single-line text such as "
                          "INC-20261128-101500")
    if params["url_max_bytes"] < 1:
        errors.append("url_max_bytes: must be at least 1")
    if params["timeout"] <= 0:
        errors.append("timeout: must be greater than 0")
    if state == "verify" and params["items"]:
        errors.append("items: not accepted with state=verify (verify checks what the manifest lists)")
    seen = {}
    for index, item in enumerate(params["items"] or []):
        label = _label(index, item)
        problem = store.validate_name(item.get("name"))
        if problem:
            errors.append("%s: name is invalid: %s" % (label, problem))
        elif item["name"] in seen:
            errors.append("%s: name is also used by items[%d]; names must be unique" % (label, seen[item["name"]]))
        else:
            seen[item["name"]] = index
        given = [key for key in store.SOURCES if item.get(key) is not None]
        if len(given) != 1:
            errors.append("%s: give exactly one source among %s; got %s" % (
                label, ", ".join(store.SOURCES), ", ".join(given) if given else "none"))
        if item.get("src") is not None:
            src = item["src"]
            if not os.path.exists(src):
                errors.append("%s: src %r does not exist" % (label, src))
            elif not os.path.isfile(src):
                errors.append("%s: src %r is not a regular file" % (label, src))
            elif not os.access(src, os.R_OK):
                errors.append("%s: src %r is not readable" % (label, src))
        if item.get("url") is not None:
            scheme = urlsplit(item["url"]).scheme.lower()
            if scheme not in ("http", "https"):
                errors.append("%s: %s" % (label, choices_message("url scheme", scheme, ["http", "https"])))
        if item.get("kind") == "audit_snapshot":
            if item.get("events") is None:
                errors.append("%s: kind audit_snapshot needs chain_head and events (as returned by "
                              "airlock.incident.audit_snapshot)" % label)
            else:
                problem = store.validate_chain_head(item.get("chain_head"), item.get("events"))
                if problem:
                    errors.append("%s: %s" % (label, problem))
        elif item.get("chain_head") is not None or item.get("events") is not None:
            errors.append("%s: chain_head and events are only accepted with kind audit_snapshot" % label)
    return errors


def _safe_url(url):
    """The URL without user:password@ (never recorded)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = "%s:%d" % (host, parts.port)
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _fetch(module, label, url):
    """(response-like object, HTTP status) for a GET; EvidenceError when nothing came back."""
    try:
        response = open_url(
            url,
            method="GET",
            timeout=module.params["timeout"],
            validate_certs=module.params["validate_certs"],
            ca_path=module.params["ca_path"],
            follow_redirects="safe",
            http_agent="airlock.incident/%s evidence" % store.COLLECTION_VERSION,
        )
        return response, response.getcode()
    except HTTPError as exc:
        # 4xx/5xx still carry a body worth preserving (a 503 from /ready is evidence).
        return exc, exc.code
    except (URLError, OSError, ValueError) as exc:
        raise store.EvidenceError("%s: fetching %s failed: %s" % (label, _safe_url(url), exc))


def _audit_summary(items):
    for item in items:
        if item.get("status", "current") == "current" and item.get("kind") == "audit_snapshot":
            return dict(name=item["name"], chain_head=item.get("chain_head"), events=item.get("events"))
    return None


def _missing_snapshot_message():
    return ("require_audit_snapshot: the bundle has no audit snapshot with a chain head. Snapshot the audit "
            "database with airlock.incident.audit_snapshot and add it as an item with kind: audit_snapshot, "
            "chain_head and events: the hash chain proves integrity only against a head recorded at collection "
            "time")


def _lock(path):
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def run_verify(module):
    params = module.params
    path = params["path"]
    if not os.path.isdir(path):
        raise store.EvidenceError("path: %r is not an evidence bundle directory" % path)
    verified, mismatches, _checked = store.verify_bundle(path)
    try:
        manifest, manifest_sha, _problems = store.read_manifest(path)
    except store.EvidenceError:
        manifest, manifest_sha = None, None
    items = manifest["items"] if manifest else []
    if manifest and params.get("incident_id") and manifest.get("incident_id") != params["incident_id"]:
        raise store.EvidenceError("incident_id: the bundle at %s belongs to incident %r, not %r" % (
            path, manifest.get("incident_id"), params["incident_id"]))
    if params["require_audit_snapshot"] and not store.has_chain_head(items):
        raise store.EvidenceError(_missing_snapshot_message())
    return dict(
        changed=False,
        verified=verified,
        mismatches=mismatches,
        manifest_path=os.path.join(path, store.MANIFEST_NAME),
        manifest_sha256=manifest_sha,
        items=items,
        changed_items=[],
        audit_snapshot=_audit_summary(items),
    )


class _Planned(object):
    """One requested item after its source was read."""

    def __init__(self, index, item):
        self.index = index
        self.item = item
        self.label = _label(index, item)
        self.name = item["name"]
        self.origin = next(key for key in store.SOURCES if item.get(key) is not None)
        self.digest = None
        self.temp = None  # temp file in the bundle holding the new content
        self.data = None  # bytes for content items
        self.http_status = None
        self.action = None  # add | replace | update | unchanged
        self.existing = None
        self.adopt = False  # src is the bundle file itself
        self.spool = None  # fetched body of a URL item kept outside the bundle


class _Tee(object):
    """A reader that copies what it reads into ``sink``."""

    def __init__(self, reader, sink):
        self.reader = reader
        self.sink = sink

    def read(self, size):
        block = self.reader.read(size)
        if block:
            self.sink.write(block)
        return block


def _acquire(module, planned, path, check_mode):
    """Read (and, outside check mode, stage in the bundle) the content of one item."""
    item = planned.item
    max_bytes = module.params["url_max_bytes"]
    if planned.origin == "content":
        planned.data = to_bytes(item["content"], errors="surrogate_or_strict")
        planned.digest = store.hash_bytes(planned.data)
    elif planned.origin == "src":
        if planned.adopt:
            # Already written into the bundle (e.g. a redirect): hashed and recorded in place.
            planned.digest = store.hash_file(item["src"])
        elif planned.existing is None and not check_mode:
            # New name: copy and hash in one pass.
            planned.temp, planned.digest = store.copy_to_temp(item["src"], path, planned.name)
        else:
            planned.digest = store.hash_file(item["src"])
    else:
        response, planned.http_status = _fetch(module, planned.label, item["url"])
        try:
            if check_mode:
                planned.digest = store.hash_stream(response, max_bytes)
            elif planned.existing is not None:
                # Maybe unchanged: keep the body outside the bundle until we know.
                planned.spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
                planned.digest = store.hash_stream(_Tee(response, planned.spool), max_bytes)
            else:
                planned.temp, planned.digest = store.stream_to_temp(response, path, planned.name, max_bytes)
        except store.EvidenceError as exc:
            raise store.EvidenceError("%s: the response of %s has %s (url_max_bytes)" % (
                planned.label, _safe_url(item["url"]), exc))
        except (OSError, ValueError) as exc:
            raise store.EvidenceError("%s: reading %s failed: %s" % (planned.label, _safe_url(item["url"]), exc))
        finally:
            try:
                response.close()
            except Exception:
                pass


def _record(planned, moment, who, tools):
    item = planned.item
    record = dict(
        name=planned.name,
        kind=item.get("kind") or "other",
        description=item.get("description"),
        source=item.get("source"),
        origin=planned.origin,
        origin_ref=None,
        size=planned.digest.size,
        sha256=planned.digest.sha256,
        blake3=planned.digest.blake3,
        collected_at=store.rfc3339(moment),
        collector=who,
        tool=tools,
        status="current",
    )
    if planned.origin == "src":
        record["origin_ref"] = os.path.abspath(item["src"])
    elif planned.origin == "url":
        record["origin_ref"] = _safe_url(item["url"])
        record["http_status"] = planned.http_status
    if record["kind"] == "audit_snapshot":
        record["chain_head"] = item.get("chain_head") or None
        record["events"] = item.get("events")
    return record


def _snapshot_changed(planned):
    existing = planned.existing
    if planned.item.get("kind") != "audit_snapshot" and existing.get("kind") != "audit_snapshot":
        return False
    return ((planned.item.get("chain_head") or None) != existing.get("chain_head")
            or planned.item.get("events") != existing.get("events")
            or planned.item.get("kind") != existing.get("kind"))


def run_present(module):
    params = module.params
    path = params["path"]
    incident_id = params["incident_id"]
    check_mode = module.check_mode
    if os.path.lexists(path) and not os.path.isdir(path):
        raise store.EvidenceError("path: %r exists and is not a directory" % path)
    exists = os.path.isdir(path)
    manifest, manifest_sha, problems = store.read_manifest(path) if exists else (None, None, [])
    if problems:
        raise store.EvidenceError(
            "%s does not match %s (%s); the bundle may have been altered: run state=verify and investigate "
            "before adding evidence" % (store.MANIFEST_NAME, store.MANIFEST_HASH_NAME,
                                        ", ".join("%s %s" % (p["name"], p["reason"]) for p in problems)))
    if manifest is not None and manifest.get("incident_id") != incident_id:
        raise store.EvidenceError("incident_id: the bundle at %s belongs to incident %r, not %r" % (
            path, manifest.get("incident_id"), incident_id))
    plans = [_Planned(index, item) for index, item in enumerate(params["items"])]
    errors = []
    for planned in plans:
        target = os.path.join(path, planned.name)
        planned.existing = store.find_current(manifest, planned.name) if manifest else None
        src = planned.item.get("src")
        planned.adopt = (planned.existing is None and src is not None and os.path.lexists(target)
                         and os.path.realpath(src) == os.path.realpath(target))
        if planned.adopt:
            continue
        if planned.existing is None and os.path.lexists(target):
            errors.append("%s: a file named %s is already in the bundle (a superseded copy, or not in its "
                          "manifest); nothing is overwritten: choose another name" % (planned.label, planned.name))
        elif planned.existing is not None:
            if not os.path.isfile(target):
                errors.append("%s: recorded in the manifest but missing from the bundle; run state=verify"
                              % planned.label)
            elif os.path.getsize(target) != planned.existing["size"]:
                errors.append("%s: the bundle copy no longer has its recorded size; run state=verify"
                              % planned.label)
    if errors:
        raise store.EvidenceError("; ".join(errors))

    if params["require_audit_snapshot"]:
        requested = set(p.name for p in plans)
        after = [i for i in (store.current_items(manifest) if manifest else []) if i["name"] not in requested]
        after.extend(dict(kind=p.item.get("kind"), chain_head=p.item.get("chain_head")) for p in plans)
        if not store.has_chain_head(after):
            raise store.EvidenceError(_missing_snapshot_message())

    created_dirs = []
    lock_fd = None
    try:
        if not check_mode:
            if not exists:
                missing = path
                while missing and not os.path.exists(missing):
                    created_dirs.append(missing)
                    missing = os.path.dirname(missing.rstrip(os.sep))
                os.makedirs(path, store.DIR_MODE)
            lock_fd = _lock(path)
            # Another run may have written the manifest while we waited for the lock.
            manifest_now, sha_now, _p = store.read_manifest(path)
            if sha_now != manifest_sha:
                raise store.EvidenceError("%s changed while waiting for the bundle lock; run the task again"
                                          % store.MANIFEST_NAME)
        conflicts = []
        # Names already in the bundle first (read-only), so a conflict fails before the bundle is touched.
        for planned in sorted(plans, key=lambda p: p.existing is None):
            if conflicts and planned.existing is None:
                break
            _acquire(module, planned, path, check_mode)
            existing = planned.existing
            if existing is None:
                planned.action = "add"
                continue
            same = (planned.digest.sha256 == existing["sha256"] and planned.digest.blake3 == existing["blake3"]
                    and planned.digest.size == existing["size"])
            if same and not _snapshot_changed(planned):
                wanted = dict((f, planned.item.get(f)) for f in METADATA_FIELDS)
                wanted["kind"] = wanted["kind"] or "other"
                have = dict((f, existing.get(f)) for f in METADATA_FIELDS)
                planned.action = "unchanged" if wanted == have else "update"
                store.discard(planned.temp)
                planned.temp = None
            elif params["force"]:
                planned.action = "replace"
            else:
                why = ("a different file is already collected under this name (recorded sha256 %s, new sha256 %s)"
                       % (existing["sha256"], planned.digest.sha256)) if not same else (
                    "the same file is already collected with a different chain_head/events")
                conflicts.append("%s: %s; evidence is never overwritten silently: collect it under another name, "
                                 "or set force: true to keep the old copy as %s.superseded-<UTC timestamp>"
                                 % (planned.label, why, planned.name))
        if conflicts:
            raise store.EvidenceError("; ".join(conflicts))

        moment = store.utc_now()
        who = store.collector()
        tools = store.tool_info()
        after = copy.deepcopy(manifest) if manifest is not None else store.new_manifest(incident_id, moment)
        before_items = manifest["items"] if manifest is not None else []
        changed_items = []
        superseded = []
        renames = []
        for planned in plans:
            if planned.action == "unchanged":
                continue
            changed_items.append(planned.name)
            if planned.action == "update":
                current = store.find_current(after, planned.name)
                for field in METADATA_FIELDS:
                    current[field] = planned.item.get(field)
                current["kind"] = current["kind"] or "other"
                after["history"].append(dict(at=store.rfc3339(moment), action="metadata_updated",
                                             name=planned.name, sha256=current["sha256"], collector=who))
                continue
            record = _record(planned, moment, who, tools)
            if planned.action == "replace":
                old = store.find_current(after, planned.name)
                old_name = store.superseded_name(path, planned.name, moment)
                old["name"] = old_name
                old["status"] = "superseded"
                old["superseded_at"] = store.rfc3339(moment)
                old["superseded_by_sha256"] = record["sha256"]
                superseded.append(old_name)
                renames.append((planned, old_name))
                after["history"].append(dict(at=store.rfc3339(moment), action="superseded", name=planned.name,
                                             sha256=old["sha256"], superseded_copy=old_name, collector=who))
                record["replaces_sha256"] = old["sha256"]
            after["items"].append(record)
            after["history"].append(dict(at=store.rfc3339(moment), action="added", name=planned.name,
                                         sha256=record["sha256"], collector=who))

        changed = manifest is None or bool(changed_items)
        result = dict(
            changed=changed,
            manifest_path=os.path.join(path, store.MANIFEST_NAME),
            manifest_sha256=manifest_sha,
            items=after["items"] if changed else before_items,
            changed_items=changed_items,
            superseded=superseded,
            audit_snapshot=_audit_summary(after["items"]),
        )
        if module._diff:
            result["diff"] = dict(before=dict(items=store.summary(before_items)),
                                  after=dict(items=store.summary(after["items"])))
        if not changed or check_mode:
            return result

        after["updated_at"] = store.rfc3339(moment)
        after["tool"] = tools
        # Stage every new file first, so a failure leaves the bundle as it was.
        for planned in plans:
            if planned.action not in ("add", "replace") or planned.temp is not None or planned.adopt:
                continue
            if planned.origin == "content":
                planned.temp = store.bytes_to_temp(planned.data, path, planned.name)
            elif planned.spool is not None:
                planned.spool.seek(0)
                planned.temp, digest = store.stream_to_temp(planned.spool, path, planned.name)
                if digest != planned.digest:
                    raise store.EvidenceError("%s: the fetched body changed while staging it" % planned.label)
            else:
                planned.temp, digest = store.copy_to_temp(planned.item["src"], path, planned.name)
                if digest != planned.digest:
                    raise store.EvidenceError("%s: src %r changed while it was being collected; run the task again"
                                              % (planned.label, planned.item["src"]))
        for planned, old_name in renames:
            os.rename(os.path.join(path, planned.name), os.path.join(path, old_name))
        for planned in plans:
            if planned.adopt:
                os.chmod(os.path.join(path, planned.name), store.READ_ONLY)
                if store.hash_file(os.path.join(path, planned.name)) != planned.digest:
                    raise store.EvidenceError("%s: %s changed while it was being collected; run the task again"
                                              % (planned.label, planned.item["src"]))
            elif planned.action in ("add", "replace"):
                store.place_new(planned.temp, os.path.join(path, planned.name))
                planned.temp = None
        manifest_bytes = store.render_manifest(after)
        store.write_atomic(path, store.SUMS_NAME, store.render_sums(after))
        store.write_atomic(path, store.MANIFEST_NAME, manifest_bytes)
        store.write_atomic(path, store.MANIFEST_HASH_NAME, store.render_manifest_hash(manifest_bytes))
        fsync_dir(path)
        result["manifest_sha256"] = hashlib.sha256(manifest_bytes).hexdigest()
        created_dirs = []
        return result
    finally:
        for planned in plans:
            store.discard(planned.temp)
            if planned.spool is not None:
                planned.spool.close()
        if lock_fd is not None:
            os.close(lock_fd)
        # A failed first collection leaves no directory behind (only the empty ones it created).
        for directory in created_dirs:
            try:
                os.rmdir(directory)
            except OSError:
                break


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            incident_id=dict(type="str"),
            state=dict(type="str", choices=["present", "verify"], default="present"),
            items=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    name=dict(type="str", required=True),
                    src=dict(type="path"),
                    content=dict(type="str"),
                    url=dict(type="str"),
                    description=dict(type="str"),
                    source=dict(type="str"),
                    kind=dict(type="str", choices=list(store.KINDS), default="other"),
                    chain_head=dict(type="str"),
                    events=dict(type="int"),
                ),
            ),
            force=dict(type="bool", default=False),
            require_audit_snapshot=dict(type="bool", default=False),
            timeout=dict(type="float", default=30.0),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            url_max_bytes=dict(type="int", default=268435456),
        ),
        supports_check_mode=True,
    )
    if not store.HAS_BLAKE3:
        module.fail_json(msg=missing_required_lib("blake3"), exception=str(store.BLAKE3_IMPORT_ERROR))
    errors = _validate(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    try:
        if module.params["state"] == "verify":
            result = run_verify(module)
        else:
            result = run_present(module)
    except store.EvidenceError as exc:
        module.fail_json(msg=str(exc))
    except (OSError, IOError) as exc:
        module.fail_json(msg="evidence bundle %s: %s" % (module.params["path"], exc), exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
