# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keeping an incident record in a remote store as well as in ``<directory>/<id>/``: the pure parts.

A record store (``k8s/record_store``) keeps each incident's ``incident.json`` and its handoff in one remote
object. A job pulls the record into its local incident directory (an execution environment starts empty),
works on it with the ``incident`` module as always, and pushes it back. Two jobs may do so at the same time:
the remote object is only ever replaced with the version the job read (optimistic concurrency), and on a
conflict the job merges three records - the *base* it last pulled or pushed, *ours* (the local record) and
*theirs* (the remote record now) - with :func:`merge_records`:

* the timeline is the union of both (entries are append-only; identical entries once), ordered by time;
* every other top-level field takes our value where we changed it since the base, else theirs;
* without a base (a local record that was never pulled), the newer record (``updated_at``) gives the fields.

The base and the remote version are kept beside the record in ``.record-store.json``.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core import redact
from ansible_collections.airlock.incident.plugins.module_utils.incident import store
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import IncidentError, Record, merge_timeline

#: The working-copy state beside the record: remote object, its resourceVersion, the base record.
STATE_FILE = ".record-store.json"
#: The handoff kept with the record (what set_stats hands the next workflow node).
HANDOFF_FILE = "handoff.json"
#: The data keys of the remote object.
RECORD_KEY = store.RECORD_FILE
HANDOFF_KEY = HANDOFF_FILE
#: What a ConfigMap's or Secret's data may hold at most (the API server refuses more): 1 MiB.
MAX_DATA_BYTES = 1024 * 1024


def merge_records(base: t.Optional[Record], ours: t.Optional[Record], theirs: t.Optional[Record]) -> t.Optional[Record]:
    """The three-way merge of a record (see the module docstring); None when both sides have none."""
    if theirs is None or ours is None:
        return copy.deepcopy(ours if theirs is None else theirs)
    if base is None:
        newer = ours if (ours.get("updated_at") or "") > (theirs.get("updated_at") or "") else theirs
        merged = copy.deepcopy(newer)
    else:
        merged = copy.deepcopy(theirs)
        for key in ours:
            if key != "timeline" and ours[key] != base.get(key):
                merged[key] = copy.deepcopy(ours[key])
    timeline, _added = merge_timeline(theirs.get("timeline") or [], ours.get("timeline") or [],
                                      datetime.datetime.now(datetime.timezone.utc))
    merged["timeline"] = timeline
    stamps = [stamp for stamp in (ours.get("updated_at"), theirs.get("updated_at")) if stamp]
    if stamps:
        merged["updated_at"] = max(stamps)
    return merged


def without_credentials(value: t.Any) -> t.Tuple[t.Any, int]:
    """``value`` with every string's credentials masked (bearer/basic values, URL userinfo, credential query
    parameters; :func:`.redact.mask_patterns`) and how many strings were masked. The record store never keeps a
    secret, whatever a timeline entry quoted."""
    if isinstance(value, str):
        masked = redact.mask_patterns(value)
        return masked, int(masked != value)
    if isinstance(value, list):
        items = [without_credentials(item) for item in value]
        return [item for item, _count in items], sum(count for _item, count in items)
    if isinstance(value, dict):
        pairs = {key: without_credentials(item) for key, item in value.items()}
        return {key: pair[0] for key, pair in pairs.items()}, sum(pair[1] for pair in pairs.values())
    return value, 0


def object_data(record: Record, handoff: t.Mapping[str, t.Any]) -> t.Dict[str, str]:
    """The data of the remote object: the record and the handoff as JSON texts."""
    return {RECORD_KEY: store.dump_record(record), HANDOFF_KEY: json.dumps(handoff, indent=2, sort_keys=True) + "\n"}


def data_size(data: t.Mapping[str, str]) -> int:
    """Bytes the API server counts against the 1 MiB limit: every key and value."""
    return sum(len(key.encode("utf-8")) + len(value.encode("utf-8")) for key, value in data.items())


def check_size(data: t.Mapping[str, str], record: Record, where: str) -> None:
    """Refuse, before anything is sent, a record the object cannot hold, saying how big it is and what to do."""
    size = data_size(data)
    if size > MAX_DATA_BYTES:
        raise IncidentError(
            "the record of %s is %d bytes (%d timeline entries) and %s holds at most %d bytes (1 MiB, the "
            "Kubernetes limit of a ConfigMap or Secret); nothing was pushed. Keep this incident in the file store "
            "(airlock_incident_record_store=file) on shared storage, or move bulky text out of the timeline into "
            "evidence" % (record.get("id"), size, len(record.get("timeline") or []), where, MAX_DATA_BYTES),
            size=size, limit=MAX_DATA_BYTES)


def default_handoff(record: Record) -> t.Dict[str, t.Any]:
    """The handoff kept with a record when the caller gives none: where the record is, relative to the
    incident directory, and its status."""
    incident_id = record["id"]
    return {"id": incident_id, "status": record.get("status") or "",
            "record": "%s/%s" % (incident_id, store.RECORD_FILE), "report": "%s/%s" % (incident_id, store.REPORT_FILE)}


def parse_record(text: t.Optional[str], where: str) -> t.Optional[Record]:
    """A record from its JSON text (None for none); IncidentError naming ``where`` when it is not one."""
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise IncidentError("%s does not hold a valid incident record (invalid JSON: %s); fix or delete it" % (where, exc)) from exc
    if not isinstance(record, dict) or not record.get("id"):
        raise IncidentError("%s does not hold a valid incident record (no id); fix or delete it" % where)
    return record


def read_state(case_dir: str) -> t.Dict[str, t.Any]:
    """The working-copy state beside the record (empty when there is none or it is unreadable)."""
    text = store.read_text(os.path.join(case_dir, STATE_FILE))
    if text is None:
        return {}
    try:
        state = json.loads(text)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def write_state(case_dir: str, state: t.Mapping[str, t.Any]) -> None:
    store.atomic_write(os.path.join(case_dir, STATE_FILE), json.dumps(state, indent=2, sort_keys=True) + "\n")


def write_handoff(case_dir: str, handoff: t.Optional[t.Mapping[str, t.Any]]) -> bool:
    """Write the handoff beside the record when it differs; whether it was written."""
    if handoff is None:
        return False
    text = json.dumps(handoff, indent=2, sort_keys=True) + "\n"
    path = os.path.join(case_dir, HANDOFF_FILE)
    if store.read_text(path) == text:
        return False
    store.atomic_write(path, text)
    return True


def read_handoff(case_dir: str) -> t.Optional[t.Dict[str, t.Any]]:
    text = store.read_text(os.path.join(case_dir, HANDOFF_FILE))
    if text is None:
        return None
    try:
        handoff = json.loads(text)
    except ValueError:
        return None
    return handoff if isinstance(handoff, dict) else None
