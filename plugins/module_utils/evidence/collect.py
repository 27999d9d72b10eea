# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading one requested evidence item: its source (a file, text or a URL), its hashes, its record.

A :class:`Planned` item is acquired once: text is hashed in memory, a file is
copied into the bundle while it is hashed (or only hashed when the name is
already collected or in check mode), a URL is fetched with GET and its body
streamed the same way. :func:`record` builds its manifest entry.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import typing as t
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit

from ansible.module_utils.urls import open_url

from ansible_collections.airlock.incident.plugins.module_utils.core.redact import mask_patterns
from ansible_collections.airlock.incident.plugins.module_utils.evidence import hashing
from ansible_collections.airlock.incident.plugins.module_utils.evidence import store
from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import EvidenceError

Item = t.Dict[str, t.Any]
#: Spooled URL bodies stay in memory up to this size.
SPOOL_MEMORY = 16 * 1024 * 1024


def label(index: int, item: t.Mapping[str, t.Any]) -> str:
    """How an item is named in messages: ``items[2] (name 'pod-logs.txt')``."""
    return "items[%d] (name %r)" % (index, item.get("name"))


def safe_url(url: str) -> str:
    """The URL without user:password@ and with credential query values masked (``?token=***``): what is
    recorded in the manifest and shown in messages (``core/redact``)."""
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return mask_patterns(url)
    except ValueError:
        return mask_patterns(url)
    host = parts.hostname or ""
    if parts.port:
        host = "%s:%d" % (host, parts.port)
    return mask_patterns(urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)))


def fetch(params: t.Mapping[str, t.Any], where: str, url: str) -> t.Tuple[t.Any, int]:
    """(response-like object, HTTP status) for a GET; EvidenceError when nothing came back."""
    try:
        response = open_url(
            url,
            method="GET",
            timeout=params["timeout"],
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
            follow_redirects="safe",
            http_agent="airlock.incident/%s evidence" % store.COLLECTION_VERSION,
        )
        return response, response.getcode()
    except HTTPError as exc:
        # 4xx/5xx still carry a body worth preserving (a 503 from /ready is evidence).
        return exc, exc.code
    except (URLError, OSError, ValueError) as exc:
        raise EvidenceError("%s: fetching %s failed: %s" % (where, safe_url(url), exc)) from exc


class Planned:
    """One requested item after its source was read."""

    def __init__(self, index: int, item: Item) -> None:
        self.index = index
        self.item = item
        self.label = label(index, item)
        self.name: str = item["name"]
        self.origin = next(key for key in store.SOURCES if item.get(key) is not None)
        self.digest: t.Optional[hashing.Digest] = None
        self.temp: t.Optional[str] = None  # temp file in the bundle holding the new content
        self.data: t.Optional[bytes] = None  # bytes for content items
        self.http_status: t.Optional[int] = None
        self.action: t.Optional[str] = None  # add | replace | update | unchanged
        self.existing: t.Optional[Item] = None
        self.adopt = False  # src is the bundle file itself
        self.spool: t.Optional[t.IO[bytes]] = None  # fetched body of a URL item kept outside the bundle

    @property
    def digest_(self) -> hashing.Digest:
        """The digest, once acquired."""
        return t.cast(hashing.Digest, self.digest)

    def same_as_existing(self) -> bool:
        """The acquired content is the content already recorded under this name."""
        existing = self.existing or {}
        digest = self.digest_
        return (digest.sha256 == existing.get("sha256") and digest.blake3 == existing.get("blake3")
                and digest.size == existing.get("size"))

    def snapshot_changed(self) -> bool:
        """An audit snapshot item whose chain head, event count or kind differs from the record."""
        existing = self.existing or {}
        if self.item.get("kind") != "audit_snapshot" and existing.get("kind") != "audit_snapshot":
            return False
        return ((self.item.get("chain_head") or None) != existing.get("chain_head")
                or self.item.get("events") != existing.get("events")
                or self.item.get("kind") != existing.get("kind"))

    def close(self) -> None:
        """Drop the staged temp file and the spooled body (nothing is left behind)."""
        hashing.discard(self.temp)
        self.temp = None
        if self.spool is not None:
            self.spool.close()
            self.spool = None


class _Tee:
    """A reader that copies what it reads into ``sink``."""

    def __init__(self, reader: t.Any, sink: t.IO[bytes]) -> None:
        self.reader = reader
        self.sink = sink

    def read(self, size: int) -> bytes:
        block = self.reader.read(size)
        if block:
            self.sink.write(block)
        return block


def _acquire_src(planned: Planned, path: str, check_mode: bool) -> None:
    src = planned.item["src"]
    if planned.existing is None and not planned.adopt and not check_mode:
        # New name: copy and hash in one pass.
        planned.temp, planned.digest = hashing.copy_to_temp(src, path, planned.name)
    else:
        # Already collected, check mode, or already written into the bundle (e.g. a redirect):
        # hashed where it is.
        planned.digest = hashing.hash_file(src)


def _acquire_url(planned: Planned, params: t.Mapping[str, t.Any], path: str, check_mode: bool) -> None:
    url = planned.item["url"]
    max_bytes = params["url_max_bytes"]
    response, planned.http_status = fetch(params, planned.label, url)
    try:
        if check_mode:
            planned.digest = hashing.hash_stream(response, max_bytes)
        elif planned.existing is not None:
            # Maybe unchanged: keep the body outside the bundle until we know.
            planned.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)
            planned.digest = hashing.hash_stream(_Tee(response, planned.spool), max_bytes)
        else:
            planned.temp, planned.digest = hashing.stream_to_temp(response, path, planned.name, max_bytes)
    except EvidenceError as exc:
        raise EvidenceError("%s: the response of %s has %s (url_max_bytes)" % (
            planned.label, safe_url(url), exc)) from exc
    except (OSError, ValueError) as exc:
        raise EvidenceError("%s: reading %s failed: %s" % (planned.label, safe_url(url), exc)) from exc
    finally:
        try:
            response.close()
        except Exception:  # pylint: disable=broad-except
            pass


def acquire(planned: Planned, params: t.Mapping[str, t.Any], path: str, check_mode: bool) -> None:
    """Read (and, outside check mode, stage in the bundle) the content of one item."""
    if planned.origin == "content":
        planned.data = planned.item["content"].encode("utf-8", "surrogateescape")
        planned.digest = hashing.hash_bytes(planned.data)
    elif planned.origin == "src":
        _acquire_src(planned, path, check_mode)
    else:
        _acquire_url(planned, params, path, check_mode)


def stage(planned: Planned, path: str) -> None:
    """Write a new item's content to a temp file in the bundle if acquiring it did not already."""
    if planned.origin == "content":
        planned.temp = hashing.bytes_to_temp(t.cast(bytes, planned.data), path, planned.name)
        return
    if planned.spool is not None:
        planned.spool.seek(0)
        planned.temp, digest = hashing.stream_to_temp(planned.spool, path, planned.name)
        if digest != planned.digest:
            raise EvidenceError("%s: the fetched body changed while staging it" % planned.label)
        return
    planned.temp, digest = hashing.copy_to_temp(planned.item["src"], path, planned.name)
    if digest != planned.digest:
        raise EvidenceError("%s: src %r changed while it was being collected; run the task again"
                            % (planned.label, planned.item["src"]))


def record(planned: Planned, moment: datetime.datetime, who: t.Dict[str, str],
           tools: t.Dict[str, str]) -> Item:
    """The manifest entry of a newly collected item."""
    item = planned.item
    digest = planned.digest_
    entry: Item = dict(
        name=planned.name,
        kind=item.get("kind") or "other",
        description=item.get("description"),
        source=item.get("source"),
        origin=planned.origin,
        origin_ref=None,
        size=digest.size,
        sha256=digest.sha256,
        blake3=digest.blake3,
        collected_at=store.rfc3339(moment),
        collector=who,
        tool=tools,
        status="current",
    )
    if planned.origin == "src":
        entry["origin_ref"] = os.path.abspath(item["src"])
    elif planned.origin == "url":
        entry["origin_ref"] = safe_url(item["url"])
        entry["http_status"] = planned.http_status
    if entry["kind"] == "audit_snapshot":
        entry["chain_head"] = item.get("chain_head") or None
        entry["events"] = item.get("events")
    return entry


def audit_summary(items: t.Iterable[Item]) -> t.Optional[Item]:
    """Chain head and event count of the current audit snapshot item, if any."""
    for item in items:
        if item.get("status", "current") == "current" and item.get("kind") == "audit_snapshot":
            return dict(name=item["name"], chain_head=item.get("chain_head"), events=item.get("events"))
    return None
