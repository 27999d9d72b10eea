# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: timeline
type: notification
short_description: Append every task of an incident playbook to the incident's timeline
version_added: 0.1.0
description:
  - Records each task result of the run (UTC start time, task name, host, V(ok), V(changed), V(failed) or
    V(unreachable), duration) as a timeline entry of kind C(task) (actor C(ansible)) of the incident the run works
    on, so the report and the review are built from what happened, not from hand-written entries.
  - The incident is the one the run's M(airlock.incident.incident) tasks name (their C(record_path)), or the one
    given by O(directory) and O(incident_id). Tasks that ran before the incident was declared are recorded too.
  - Writes once, when the playbook ends, under the record's lock (merged with everything the modules recorded).
    Never declares an incident, writes nothing in check mode, and a failure to write is a warning, never a
    failed run. Skipped tasks are not recorded.
requirements:
  - enable it, for example C(ANSIBLE_CALLBACKS_ENABLED=airlock.incident.timeline) or C(callbacks_enabled) in ansible.cfg
options:
  directory:
    description: Directory of the incident records, when the run does not call M(airlock.incident.incident).
    type: path
    env:
      - name: AIRLOCK_INCIDENT_TIMELINE_DIRECTORY
    ini:
      - section: callback_airlock_incident_timeline
        key: directory
  incident_id:
    description: The incident, with O(directory).
    type: str
    env:
      - name: AIRLOCK_INCIDENT_TIMELINE_ID
    ini:
      - section: callback_airlock_incident_timeline
        key: incident_id
"""

import datetime
import time
import typing as t

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError
from ansible_collections.airlock.incident.plugins.module_utils.incident.tasklog import append, incident_of, task_entry

_INCIDENT_ACTIONS = ("airlock.incident.incident", "incident")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "airlock.incident.timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._started: t.Dict[str, t.Tuple[datetime.datetime, float]] = {}
        self._entries: t.List[t.Dict[str, t.Any]] = []
        self._incidents: t.List[t.Tuple[str, str]] = []

    def _begin(self, task: t.Any) -> None:
        self._started[task._uuid] = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0),
                                     time.monotonic())

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        self._begin(task)

    def v2_playbook_on_handler_task_start(self, task: t.Any) -> None:
        self._begin(task)

    def _record(self, result: t.Any, status: str) -> None:
        task = result._task
        started, clock = self._started.get(task._uuid, (datetime.datetime.now(datetime.timezone.utc), time.monotonic()))
        if status == "ok" and result._result.get("changed"):
            status = "changed"
        self._entries.append(task_entry(task.get_name(), result._host.get_name(), status, started,
                                        time.monotonic() - clock))
        if (getattr(task, "resolved_action", None) or task.action) in _INCIDENT_ACTIONS and status in ("ok", "changed"):
            found = incident_of(result._result)
            if found and found not in self._incidents:
                self._incidents.append(found)

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        incidents = list(self._incidents)
        directory, incident_id = self.get_option("directory"), self.get_option("incident_id")
        if directory and incident_id and (directory, incident_id) not in incidents:
            incidents.append((directory, incident_id))
        if not incidents or not self._entries or context.CLIARGS.get("check"):
            return
        for where, which in incidents:
            try:
                added = append(where, which, self._entries)
            except (AirlockIncidentError, OSError, ValueError) as exc:
                self._display.warning("airlock.incident.timeline: could not record the tasks in %s: %s" % (which, exc))
                continue
            self._display.vv("airlock.incident.timeline: %d task entries added to %s" % (added, which))
