# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault drills: each reproduces a situation from the operator playbook with real effects."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time

import yaml

from airlock_lab import DENY_ALL_POLICY
from airlock_lab import idp as lab_idp
from airlock_lab.client import mcp
from airlock_lab.lab import LabError
from airlock_lab.util import LOG_FILE, atomic_write, pid_alive, rfc3339_now, terminate

ATTACK_SOURCES = ("127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15")
NOT_READY_CHECKS = ("jwks", "policy", "audit", "upstream")
FAULT_NAMES = ("down", "not-ready", "latency", "memory", "pii", "broken-policy", "idp-down", "jwks-rotated",
               "idp-cert-expired")

BROKEN_SYNTAX = """package airlock.authz

import rego.v1

# Broken on purpose by `airlock-lab drill broken-policy --mode syntax`:
# an unclosed rule body, so the module does not compile.
default allow := false

allow if {
    input.groups[_] == "mcp-users"
"""


def _require_running(lab):
    state = lab.state()
    if not state:
        raise LabError("no lab state in %s: run `start` first" % lab.dir)
    if not lab.airlock_running(state):
        raise LabError("the lab Airlock is not running (status shows why; `restart` brings it back)")
    return state


def _config(state):
    try:
        with open(state["config"], "rb") as handle:
            document = yaml.safe_load(handle.read().decode("utf-8"))
        return document if isinstance(document, dict) else {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}


def lab_token(lab, state, sub="alice", tenant="acme", groups=None, ttl=3600, expired=False, audience=None):
    """A token from the lab IdP key (documented profile)."""
    key_file = lab_idp.key_path(lab.dir)
    if not os.path.exists(key_file) or not state.get("idp_url"):
        raise LabError("no lab IdP key in %s: start the lab with --profile documented" % lab.dir)
    key = lab_idp.load_key(key_file)
    if audience is None:
        audience = ((_config(state).get("auth") or {}).get("audience")) or None
    if groups is None:
        groups = ["mcp-users"]
    return lab_idp.mint(key, state["idp_url"], sub=sub, tenant=tenant, groups=groups, ttl=ttl, audience=audience,
                        expired=expired)


def _user_token(lab, state, **kwargs):
    if state.get("profile") != "documented":
        return None
    return lab_token(lab, state, **kwargs)


def _allowed_tools(state):
    tools = []
    for upstream in _config(state).get("upstreams") or []:
        if isinstance(upstream, dict):
            tools.extend(str(t) for t in upstream.get("allow_tools") or ["echo"])
    return tools


def _count(statuses, status):
    key = str(status)
    statuses[key] = statuses.get(key, 0) + 1


def traffic(lab, count=20):
    """Normal MCP traffic (tools/list, tools/call, resources/read, ping) from a real client."""
    state = _require_running(lab)
    token = _user_token(lab, state)
    tools = _allowed_tools(state)
    tool = "search_docs" if "search_docs" in tools else (tools[0] if tools else "echo")
    methods = [
        {"method": "tools/list", "params": {}},
        {"method": "tools/call", "params": {"name": tool, "arguments": {"query": "incident runbook"}}},
        {"method": "resources/read", "params": {"uri": _first_resource(state)}},
        {"method": "ping", "params": {}},
    ]
    statuses, errors, per_method = {}, {}, {}
    for index in range(count):
        message = dict(methods[index % len(methods)])
        message.update({"jsonrpc": "2.0", "id": index + 1})
        response = mcp(state["url"], message, token=token)
        _count(statuses, response.status)
        per_method[message["method"]] = per_method.get(message["method"], 0) + 1
        if response.reply and "error" in response.reply:
            _count(errors, response.reply["error"].get("code"))
    return {"command": "traffic", "sent": count, "statuses": statuses, "methods": per_method,
            "jsonrpc_errors": errors}


def _first_resource(state):
    document = _config(state)
    for root in document.get("roots") or []:
        if isinstance(root, dict) and root.get("virtual"):
            virtual = str(root["virtual"])
            return (virtual if virtual.endswith("/") else virtual + "/") + "README.md"
    upstreams = document.get("upstreams") or []
    if upstreams and isinstance(upstreams[0], dict):
        return "mcp://%s/README.md" % upstreams[0].get("name", "docs")
    return "mcp://docs/README.md"


# ---------------------------------------------------------------------- drills
def down(lab):
    state = _require_running(lab)
    pid = state["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 5
    while pid_alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    lab.set_fault("down", {"since": rfc3339_now(), "pid": pid})
    return {"drill": "down", "killed_pid": pid, "signal": "SIGKILL",
            "note": "the lab Airlock stays down until `airlock-lab restart`"}


def not_ready(lab, check="upstream"):
    state = _require_running(lab)
    if check not in NOT_READY_CHECKS:
        raise LabError("--check must be one of %s" % ", ".join(NOT_READY_CHECKS))
    lab.set_fault("not_ready", {"since": rfc3339_now(), "check": check})
    result = {"drill": "not-ready", "check": check}
    if state["profile"] == "release":
        result["note"] = ("release profile: /ready registers no checks and keeps answering 200, exactly like "
                          "the current binary; use --profile documented to see 503 with a checks map")
    else:
        result["note"] = "/ready now answers 503 with checks.%s unhealthy" % check
    return result


def latency(lab, ms):
    _require_running(lab)
    if ms < 0:
        raise LabError("--ms must be >= 0")
    lab.set_fault("latency", {"since": rfc3339_now(), "ms": int(ms)} if ms else None)
    return {"drill": "latency", "ms": int(ms), "note": "added to every /mcp request before the reply"}


def _rss(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def memory(lab, mb):
    state = _require_running(lab)
    if mb < 0:
        raise LabError("--mb must be >= 0")
    before = _rss(state["pid"])
    lab.set_fault("memory", {"since": rfc3339_now(), "mb": int(mb)} if mb else None)
    target = before + int(mb) * 1024 * 1024 * 0.9
    deadline = time.time() + 5
    after = before
    while time.time() < deadline:
        after = _rss(state["pid"])
        if (mb and after >= target) or (not mb and after < before):
            break
        time.sleep(0.1)
    return {"drill": "memory", "mb": int(mb), "rss_before": before, "rss_after": after}


def _bad_tokens(lab, state):
    key = lab_idp.load_key(lab_idp.key_path(lab.dir))
    from cryptography.hazmat.primitives.asymmetric import rsa

    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    audience = ((_config(state).get("auth") or {}).get("audience")) or None
    issuer = state["idp_url"]
    return [
        ("missing", None),
        ("garbage", "not-a-jwt"),
        ("expired", lab_idp.mint(key, issuer, sub="alice", expired=True, audience=audience,
                                 groups=["mcp-users"])),
        ("bad_signature", lab_idp.mint(rogue, issuer, sub="mallory", audience=audience, groups=["mcp-users"])),
        ("wrong_audience", lab_idp.mint(key, issuer, sub="mallory", audience="not-airlock", groups=["mcp-users"])),
        ("wrong_issuer", lab_idp.mint(key, "https://evil.example.com", sub="mallory", audience=audience,
                                      groups=["mcp-users"])),
    ]


def auth_storm(lab, count=30):
    state = _require_running(lab)
    if state["profile"] != "documented":
        raise LabError("the release profile has no authentication (every request is accepted); "
                       "start the lab with --profile documented", code=2)
    tokens = _bad_tokens(lab, state)
    statuses, kinds = {}, {}
    for index in range(count):
        kind, token = tokens[index % len(tokens)]
        source = ATTACK_SOURCES[index % len(ATTACK_SOURCES)]
        response = mcp(state["url"], {"jsonrpc": "2.0", "id": index + 1, "method": "tools/list"}, token=token,
                       source_ip=source, user_agent="storm/1.0")
        _count(statuses, response.status)
        kinds[kind] = kinds.get(kind, 0) + 1
    return {"drill": "auth-storm", "sent": count, "statuses": statuses, "kinds": kinds}


def attack(lab, count=30):
    state = _require_running(lab)
    token = _user_token(lab, state, sub="mallory", tenant="acme", groups=["mcp-users"])
    resource = _first_resource(state)
    base = resource.rsplit("/", 1)[0]
    tools = _allowed_tools(state)
    read_tool = "read_file" if "read_file" in tools else (tools[0] if tools else "echo")
    denied_tool = next((t for t in tools if t.startswith("admin")), "admin_exec")
    patterns = [
        ("denied_tool", {"method": "tools/call", "params": {"name": denied_tool,
                                                            "arguments": {"command": "cat /etc/shadow"}}}),
        ("path_traversal_resource", {"method": "resources/read",
                                     "params": {"uri": base + "/../../../etc/passwd"}}),
        ("path_traversal_argument", {"method": "tools/call",
                                     "params": {"name": read_tool, "arguments": {"path": "../../etc/shadow"}}}),
    ]
    statuses, kinds, sources = {}, {}, {}
    for index in range(count):
        kind, message = patterns[index % len(patterns)]
        message = dict(message, jsonrpc="2.0", id=index + 1)
        source = ATTACK_SOURCES[index % len(ATTACK_SOURCES)]
        response = mcp(state["url"], message, token=token, source_ip=source, user_agent="sqlmap/1.7 (lab attack)")
        _count(statuses, response.status)
        kinds[kind] = kinds.get(kind, 0) + 1
        sources[source] = sources.get(source, 0) + 1
    return {"drill": "attack", "sent": count, "statuses": statuses, "kinds": kinds, "sources": sources,
            "subject": "mallory" if token else "anonymous"}


def pii(lab, count=5, keep=False, log_unredacted=False):
    state = _require_running(lab)
    token = _user_token(lab, state)
    tools = _allowed_tools(state)
    tool = "search_docs" if "search_docs" in tools else (tools[0] if tools else "echo")
    lab.set_fault("pii", {"since": rfc3339_now(), "log_unredacted": bool(log_unredacted)})
    time.sleep(0.3)
    statuses = {}
    redacted = 0
    try:
        for index in range(count):
            response = mcp(state["url"], {"jsonrpc": "2.0", "id": index + 1, "method": "tools/call",
                                          "params": {"name": tool, "arguments": {"query": "customer 4711"}}},
                           token=token)
            _count(statuses, response.status)
            text = ""
            if response.reply and "result" in response.reply:
                text = response.reply["result"]["content"][0]["text"]
            if "[redacted" in text:
                redacted += 1
    finally:
        if not keep:
            lab.set_fault("pii", None)
    return {"drill": "pii", "sent": count, "statuses": statuses, "responses_redacted": redacted,
            "upstream_leaking": bool(keep), "logged_unredacted": bool(log_unredacted)}


def _wait_log(lab, offset, needles, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(lab.path(LOG_FILE), "rb") as handle:
                handle.seek(offset)
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        for needle in needles:
            if needle in text:
                return needle
        time.sleep(0.05)
    return None


def _apply_policy(lab, state, apply):
    if apply == "auto":
        apply = "reload" if state["profile"] == "documented" else "restart"
    if apply == "none":
        return {"applied": "none", "note": "takes effect on the next reload or restart"}
    if apply == "reload":
        if state["profile"] != "documented":
            raise LabError("the release profile cannot reload (SIGHUP kills it); "
                           "use --apply restart or none")
        offset = os.path.getsize(lab.path(LOG_FILE))
        os.kill(state["pid"], signal.SIGHUP)
        seen = _wait_log(lab, offset, ['"Reload finished"'])
        return {"applied": "reload", "signal": "SIGHUP", "reload_logged": bool(seen)}
    new_state = lab.restart()
    return {"applied": "restart", "pid": new_state["pid"], "port": new_state["port"]}


def broken_policy(lab, mode="syntax", apply="auto"):
    state = _require_running(lab)
    policy = state["policy"]
    good = policy + ".good"
    if not os.path.exists(good):
        shutil.copyfile(policy, good)
    if mode == "syntax":
        content = BROKEN_SYNTAX
    elif mode == "deny-all":
        with open(DENY_ALL_POLICY) as handle:
            content = handle.read()
    else:
        raise LabError("--mode must be syntax or deny-all")
    from airlock_lab.util import atomic_write

    atomic_write(policy, content)
    lab.set_fault("broken_policy", {"since": rfc3339_now(), "mode": mode, "saved": good})
    result = {"drill": "broken-policy", "mode": mode, "policy": policy, "saved_copy": good}
    result.update(_apply_policy(lab, state, apply))
    return result


def tamper_audit(lab, rowid=None):
    state = lab.state()
    if not state or not os.path.exists(state.get("db") or ""):
        raise LabError("no audit database yet: start the lab and send some traffic first")
    conn = sqlite3.connect(state["db"], timeout=5.0)
    try:
        total = conn.execute("SELECT COUNT(*), MIN(rowid), MAX(rowid) FROM audit_events").fetchone()
        if not total[0]:
            raise LabError("the audit database has no events yet: run `traffic` first")
        if rowid is None:
            rows = [r[0] for r in conn.execute("SELECT rowid FROM audit_events ORDER BY rowid")]
            rowid = rows[len(rows) // 2]
        row = conn.execute("SELECT decision, reason FROM audit_events WHERE rowid = ?", (rowid,)).fetchone()
        if row is None:
            raise LabError("no audit event with rowid %d (rowids %d..%d)" % (rowid, total[1], total[2]))
        decision, reason = row
        if decision == "deny":
            column, before, after = "decision", decision, "allow"
        else:
            column, before, after = "reason", reason, reason + " (reviewed)"
        conn.execute("UPDATE audit_events SET %s = ? WHERE rowid = ?" % column, (after, rowid))
        conn.commit()
    finally:
        conn.close()
    return {"drill": "tamper-audit", "rowid": rowid, "column": column, "before": before, "after": after,
            "note": "content changed without re-hashing: the chain verifier must flag exactly this row"}


def audit_db(lab, mode="corrupt"):
    """Damage the live audit database: garbage over the events table's root page, or delete it.

    ``corrupt`` checkpoints the WAL first, so the garbage lands on pages that hold events; the
    header page stays valid, so the file is still recognised as SQLite and fails integrity_check.
    ``delete`` unlinks the database and its -wal/-shm: the running gateway keeps writing into the
    unlinked file and loses everything at its next restart, as a real deletion does.
    """
    state = lab.state()
    db = (state or {}).get("db") or ""
    if not os.path.exists(db):
        if (state or {}).get("profile") != "documented":
            raise LabError("the release profile writes no audit database; start the lab with --profile documented",
                           code=2)
        raise LabError("no audit database yet: start the lab and send some traffic first")
    if mode == "delete":
        removed = []
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
                removed.append(db + suffix)
        return {"drill": "audit-db", "mode": mode, "removed": removed,
                "note": "the gateway writes into the unlinked file until it restarts"}
    conn = sqlite3.connect(db, timeout=5.0)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE type='table' AND name='audit_events'").fetchone()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    if not root:
        raise LabError("the audit database has no audit_events table")
    pages = os.path.getsize(db) // page_size
    # The events table's root page (and the two after it): every read of the table fails.
    first = root[0]
    count = max(1, min(3, pages - first + 1))
    with open(db, "r+b") as handle:
        handle.seek(page_size * (first - 1))
        handle.write(b"\xa5" * page_size * count)
        handle.flush()
        os.fsync(handle.fileno())
    return {"drill": "audit-db", "mode": mode, "pages": list(range(first, first + count)), "page_size": page_size,
            "note": "PRAGMA integrity_check fails; the header page is intact"}


def idp_down(lab):
    state = _require_running(lab)
    if state["profile"] != "documented":
        raise LabError("the release profile has no IdP; start the lab with --profile documented", code=2)
    stopped = False
    if lab.idp_running(state):
        terminate(state["idp_pid"], timeout=5)
        stopped = True
    lab.set_fault("idp_down", {"since": rfc3339_now()})
    return {"drill": "idp-down", "stopped": stopped, "idp_url": state["idp_url"],
            "note": "/ready reports jwks unhealthy; cached JWKS keep validating until auth.jwks_cache_ttl expires"}


def jwks_rotated(lab):
    """The IdP publishes a new key only: tokens signed with the old one carry a kid the JWKS no longer has."""
    state = _require_running(lab)
    if state["profile"] != "documented":
        raise LabError("the release profile has no IdP; start the lab with --profile documented", code=2)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from airlock_lab.util import atomic_write

    old_kid = lab_idp.public_jwk(lab_idp.load_key(lab_idp.key_path(lab.dir)))["kid"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    atomic_write(lab.path("idp", lab_idp.ROTATED_KEY_FILE),
                 key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()), mode=0o600)
    lab.set_fault("jwks_rotated", {"since": rfc3339_now(), "old_kid": old_kid})
    return {"drill": "jwks-rotated", "old_kid": old_kid, "new_kid": lab_idp.public_jwk(key)["kid"],
            "note": "tokens from `token` keep the old kid; the lab Airlock refuses them at once (its JWKS cache counts as expired)"}


def _serve_idp(lab, state, tls, old_url):
    """Restart the IdP on its port (over TLS with ``tls``), point the derived config at it and restart Airlock."""
    if lab.idp_running(state):
        terminate(state["idp_pid"], timeout=5)
    pid, _, url = lab.spawn_idp(state.get("idp_port") or 0, tls=tls)
    with open(state["config"], encoding="utf-8") as handle:
        text = handle.read()
    atomic_write(state["config"], text.replace(old_url, url))
    state = lab.state()
    state.update(idp_pid=pid, idp_url=url)
    lab.save_state(state)
    lab.restart()
    return url


def idp_cert_expired(lab):
    """The IdP serves TLS on its port with a certificate that expired 3 days ago (signed by a lab CA made now)."""
    state = _require_running(lab)
    if state["profile"] != "documented":
        raise LabError("the release profile has no IdP; start the lab with --profile documented", code=2)
    if lab.faults().get("idp_cert_expired"):
        raise LabError("the IdP already serves an expired certificate; `drill clear idp-cert-expired` first")
    tls = lab_idp.expired_certificate(lab.path("idp", lab_idp.TLS_DIR))
    http_url = state["idp_url"]
    url = _serve_idp(lab, state, tls, http_url)
    lab.set_fault("idp_cert_expired", {"since": rfc3339_now(), "http_url": http_url, "not_after": tls["not_after"]})
    return {"drill": "idp-cert-expired", "idp_url": url, "ca": tls["ca"], "not_after": tls["not_after"],
            "note": "auth.oidc_issuer of the derived config is now the https URL and Airlock was restarted; "
                    "it cannot fetch the JWKS (expired certificate), so every token is refused"}


def _clear_cert_expired(lab, state, info):
    """The IdP serves plain http on its port again, the derived config names it, Airlock restarted."""
    if not info:
        return False
    _serve_idp(lab, state, None, state["idp_url"])
    shutil.rmtree(lab.path("idp", lab_idp.TLS_DIR), ignore_errors=True)
    lab.set_fault("idp_cert_expired", None)
    return True


def clear(lab, fault="all"):
    state = lab.state()
    if not state:
        raise LabError("no lab state in %s: run `start` first" % lab.dir)
    names = FAULT_NAMES if fault == "all" else (fault,)
    cleared = []
    for name in names:
        if name not in FAULT_NAMES:
            raise LabError("unknown fault %r; known: %s, all" % (name, ", ".join(FAULT_NAMES)))
        key = name.replace("-", "_")
        faults = lab.faults()
        if name == "broken-policy":
            info = faults.get("broken_policy")
            good = state["policy"] + ".good"
            if os.path.exists(good):
                shutil.copyfile(good, state["policy"])
                os.unlink(good)
                lab.set_fault("broken_policy", None)
                if lab.airlock_running():
                    _apply_policy(lab, lab.state(), "auto")
                cleared.append(name)
            elif info:
                lab.set_fault("broken_policy", None)
                cleared.append(name)
        elif name == "idp-down":
            if state.get("profile") == "documented" and not lab.idp_running(state):
                pid, port, url = lab.spawn_idp(state.get("idp_port") or 0)
                state = lab.state()
                state["idp_pid"] = pid
                lab.save_state(state)
                cleared.append(name)
            if faults.get("idp_down"):
                lab.set_fault("idp_down", None)
                if name not in cleared:
                    cleared.append(name)
        elif name == "jwks-rotated":
            rotated = lab.path("idp", lab_idp.ROTATED_KEY_FILE)
            if os.path.exists(rotated) or faults.get("jwks_rotated"):
                if os.path.exists(rotated):
                    os.unlink(rotated)
                lab.set_fault("jwks_rotated", None)
                cleared.append(name)
        elif name == "idp-cert-expired":
            if _clear_cert_expired(lab, lab.state(), faults.get("idp_cert_expired")):
                cleared.append(name)
        elif name == "down":
            if faults.get("down") or not lab.airlock_running(state):
                lab.restart()
                cleared.append(name)
        else:
            if key in faults:
                lab.set_fault(key, None)
                cleared.append(name)
    return {"drill": "clear", "cleared": cleared, "faults": lab.faults()}
