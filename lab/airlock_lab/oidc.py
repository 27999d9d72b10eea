# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OIDC for the lab Airlock's ``documented`` profile: JWT (RS256) validation against the
issuer's discovery document and JWKS, with the refusal reasons Airlock records."""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
import urllib.request

import jwt


class AuthError(Exception):
    """A token was refused; ``str()`` is the reason recorded in the audit event."""


class Authenticator:
    """JWT validation against OIDC discovery of ``auth.oidc_issuer`` (RS256)."""

    def __init__(self, issuer, audience, jwks_ttl, clock_skew, required_groups, logger, metrics, ca_path=None):
        self.issuer = (issuer or "").rstrip("/")
        self.audience = audience or None
        self.jwks_ttl = jwks_ttl
        self.clock_skew = clock_skew
        self.required_groups = list(required_groups or [])
        self.logger = logger
        self.metrics = metrics
        self.ca_path = ca_path
        self._lock = threading.Lock()
        self._keys = {}
        self._fetched_at = 0.0
        self._last_attempt = 0.0
        self.last_error = None
        self._probe = (0.0, None)

    def _get(self, url, timeout=2.0):
        context = None
        if url.startswith("https://"):
            context = ssl.create_default_context()
            if self.ca_path and os.path.isfile(self.ca_path):
                context.load_verify_locations(self.ca_path)
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # nosec - loopback lab IdP
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

    def expire_keys(self):
        """The cached JWKS counts as older than auth.jwks_cache_ttl: the next validation fetches it again."""
        with self._lock:
            self._fetched_at = 0.0

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
