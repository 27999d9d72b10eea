# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Masking credentials in everything a module returns: results, messages, warnings and diffs.

Ansible's ``no_log`` masks an option's value only where it appears verbatim; a
token with a trailing newline shows up stripped or escaped (``abc\\n``) in an
error text, and values that never were options (a URL's ``user:pass@``, the
``upstreams[].env`` of a config file) are not masked at all. :class:`Redactor`
masks, in every string of a result:

* the known secret values (option values such as ``token``, and values found
  under secret keys of a document, :func:`secret_values`), also stripped and
  in their escaped (``repr``) forms;
* ``Bearer``/``Basic`` credentials of an ``Authorization`` header;
* the userinfo of a URL (``user:pass@`` becomes ``user:***@``, ``user@``
  becomes ``***@``);
* query parameters named like a credential (``token``, ``key``, ``secret``,
  ``password``...).

:func:`redacting` wraps a module's ``run`` so that its result, the message and
result of an :class:`AirlockIncidentError` it raises, and every warning it
emits go through one redactor. A ``run`` that learns more secrets while it
works (the config module reads the file) adds them with :func:`redactor_of`.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError

#: What a masked value becomes.
MASK = "***"

#: Keys whose values are secrets in a configuration document (matched on the whole key, case-insensitive):
#: anything with ``secret``, ``password``, ``passwd`` or ``credential`` in its name, and the usual token and key
#: names (``rate_limiting.per_token`` is a rate, so ``*_token`` is not matched as such).
SECRET_KEY = re.compile(
    r"(?i)^(.*(secret|password|passwd|passphrase|credential).*|token|(access|auth|admin|api|bearer|refresh|id|"
    r"client|session|service_account)_token|apikey|api_key|private_key|access_key|access_key_id|authorization|"
    r"cookie|pwd)$")

#: Mappings all of whose values are secrets (an upstream's environment carries its API keys).
SECRET_MAPPINGS = ("env", "environment", "headers", "secrets")

_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]+=*")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/?#\s@'\"<>]*)@")
_QUERY = re.compile(r"(?i)([?&;][^=&#\s'\"]*(?:token|key|secret|password|passwd|pwd|signature|sig|auth|credential)"
                    r"[^=&#\s'\"]*=)[^&#\s'\"]*")

#: Values shorter than this are masked only where they stand alone (not inside a longer word).
_SHORT = 8


def _userinfo(match: t.Match[str]) -> str:
    scheme, info = match.group(1), match.group(2)
    if ":" in info:
        return "%s%s:%s@" % (scheme, info.split(":", 1)[0], MASK)
    return "%s%s@" % (scheme, MASK)


def mask_patterns(text: str) -> str:
    """``text`` with bearer/basic credentials, URL userinfo and credential query parameters masked."""
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _USERINFO.sub(_userinfo, text)
    return _QUERY.sub(lambda m: m.group(1) + MASK, text)


def _forms(value: str) -> t.Set[str]:
    """The ways a secret value shows up in a text: as is, stripped, escaped, and those of its URL password."""
    forms = {value, value.strip()}
    escaped = value.encode("unicode_escape").decode("ascii")
    forms.update({escaped, escaped.strip(), repr(value)[1:-1]})
    forms.update(url_secrets(value))
    return {form for form in forms if form.strip()}


_QUERY_VALUE = re.compile(r"(?i)[?&;][^=&#\s'\"]*(?:token|key|secret|password|passwd|pwd|signature|sig|auth|credential)"
                          r"[^=&#\s'\"]*=([^&#\s'\"]*)")


def url_secrets(value: t.Any) -> t.List[str]:
    """The credentials in the URLs in ``value``: the password of ``user:pass@``, the whole ``token@``, and the
    values of query parameters named like a credential (``?token=...``)."""
    found: t.List[str] = []
    if isinstance(value, str):
        for match in _USERINFO.finditer(value):
            info = match.group(2)
            found.append(info.split(":", 1)[1] if ":" in info else info)
        found.extend(match.group(1) for match in _QUERY_VALUE.finditer(value))
    return [item for item in found if item]


def option_values(params: t.Any, name: str) -> t.List[t.Any]:
    """The values of option ``name`` in ``params``; a dotted name reaches into suboptions, through lists
    (``items.url`` is the ``url`` of every element of ``items``)."""
    head, dummy, rest = name.partition(".")
    values = [params.get(head)] if isinstance(params, dict) else []
    found: t.List[t.Any] = []
    for value in values:
        for item in (value if isinstance(value, list) else [value]):
            found.extend(option_values(item, rest) if rest else [item])
    return found


class Redactor:
    """Masks known secret values and credential patterns in strings and in nested results."""

    def __init__(self, secrets: t.Iterable[t.Any] = ()) -> None:
        self._values: t.Set[str] = set()
        self._pattern: t.Optional[t.Pattern[str]] = None
        self.add(secrets)

    def add(self, secrets: t.Iterable[t.Any]) -> None:
        """Also mask these values (non-strings and empty strings are ignored)."""
        for value in secrets:
            if isinstance(value, str) and value.strip():
                self._values.update(_forms(value))
        parts = []
        for value in sorted(self._values, key=len, reverse=True):
            escaped = re.escape(value)
            parts.append(escaped if len(value) >= _SHORT else r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % escaped)
        self._pattern = re.compile("|".join(parts)) if parts else None

    def add_document(self, document: t.Any) -> None:
        """Also mask the values under secret keys of a configuration document (:func:`secret_values`)."""
        self.add(secret_values(document))

    @property
    def values(self) -> t.FrozenSet[str]:
        """Every form of every known secret value."""
        return frozenset(self._values)

    def text(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return mask_patterns(text)

    def value(self, value: t.Any) -> t.Any:
        """A copy of ``value`` (dicts, lists, tuples, strings) with every string masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return dict((key, self.value(item)) for key, item in value.items())
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value


def _scalars(value: t.Any) -> t.Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _scalars(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def secret_values(document: t.Any, under_secret: bool = False) -> t.List[str]:
    """Every scalar value of ``document`` under a secret key (:data:`SECRET_KEY`) or a secret mapping
    (:data:`SECRET_MAPPINGS`, such as ``upstreams[].env``), as text."""
    found: t.List[str] = []
    if isinstance(document, dict):
        for key, item in document.items():
            name = str(key)
            if under_secret or SECRET_KEY.search(name) or name.lower() in SECRET_MAPPINGS:
                found.extend(_scalars(item))
            else:
                found.extend(secret_values(item))
    elif isinstance(document, (list, tuple)):
        for item in document:
            found.extend(secret_values(item, under_secret))
    elif under_secret and document is not None:
        found.append(str(document))
    return found


#: The attribute of a module that holds its redactor while ``run`` works.
_ATTRIBUTE = "airlock_redactor"


def redactor_of(module: t.Any) -> t.Optional[Redactor]:
    """The redactor :func:`redacting` attached to ``module``, or None outside it."""
    return t.cast(t.Optional[Redactor], getattr(module, _ATTRIBUTE, None))


#: Secret values at least this long are also given to Ansible's ``no_log`` masking (which replaces every
#: occurrence, inside words too, in everything the module returns, ``invocation`` included).
MIN_NO_LOG = 6


def hide(module: t.Any, redactor: Redactor) -> None:
    """Give the redactor's values to the module's ``no_log_values`` (the ``invocation`` echo of the options)."""
    no_log_values = getattr(module, "no_log_values", None)
    if isinstance(no_log_values, set):
        no_log_values.update(value for value in redactor.values if len(value.strip()) >= MIN_NO_LOG)


#: The redactor of the ``run`` in progress (a module process runs one), for code that learns secrets far
#: from the module object, such as the Kubernetes client reading a kubeconfig (:func:`learn`).
_CURRENT: t.List[Redactor] = []


def learn(secrets: t.Iterable[t.Any]) -> None:
    """Also mask ``secrets`` in the result, messages and warnings of the ``run`` in progress (no-op outside one)."""
    values = [value for value in secrets if isinstance(value, str) and value.strip()]
    for redactor in _CURRENT:
        redactor.add(values)


def redacting(run: t.Callable[[t.Any], t.Dict[str, t.Any]], secret_options: t.Sequence[str] = (),
              documents: t.Sequence[str] = (), url_options: t.Sequence[str] = ()
              ) -> t.Callable[[t.Any], t.Dict[str, t.Any]]:
    """``run`` with its result, its errors and its warnings masked.

    The values of ``secret_options`` are masked, so are the secret values of
    the option mappings named in ``documents`` (:func:`secret_values`) and the
    credentials of the URL options named in ``url_options`` (:func:`url_secrets`; a dotted name reaches
    suboptions, :func:`option_values`). Code that learns secrets while ``run`` works adds them with :func:`learn`.
    """

    def guarded(module: t.Any) -> t.Dict[str, t.Any]:
        params = module.params
        redactor = Redactor(params.get(name) for name in secret_options)
        for name in documents:
            redactor.add_document(params.get(name))
        for name in url_options:
            for value in option_values(params, name):
                redactor.add(url_secrets(value))
        setattr(module, _ATTRIBUTE, redactor)
        hide(module, redactor)
        warn = module.warn

        def masked_warn(text: str) -> None:
            warn(redactor.text(str(text)))

        module.warn = masked_warn
        _CURRENT.append(redactor)
        try:
            result = run(module)
        except AirlockIncidentError as exc:
            exc.msg = redactor.text(exc.msg)
            exc.args = (exc.msg,)
            exc.result = t.cast(t.Dict[str, t.Any], redactor.value(exc.result))
            raise
        finally:
            module.warn = warn
            _CURRENT.remove(redactor)
        return t.cast(t.Dict[str, t.Any], redactor.value(result))

    return guarded
