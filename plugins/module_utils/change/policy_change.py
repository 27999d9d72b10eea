# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What ``airlock.incident.policy`` does: check a Rego policy against known requests, then deploy it.

The shared safe-change flow (:mod:`.flow`) backs up, writes, reloads, verifies
and rolls back; this file holds what is particular to the policy:

* the reload options and the other refusals made before anything is touched
  (:func:`check_params`), and the reloads they ask for (:func:`make_reloaders`);
* the Rego checks (:func:`validate`, through ``airlock.rego``): nothing is
  deployed, and the cluster is not even contacted, unless every known request
  gets its expected decision;
* check mode (:func:`preview`) and the deployment (:func:`deploy`).

Functions that decide take the module's ``params``, ``check_mode`` and its
``warn`` callback; only :func:`run` and :func:`make_reloaders` take the module
itself, because reload commands and the Kubernetes target run through it.
"""

from __future__ import annotations

import os
import typing as t

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.airlock.incident.plugins.module_utils.airlock.rego import (
    check_policy,
    summarize_failures,
    validate_known_requests,
)
from ansible_collections.airlock.incident.plugins.module_utils.airlock.rego_engine import (
    HAS_REGOPY,
    REGOPY_IMPORT_ERROR,
    RegoCheckError,
)
from ansible_collections.airlock.incident.plugins.module_utils.change.backups import BackupStore, sha256_bytes
from ansible_collections.airlock.incident.plugins.module_utils.change.flow import (
    SafeChange,
    check_change_params,
    decode,
    open_target,
    read_text,
)
from ansible_collections.airlock.incident.plugins.module_utils.change.pidfile import service_pid
from ansible_collections.airlock.incident.plugins.module_utils.change.safe_change import FileTarget, Reloader
from ansible_collections.airlock.incident.plugins.module_utils.change.yaml_merge import text_diff
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.k8s.config_target import POLICY_KEY

#: The module name backups and messages carry.
MODULE_NAME = "airlock.incident.policy"

#: Options that only mean something with ``target=file``.
FILE_ONLY = ("dest", "restart_command", "service_name", "reload_command", "pid_file", "process_name", "admin_url",
             "admin_token")

Warn = t.Callable[[str], None]
Result = t.Dict[str, t.Any]
#: (reloader, rollback reloader) of a host target.
Reloaders = t.Tuple[Reloader, Reloader]


def check_params(params: t.Dict[str, t.Any], check_mode: bool, warn: Warn
                 ) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.List[str]]:
    """The normalised known requests and their warnings; InputError for an option that does not fit."""
    method = params["reload"]
    configmap = params["target"] == "configmap"
    check_change_params(params, check_mode, FILE_ONLY)
    if configmap and method not in ("restart", "none"):
        raise InputError("reload: invalid value %r with target=configmap; accepted values: restart (a rolling restart "
                         "of the deployment through the checksum annotation), none. A signal would have to be sent "
                         "with kubectl exec (kill -HUP 1), which kills the released Airlock" % method)
    if not configmap and method == "restart" and not (params["restart_command"] or params["service_name"]):
        raise InputError("reload=restart needs restart_command (an argv list) or service_name (a systemd unit); "
                         "set reload=none to deploy without reloading")
    if method == "signal" and not (params["pid_file"] or params["reload_command"]):
        raise InputError("reload=signal needs pid_file or reload_command")
    if method == "signal" and not params["reload_command"]:
        # The PID must be the service before anything is written (and again when the signal is sent).
        service_pid(params["pid_file"], params.get("process_name"))
    if method == "admin" and not params["admin_url"]:
        raise InputError("reload=admin needs admin_url (the full URL of the policy reload endpoint)")
    if params["verify_url"] and method == "none":
        warn("verify_url is only used after a reload; reload=none, so the service is not checked")
    return validate_known_requests(params["tests"])


def make_reloaders(module: t.Any) -> Reloaders:
    """(reloader, rollback_reloader) for the configured reload method of a host target.

    The rollback restarts Airlock (``restart_command`` or ``service_name``) when one is set, since a signal or
    an admin call may be what failed; otherwise it repeats the reload.
    """
    params = module.params
    method = params["reload"]
    restart = None
    if params["restart_command"]:
        restart = Reloader(module, "command", command=params["restart_command"])
    elif params["service_name"]:
        restart = Reloader(module, "systemd", service_name=params["service_name"])
    if method == "restart":
        return t.cast(Reloader, restart), t.cast(Reloader, restart)
    if method == "signal":
        reloader = Reloader(module, "signal", command=params["reload_command"], signal_name=params["signal"],
                            pid_file=params["pid_file"], process_name=params.get("process_name"))
    elif method == "admin":
        reloader = Reloader(module, "admin", admin_url=params["admin_url"], admin_token=params["admin_token"],
                            validate_certs=params["validate_certs"])
    else:
        reloader = Reloader(module, "none")
        return reloader, reloader
    return reloader, restart or reloader


#: Backup kinds a policy can be restored from: what a change replaced, and what the module deployed.
RESTORABLE_KINDS = ("pre-change", "deployed")


class _Named:
    """The target as backups name it (``describe()``), known before the target is opened."""

    def __init__(self, params: t.Mapping[str, t.Any]) -> None:
        if params["target"] == "configmap":
            self.name = "configmap/%s/%s/%s" % (params["namespace"], params["configmap"], POLICY_KEY)
        else:
            self.name = FileTarget(params["dest"]).describe()

    def describe(self) -> str:
        return self.name


def backup_source(params: t.Mapping[str, t.Any], tests: t.List[t.Dict[str, t.Any]]
                  ) -> t.Tuple[str, t.Dict[str, t.Any], t.List[t.Dict[str, t.Any]]]:
    """(text, chosen, candidates): the newest of this module's backups of the target in ``restore_from`` that
    compiles and gets every known request's expected decision.

    Candidates are tried newest first (deployed copies and the contents changes replaced alike); each is
    reported with why it was passed over. AirlockIncidentError (nothing touched) when none passes.
    """
    store = BackupStore(params["restore_from"])
    target = _Named(params)
    entries = store.entries(target, kinds=RESTORABLE_KINDS)
    candidates: t.List[t.Dict[str, t.Any]] = []
    if not HAS_REGOPY:
        raise AirlockIncidentError(missing_required_lib("regopy"), exception=str(REGOPY_IMPORT_ERROR))
    for entry in reversed(entries):
        seen = {"backup": entry["path"], "kind": entry.get("kind"), "created": entry.get("created"),
                "sha256": entry.get("sha256"), "ok": False, "errors": []}
        candidates.append(seen)
        try:
            text = decode(store.read(entry), entry["path"], "restore_from")
            report = check_policy(text, filename=POLICY_KEY, tests=tests)
        except (AirlockIncidentError, RegoCheckError, OSError) as exc:
            seen["errors"] = [str(getattr(exc, "msg", exc))]
            continue
        seen["errors"] = summarize_failures(report)
        if report["ok"]:
            seen["ok"] = True
            return text, seen, candidates
    raise AirlockIncidentError(
        "restore_from: none of the %d backup(s) of %s in %s compiles and passes the %d known request(s); nothing "
        "was touched" % (len(entries), target.describe(), store.directory, len(tests)),
        candidates=candidates, changed=False, restored_from=None)


def policy_source(params: t.Mapping[str, t.Any]) -> t.Tuple[str, str]:
    """(source, file name) of the policy to deploy: ``src`` read from the host, or ``content``."""
    if params["src"]:
        return read_text(params["src"], "src"), os.path.basename(params["src"])
    if params["target"] == "configmap":
        return params["content"], POLICY_KEY
    return params["content"], os.path.basename(params["dest"]) or "policy.rego"


def validate(params: t.Mapping[str, t.Any], warn: Warn, source: str, filename: str, tests: t.List[t.Dict[str, t.Any]],
             warnings: t.List[str]) -> t.Dict[str, t.Any]:
    """The check_policy report of ``source``; the warnings (``warnings`` and the report's) are shown."""
    test_modules = [(os.path.basename(path), read_text(path, "test_files")) for path in params["test_files"] or []]
    if not HAS_REGOPY:
        raise AirlockIncidentError(missing_required_lib("regopy"), exception=str(REGOPY_IMPORT_ERROR))
    try:
        report = check_policy(source, filename=filename, tests=tests, test_modules=test_modules,
                              run_rego_tests=params["run_rego_tests"])
    except RegoCheckError as exc:
        raise AirlockIncidentError("cannot validate the policy: %s; nothing was deployed" % exc) from exc
    warnings.extend(report["warnings"])
    if not tests:
        warnings.append("no known requests (tests): only compilation was checked; a policy that denies every "
                        "request (like the project's sample) would pass")
    for warning in warnings:
        warn(warning)
    return report


def refuse_failed(params: t.Mapping[str, t.Any], report: t.Mapping[str, t.Any], errors: t.List[str]) -> None:
    """AirlockIncidentError (nothing touched) when the report of the checks is not ok."""
    if report["ok"]:
        return
    configmap = params["target"] == "configmap"
    where = ("%s of configmap %s/%s" % (POLICY_KEY, params["namespace"], params["configmap"]) if configmap
             else FileTarget(params["dest"]).path)
    raise AirlockIncidentError(
        "refusing to deploy the policy to %s, nothing was touched%s: %s"
        % (where, " (no API call was made)" if configmap else "", "; ".join(errors)),
        errors=errors, decisions=report["decisions"], rego_tests=report["rego_tests"], changed=False,
        rolled_back=False, backup_path=None)


def preview(params: t.Mapping[str, t.Any], check_mode: bool, change: SafeChange, before: t.Optional[bytes],
            source: str, report: t.Mapping[str, t.Any], result: Result, reloaders: t.Optional[Reloaders]
            ) -> t.Optional[Result]:
    """Set the diff; in check mode, what would be deployed (the result), else None."""
    name = change.name()
    result["diff"] = text_diff(before.decode("utf-8", "replace") if before is not None else "", source,
                               "%s (deployed)" % name, "%s (new)" % (params["src"] or "content"))
    if not check_mode:
        return None
    result["changed"] = True
    if change.cluster is not None:
        change.cluster.preview(source.encode("utf-8"), result)
        reload_text = " and roll out deployment %s" % params["deployment"] if result["would_restart"] else ""
    else:
        reloader = t.cast(Reloaders, reloaders)[0]
        reload_text = " and reload Airlock with %s" % reloader.describe() if reloader.active else ""
    result["msg"] = "would deploy the policy to %s (%d known requests passed)%s" % (
        name, len(report["decisions"]), reload_text)
    return result


def keep_deployed(change: SafeChange, source: str, result: Result) -> None:
    """Keep a copy of the policy just deployed (kind ``deployed``) beside the backups: a later ``restore_from``
    finds the last policy this module deployed, not only the ones it replaced."""
    result["deployed_copy"] = change.store.save(change.target, source.encode("utf-8"),
                                                incident_id=change.params["incident_id"], kind="deployed",
                                                module=MODULE_NAME, extra={"verified": result["verified"]})


def deploy(warn: Warn, change: SafeChange, before: t.Optional[bytes], source: str, result: Result,
           reloaders: t.Optional[Reloaders]) -> str:
    """Back up, write, reload, verify (and roll back); the success message.

    ``reloaders`` are those of a host target (:func:`make_reloaders`); None with ``target=configmap``.
    """
    name = change.name()
    extra = {"new_sha256": result["sha256_after"]}
    if change.cluster is not None:
        result["would_restart"] = change.cluster.reloader is not None
        change.commit(before, source.encode("utf-8"), result, "pre-change", extra)
        keep_deployed(change, source, result)
        if change.cluster.reloader is None:
            warn("reload=none: the Airlock pods keep the previous policy until they restart")
        return "deployed the policy to %s%s" % (name, change.done(result, "reloaded"))
    reloader, rollback_reloader = t.cast(Reloaders, reloaders)
    change.commit(before, source.encode("utf-8"), result, "pre-change", extra, reloader=reloader,
                  rollback_reloader=rollback_reloader)
    keep_deployed(change, source, result)
    if not reloader.active:
        warn("reload=none: Airlock keeps the previous policy until it is restarted")
        return "deployed the policy to %s" % name
    return "deployed the policy to %s, reloaded with %s%s" % (
        name, reloader.describe(), " and verified" if result["verified"] else "")


def run(module: t.Any) -> Result:
    """The module's work: check the options and the policy, then open the target and deploy."""
    params = module.params
    tests, warnings = check_params(params, module.check_mode, module.warn)
    configmap = params["target"] == "configmap"
    restored: t.Dict[str, t.Any] = {}
    if params["restore_from"]:
        text, chosen, candidates = backup_source(params, tests)
        params["content"] = text
        restored = {"restored_from": chosen["backup"], "candidates": candidates}
    source, filename = policy_source(params)
    report = validate(params, module.warn, source, filename, tests, warnings)
    errors = summarize_failures(report)
    refuse_failed(params, report, errors)
    # The cluster is contacted only after the policy was checked.
    change, before = open_target(module, MODULE_NAME, POLICY_KEY, "policy", "reloaded",
                                 params["reload"] == "restart", "dest", must_exist=False)
    extra = {"dest": None if configmap else change.target.path, "decisions": report["decisions"],
             "rego_tests": report["rego_tests"], "errors": errors, "engine": "regopy %s" % report["engine"]}
    if configmap:
        extra["would_restart"] = False
    extra.update(restored)
    result = change.result(before, **extra)
    result["sha256_after"] = sha256_bytes(source.encode("utf-8"))
    if before == source.encode("utf-8"):
        result["msg"] = "%s already holds this policy (sha256 %s); nothing to do" % (change.name(), result["sha256_after"])
        return result
    reloaders = None if configmap else make_reloaders(module)
    if preview(params, module.check_mode, change, before, source, report, result, reloaders) is not None:
        return result
    result["msg"] = deploy(module.warn, change, before, source, result, reloaders)
    return result


def where(module: t.Any) -> str:
    """What an I/O error of the module names: the policy file, or the backup directory with ``target=configmap``."""
    return t.cast(str, module.params["dest"] or module.params["backup_dir"] or module.params["restore_from"])
