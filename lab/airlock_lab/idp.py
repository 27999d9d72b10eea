# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab OIDC identity provider (``documented`` profile) and token minting.

Serves OIDC discovery (``/.well-known/openid-configuration``) and the JWKS
(``/.well-known/jwks.json``) on 127.0.0.1, and mints RS256 JWTs with the
lab signing key (``<dir>/idp/signing-key.pem``, created once).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from airlock_lab.util import ZapLogger, atomic_write

KEY_FILE = "signing-key.pem"
#: While this key exists the JWKS publishes it instead of the signing key (drill jwks-rotated).
ROTATED_KEY_FILE = "rotated-key.pem"
PORT_FILE = "idp.port"
#: Drill idp-cert-expired: the IdP serves TLS with these (made at drill time, never committed).
TLS_DIR = "tls"
TLS_CA = "ca.pem"
TLS_CERT = "cert.pem"
TLS_KEY = "key.pem"


def key_path(lab_dir):
    return os.path.join(os.path.abspath(lab_dir), "idp", KEY_FILE)


def ensure_key(lab_dir):
    """The lab signing key, created (RSA 2048) if missing."""
    path = key_path(lab_dir)
    if not os.path.exists(path):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        atomic_write(path, pem, mode=0o600)
    return load_key(path)


def load_key(path):
    with open(path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def _b64(number):
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(key):
    numbers = key.public_key().public_numbers()
    n = _b64(numbers.n)
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": hashlib.sha256(n.encode("ascii")).hexdigest()[:16],
        "n": n,
        "e": _b64(numbers.e),
    }


def mint(key, issuer, sub="alice", tenant="acme", groups=None, ttl=3600, audience=None, expired=False,
         not_before=None, extra=None):
    """An RS256 JWT signed with ``key``; ``expired`` makes exp lie in the past (beyond any skew)."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": sub,
        "tid": tenant,
        "groups": list(groups or []),
        "iat": now,
        "nbf": now if not_before is None else not_before,
        "exp": now + int(ttl),
        "jti": uuid.uuid4().hex,
    }
    if expired:
        claims["iat"] = now - 7200
        claims["nbf"] = now - 7200
        claims["exp"] = now - 3600
    if audience:
        claims["aud"] = audience
    if extra:
        claims.update(extra)
    headers = {"kid": public_jwk(key)["kid"]}
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def discovery(issuer):
    return {
        "issuer": issuer,
        "jwks_uri": issuer + "/.well-known/jwks.json",
        "token_endpoint": issuer + "/token",
        "response_types_supported": ["code", "token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "grant_types_supported": ["client_credentials"],
        "claims_supported": ["sub", "tid", "groups", "aud", "exp", "nbf", "iat", "iss"],
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lab-idp"

    def log_message(self, fmt, *args):  # quiet: requests go to idp.log
        return

    def _send(self, status, document):
        body = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=60")
        self.end_headers()
        self.wfile.write(body)
        self.server.logger.info("IdP request", method=self.command, path=self.path, status=status,
                                remote_addr="%s:%d" % self.client_address[:2])

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/.well-known/openid-configuration":
            self._send(200, discovery(self.server.issuer))
        elif path in ("/.well-known/jwks.json", "/jwks"):
            rotated = os.path.join(self.server.lab_dir, "idp", ROTATED_KEY_FILE)
            jwk = public_jwk(load_key(rotated)) if os.path.exists(rotated) else self.server.jwk
            self._send(200, {"keys": [jwk]})
        elif path == "/healthz":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self):
        path = urlparse(self.path).path
        if path != "/token":
            self._send(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode("utf-8")) if length else {}

        def one(name, default):
            return (form.get(name) or [default])[0]

        groups = [g for g in one("groups", "mcp-users").split(",") if g]
        ttl = int(one("ttl", "3600"))
        token = mint(self.server.key, self.server.issuer, sub=one("sub", "alice"), tenant=one("tenant", "acme"),
                     groups=groups, ttl=ttl, audience=one("audience", "") or None)
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl})


def expired_certificate(directory, days_ago=3):
    """A lab CA and a server certificate for 127.0.0.1 signed by it that expired ``days_ago`` days ago.

    Written to ``directory`` (``ca.pem``, ``cert.pem``, ``key.pem`` 0600) at drill time; returns their paths and
    the certificate's notAfter (RFC 3339).
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airlock-lab IdP CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=400)).not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = now - datetime.timedelta(days=days_ago)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airlock-lab-idp")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=90 + days_ago)).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .sign(ca_key, hashes.SHA256()))
    os.makedirs(directory, exist_ok=True)
    paths = {"ca": os.path.join(directory, TLS_CA), "cert": os.path.join(directory, TLS_CERT),
             "key": os.path.join(directory, TLS_KEY)}
    atomic_write(paths["ca"], ca.public_bytes(serialization.Encoding.PEM))
    atomic_write(paths["cert"], cert.public_bytes(serialization.Encoding.PEM))
    atomic_write(paths["key"], key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), mode=0o600)
    paths["not_after"] = not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    return paths


def serve(lab_dir, port, tls_cert=None, tls_key=None):
    """Run the IdP until SIGTERM/SIGINT (the ``_idp`` internal command); over TLS with ``tls_cert``."""
    lab_dir = os.path.abspath(lab_dir)
    os.makedirs(os.path.join(lab_dir, "idp"), exist_ok=True)
    logger = ZapLogger(os.path.join(lab_dir, "idp", "idp.log"), name="lab-idp")
    key = ensure_key(lab_dir)
    httpd = ThreadingHTTPServer(("127.0.0.1", int(port or 0)), _Handler)
    httpd.daemon_threads = True
    actual = httpd.server_address[1]
    scheme = "http"
    if tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_cert, tls_key)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    httpd.issuer = "%s://127.0.0.1:%d" % (scheme, actual)
    httpd.key = key
    httpd.jwk = public_jwk(key)
    httpd.lab_dir = lab_dir
    httpd.logger = logger
    stop = threading.Event()

    def _stop(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    atomic_write(os.path.join(lab_dir, "idp", PORT_FILE), "%d\n" % actual)
    logger.info("Lab IdP started", issuer=httpd.issuer, kid=httpd.jwk["kid"], pid=os.getpid())
    while not stop.wait(0.5):
        pass
    logger.info("Lab IdP stopping")
    httpd.shutdown()
    httpd.server_close()
    return 0
