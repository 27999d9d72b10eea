#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_rollback
short_description: Roll the Airlock Helm release back to an earlier revision, idempotently
version_added: 0.1.0
description:
  - Runs C(helm rollback) for a release (by default C(airlock) in C(airlock-system)) with the C(helm) binary
    found on E(PATH) or given by O(binary_path), and returns the revision before and after.
  - The target is O(revision), or when it is omitted the revision before the current one. When the current
    revision was itself made by a rollback (Helm's description V(Rollback to N)), the omitted target is V(N),
    so rerunning the same task does not flip back and forth.
  - When the current revision already has the target's content (the same chart and the same rendered
    manifest), nothing is done and the task reports no change.
  - In check mode the module reads the history and manifests only and reports the target revision and the
    revision a rollback would create.
  - Before running Helm the module checks with the Kubernetes API (bounded by O(request_timeout)) that the
    API server answers and the namespace exists, so an unreachable cluster fails quickly with a clear message.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: Only C(helm history) and C(helm get manifest) run in check mode.
  diff_mode:
    support: full
    description: The rendered manifests of the current and the target revision.
  platform:
    support: full
    platforms: posix
    description: Needs the C(helm) 3 binary and the kubernetes Python client where the module runs.
extends_documentation_fragment:
  - airlock.incident.kubernetes
options:
  release:
    description:
      - Name of the Helm release.
    type: str
    default: airlock
  namespace:
    description:
      - Namespace of the release.
    type: str
    default: airlock-system
  revision:
    description:
      - Revision to roll back to (a positive integer that exists in C(helm history)). Omitted means the
        previous revision, as described above.
    type: int
  binary_path:
    description:
      - Path to the C(helm) binary. Defaults to C(helm) on E(PATH).
    type: path
  wait:
    description:
      - Pass C(--wait) to Helm so the module returns once the rolled-back resources are ready.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds Helm may wait for the resources (C(--timeout)), 1 to 3600.
    type: int
    default: 300
  kubeconfig:
    description:
      - Path to a kubeconfig file, passed to Helm as C(--kubeconfig). Defaults to E(K8S_AUTH_KUBECONFIG), then
        the default of the kubernetes client and Helm (E(KUBECONFIG), then C(~/.kube/config)).
    type: path
  context:
    description:
      - Kubeconfig context, passed to Helm as C(--kube-context). Defaults to E(K8S_AUTH_CONTEXT).
    type: str
  request_timeout:
    description:
      - Seconds the API reachability check may take (more than 0, at most 300).
    type: float
    default: 10.0
requirements:
  - helm 3
  - kubernetes (Python client)
notes:
  - A rollback creates a new revision with the target's content; undo it by rolling back to RV(before.revision).
  - Helm restores the chart's objects, including the ConfigMap C(airlock-config); pods restart only when the pod
    template changes. If only C(config.yaml) or C(policy.rego) differ, follow with M(airlock.incident.k8s_rollout_restart).
seealso:
  - module: airlock.incident.k8s_rollout_restart
  - module: airlock.incident.k8s_triage
"""

EXAMPLES = r"""
- name: Roll Airlock back to the previous release
  airlock.incident.k8s_helm_rollback:
    release: airlock
    namespace: airlock-system
  register: rollback

- name: Roll back to a known good revision with the lab's helm
  airlock.incident.k8s_helm_rollback:
    revision: 3
    binary_path: "{{ lookup('env', 'HOME') }}/.cache/airlock-lab/bin/helm-v3.22.0/helm"
    kubeconfig: /work/main/.lab/kubeconfig
    wait_timeout: 120
"""

RETURN = r"""
release:
  description: Release name.
  returned: always
  type: str
  sample: airlock
namespace:
  description: Release namespace.
  returned: always
  type: str
  sample: airlock-system
target_revision:
  description: The revision rolled back to (or that would be).
  returned: success
  type: int
  sample: 1
new_revision:
  description: The revision the rollback created, or would create in check mode; null when nothing changed.
  returned: success
  type: int
  sample: 3
before:
  description: The current revision before the run.
  returned: success
  type: dict
  contains:
    revision:
      description: Revision number.
      type: int
    status:
      description: Helm status of that revision.
      type: str
    chart:
      description: Chart name and version.
      type: str
    app_version:
      description: App version of the chart.
      type: str
    description:
      description: Helm's description of the revision.
      type: str
after:
  description: The current revision after the run (same keys as RV(before)); in check mode, the target revision.
  returned: success
  type: dict
history:
  description: C(helm history) after the run, oldest first.
  returned: success
  type: list
  elements: dict
command:
  description: The Helm command that was run (or would run in check mode); null when nothing was to do.
  returned: success
  type: list
  elements: str
"""

import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import (
    K8s,
    k8s_arg_spec,
    require_kubernetes,
    validate_common,
)

RELEASE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$")
ROLLBACK_RE = re.compile(r"^Rollback to (\d+)$")
GOOD_STATES = ("deployed", "superseded")


def _validate(module):
    params = module.params
    errors = [m for m in (validate_common(params),) if m]
    if not RELEASE_RE.match(params["release"] or ""):
        errors.append("release: invalid value %r; accepted values: a Helm release name (lowercase letters, digits, '-', "
                      "at most 53)" % (params["release"],))
    if params["revision"] is not None and params["revision"] < 1:
        errors.append("revision: invalid value %r; accepted values: a positive revision number from helm history"
                      % (params["revision"],))
    if not 1 <= params["wait_timeout"] <= 3600:
        errors.append("wait_timeout: invalid value %r; accepted values: 1 to 3600 seconds" % (params["wait_timeout"],))
    binary = params["binary_path"]
    if binary and not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        errors.append("binary_path: %s is not an executable file; accepted values: the path of a Helm 3 binary" % binary)
    if errors:
        module.fail_json(msg="; ".join(errors))


class Helm(object):
    def __init__(self, module):
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
        self.release = params["release"]
        self.namespace = params["namespace"]

    def run(self, *args):
        cmd = self.base + list(args)
        try:
            rc, out, err = self.module.run_command(cmd)
        except OSError as exc:
            raise AirlockIncidentError("binary_path: cannot run %s: %s" % (self.binary, exc))
        if rc != 0:
            text = (err or out or "").strip()
            if "release: not found" in text:
                raise AirlockIncidentError("release %s not found in namespace %s" % (self.release, self.namespace))
            raise AirlockIncidentError("%s failed (rc=%s): %s" % (" ".join(cmd[:1] + list(args[:2])), rc, text), command=cmd)
        return out

    def history(self):
        out = self.run("history", self.release, "--output", "json", "--max", "10000")
        try:
            items = json.loads(out or "[]")
        except ValueError:
            raise AirlockIncidentError("helm history %s returned output that is not JSON: %s" % (self.release, out[:200]))
        return sorted(items, key=lambda r: int(r["revision"]))

    def manifest(self, revision):
        return self.run("get", "manifest", self.release, "--revision", str(revision))


def _summary(rev):
    return dict(revision=int(rev["revision"]), status=rev.get("status"), chart=rev.get("chart"),
                app_version=rev.get("app_version"), description=rev.get("description"))


def _current(history):
    deployed = [r for r in history if r.get("status") == "deployed"]
    return deployed[-1] if deployed else history[-1]


def _target(history, current, wanted):
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


def run(module):
    params = module.params
    helm = Helm(module)
    k8s = K8s(params)
    k8s.ensure_namespace()
    history = helm.history()
    if not history:
        raise AirlockIncidentError("release %s not found in namespace %s" % (helm.release, helm.namespace))
    current = _current(history)
    target = _target(history, current, params["revision"])
    result = dict(changed=False, release=helm.release, namespace=helm.namespace, before=_summary(current),
                  target_revision=int(target["revision"]), new_revision=None, command=None, history=[_summary(r) for r in history])

    same_chart = current.get("chart") == target.get("chart")
    cur_manifest = helm.manifest(current["revision"])
    tgt_manifest = cur_manifest if target is current else helm.manifest(target["revision"])
    if module._diff:
        result["diff"] = dict(before=cur_manifest, after=tgt_manifest,
                              before_header="revision %s" % current["revision"], after_header="revision %s" % target["revision"])
    if same_chart and cur_manifest == tgt_manifest:
        result["after"] = result["before"]
        return result

    cmd = ["rollback", helm.release, str(target["revision"])]
    if params["wait"]:
        cmd += ["--wait", "--timeout", "%ss" % params["wait_timeout"]]
    result["command"] = helm.base + cmd
    result["changed"] = True
    newest = max(int(r["revision"]) for r in history)
    if module.check_mode:
        result["new_revision"] = newest + 1
        result["after"] = _summary(target)
        return result
    try:
        helm.run(*cmd)
    except AirlockIncidentError as exc:
        # The rollback may have created a revision before the wait failed.
        try:
            after = helm.history()
            result["history"] = [_summary(r) for r in after]
            result["after"] = _summary(after[-1])
        except AirlockIncidentError:
            pass
        raise AirlockIncidentError("helm rollback of %s/%s to revision %s failed: %s"
                                   % (helm.namespace, helm.release, target["revision"], exc.msg), **result)
    after = helm.history()
    result["history"] = [_summary(r) for r in after]
    result["after"] = _summary(_current(after))
    result["new_revision"] = result["after"]["revision"]
    return result


def main():
    module = AnsibleModule(
        argument_spec=k8s_arg_spec(
            release=dict(type="str", default="airlock"),
            revision=dict(type="int"),
            binary_path=dict(type="path"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    _validate(module)
    require_kubernetes(module)
    run_module(module, run)


if __name__ == "__main__":
    main()
