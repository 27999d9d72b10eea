# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Delivery plans, their recorded outcomes, status-update slots and escalation levels."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.incident import delivery, escalation, model, render

T0 = datetime.datetime(2026, 11, 28, 16, 0, 0, tzinfo=datetime.timezone.utc)
NOTICE = "Subject: [P0] MCP Airlock Incident - INC-20261128-160000\n\nWe are investigating.\n"

CHANNELS = [
    {"name": "oncall", "type": "email", "to": "oncall@example.com", "port": "2525", "password": "smtp-pass-123"},
    {"name": "chat", "type": "slack", "url": "https://hooks.slack.com/services/T0/B0/SLACKSECRET", "kinds": ["update"]},
    {"name": "teams", "type": "teams", "url": "https://example.webhook.office.com/hook/TEAMSSECRET"},
    {"name": "pager", "type": "pagerduty", "routing_key": "R0UTINGKEY0123456789"},
    {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/x", "headers": {"Authorization": "Bearer HOOKTOKEN1"}},
]


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


def declare(minutes=0, **extra):
    changes = {"severity": "P0", "type": "service_outage", "title": "Gateway down", "commander": "Jane"}
    changes.update(extra)
    record = model.apply_changes(None, changes, at(minutes), "INC-20261128-160000")
    return record


def add(record, minutes, *entries):
    return model.apply_changes(record, {"timeline": list(entries)}, at(minutes))


# ---------------------------------------------------------------------------
# channels
# ---------------------------------------------------------------------------


def test_channels_get_their_defaults():
    checked = delivery.check_channels(CHANNELS)
    email, _chat, _teams, pager, hook = checked
    assert email["to"] == ["oncall@example.com"] and email["port"] == 2525 and email["secure"] == "try"
    assert email["kinds"] == delivery.KINDS
    assert pager["url"] == delivery.PAGERDUTY_URL
    assert hook["validate_certs"] is True


@pytest.mark.parametrize("channel, field", [
    ({"name": "x", "type": "sms"}, ".type: invalid value 'sms'; accepted values: email, slack, teams, webhook, pagerduty"),
    ({"name": "x y", "type": "email", "to": "a@b"}, ".name:"),
    ({"name": "x", "type": "email"}, ".to: a non-empty list"),
    ({"name": "x", "type": "email", "to": ["a@b"], "port": 0}, ".port: invalid value 0"),
    ({"name": "x", "type": "email", "to": ["a@b"], "secure": "yes"}, ".secure: invalid value 'yes'"),
    ({"name": "x", "type": "slack"}, ".url: an http:// or https:// URL is required"),
    ({"name": "x", "type": "pagerduty"}, ".routing_key: required"),
    ({"name": "x", "type": "slack", "url": "https://h/x", "kinds": ["page"]}, ".kinds: invalid value"),
    ({"name": "x", "type": "slack", "url": "https://h/x", "token": "t"}, "unknown fields token"),
])
def test_bad_channels_are_refused_by_field(channel, field):
    with pytest.raises(delivery.DeliveryError) as err:
        delivery.check_channels([channel])
    assert "airlock_incident_notify_channels[0]" in str(err.value)
    assert field in str(err.value)


def test_a_bad_url_is_refused_without_echoing_it():
    with pytest.raises(delivery.DeliveryError) as err:
        delivery.check_channels([{"name": "x", "type": "webhook", "url": "ftp://user:SECRETVALUE@host"}])
    assert "SECRETVALUE" not in str(err.value)


def test_channel_names_are_unique():
    with pytest.raises(delivery.DeliveryError, match="repeated: a"):
        delivery.check_channels([{"name": "a", "type": "slack", "url": "https://h/1"},
                                 {"name": "a", "type": "slack", "url": "https://h/2"}])


# ---------------------------------------------------------------------------
# plans
# ---------------------------------------------------------------------------


def test_plan_selects_channels_by_kind_and_builds_each_message():
    record = declare()
    plan = delivery.delivery_plan(CHANNELS, "notification", "notification", NOTICE, record, record["id"])
    assert [item["name"] for item in plan["send"]] == ["oncall", "teams", "pager", "hook"]  # chat takes updates only
    email, teams, pager, hook = plan["send"]
    assert email["subject"] == "[P0] MCP Airlock Incident - INC-20261128-160000"
    assert email["body"] == "We are investigating.\n"
    assert teams["body"]["attachments"][0]["content"]["body"][0]["text"] == email["subject"]
    assert pager["body"]["event_action"] == "trigger" and pager["body"]["dedup_key"] == record["id"]
    assert pager["body"]["payload"]["severity"] == "critical"
    assert hook["body"]["kind"] == "notification" and hook["headers"] == {"Authorization": "Bearer HOOKTOKEN1"}
    assert set(plan["secrets"]) >= {"smtp-pass-123", "R0UTINGKEY0123456789", "Bearer HOOKTOKEN1"}


def test_a_resolution_resolves_the_pagerduty_alert():
    plan = delivery.delivery_plan(CHANNELS, "resolution", "resolution", "Subject: [RESOLVED] x\n\ndone\n", declare(),
                                  "INC-20261128-160000")
    pager = [item for item in plan["send"] if item["type"] == "pagerduty"][0]
    assert pager["body"]["event_action"] == "resolve"


def test_only_names_the_exact_channels_whatever_their_kinds():
    plan = delivery.delivery_plan(CHANNELS, "escalation", "escalation@level-2", NOTICE, declare(), "INC-20261128-160000",
                                  only=["chat"])
    assert [item["name"] for item in plan["send"]] == ["chat"]


def test_a_contact_naming_an_unknown_channel_is_reported_and_the_others_still_get_it():
    plan = delivery.delivery_plan(CHANNELS, "escalation", "escalation@legal_team", NOTICE, declare(),
                                  "INC-20261128-160000", only=["nobody", "chat"])
    assert [item["name"] for item in plan["send"]] == ["chat"]
    assert len(plan["problems"]) == 1 and "no channel named nobody" in plan["problems"][0]
    entries = delivery.outcome_entries(plan, [])
    assert entries == [{"text": "[escalation@legal_team] not delivered: channel refused: " + plan["problems"][0],
                        "kind": "delivery_failed"}]


def test_a_notice_without_subject_gets_one():
    plan = delivery.delivery_plan(CHANNELS[:1], "internal", "internal", "Internal text\n", declare(), "INC-1")
    assert plan["send"][0]["subject"] == "MCP Airlock Incident INC-1: internal"
    assert plan["send"][0]["body"] == "Internal text\n"


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "page"}, "airlock_incident_notify_kind: invalid value 'page'"),
    ({"key": "a b"}, "airlock_incident_notify_key"),
    ({"text": "  "}, "the notice is empty"),
])
def test_plan_refuses_bad_input(kwargs, message):
    args = dict(channels=CHANNELS, kind="notification", key="notification", text=NOTICE, record=declare(),
                incident_id="INC-20261128-160000")
    args.update(kwargs)
    with pytest.raises(delivery.DeliveryError, match=message):
        delivery.delivery_plan(**args)


def test_delivered_channels_are_skipped_so_nothing_is_sent_twice():
    record = add(declare(), 1, {"text": "[notification] delivered to oncall (email)", "kind": "delivery"},
                 {"text": "[notification] not delivered to pager (pagerduty) after 3 attempts: HTTP 500",
                  "kind": "delivery_failed"})
    plan = delivery.delivery_plan(CHANNELS, "notification", "notification", NOTICE, record, record["id"])
    assert plan["skipped"] == ["oncall"]
    # A failed channel is tried again; another key is another notice.
    assert "pager" in [item["name"] for item in plan["send"]]
    other = delivery.delivery_plan(CHANNELS, "resolution", "resolution", NOTICE, record, record["id"])
    assert "oncall" in [item["name"] for item in other["send"]]


# ---------------------------------------------------------------------------
# outcomes
# ---------------------------------------------------------------------------


def test_outcomes_record_success_and_failure_with_secrets_masked():
    plan = delivery.delivery_plan(CHANNELS, "notification", "notification", NOTICE, declare(), "INC-20261128-160000")
    email, teams, pager, hook = plan["send"]
    results = [
        {"item": email, "changed": True},
        {"item": teams, "failed": True, "status": 500, "msg": "Status code was 500", "attempts": 2},
        {"item": pager, "failed": True, "status": -1,
         "msg": "Request failed for R0UTINGKEY0123456789 at https://u:pw@events.example/x", "attempts": 1},
        {"item": hook, "skipped": True},
        "not a result",
    ]
    entries = delivery.outcome_entries(plan, results, attempts=3)
    assert entries[0] == {"text": "[notification] delivered to oncall (email)", "kind": "delivery"}
    assert entries[1] == {"text": "[notification] not delivered to teams (teams) after 3 attempts: HTTP 500",
                          "kind": "delivery_failed"}
    assert "R0UTINGKEY0123456789" not in entries[2]["text"] and "pw@" not in entries[2]["text"]
    assert entries[2]["text"].startswith("[notification] not delivered to pager (pagerduty) after 3 attempts: ")
    assert len(entries) == 3
    # What was recorded is what the next plan reads.
    record = add(declare(), 1, *entries)
    assert delivery.delivered(record) == {("notification", "oncall")}


# ---------------------------------------------------------------------------
# status update slots
# ---------------------------------------------------------------------------


def test_no_update_before_the_first_slot():
    assert escalation.update_slot(declare(), at(14)) is None


def test_the_latest_slot_is_due_once():
    record = declare()
    due = escalation.update_slot(record, at(47))
    assert due["key"] == "update@2026-11-28T16:45:00Z" and due["number"] == 3  # missed slots are not sent late
    record = add(record, 47, {"text": due["entry"], "kind": "notice"})
    assert escalation.update_slot(record, at(50)) is None
    assert escalation.update_slot(record, at(60))["key"] == "update@2026-11-28T17:00:00Z"


def test_a_failed_channel_is_retried_within_the_slot_and_a_delivered_one_never_again():
    record = declare()
    first = escalation.update_slot(record, at(16))
    assert first["retry"] == [] and first["entry"].startswith("[update@2026-11-28T16:15:00Z] Status update 1 sent")
    key = first["key"]
    record = add(record, 16, {"text": first["entry"], "kind": "notice"},
                 {"text": "[%s] delivered to chat (slack)" % key, "kind": "delivery"},
                 {"text": "[%s] not delivered to hook (webhook) after 3 attempts: HTTP 500" % key, "kind": "delivery_failed"},
                 {"text": "[%s] not delivered to oncall (email) after 3 attempts: refused" % key,
                  "kind": "delivery_failed"})
    again = escalation.update_slot(record, at(20))
    assert again["key"] == key and again["retry"] == ["hook", "oncall"]
    assert again["entry"] == "[%s] Status update 1 retried for hook, oncall (run 2 of 3)" % key
    # the second run: hook takes it, oncall still fails; only oncall is left, for one more run
    record = add(record, 20, {"text": again["entry"], "kind": "notice"},
                 {"text": "[%s] delivered to hook (webhook)" % key, "kind": "delivery"})
    third = escalation.update_slot(record, at(25))
    assert third["retry"] == ["oncall"] and third["entry"].endswith("(run 3 of 3)")
    record = add(record, 25, {"text": third["entry"], "kind": "notice"})
    assert escalation.update_slot(record, at(29)) is None  # bounded: three runs for this slot
    assert escalation.update_slot(record, at(29), runs=4)["retry"] == ["oncall"]
    assert escalation.update_slot(record, at(30))["retry"] == []  # the next slot starts afresh
    # a refused channel (bad settings) is not a channel to retry; nothing failed: nothing due
    quiet = add(declare(), 16, {"text": first["entry"], "kind": "notice"},
                {"text": "[%s] not delivered: channel refused: x" % key, "kind": "delivery_failed"})
    assert escalation.update_slot(quiet, at(20)) is None


def test_communication_due_lists_a_retry_and_bounds_it():
    record = declare()
    key = escalation.update_slot(record, at(16))["key"]
    record = add(record, 16, {"text": "[%s] Status update 1 sent (every 15 minutes)" % key, "kind": "notice"},
                 {"text": "[%s] not delivered to hook (webhook) after 1 attempt: HTTP 500" % key, "kind": "delivery_failed"})
    due = escalation.communication_due([record], at(20))
    assert due[0]["status_update"]["retry"] == ["hook"] and "retried for hook" in due[0]["summary"]
    assert escalation.communication_due([record], at(20), runs=1) == [] or \
        escalation.communication_due([record], at(20), runs=1)[0]["status_update"] is None


def test_the_cadence_follows_the_severity_and_stops_at_resolution():
    p2 = declare(severity="P2")
    assert escalation.update_slot(p2, at(119)) is None
    assert escalation.update_slot(p2, at(120))["slot"] == "2026-11-28T18:00:00Z"
    resolved = model.apply_changes(declare(), {"status": "RESOLVED"}, at(5))
    assert escalation.update_slot(resolved, at(60)) is None


def test_the_update_notice_describes_the_incident_not_its_deliveries():
    record = add(declare(), 5, {"text": "Restarted the gateway", "kind": "action"})
    record = add(record, 6, {"text": "[notification] delivered to oncall (email)", "kind": "delivery"})
    text = render.render_notice("update", record, at(16))
    assert "- Restarted the gateway" in text.split("Current Situation:")[1].split("Actions Taken:")[0]


# ---------------------------------------------------------------------------
# escalation
# ---------------------------------------------------------------------------


def test_p1_time_trigger_reaches_a_level_per_period():
    record = declare(severity="P1", root_cause="known")
    assert escalation.escalation_plan(record, at(239))["level"] == 1
    plan = escalation.escalation_plan(record, at(240))
    assert plan["level"] == 2 and plan["reasons"] == ["time: P1 unresolved for more than 4 hours"]
    assert escalation.escalation_plan(record, at(3 * 240 + 1))["level"] == 4
    assert escalation.escalation_plan(record, at(100 * 240))["level"] == 5


def test_p0_is_customer_facing_and_business_critical():
    plan = escalation.escalation_plan(declare(root_cause="known"), at(1))
    assert plan["level"] == 2 and plan["external"] == ["executive_team"]
    assert [item["key"] for item in plan["pending"]] == ["escalation@level-2", "escalation@executive_team"]
    assert escalation.escalation_plan(declare(root_cause="x"), at(121))["level"] == 3


def test_complexity_and_security_and_data_triggers():
    p2 = declare(severity="P2", type="performance_degradation")
    assert escalation.escalation_plan(p2, at(239))["level"] == 1
    assert escalation.escalation_plan(p2, at(240))["reasons"] == ["complexity: root cause unknown after 4 hours"]
    many = declare(severity="P3", root_cause="x", impact={"affected_services": ["gateway", "idp"]})
    assert escalation.escalation_plan(many, at(1))["level"] == 2
    security = escalation.escalation_plan(declare(severity="P2", type="security_incident", root_cause="x"), at(1))
    assert security["external"] == ["security_team"] and security["level"] == 1
    data = escalation.escalation_plan(declare(severity="P2", type="data_issues", root_cause="x"), at(1))
    assert data["external"] == ["legal_team", "security_team"]
    forced = escalation.escalation_plan(declare(severity="P3", root_cause="x"), at(1), force=["vendor_support", "nope"])
    assert forced["external"] == ["vendor_support"]


def test_each_level_is_escalated_once_to_its_inventory_contacts():
    levels = [{}, {"name": "Team lead", "channels": ["lead"]}, {"channels": ["manager"]}]
    record = declare(root_cause="x")
    plan = escalation.escalation_plan(record, at(121), levels=levels, external={"executive_team": {"channels": ["exec"]}})
    pending = dict((item["target"], item) for item in plan["pending"])
    assert sorted(pending) == ["executive_team", "level-2", "level-3"]
    assert pending["level-2"]["label"] == "level 2 (Team lead)" and pending["level-2"]["channels"] == ["lead"]
    assert pending["level-3"]["label"] == "level 3 (Engineering manager)"
    assert "escalated to level 3 (Engineering manager)" in pending["level-3"]["notice"]
    record = add(record, 121, *[{"text": item["entry"], "kind": "escalation"} for item in plan["pending"]])
    assert escalation.escalation_plan(record, at(150), levels=levels)["pending"] == []
    assert [i["key"] for i in escalation.escalation_plan(record, at(181), levels=levels)["pending"]] == ["escalation@level-4"]


def test_contacts_are_checked():
    with pytest.raises(delivery.DeliveryError, match="accepted keys: executive_team, legal_team"):
        escalation.escalation_plan(declare(), at(1), external={"press": {}})
    with pytest.raises(delivery.DeliveryError, match="at most 5"):
        escalation.escalation_plan(declare(), at(1), levels=[{}] * 6)


def test_communication_due_lists_open_incidents_and_reports_damaged_records():
    quiet = declare(severity="P3", root_cause="x")
    busy = declare()
    resolved = model.apply_changes(declare(), {"status": "RESOLVED"}, at(1))
    due = escalation.communication_due([json.dumps(quiet), busy, resolved, "{broken", {"no": "id"}], at(16))
    assert [item["id"] for item in due] == ["INC-20261128-160000", "record 3", "record 4"]
    assert due[0]["status_update"]["number"] == 1 and not due[0]["damaged"]
    assert due[1]["damaged"] and "not JSON" in due[1]["summary"]


def test_attachments_go_with_email_only_and_are_checked():
    plan = delivery.delivery_plan(CHANNELS, "resolution", "resolution", NOTICE, declare(), "INC-20261128-160000",
                                  attachments=["/srv/inc/INC-20261128-160000/incident.html"])
    email = [item for item in plan["send"] if item["type"] == "email"][0]
    assert email["attach"] == ["/srv/inc/INC-20261128-160000/incident.html"]
    assert all("attach" not in item for item in plan["send"] if item["type"] != "email")
    with pytest.raises(delivery.DeliveryError, match="airlock_incident_notify_attachments"):
        delivery.delivery_plan(CHANNELS, "resolution", "resolution", NOTICE, declare(), "INC-1", attachments="a.html")


def test_a_bad_channel_is_left_out_and_recorded_the_others_still_get_the_notice():
    channels = CHANNELS + [{"name": "typo", "type": "slak", "url": "https://hooks.example/SECRETPATH"},
                           {"name": "oncall", "type": "slack", "url": "https://hooks.example/2"}]
    plan = delivery.delivery_plan(channels, "notification", "notification", NOTICE, declare(), "INC-20261128-160000")
    assert [item["name"] for item in plan["send"]] == ["oncall", "teams", "pager", "hook"]
    assert plan["problems"] == [
        "airlock_incident_notify_channels[5] (typo).type: invalid value 'slak'; accepted values: email, slack, teams, "
        "webhook, pagerduty",
        "airlock_incident_notify_channels[6]: channel names must be unique; repeated: oncall"]
    entries = delivery.outcome_entries(plan, [])
    assert [entry["kind"] for entry in entries] == ["delivery_failed"] * 2
    assert entries[0]["text"].startswith("[notification] not delivered: channel refused: ")
    assert all("SECRETPATH" not in entry["text"] for entry in entries)
