# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the k8s_helm_rollback module does: roll the Helm release back to a previous good revision with the
``helm`` binary, record the undo on the new revision's Secret so that a rerun of the incident action recognises its
own rollback, and return the history.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.contract import action_errors, marker
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import K8s, validate_common
from ansible_collections.airlock.incident.plugins.module_utils.k8s.helm import Helm, Revision, current_revision, read_marker, recorded_undo
from ansible_collections.airlock.incident.plugins.module_utils.k8s.helm import release_error, summary, target_revision, write_marker

Obj = t.Dict[str, t.Any]


def validate(module: t.Any) -> t.List[str]:
    """Every input refusal of k8s_helm_rollback, each naming its option."""
    params = module.params
    errors = [m for m in (validate_common(params),) if m]
    errors += [m for m in (release_error(params["release"]),) if m]
    if params["revision"] is not None and params["revision"] < 1:
        errors.append("revision: invalid value %r; accepted values: a positive revision number from helm history"
                      % (params["revision"],))
    errors += action_errors(params, module.check_mode, "roll back release %s/%s" % (params["namespace"], params["release"]))
    binary = params["binary_path"]
    if binary and not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        errors.append("binary_path: %s is not an executable file; accepted values: the path of a Helm 3 binary" % binary)
    return errors


def rollback(module: t.Any, helm: Helm, k8s: K8s, cmd: t.List[str], target: Revision, mark: str, result: Obj) -> Obj:
    """Run ``helm rollback`` and record the undo on the new revision; the result after it."""
    try:
        helm.run(*cmd)
    except AirlockIncidentError as exc:
        # The rollback may have created a revision before the wait failed.
        try:
            after = helm.history()
            result["history"] = [summary(r) for r in after]
            result["after"] = summary(after[-1])
        except AirlockIncidentError:
            pass
        raise AirlockIncidentError("helm rollback of %s/%s to revision %s failed: %s"
                                   % (helm.namespace, helm.release, target["revision"], exc.msg), **result) from exc
    after = helm.history()
    result["history"] = [summary(r) for r in after]
    result["after"] = summary(current_revision(after))
    result["new_revision"] = result["after"]["revision"]
    result["undo_recorded"] = write_marker(k8s, helm.release, result["new_revision"], mark, result["undo"])
    if not result["undo_recorded"]:
        module.warn("release %s/%s: the Secret of revision %s was not found (a storage driver other than Secret?); the "
                    "undo (revision %s) is returned but not recorded on the release"
                    % (helm.namespace, helm.release, result["new_revision"], result["undo"]))
    result["msg"] = "rolled back release %s/%s from revision %s to revision %s (new revision %s)" % (
        helm.namespace, helm.release, result["undo"], target["revision"], result["new_revision"])
    return result


def run(module: t.Any) -> Obj:
    """Roll the Helm release back to a previous revision (or say it already has its content), recording the undo."""
    params = module.params
    mark = marker(params)
    helm = Helm(module)
    k8s = K8s(params)
    k8s.ensure_namespace()
    history = helm.history()
    if not history:
        raise AirlockIncidentError("release %s not found in namespace %s" % (helm.release, helm.namespace))
    current = current_revision(history)
    target = target_revision(history, current, params["revision"])
    result = dict(changed=False, release=helm.release, namespace=helm.namespace, before=summary(current),
                  target_revision=int(target["revision"]), new_revision=None, command=None, rolled_back_for=mark,
                  undo=None, undo_recorded=False, history=[summary(r) for r in history])

    same_chart = current.get("chart") == target.get("chart")
    cur_manifest = helm.manifest(current["revision"])
    tgt_manifest = cur_manifest if target is current else helm.manifest(target["revision"])
    result["diff"] = dict(before=cur_manifest, after=tgt_manifest,
                          before_header="revision %s" % current["revision"], after_header="revision %s" % target["revision"])
    if same_chart and cur_manifest == tgt_manifest:
        # A rerun of this incident action finds its record on the current revision and returns the same undo.
        recorded = read_marker(k8s, helm.release, int(current["revision"]))
        result.update(after=result["before"], undo=recorded_undo(recorded, mark))
        result["undo_recorded"] = result["undo"] is not None
        result["msg"] = "release %s/%s: revision %s already has the content of revision %s; nothing to roll back" % (
            helm.namespace, helm.release, current["revision"], target["revision"])
        return result

    cmd = ["rollback", helm.release, str(target["revision"])]
    if params["wait"]:
        cmd += ["--wait", "--timeout", "%ss" % params["wait_timeout"]]
    result.update(command=helm.base + cmd, changed=True, undo=int(current["revision"]))
    if module.check_mode:
        result["new_revision"] = max(int(r["revision"]) for r in history) + 1
        result["after"] = summary(target)
        result["msg"] = "would roll back release %s/%s from revision %s to revision %s (new revision %s)" % (
            helm.namespace, helm.release, current["revision"], target["revision"], result["new_revision"])
        return result
    return rollback(module, helm, k8s, cmd, target, mark, result)
