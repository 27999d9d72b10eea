# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oidc_check against real loopback identity providers (HTTP and HTTPS with a real certificate)."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.airlock import oidc
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

RSA_KEY = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1", "n": "sXch", "e": "AQAB"}


class _IdP:
    """A loopback IdP whose documents, keys and clock a test sets."""

    def __init__(self, tls_context=None):
        idp = self
        self.keys = [dict(RSA_KEY)]
        self.issuer_override = None
        self.clock_offset = 0.0
        self.fail_jwks = False

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def do_GET(self):
                if self.path == oidc.DISCOVERY_PATH:
                    status, body = 200, {"issuer": idp.issuer_override or idp.url,
                                         "jwks_uri": idp.url + "/keys"}
                elif self.path == "/keys" and not idp.fail_jwks:
                    status, body = 200, {"keys": idp.keys}
                else:
                    status, body = 404, {"error": "not_found"}
                data = json.dumps(body).encode()
                self.send_response_only(status)
                self.send_header("Date", formatdate(time.time() + idp.clock_offset, usegmt=True))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def idp():
    server = _IdP()
    yield server
    server.close()


def _params(issuer, **extra):
    params = dict(issuer=issuer, expected_issuer=None, token=None, kid=None, timeout=3.0, validate_certs=True,
                  ca_path=None, max_clock_skew=30.0, min_cert_days=14)
    params.update(extra)
    return params


def _jwt(header, claims):
    def part(document):
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()
    return "%s.%s.c2ln" % (part(header), part(claims))


def _checks(result):
    return [finding["check"] for finding in result["findings"]]


def test_a_healthy_idp_passes_every_check(idp):
    result = oidc.check_oidc(_params(idp.url))
    assert result["ok"] and result["findings"] == [] and result["reachable"]
    assert result["discovery"]["issuer"] == idp.url and result["jwks"]["keys"][0]["usable"]
    assert abs(result["clock_skew_seconds"]) <= 2
    assert result["endpoints"] == [{"url": idp.url, "scheme": "http", "host": "127.0.0.1",
                                    "port": int(idp.url.rsplit(":", 1)[1])}]


def test_an_unreachable_idp_is_a_finding_not_a_failure():
    result = oidc.check_oidc(_params("http://127.0.0.1:9", timeout=1.0))
    assert not result["ok"] and not result["reachable"] and _checks(result) == ["discovery"]
    assert "connection refused" in result["findings"][0]["detail"]


def test_an_issuer_that_differs_from_airlocks_is_named(idp):
    idp.issuer_override = "https://other.example.com"
    result = oidc.check_oidc(_params(idp.url))
    assert _checks(result) == ["issuer"] and "'https://other.example.com'" in result["msg"]


def test_a_rotated_jwks_without_the_tokens_kid_is_found(idp):
    idp.keys = [dict(RSA_KEY, kid="k2")]
    token = _jwt({"alg": "RS256", "kid": "k1"}, {"iss": idp.url, "exp": time.time() + 600})
    result = oidc.check_oidc(_params(idp.url, token=token))
    assert _checks(result) == ["kid"] and result["kid"] == "k1"
    assert "rotated" in result["findings"][0]["detail"]
    assert token not in json.dumps(result)


def test_unusable_keys_are_explained(idp):
    idp.keys = [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}, dict(RSA_KEY, use="enc")]
    result = oidc.check_oidc(_params(idp.url))
    assert _checks(result) == ["jwks_keys"]
    assert [key["problem"] for key in result["jwks"]["keys"]] == [
        "key type 'oct' cannot verify RS/PS/ES/EdDSA signatures", "use is 'enc', not sig"]


def test_an_unreachable_jwks_is_a_finding(idp):
    idp.fail_jwks = True
    assert _checks(oidc.check_oidc(_params(idp.url))) == ["jwks"]


def test_a_skewed_idp_clock_is_found(idp):
    idp.clock_offset = 600
    result = oidc.check_oidc(_params(idp.url))
    assert _checks(result) == ["clock"] and 590 <= result["clock_skew_seconds"] <= 610


def test_an_expired_token_from_another_issuer_is_explained(idp):
    token = _jwt({"alg": "RS256", "kid": "k1"}, {"iss": "https://evil.example.com", "exp": 1000})
    result = oidc.check_oidc(_params(idp.url, token=token))
    assert _checks(result) == ["token", "token"] and result["token"]["expired"]


@pytest.mark.parametrize("token,fragment", [("abc", "not a JWT"), ("a.b.c", "not base64url JSON")])
def test_an_undecodable_token_is_reported(idp, token, fragment):
    result = oidc.check_oidc(_params(idp.url, token=token))
    assert _checks(result) == ["token"] and fragment in result["msg"]


def _certificate(days_valid):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = now + datetime.timedelta(days=days_valid)
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now, not_after) - datetime.timedelta(days=30)).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert_pem, key_pem


@pytest.fixture
def tls_idp(tmp_path, request):
    cert_pem, key_pem = _certificate(request.param)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    server = _IdP(context)
    server.ca = str(tmp_path / "cert.pem")
    yield server
    server.close()


@pytest.mark.parametrize("tls_idp", [365], indirect=True)
def test_a_valid_certificate_reports_its_days_to_expiry(tls_idp):
    result = oidc.check_oidc(_params(tls_idp.url, ca_path=tls_idp.ca))
    assert result["ok"], result["msg"]
    assert result["tls"]["valid"] and 363 <= result["tls"]["days_to_expiry"] <= 365


@pytest.mark.parametrize("tls_idp", [5], indirect=True)
def test_a_certificate_about_to_expire_is_a_finding(tls_idp):
    result = oidc.check_oidc(_params(tls_idp.url, ca_path=tls_idp.ca))
    assert _checks(result) == ["tls"] and "expires in" in result["msg"]


@pytest.mark.parametrize("tls_idp", [-2], indirect=True)
def test_an_expired_certificate_is_found_and_named(tls_idp):
    result = oidc.check_oidc(_params(tls_idp.url, ca_path=tls_idp.ca))
    assert "certificate" in _checks(result) and "certificate has expired" in result["msg"]
    assert result["tls"]["valid"] is False
    # Read again without verification: named, with its (negative) days to expiry.
    assert result["tls"]["days_to_expiry"] in (-3, -2) and result["tls"]["subject"] == "127.0.0.1"
    assert "certificate CN=127.0.0.1 issued by CN=127.0.0.1" in result["msg"] and "day(s) to expiry" in result["msg"]


@pytest.mark.parametrize("tls_idp", [30], indirect=True)
def test_an_untrusted_certificate_is_named_too(tls_idp):
    result = oidc.check_oidc(_params(tls_idp.url))
    assert "certificate" in _checks(result) and result["tls"]["valid"] is False
    assert 28 <= result["tls"]["days_to_expiry"] <= 30 and result["tls"]["subject"] == "127.0.0.1"


@pytest.mark.parametrize("days", [-400, -1, 10, 20000])
def test_certificate_facts_reads_der_with_either_time_type(days):
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(_certificate(days)[0])
    from cryptography.hazmat.primitives import serialization

    facts = oidc.certificate_facts(cert.public_bytes(serialization.Encoding.DER))
    assert facts["subject"] == facts["issuer"] == "127.0.0.1"
    assert facts["not_after"] == int(cert.not_valid_after_utc.timestamp())
    assert facts["not_before"] == int(cert.not_valid_before_utc.timestamp())


@pytest.mark.parametrize("data", [b"", b"\x30\x05\x02\x01", b"\x30\x03\x02\x01\x01", b"not der at all"])
def test_certificate_facts_refuses_what_is_not_a_certificate(data):
    with pytest.raises(ValueError, match="not a DER X.509 certificate"):
        oidc.certificate_facts(data)


@pytest.mark.parametrize("extra,fragment", [
    (dict(issuer="idp.example.com"), "issuer: invalid value"),
    (dict(issuer="http://["), "issuer: invalid value"),
    (dict(issuer="http://idp.example.com:99999"), "issuer: invalid value"),
    (dict(timeout=0), "timeout"),
    (dict(max_clock_skew=-1), "max_clock_skew"),
])
def test_bad_input_is_refused_before_any_request(extra, fragment):
    params = _params("http://127.0.0.1:9")
    params.update(extra)
    with pytest.raises(InputError, match=fragment):
        oidc.check_oidc(params)
