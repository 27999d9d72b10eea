# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Performance and memory mitigations on Kubernetes: the logic shared by the
``resources`` and ``hpa`` modules.

Pure parts (no client calls, unit-tested with literal dicts): validating and
merging container requests/limits, comparing them by value, planning an HPA
change, the undo records kept in an annotation, JSON-patch operations, and the
OOMKilled evidence of pods. The parts that talk to the API server
:class:`.client.K8s` live in :mod:`.deployments`.

Undo records: each module keeps one annotation on the object it changes (the
Deployment's own metadata for resources, not its pod template, so recording
does not roll pods; the HPA's metadata for the HPA) holding a JSON object keyed
by ``<incident_id>/<action>``. A record keeps the values from before the first
change of that incident action (``previous``), what was applied (``applied``),
when, and when it was reverted. Records are added, never replaced: a rerun of
the same action keeps the original ``previous``.
"""

from __future__ import annotations

import copy
import json
import time

import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s import actions as k8s_actions
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import json_pointer
from ansible_collections.airlock.incident.plugins.module_utils.k8s.quantity import (
    QuantityError,
    check_resource,
    equal as quantity_equal,
    parse as parse_quantity,
)

RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
SECTIONS = ("requests", "limits")
RESOURCES_UNDO = "airlock.incident/resources-undo"
HPA_UNDO = "airlock.incident/hpa-undo"
#: Below this memory limit Airlock (Go runtime, OPA engine, SQLite) does not get through its start.
DEFAULT_MEMORY_FLOOR = "128Mi"
#: The implicit target of an autoscaling/v2 HPA without metrics.
DEFAULT_HPA_CPU = 80

Obj = t.Dict[str, t.Any]


def utc_now() -> str:
    """Now, UTC, to the second (``2026-01-01T12:00:00Z``): when a record was written."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------- container resources

def normalize_section(section: str, value: t.Any) -> t.Tuple[t.Dict[str, t.Optional[str]], t.List[str]]:
    """The ``requests``/``limits`` option -> (``{name: text or None}``, errors). None removes a value."""
    if value is None:
        return {}, []
    if not isinstance(value, dict):
        return {}, ["%s: invalid value %r; accepted values: a mapping of cpu, memory, ephemeral-storage to quantities" % (section, value)]
    out: t.Dict[str, t.Optional[str]] = {}
    errors: t.List[str] = []
    for key in sorted(value):
        field = "%s.%s" % (section, key)
        if key not in RESOURCE_NAMES:
            errors.append("%s: unknown resource %r; accepted values: %s" % (section, key, ", ".join(RESOURCE_NAMES)))
            continue
        raw = value[key]
        if raw is None or raw == "":
            out[key] = None
            continue
        try:
            out[key] = check_resource(field, key, raw).text
        except QuantityError as exc:
            errors.append(str(exc))
    return out, errors


def validate_wanted(requests: t.Any, limits: t.Any, memory_floor: t.Any,
                    need_change: bool = True) -> t.Tuple[t.Dict[str, t.Dict[str, t.Optional[str]]], t.List[str]]:
    """Check the wanted requests/limits on their own (before any API call).

    Returns ``(wanted, errors)`` with ``wanted = {"requests": {...}, "limits": {...}}``.
    """
    errors = []
    wanted = {}
    for section, value in (("requests", requests), ("limits", limits)):
        wanted[section], errs = normalize_section(section, value)
        errors.extend(errs)
    floor = None
    try:
        floor = check_resource("min_memory_limit", "memory", memory_floor)
    except QuantityError as exc:
        errors.append(str(exc))
    if need_change and not errors and not wanted["requests"] and not wanted["limits"]:
        errors.append("requests/limits: nothing to change; give at least one of requests or limits with cpu, memory or "
                      "ephemeral-storage (for example limits: {memory: 1Gi})")
    if errors:
        return wanted, errors
    for key in RESOURCE_NAMES:
        req, lim = wanted["requests"].get(key), wanted["limits"].get(key)
        if req is not None and lim is not None and parse_quantity(req) > parse_quantity(lim):
            errors.append("requests.%s: %s is more than limits.%s %s; Kubernetes refuses a request above its limit"
                          % (key, req, key, lim))
    mem = wanted["limits"].get("memory")
    if mem is not None and floor is not None and floor.value > 0 and parse_quantity(mem) < floor:
        errors.append("limits.memory: %s is below min_memory_limit %s; Airlock (Go runtime, OPA policy engine, SQLite audit) "
                      "is OOMKilled at start below that; lower min_memory_limit (0 disables the floor) only if you know the "
                      "process fits" % (mem, floor.text))
    return wanted, errors


def find_container(dep: Obj, container: str) -> t.Tuple[t.Optional[int], t.Optional[Obj]]:
    """(index, container dict) of the named container in a Deployment's pod template, or (None, None)."""
    containers = (((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    for index, c in enumerate(containers):
        if c.get("name") == container:
            return index, c
    return None, None


def container_names(dep: Obj) -> t.List[str]:
    """The names of the containers of the Deployment's pod template."""
    return [c.get("name") for c in (((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []]


def clean_resources(res: t.Optional[Obj]) -> Obj:
    """A copy of a container's resources without empty sections (what the API server stores)."""
    out = copy.deepcopy(res or {})
    for section in SECTIONS:
        if section in out and not out[section]:
            del out[section]
    return out


def merge_resources(current: t.Optional[Obj], wanted: t.Mapping[str, t.Any]) -> Obj:
    """The container's resources after applying ``wanted`` (None removes a value).

    A value equal to the current one (``1Gi`` for ``1024Mi``) keeps the current text, so
    an equal value is no change at all. Keys other than requests/limits (``claims``) are kept.
    """
    new = clean_resources(current)
    for section in SECTIONS:
        values = dict(new.get(section) or {})
        for key, text in (wanted.get(section) or {}).items():
            if text is None:
                values.pop(key, None)
            elif key in values and _same_value(values[key], text):
                continue
            else:
                values[key] = text
        if values:
            new[section] = values
        else:
            new.pop(section, None)
    return new


def _same_value(a: t.Any, b: t.Any) -> bool:
    try:
        return quantity_equal(a, b)
    except QuantityError:
        return a == b


def same_resources(a: t.Optional[Obj], b: t.Optional[Obj]) -> bool:
    """True when two resources mappings hold the same amounts (compared by value)."""
    a, b = clean_resources(a), clean_resources(b)
    for section in SECTIONS:
        va, vb = a.pop(section, {}) or {}, b.pop(section, {}) or {}
        if set(va) != set(vb):
            return False
        if not all(_same_value(va[k], vb[k]) for k in va):
            return False
    return a == b


def resource_changes(before: t.Optional[Obj], after: t.Optional[Obj]) -> t.List[str]:
    """``["limits.memory: 512Mi -> 1Gi", "limits.cpu: 1 -> (removed)"]`` by value."""
    before, after = clean_resources(before), clean_resources(after)
    out = []
    for section in SECTIONS:
        vb, va = before.get(section) or {}, after.get(section) or {}
        for key in sorted(set(vb) | set(va)):
            if key in vb and key in va and _same_value(vb[key], va[key]):
                continue
            out.append("%s.%s: %s -> %s" % (section, key, vb.get(key, "(unset)"), va.get(key, "(removed)")))
    return out


def limit_conflicts(res: t.Optional[Obj]) -> t.List[str]:
    """Errors for a request above its limit in a complete resources mapping."""
    errors = []
    requests, limits = (res or {}).get("requests") or {}, (res or {}).get("limits") or {}
    for key in sorted(set(requests) & set(limits)):
        try:
            if parse_quantity(requests[key]) > parse_quantity(limits[key]):
                errors.append("requests.%s %s would be more than limits.%s %s (the current value of the one you did not set); "
                              "set both" % (key, requests[key], key, limits[key]))
        except QuantityError:
            continue
    return errors


# ---------------------------------------------------------------- undo records

def load_records(obj: t.Optional[Obj], key: str) -> Obj:
    """The undo records in annotation ``key`` of an object; fails on an annotation that is not ours to overwrite."""
    raw = (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(key)
    if not raw:
        return {}
    try:
        records = json.loads(raw)
    except ValueError:
        records = None
    if not isinstance(records, dict):
        raise AirlockIncidentError("annotation %s of %s is not a JSON object of undo records; it is not overwritten: "
                                   "inspect it and remove it (kubectl annotate ... %s-) before retrying"
                                   % (key, ((obj or {}).get("metadata") or {}).get("name"), key))
    return records


def dump_records(records: Obj) -> str:
    """Undo records as the compact, sorted JSON kept in the annotation."""
    return json.dumps(records, sort_keys=True, separators=(",", ":"))


def annotation_ops(obj: Obj, key: str, value: str) -> t.List[Obj]:
    """JSON-patch operations that set annotation ``key`` of ``obj`` to ``value``."""
    if not ((obj.get("metadata") or {}).get("annotations")):
        return [dict(op="add", path="/metadata/annotations", value={key: value})]
    return [dict(op="add", path="/metadata/annotations/%s" % json_pointer(key), value=value)]


def guard_ops(obj: Obj) -> t.List[Obj]:
    """A JSON-patch test of the resourceVersion read: the patch applies only to the object as it was read."""
    return [dict(op="test", path="/metadata/resourceVersion", value=(obj.get("metadata") or {}).get("resourceVersion"))]


def record_change(records: Obj, marker: str, previous: t.Any, applied: t.Any, **extra: t.Any) -> Obj:
    """Records with this incident action's change added; an existing record keeps its ``previous``."""
    records = copy.deepcopy(records)
    rec = records.get(marker)
    if rec is None:
        rec = dict(previous=previous, at=utc_now())
    rec.update(extra)
    rec["applied"] = applied
    rec["applied_at"] = utc_now()
    rec.pop("reverted_at", None)
    records[marker] = rec
    return records


def conflict_message(what: str, exc: AirlockIncidentError) -> str:
    """A clearer message for a failed resourceVersion test (someone changed the object meanwhile)."""
    if exc.result.get("status") == 422 and "test" in exc.msg.lower():
        return "%s changed while it was being patched (resourceVersion test failed); nothing was changed, rerun" % what
    return exc.msg


# ---------------------------------------------------------------- OOM evidence

def oom_kills(pods: t.Optional[t.List[Obj]], container: str) -> t.List[Obj]:
    """Containers named ``container`` whose last (or current) termination was OOMKilled, with the limit they had."""
    out = []
    for pod in pods or []:
        spec_limit = None
        for c in (pod.get("spec") or {}).get("containers") or []:
            if c.get("name") == container:
                spec_limit = ((c.get("resources") or {}).get("limits") or {}).get("memory")
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("name") != container:
                continue
            for term in (((cs.get("lastState") or {}).get("terminated")), ((cs.get("state") or {}).get("terminated"))):
                if term and term.get("reason") == "OOMKilled":
                    out.append(dict(pod=(pod.get("metadata") or {}).get("name"), memory_limit=spec_limit,
                                    finished_at=term.get("finishedAt"), restarts=cs.get("restartCount") or 0))
                    break
    return out


def low_limit_warnings(new_limit: t.Optional[str], kills: t.List[Obj]) -> t.List[str]:
    """Warnings when a new memory limit is not above a limit at which the container was OOMKilled."""
    if new_limit is None:
        return []
    new = parse_quantity(new_limit)
    out = []
    for kill in kills:
        try:
            old = parse_quantity(kill["memory_limit"]) if kill.get("memory_limit") else None
        except QuantityError:
            old = None
        if old is not None and new <= old:
            out.append("limits.memory %s is not above %s, the limit at which pod %s was OOMKilled (%s); it will likely be "
                       "OOMKilled again" % (new_limit, kill["memory_limit"], kill["pod"], kill.get("finished_at") or "time unknown"))
    return out


# ---------------------------------------------------------------- HPA

def metric_utilization(metrics: t.Optional[t.List[Obj]], resource: str) -> t.Optional[int]:
    """The Utilization target (percent) of the Resource metric ``resource``, or None."""
    for m in metrics or []:
        if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == resource:
            target = (m.get("resource") or {}).get("target") or {}
            if target.get("type") == "Utilization":
                return target.get("averageUtilization")
    return None


def set_utilization(metrics: t.Optional[t.List[Obj]], resource: str, value: int) -> t.List[Obj]:
    """Metrics with the Resource metric ``resource`` targeting ``value`` percent (added when missing)."""
    metrics = copy.deepcopy(metrics or [])
    target = dict(type="Utilization", averageUtilization=value)
    for m in metrics:
        if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == resource:
            m["resource"]["target"] = target
            return metrics
    metrics.append(dict(type="Resource", resource=dict(name=resource, target=target)))
    return metrics


def plan_hpa(spec: t.Optional[Obj], min_replicas: t.Optional[int] = None, max_replicas: t.Optional[int] = None,
             cpu: t.Optional[int] = None, memory: t.Optional[int] = None) -> t.Tuple[Obj, t.List[str], t.List[str]]:
    """The HPA fields after the change: ``(fields, notes, errors)``; fields has minReplicas, maxReplicas, metrics."""
    spec = spec or {}
    notes, errors = [], []
    new_min = min_replicas if min_replicas is not None else (spec.get("minReplicas") or 1)
    new_max = max_replicas if max_replicas is not None else spec.get("maxReplicas")
    if new_max is not None and new_min > new_max:
        errors.append("min_replicas %s would be more than max_replicas %s%s" % (
            new_min, new_max, " (the HPA's current maxReplicas)" if max_replicas is None else ""))
    metrics = copy.deepcopy(spec.get("metrics") or [])
    if (cpu is not None or memory is not None) and not metrics and cpu is None:
        metrics = set_utilization(metrics, "cpu", DEFAULT_HPA_CPU)
        notes.append("the HPA had no metrics, so it scaled on the implicit default of %d%% CPU; that target is written "
                     "explicitly, since adding a memory metric alone would drop it" % DEFAULT_HPA_CPU)
    if cpu is not None:
        metrics = set_utilization(metrics, "cpu", cpu)
    if memory is not None:
        metrics = set_utilization(metrics, "memory", memory)
    fields = dict(minReplicas=new_min, maxReplicas=new_max, metrics=metrics)
    return fields, notes, errors


def hpa_fields(spec: t.Optional[Obj]) -> Obj:
    """The managed fields of an HPA spec, in the shape :func:`plan_hpa` returns."""
    spec = spec or {}
    return dict(minReplicas=spec.get("minReplicas") or 1, maxReplicas=spec.get("maxReplicas"),
                metrics=copy.deepcopy(spec.get("metrics") or []))


def hpa_changes(before: Obj, after: Obj) -> t.List[str]:
    """``["minReplicas: 1 -> 2", "cpu utilization target: 80% -> 60%"]``."""
    out = []
    for key in ("minReplicas", "maxReplicas"):
        if before.get(key) != after.get(key):
            out.append("%s: %s -> %s" % (key, before.get(key), after.get(key)))
    for resource in ("cpu", "memory"):
        b, a = metric_utilization(before.get("metrics"), resource), metric_utilization(after.get("metrics"), resource)
        if b != a:
            out.append("%s utilization target: %s -> %s" % (resource, "%s%%" % b if b is not None else "(none)",
                                                            "%s%%" % a if a is not None else "(none)"))
    if not out and (before.get("metrics") or []) != (after.get("metrics") or []):
        out.append("metrics: %s -> %s" % (json.dumps(before.get("metrics")), json.dumps(after.get("metrics"))))
    return out


def rwo_claims(dep: t.Optional[Obj], pvcs: t.Optional[t.List[Obj]]) -> t.List[str]:
    """Names of the single-node (ReadWriteOnce/ReadWriteOncePod) claims the Deployment's pods mount."""
    template = ((dep or {}).get("spec") or {}).get("template")
    by_name = dict((str((p.get("metadata") or {}).get("name")), p) for p in pvcs or [])
    return [c["name"] for c in k8s_actions.rwo_claims(template, by_name, [])]


def recorded_change(records: Obj, marker: str, what: str, annotation: str, kind: str) -> Obj:
    """The undo record of ``marker`` to revert; :class:`AirlockIncidentError` naming the recorded ones when absent."""
    rec = records.get(marker)
    if rec is None:
        raise AirlockIncidentError("state=reverted: no %s change is recorded for %s on %s (annotation %s); recorded: %s"
                                   % (kind, marker, what, annotation, ", ".join(sorted(records)) or "none"))
    return t.cast(Obj, rec)


def mark_reverted(records: Obj, marker: str) -> Obj:
    """Records with ``marker``'s record marked as reverted now (records are kept, never dropped)."""
    new_records = dict(records)
    new_records[marker] = dict(records[marker], reverted_at=utc_now())
    return new_records
