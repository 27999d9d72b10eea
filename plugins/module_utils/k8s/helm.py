# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Helm release's history and rollback, for ``k8s_helm_rollback``.

:class:`Helm` runs the ``helm`` binary (``history``, ``get manifest``,
``rollback``); :func:`current_revision` and :func:`target_revision` choose what
to roll back to (the revision before the current one, skipping failed ones,
and the same target again when the current revision was itself a rollback).

The undo is recorded on the release: the Secret Helm stores the revision in
(``sh.helm.release.v1.<release>.v<revision>``, the default storage driver)
gets the annotations :data:`ROLLED_BACK_FOR` (``<incident_id>/<action>``) and
:data:`ROLLED_BACK_FROM` (the revision that was current before). Helm reads
only the Secret's labels and data, so the annotations change nothing for it.
A rerun of the same incident action finds them on the current revision and
rolls nothing back.
"""

from __future__ import annotations

import json
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, NotFound
from ansible_collections.airlock.incident.plugins.module_utils.k8s.objects import annotations_of

RELEASE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$")
ROLLBACK_RE = re.compile(r"^Rollback to (\d+)$")
GOOD_STATES = ("deployed", "superseded")
#: Annotations of the release revision's Secret written by a rollback.
ROLLED_BACK_FOR = "airlock.incident/rolled-back-for"
ROLLED_BACK_FROM = "airlock.incident/rolled-back-from-revision"

Revision = t.Dict[str, t.Any]


def release_error(release: t.Optional[str]) -> t.Optional[str]:
    """The refusal of a ``release`` that is not a Helm release name, or None."""
    if not RELEASE_RE.match(release or ""):
        return ("release: invalid value %r; accepted values: a Helm release name (lowercase letters, digits, '-', "
                "at most 53)" % (release,))
    return None


def helm_environ(params: t.Mapping[str, t.Any]) -> t.Dict[str, str]:
    """helm's environment variables for the connection options the kubeconfig does not hold."""
    environ = {}
    for option, name in (("host", "HELM_KUBEAPISERVER"), ("api_key", "HELM_KUBETOKEN"), ("ca_cert", "HELM_KUBECAFILE")):
        if params.get(option):
            environ[name] = str(params[option])
    if params.get("validate_certs") is False:
        environ["HELM_KUBEINSECURE_SKIP_TLS_VERIFY"] = "true"
    return environ


class Helm:
    """The ``helm`` binary for one release in one namespace (``run_command`` of the module)."""

    def __init__(self, module: t.Any) -> None:
        self.module = module
        params = module.params
        if params["binary_path"]:
            self.binary = params["binary_path"]
        else:
            self.binary = module.get_bin_path("helm")
            if not self.binary:
                raise AirlockIncidentError("binary_path: helm was not found on PATH; install Helm 3 or set binary_path")
        self.base = [self.binary, "--namespace", params["namespace"]]
        if params["kubeconfig"]:
            self.base += ["--kubeconfig", params["kubeconfig"]]
        if params["context"]:
            self.base += ["--kube-context", params["context"]]
        # host, api_key, ca_cert and validate_certs reach helm through its environment (a token never on a
        # command line); without them helm finds the kubeconfig or the in-cluster service account itself.
        self.environ = helm_environ(params)
        self.release = params["release"]
        self.namespace = params["namespace"]

    def run(self, *args: str) -> str:
        """Run ``helm <args>``; a failure names the command and Helm's own message."""
        cmd = self.base + list(args)
        try:
            rc, out, err = self.module.run_command(cmd, environ_update=self.environ)
        except OSError as exc:
            raise AirlockIncidentError("binary_path: cannot run %s: %s" % (self.binary, exc)) from exc
        if rc != 0:
            text = (err or out or "").strip()
            if "release: not found" in text:
                raise AirlockIncidentError("release %s not found in namespace %s" % (self.release, self.namespace))
            raise AirlockIncidentError("%s failed (rc=%s): %s" % (" ".join(cmd[:1] + list(args[:2])), rc, text), command=cmd)
        return t.cast(str, out)

    def history(self) -> t.List[Revision]:
        """``helm history``, oldest first."""
        out = self.run("history", self.release, "--output", "json", "--max", "10000")
        try:
            items = json.loads(out or "[]")
        except ValueError as exc:
            raise AirlockIncidentError("helm history %s returned output that is not JSON: %s"
                                       % (self.release, out[:200])) from exc
        return sorted(items, key=lambda r: int(r["revision"]))

    def manifest(self, revision: t.Any) -> str:
        """The rendered manifest of ``revision``."""
        return self.run("get", "manifest", self.release, "--revision", str(revision))


def summary(rev: Revision) -> Revision:
    """The fields of a history entry the module returns."""
    return dict(revision=int(rev["revision"]), status=rev.get("status"), chart=rev.get("chart"),
                app_version=rev.get("app_version"), description=rev.get("description"))


def current_revision(history: t.List[Revision]) -> Revision:
    """The deployed revision (the newest one when none is deployed)."""
    deployed = [r for r in history if r.get("status") == "deployed"]
    return deployed[-1] if deployed else history[-1]


def target_revision(history: t.List[Revision], current: Revision, wanted: t.Optional[int]) -> Revision:
    """The revision to roll back to: ``wanted``; or the target of the current revision when it was a rollback
    (``Rollback to N``: a rerun does not flip back and forth); or the newest earlier deployed/superseded one."""
    by_rev = dict((int(r["revision"]), r) for r in history)
    if wanted is not None:
        if wanted not in by_rev:
            raise AirlockIncidentError("revision: %s is not in the history of this release; accepted values: %s"
                                       % (wanted, ", ".join(str(r) for r in sorted(by_rev))))
        return by_rev[wanted]
    match = ROLLBACK_RE.match(current.get("description") or "")
    if match and int(match.group(1)) in by_rev:
        return by_rev[int(match.group(1))]
    cur = int(current["revision"])
    earlier = [r for r in history if int(r["revision"]) < cur and r.get("status") in GOOD_STATES]
    if not earlier:
        raise AirlockIncidentError("release has no earlier successfully deployed revision to roll back to (history: %s)"
                                   % ", ".join("%s=%s" % (r["revision"], r.get("status")) for r in history))
    return earlier[-1]


def release_secret_name(release: str, revision: int) -> str:
    """The Secret Helm 3 stores ``revision`` of ``release`` in (default storage driver)."""
    return "sh.helm.release.v1.%s.v%d" % (release, revision)


def recorded_undo(annotations: t.Mapping[str, str], mark: str) -> t.Optional[int]:
    """The revision ``mark`` rolled back from, when the annotations were written by ``mark``; else None."""
    if annotations.get(ROLLED_BACK_FOR) != mark:
        return None
    try:
        return int(annotations.get(ROLLED_BACK_FROM) or "")
    except ValueError:
        return None


def read_marker(k8s: K8s, release: str, revision: int) -> t.Dict[str, str]:
    """The annotations of the revision's Secret (empty when the Secret is not there, e.g. another storage driver)."""
    name = release_secret_name(release, revision)
    try:
        secret = k8s.call("secret %s/%s" % (k8s.namespace, name), k8s.core.read_namespaced_secret, name, k8s.namespace)
    except NotFound:
        return {}
    # Only the metadata: the release data stays out of results and memory beyond this call.
    return dict(annotations_of({"metadata": k8s.sanitize(secret.metadata)}))


def write_marker(k8s: K8s, release: str, revision: int, mark: str, rolled_back_from: int) -> bool:
    """Record the rollback on the new revision's Secret; False when the Secret is not there."""
    name = release_secret_name(release, revision)
    patch = {"metadata": {"annotations": {ROLLED_BACK_FOR: mark, ROLLED_BACK_FROM: str(rolled_back_from)}}}
    try:
        k8s.call("secret %s/%s" % (k8s.namespace, name), k8s.core.patch_namespaced_secret, name, k8s.namespace, patch)
    except NotFound:
        return False
    return True
