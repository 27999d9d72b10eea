# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MCP route of the lab Airlock (``/mcp``): JSON-RPC parsing, authentication
(``documented``), path-traversal refusal, policy decisions, method dispatch (canned
upstreams, DLP redaction, the lab's drill faults) and the audit and metrics of each
request. The answer goes out as SSE (:mod:`airlock_lab.sse`)."""

from __future__ import annotations

import json
import re
import secrets
import time

from ansible_collections.airlock.incident.plugins.module_utils.audit.chain import go_json_value

from airlock_lab.httpbase import BaseHandler, compact
from airlock_lab.oidc import AuthError
from airlock_lab.policy import input_digest

MAX_MESSAGE_SIZE = 256 * 1024
SUPPORTED_METHODS = ("tools/list", "tools/call", "resources/list", "resources/read", "prompts/list",
                     "prompts/get", "completion/complete", "ping")

PII_SAMPLE = ("Customer record: Jane Roe, SSN 123-45-6789, e-mail jane.roe@example.com, "
              "card 4111 1111 1111 1111, upstream header Authorization: Bearer "
              "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJl")

_TRAVERSAL = re.compile(r"(\.\./|\.\.\\|%2e%2e|\.\.%2f|%2f\.\.)", re.IGNORECASE)


class McpRoutes(BaseHandler):
    """``/mcp``; needs ``_stream`` (:class:`airlock_lab.sse.SseStream`) in the final class."""

    def _mcp(self, started):
        lab = self.lab
        connection_id = secrets.token_hex(16)
        correlation_id = connection_id
        faults = lab.faults()
        lab.logger.info("New MCP connection", correlation_id=correlation_id, remote_addr=self.remote_addr,
                        user_agent=self.headers.get("User-Agent", ""))
        body, declared = (b"", 0)
        if self.command == "POST":
            body, declared = self._read_body(MAX_MESSAGE_SIZE)
            if not lab.documented and not self._client_closes():
                # The release flushes the SSE headers before it reads the body; on a
                # keep-alive connection Go then discards the body (measured, 10 of 10).
                reply = {"jsonrpc": "2.0", "error": {"code": -32000, "message": "failed to read request body"}}
                self._stream(connection_id, reply, started, lab.subject_context(None), "", "")
                return

        claims = None
        if lab.documented:
            claims = self._authenticate(correlation_id, started)
            if claims is None:
                return
        ctx = lab.subject_context(claims)
        latency = int((faults.get("latency") or {}).get("ms") or 0)
        if latency > 0:
            time.sleep(latency / 1000.0)

        if self.command != "POST":
            self._stream(connection_id, None, started, ctx, "", "")
            return
        if declared > MAX_MESSAGE_SIZE or len(body) > MAX_MESSAGE_SIZE:
            self._violation(ctx, correlation_id, "request_too_large", "request body exceeds 262144 bytes",
                            "", content_length=declared)
            reply = {"jsonrpc": "2.0", "error": {"code": -32001, "message": "Message size exceeds maximum allowed",
                                                 "data": {"max_size_bytes": MAX_MESSAGE_SIZE,
                                                          "correlation_id": correlation_id}}}
            self._stream(connection_id, reply, started, ctx, "", "", status_label="413")
            return
        try:
            message = json.loads(body.decode("utf-8"))
            if not isinstance(message, dict):
                raise ValueError("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                                 % type(message).__name__)
        except (ValueError, UnicodeDecodeError) as exc:
            lab.logger.error("Failed to process message", correlation_id=correlation_id,
                             error="invalid JSON-RPC message: %s" % exc)
            reply = {"jsonrpc": "2.0", "error": {"code": -32000, "message": "invalid JSON-RPC message: %s" % exc}}
            lab.metrics.inc("airlock_errors_total", {"component": "server", "error_type": "invalid_message",
                                                     "tenant": ctx["tenant"]})
            self._stream(connection_id, reply, started, ctx, "", "")
            return
        msg_id = message.get("id")
        method = message.get("method")
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        if not isinstance(method, str):
            reply = self._error(msg_id, -32600, "Invalid Request: method must be a string", correlation_id)
            if not lab.documented:
                reply["error"]["data"] = None  # the release sends "data":null here
            self._stream(connection_id, reply, started, ctx, "", "")
            return
        if not lab.documented:
            # The release loads no policy and forwards every method, ping included,
            # to its upstreams (see Upstreams.release_reply).
            self._stream(connection_id, lab.upstreams.release_reply(msg_id, method), started, ctx, method, "")
            return
        tool = str(params.get("name") or "") if method in ("tools/call", "prompts/get") else ""
        resource = str(params.get("uri") or "") if method.startswith("resources/") else ""

        if not len(lab.upstreams):
            reply = self._error(msg_id, -32000, "No upstream servers configured", correlation_id)
            self._stream(connection_id, reply, started, ctx, method, tool)
            return

        # path traversal -> security_violation
        suspicious = self._traversal(method, params)
        if suspicious is not None:
            self._violation(ctx, correlation_id, "path_traversal",
                            "path traversal attempt blocked", resource or tool, method=method,
                            attempted_path=suspicious)
            reply = self._error(msg_id, -32003, "Forbidden: path traversal attempt blocked", correlation_id)
            self._deny(reply, started, ctx, method, tool, 403, "Request blocked", reason="path_traversal")
            return

        if method != "ping":
            decision = self._authorize(ctx, correlation_id, method, tool, resource)
            if decision is not None:
                reply = self._error(msg_id, -32003, "Forbidden: policy denied the request", correlation_id,
                                    {"rule_id": decision})
                self._deny(reply, started, ctx, method, tool, 403, "Policy denied request", rule_id=decision)
                return

        reply = self._dispatch(msg_id, method, params, tool, resource, ctx, correlation_id, faults)
        self._stream(connection_id, reply, started, ctx, method, tool)

    def _client_closes(self):
        """Whether the request announced the end of its connection (the release needs it)."""
        tokens = [part.strip().lower() for part in self.headers.get("Connection", "").split(",")]
        if self.request_version == "HTTP/1.0":
            return "keep-alive" not in tokens
        return "close" in tokens

    def _error(self, msg_id, code, text, correlation_id, data=None):
        payload = {"correlation_id": correlation_id}
        if data:
            payload.update(data)
        return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": text, "data": payload}}


    def _authenticate(self, correlation_id, started):
        lab = self.lab
        token = self._bearer()
        error = None
        claims = None
        if not token:
            error = "missing bearer token"
        else:
            try:
                claims = lab.auth.validate(token)
            except AuthError as exc:
                error = str(exc)
        if claims is not None:
            lab.metrics.inc("airlock_auth_events_total", {"tenant": claims["tenant"], "result": "success"})
            lab.audit.log_event("token_validate", "allow", "token validated", correlation_id=correlation_id,
                                tenant=claims["tenant"], subject=str(claims.get("sub")),
                                metadata={"tenant": claims["tenant"], "groups": claims["groups"],
                                          "session_id": str(claims.get("jti") or correlation_id)})
            return claims
        lab.metrics.inc("airlock_auth_events_total", {"tenant": "", "result": "failure"})
        lab.metrics.inc("airlock_requests_total", {"tenant": "", "tool": "", "method": "", "status": "401"})
        lab.audit.log_event("token_validate", "deny", "authentication failed: %s" % error,
                            correlation_id=correlation_id, resource="/mcp",
                            metadata={"path": "/mcp", "method": self.command, "error": error})
        body = compact({"error": "unauthorized", "message": error, "correlation_id": correlation_id})
        self._write_body(401, body, headers={
            "WWW-Authenticate": 'Bearer realm="airlock", error="invalid_token", error_description="%s"'
                                % error.replace('"', "'")})
        lab.logger.warn("Authentication failed", status=401, error=error, remote_addr=self.remote_addr,
                        user_agent=self.headers.get("User-Agent", ""), correlation_id=correlation_id)
        self._log_request(401, started, level="warn", error=error, correlation_id=correlation_id)
        return None

    def _traversal(self, method, params):
        candidates = []
        if method.startswith("resources/"):
            candidates.append(params.get("uri"))
        if method == "tools/call":
            arguments = params.get("arguments")
            if isinstance(arguments, dict):
                candidates.extend(v for v in arguments.values() if isinstance(v, str))
        for value in candidates:
            if isinstance(value, str) and _TRAVERSAL.search(value):
                return value
        return None

    def _violation(self, ctx, correlation_id, violation_type, violation, resource, method=None,
                   attempted_path=None, content_length=None):
        lab = self.lab
        metadata = {"violation_type": violation_type, "violation": violation, "remote_addr": self.remote_addr,
                    "user_agent": self.headers.get("User-Agent", ""), "method": method or self.command}
        if attempted_path is not None:
            metadata["attempted_path"] = attempted_path
        else:
            metadata["content_length"] = int(content_length or 0)
        lab.audit.log_event("security_violation", "deny", violation, correlation_id=correlation_id,
                            tenant=ctx["tenant"], subject=ctx["sub"], resource=resource, metadata=metadata)
        lab.metrics.inc("airlock_errors_total", {"component": "security", "error_type": violation_type,
                                                 "tenant": ctx["tenant"]})
        lab.logger.warn("security_violation", violation_type=violation_type, violation=violation,
                        remote_addr=self.remote_addr, subject=ctx["sub"], tenant=ctx["tenant"],
                        method=method or self.command, attempted_path=attempted_path,
                        correlation_id=correlation_id)

    # Metric labels stay bounded whatever clients send.
    def _tool_label(self, tool):
        if not tool or tool in self.lab.upstreams.tools:
            return tool
        return "unknown"

    def _method_label(self, method):
        return method if (not method or method in SUPPORTED_METHODS) else "unknown"

    def _resource_label(self, resource):
        if not resource:
            return ""
        for root in self.lab.upstreams.roots:
            if resource.startswith(root["virtual"]):
                return resource if len(resource) <= 120 and ".." not in resource else root["virtual"]
        return "other"

    def _policy_input(self, ctx, method, tool, resource):
        headers = {}
        for name, value in self.headers.items():
            if name.lower() in ("authorization", "cookie"):
                continue
            headers[name.lower()] = value
        return {"sub": ctx["sub"], "tenant": ctx["tenant"], "groups": ctx["groups"], "tool": tool,
                "resource": resource, "method": method, "headers": headers}

    def _authorize(self, ctx, correlation_id, method, tool, resource):
        """None when allowed, else the rule_id that denied."""
        lab = self.lab
        document = self._policy_input(ctx, method, tool, resource)
        started = time.monotonic()
        if lab.policy is None:
            allowed, rule_id, error = False, "policy_unavailable", lab.policy_error or "no policy loaded"
        else:
            allowed, rule_id, error = lab.policy.evaluate(document)
        latency_ms = int((time.monotonic() - started) * 1000)
        decision = "allow" if allowed else "deny"
        if error:
            reason = "policy error: %s" % error
            lab.metrics.inc("airlock_errors_total", {"component": "policy", "error_type": "evaluation",
                                                     "tenant": ctx["tenant"]})
        else:
            reason = "allowed by %s" % rule_id if allowed else "denied by %s" % rule_id
        lab.audit.log_event("policy_evaluate", decision, reason, correlation_id=correlation_id,
                            tenant=ctx["tenant"], subject=ctx["sub"], resource=resource or tool,
                            metadata={"tool": tool, "method": method, "input_digest": input_digest(document),
                                      "rule_id": rule_id}, latency_ms=latency_ms)
        lab.metrics.inc("airlock_policy_decisions_total", {"tenant": ctx["tenant"], "tool": self._tool_label(tool),
                                                           "resource": self._resource_label(resource),
                                                           "decision": decision,
                                                           "rule_id": rule_id})
        return None if allowed else rule_id

    def _dispatch(self, msg_id, method, params, tool, resource, ctx, correlation_id, faults):
        upstreams = self.lab.upstreams
        started = time.monotonic()
        result = None
        error = None
        if method == "ping":
            result = {}
        elif method == "tools/list":
            result = upstreams.tool_list()
        elif method == "tools/call":
            result, error = self._tools_call(method, params, tool, ctx, correlation_id, faults, started)
        elif method == "resources/list":
            result = upstreams.resource_list()
        elif method == "resources/read":
            result, error = self._resources_read(resource, ctx, correlation_id, started)
        elif method == "prompts/list":
            result = {"prompts": []}
        elif method == "prompts/get":
            error = (-32602, "Unknown prompt: %s" % tool)
        elif method == "completion/complete":
            result = {"completion": {"values": [], "total": 0, "hasMore": False}}
        else:
            error = (-32601, "Method not found: %s" % method)
        if error is not None:
            return self._error(msg_id, error[0], error[1], correlation_id)
        return {"jsonrpc": "2.0", "id": msg_id, "result": result}

    def _tools_call(self, method, params, tool, ctx, correlation_id, faults, started):
        """(result, error) of tools/call: the canned upstream's answer, DLP-redacted and audited."""
        lab = self.lab
        owner = lab.upstreams.tools.get(tool)
        if owner is None:
            return None, (-32602, "Unknown tool: %s" % tool)
        arguments = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        text = "Result of %s from upstream %s for %s" % (tool, owner, json.dumps(arguments, sort_keys=True))
        if faults.get("pii"):
            text += "\n" + PII_SAMPLE
            if (faults.get("pii") or {}).get("log_unredacted"):
                # The drill's misconfiguration: the upstream body logged before DLP runs.
                lab.logger.info("Upstream response", correlation_id=correlation_id, tool=tool, body=text)
        redacted, hits, count = lab.redact(text)
        processing = int((time.monotonic() - started) * 1e9)
        if count:
            lab.audit.log_event("redact_data", "allow", "DLP patterns matched",
                                correlation_id=correlation_id, tenant=ctx["tenant"], subject=ctx["sub"],
                                resource=tool,
                                metadata={"tool": tool, "direction": "response", "patterns_hit": hits,
                                          "processing_time": processing, "data_size": len(text.encode())},
                                redaction_count=count)
            for pattern, hit in hits.items():
                lab.metrics.inc("airlock_redactions_total", {"tenant": ctx["tenant"], "pattern": pattern},
                                hit)
            lab.logger.info("Redacted response data", correlation_id=correlation_id, tool=tool,
                            redaction_count=count, patterns=sorted(hits))
        result = {"content": [{"type": "text", "text": redacted}], "isError": False}
        elapsed = time.monotonic() - started
        lab.metrics.observe("airlock_upstream_duration_seconds", {"upstream": owner, "method": method},
                            elapsed)
        lab.audit.log_event("tool_call", "allow", "tool call forwarded", correlation_id=correlation_id,
                            tenant=ctx["tenant"], subject=ctx["sub"], resource=tool,
                            metadata={"tool": tool, "upstream": owner},
                            latency_ms=int(elapsed * 1000))
        return result, None

    def _resources_read(self, resource, ctx, correlation_id, started):
        """(result, error) of resources/read: a canned document under a configured root, audited."""
        lab = self.lab
        if not lab.upstreams.resource_known(resource):
            return None, (-32602, "Resource not found: %s" % resource)
        result = {"contents": [{"uri": resource, "mimeType": "text/markdown",
                                "text": "# Lab resource\n\nServed by the lab Airlock for %s.\n" % resource}]}
        lab.audit.log_event("resource_read", "allow", "resource read", correlation_id=correlation_id,
                            tenant=ctx["tenant"], subject=ctx["sub"], resource=resource,
                            metadata={"uri": resource},
                            latency_ms=int((time.monotonic() - started) * 1000))
        return result, None

    def _deny(self, reply, started, ctx, method, tool, status, log_msg, **fields):
        lab = self.lab
        body = go_json_value(reply)
        self._write_body(status, body)
        lab.metrics.inc("airlock_requests_total", {"tenant": ctx["tenant"], "tool": self._tool_label(tool),
                                                   "method": self._method_label(method),
                                                   "status": str(status)})
        lab.metrics.observe("airlock_request_duration_seconds",
                            {"tenant": ctx["tenant"], "method": self._method_label(method)},
                            time.monotonic() - started)
        lab.logger.warn(log_msg, status=status, method=method, tool=tool, subject=ctx["sub"], tenant=ctx["tenant"],
                        remote_addr=self.remote_addr, **fields)
        self._log_request(status, started, level="warn", mcp_method=method, tool=tool)

