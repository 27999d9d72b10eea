# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab Airlock process (``airlock-lab _serve``).

``release`` reproduces the current binary byte for byte where the interface
notes pin it down (health bodies, SSE framing, 404s, no auth, SIGHUP kills);
``documented`` adds what the project documents: Prometheus metrics, admin
endpoints, SIGHUP reload, readiness checks and OIDC/JWT authentication.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import signal
import socket
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import jwt

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema
from ansible_collections.airlock.incident.plugins.module_utils.audit.chain import go_json_value

from airlock_lab import config as lab_config
from airlock_lab.audit import AuditStore
from airlock_lab.metrics import Metrics
from airlock_lab.policy import PolicyEngine, PolicyLoadError, input_digest
from airlock_lab.util import (
    FAULTS_FILE,
    LOG_FILE,
    PORT_FILE,
    ZapLogger,
    atomic_write,
    go_duration_text,
    read_json,
    rfc3339_now,
)

VERSION = "dev"
MAX_MESSAGE_SIZE = 256 * 1024
SUPPORTED_METHODS = ("tools/list", "tools/call", "resources/list", "resources/read", "prompts/list",
                     "prompts/get", "completion/complete", "ping")
HEALTH_PATHS = ("/live", "/ready", "/health", "/info")

#: Built-in DLP patterns, used when the config has no ``dlp.patterns``.
DEFAULT_DLP = (
    {"name": "email", "regex": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "replace": "[redacted-email]"},
    {"name": "ssn", "regex": r"\b\d{3}-\d{2}-\d{4}\b", "replace": "[redacted-ssn]"},
    {"name": "credit_card", "regex": r"\b(?:\d[ -]?){12,15}\d\b", "replace": "[redacted-card]"},
    {"name": "bearer_token", "regex": r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{8,}", "replace": "Bearer [redacted-token]"},
)

PII_SAMPLE = ("Customer record: Jane Roe, SSN 123-45-6789, e-mail jane.roe@example.com, "
              "card 4111 1111 1111 1111, upstream header Authorization: Bearer "
              "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJl")

_TRAVERSAL = re.compile(r"(\.\./|\.\.\\|%2e%2e|\.\.%2f|%2f\.\.)", re.IGNORECASE)


def _json_body(pairs):
    """A compact JSON object with keys in the given order (as Go's Fprintf bodies)."""
    return "{" + ",".join("%s:%s" % (json.dumps(k), json.dumps(v, separators=(",", ":"))) for k, v in pairs) + "}"


def _compact(document, **kwargs):
    return json.dumps(document, separators=(",", ":"), **kwargs)


class AuthError(Exception):
    """A token was refused; ``str()`` is the reason recorded in the audit event."""


class Authenticator(object):
    """JWT validation against OIDC discovery of ``auth.oidc_issuer`` (RS256)."""

    def __init__(self, issuer, audience, jwks_ttl, clock_skew, required_groups, logger, metrics):
        self.issuer = (issuer or "").rstrip("/")
        self.audience = audience or None
        self.jwks_ttl = jwks_ttl
        self.clock_skew = clock_skew
        self.required_groups = list(required_groups or [])
        self.logger = logger
        self.metrics = metrics
        self._lock = threading.Lock()
        self._keys = {}
        self._fetched_at = 0.0
        self._last_attempt = 0.0
        self.last_error = None
        self._probe = (0.0, None)

    def _get(self, url, timeout=2.0):
        with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec - loopback lab IdP
            return json.loads(response.read().decode("utf-8"))

    def fetch(self, timeout=2.0):
        """Discovery + JWKS; returns the key map or raises."""
        if not self.issuer:
            raise AuthError("auth.oidc_issuer is not configured")
        document = self._get(self.issuer + "/.well-known/openid-configuration", timeout)
        jwks = self._get(document["jwks_uri"], timeout)
        keys = {}
        for item in jwks.get("keys", []):
            keys[item.get("kid") or ""] = jwt.PyJWK(item)
        return keys

    def refresh(self, force=False):
        with self._lock:
            now = time.time()
            fresh = self._keys and now - self._fetched_at < self.jwks_ttl
            if fresh and not force:
                return
            if force and now - self._last_attempt < 1.0:
                return
            self._last_attempt = now
            try:
                self._keys = self.fetch()
                self._fetched_at = now
                self.last_error = None
                self.logger.debug("JWKS refreshed", keys=len(self._keys), issuer=self.issuer)
            except Exception as exc:  # network errors, bad documents
                self.last_error = "jwks fetch failed: %s" % exc
                self.metrics.inc("airlock_errors_total", {"component": "auth", "error_type": "jwks_fetch",
                                                          "tenant": ""})
                self.logger.error("Failed to refresh JWKS", error=self.last_error, issuer=self.issuer)

    def forget_probe(self):
        self._probe = (0.0, None)

    def probe(self):
        """(ok, message) for readiness: is the IdP answering discovery and JWKS now?"""
        when, result = self._probe
        if result is not None and time.time() - when < 0.5:
            return result
        try:
            self.fetch(timeout=1.0)
            result = (True, "ok")
        except Exception as exc:
            result = (False, "jwks unreachable: %s" % (exc,))
        self._probe = (time.time(), result)
        return result

    def validate(self, token):
        """Claims of a valid token; raises AuthError with the reason otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token: %s" % exc)
        if header.get("alg") not in ("RS256",):
            raise AuthError("unsupported signing algorithm %r" % header.get("alg"))
        self.refresh()
        kid = header.get("kid") or ""
        key = self._keys.get(kid)
        if key is None:
            self.refresh(force=True)
            key = self._keys.get(kid)
        if key is None:
            if not self._keys and self.last_error:
                raise AuthError(self.last_error)
            raise AuthError("token verification failed: no key with kid %r in JWKS" % kid)
        options = {"require": ["exp", "sub"], "verify_aud": bool(self.audience)}
        try:
            claims = jwt.decode(token, key=key.key, algorithms=["RS256"], audience=self.audience,
                                issuer=self.issuer or None, leeway=self.clock_skew, options=options)
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired")
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid")
        except jwt.InvalidAudienceError:
            raise AuthError("invalid audience: expected %s" % self.audience)
        except jwt.InvalidIssuerError:
            raise AuthError("invalid issuer: expected %s" % self.issuer)
        except jwt.InvalidSignatureError:
            raise AuthError("token verification failed: invalid signature")
        except jwt.PyJWTError as exc:
            raise AuthError("token verification failed: %s" % exc)
        tenant = claims.get("tid") or claims.get("org_id")
        if not isinstance(tenant, str) or not tenant:
            raise AuthError("missing tenant claim (tid or org_id)")
        groups = claims.get("groups") or []
        if not isinstance(groups, list):
            raise AuthError("invalid groups claim format")
        if self.required_groups and not set(self.required_groups) & set(groups):
            raise AuthError("missing required group (one of %s)" % ", ".join(self.required_groups))
        claims["tenant"] = tenant
        claims["groups"] = [str(g) for g in groups]
        return claims


class Upstreams(object):
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


class LabAirlock(object):
    """One Airlock process: configuration, stores, engines and the HTTP server."""

    def __init__(self, lab_dir, profile, port, config_path, admin_group="airlock-admins"):
        self.lab_dir = os.path.abspath(lab_dir)
        self.profile = profile
        self.port = int(port or 0)
        self.config_path = os.path.abspath(config_path)
        self.admin_group = admin_group
        self.documented = profile == "documented"
        self.logger = ZapLogger(os.path.join(self.lab_dir, LOG_FILE))
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self.started_at = time.time()
        self.document = {}
        self.policy = None
        self.policy_error = None
        self.audit = None
        self.auth = None
        self.upstreams = Upstreams({})
        self.dlp = []
        self._faults = {}
        self._faults_mtime = None
        self._faults_lock = threading.Lock()
        self._ballast = None
        self._ballast_mb = 0
        self._reload_requested = threading.Event()
        self._stream_threads = set()
        self.heartbeat = float(os.environ.get("LAB_HEARTBEAT_SECONDS") or 20)
        self.httpd = None

    # ----------------------------------------------------------- configuration
    def load_config(self, initial=True):
        """Load, override, validate. On the first load an error is fatal (exit 1)."""
        try:
            document, errors, unknown = lab_config.load(self.config_path)
        except lab_config.ConfigError as exc:
            if initial:
                self.logger.fatal("Failed to load configuration", error=str(exc))
                sys.exit(1)
            self.logger.error("Failed to reload configuration, keeping the previous one", error=str(exc))
            return False
        for item in unknown:
            self.logger.warn("Unknown configuration key ignored", key=item["key"],
                             suggestions=item["suggestions"], hint=item["hint"])
        if errors:
            message = lab_config.error_message(errors)
            if initial:
                self.logger.fatal("Failed to load configuration", error=message)
                sys.exit(1)
            self.logger.error("Failed to reload configuration, keeping the previous one", error=message)
            return False
        self.document = document
        level = schema.get(document, "observability.logging.level") or "info"
        fmt = schema.get(document, "observability.logging.format") or "json"
        self.logger.set_level(level, fmt)
        self.upstreams = Upstreams(document)
        self.dlp = self._compile_dlp(document)
        return True

    def _compile_dlp(self, document):
        patterns = schema.get(document, "dlp.patterns") or list(DEFAULT_DLP)
        compiled = []
        for item in patterns:
            try:
                flags = 0
                regex = str(item["regex"])
                if regex.startswith("(?i)"):
                    regex, flags = regex[4:], re.IGNORECASE
                compiled.append((str(item["name"]), re.compile(regex, flags), str(item.get("replace", "[redacted]"))))
            except (re.error, KeyError, TypeError) as exc:
                self.logger.error("Invalid DLP pattern ignored", pattern=str(item.get("name")), error=str(exc))
        return compiled

    def load_policy(self, initial=True):
        path = schema.get(self.document, "policy.rego_file")
        if not path:
            self.policy_error = "policy.rego_file is not configured"
            self.logger.error("Failed to load policy", error=self.policy_error)
            return False
        try:
            engine = PolicyEngine.from_file(path)
        except PolicyLoadError as exc:
            self.policy_error = str(exc)
            self.metrics.inc("airlock_errors_total", {"component": "policy", "error_type": "compile", "tenant": ""})
            if self.policy is not None and not initial:
                self.logger.error("Failed to reload policy, keeping the previous policy", error=str(exc),
                                  policy_file=path, active_sha256=self.policy.sha256)
                self.policy_error = None  # the previous policy keeps serving
                self.last_reload_error = str(exc)
            else:
                self.logger.error("Failed to load policy", error=str(exc), policy_file=path)
            return False
        self.policy = engine
        self.policy_error = None
        self.last_reload_error = None
        self.logger.info("Policy loaded", policy_file=path, sha256=engine.sha256)
        return True

    def setup(self):
        self.logger.info("Starting MCP Airlock", version=VERSION, commit="unknown", build_time="unknown",
                         config_file=self.config_path, profile=self.profile, pid=os.getpid())
        self.load_config(initial=True)
        self.logger.info("Configuration loaded successfully", server_addr=schema.get(self.document, "server.addr"),
                         public_base_url=schema.get(self.document, "server.public_base_url") or "",
                         upstream_count=len(self.upstreams))
        db_path = schema.get(self.document, "audit.database") or os.path.join(self.lab_dir, "audit.db")
        try:
            self.audit = AuditStore(db_path, self.logger)
            self.logger.info("Audit store opened", database=db_path, backend="sqlite")
        except Exception as exc:  # sqlite3.Error, OSError
            self.logger.fatal("Failed to initialize audit logger", error=str(exc), database=db_path)
            sys.exit(1)
        self.last_reload_error = None
        self.load_policy(initial=True)
        if self.documented:
            self.auth = Authenticator(
                schema.get(self.document, "auth.oidc_issuer"),
                schema.get(self.document, "auth.audience"),
                schema.duration_seconds(self.document, "auth.jwks_cache_ttl", "5m"),
                schema.duration_seconds(self.document, "auth.clock_skew", "2m"),
                schema.get(self.document, "auth.required_groups") or [],
                self.logger, self.metrics)
            self.auth.refresh()
        self.reload_faults(force=True)

    def reload(self):
        """SIGHUP in the documented profile: configuration and policy."""
        self.logger.info("SIGHUP received, reloading configuration and policy")
        if self.load_config(initial=False):
            if self.auth is not None:
                self.auth.audience = schema.get(self.document, "auth.audience") or None
                self.auth.required_groups = schema.get(self.document, "auth.required_groups") or []
                self.auth.jwks_ttl = schema.duration_seconds(self.document, "auth.jwks_cache_ttl", "5m")
                self.auth.clock_skew = schema.duration_seconds(self.document, "auth.clock_skew", "2m")
        ok = self.load_policy(initial=False)
        self.logger.info("Reload finished", policy_reloaded=ok)
        return ok

    # ----------------------------------------------------------------- faults
    def reload_faults(self, force=False):
        path = os.path.join(self.lab_dir, FAULTS_FILE)
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            mtime = None
        with self._faults_lock:
            if not force and mtime == self._faults_mtime:
                return self._faults
            self._faults_mtime = mtime
            faults = read_json(path, {}) if mtime is not None else {}
            if not isinstance(faults, dict):
                faults = {}
            if faults != self._faults:
                self.logger.info("Lab faults changed", faults=sorted(faults))
                if self.auth is not None:
                    self.auth.forget_probe()
            self._faults = faults
        self._apply_memory(int((faults.get("memory") or {}).get("mb") or 0))
        return faults

    def faults(self):
        return self.reload_faults()

    def _apply_memory(self, megabytes):
        if megabytes == self._ballast_mb:
            return
        self._ballast = None
        if megabytes > 0:
            self._ballast = bytearray(b"\x01") * (megabytes * 1024 * 1024)
            self.logger.warn("Memory drill: holding ballast", megabytes=megabytes)
        else:
            self.logger.info("Memory drill: ballast released")
        self._ballast_mb = megabytes

    def _watch_faults(self):
        while not self.stopping.wait(0.25):
            try:
                self.reload_faults()
            except Exception as exc:  # keep watching
                self.logger.error("Failed to read lab faults", error=str(exc))

    # ------------------------------------------------------------- readiness
    def readiness(self):
        """(ready, checks) for ``/ready`` in the documented profile."""
        checks = {}
        if self.auth is None:
            checks["jwks"] = "unhealthy: authentication is not initialised"
        else:
            ok, message = self.auth.probe()
            checks["jwks"] = "ok" if ok else "unhealthy: " + message
        if self.policy is None:
            checks["policy"] = "unhealthy: " + (self.policy_error or "no policy loaded")
        else:
            checks["policy"] = "ok"
        ok, message = self.audit.health() if self.audit else (False, "audit store not initialised")
        checks["audit"] = "ok" if ok else "unhealthy: " + message
        checks["upstream"] = "ok" if len(self.upstreams) else "not configured"
        drill = (self.faults().get("not_ready") or {}).get("check")
        if drill in checks:
            checks[drill] = "unhealthy: lab drill: simulated %s failure" % drill
        ready = not any(value.startswith("unhealthy") for value in checks.values())
        return ready, checks

    # ------------------------------------------------------------------- run
    def run(self):
        self.setup()
        handler = type("BoundHandler", (Handler,), {"lab": self})
        try:
            httpd = LabHTTPServer(("127.0.0.1", self.port), handler)
        except OSError as exc:
            self.logger.fatal("HTTP server failed", error="listen tcp 127.0.0.1:%d: %s" % (self.port, exc))
            sys.exit(1)
        self.httpd = httpd
        self.port = httpd.server_address[1]
        self._install_signals()
        threading.Thread(target=self._watch_faults, name="faults", daemon=True).start()
        serve = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="http",
                                 daemon=True)
        serve.start()
        self.logger.info("Starting HTTP server", addr="127.0.0.1:%d" % self.port,
                         configured_addr=schema.get(self.document, "server.addr"))
        self.logger.info("Starting HTTP server (no TLS)")
        atomic_write(os.path.join(self.lab_dir, PORT_FILE), "%d\n" % self.port)
        self.logger.info("MCP Airlock started successfully", profile=self.profile, port=self.port)
        while not self.stopping.is_set():
            if self._reload_requested.wait(0.2):
                self._reload_requested.clear()
                try:
                    self.reload()
                except Exception as exc:
                    self.logger.error("Reload failed", error=str(exc))
        self.logger.info("Shutdown signal received, starting graceful shutdown")
        httpd.shutdown()
        httpd.server_close()
        deadline = time.time() + 5
        while time.time() < deadline and any(t.is_alive() for t in list(self._stream_threads)):
            time.sleep(0.05)
        if self.audit:
            self.audit.close()
        self.logger.info("Server shutdown completed")
        self.logger.info("MCP Airlock stopped")
        return 0

    def _install_signals(self):
        def _stop(signum, frame):
            self.stopping.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        if self.documented:
            signal.signal(signal.SIGHUP, lambda signum, frame: self._reload_requested.set())
        else:
            # Go's runtime: an unhandled SIGHUP terminates the process.
            signal.signal(signal.SIGHUP, signal.SIG_DFL)

    # --------------------------------------------------------- MCP handling
    def subject_context(self, claims):
        if claims is None:
            # The release authenticates nobody: the lab treats every caller as
            # an ordinary user so that the policy still separates user tools
            # from admin tools (see docs/lab.md, "limits").
            return {"sub": "anonymous", "tenant": "default", "groups": ["mcp-users"]}
        return {"sub": str(claims.get("sub")), "tenant": claims["tenant"], "groups": claims["groups"]}

    def redact(self, text):
        """(text, patterns_hit, count) after applying every DLP pattern."""
        hits = {}
        total = 0
        for name, regex, replace in self.dlp:
            text, count = regex.subn(replace, text)
            if count:
                hits[name] = hits.get(name, 0) + count
                total += count
        return text, hits, total


class LabHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Broken pipes from clients that go away are normal for SSE.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, socket.timeout)):
            return
        lab = getattr(self.RequestHandlerClass, "lab", None)
        if lab is not None:
            lab.logger.error("HTTP handler error", error=repr(exc), remote_addr="%s:%d" % client_address[:2])


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler shaped like Go's net/http server."""

    protocol_version = "HTTP/1.1"
    lab = None  # set on the bound subclass
    timeout = 120

    # Go's server sends no Server header.
    def send_response(self, code, message=None):
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, fmt, *args):
        return

    # --------------------------------------------------------------- helpers
    @property
    def remote_addr(self):
        return "%s:%d" % self.client_address[:2]

    def _write_body(self, status, body, content_type="application/json", headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self):
        self._write_body(404, b"404 page not found\n", "text/plain; charset=utf-8",
                         {"X-Content-Type-Options": "nosniff"})

    def _log_request(self, status, started, level=None, **fields):
        duration = time.monotonic() - started
        if level is None:
            level = "debug" if self.path.split("?")[0] in HEALTH_PATHS and status < 400 else "info"
            if status >= 500 or (self.path.startswith("/ready") and status >= 400):
                level = "warn"
        self.lab.logger.log(level, "HTTP request", method=self.command, path=self.path.split("?")[0],
                            status=status, duration=round(duration, 6), duration_text=go_duration_text(duration),
                            remote_addr=self.remote_addr, user_agent=self.headers.get("User-Agent", ""),
                            **fields)

    def _read_body(self, limit):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while len(data) <= limit:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(1024)
                    break
                data += self.rfile.read(size)
                self.rfile.readline(1024)
            return bytes(data), len(data)
        try:
            length = int(length or 0)
        except ValueError:
            length = 0
        if length > limit:
            data = self.rfile.read(limit + 1)
            self.close_connection = True
            return data, length
        return (self.rfile.read(length) if length else b""), length

    # ---------------------------------------------------------------- routing
    def do_GET(self):
        self.route()

    do_POST = do_GET
    do_HEAD = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET
    do_PATCH = do_GET
    do_OPTIONS = do_GET

    def route(self):
        started = time.monotonic()
        path = urlparse(self.path).path
        lab = self.lab
        if path == "/live":
            self._write_body(200, _json_body([("status", "alive"), ("timestamp", rfc3339_now())]))
            self._log_request(200, started)
        elif path == "/health":
            self._write_body(200, _json_body([("status", "healthy"), ("timestamp", rfc3339_now())]))
            self._log_request(200, started)
        elif path == "/ready":
            self._ready(started)
        elif path == "/info":
            pairs = [("service", "mcp-airlock"), ("version", VERSION), ("timestamp", rfc3339_now())]
            if lab.documented:
                pairs += [("commit", "unknown"), ("build_time", "unknown"), ("build", "airlock-lab documented")]
            self._write_body(200, _json_body(pairs))
            self._log_request(200, started)
        elif path == "/mcp":
            self._mcp(started)
        elif lab.documented and self._metrics_path() == path:
            body = lab.metrics.render()
            self._write_body(200, body, "text/plain; version=0.0.4; charset=utf-8")
            self._log_request(200, started, level="debug")
        elif lab.documented and path in ("/admin/policy/reload", "/admin/status", "/admin/config"):
            self._admin(path, started)
        else:
            self._not_found()
            self._log_request(404, started)

    def _metrics_path(self):
        enabled = schema.get(self.lab.document, "observability.metrics.enabled")
        if enabled is False or str(enabled).lower() == "false":
            return None
        return schema.get(self.lab.document, "observability.metrics.path") or "/metrics"

    def _ready(self, started):
        lab = self.lab
        if not lab.documented:
            # The release registers no checks: ready as soon as it serves.
            self._write_body(200, _json_body([("status", "ready"), ("timestamp", rfc3339_now())]))
            self._log_request(200, started)
            return
        ready, checks = lab.readiness()
        status = 200 if ready else 503
        body = _json_body([("status", "ready" if ready else "not_ready"), ("timestamp", rfc3339_now()),
                           ("checks", checks)])
        self._write_body(status, body)
        self._log_request(status, started, **({} if ready else {"checks": checks}))

    # ------------------------------------------------------------------ admin
    def _bearer(self):
        header = self.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip()
        return None

    def _admin(self, path, started):
        lab = self.lab
        token = self._bearer()
        if not token:
            self._write_body(401, _compact({"error": "unauthorized", "message": "missing bearer token"}),
                             headers={"WWW-Authenticate": 'Bearer realm="airlock-admin"'})
            self._log_request(401, started, level="warn")
            return
        try:
            claims = lab.auth.validate(token)
        except AuthError as exc:
            self._write_body(401, _compact({"error": "unauthorized", "message": str(exc)}),
                             headers={"WWW-Authenticate": 'Bearer realm="airlock-admin", error="invalid_token"'})
            self._log_request(401, started, level="warn", error=str(exc))
            return
        if lab.admin_group not in claims["groups"]:
            self._write_body(403, _compact({"error": "forbidden",
                                              "message": "admin group %s required" % lab.admin_group}))
            self._log_request(403, started, level="warn", subject=claims.get("sub"))
            return
        if path == "/admin/policy/reload":
            if self.command != "POST":
                self._write_body(405, _compact({"error": "method not allowed"}), headers={"Allow": "POST"})
                self._log_request(405, started)
                return
            ok = lab.load_policy(initial=False)
            active = lab.policy.sha256 if lab.policy else None
            if ok:
                self._write_body(200, _compact({"status": "reloaded", "policy_sha256": active}))
                self._log_request(200, started, subject=claims.get("sub"))
            else:
                self._write_body(422, _compact({"status": "failed", "error": lab.last_reload_error or
                                                  lab.policy_error, "active_policy_sha256": active}))
                self._log_request(422, started, level="warn", subject=claims.get("sub"))
            return
        if path == "/admin/status":
            ready, checks = lab.readiness()
            document = {
                "status": "ready" if ready else "not_ready",
                "checks": checks,
                "profile": lab.profile,
                "version": VERSION,
                "uptime_seconds": round(time.time() - lab.started_at, 3),
                "policy": {"file": schema.get(lab.document, "policy.rego_file"),
                           "sha256": lab.policy.sha256 if lab.policy else None,
                           "loaded_at": lab.policy.loaded_at if lab.policy else None,
                           "last_error": lab.last_reload_error or lab.policy_error},
                "audit": {"database": lab.audit.path if lab.audit else None,
                          "events_written": lab.audit.events_written if lab.audit else 0},
                "active_connections": lab.metrics.active_connections,
                "upstreams": [u["name"] for u in lab.upstreams.items],
                "faults": sorted(lab.faults()),
            }
            self._write_body(200, _compact(document))
            self._log_request(200, started, subject=claims.get("sub"))
            return
        # /admin/config: the effective configuration, secrets elided
        self._write_body(200, _compact({"config": lab.document}, default=str))
        self._log_request(200, started, subject=claims.get("sub"))

    # -------------------------------------------------------------------- MCP
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
            self._stream(connection_id, reply, started, ctx, "", "")
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
        body = _compact({"error": "unauthorized", "message": error, "correlation_id": correlation_id})
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
        lab = self.lab
        upstreams = lab.upstreams
        started = time.monotonic()
        result = None
        error = None
        if method == "ping":
            result = {}
        elif method == "tools/list":
            result = upstreams.tool_list()
        elif method == "tools/call":
            owner = upstreams.tools.get(tool)
            if owner is None:
                error = (-32602, "Unknown tool: %s" % tool)
            else:
                arguments = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
                text = "Result of %s from upstream %s for %s" % (tool, owner, json.dumps(arguments, sort_keys=True))
                if faults.get("pii"):
                    text += "\n" + PII_SAMPLE
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
        elif method == "resources/list":
            result = upstreams.resource_list()
        elif method == "resources/read":
            if not upstreams.resource_known(resource):
                error = (-32602, "Resource not found: %s" % resource)
            else:
                result = {"contents": [{"uri": resource, "mimeType": "text/markdown",
                                        "text": "# Lab resource\n\nServed by the lab Airlock for %s.\n" % resource}]}
                lab.audit.log_event("resource_read", "allow", "resource read", correlation_id=correlation_id,
                                    tenant=ctx["tenant"], subject=ctx["sub"], resource=resource,
                                    metadata={"uri": resource},
                                    latency_ms=int((time.monotonic() - started) * 1000))
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

    # -------------------------------------------------------------------- SSE
    def _chunk(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, connection_id, reply, started, ctx, method, tool, status_label="200"):
        """Write the SSE response and hold it open (heartbeats) until the client goes away."""
        lab = self.lab
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "keep-alive")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Cache-Control")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        lab.metrics.connection_opened()
        current = threading.current_thread()
        lab._stream_threads.add(current)
        try:
            connected = go_json_value({"connection_id": connection_id, "timestamp": rfc3339_now()})
            self._chunk(b"event: connected\ndata: " + connected + b"\n\n")
            if reply is not None:
                self._chunk(b"data: " + go_json_value(reply) + b"\n\n")
            elapsed = time.monotonic() - started
            lab.metrics.inc("airlock_requests_total", {"tenant": ctx["tenant"], "tool": self._tool_label(tool),
                                                       "method": self._method_label(method),
                                                       "status": status_label})
            lab.metrics.observe("airlock_request_duration_seconds",
                                {"tenant": ctx["tenant"], "method": self._method_label(method)},
                                elapsed)
            success = reply is None or "error" not in reply
            lab.logger.info("MCP request completed", correlation_id=connection_id, method=method,
                            duration=round(elapsed, 6), success=success)
            self._log_request(200, started, mcp_method=method, tool=tool, correlation_id=connection_id)
            self._hold(connection_id)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            lab.metrics.connection_closed()
            lab._stream_threads.discard(current)
            lab.logger.debug("MCP connection closed", correlation_id=connection_id)

    def _hold(self, connection_id):
        lab = self.lab
        sock = self.connection
        next_beat = time.monotonic() + lab.heartbeat
        while not lab.stopping.is_set():
            wait = max(0.0, min(0.5, next_beat - time.monotonic()))
            try:
                readable, _, _ = select.select([sock], [], [], wait)
            except (OSError, ValueError):
                return
            if readable:
                try:
                    data = sock.recv(4096)
                except OSError:
                    return
                if not data:
                    return  # client went away
            if time.monotonic() >= next_beat:
                beat = go_json_value({"timestamp": rfc3339_now()})
                self._chunk(b"event: heartbeat\ndata: " + beat + b"\n\n")
                next_beat = time.monotonic() + lab.heartbeat
        # graceful shutdown: end the chunked stream
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass


def serve(lab_dir, profile, port, config_path, admin_group):
    """Entry point of the ``_serve`` internal command."""
    lab = LabAirlock(lab_dir, profile, port, config_path, admin_group)
    try:
        return lab.run()
    except SystemExit:
        raise
    except Exception as exc:  # last resort: record why the process died
        lab.logger.fatal("Unexpected error", error=repr(exc))
        return 1
