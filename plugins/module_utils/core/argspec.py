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
import decimal
import typing as t

from ansible.module_utils.basic import AnsibleModule

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


#: The integers every ``type: int`` option accepts at most (64-bit signed); modules narrow it further.
INT_MIN, INT_MAX = -2 ** 63, 2 ** 63 - 1


def _int_refusal(field: str, value: t.Any) -> t.Optional[str]:
    """Why ``value`` cannot be an integer option (``inf``, ``nan``, beyond 64 bits), or None (left to Ansible).

    ansible-core's ``check_type_int`` lets ``OverflowError`` escape for ``inf`` and spends unbounded time and
    memory on ``1e999999999``; these are refused here before it sees them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        bad = not INT_MIN <= value <= INT_MAX
    elif isinstance(value, (float, str)):
        try:
            number = decimal.Decimal(value)
        except (decimal.DecimalException, ValueError, TypeError):
            return None
        bad = not number.is_finite() or (number != 0 and number.adjusted() > 18) or not INT_MIN <= number <= INT_MAX
    else:
        return None
    if not bad:
        return None
    return "%s: invalid value %s; accepted values: an integer from %d to %d" % (field, _short_repr(value), INT_MIN, INT_MAX)


def _short_repr(value: t.Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def int_refusals(spec: t.Mapping[str, t.Mapping[str, t.Any]], params: t.Any, prefix: str = "",
                 replaced: t.Optional[t.List[t.Tuple[t.Dict[str, t.Any], str, t.Any]]] = None) -> t.List[str]:
    """The refusals of every ``type: int`` value of ``params`` (suboptions included) that is not finite or
    not within 64 bits; each such value is replaced by 0 so that Ansible's own validation can run to the end
    (``(container, key, original)`` appended to ``replaced``, to put the original back for the refusal)."""
    refusals: t.List[str] = []
    if not isinstance(params, dict):
        return refusals
    for name, option in spec.items():
        for key in [name] + list(option.get("aliases") or ()):
            if key not in params:
                continue
            value = params[key]
            if option.get("type") == "int":
                refusal = _int_refusal(prefix + key, value)
                if refusal:
                    refusals.append(refusal)
                    if replaced is not None:
                        replaced.append((params, key, value))
                    params[key] = 0
            suboptions = option.get("options")
            if suboptions:
                items = value if isinstance(value, list) else [value]
                for index, item in enumerate(items):
                    where = "%s%s[%d]." % (prefix, key, index) if isinstance(value, list) else "%s%s." % (prefix, key)
                    refusals.extend(int_refusals(suboptions, item, where, replaced))
    return refusals


class AirlockModule(AnsibleModule):
    """``AnsibleModule`` that refuses ``inf``, ``nan`` and out-of-64-bit values of integer options, naming the
    option and the accepted range, instead of crashing in ansible-core's conversion (:func:`int_refusals`)."""

    def _load_params(self) -> None:
        super()._load_params()
        self.airlock_int_replaced: t.List[t.Tuple[t.Dict[str, t.Any], str, t.Any]] = []
        self.airlock_int_refusals = int_refusals(self.argument_spec, self.params, replaced=self.airlock_int_replaced)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        refusals = getattr(self, "airlock_int_refusals", None)
        if refusals:
            for container, key, original in self.airlock_int_replaced:
                container[key] = original
            self.fail_json(msg="; ".join(refusals))
