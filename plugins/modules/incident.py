#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: incident
short_description: Declare and update an MCP Airlock incident record, its report and its notices
version_added: 0.1.0
description:
  - Keeps one incident record as JSON at C(<directory>/<id>/incident.json) and renders the operator
    playbook's incident report from it to C(<directory>/<id>/incident.md).
  - The first run for an id declares the incident (O(severity) and O(type) are then required); later runs
    converge the record to the options given. Options left out keep their recorded value. List options
    (O(symptoms), O(preventive_measures), O(impact.affected_services)) and O(timeline) only add items.
  - Changes of severity, type, commander, start time and status are written to the timeline
    automatically. When the status becomes V(RESOLVED) the record gets C(resolved_at) and the duration.
  - Status changes follow the rules listed under RV(incident). Forward moves may skip states (a false alarm can go
    from V(INVESTIGATING) straight to V(RESOLVED)); an open incident may step back to an earlier open state
    (a wrong root cause, a fix that did not hold); V(RESOLVED) is terminal unless O(reopen=true).
    A refused change fails and names the allowed next states.
  - Renders the playbook's communication templates (P0/P1 notification, internal notification, status
    update, resolution notice) into RV(notice); sending them is left to a notification module.
  - Returns when the next status update is due (P0 every 15 minutes, P1 every 30 minutes, P2 every
    2 hours, P3 daily) and whether the time-based escalation (P0 after 1 hour, P1 after 4 hours) is due.
  - Rerunning a task with the same input changes nothing and does not touch the files. Writers hold an
    exclusive lock on C(<directory>/<id>/.incident.lock) while they read, merge and atomically replace the
    record, so concurrent tasks (several hosts, several AWX jobs) lose no timeline entry.
author:
  - airlock.incident contributors (@airlock-incident)
attributes:
  check_mode:
    support: full
    description: Computes the new record, report, notice and diff and writes nothing (no directory, no lock file).
  diff_mode:
    support: full
    description: The diff shows the JSON record before and after.
  platform:
    support: full
    platforms: posix
    description: Uses C(fcntl.flock) on the host that runs the module; keep O(directory) on a local or
      lock-capable file system.
options:
  directory:
    description:
      - Directory holding the incident records, one sub-directory per id. Created if missing.
    type: path
    required: true
  id:
    description:
      - Incident id, C(INC-YYYYMMDD-HHMMSS) with an optional C(-suffix) of letters and digits,
        for example V(INC-20261128-160000) or V(INC-20261128-160000-eu1).
      - This format is a subset of the collection's one incident-id rule (the C(incident_id) option of the
        C(airlock.incident.action) doc fragment, which every module that changes something takes), so these ids
        are accepted everywhere; a value is checked against that rule first, then against this format.
      - Strongly recommended after the declaration (register RV(id) and pass it on, or use
        C(set_stats) between AWX workflow nodes).
      - When omitted and O(title) is set, an open (not resolved) incident in O(directory) with the same
        title (and O(type), when given) is reused, so rerunning a declaration task does not open a second
        incident; several matches are an error. Otherwise a new id is generated from the current UTC time.
    type: str
  severity:
    description:
      - Severity from the playbook's classification. Required to declare a new incident.
      - Changing it on an existing incident is recorded in the timeline.
    type: str
    choices: [P0, P1, P2, P3]
  type:
    description:
      - Incident type from the playbook. Required to declare a new incident.
    type: str
    choices: [service_outage, security_incident, performance_degradation, authentication_issues, policy_failures,
              data_issues]
  status:
    description:
      - Target status. A new incident starts as V(INVESTIGATING) unless another status is given.
    type: str
    choices: [INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED]
  reopen:
    description:
      - Allow a V(RESOLVED) incident to move back to an open O(status). Without it, V(RESOLVED) is terminal.
    type: bool
    default: false
  started_at:
    description:
      - When the incident started (detection time), RFC 3339, for example V(2026-11-28T15:42:00Z).
        Defaults to the declaration time. A time without zone is read as UTC.
    type: str
  commander:
    description:
      - Incident commander.
    type: str
  title:
    description:
      - One-line summary.
    type: str
  symptoms:
    description:
      - Observed symptoms, added to the record's list (duplicates ignored).
    type: list
    elements: str
  impact:
    description:
      - Impact assessment. Sub-options left out keep their recorded value.
    type: dict
    suboptions:
      affected_users:
        description: Number or groups of affected users.
        type: str
      affected_services:
        description: Affected services, added to the recorded list.
        type: list
        elements: str
      business_impact:
        description: Business impact.
        type: str
  timeline:
    description:
      - Timeline entries to add. Each is a mapping with C(text) and optional C(time) (RFC 3339; default now),
        C(kind) (default V(note); V(action) entries are listed under "Actions Taken" in status updates)
        and C(actor).
      - An entry identical to a recorded one is not added again. An entry without C(time) is not added
        again if an entry with the same text, kind and actor exists at any time, so reruns are harmless;
        give C(time) to record the same text twice.
    type: list
    elements: dict
  root_cause:
    description:
      - Root cause, once identified.
    type: str
  resolution:
    description:
      - What resolved the incident.
    type: str
  preventive_measures:
    description:
      - Actions to prevent recurrence, added to the recorded list.
    type: list
    elements: str
  communication:
    description:
      - Details used by the notices; stored in the record. Sub-options left out keep their recorded value.
    type: dict
    suboptions:
      status_page:
        description: Status page URL.
        type: str
      war_room:
        description: War room channel. The notice defaults to C(#incident-response-<id>).
        type: str
      bridge:
        description: Conference bridge.
        type: str
      eta:
        description: Estimated time to resolution.
        type: str
      service_status:
        description: Service status for the internal notification.
        type: str
        choices: [UP, DOWN, DEGRADED]
      current_situation:
        description: Current situation for the status update (default the latest timeline entry).
        type: str
      next_steps:
        description: Planned actions for the status update (replaces the recorded list).
        type: list
        elements: str
      review_scheduled:
        description: When the post-incident review is scheduled.
        type: str
      review_link:
        description: Meeting link of the post-incident review.
        type: str
  notify:
    description:
      - Which communication template to render into RV(notice).
      - V(auto) renders the P0/P1 V(notification) (V(internal) for P2/P3) when the incident is declared,
        V(resolution) when it becomes resolved, V(update) for any other change, and nothing when nothing changed.
      - V(resolution) fails unless the incident is V(RESOLVED).
    type: str
    default: auto
    choices: [none, notification, internal, update, resolution, auto]
  series:
    description:
      - Measured figures to add to the incident's C(series.json) beside the record, by name (lower-case letters,
        digits and C(_), for example V(deny_rate), V(auth_failures_per_minute), V(latency_p95_ms), V(restarts)), each a
        list of C(time) (RFC 3339) and C(value) (a finite number) points. The HTML report and review plot them.
      - A point at a time its series holds already is kept as first recorded, so a rerun that measures nothing new
        changes nothing. Written under the incident's lock, atomically, never through a link; a damaged file is
        refused, never overwritten.
    type: dict
notes:
  - The Markdown report is generated; edit the JSON record (or use this module), not C(incident.md).
  - Times are UTC, whole seconds.
seealso:
  - module: airlock.incident.health
"""

EXAMPLES = r"""
- name: Declare a P0 outage
  airlock.incident.incident:
    directory: /var/lib/airlock-incidents
    id: "{{ airlock_incident_id | default(omit) }}"
    severity: P0
    type: service_outage
    title: Airlock gateway down in prod-eu
    commander: Jane Doe
    symptoms:
      - /ready answers 503
    impact:
      affected_users: all tenants
      affected_services: [mcp-airlock]
      business_impact: AI assistants cannot reach internal tools
  register: airlock_incident

- name: Hand the id to the next workflow node
  ansible.builtin.set_stats:
    data:
      airlock_incident_id: "{{ airlock_incident.id }}"

- name: Record an action and move to IDENTIFIED
  airlock.incident.incident:
    directory: /var/lib/airlock-incidents
    id: "{{ airlock_incident.id }}"
    status: IDENTIFIED
    root_cause: config.yaml lost server.addr after a ConfigMap patch
    timeline:
      - text: Rolled back the ConfigMap to revision 41
        kind: action
        actor: jdoe
    notify: update
  register: airlock_incident

- name: Post the status update
  ansible.builtin.debug:
    msg: "{{ airlock_incident.notice }}"

- name: Resolve
  airlock.incident.incident:
    directory: /var/lib/airlock-incidents
    id: "{{ airlock_incident.id }}"
    status: RESOLVED
    resolution: Restored config.yaml and rolled the deployment
    preventive_measures:
      - Merge ConfigMap changes instead of replacing config.yaml
    communication:
      review_scheduled: "2026-11-30 14:00 UTC"
  register: airlock_incident

- name: Fail loudly when escalation is due
  ansible.builtin.fail:
    msg: "{{ airlock_incident.escalation.reason }}"
  when: airlock_incident.escalation.due
"""

RETURN = r"""
id:
  description: The incident id (generated or reused when O(id) was omitted).
  returned: always
  type: str
  sample: INC-20261128-160000
id_reused:
  description: O(id) was omitted and an open incident with the same O(title) was reused.
  returned: always
  type: bool
  sample: false
created:
  description: This run declared the incident (in check mode, would declare it).
  returned: always
  type: bool
incident:
  description:
    - The full record after the run (in check mode, as it would be). Keys include C(id), C(title),
      C(severity), C(type), C(status), C(commander), C(started_at), C(declared_at), C(updated_at),
      C(resolved_at), C(duration_seconds), C(symptoms), C(impact), C(timeline) (entries with C(time),
      C(text), C(kind), C(actor)), C(root_cause), C(resolution), C(preventive_measures), C(communication),
      C(reopened_count).
    - "Status rules: INVESTIGATING -> IDENTIFIED, MONITORING, RESOLVED; IDENTIFIED -> INVESTIGATING,
      MONITORING, RESOLVED; MONITORING -> INVESTIGATING, IDENTIFIED, RESOLVED; RESOLVED -> none
      (with O(reopen): INVESTIGATING, IDENTIFIED, MONITORING)."
  returned: always
  type: dict
record_path:
  description: Path of the JSON record.
  returned: always
  type: str
  sample: /var/lib/airlock-incidents/INC-20261128-160000/incident.json
report_path:
  description: Path of the Markdown report.
  returned: always
  type: str
  sample: /var/lib/airlock-incidents/INC-20261128-160000/incident.md
notice_kind:
  description: The template rendered into RV(notice) (V(none) when nothing was rendered).
  returned: always
  type: str
  sample: notification
notice:
  description: The rendered communication template (with its C(Subject:) line), empty when RV(notice_kind=none).
  returned: always
  type: str
next_update_due:
  description:
    - When the next status update is due (UTC), from the severity's cadence counted from the last change
      of the record. When that time has passed, one cadence from now. Null once resolved.
  returned: always
  type: str
  sample: "2026-11-28T16:15:00Z"
update_overdue:
  description: The last change of the record is older than the severity's update cadence.
  returned: always
  type: bool
series_path:
  description: Path of C(series.json) when O(series) was given, else null.
  returned: always
  type: str
  sample: /var/lib/airlock-incidents/INC-20261128-160000/series.json
series_added:
  description: Points added to C(series.json) (would be, in check mode).
  returned: always
  type: int
  sample: 2
msg:
  description: What was done, in one sentence.
  returned: always
  type: str
  sample: declared incident INC-20261128-160000 (P0 service_outage)
escalation:
  description:
    - Escalation triggers. C(time_based) (the severity has one), C(after_seconds), C(due_at) (start time
      plus 1 h for P0, 4 h for P1), C(due) (unresolved past C(due_at)), C(overdue_seconds), C(reason),
      C(external) (teams to involve by type, for example V(Security Team)).
  returned: always
  type: dict
  sample: {time_based: true, after_seconds: 3600, due_at: "2026-11-28T17:00:00Z", due: false,
           overdue_seconds: null, reason: null, external: []}
"""

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import AirlockModule
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module
from ansible_collections.airlock.incident.plugins.module_utils.incident import task
from ansible_collections.airlock.incident.plugins.module_utils.incident.model import NOTICE_KINDS


def argument_spec():
    return dict(
        directory=dict(type="path", required=True),
        id=dict(type="str"),
        severity=dict(type="str", choices=["P0", "P1", "P2", "P3"]),
        type=dict(type="str", choices=["service_outage", "security_incident", "performance_degradation",
                                       "authentication_issues", "policy_failures", "data_issues"]),
        status=dict(type="str", choices=["INVESTIGATING", "IDENTIFIED", "MONITORING", "RESOLVED"]),
        reopen=dict(type="bool", default=False),
        started_at=dict(type="str"),
        commander=dict(type="str"),
        title=dict(type="str"),
        symptoms=dict(type="list", elements="str"),
        impact=dict(type="dict", options=dict(
            affected_users=dict(type="str"),
            affected_services=dict(type="list", elements="str"),
            business_impact=dict(type="str"),
        )),
        timeline=dict(type="list", elements="dict"),
        root_cause=dict(type="str"),
        resolution=dict(type="str"),
        preventive_measures=dict(type="list", elements="str"),
        communication=dict(type="dict", options=dict(
            status_page=dict(type="str"),
            war_room=dict(type="str"),
            bridge=dict(type="str"),
            eta=dict(type="str"),
            service_status=dict(type="str", choices=["UP", "DOWN", "DEGRADED"]),
            current_situation=dict(type="str"),
            next_steps=dict(type="list", elements="str"),
            review_scheduled=dict(type="str"),
            review_link=dict(type="str"),
        )),
        notify=dict(type="str", default="auto", choices=NOTICE_KINDS),
        series=dict(type="dict"),
    )


def run(module):
    return task.run(module.params, module.check_mode, diff=module._diff)


def main():
    module = AirlockModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
