# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``evidence`` task: collect items into a bundle (``present``) or re-hash it (``verify``).

Order of a collection, so that a failure leaves the bundle as it was:

1. every option and item is checked (:func:`validate`), the manifest is read
   and must match its own hash, names already in the bundle are checked;
2. the bundle directory is created and locked (``fcntl.flock``: a second run
   waits its turn, then reads the bundle as the first one left it); what an
   interrupted run left is repaired (:func:`.journal.recover`); sources are read
   and hashed into a staging directory, names already collected first, so a
   conflict fails before anything new is staged;
3. the new manifest is built in memory; in check mode the task stops here;
4. new files, ``SHA256SUMS``, ``manifest.json`` and its hash are staged and the
   run is committed (:class:`.journal.Staging`), then published: superseded
   copies renamed, new files linked into place read-only, the manifest files
   replaced. A crash or a full disk after the commit is completed by the next
   run; before it, nothing was visible and the staging directory is removed.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import os
import stat
import typing as t
from urllib.parse import urlsplit

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import incident_id_error
from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import validate_ca_path
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError, choices_message
from ansible_collections.airlock.incident.plugins.module_utils.core import fileutil
from ansible_collections.airlock.incident.plugins.module_utils.core.timefmt import utc_now
from ansible_collections.airlock.incident.plugins.module_utils.evidence import collect, hashing, journal, store
from ansible_collections.airlock.incident.plugins.module_utils.evidence.collect import Planned
from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import EvidenceError

METADATA_FIELDS = ("kind", "description", "source")
Params = t.Mapping[str, t.Any]
Result = t.Dict[str, t.Any]
MISSING_SNAPSHOT = (
    "require_audit_snapshot: the bundle has no audit snapshot with a chain head. Snapshot the audit "
    "database with airlock.incident.audit_snapshot and add it as an item with kind: audit_snapshot, "
    "chain_head and events: the hash chain proves integrity only against a head recorded at collection "
    "time")


# -------------------------------------------------------------------- inputs


def _src_error(src: str) -> t.Optional[str]:
    if not os.path.exists(src):
        return "src %r does not exist" % src
    if not os.path.isfile(src):
        return "src %r is not a regular file" % src
    if not os.access(src, os.R_OK):
        return "src %r is not readable" % src
    return None


def _snapshot_error(item: t.Mapping[str, t.Any]) -> t.Optional[str]:
    if item.get("kind") == "audit_snapshot":
        if item.get("events") is None:
            return ("kind audit_snapshot needs chain_head and events (as returned by "
                    "airlock.incident.audit_snapshot)")
        return store.validate_chain_head(item.get("chain_head"), item.get("events"))
    if item.get("chain_head") is not None or item.get("events") is not None:
        return "chain_head and events are only accepted with kind audit_snapshot"
    return None


def _item_errors(item: t.Mapping[str, t.Any]) -> t.List[str]:
    """The problems of one item's source and snapshot fields (its name is checked by the caller)."""
    errors = []
    given = [key for key in store.SOURCES if item.get(key) is not None]
    if len(given) != 1:
        errors.append("give exactly one source among %s; got %s" % (
            ", ".join(store.SOURCES), ", ".join(given) if given else "none"))
    if item.get("src") is not None:
        errors.append(_src_error(item["src"]) or "")
    if item.get("url") is not None:
        scheme = urlsplit(item["url"]).scheme.lower()
        if scheme not in ("http", "https"):
            errors.append(choices_message("url scheme", scheme, ["http", "https"]))
    errors.append(_snapshot_error(item) or "")
    return [error for error in errors if error]


def _option_errors(params: Params) -> t.List[str]:
    errors = []
    state = params["state"]
    if state == "present" or params.get("incident_id"):
        error = incident_id_error(params.get("incident_id"), required=state == "present")
        if error:
            errors.append(error + (" (required with state=present)" if state == "present" else ""))
    if params["url_max_bytes"] < 1:
        errors.append("url_max_bytes: must be at least 1")
    if params["timeout"] <= 0:
        errors.append("timeout: must be greater than 0")
    try:
        validate_ca_path(params.get("ca_path"))
    except InputError as exc:
        errors.append(exc.msg)
    if state == "verify" and params["items"]:
        errors.append("items: not accepted with state=verify (verify checks what the manifest lists)")
    return errors


def validate(params: Params) -> t.List[str]:
    """Every input problem, before anything is touched."""
    errors = _option_errors(params)
    seen: t.Dict[str, int] = {}
    for index, item in enumerate(params["items"] or []):
        where = collect.label(index, item)
        problem = store.validate_name(item.get("name"))
        if problem:
            errors.append("%s: name is invalid: %s" % (where, problem))
        elif item["name"] in seen:
            errors.append("%s: name is also used by items[%d]; names must be unique" % (where, seen[item["name"]]))
        else:
            seen[item["name"]] = index
        errors.extend("%s: %s" % (where, error) for error in _item_errors(item))
    return errors


def _check_owner(path: str, manifest: t.Optional[store.Manifest], incident_id: t.Optional[str]) -> None:
    if manifest is not None and incident_id and manifest.get("incident_id") != incident_id:
        raise EvidenceError("incident_id: the bundle at %s belongs to incident %r, not %r" % (
            path, manifest.get("incident_id"), incident_id))


# -------------------------------------------------------------------- verify


def run_verify(params: Params) -> Result:
    """Re-hash every listed file; a tampered bundle is a result (``verified`` false), never a failure."""
    path = params["path"]
    if not os.path.isdir(path):
        raise EvidenceError("path: %r is not an evidence bundle directory" % path)
    verified, mismatches, checked = store.verify_bundle(path)
    leftovers, pending = journal.leftovers(path)
    try:
        manifest, manifest_sha, _problems = store.read_manifest(path)
    except (EvidenceError, fileutil.UnsafePathError):
        manifest, manifest_sha = None, None
    items = manifest["items"] if manifest else []
    _check_owner(path, manifest, params.get("incident_id"))
    if params["require_audit_snapshot"] and not store.has_chain_head(items):
        raise EvidenceError(MISSING_SNAPSHOT)
    if verified:
        msg = "bundle %s verified: %d items match the manifest" % (path, checked)
    else:
        msg = "bundle %s does NOT match its manifest: %s" % (
            path, ", ".join("%s %s" % (m["name"], m["reason"]) for m in mismatches))
    if leftovers:
        msg += "; ignored what an interrupted collection left: %s" % ", ".join(leftovers)
    if pending:
        msg += ("; %s was committed but not completely published: run state=present on this bundle "
                "(items may be empty) to complete it" % ", ".join(pending))
    return dict(
        leftovers=leftovers,
        changed=False,
        msg=msg,
        verified=verified,
        mismatches=mismatches,
        manifest_path=os.path.join(path, store.MANIFEST_NAME),
        manifest_sha256=manifest_sha,
        items=items,
        changed_items=[],
        audit_snapshot=collect.audit_summary(items),
    )


# ------------------------------------------------------------------- present


def _conflict(planned: Planned) -> str:
    existing = planned.existing or {}
    if not planned.same_as_existing():
        why = "a different file is already collected under this name (recorded sha256 %s, new sha256 %s)" % (
            existing.get("sha256"), planned.digest_.sha256)
    else:
        why = "the same file is already collected with a different chain_head/events"
    return ("%s: %s; evidence is never overwritten silently: collect it under another name, "
            "or set force: true to keep the old copy as %s.superseded-<UTC timestamp>"
            % (planned.label, why, planned.name))


class _Collection:
    """One ``state=present`` run on one bundle."""

    def __init__(self, params: Params, check_mode: bool) -> None:
        self.params = params
        self.path: str = params["path"]
        self.check_mode = check_mode
        self.plans = [Planned(index, item) for index, item in enumerate(params["items"])]
        self.manifest: t.Optional[store.Manifest] = None
        self.manifest_sha: t.Optional[str] = None
        self.exists = False
        self.created_dirs: t.List[str] = []
        self.lock_fd: t.Optional[int] = None
        self.renames: t.List[t.Tuple[Planned, str]] = []
        self.staging: t.Optional[journal.Staging] = None
        self.recovered: t.List[str] = []

    # -- before anything is touched ------------------------------------------
    def read_bundle(self) -> None:
        path = self.path
        if os.path.lexists(path) and not os.path.isdir(path):
            raise EvidenceError("path: %r exists and is not a directory" % path)
        self.exists = os.path.isdir(path)
        problems: t.List[store.Item] = []
        if self.exists and self.check_mode and journal.leftovers(path)[1]:
            raise EvidenceError("%s holds a committed collection that was interrupted before it was completely "
                                "published (%s); run without check mode to complete it"
                                % (path, ", ".join(journal.leftovers(path)[1])))
        if self.exists:
            self.manifest, self.manifest_sha, problems = store.read_manifest(path)
        if problems:
            raise EvidenceError(
                "%s does not match %s (%s); the bundle may have been altered: run state=verify and investigate "
                "before adding evidence" % (store.MANIFEST_NAME, store.MANIFEST_HASH_NAME,
                                            ", ".join("%s %s" % (p["name"], p["reason"]) for p in problems)))
        if self.manifest is not None and self.manifest.get("incident_id") != self.params["incident_id"]:
            _check_owner(path, self.manifest, self.params["incident_id"])

    def _name_error(self, planned: Planned) -> t.Optional[str]:
        target = os.path.join(self.path, planned.name)
        planned.existing = store.find_current(self.manifest, planned.name) if self.manifest else None
        src = planned.item.get("src")
        planned.adopt = (planned.existing is None and src is not None and os.path.lexists(target)
                         and os.path.realpath(src) == os.path.realpath(target))
        if planned.adopt:
            return None
        if planned.existing is None and os.path.lexists(target):
            return ("%s: a file named %s is already in the bundle (a superseded copy, or not in its "
                    "manifest); nothing is overwritten: choose another name" % (planned.label, planned.name))
        if planned.existing is None:
            return None
        info = fileutil.lstat_or_none(target)
        if info is None or not stat.S_ISREG(info.st_mode):
            return ("%s: recorded in the manifest but missing from the bundle (or replaced by a link or a "
                    "non-regular file); run state=verify" % planned.label)
        if info.st_size != planned.existing["size"]:
            return "%s: the bundle copy no longer has its recorded size; run state=verify" % planned.label
        return None

    def check_names(self) -> None:
        errors = [error for error in (self._name_error(planned) for planned in self.plans) if error]
        if errors:
            raise EvidenceError("; ".join(errors))

    def check_snapshot_required(self) -> None:
        if not self.params["require_audit_snapshot"]:
            return
        requested = set(p.name for p in self.plans)
        after = [i for i in (store.current_items(self.manifest) if self.manifest else []) if i["name"] not in requested]
        after.extend(dict(kind=p.item.get("kind"), chain_head=p.item.get("chain_head")) for p in self.plans)
        if not store.has_chain_head(after):
            raise EvidenceError(MISSING_SNAPSHOT)

    # -- the bundle directory ---------------------------------------------------
    def _lock(self) -> None:
        """Wait for the bundle lock, then repair what an interrupted run left."""
        self.lock_fd = fileutil.open_dir(self.path)
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        self.recovered.extend(journal.recover(self.path))

    def lock_existing(self) -> None:
        """Outside check mode, lock an existing bundle before reading it (a second run waits its turn)."""
        if not self.check_mode and os.path.isdir(self.path):
            self._lock()

    def open_directory(self) -> None:
        """Create (outside check mode) and lock the bundle, and open this run's staging directory.

        When another run created the bundle meanwhile, it is read again (under the lock) and the names
        are checked again, so the second run completes instead of failing.
        """
        if self.check_mode:
            return
        path = self.path
        if self.lock_fd is None:
            if not self.exists:
                missing = path
                while missing and not os.path.exists(missing):
                    self.created_dirs.append(missing)
                    missing = os.path.dirname(missing.rstrip(os.sep))
                os.makedirs(path, store.DIR_MODE, exist_ok=True)
            self._lock()
            _manifest, sha_now, _problems = store.read_manifest(path)
            if sha_now != self.manifest_sha:
                self.created_dirs = []  # another run's bundle: never removed by this one
                self.read_bundle()
                self.check_names()
                self.check_snapshot_required()

    def staging_path(self) -> str:
        """This run's staging directory, created when the first new file is staged (a run that adds
        nothing leaves the bundle directory untouched, its mtime included)."""
        if self.staging is None:
            self.staging = journal.Staging(self.path)
            self.staging.create()
        return self.staging.path

    def close(self, succeeded: bool) -> None:
        for planned in self.plans:
            planned.close()
        if self.staging is not None:
            self.staging.discard()
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None
        if succeeded:
            return
        # A failed first collection leaves no directory behind (only the empty ones it created).
        for directory in self.created_dirs:
            try:
                os.rmdir(directory)
            except OSError:
                break

    # -- deciding -----------------------------------------------------------------
    def _decide(self, planned: Planned) -> t.Optional[str]:
        """Set ``planned.action``; the conflict when the name is taken by other content and force is off."""
        if planned.existing is None:
            planned.action = "add"
            return None
        if planned.same_as_existing() and not planned.snapshot_changed():
            wanted = dict((f, planned.item.get(f)) for f in METADATA_FIELDS)
            wanted["kind"] = wanted["kind"] or "other"
            have = dict((f, planned.existing.get(f)) for f in METADATA_FIELDS)
            planned.action = "unchanged" if wanted == have else "update"
            hashing.discard(planned.temp)
            planned.temp = None
            return None
        if self.params["force"] or planned.item.get("versioned"):
            planned.action = "replace"
            return None
        return _conflict(planned)

    def acquire_all(self) -> None:
        """Read every source; names already in the bundle first (read-only), so a conflict fails first."""
        conflicts: t.List[str] = []
        for planned in sorted(self.plans, key=lambda p: p.existing is None):
            if conflicts and planned.existing is None:
                break
            # Only a new name outside check mode is copied while it is read (into the staging directory).
            where = self.staging_path() if planned.existing is None and not self.check_mode else self.path
            collect.acquire(planned, self.params, where, self.check_mode)
            conflict = self._decide(planned)
            if conflict:
                conflicts.append(conflict)
        if conflicts:
            raise EvidenceError("; ".join(conflicts))

    # -- the new manifest ---------------------------------------------------------
    def build_manifest(self) -> t.Tuple[store.Manifest, t.List[str], t.List[str]]:
        """The manifest after this run: ``(manifest, changed item names, superseded copy names)``."""
        moment = utc_now()
        who = store.collector()
        tools = store.tool_info()
        after = copy.deepcopy(self.manifest) if self.manifest is not None else store.new_manifest(
            self.params["incident_id"], moment)
        changed_items: t.List[str] = []
        superseded: t.List[str] = []
        for planned in self.plans:
            if planned.action == "unchanged":
                continue
            changed_items.append(planned.name)
            if planned.action == "update":
                _update_metadata(after, planned, moment, who)
                continue
            entry = collect.record(planned, moment, who, tools)
            if planned.action == "replace":
                old_name = _supersede(after, self.path, planned, entry, moment, who)
                superseded.append(old_name)
                self.renames.append((planned, old_name))
            after["items"].append(entry)
            after["history"].append(dict(at=store.rfc3339(moment), action="added", name=planned.name,
                                         sha256=entry["sha256"], collector=who))
        after["updated_at"] = store.rfc3339(moment)
        after["tool"] = tools
        return after, changed_items, superseded

    # -- writing ------------------------------------------------------------------
    def write(self, after: store.Manifest) -> str:
        """Stage and commit the new files and manifest, then publish them; the new manifest's SHA-256."""
        path = self.path
        self.staging_path()
        staging = t.cast(journal.Staging, self.staging)
        for planned in self.plans:
            if planned.action in ("add", "replace") and planned.temp is None and not planned.adopt:
                collect.stage(planned, staging.path)
        for planned in self.plans:
            if planned.adopt:
                target = os.path.join(path, planned.name)
                os.chmod(target, store.READ_ONLY)
                if hashing.hash_file(target, nofollow=True) != planned.digest:
                    raise EvidenceError("%s: %s changed while it was being collected; run the task again"
                                        % (planned.label, planned.item["src"]))
        items = [(p.name, t.cast(str, p.temp)) for p in self.plans
                 if p.action in ("add", "replace") and not p.adopt]
        manifest_bytes = store.render_manifest(after)
        staging.commit([(p.name, old_name) for p, old_name in self.renames], items, {
            store.SUMS_NAME: store.render_sums(after),
            store.MANIFEST_NAME: manifest_bytes,
            store.MANIFEST_HASH_NAME: store.render_manifest_hash(manifest_bytes)})
        for planned in self.plans:
            planned.temp = None  # owned by the committed staging directory now
        try:
            staging.publish()
        except (OSError, EvidenceError) as exc:
            raise EvidenceError("evidence bundle %s: the collection was committed (%s) but publishing it failed: "
                                "%s; the next run on this bundle completes it (state=verify reports it meanwhile)"
                                % (path, staging.name, exc)) from exc
        return hashlib.sha256(manifest_bytes).hexdigest()

    def run(self) -> Result:
        succeeded = False
        try:
            self.lock_existing()
            self.read_bundle()
            self.check_names()
            self.check_snapshot_required()
            self.open_directory()
            self.acquire_all()
            after, changed_items, superseded = self.build_manifest()
            before_items = self.manifest["items"] if self.manifest is not None else []
            changed = self.manifest is None or bool(changed_items)
            result = dict(
                changed=changed,
                manifest_path=os.path.join(self.path, store.MANIFEST_NAME),
                manifest_sha256=self.manifest_sha,
                items=after["items"] if changed else before_items,
                changed_items=changed_items,
                superseded=superseded,
                audit_snapshot=collect.audit_summary(after["items"]),
                diff=dict(before=dict(items=store.summary(before_items)),
                          after=dict(items=store.summary(after["items"]))),
                msg=_present_summary(self.path, changed_items, superseded, changed, self.check_mode),
            )
            if self.recovered:
                result["recovered"] = self.recovered
                result["msg"] = "%s; repaired first: %s" % (result["msg"], "; ".join(self.recovered))
            if changed and not self.check_mode:
                result["manifest_sha256"] = self.write(after)
            succeeded = True
            return result
        finally:
            self.close(succeeded)


def _update_metadata(after: store.Manifest, planned: Planned, moment: t.Any, who: t.Dict[str, str]) -> None:
    current = t.cast(store.Item, store.find_current(after, planned.name))
    for field in METADATA_FIELDS:
        current[field] = planned.item.get(field)
    current["kind"] = current["kind"] or "other"
    after["history"].append(dict(at=store.rfc3339(moment), action="metadata_updated",
                                 name=planned.name, sha256=current["sha256"], collector=who))


def _supersede(after: store.Manifest, path: str, planned: Planned, entry: store.Item, moment: t.Any,
               who: t.Dict[str, str]) -> str:
    """Mark the current record of ``planned.name`` superseded by ``entry``; the old copy's new name."""
    old = t.cast(store.Item, store.find_current(after, planned.name))
    old_name = store.superseded_name(path, planned.name, moment)
    old["name"] = old_name
    old["status"] = "superseded"
    old["superseded_at"] = store.rfc3339(moment)
    old["superseded_by_sha256"] = entry["sha256"]
    after["history"].append(dict(at=store.rfc3339(moment), action="superseded", name=planned.name,
                                 sha256=old["sha256"], superseded_copy=old_name, collector=who))
    entry["replaces_sha256"] = old["sha256"]
    return old_name


def _present_summary(path: str, changed_items: t.List[str], superseded: t.List[str], changed: bool,
                     check_mode: bool) -> str:
    if not changed:
        return "bundle %s already holds every item unchanged" % path
    verb = "would collect" if check_mode else "collected"
    msg = "%s %d item(s) into %s" % (verb, len(changed_items), path)
    if changed_items:
        msg += ": %s" % ", ".join(changed_items)
    if superseded:
        msg += "; old copies kept as %s" % ", ".join(superseded)
    return msg


def run_present(params: Params, check_mode: bool = False) -> Result:
    """Collect ``params["items"]`` into the bundle at ``params["path"]``; the module result."""
    return _Collection(params, check_mode).run()


def run_evidence(params: Params, check_mode: bool = False) -> Result:
    """The ``evidence`` task on validated options: ``present`` or ``verify``."""
    try:
        if params["state"] == "verify":
            return run_verify(params)
        return run_present(params, check_mode)
    except OSError as exc:
        raise EvidenceError("evidence bundle %s: %s" % (params["path"], exc)) from exc
