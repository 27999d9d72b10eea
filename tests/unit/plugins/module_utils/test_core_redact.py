# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one redaction helper (core/redact.py)."""

from __future__ import annotations

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core import redact
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError


@pytest.mark.parametrize("text, expected", [
    ("Authorization: Bearer abc.DEF-123_x==\n", "Authorization: Bearer ***\n"),
    ("Invalid header value b'Bearer tok3n\\n'", "Invalid header value b'Bearer ***\\n'"),
    ("GET http://alice:pw@host:8080/x", "GET http://alice:***@host:8080/x"),
    ("https://tok3n@host/", "https://***@host/"),
    ("https://h/cb?token=abc&x=1&api_key=zz#f", "https://h/cb?token=***&x=1&api_key=***#f"),
    ("http://127.0.0.1:8080/live", "http://127.0.0.1:8080/live"),
    ("rate_limiting.per_token: 10/min", "rate_limiting.per_token: 10/min"),
])
def test_patterns(text, expected):
    assert redact.Redactor().text(text) == expected


def test_known_values_in_every_form():
    redactor = redact.Redactor(["s3cret-value\n", None, "", "abc"])
    assert redactor.text("x s3cret-value y") == "x *** y"
    assert redactor.text("'s3cret-value\\n'") == "'***'"
    assert redactor.text("abc abcdef") == "*** abcdef"  # short values only where they stand alone
    value = redactor.value({"a": ["s3cret-value", 1, ("abc",)], "b": None})
    assert value == {"a": ["***", 1, ["***"]], "b": None}


def test_secret_values_of_a_config_document():
    document = {"upstreams": [{"name": "gh", "env": {"GITHUB_TOKEN": "ghp_x", "N": 3}, "url": "http://u"}],
                "auth": {"client_secret": "cs", "audience": "aud"}, "rate_limiting": {"per_token": "10/min"},
                "server": {"tls": {"key_file": "/k"}}, "admin_token": "at"}
    assert sorted(redact.secret_values(document)) == ["3", "at", "cs", "ghp_x"]


class Module:
    def __init__(self, **params):
        self.params = params
        self.no_log_values = set()
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def test_redacting_masks_results_errors_warnings_and_hides_values_from_the_invocation():
    def run(module):
        module.warn("token was tok3n-value-1 at http://a:pw-123456@h/")
        redact.redactor_of(module).add(["learned-secret"])
        return {"msg": "tok3n-value-1", "list": ["learned-secret"]}

    module = Module(token="tok3n-value-1\n", url="http://a:pw-123456@h/")
    result = redact.redacting(run, ("token",), url_options=("url",))(module)
    assert result == {"msg": "***", "list": ["***"]}
    assert module.warnings == ["token was *** at http://a:***@h/"]
    assert "tok3n-value-1" in module.no_log_values and "pw-123456" in module.no_log_values

    def fail(module):
        raise InputError("url: invalid value 'http://a:pw-123456@h/?q'", seen="tok3n-value-1")

    with pytest.raises(InputError) as info:
        redact.redacting(fail, ("token",), url_options=("url",))(Module(token="tok3n-value-1", url="x"))
    assert info.value.msg == "url: invalid value 'http://a:***@h/?q'" and info.value.result == {"seen": "***"}
