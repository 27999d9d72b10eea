# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab Airlock process (``airlock-lab _serve``).

``release`` reproduces the current binary byte for byte where the interface
notes pin it down (health bodies, SSE framing, 404s, no auth, SIGHUP kills);
``documented`` adds what the project documents: Prometheus metrics, admin
endpoints, SIGHUP reload, readiness checks and OIDC/JWT authentication.

The request handler is composed by job: :mod:`airlock_lab.httpbase` (Go-shaped HTTP),
:mod:`airlock_lab.routes_health` (health and metrics), :mod:`airlock_lab.routes_admin`,
:mod:`airlock_lab.routes_mcp` (JSON-RPC, policy, dispatch) and :mod:`airlock_lab.sse`;
:mod:`airlock_lab.oidc` validates tokens and :mod:`airlock_lab.upstreams` is the canned
upstream servers.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from urllib.parse import urlparse

from ansible_collections.airlock.incident.plugins.module_utils.airlock import config_schema as schema

from airlock_lab import VERSION
from airlock_lab import config as lab_config
from airlock_lab.audit import AuditStore
from airlock_lab.metrics import Metrics
from airlock_lab.oidc import Authenticator
from airlock_lab.policy import PolicyEngine, PolicyLoadError
from airlock_lab.routes_admin import ADMIN_PATHS, AdminRoutes
from airlock_lab.routes_health import HealthRoutes
from airlock_lab.routes_mcp import McpRoutes
from airlock_lab.sse import SseStream
from airlock_lab.upstreams import Upstreams
from airlock_lab.util import (
    FAULTS_FILE,
    LOG_FILE,
    PORT_FILE,
    ZapLogger,
    atomic_write,
    read_json,
)

#: Built-in DLP patterns, used when the config has no ``dlp.patterns``.
DEFAULT_DLP = (
    {"name": "email", "regex": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "replace": "[redacted-email]"},
    {"name": "ssn", "regex": r"\b\d{3}-\d{2}-\d{4}\b", "replace": "[redacted-ssn]"},
    {"name": "credit_card", "regex": r"\b(?:\d[ -]?){12,15}\d\b", "replace": "[redacted-card]"},
    {"name": "bearer_token", "regex": r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{8,}", "replace": "Bearer [redacted-token]"},
)


class LabAirlock:
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
        if not self.documented:
            for name, error in self.upstreams.release_rejected():
                self.logger.error("Failed to add upstream", name=name, error=error)
        # The release writes no audit database at all (not even an empty file): only
        # the documented profile opens one.
        if self.documented:
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
                self.logger, self.metrics,
                # The CA of the lab IdP's TLS certificate (drill idp-cert-expired), trusted as a gateway would
                # trust its IdP's CA: what fails then is the certificate's expiry, not an unknown issuer.
                ca_path=os.path.join(self.lab_dir, "idp", "tls", "ca.pem"))
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
                    if "jwks_rotated" in faults and "jwks_rotated" not in (self._faults or {}):
                        # the drill stands for a rotation older than auth.jwks_cache_ttl
                        self.auth.expire_keys()
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



class Handler(HealthRoutes, AdminRoutes, McpRoutes, SseStream):
    """HTTP/1.1 handler shaped like Go's net/http server: routes each path to its job."""

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
            self._live(started)
        elif path == "/health":
            self._health(started)
        elif path == "/ready":
            self._ready(started)
        elif path == "/info":
            self._info(started)
        elif path == "/mcp":
            self._mcp(started)
        elif lab.documented and self._metrics_path() == path:
            self._metrics(started)
        elif lab.documented and path in ADMIN_PATHS:
            self._admin(path, started)
        else:
            self._not_found()
            self._log_request(404, started)


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
