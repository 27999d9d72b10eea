# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The canned upstream MCP servers and roots of the lab Airlock (from the ``upstreams`` and
``roots`` configuration lists)."""

from __future__ import annotations

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema


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
            self.items.append({"name": name, "type": item.get("type"), "url": item.get("url"),
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
