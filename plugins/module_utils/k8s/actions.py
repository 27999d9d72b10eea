# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared logic of the Kubernetes recovery actions k8s_scale, k8s_delete_pods and k8s_rollback.

Pure (plain dicts with camelCase keys in, plain values out) and unit-tested:
ReadWriteOnce claims, HPA bounds, PodDisruptionBudget arithmetic, pod
selection, revisions and template comparison. The input contract is
:mod:`...core.contract`, reading the cluster :mod:`.deployments`, waiting
:mod:`.wait`.
"""

from __future__ import annotations

import copy
import math
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import (
    annotations_of,
    json_pointer,
    labels_of,
    pod_name,
    pod_ready,
    selector_matches,
    terminating,
)
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import REVISION

Obj = t.Dict[str, t.Any]

#: Deployment metadata annotations (never the pod template: writing them restarts nothing).
SCALED_FOR = "airlock.incident/scaled-for"
PREVIOUS_REPLICAS = "airlock.incident/previous-replicas"
PODS_DELETED_FOR = "airlock.incident/pods-deleted-for"
ROLLED_BACK_FOR = "airlock.incident/rolled-back-for"
ROLLED_BACK_TO = "airlock.incident/rolled-back-to"
ROLLED_BACK_FROM = "airlock.incident/rolled-back-from-revision"

HASH_LABEL = "pod-template-hash"
RWO_MODES = ("ReadWriteOnce", "ReadWriteOncePod")
HELM_MANAGED_BY = "app.kubernetes.io/managed-by"
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"


# --------------------------------------------------------------------------- scale


def template_claims(template: t.Optional[Obj]) -> t.List[str]:
    """Names of the PersistentVolumeClaims the pod template mounts (ephemeral claims are per pod and not listed)."""
    spec = (template or {}).get("spec") or {}
    return sorted(set(v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes") or []
                      if (v.get("persistentVolumeClaim") or {}).get("claimName")))


def rwo_only(access_modes: t.Optional[t.Iterable[str]]) -> bool:
    """True when a claim can only be mounted by one node (ReadWriteOnce) or one pod (ReadWriteOncePod)."""
    modes = set(access_modes or [])
    return bool(modes) and modes <= set(RWO_MODES)


def rwo_claims(template: t.Optional[Obj], pvcs: t.Mapping[str, Obj], pods: t.Optional[t.Iterable[Obj]]) -> t.List[Obj]:
    """The claims of the template whose access modes are only RWO/RWOP, with the nodes the pods run on.

    ``pvcs`` maps claim name -> PVC object (missing claims are skipped: nothing to judge); ``pods`` are the
    Deployment's pods now.
    """
    nodes = sorted(set(str((p.get("spec") or {}).get("nodeName")) for p in pods or []
                       if (p.get("spec") or {}).get("nodeName")))
    out = []
    for name in template_claims(template):
        pvc = pvcs.get(name)
        if pvc is None:
            continue
        modes = (pvc.get("spec") or {}).get("accessModes") or []
        if rwo_only(modes):
            out.append(dict(name=name, access_modes=list(modes), nodes=nodes))
    return out


def rwo_warning(what: str, claims: t.List[Obj], replicas: int) -> t.Optional[str]:
    """The warning for scaling a Deployment with RWO-only claims to more than one replica, or None."""
    if replicas <= 1 or not claims:
        return None
    parts = []
    for c in claims:
        if "ReadWriteOncePod" in c["access_modes"]:
            limit = "one pod at a time (ReadWriteOncePod), so every replica but one stays ContainerCreating"
        else:
            limit = "one node at a time (ReadWriteOnce), so replicas scheduled on another node stay ContainerCreating (Multi-Attach error)"
        where = "the pods run on %s now" % ", ".join(c["nodes"]) if c["nodes"] else "no pod runs now"
        parts.append("claim %s can be mounted by %s; %s" % (c["name"], limit, where))
    return ("%s: scaling to %d replicas while every replica mounts the same claim: %s. Scaling up is not a fix for this chart; "
            "keep one replica or pin the replicas to one node." % (what, replicas, "; ".join(parts)))


def hpa_check(hpa: Obj, replicas: int) -> t.Tuple[t.Optional[str], t.Optional[str]]:
    """``(error, warning)`` for setting ``replicas`` on a Deployment the HPA scales.

    Outside [minReplicas, maxReplicas] the HPA scales the Deployment back at its next sync, so that is an
    error. Zero is the exception: the HPA controller leaves a Deployment at zero alone (autoscaling is
    disabled until it is scaled up again), so a containment scale to zero is allowed with a warning.
    """
    spec = hpa.get("spec") or {}
    name = (hpa.get("metadata") or {}).get("name")
    low = spec.get("minReplicas")
    low = 1 if low is None else low
    high = spec.get("maxReplicas")
    if replicas == 0:
        return None, ("HorizontalPodAutoscaler %s targets this Deployment; at 0 replicas it is inactive (ScalingDisabled) "
                      "and resumes scaling between %s and %s once the Deployment is scaled up again" % (name, low, high))
    if replicas < low or (high is not None and replicas > high):
        return ("replicas: %d is outside the range %s-%s of HorizontalPodAutoscaler %s, which would scale the Deployment "
                "back at its next sync; choose replicas within %s-%s or change the HPA" % (replicas, low, high, name, low, high)), None
    return None, ("HorizontalPodAutoscaler %s targets this Deployment and keeps adjusting its replicas between %s and %s; "
                  "%d may not last" % (name, low, high, replicas))


def previous_replicas(annotations: t.Optional[t.Mapping[str, str]]) -> t.Optional[int]:
    """The replica count recorded by the last scale, or None when absent or not a number."""
    value = (annotations or {}).get(PREVIOUS_REPLICAS)
    try:
        number = int(value or "")
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def scale_undo(annotations: t.Optional[t.Mapping[str, str]], mark: str, before: int, after: int) -> t.Optional[int]:
    """The replicas to scale back to: the count before this run when it changed something, else what the
    annotations recorded for this same incident action, else None (nothing of ours to undo)."""
    if before != after:
        return before
    if (annotations or {}).get(SCALED_FOR) == mark:
        return previous_replicas(annotations)
    return None


def scale_progress(dep: Obj, pods: t.Optional[t.List[Obj]], desired: int) -> t.Tuple[bool, str]:
    """``(done, message)`` for a scale to ``desired``: the controller saw the change and ``desired`` replicas are
    ready; scaling down also waits for the status to drop to ``desired``, and zero for every pod to be gone."""
    meta = dep.get("metadata") or {}
    status = dep.get("status") or {}
    if (status.get("observedGeneration") or 0) < (meta.get("generation") or 0):
        return False, "waiting for the deployment controller to observe the new replica count"
    ready = status.get("readyReplicas") or 0
    current = status.get("replicas") or 0
    if desired == 0:
        left = [p["metadata"]["name"] for p in pods or []]
        if left:
            return False, "%d pod(s) still present: %s" % (len(left), ", ".join(sorted(left)))
        return True, "scaled to 0: no pod left"
    if ready < desired:
        return False, "%d of %d replicas ready" % (ready, desired)
    if current > desired:
        return False, "%d replicas still present for %d desired" % (current, desired)
    return True, "%d of %d replicas ready" % (ready, desired)


# --------------------------------------------------------------------------- delete pods


def select_pods(pods: t.List[Obj], names: t.Optional[t.List[str]] = None,
                only_unready: bool = False) -> t.Tuple[t.List[Obj], t.List[str]]:
    """``(selected, errors)``: the pods to delete out of the Deployment's ``pods``.

    ``names`` must all be pods of the Deployment (an error names the strangers and lists the candidates);
    ``only_unready`` keeps the pods that are not ready. Pods already terminating are never selected.
    """
    live = [p for p in pods if not terminating(p)]
    errors = []
    if names:
        known = dict((pod_name(p), p) for p in live)
        strangers = [n for n in names if n not in known]
        if strangers:
            errors.append("names: %s %s not a running pod of the Deployment; its pods: %s"
                          % (", ".join(strangers), "is" if len(strangers) == 1 else "are", ", ".join(sorted(known)) or "none"))
        live = [known[n] for n in sorted(set(names)) if n in known]
    if only_unready:
        live = [p for p in live if not pod_ready(p)]
    return sorted(live, key=pod_name), errors


def ready_survivors(pods: t.List[Obj], deleted: t.Iterable[str]) -> t.List[str]:
    """Names of the ready, not terminating pods that are not among ``deleted``."""
    return sorted(pod_name(p) for p in pods if pod_ready(p) and not terminating(p) and pod_name(p) not in deleted)


def pdb_desired_healthy(pdb: Obj, expected: int) -> int:
    """The number of healthy pods the PDB demands for ``expected`` pods (minAvailable or maxUnavailable, ints or %)."""
    spec = pdb.get("spec") or {}

    def scaled(value: t.Any) -> int:
        if isinstance(value, str) and value.endswith("%"):
            return int(math.ceil(expected * int(value[:-1]) / 100.0))
        return int(value)

    if spec.get("minAvailable") is not None:
        return scaled(spec["minAvailable"])
    if spec.get("maxUnavailable") is not None:
        return max(0, expected - scaled(spec["maxUnavailable"]))
    return 0


def pdb_shortfalls(pdbs: t.Optional[t.List[Obj]], pod_labels: t.Mapping[str, str], ready_now: int, deleting: int,
                   expected: int) -> t.List[str]:
    """Messages for the PDBs that ``deleting`` ready pods at once would break (delete ignores PDBs, eviction would not)."""
    out = []
    for pdb in pdbs or []:
        if not selector_matches((pdb.get("spec") or {}).get("selector"), pod_labels):
            continue
        need = pdb_desired_healthy(pdb, expected)
        left = ready_now - deleting
        if left < need:
            out.append("PodDisruptionBudget %s requires %d healthy pod(s); deleting %d of %d ready pod(s) at once leaves %d "
                       "(a delete is not an eviction, the budget does not stop it)"
                       % ((pdb.get("metadata") or {}).get("name"), need, deleting, ready_now, max(left, 0)))
    return out


# --------------------------------------------------------------------------- rollback


def revision_of(obj: t.Optional[Obj]) -> int:
    """The ``deployment.kubernetes.io/revision`` of an object as int, 0 when absent."""
    try:
        return int(annotations_of(obj).get(REVISION) or 0)
    except (TypeError, ValueError):
        return 0


def owned_replicasets(replicasets: t.Optional[t.List[Obj]], dep_uid: str) -> t.List[Obj]:
    """The ReplicaSets controlled by the Deployment with uid ``dep_uid``, newest revision first."""
    out = [rs for rs in replicasets or []
           if any(ref.get("controller") and ref.get("uid") == dep_uid for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])]
    return sorted(out, key=revision_of, reverse=True)


def normalize_template(template: t.Optional[Obj]) -> Obj:
    """A copy of a pod template without the ``pod-template-hash`` label (what a ReplicaSet adds)."""
    tpl = copy.deepcopy(template or {})
    meta = tpl.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.pop(HASH_LABEL, None)
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    for key in ("creationTimestamp",):
        meta.pop(key, None)
    if meta:
        tpl["metadata"] = meta
    else:
        tpl.pop("metadata", None)
    return tpl


def templates_equal(a: t.Optional[Obj], b: t.Optional[Obj]) -> bool:
    """Pod templates equal apart from the ``pod-template-hash`` label (kubectl's equalIgnoreHash)."""
    return normalize_template(a) == normalize_template(b)


def select_revision(replicasets: t.Optional[t.List[Obj]], current_revision: int,
                    requested: t.Optional[int] = None) -> t.Tuple[t.Optional[Obj], t.Optional[str]]:
    """``(replicaset, error)``: the ReplicaSet of ``requested`` or, when None, the newest revision below the current one."""
    by_rev = dict((revision_of(rs), rs) for rs in replicasets or [] if revision_of(rs) > 0)
    existing = ", ".join(str(r) for r in sorted(by_rev)) or "none"
    if requested is not None:
        if requested not in by_rev:
            return None, ("revision: %d does not exist; existing revisions: %s (current %s)" % (requested, existing, current_revision))
        return by_rev[requested], None
    older = [r for r in by_rev if r < current_revision]
    if not older:
        return None, ("no revision before the current revision %s to roll back to; existing revisions: %s" % (current_revision, existing))
    return by_rev[max(older)], None


def helm_managed(dep: Obj) -> t.Optional[str]:
    """Why the Deployment is managed by Helm, or None."""
    if (labels_of(dep).get(HELM_MANAGED_BY) or "").lower() == "helm":
        return "label %s=%s" % (HELM_MANAGED_BY, labels_of(dep)[HELM_MANAGED_BY])
    release = annotations_of(dep).get(HELM_RELEASE_ANNOTATION)
    if release:
        return "annotation %s=%s" % (HELM_RELEASE_ANNOTATION, release)
    return None


def rollback_patch(dep: Obj, template: Obj, annotations: t.Mapping[str, str]) -> t.List[Obj]:
    """A JSON patch that replaces the pod template and sets metadata ``annotations``, only if the Deployment is unchanged."""
    ops = [dict(op="test", path="/metadata/resourceVersion", value=dep["metadata"]["resourceVersion"]),
           dict(op="replace", path="/spec/template", value=template)]
    if annotations_of(dep):
        ops += [dict(op="add", path="/metadata/annotations/" + json_pointer(k), value=v) for k, v in sorted(annotations.items())]
    else:
        ops.append(dict(op="add", path="/metadata/annotations", value=dict(annotations)))
    return ops


def flat_diff(before: t.Any, after: t.Any, prefix: str = "") -> t.Dict[str, t.Tuple[t.Any, t.Any]]:
    """Paths whose values differ between two JSON-like values, as ``{path: (before, after)}``."""
    out = {}
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            out.update(flat_diff(before.get(key), after.get(key), "%s.%s" % (prefix, key) if prefix else key))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after)):
            out.update(flat_diff(b, a, "%s[%d]" % (prefix, i)))
    elif before != after:
        out[prefix or "."] = (before, after)
    return out
