# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Delivery of a rendered notice to the channels an inventory configures: what to send where, and what happened.

Pure functions; the role ``airlock.incident.notify`` sends with the well-kept
modules (``community.general.mail`` for email, ``ansible.builtin.uri`` for
Slack, Microsoft Teams, any webhook and the PagerDuty Events API v2) and
records the outcome in the incident's timeline.

A channel (inventory variable ``airlock_incident_notify_channels``) is a
mapping with ``name`` and ``type`` (:data:`CHANNEL_TYPES`) and the fields of
its type; :func:`check_channels` refuses a bad one, naming the field and the
accepted values, before anything is sent.

Every delivery has a key (``notification``, ``update@2026-11-28T16:15:00Z``,
``escalation@level-2``): the timeline records ``[key] delivered to NAME
(type)`` once per channel, and :func:`delivery_plan` skips a channel that
already has that entry, so a rerun, a scheduled status update or an
escalation never sends the same notice twice to the same channel.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, choices_message
from ansible_collections.airlock.incident.plugins.module_utils.core.redact import Redactor

#: The notices roles render and deliver.
KINDS = ["notification", "internal", "update", "escalation", "resolution", "breach"]
CHANNEL_TYPES = ["email", "slack", "teams", "webhook", "pagerduty"]
HTTP_TYPES = ("slack", "teams", "webhook", "pagerduty")
EMAIL_SECURE = ["always", "never", "starttls", "try"]
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
#: PagerDuty Events API v2 severities for the incident's.
PAGERDUTY_SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
#: Timeline kinds written by delivery.
DELIVERED, FAILED = "delivery", "delivery_failed"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", re.ASCII)
_KEY = re.compile(r"^\[([A-Za-z0-9_.:@-]+)\] ", re.ASCII)
_COMMON = {"name", "type", "kinds"}
_FIELDS = {
    "email": {"to", "cc", "from", "host", "port", "secure", "username", "password", "timeout"},
    "slack": {"url", "validate_certs"},
    "teams": {"url", "validate_certs"},
    "webhook": {"url", "validate_certs", "headers"},
    "pagerduty": {"routing_key", "url", "validate_certs"},
}
#: Fields whose values are secrets: never in a result, a message or the timeline.
SECRET_FIELDS = ("url", "password", "username", "routing_key", "headers")

Channel = t.Dict[str, t.Any]


class DeliveryError(AirlockIncidentError):
    """A channel or a notice that cannot be delivered as configured; the message names the field."""


# ---------------------------------------------------------------------------
# channels
# ---------------------------------------------------------------------------


def _text_list(value: t.Any, field: str) -> t.List[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item.strip() for item in value):
        raise DeliveryError("%s: a non-empty list of strings is required" % field)
    return [item.strip() for item in value]


def _check_email(channel: Channel, where: str) -> Channel:
    out = dict(channel)
    out["to"] = _text_list(channel.get("to"), where + ".to")
    out["cc"] = _text_list(channel["cc"], where + ".cc") if channel.get("cc") else []
    out["from"] = str(channel.get("from") or "airlock-incident@localhost")
    out["host"] = str(channel.get("host") or "localhost")
    port = channel.get("port", 25)
    if isinstance(port, bool) or not isinstance(port, (int, str)) or not str(port).isdigit() or not 0 < int(port) < 65536:
        raise DeliveryError("%s.port: invalid value %r; accepted values: 1 to 65535" % (where, port))
    out["port"] = int(port)
    secure = channel.get("secure") or "try"
    if secure not in EMAIL_SECURE:
        raise DeliveryError(choices_message(where + ".secure", secure, EMAIL_SECURE))
    out["secure"] = secure
    out["username"] = channel.get("username") or None
    out["password"] = channel.get("password") or None
    return out


def _check_http(channel: Channel, where: str) -> Channel:
    out = dict(channel)
    kind = channel["type"]
    if kind == "pagerduty":
        key = channel.get("routing_key")
        if not isinstance(key, str) or not key.strip():
            raise DeliveryError("%s.routing_key: required for a pagerduty channel (the Events API v2 integration key)"
                                % where)
        out["url"] = channel.get("url") or PAGERDUTY_URL
    url = out.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        # Never echo the value: a webhook URL carries its token.
        raise DeliveryError("%s.url: an http:// or https:// URL is required for a %s channel" % (where, kind))
    headers = channel.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise DeliveryError("%s.headers: a mapping of header names to strings is required" % where)
    out["headers"] = headers
    out["validate_certs"] = bool(channel.get("validate_certs", True))
    return out


def check_channel(channel: t.Any, index: int) -> Channel:
    """One channel, checked and with its defaults; refuses unknown types and fields by name."""
    where = "airlock_incident_notify_channels[%d]" % index
    if not isinstance(channel, dict):
        raise DeliveryError("%s: a mapping with name and type is required" % where)
    name = channel.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise DeliveryError("%s.name: letters, digits, '.', '_' and '-' (at most 63, starting with a letter or digit) "
                            "are required" % where)
    where = "%s (%s)" % (where, name)
    kind = channel.get("type")
    if kind not in CHANNEL_TYPES:
        raise DeliveryError(choices_message(where + ".type", kind, CHANNEL_TYPES))
    unknown = sorted(set(channel) - _COMMON - _FIELDS[kind])
    if unknown:
        raise DeliveryError("%s: unknown fields %s; accepted fields for %s: %s" % (
            where, ", ".join(unknown), kind, ", ".join(sorted(_COMMON | _FIELDS[kind]))))
    kinds = channel.get("kinds")
    if kinds is None:
        kinds = list(KINDS)
    if not isinstance(kinds, list) or any(item not in KINDS for item in kinds):
        raise DeliveryError(choices_message(where + ".kinds", kinds, KINDS))
    out = _check_email(channel, where) if kind == "email" else _check_http(channel, where)
    out["kinds"] = list(kinds)
    return out


def check_channels(channels: t.Any) -> t.List[Channel]:
    """Every channel checked (:func:`check_channel`); names must be unique. Raises on the first problem."""
    checked, problems = sort_channels(channels)
    if problems:
        raise DeliveryError(problems[0])
    return checked


def sort_channels(channels: t.Any) -> t.Tuple[t.List[Channel], t.List[str]]:
    """``(usable channels, problems)``: each bad channel is left out with a message naming its field.

    A delivery goes on to the good channels: a typo in one channel's settings never keeps a notice from the others
    (nor stops the response); the problems are recorded. No message echoes a URL, a key or a credential.
    """
    if channels is None:
        return [], []
    if not isinstance(channels, list):
        return [], ["airlock_incident_notify_channels: a list of channel mappings is required"]
    checked: t.List[Channel] = []
    problems: t.List[str] = []
    for index, item in enumerate(channels):
        try:
            channel = check_channel(item, index)
        except DeliveryError as exc:
            problems.append(str(exc))
            continue
        if channel["name"] in [known["name"] for known in checked]:
            problems.append("airlock_incident_notify_channels[%d]: channel names must be unique; repeated: %s"
                            % (index, channel["name"]))
            continue
        checked.append(channel)
    return checked, problems


def secrets_of(channels: t.Iterable[Channel]) -> t.List[str]:
    """The secret values of ``channels`` (URLs, keys, credentials, header values)."""
    found: t.List[str] = []
    for channel in channels:
        for field in SECRET_FIELDS:
            value = channel.get(field)
            if isinstance(value, dict):
                found.extend(str(item) for item in value.values())
            elif value:
                found.append(str(value))
    return found


# ---------------------------------------------------------------------------
# what was delivered
# ---------------------------------------------------------------------------


def key_of(text: t.Any) -> t.Optional[str]:
    """The delivery key of a timeline text written by this module (``[key] ...``), or None."""
    match = _KEY.match(text) if isinstance(text, str) else None
    return match.group(1) if match else None


def delivered_text(key: str, channel: Channel) -> str:
    return "[%s] delivered to %s (%s)" % (key, channel["name"], channel["type"])


def delivered(record: t.Optional[t.Mapping[str, t.Any]]) -> t.Set[t.Tuple[str, str]]:
    """``(key, channel name)`` of every delivery the record's timeline holds."""
    found = set()
    for entry in (record or {}).get("timeline") or []:
        if entry.get("kind") != DELIVERED:
            continue
        match = re.match(r"^\[([^\]]+)\] delivered to (\S+) \(", entry.get("text") or "")
        if match:
            found.add((match.group(1), match.group(2)))
    return found


def recorded_keys(record: t.Optional[t.Mapping[str, t.Any]], kinds: t.Iterable[str]) -> t.Set[str]:
    """The keys of the record's timeline entries of ``kinds`` (a rendered update, a reached escalation)."""
    wanted = set(kinds)
    keys = set()
    for entry in (record or {}).get("timeline") or []:
        key = key_of(entry.get("text"))
        if key and entry.get("kind") in wanted:
            keys.add(key)
    return keys


# ---------------------------------------------------------------------------
# the plan
# ---------------------------------------------------------------------------


def split_subject(text: str, fallback: str) -> t.Tuple[str, str]:
    """``(subject, body)``: a notice's first ``Subject:`` line, else ``fallback`` and the whole text."""
    lines = text.strip("\n").split("\n")
    if lines and lines[0].startswith("Subject:"):
        return lines[0][len("Subject:"):].strip() or fallback, "\n".join(lines[1:]).strip("\n") + "\n"
    return fallback, text.strip("\n") + "\n"


def _payload(channel: Channel, notice: t.Mapping[str, t.Any]) -> t.Any:
    subject, body = notice["subject"], notice["body"]
    kind = channel["type"]
    if kind == "slack":
        return {"text": "*%s*\n%s" % (subject, body)}
    if kind == "teams":
        # The message a Teams Workflows webhook ("When a Teams webhook request is received") posts as a card.
        return {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                        "version": "1.4", "body": [
                            {"type": "TextBlock", "text": subject, "weight": "Bolder", "wrap": True},
                            {"type": "TextBlock", "text": body, "wrap": True}]}}]}
    if kind == "pagerduty":
        return {"routing_key": channel["routing_key"],
                "event_action": "resolve" if notice["kind"] == "resolution" else "trigger",
                "dedup_key": notice["incident_id"],
                "payload": {"summary": subject[:1024], "source": "airlock.incident",
                            "severity": PAGERDUTY_SEVERITY.get(notice["severity"] or "", "error"),
                            "component": "mcp-airlock", "class": notice["type"],
                            "custom_details": {"kind": notice["kind"], "key": notice["key"], "notice": body}}}
    return {"incident_id": notice["incident_id"], "kind": notice["kind"], "key": notice["key"],
            "severity": notice["severity"], "status": notice["status"], "subject": subject, "text": body}


def _delivery(channel: Channel, notice: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    item: t.Dict[str, t.Any] = {"name": channel["name"], "type": channel["type"]}
    if channel["type"] == "email":
        for field in ("to", "cc", "from", "host", "port", "secure", "username", "password"):
            item[field] = channel[field]
        item["subject"], item["body"] = notice["subject"], notice["body"]
        # Only mail carries files; webhooks get the text.
        item["attach"] = list(notice["attachments"])
        return item
    item.update(url=channel["url"], validate_certs=channel["validate_certs"], headers=channel["headers"],
                body=_payload(channel, notice))
    return item


def delivery_plan(channels: t.Any, kind: str, key: str, text: str, record: t.Optional[t.Mapping[str, t.Any]],
                  incident_id: str, only: t.Optional[t.Sequence[str]] = None,
                  attachments: t.Optional[t.Sequence[str]] = None) -> t.Dict[str, t.Any]:
    """What to send to which channel for one notice.

    ``channels``: the inventory's channels (:func:`check_channels`); those
    that take ``kind`` (their ``kinds``), or with ``only`` exactly the named
    ones (an escalation's contacts, whatever their kinds; a name no channel
    has is reported in ``problems`` and the others still get the notice). A channel the record
    shows as delivered for ``key`` is skipped. ``attachments`` (file paths)
    go with the email channels. Returns ``send`` (one item per
    channel with everything its module needs, secrets included: register it
    under ``no_log``), ``skipped`` (names), ``subject`` and ``secrets``.
    """
    if kind not in KINDS:
        raise DeliveryError(choices_message("airlock_incident_notify_kind", kind, KINDS))
    if not isinstance(key, str) or not re.match(r"^[A-Za-z0-9_.:@-]+$", key):
        raise DeliveryError("airlock_incident_notify_key: letters, digits and _ . : @ - are required; got %r" % (key,))
    if not isinstance(text, str) or not text.strip():
        raise DeliveryError("airlock_incident_notify_text: the notice is empty; render it first")
    checked, problems = sort_channels(channels)
    if only is not None:
        # A contact that names a channel nobody configured is a gap in the
        # inventory, not a reason to stop the response: recorded as a refused
        # channel (timeline and output) while the named channels that exist
        # still get the notice.
        unknown = sorted(set(only) - set(item["name"] for item in checked))
        if unknown:
            problems.append("airlock_incident_notify_only: no channel named %s in airlock_incident_notify_channels "
                            "(configured: %s)" % (", ".join(unknown), ", ".join(item["name"] for item in checked)
                                                  or "none"))
        targets = [item for item in checked if item["name"] in only]
    else:
        targets = [item for item in checked if kind in item["kinds"]]
    record = record or {}
    subject, body = split_subject(text, "MCP Airlock Incident %s: %s" % (incident_id, kind))
    if attachments is not None and (not isinstance(attachments, (list, tuple))
                                    or not all(isinstance(item, str) and item for item in attachments)):
        raise DeliveryError("airlock_incident_notify_attachments: a list of file paths is required")
    notice = {"kind": kind, "key": key, "incident_id": incident_id, "subject": subject, "body": body,
              "attachments": list(attachments or []),
              "severity": record.get("severity"), "type": record.get("type"), "status": record.get("status")}
    done = delivered(record)
    send = [_delivery(item, notice) for item in targets if (key, item["name"]) not in done]
    skipped = [item["name"] for item in targets if (key, item["name"]) in done]
    return {"send": send, "skipped": skipped, "subject": subject, "key": key, "kind": kind,
            "secrets": secrets_of(targets), "problems": problems}


# ---------------------------------------------------------------------------
# outcomes
# ---------------------------------------------------------------------------


def _failure_reason(result: t.Mapping[str, t.Any]) -> str:
    status = result.get("status")
    if isinstance(status, int) and status > 0:
        return "HTTP %d" % status
    msg = result.get("msg") or "failed"
    return " ".join(str(msg).split())[:300]


def outcome_entries(plan: t.Mapping[str, t.Any], results: t.Iterable[t.Any], attempts: int = 1) -> t.List[t.Dict[str, str]]:
    """Timeline entries for the registered loop results of the send tasks (``results`` of each).

    ``attempts``: how many times a failed channel was tried (the task's retries + 1; Ansible's own
    ``attempts`` of an exhausted task counts one short).

    A success is ``[key] delivered to NAME (type)`` (kind ``delivery``), a
    failure ``[key] not delivered to NAME (type) after N attempts: reason``
    (kind ``delivery_failed``), the reason masked of every channel secret.
    """
    redactor = Redactor(plan.get("secrets") or [])
    key = plan["key"]
    entries = [{"text": redactor.text("[%s] not delivered: channel refused: %s" % (key, problem)), "kind": FAILED}
               for problem in plan.get("problems") or []]
    for result in results or []:
        if not isinstance(result, dict) or result.get("skipped") or not isinstance(result.get("item"), dict):
            continue
        channel = result["item"]
        if not result.get("failed"):
            entries.append({"text": delivered_text(key, channel), "kind": DELIVERED})
            continue
        text = "[%s] not delivered to %s (%s) after %d attempt%s: %s" % (
            key, channel["name"], channel["type"], attempts, "" if attempts == 1 else "s", _failure_reason(result))
        entries.append({"text": redactor.text(text), "kind": FAILED})
    return entries
