# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The evidence logic in module_utils, without a module: validation, sources, hashing, bundles, log scans."""

from __future__ import annotations

import io
import os

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.evidence import bundle, collect, hashing, scan, store
from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import EvidenceError, ScanError

pytest.importorskip("blake3")

INCIDENT = "INC-20261128-101500"


def _params(path, **extra):
    params = dict(path=str(path), incident_id=INCIDENT, state="present", items=[], force=False,
                  require_audit_snapshot=False, timeout=30.0, validate_certs=True, ca_path=None,
                  url_max_bytes=1024)
    params.update(extra)
    return params


def test_errors_follow_the_one_error_model():
    assert issubclass(EvidenceError, AirlockIncidentError)
    assert issubclass(ScanError, InputError)


def test_validate_names_every_problem(tmp_path):
    items = [dict(name="a.txt", content="x"), dict(name="a.txt", content="y"), dict(name="../b", content="z"),
             dict(name="c.txt", url="ftp://host/x"), dict(name="d.txt", src=str(tmp_path / "missing")),
             dict(name="e.txt", content="x", kind="audit_snapshot"), dict(name="f.txt", content="x", events=3),
             dict(name="g.txt")]
    errors = bundle.validate(_params(tmp_path, incident_id="bad id", items=items, url_max_bytes=0))
    text = "\n".join(errors)
    for needle in ("incident_id: invalid value 'bad id'", "url_max_bytes", "items[1] (name 'a.txt'): name is also used",
                   "items[2] (name '../b'): name is invalid", "url scheme: invalid value 'ftp'",
                   "does not exist", "kind audit_snapshot needs chain_head and events",
                   "only accepted with kind audit_snapshot", "items[7] (name 'g.txt'): give exactly one source"):
        assert needle in text, (needle, text)
    assert bundle.validate(_params(tmp_path, items=[dict(name="ok.txt", content="x")])) == []
    assert "required" in "\n".join(bundle.validate(_params(tmp_path, incident_id=None)))
    assert bundle.validate(_params(tmp_path, state="verify", incident_id=None)) == []


def test_safe_url_drops_credentials():
    assert collect.safe_url("https://user:pw@host:8443/ready?x=1") == "https://host:8443/ready?x=1"
    assert collect.safe_url("http://host/ready") == "http://host/ready"


def test_stream_to_temp_enforces_max_bytes_and_leaves_nothing(tmp_path):
    with pytest.raises(EvidenceError, match="more than 4 bytes"):
        hashing.stream_to_temp(io.BytesIO(b"0123456789"), str(tmp_path), "x", max_bytes=4, buffer_size=2)
    assert os.listdir(str(tmp_path)) == []
    temp, digest = hashing.stream_to_temp(io.BytesIO(b"0123456789"), str(tmp_path), "x", buffer_size=3)
    assert digest == hashing.hash_bytes(b"0123456789") == hashing.hash_stream(io.BytesIO(b"0123456789"))
    assert open(temp, "rb").read() == b"0123456789"


def test_present_then_verify(tmp_path):
    path = tmp_path / "evidence"
    items = [dict(name="notes.txt", content="hello", kind="report")]
    planned = bundle.run_present(_params(path, items=items), check_mode=True)
    assert planned["changed"] is True and planned["msg"].startswith("would collect 1 item(s)")
    assert not path.exists()
    done = bundle.run_present(_params(path, items=items))
    assert done["changed_items"] == ["notes.txt"] and done["manifest_sha256"]
    again = bundle.run_present(_params(path, items=items))
    assert again["changed"] is False and "unchanged" in again["msg"]
    checked = bundle.run_verify(_params(path, state="verify"))
    assert checked["verified"] is True and checked["msg"].endswith("1 items match the manifest")
    with pytest.raises(EvidenceError, match="belongs to incident"):
        bundle.run_verify(_params(path, state="verify", incident_id="INC-OTHER"))
    with pytest.raises(EvidenceError, match="never overwritten"):
        bundle.run_present(_params(path, items=[dict(name="notes.txt", content="changed")]))
    assert store.read_manifest(str(path))[0]["items"][0]["sha256"] == hashing.hash_bytes(b"hello").sha256


def test_scan_check_options_and_summary(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("2026-11-28T10:00:00Z status=401 card 4111111111111111\n")
    params = dict(paths=[str(log)], patterns=["credit_card"], bucket="5m", max_locations=5, engine="re")
    paths = scan.check_options(params)
    assert paths == [str(log)]
    result = scan.scan_logs(params, paths)
    assert result["msg"] == "scanned 1 lines in 1 file(s): sensitive data found (credit_card=1); signal lines 401=1"
    assert "4111111111111111" not in str(result)
    with pytest.raises(InputError) as info:
        scan.check_options(dict(params, bucket="5 minutes", max_locations=-1, paths=[str(tmp_path / "none")]))
    for field in ("bucket", "max_locations", "paths"):
        assert field in info.value.msg
