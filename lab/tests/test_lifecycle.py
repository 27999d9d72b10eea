# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""start/stop/restart/status/logs/token, config handling and the down drill."""

from __future__ import annotations

import json
import os

import jwt
import yaml

from airlock_lab.client import request

STATE_KEYS = {"profile", "url", "port", "pid", "idp_url", "idp_pid", "db", "config", "policy", "log", "started_at"}


def test_start_state_idempotent_down_restart_same_port(fresh_lab):
    lab = fresh_lab("start", "--profile", "release")
    state = lab.start_result
    assert STATE_KEYS <= set(state)
    assert state == lab.state()
    assert state["url"] == "http://127.0.0.1:%d" % state["port"]
    again = lab.run("start")
    assert again.returncode == 0 and json.loads(again.stdout)["pid"] == state["pid"]
    assert lab.run("status").returncode == 0
    down = lab.json("drill", "down")
    assert down["killed_pid"] == state["pid"]
    status = lab.run("status", check=False)
    assert status.returncode == 3
    assert "down" in json.loads(status.stdout)["faults"]
    try:
        request(state["url"], path="/live", timeout=1)
        raise AssertionError("the lab answered after the down drill")
    except OSError:
        pass
    restarted = lab.json("restart")
    assert restarted["port"] == state["port"] and restarted["pid"] != state["pid"]
    assert request(state["url"], path="/live").status == 200
    status = json.loads(lab.run("status").stdout)
    assert status["running"] is True and status["faults"] == {}
    assert lab.json("stop")["stopped"] == ["airlock"]
    assert lab.run("status", check=False).returncode == 3
    assert lab.run("stop").returncode == 0  # nothing running: still 0


def test_stop_and_status_without_any_lab(fresh_lab):
    lab = fresh_lab()
    assert lab.run("stop").returncode == 0
    assert lab.run("status", check=False).returncode == 3
    restart = lab.run("restart", check=False)
    assert restart.returncode == 1 and len(restart.stderr.strip().splitlines()) == 1


def test_invalid_config_is_fatal_with_one_line(fresh_lab, tmp_path):
    with open(os.path.join(os.path.dirname(__file__), "..", "config", "config.yaml")) as handle:
        document = yaml.safe_load(handle)
    document["audit"]["retention"] = "30d"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    lab = fresh_lab()
    result = lab.run("start", "--config", bad, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert 'audit.retention: time: unknown unit "d" in duration "30d"' in lines[0]
    fatal = [r for r in lab.log_records() if r["level"] == "fatal"]
    assert fatal and fatal[-1]["msg"] == "Failed to load configuration"
    assert "30d" in fatal[-1]["error"]
    assert lab.run("status", check=False).returncode == 3


def test_env_override_and_unknown_keys(fresh_lab, tmp_path):
    with open(os.path.join(os.path.dirname(__file__), "..", "config", "config.yaml")) as handle:
        document = yaml.safe_load(handle)
    document["server"]["maxConnections"] = 1000
    document["logging"] = {"level": "debug"}
    source = tmp_path / "unknown.yaml"
    source.write_text(yaml.safe_dump(document))
    lab = fresh_lab("start", "--config", source, env={"AIRLOCK_OBSERVABILITY_LOGGING_LEVEL": "debug"})
    warnings = {r["key"]: r for r in lab.log_records() if r["msg"] == "Unknown configuration key ignored"}
    assert set(warnings) == {"server.maxConnections", "logging"}
    assert "observability.logging" in warnings["logging"]["suggestions"]
    request(lab.url, path="/live")
    assert lab.wait_log(lambda r: r["level"] == "debug" and r.get("path") == "/live")  # env set debug
    lab.run("stop")
    # AIRLOCK_SERVER_ADDR="" empties server.addr: Airlock refuses to start
    result = lab.run("start", "--config", source, check=False, env={"AIRLOCK_SERVER_ADDR": ""})
    assert result.returncode == 1 and "server.addr is required" in result.stderr


def test_user_config_is_never_modified_and_derived_copy_is_recorded(fresh_lab):
    config = os.path.join(os.path.dirname(__file__), "..", "config", "config.yaml")
    with open(config, "rb") as handle:
        original = handle.read()
    lab = fresh_lab("start", "--profile", "documented")
    with open(config, "rb") as handle:
        assert handle.read() == original
    state = lab.state()
    assert state["config"].startswith(lab.dir) and state["policy"].startswith(lab.dir)
    assert state["overrides"]["auth.oidc_issuer"]["to"] == state["idp_url"]
    assert state["overrides"]["audit.database"]["to"] == state["db"]
    token = lab.token("--sub", "bob", "--tenant", "globex", "--groups", "mcp-users,airlock-admins", "--ttl", "60")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["tid"], claims["groups"]) == ("bob", "globex", ["mcp-users", "airlock-admins"])
    assert claims["iss"] == state["idp_url"] and claims["aud"] == "mcp-airlock"
    assert claims["exp"] - claims["iat"] == 60
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    logs = lab.run("logs", "--tail", "3").stdout.strip().splitlines()
    assert len(logs) == 3 and all(json.loads(line)["level"] for line in logs)
    assert lab.json("stop")["stopped"] == ["airlock", "idp"]
