# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Argument specs shared by the modules, each documented once by a doc fragment.

Every helper returns a fresh copy (modules extend it), as kubernetes.core does
with ``args_common``:

* :func:`connection_arg_spec`: ``url``, ``token``, ``timeout``,
  ``validate_certs``, ``ca_path`` (fragment ``airlock.incident.connection``);
* :func:`action_arg_spec`: ``incident_id``, ``confirm``, ``action`` and,
  for modules that wait, ``wait``/``wait_timeout`` (fragments
  ``airlock.incident.action`` and ``airlock.incident.action.wait``);
* the Kubernetes connection lives with the Kubernetes client
  (``k8s.client.k8s_arg_spec``, fragment ``airlock.incident.kubernetes``).
"""

from __future__ import annotations

import copy
import typing as t

#: Options every module that talks to Airlock over HTTP accepts.
CONNECTION_ARG_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    url=dict(type="str", required=True),
    token=dict(type="str", no_log=True),
    timeout=dict(type="float", default=5.0),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
)


def connection_arg_spec(**extra: t.Dict[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """A fresh copy of the connection options, extended with ``extra``."""
    spec = copy.deepcopy(CONNECTION_ARG_SPEC)
    spec.update(extra)
    return spec


def action_arg_spec(required: bool = True, action: t.Optional[str] = None, wait: bool = False,
                    wait_timeout: int = 300, **extra: t.Dict[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """The action contract's options: ``incident_id`` (required unless ``required=False``), ``confirm``,
    ``action`` (with its default, when the module names its steps) and, with ``wait``, ``wait``/``wait_timeout``."""
    spec: t.Dict[str, t.Dict[str, t.Any]] = dict(
        incident_id=dict(type="str", required=required),
        confirm=dict(type="str"),
    )
    if action is not None:
        spec["action"] = dict(type="str", default=action)
    if wait:
        spec["wait"] = dict(type="bool", default=True)
        spec["wait_timeout"] = dict(type="int", default=wait_timeout)
    spec.update(copy.deepcopy(extra))
    return spec
