# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``airlock-lab``: run and break a lab MCP Airlock on 127.0.0.1.

    airlock-lab --dir DIR start [--profile release|documented] [--port N]
                                [--config FILE] [--policy FILE] [--no-upstreams]
    airlock-lab --dir DIR stop | restart | status | logs [--tail N]
    airlock-lab --dir DIR token [--sub S] [--tenant T] [--groups a,b] [--ttl S] [--expired] [--audience A]
    airlock-lab --dir DIR traffic [--count N]
    airlock-lab --dir DIR drill <fault> [options]

Results are printed as JSON on stdout; errors as one line on stderr (exit 1).
``status`` exits 3 when the lab Airlock is not running, like ``systemctl is-active``.
"""

from __future__ import annotations

import argparse
import json
import sys

from airlock_lab import PROFILES
from airlock_lab.lab import Lab, LabError
from airlock_lab.util import LOG_FILE

DEFAULT_DIR = ".lab/host"


def _print(document):
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


def build_parser():
    parser = argparse.ArgumentParser(prog="airlock-lab", description="Run and drill a lab MCP Airlock on loopback.")
    parser.add_argument("--dir", default=DEFAULT_DIR, help="lab directory (default %(default)s)")
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.required = True

    start = commands.add_parser("start", help="start the lab Airlock (and the IdP in documented)")
    start.add_argument("--profile", choices=PROFILES, default="release")
    start.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    start.add_argument("--config", help="Airlock config.yaml (default lab/config/config.yaml)")
    start.add_argument("--policy", help="Rego policy file (default: the config's policy.rego_file)")
    start.add_argument("--no-upstreams", action="store_true", help="drop the upstreams list")
    start.add_argument("--admin-group", default="airlock-admins",
                       help="group a token needs for /admin/* in documented (default %(default)s)")
    start.add_argument("--idp-port", type=int, default=0, help="port of the lab IdP (0: pick a free one)")

    commands.add_parser("stop", help="stop every lab process")
    commands.add_parser("restart", help="restart the Airlock process with the same settings and port")
    commands.add_parser("status", help="JSON status; exit 3 when not running")
    logs = commands.add_parser("logs", help="print the Airlock log (JSON lines)")
    logs.add_argument("--tail", type=int, default=0, help="only the last N lines")

    token = commands.add_parser("token", help="print a JWT signed by the lab IdP key (documented)")
    token.add_argument("--sub", default="alice")
    token.add_argument("--tenant", default="acme")
    token.add_argument("--groups", default="mcp-users", help="comma-separated groups")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.add_argument("--expired", action="store_true", help="exp an hour in the past")
    token.add_argument("--audience", help="aud claim (default: auth.audience of the lab config)")

    traffic = commands.add_parser("traffic", help="send normal MCP traffic")
    traffic.add_argument("--count", type=int, default=20)

    drill = commands.add_parser("drill", help="inject a fault")
    drills = drill.add_subparsers(dest="fault", metavar="fault")
    drills.required = True
    drills.add_parser("down", help="SIGKILL the Airlock process; it stays down until restart")
    not_ready = drills.add_parser("not-ready", help="make a readiness check fail (documented)")
    not_ready.add_argument("--check", choices=("jwks", "policy", "audit", "upstream"), default="upstream")
    latency = drills.add_parser("latency", help="add latency to /mcp handling")
    latency.add_argument("--ms", type=int, required=True)
    memory = drills.add_parser("memory", help="make the server hold N MiB")
    memory.add_argument("--mb", type=int, required=True)
    storm = drills.add_parser("auth-storm", help="requests with bad/expired tokens (documented)")
    storm.add_argument("--count", type=int, default=30)
    attack = drills.add_parser("attack", help="denied tool calls and path traversal from several addresses")
    attack.add_argument("--count", type=int, default=30)
    pii = drills.add_parser("pii", help="tool responses with PII that gets redacted")
    pii.add_argument("--count", type=int, default=5)
    pii.add_argument("--keep", action="store_true", help="leave the upstream leaking PII afterwards")
    pii.add_argument("--log-unredacted", action="store_true",
                     help="also write each upstream response, before redaction, to the gateway log")
    broken = drills.add_parser("broken-policy", help="replace the policy with a broken one")
    broken.add_argument("--mode", choices=("syntax", "deny-all"), default="syntax")
    broken.add_argument("--apply", choices=("auto", "reload", "restart", "none"), default="auto",
                        help="auto: SIGHUP in documented, restart in release")
    audit_db = drills.add_parser("audit-db", help="corrupt pages of the audit database, or delete it")
    audit_db.add_argument("--mode", choices=("corrupt", "delete"), default="corrupt")
    tamper = drills.add_parser("tamper-audit", help="edit an audit row without re-hashing")
    tamper.add_argument("--rowid", type=int)
    drills.add_parser("idp-down", help="stop the lab IdP (documented)")
    drills.add_parser("jwks-rotated", help="the IdP publishes a new key without the tokens' kid (documented)")
    drills.add_parser("idp-cert-expired", help="the IdP serves TLS with an expired certificate (documented)")
    clear = drills.add_parser("clear", help="clear one fault or all")
    clear.add_argument("name", nargs="?", default="all")

    serve = commands.add_parser("_serve")
    serve.add_argument("--profile", choices=PROFILES, required=True)
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--config", required=True)
    serve.add_argument("--admin-group", default="airlock-admins")
    idp = commands.add_parser("_idp")
    idp.add_argument("--port", type=int, default=0)
    idp.add_argument("--tls-cert")
    idp.add_argument("--tls-key")
    return parser


def _logs(lab, tail):
    path = lab.path(LOG_FILE)
    try:
        with open(path, "rb") as handle:
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        lines = []
    if tail and tail > 0:
        lines = lines[-tail:]
    for line in lines:
        sys.stdout.write(line + "\n")
    return 0


def run(args):
    lab = Lab(args.dir)
    command = args.command
    if command == "_serve":
        from airlock_lab import server

        return server.serve(lab.dir, args.profile, args.port, args.config, args.admin_group)
    if command == "_idp":
        from airlock_lab import idp

        return idp.serve(lab.dir, args.port, args.tls_cert, args.tls_key)
    if command == "start":
        state, started = lab.start(profile=args.profile, port=args.port, config=args.config, policy=args.policy,
                                   no_upstreams=args.no_upstreams, admin_group=args.admin_group,
                                   idp_port=args.idp_port)
        if not started:
            sys.stderr.write("airlock-lab start: already running (profile %s, pid %s); `stop` first to change "
                             "settings\n" % (state.get("profile"), state.get("pid")))
        _print(state)
        return 0
    if command == "stop":
        _print({"stopped": lab.stop(), "dir": lab.dir})
        return 0
    if command == "restart":
        _print(lab.restart())
        return 0
    if command == "status":
        status = lab.status()
        _print(status)
        return 0 if status["running"] else 3
    if command == "logs":
        return _logs(lab, args.tail)

    return _drill_command(lab, args)


def _drill_command(lab, args):
    """``token``, ``traffic`` and ``drill <fault>``."""
    from airlock_lab import drills

    command = args.command
    if command == "token":
        state = lab.state() or {}
        groups = [g for g in args.groups.split(",") if g]
        sys.stdout.write(drills.lab_token(lab, state, sub=args.sub, tenant=args.tenant, groups=groups,
                                          ttl=args.ttl, expired=args.expired, audience=args.audience) + "\n")
        return 0
    if command == "traffic":
        _print(drills.traffic(lab, args.count))
        return 0
    faults = {
        "down": lambda: drills.down(lab),
        "not-ready": lambda: drills.not_ready(lab, args.check),
        "latency": lambda: drills.latency(lab, args.ms),
        "memory": lambda: drills.memory(lab, args.mb),
        "auth-storm": lambda: drills.auth_storm(lab, args.count),
        "attack": lambda: drills.attack(lab, args.count),
        "pii": lambda: drills.pii(lab, args.count, args.keep, args.log_unredacted),
        "audit-db": lambda: drills.audit_db(lab, args.mode),
        "broken-policy": lambda: drills.broken_policy(lab, args.mode, args.apply),
        "tamper-audit": lambda: drills.tamper_audit(lab, args.rowid),
        "idp-down": lambda: drills.idp_down(lab),
        "jwks-rotated": lambda: drills.jwks_rotated(lab),
        "idp-cert-expired": lambda: drills.idp_cert_expired(lab),
    }
    drill = faults.get(args.fault, lambda: drills.clear(lab, args.name))
    _print(drill())
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except LabError as exc:
        sys.stderr.write("airlock-lab %s: %s\n" % (args.command if args.command != "drill" else
                                                    "drill " + args.fault, exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        sys.stderr.write("airlock-lab %s: %s\n" % (args.command, exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
