# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The checks of ``airlock.incident.oidc_check``: can Airlock validate tokens from its identity provider?

Airlock has no ``jwks_url``: it reads OIDC discovery at ``<auth.oidc_issuer>/.well-known/openid-configuration``
and the JWKS at the document's ``jwks_uri``. Each check below becomes a finding (``check``, ``detail``) when it
fails, so that a role can say why authentication fails instead of restarting the gateway:
reachability, TLS (valid, days to expiry), ``issuer`` equal to Airlock's configured issuer, the JWKS (reachable,
keys usable for RS/ES/PS signatures, the token's ``kid`` present), and the IdP's clock against ours.

A token given for diagnosis is decoded without verification, only for its header (``kid``, ``alg``) and the
claims that explain a refusal (``iss``, ``aud``, ``exp``, ``nbf``); it is never returned.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import socket
import ssl
import time
import typing as t
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from ansible_collections.airlock.incident.plugins.module_utils.airlock.http import AirlockClient, validate_base_url
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

DISCOVERY_PATH = "/.well-known/openid-configuration"
#: Signature algorithms a JWT validator accepts from a JWKS (HMAC keys have no place in a public JWKS).
SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_KTY_ALGS = {"RSA": "RS", "EC": "ES", "OKP": "EdDSA"}
#: DER of the commonName OID 2.5.4.3.
_CN_OID = b"\x55\x04\x03"


def _b64json(part: str) -> t.Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))


def token_facts(token: t.Optional[str], now: float) -> t.Optional[t.Dict[str, t.Any]]:
    """Header and explanatory claims of a JWT, unverified; None without a token. Never the token itself."""
    if not token:
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return {"decodable": False, "error": "not a JWT (expected three dot-separated parts)"}
    try:
        header, claims = _b64json(parts[0]), _b64json(parts[1])
    except (ValueError, UnicodeError, binascii.Error):
        return {"decodable": False, "error": "header or claims are not base64url JSON"}
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return {"decodable": False, "error": "header or claims are not JSON objects"}
    exp, nbf = claims.get("exp"), claims.get("nbf")
    return {
        "decodable": True,
        "kid": header.get("kid"),
        "alg": header.get("alg"),
        "iss": claims.get("iss"),
        "aud": claims.get("aud"),
        "exp": exp,
        "nbf": nbf,
        "expired": isinstance(exp, (int, float)) and exp < now,
        "not_yet_valid": isinstance(nbf, (int, float)) and nbf > now,
    }


def _split(url: str) -> t.Tuple[str, str]:
    """(scheme://host[:port], path?query) of an absolute URL."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return "%s://%s" % (parts.scheme, parts.netloc), path


def endpoint(url: str) -> t.Dict[str, t.Any]:
    """Host, port and scheme of a URL (the port the scheme implies when none is given)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"url": url, "scheme": parts.scheme, "host": parts.hostname, "port": port}


def _der(data: bytes, offset: int) -> t.Tuple[int, int, int]:
    """(tag, start of the content, end of the content) of the DER element at ``offset``."""
    tag, length = data[offset], data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    if start + length > len(data):
        raise ValueError("truncated DER element")
    return tag, start, start + length


def _children(data: bytes, start: int, end: int) -> t.List[t.Tuple[int, int, int]]:
    items = []
    while start < end:
        item = _der(data, start)
        items.append(item)
        start = item[2]
    return items


def _der_time(tag: int, raw: bytes) -> float:
    """Seconds since the epoch of a UTCTime (0x17) or GeneralizedTime (0x18)."""
    text = raw.decode("ascii").rstrip("Z")
    if tag == 0x17:
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    return float(calendar.timegm(time.strptime(text[:14], "%Y%m%d%H%M%S")))


def _common_name(data: bytes, start: int, end: int) -> t.Optional[str]:
    """The CN of a DER Name (SEQUENCE of SETs of SEQUENCE {OID, value}), or None."""
    for rdn in _children(data, start, end):
        for attribute in _children(data, rdn[1], rdn[2]):
            oid, value = _children(data, attribute[1], attribute[2])[:2]
            if data[oid[1]:oid[2]] == _CN_OID:
                return data[value[1]:value[2]].decode("utf-8", "replace")
    return None


def certificate_facts(der: bytes) -> t.Dict[str, t.Any]:
    """Subject and issuer CN, notBefore and notAfter (epoch seconds) of a DER X.509 certificate.

    Read without verification, only to name a certificate that did not verify; ValueError when it is not one.
    """
    try:
        cert = _der(der, 0)
        tbs = _children(der, cert[1], cert[2])[0]
        fields = _children(der, tbs[1], tbs[2])
        if fields[0][0] == 0xA0:  # [0] EXPLICIT version
            fields = fields[1:]
        issuer, validity, subject = fields[2], fields[3], fields[4]
        (nb_tag, nb_start, nb_end), (na_tag, na_start, na_end) = _children(der, validity[1], validity[2])[:2]
        return {"subject": _common_name(der, subject[1], subject[2]), "issuer": _common_name(der, issuer[1], issuer[2]),
                "not_before": _der_time(nb_tag, der[nb_start:nb_end]),
                "not_after": _der_time(na_tag, der[na_start:na_end])}
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not a DER X.509 certificate: %s" % exc) from exc


def _peer_certificate(host: str, port: int, timeout: float) -> t.Optional[bytes]:
    """The server's certificate (DER), fetched without verifying it; None when it cannot be had."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None


def _expiry(facts: t.Dict[str, t.Any], not_after: float, now: float) -> int:
    facts["not_after"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(not_after))
    # Whole days, towards zero: a certificate that expired 3.2 days ago is at -3.
    days = int((not_after - now) / 86400)
    facts["days_to_expiry"] = days
    return days


def _unverified(facts: t.Dict[str, t.Any], target: t.Dict[str, t.Any], timeout: float, now: float,
                reason: str) -> None:
    """Name the certificate that failed verification: subject, issuer and days to expiry (negative: expired)."""
    der = _peer_certificate(target["host"], target["port"], timeout)
    described = ""
    if der:
        try:
            cert = certificate_facts(der)
        except ValueError:
            cert = None
        if cert is not None:
            _expiry(facts, cert["not_after"], now)
            facts.update(subject=cert["subject"], cert_issuer=cert["issuer"])
            described = " (certificate CN=%s issued by CN=%s, not after %s, %d day(s) to expiry)" % (
                cert["subject"], cert["issuer"], facts["not_after"], facts["days_to_expiry"])
    facts.update(valid=False, error="certificate not valid: %s%s" % (reason, described))


def _peer_name(name: t.Any) -> t.Optional[str]:
    """The commonName of a name as ``getpeercert()`` returns it (tuples of RDNs of (key, value) pairs)."""
    for rdn in name or ():
        for key, value in rdn:
            if key == "commonName":
                return t.cast(str, value)
    return None


def tls_facts(url: str, timeout: float, ca_path: t.Optional[str], now: float,
              min_days: int) -> t.Dict[str, t.Any]:
    """Whether the server certificate of an https URL verifies, and the days until it expires.

    A certificate that does not verify is read again without verification, so that the finding names it
    (subject, issuer, not after, days to expiry: negative once it expired).
    """
    target = endpoint(url)
    facts: t.Dict[str, t.Any] = {"checked": target["scheme"] == "https", "valid": None, "not_after": None,
                                 "days_to_expiry": None, "subject": None, "cert_issuer": None, "error": None}
    if not facts["checked"]:
        return facts
    context = ssl.create_default_context(cafile=ca_path)
    try:
        with socket.create_connection((target["host"], target["port"]), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=target["host"]) as tls:
                cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        _unverified(facts, target, timeout, now, str(exc.verify_message or exc.reason or exc))
        return facts
    except (OSError, ssl.SSLError) as exc:
        facts.update(error="TLS handshake failed: %s" % exc)
        return facts
    facts["valid"] = True
    not_after = cert.get("notAfter")
    if isinstance(not_after, str) and not_after:
        days = _expiry(facts, ssl.cert_time_to_seconds(not_after), now)
        facts["subject"] = _peer_name(cert.get("subject"))
        facts["cert_issuer"] = _peer_name(cert.get("issuer"))
        if days < min_days:
            facts["error"] = "certificate CN=%s expires in %d day(s) (under %d)" % (facts["subject"], days, min_days)
    return facts


def key_summary(key: t.Any) -> t.Dict[str, t.Any]:
    """kid, kty, alg, use of one JWK and why it cannot verify a token signature (None when it can)."""
    if not isinstance(key, dict):
        return {"kid": None, "kty": None, "alg": None, "use": None, "usable": False, "problem": "not a JSON object"}
    summary = {name: key.get(name) for name in ("kid", "kty", "alg", "use")}
    problem = None
    if summary["use"] not in (None, "sig"):
        problem = "use is %r, not sig" % summary["use"]
    elif summary["kty"] not in _KTY_ALGS:
        problem = "key type %r cannot verify RS/PS/ES/EdDSA signatures" % summary["kty"]
    elif summary["alg"] is not None and summary["alg"] not in SIGNING_ALGS:
        problem = "alg %r is not a public-key signature algorithm" % summary["alg"]
    elif summary["kty"] == "RSA" and not (key.get("n") and key.get("e")):
        problem = "RSA key without n or e"
    elif summary["kty"] in ("EC", "OKP") and not key.get("x"):
        problem = "%s key without x" % summary["kty"]
    elif not summary["kid"]:
        problem = "no kid (a validator cannot pick it when the IdP has several keys)"
    summary["usable"] = problem is None
    summary["problem"] = problem
    return summary


def clock_skew(date_header: t.Optional[str], sent: float, received: float) -> t.Optional[float]:
    """Seconds the IdP's clock is ahead of ours (negative: behind), from its Date header; None without one."""
    if not date_header:
        return None
    try:
        theirs = parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    # The Date header has one-second resolution and is stamped somewhere during the request.
    return round(theirs - (sent + received) / 2.0, 1)


class Check:
    """One run of the checks; ``findings`` gathers what failed."""

    def __init__(self, params: t.Mapping[str, t.Any]) -> None:
        self.issuer = validate_base_url(params["issuer"], "issuer")
        expected = params.get("expected_issuer") or params["issuer"]
        if not isinstance(expected, str) or not expected.strip():
            raise InputError("expected_issuer: a URL such as https://idp.example.com/realms/main is required")
        self.expected_issuer = expected.strip()
        self.timeout = float(params["timeout"])
        if self.timeout <= 0:
            raise InputError("timeout: must be a number of seconds greater than 0, got %r" % params["timeout"])
        self.validate_certs = bool(params["validate_certs"])
        self.ca_path = params.get("ca_path")
        self.max_skew = float(params["max_clock_skew"])
        self.min_days = int(params["min_cert_days"])
        if self.max_skew < 0 or self.min_days < 0:
            raise InputError("max_clock_skew and min_cert_days: must be 0 or more")
        self.token = params.get("token")
        self.kid = params.get("kid")
        self.findings: t.List[t.Dict[str, str]] = []

    def find(self, check: str, detail: str) -> None:
        self.findings.append({"check": check, "detail": detail})

    def discovery(self) -> t.Tuple[t.Dict[str, t.Any], t.Any]:
        url = self.issuer + DISCOVERY_PATH
        base, path = _split(url)
        client = AirlockClient(base, timeout=self.timeout, validate_certs=self.validate_certs, ca_path=self.ca_path)
        sent = time.time()
        result = client.get(path)
        facts = {k: result[k] for k in ("url", "status", "latency_ms", "error")}
        facts["clock_skew_seconds"] = clock_skew(result.get("date"), sent, time.time())
        body = result.get("body") if isinstance(result.get("body"), dict) else None
        facts["issuer"] = body.get("issuer") if body else None
        facts["jwks_uri"] = body.get("jwks_uri") if body else None
        if result["error"] or body is None:
            self.find("discovery", "%s: %s" % (url, result["error"] or "the answer is not a JSON object"))
        elif facts["issuer"] != self.expected_issuer:
            self.find("issuer", "discovery says issuer %r, Airlock expects %r (auth.oidc_issuer); every token is "
                                "refused" % (facts["issuer"], self.expected_issuer))
        return facts, body

    def jwks(self, jwks_uri: t.Any) -> t.Dict[str, t.Any]:
        facts: t.Dict[str, t.Any] = {"url": jwks_uri, "status": None, "error": None, "keys": []}
        if not isinstance(jwks_uri, str) or not jwks_uri.lower().startswith(("http://", "https://")):
            self.find("jwks", "discovery has no usable jwks_uri (%r)" % (jwks_uri,))
            return facts
        base, path = _split(jwks_uri)
        client = AirlockClient(base, timeout=self.timeout, validate_certs=self.validate_certs, ca_path=self.ca_path)
        result = client.get(path)
        facts.update({k: result[k] for k in ("status", "latency_ms", "error")})
        body = result.get("body")
        keys = body.get("keys") if isinstance(body, dict) else None
        if result["error"] or not isinstance(keys, list):
            self.find("jwks", "%s: %s" % (jwks_uri, result["error"] or "no keys list in the answer"))
            return facts
        facts["keys"] = [key_summary(key) for key in keys]
        if not any(key["usable"] for key in facts["keys"]):
            self.find("jwks_keys", "no usable signing key in the JWKS (%d key(s): %s)" % (
                len(keys), "; ".join("%s: %s" % (k["kid"], k["problem"]) for k in facts["keys"]) or "empty"))
        return facts

    def token_checks(self, token: t.Optional[t.Dict[str, t.Any]], jwks: t.Dict[str, t.Any]) -> t.Optional[str]:
        """The kid looked for in the JWKS (given, or the token's); findings about the token."""
        kid = self.kid or (token or {}).get("kid")
        if token is not None and not token["decodable"]:
            self.find("token", "the token given is %s" % token["error"])
        elif token is not None:
            if token["expired"]:
                expired_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(token["exp"]))
                self.find("token", "the token expired at %s" % expired_at)
            if token["iss"] not in (None, self.expected_issuer):
                self.find("token", "the token's iss %r is not Airlock's issuer %r" % (token["iss"], self.expected_issuer))
        if kid and jwks["keys"] and kid not in [key["kid"] for key in jwks["keys"] if key["usable"]]:
            self.find("kid", "kid %r is not among the IdP's usable keys (%s): the keys were rotated or the token "
                             "comes from another issuer" % (kid, ", ".join(str(k["kid"]) for k in jwks["keys"])))
        return kid


def _message(findings: t.List[t.Dict[str, str]], issuer: str) -> str:
    if not findings:
        return "OIDC %s: discovery, issuer, JWKS, TLS and clock all fine" % issuer
    return "OIDC %s: %d problem(s): %s" % (issuer, len(findings), "; ".join(
        "%s: %s" % (f["check"], f["detail"]) for f in findings))


def check_oidc(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The ``oidc_check`` task (read-only): every check, with ``findings`` and ``msg``."""
    check = Check(params)
    now = time.time()
    token = token_facts(check.token, now)
    discovery, body = check.discovery()
    tls = tls_facts(check.issuer, check.timeout, check.ca_path, now, check.min_days)
    if tls["valid"] is False:
        check.find("certificate", "%s: %s" % (check.issuer, tls["error"]))
    elif tls["error"]:
        check.find("tls", "%s: %s" % (check.issuer, tls["error"]))
    jwks = check.jwks(body.get("jwks_uri")) if body else {"url": None, "status": None, "error": None, "keys": []}
    kid = check.token_checks(token, jwks)
    skew = discovery["clock_skew_seconds"]
    if skew is not None and abs(skew) > check.max_skew:
        check.find("clock", "the IdP's clock is %+.0f s from ours (more than %g s): tokens look %s"
                   % (skew, check.max_skew, "not yet valid" if skew > 0 else "expired"))
    endpoints = [endpoint(check.issuer)]
    if isinstance(jwks["url"], str) and jwks["url"].lower().startswith(("http://", "https://")):
        jwks_endpoint = endpoint(jwks["url"])
        if (jwks_endpoint["host"], jwks_endpoint["port"]) != (endpoints[0]["host"], endpoints[0]["port"]):
            endpoints.append(jwks_endpoint)
    return {
        "changed": False,
        "ok": not check.findings,
        "reachable": discovery["status"] is not None,
        "issuer": check.issuer,
        "expected_issuer": check.expected_issuer,
        "discovery": discovery,
        "jwks": jwks,
        "tls": tls,
        "clock_skew_seconds": skew,
        "kid": kid,
        "token": token,
        "endpoints": endpoints,
        "findings": check.findings,
        "msg": _message(check.findings, check.issuer),
    }
