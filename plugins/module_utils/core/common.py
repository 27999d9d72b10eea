# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared argument specs and errors for airlock.incident modules.

Modules deep-copy the specs they need (``copy.deepcopy``) and extend them, as
kubernetes.core does with ``args_common``. The options are documented once in
``plugins/doc_fragments/connection.py``.
"""

from __future__ import annotations

import copy

#: Options every module that talks to Airlock over HTTP accepts
#: (documented by the ``airlock.incident.connection`` doc fragment).
CONNECTION_ARG_SPEC = dict(
    url=dict(type="str", required=True),
    token=dict(type="str", no_log=True),
    timeout=dict(type="float", default=5.0),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
)


def connection_arg_spec(**extra):
    """A fresh copy of the connection options, extended with ``extra``."""
    spec = copy.deepcopy(CONNECTION_ARG_SPEC)
    spec.update(extra)
    return spec


class AirlockIncidentError(Exception):
    """An error a module reports with ``fail_json``.

    ``result`` carries whatever was learned before the failure so that the
    module can return it next to the message.
    """

    def __init__(self, msg, **result):
        super(AirlockIncidentError, self).__init__(msg)
        self.msg = msg
        self.result = result


def choices_message(field, value, accepted):
    """A uniform 'bad value' message that names the field and the accepted values."""
    return "%s: invalid value %r; accepted values: %s" % (field, value, ", ".join(str(a) for a in accepted))
