# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes ConfigMap target of ``airlock.incident.config`` and ``airlock.incident.policy``.

The Helm chart keeps ``config.yaml`` and ``policy.rego`` in one ConfigMap,
``<fullname>-config``, mounted at ``/etc/airlock``. Airlock reads both only at
start, so a change takes effect through a rolling restart of the Deployment.

* ``ConfigMapTarget`` reads and writes **one key** of the ConfigMap (the other
  key is never sent, so it stays byte-identical), with the resourceVersion read
  before as a precondition: a concurrent edit makes the write fail (409), it is
  never overwritten.
* ``RolloutReloader`` rolls the Deployment by setting the pod-template
  annotation ``airlock.incident/config-checksum`` to the sha256 of the
  ConfigMap's ``config.yaml`` and ``policy.rego``; unchanged content means an
  unchanged template, so nothing restarts. It then waits (bounded) for the
  rollout with the rules of ``kubectl rollout status``.
* ``apply_configmap_change`` writes, rolls, verifies, and on failure restores
  the previous ConfigMap data and annotation, waits again and raises.

The pure helpers (checksum, patches, annotation choice, option checks) take
and return plain values, so they are unit-tested without a cluster.
"""

from __future__ import annotations

import hashlib
import os
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema
from ansible_collections.airlock.incident.plugins.module_utils.core.contract import confirm_error, wait_timeout_error
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import (
    AUTH_ENV,
    K8s,
    NotFound,
    env_connection,
    k8s_arg_spec,
    require_kubernetes,
    validate_common,
    validate_name,
)
from ansible_collections.airlock.incident.plugins.module_utils.k8s.deployments import not_ready_pods
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import describe_pods
from ansible_collections.airlock.incident.plugins.module_utils.k8s.rollout import REVISION, rollout_state, rollout_summary
from ansible_collections.airlock.incident.plugins.module_utils.k8s.wait import wait_rollout
from ansible_collections.airlock.incident.plugins.module_utils.airlock.probes import describe_health, wait_healthy

#: Pod-template annotation that records which ConfigMap content the pods were started with.
CHECKSUM_ANNOTATION = "airlock.incident/config-checksum"
CONFIG_KEY = "config.yaml"
POLICY_KEY = "policy.rego"
#: The keys covered by the checksum, in this order.
CHECKSUM_KEYS = (CONFIG_KEY, POLICY_KEY)
#: Seconds between two reads of the Deployment while waiting for a rollout.
TARGETS = ("file", "configmap")

Obj = t.Dict[str, t.Any]


def target_arg_spec(**extra: t.Dict[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Options of the ConfigMap target, shared by both modules (and the kube connection options), plus ``extra``."""
    spec = k8s_arg_spec(
        target=dict(type="str", default="file", choices=list(TARGETS)),
        configmap=dict(type="str", default="airlock-config"),
        deployment=dict(type="str", default="airlock"),
        confirm=dict(type="str"),
        wait_timeout=dict(type="int", default=300),
    )
    # host, api_key, ca_cert come from K8S_AUTH_* (env_connection); validate_certs is the modules' own.
    for option, _variable in AUTH_ENV:
        spec.pop(option)
    spec.update(extra)
    return spec


def configmap_checksum(data: t.Optional[t.Mapping[str, t.Any]]) -> str:
    """sha256 (hex) of the ConfigMap content Airlock reads: ``config.yaml`` then ``policy.rego``.

    Each key is hashed as ``<key> NUL <length> NUL <bytes>`` so that moving
    bytes from one key to the other changes the checksum, and a missing key
    differs from an empty one. Other keys of the ConfigMap are ignored.
    """
    digest = hashlib.sha256()
    for key in CHECKSUM_KEYS:
        value = (data or {}).get(key)
        if value is None:
            digest.update(("%s\0-\0" % key).encode("utf-8"))
            continue
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        digest.update(("%s\0%d\0" % (key, len(raw))).encode("utf-8"))
        digest.update(raw)
    return digest.hexdigest()


def configmap_patch(key: str, value: str, resource_version: t.Optional[str]) -> Obj:
    """A merge patch that sets only ``data[key]``, valid only against ``resource_version``.

    A resourceVersion in a patch is a precondition: the API server refuses
    (409 Conflict) when the object changed since it was read.
    """
    if not resource_version:
        raise ValueError("a resourceVersion is required as the precondition of the ConfigMap patch")
    return {"metadata": {"resourceVersion": str(resource_version)}, "data": {key: value}}


def annotation_patch(value: t.Optional[str]) -> Obj:
    """A strategic merge patch that sets (or, with None, removes) the checksum annotation."""
    return {"spec": {"template": {"metadata": {"annotations": {CHECKSUM_ANNOTATION: value}}}}}


def template_annotation(deployment: t.Optional[Obj]) -> t.Optional[str]:
    """The checksum annotation of a Deployment's pod template (a plain dict), or None."""
    template = ((deployment or {}).get("spec") or {}).get("template") or {}
    return ((template.get("metadata") or {}).get("annotations") or {}).get(CHECKSUM_ANNOTATION)


def annotation_for(data: t.Optional[t.Mapping[str, t.Any]], known: t.Optional[t.Mapping[str, t.Optional[str]]]) -> t.Optional[str]:
    """The annotation value the pod template should carry for the ConfigMap ``data``.

    ``known`` maps a checksum to the annotation the template carried when the
    ConfigMap had that content (None: no annotation). Returning to a known
    content returns to its exact annotation (restoring the previous template,
    so the Deployment scales its previous ReplicaSet back up); new content
    gets its own checksum.
    """
    checksum = configmap_checksum(data)
    if checksum in (known or {}):
        return (known or {})[checksum]
    return checksum


def validate_target_params(params: t.Mapping[str, t.Any], check_mode: bool) -> t.List[str]:
    """Errors (strings naming the option) of the ConfigMap target options; empty for target=file."""
    if params.get("target") != "configmap":
        return []
    errors = []
    for msg in (validate_common(params), validate_name("configmap", params.get("configmap")),
                validate_name("deployment", params.get("deployment"))):
        if msg:
            errors.append(msg)
    timeout_error = wait_timeout_error(params.get("wait_timeout"))
    if timeout_error:
        errors.append(timeout_error)
    if not params.get("incident_id"):
        errors.append("incident_id: required with target=configmap (it names the backup and is what confirm must equal)")
    else:
        refusal = confirm_error(params, check_mode, "change configmap %s/%s" % (params.get("namespace"), params.get("configmap")))
        if refusal:
            errors.append(refusal)
    if not params.get("backup_dir"):
        errors.append("backup_dir: required with target=configmap (the incident's evidence directory, where the "
                      "previous content is kept for state=reverted)")
    return errors


def precheck_settings(settings: t.Any) -> t.List[str]:
    """Errors that ``settings`` alone shows (unknown keys, bad values), found before any API call.

    The merged document is validated again once the ConfigMap is read (a
    setting may only be wrong together with what is already there).
    """
    if not isinstance(settings, dict):
        return ["settings: expected a mapping of Airlock config keys, got %s" % type(settings).__name__]
    errors = ["settings: " + schema.format_unknown(item) for item in schema.unknown_keys(settings)]
    for error in schema.validate(settings):
        if error != "server.addr is required":
            errors.append("settings: " + error)
    server = settings.get("server", {})
    if server is None or (isinstance(server, dict) and "addr" in server and server["addr"] in (None, "")):
        errors.append("settings: server.addr is required; Airlock does not start without it")
    return errors


def file_only_options(params: t.Mapping[str, t.Any], names: t.Iterable[str]) -> t.Optional[str]:
    """Options set that only apply to target=file, as one error, or None."""
    used = [name for name in names if params.get(name) not in (None, [], False)]
    if params.get("target") == "configmap" and used:
        return "%s: only used with target=file; with target=configmap the content lives in configmap %s" % (
            ", ".join(used), params.get("configmap"))
    return None


# ---------------------------------------------------------------------------
# cluster side
# ---------------------------------------------------------------------------


class ConfigMapTarget:
    """One key of a ConfigMap, written with a resourceVersion precondition."""

    kind = "configmap"

    def __init__(self, k8s: K8s, name: str, key: str) -> None:
        self.k8s = k8s
        self.namespace = k8s.namespace
        self.name = name
        self.key = key
        self.path = None
        self.resource_version: t.Optional[str] = None
        self.data: t.Optional[t.Dict[str, t.Any]] = None
        #: Name used for backup files: ``<configmap>.<key>``.
        self.backup_name = "%s.%s" % (name, key)

    def describe(self) -> str:
        """``configmap/<namespace>/<name>/<key>``: the target in results and backups."""
        return "configmap/%s/%s/%s" % (self.namespace, self.name, self.key)

    def what(self) -> str:
        """``<key> of configmap <namespace>/<name>`` for messages."""
        return "%s of configmap %s/%s" % (self.key, self.namespace, self.name)

    def read(self) -> t.Optional[bytes]:
        """The key's content as bytes (None when the key is absent); records resourceVersion and data."""
        try:
            obj = self.k8s.sanitize(self.k8s.call("configmap %s/%s" % (self.namespace, self.name),
                                                  self.k8s.core.read_namespaced_config_map, self.name, self.namespace))
        except NotFound as exc:
            raise AirlockIncidentError("configmap %s not found in namespace %s (API server %s); the chart names it "
                                       "<fullname>-config, e.g. airlock-config" % (self.name, self.namespace, self.k8s.host)) from exc
        self.resource_version = (obj.get("metadata") or {}).get("resourceVersion")
        self.data = dict(obj.get("data") or {})
        if self.key in (obj.get("binaryData") or {}):
            raise AirlockIncidentError("%s is stored as binaryData; refusing to change it" % self.what())
        value = self.data.get(self.key)
        return None if value is None else value.encode("utf-8")

    def write(self, data: bytes, dry_run: bool = False) -> Obj:
        """Set the key to ``data`` (bytes) if the ConfigMap is still at the resourceVersion read."""
        text = data.decode("utf-8")
        patch = configmap_patch(self.key, text, self.resource_version)
        kwargs = {"dry_run": "All"} if dry_run else {}
        try:
            obj = self.k8s.sanitize(self.k8s.call("configmap %s/%s" % (self.namespace, self.name),
                                                  self.k8s.core.patch_namespaced_config_map, self.name, self.namespace,
                                                  patch, **kwargs))
        except AirlockIncidentError as exc:
            if exc.result.get("status") == 409:
                raise AirlockIncidentError(
                    "configmap %s/%s was changed by someone else since it was read (resourceVersion %s is no longer "
                    "current); nothing was overwritten: read the new content and run again"
                    % (self.namespace, self.name, self.resource_version), status=409, conflict=True) from exc
            raise
        if not dry_run:
            self.resource_version = (obj.get("metadata") or {}).get("resourceVersion")
            self.data = dict(obj.get("data") or {})
        return obj


class RolloutReloader:
    """A rolling restart of the Deployment through the checksum annotation, then a bounded wait."""

    method = "rollout"
    active = True

    def __init__(self, k8s: K8s, deployment: str, target: ConfigMapTarget, known: t.Mapping[str, t.Optional[str]],
                 wait_timeout: float) -> None:
        self.k8s = k8s
        self.name = deployment
        self.target = target
        self.known = dict(known)
        self.wait_timeout = wait_timeout
        self.last: t.Optional[Obj] = None
        #: rollout_state() of the Deployment before the change (set by check()).
        self.state_before: t.Optional[Obj] = None

    def what(self) -> str:
        """``deployment <namespace>/<name>`` for messages."""
        return "deployment %s/%s" % (self.k8s.namespace, self.name)

    def describe(self) -> str:
        """How the change is rolled out, for messages."""
        return "a rolling restart of %s (pod-template annotation %s)" % (self.what(), CHECKSUM_ANNOTATION)

    def read(self) -> Obj:
        """The Deployment (a plain dict)."""
        try:
            return self.k8s.sanitize(self.k8s.call(self.what(), self.k8s.apps.read_namespaced_deployment,
                                                   self.name, self.k8s.namespace))
        except NotFound as exc:
            raise AirlockIncidentError("deployment %s not found in namespace %s (API server %s); set deployment to the "
                                       "chart's <fullname>" % (self.name, self.k8s.namespace, self.k8s.host)) from exc

    def check(self) -> Obj:
        """Fail before any change when the Deployment cannot roll; returns it (a plain dict)."""
        dep = self.read()
        if (dep.get("spec") or {}).get("paused"):
            raise AirlockIncidentError("%s is paused: a new configuration would never roll out; resume it "
                                       "(kubectl rollout resume) first. Nothing was changed" % self.what())
        self.state_before = rollout_state(dep)
        return dep

    def wanted(self, data: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Optional[str]:
        """The annotation the pod template should carry for ``data`` (default: the target's current data)."""
        return annotation_for(self.target.data if data is None else data, self.known)

    def patch(self, value: t.Optional[str], dry_run: bool = False) -> Obj:
        """Set (or remove) the checksum annotation of the pod template."""
        kwargs = {"dry_run": "All"} if dry_run else {}
        return self.k8s.sanitize(self.k8s.call(self.what(), self.k8s.apps.patch_namespaced_deployment, self.name,
                                               self.k8s.namespace, annotation_patch(value), **kwargs))

    def not_ready_pods(self, dep: Obj) -> t.List[Obj]:
        """The Deployment's pods that are not ready, with the reason."""
        return not_ready_pods(self.k8s, dep)

    def wait(self) -> t.Tuple[Obj, Obj, float]:
        """Wait for the rollout (bounded by wait_timeout)."""
        return wait_rollout(self.read, self.wait_timeout)

    def run(self) -> Obj:
        """Set the annotation for the ConfigMap's current data and wait: ``{"ok", "detail", ...}``."""
        dep = self.read()
        before = template_annotation(dep)
        value = self.wanted()
        patched = value != before
        if patched:
            dep = self.patch(value)
        dep, state, elapsed = self.wait()
        outcome = {
            "ok": state["complete"],
            "method": "rollout",
            "annotation_before": before,
            "annotation_after": value,
            "patched": patched,
            "elapsed": elapsed,
            "rollout": rollout_summary(state),
            "revision": ((dep.get("metadata") or {}).get("annotations") or {}).get(REVISION),
        }
        if state["complete"]:
            outcome["detail"] = state["message"]
        else:
            pods = self.not_ready_pods(dep)
            outcome["not_ready_pods"] = pods
            if state["failed"]:
                head = "the rollout of %s failed after %ss: %s" % (self.what(), elapsed, state["message"])
            else:
                head = "the rollout of %s did not complete within wait_timeout=%ss: %s" % (
                    self.what(), self.wait_timeout, state["message"])
            outcome["detail"] = "%s; not ready: %s" % (head, describe_pods(pods))
        self.last = outcome
        return outcome


def _annotation_text(value: t.Optional[str]) -> str:
    return "removed" if value is None else value[:16] + "..."


def mark_backup(store: t.Any, backup_path: t.Optional[str], exc: AirlockIncidentError) -> None:
    """Record in the backup's sidecar how a failed change ended.

    A change that was not applied or was rolled back is marked ``rolled_back``
    (the target holds the backup's content again, so it is no revert target);
    a change whose restore failed is marked ``restore_failed`` and stays a
    revert target.
    """
    if not backup_path:
        return
    if "reload" not in exc.result:
        store.mark(backup_path, rolled_back=True, rollback_reason="not applied: " + exc.msg)
    elif exc.result.get("rolled_back"):
        store.mark(backup_path, rolled_back=True, rollback_reason=exc.msg)
    else:
        store.mark(backup_path, restore_failed=True, failure=exc.msg)


def apply_configmap_change(target: ConfigMapTarget, new_data: bytes, old_data: t.Optional[bytes], backup_path: t.Optional[str],
                           reloader: t.Optional[RolloutReloader], verify_url: t.Optional[str] = None,
                           verify_timeout: float = 30.0, validate_certs: bool = True, what: str = "configuration") -> Obj:
    """Write the key, roll, verify; on failure restore the key and the annotation, roll again and raise.

    ``reloader`` is a RolloutReloader or None (write only). Returns
    ``{"restarted", "verified", "rolled_back", "reload", "health"}``; raises
    AirlockIncidentError (with those keys) after a restore.
    """
    target.write(new_data)
    outcome: Obj = {"restarted": False, "verified": False, "rolled_back": False, "reload": None, "health": None}
    if reloader is None:
        return outcome
    try:
        first = reloader.run()
    except AirlockIncidentError as exc:
        first = {"ok": False, "detail": exc.msg, "annotation_after": None}
    outcome["reload"] = first
    outcome["restarted"] = bool(first["ok"])
    if first["ok"] and not verify_url:
        return outcome
    if first["ok"] and verify_url:
        health = wait_healthy(verify_url, verify_timeout, validate_certs=validate_certs)
        outcome["health"] = health
        if health["ok"]:
            outcome["verified"] = True
            return outcome
        problem = "the service did not become live and ready at %s within %gs (%s)" % (
            verify_url, verify_timeout, describe_health(health))
    else:
        problem = first["detail"]

    # restore: the previous key content (with the resourceVersion we wrote), then the previous annotation
    if old_data is None:
        raise AirlockIncidentError("%s after the %s change; %s had no %s before, so there is nothing to restore "
                                   "(backup: none)" % (problem, what, target.what(), target.key), **outcome)
    try:
        target.write(old_data)
    except AirlockIncidentError as exc:
        raise AirlockIncidentError("%s after the %s change; could NOT restore %s: %s. The previous content is in %s "
                                   "(the pod-template annotation was left as it is)"
                                   % (problem, what, target.what(), exc.msg, backup_path), **outcome) from exc
    outcome["rolled_back"] = True
    restored = "restored %s from %s" % (target.what(), backup_path)
    try:
        second = reloader.run()
    except AirlockIncidentError as exc:
        second = {"ok": False, "detail": exc.msg, "annotation_after": reloader.wanted()}
    outcome["rollback_reload"] = second
    annotation = "the pod-template annotation %s %s" % (
        CHECKSUM_ANNOTATION, "removed" if second.get("annotation_after") is None
        else "set back to %s" % _annotation_text(second.get("annotation_after")))
    health_after = None
    if second["ok"] and verify_url:
        health_after = wait_healthy(verify_url, verify_timeout, validate_certs=validate_certs)
    outcome["rollback_health"] = health_after
    raise AirlockIncidentError("%s after the %s change; rolled back: %s and %s, %s"
                               % (problem, what, restored, annotation, _after_restore(reloader, second, health_after)),
                               **outcome)


def _after_restore(reloader: RolloutReloader, second: Obj, health_after: t.Optional[Obj]) -> str:
    """How the Deployment and the service are after the restore, for the message of a rolled-back change."""
    if not second["ok"]:
        after = "but after the restore %s" % second["detail"]
        available = (second.get("rollout") or {}).get("available_replicas")
        before = reloader.state_before
        if before is not None and not before["complete"]:
            after += "; the rollout was not complete before the change either (%s)" % before["message"]
        if available:
            return after + "; %d replica(s) still available: investigate the rollout now" % available
        return after + ": no replica is available, the service may be DOWN, investigate now"
    if health_after is None:
        return "and %s is rolled out again (%s)" % (reloader.what(), second["detail"])
    if health_after["ok"]:
        return "and %s is rolled out again; the service is live and ready (%s)" % (
            reloader.what(), describe_health(health_after))
    return "and %s is rolled out again, but the service is STILL NOT healthy (%s): investigate now" % (
        reloader.what(), describe_health(health_after))


def connect(params: t.Mapping[str, t.Any]) -> K8s:
    """A K8s client for the module's options (AirlockIncidentError when the kubeconfig cannot be loaded)."""
    k8s = K8s(env_connection(params, os.environ))
    k8s.ensure_namespace()
    return k8s


class Cluster:
    """The ConfigMap target as a module uses it: the key, the Deployment, what they held before the change."""

    def __init__(self, module: t.Any, key: str, rollout: bool) -> None:
        params = module.params
        require_kubernetes(module)
        self.k8s = connect(params)
        self.key = key
        self.rollout = rollout
        self.target = ConfigMapTarget(self.k8s, params["configmap"], key)
        self.reloader: t.Optional[RolloutReloader] = None
        self.annotation: t.Optional[str] = None
        self.checksum_before: t.Optional[str] = None
        self.params = params
        #: A warning for the module to show (the annotation does not match the content), or None.
        self.warning: t.Optional[str] = None

    def read(self) -> t.Optional[bytes]:
        """The key's content (bytes, None when absent); reads the Deployment too and fails if it cannot roll."""
        before = self.target.read()
        self.checksum_before = configmap_checksum(self.target.data)
        if self.rollout:
            self.reloader = RolloutReloader(self.k8s, self.params["deployment"], self.target, {},
                                            self.params["wait_timeout"])
            self.annotation = template_annotation(self.reloader.check())
            self.reloader.known[self.checksum_before] = self.annotation
            if self.annotation is not None and self.annotation != self.checksum_before:
                self.warning = ("the pod template's %s (%s...) does not match the ConfigMap's content (%s...): the pods "
                                "may run an older configuration" % (CHECKSUM_ANNOTATION, self.annotation[:16],
                                                                    self.checksum_before[:16]))
        return before

    def remember(self, checksum: t.Optional[str], annotation: t.Optional[str]) -> None:
        """A content whose annotation is known (the backup being restored)."""
        if self.reloader is not None and checksum and checksum not in self.reloader.known:
            self.reloader.known[checksum] = annotation

    def result(self) -> Obj:
        """The target part of the module result."""
        return {
            "target": "configmap",
            "configmap": {"namespace": self.target.namespace, "name": self.target.name, "key": self.key,
                          "resource_version": self.target.resource_version},
            "deployment": self.params["deployment"] if self.rollout else None,
            "checksum_annotation": {"before": self.annotation, "after": self.annotation},
            "rollout": None,
        }

    def preview(self, new_data: bytes, result: Obj) -> None:
        """Check mode: server-side dry runs of both patches; fills would_restart and the annotation."""
        self.target.write(new_data, dry_run=True)
        data = dict(self.target.data or {})
        data[self.key] = new_data.decode("utf-8")
        if self.reloader is None:
            result["would_restart"] = False
            return
        wanted = self.reloader.wanted(data)
        result["checksum_annotation"]["after"] = wanted
        result["would_restart"] = wanted != self.annotation
        if result["would_restart"]:
            self.reloader.patch(wanted, dry_run=True)

    def backup_extra(self) -> Obj:
        """What the backup sidecar records about the target."""
        return {"namespace": self.target.namespace, "configmap": self.target.name, "key": self.key,
                "resource_version": self.target.resource_version, "configmap_checksum": self.checksum_before,
                "annotation": self.annotation, "deployment": self.params["deployment"]}
