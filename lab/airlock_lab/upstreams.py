# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The canned upstream MCP servers and roots of the lab Airlock (from the ``upstreams`` and
``roots`` configuration lists)."""

from __future__ import annotations

import os

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema

#: What the release does with each upstream type (measured on the real binary):
#: ``stdio`` is accepted, ``http`` is rejected at start-up (logged, not fatal).
RELEASE_TYPES = ("stdio",)


class Upstreams:
    """Canned upstream MCP servers built from the ``upstreams`` config list."""

    def __init__(self, document):
        self.items = []
        self.tools = {}
        for item in schema.get(document, "upstreams", None) or []:
            if not isinstance(item, dict):
                continue
            name = str(item.get("name") or "upstream")
            tools = item.get("allow_tools") or ["echo"]
            command = item.get("command")
            self.items.append({"name": name, "type": item.get("type"), "url": item.get("url"),
                               "command": [str(c) for c in command] if isinstance(command, list) else [],
                               "tools": [str(t) for t in tools]})
            for tool in tools:
                self.tools.setdefault(str(tool), name)
        self.roots = []
        for root in schema.get(document, "roots", None) or []:
            if isinstance(root, dict) and root.get("virtual"):
                self.roots.append({"name": str(root.get("name") or "root"), "virtual": str(root["virtual"]),
                                   "read_only": bool(root.get("read_only"))})
        if not self.roots and self.items:
            self.roots.append({"name": self.items[0]["name"], "virtual": "mcp://%s/" % self.items[0]["name"],
                               "read_only": True})

    def __len__(self):
        return len(self.items)

    def release_rejected(self):
        """The upstreams the release refuses at start-up: (name, error) pairs."""
        return [(item["name"], "invalid upstream config for %s: unsupported transport type: %s"
                 % (item["name"], item["type"]))
                for item in self.items if item["type"] not in RELEASE_TYPES]

    def release_reply(self, msg_id, method):
        """The release's answer to any MCP method, as the real binary gives it.

        No accepted upstream: ``-32000 No upstream servers configured``. A ``stdio``
        upstream whose command cannot start: ``-32000`` with the fork/exec error.
        Otherwise the release kills its child right after the handshake: requests
        answer ``-32003 ... connection closed``. (The very first request after a
        start can win that race and be answered; the lab never answers, the
        outcome every later request has.)
        """
        accepted = [item for item in self.items if item["type"] in RELEASE_TYPES]
        if not accepted:
            return _release_error(msg_id, -32000, "No upstream servers configured", None)
        item = accepted[0]
        name = item["name"]
        program = item["command"][0] if item["command"] else ""
        if not program or not (os.path.isfile(program) and os.access(program, os.X_OK)):
            text = ("request failed after 4 attempts: failed to get client for %s: failed to connect to upstream %s "
                    "within 2s: failed to connect client: fork/exec %s: no such file or directory"
                    % (name, name, program))
            return _release_error(msg_id, -32000, text, text)
        text = 'request failed after 4 attempts: upstream request failed: calling "%s": connection closed' % method
        return _release_error(msg_id, -32003, text, text)

    def tool_list(self):
        result = []
        for item in self.items:
            for tool in item["tools"]:
                result.append({
                    "name": tool,
                    "description": "%s (lab upstream %s)" % (tool.replace("_", " "), item["name"]),
                    "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}},
                })
        return {"tools": result}

    def resource_list(self):
        resources = []
        for root in self.roots:
            base = root["virtual"] if root["virtual"].endswith("/") else root["virtual"] + "/"
            resources.append({"uri": base + "README.md", "name": "README.md", "mimeType": "text/markdown"})
        return {"resources": resources}

    def resource_known(self, uri):
        return any(uri.startswith(root["virtual"]) for root in self.roots)


def _release_error(msg_id, code, message, original):
    data = {"correlation_id": "unknown"}
    if original is not None:
        data["original_error"] = original
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "data": data, "message": message}}
