# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes access shared by the airlock.incident Kubernetes modules.

Uses the ``kubernetes`` Python client directly. The import is guarded: modules
run through :func:`run_k8s_module`, which checks their input and then calls
:func:`require_kubernetes`, refusing with ``missing_required_lib`` when the
package is absent. Every API call goes
through :class:`K8s`, which bounds it with ``request_timeout``, does not retry
(so an unreachable API server fails within one timeout) and turns client
exceptions into :class:`AirlockIncidentError` with a message that names the
server, the object and what to check.
"""

from __future__ import annotations

import copy
import json
import os
import re
import traceback
import typing as t

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.airlock.incident.plugins.module_utils.core.argspec import action_arg_spec
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError, InputError
from ansible_collections.airlock.incident.plugins.module_utils.core.redact import learn, redacting, url_secrets
from ansible_collections.airlock.incident.plugins.module_utils.core.runner import run_module

KUBERNETES_IMPORT_ERROR = None
try:
    import kubernetes  # noqa: F401  pylint: disable=unused-import
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import InClusterConfigLoader
except ImportError:
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()
    ApiException = ConfigException = InClusterConfigLoader = None  # pylint: disable=invalid-name

try:
    import urllib3
except ImportError:  # pragma: no cover - a dependency of kubernetes
    urllib3 = None  # type: ignore[assignment]

#: Options every Kubernetes module of the collection accepts. Documented in each module.
#: The K8S_AUTH_* environment variables are the ones kubernetes.core reads and AWX's Kubernetes credential sets.
K8S_ARG_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    kubeconfig=dict(type="path", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    validate_certs=dict(type="bool", aliases=["verify_ssl"], fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
    namespace=dict(type="str", default="airlock-system"),
    request_timeout=dict(type="float", default=10.0),
)

#: The options that override what was loaded, and their variables (kubernetes.core's names).
AUTH_ENV = (("host", "K8S_AUTH_HOST"), ("api_key", "K8S_AUTH_API_KEY"), ("ca_cert", "K8S_AUTH_SSL_CA_CERT"),
            ("validate_certs", "K8S_AUTH_VERIFY_SSL"))

#: Where a pod's service-account token and cluster CA are mounted (in-cluster configuration).
SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: Names the directory instead, for a token projected elsewhere.
SERVICEACCOUNT_DIR_ENV = "AIRLOCK_INCIDENT_SERVICEACCOUNT_DIR"

#: RFC 1123 DNS label (namespaces) and subdomain (most object names).
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def k8s_arg_spec(**extra: t.Dict[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """A fresh copy of the Kubernetes connection options, extended with ``extra``."""
    spec = copy.deepcopy(K8S_ARG_SPEC)
    spec.update(extra)
    return spec


def recovery_arg_spec(action: str, wait: bool = True, **extra: t.Dict[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """The options of a recovery action on a Deployment: the Kubernetes connection, the action contract (with the
    action's default name and, with ``wait``, ``wait``/``wait_timeout``), the Deployment ``name``, and ``extra``.
    Documented by the fragments airlock.incident.kubernetes(.namespace, .recovery) and airlock.incident.action(.named,
    .wait)."""
    spec = action_arg_spec(action=action, wait=wait)
    spec["name"] = dict(type="str", default="airlock")
    spec.update(extra)
    return k8s_arg_spec(**spec)


def env_connection(params: t.Mapping[str, t.Any], environ: t.Mapping[str, str]) -> t.Dict[str, t.Any]:
    """The connection of a module whose options stop at kubeconfig and context (config, policy with
    target=configmap): host, api_key, ca_cert and validate_certs come from K8S_AUTH_* only (their own
    validate_certs is the verify_url's, never the API server's)."""
    conn = {name: params.get(name) for name in ("kubeconfig", "context", "namespace", "request_timeout")}
    for option, variable in AUTH_ENV:
        conn[option] = environ.get(variable) or None
    if conn["validate_certs"] is not None:
        conn["validate_certs"] = boolean(conn["validate_certs"], strict=False)
    return conn


def require_kubernetes(module: t.Any) -> None:
    """Refuse (AirlockIncidentError with the import traceback) when the kubernetes package is absent."""
    if KUBERNETES_IMPORT_ERROR is not None:
        raise AirlockIncidentError(missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)


def run_k8s_module(module: t.Any, run: t.Callable[[t.Any], t.Dict[str, t.Any]],
                   validate: t.Callable[[t.Any], t.List[str]]) -> None:
    """The ``main()`` of a Kubernetes module after its AnsibleModule: every input refusal at once (``validate``
    returns the messages, each naming its option) before anything else, then the kubernetes package, then
    ``run`` through the core runner. Results, messages and warnings go through ``core/redact``: the
    kubeconfig's credentials (:func:`kubeconfig_secrets`), bearer/basic values, URL userinfo and credential
    query parameters are masked."""

    def checked(mod: t.Any) -> t.Dict[str, t.Any]:
        errors = validate(mod)
        if errors:
            raise InputError("; ".join(errors))
        require_kubernetes(mod)
        return run(mod)

    run_module(module, redacting(checked))


def kubeconfig_secrets(cfg: t.Any) -> t.List[str]:
    """The credentials a loaded client configuration carries: API keys (``Bearer <token>`` and the bare token),
    the basic-auth password, and the userinfo and credential query values of the server URL."""
    found: t.List[str] = []
    for value in (getattr(cfg, "api_key", None) or {}).values():
        if isinstance(value, str):
            found.append(value)
            parts = value.split(None, 1)
            if len(parts) == 2:
                found.append(parts[1])
    password = getattr(cfg, "password", None)
    if isinstance(password, str):
        found.append(password)
    found.extend(url_secrets(getattr(cfg, "host", None)))
    return found


def validate_common(params: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """Check the shared options; returns an error message or None."""
    namespace = params.get("namespace")
    if not namespace or not DNS_LABEL.match(namespace):
        return "namespace: invalid value %r; accepted values: a DNS label (lowercase letters, digits, '-', at most 63)" % (namespace,)
    timeout = params.get("request_timeout")
    if timeout is None or timeout <= 0 or timeout > 300:
        return "request_timeout: invalid value %r; accepted values: a number of seconds > 0 and <= 300" % (timeout,)
    return None


def validate_name(field: str, value: t.Optional[str]) -> t.Optional[str]:
    """Error message for an object name that Kubernetes would reject, or None."""
    if not value or not DNS_SUBDOMAIN.match(value):
        return "%s: invalid value %r; accepted values: a Kubernetes object name (lowercase letters, digits, '-', '.')" % (field, value)
    return None


def in_cluster(environ: t.Mapping[str, str]) -> bool:
    """Whether this runs in a pod (the API server's service environment variables are set)."""
    return bool(environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT"))


def _load_in_cluster(cfg: t.Any, environ: t.Mapping[str, str]) -> str:
    """The pod's service-account token and CA; the token is reread when it rotates."""
    directory = environ.get(SERVICEACCOUNT_DIR_ENV) or SERVICEACCOUNT_DIR
    try:
        InClusterConfigLoader(token_filename=os.path.join(directory, "token"),
                              cert_filename=os.path.join(directory, "ca.crt"),
                              environ=environ).load_and_set(cfg)
    except (ConfigException, OSError, ValueError) as exc:
        raise AirlockIncidentError("in-cluster configuration: cannot use the service account in %s: %s; give kubeconfig, "
                                   "or host and api_key (K8S_AUTH_HOST, K8S_AUTH_API_KEY)" % (directory, exc)) from exc
    return "in-cluster service account (%s)" % directory


def _load_kubeconfig(cfg: t.Any, params: t.Mapping[str, t.Any]) -> str:
    where = params.get("kubeconfig") or "KUBECONFIG / ~/.kube/config"
    try:
        k8s_config.load_kube_config(config_file=params.get("kubeconfig"), context=params.get("context"),
                                    client_configuration=cfg, persist_config=False)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        raise AirlockIncidentError("kubeconfig: cannot load a Kubernetes configuration from %s: %s" % (where, exc)) from exc
    return "kubeconfig %s" % where


def load_configuration(cfg: t.Any, params: t.Mapping[str, t.Any], environ: t.Mapping[str, str]) -> str:
    """Fill ``cfg`` the way kubernetes.core does and say where it came from.

    The base is the kubeconfig when ``kubeconfig`` or ``context`` is given; else nothing when ``host`` is given;
    else the pod's service account when running in a cluster; else the default kubeconfig. ``host``,
    ``api_key``, ``ca_cert`` and ``validate_certs`` (options or their K8S_AUTH_* variables) then override it.
    """
    host, api_key = params.get("host"), params.get("api_key")
    if params.get("kubeconfig") or params.get("context"):
        source = _load_kubeconfig(cfg, params)
    elif host:
        source = "host %s" % host
    elif in_cluster(environ):
        source = _load_in_cluster(cfg, environ)
    else:
        source = _load_kubeconfig(cfg, params)
    if host:
        cfg.host = host.rstrip("/")
    if api_key:
        # A token given outright is not replaced by a refresh from a file or a kubeconfig exec plugin.
        cfg.refresh_api_key_hook = None
        cfg.api_key = {"authorization": api_key}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        source += " with an api_key"
    ca_cert = params.get("ca_cert")
    if ca_cert:
        if not os.path.isfile(ca_cert):
            raise AirlockIncidentError("ca_cert: %s is not a file; accepted values: a PEM file of the API server's CA" % ca_cert)
        cfg.ssl_ca_cert = ca_cert
    if params.get("validate_certs") is False:
        cfg.verify_ssl = False
    return source


class NotFound(AirlockIncidentError):
    """The API server answered 404 for the object."""


def _api_message(exc: BaseException) -> str:
    """The API server's own message out of an ApiException, if any."""
    body = getattr(exc, "body", None)
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, dict) and data.get("message"):
                return str(data["message"])
        except (ValueError, TypeError):
            pass
    return ("%s %s" % (getattr(exc, "status", ""), getattr(exc, "reason", ""))).strip()


class K8s:
    """A thin, bounded proxy over the kubernetes client APIs the modules use."""

    def __init__(self, params: t.Mapping[str, t.Any]) -> None:
        self.timeout = params["request_timeout"]
        self.namespace = params["namespace"]
        cfg = k8s_client.Configuration()
        self.source = load_configuration(cfg, params, os.environ)
        learn(kubeconfig_secrets(cfg))
        # No retries: an unreachable API server must fail within one request_timeout.
        cfg.retries = False
        self.host = cfg.host
        self.api = k8s_client.ApiClient(configuration=cfg)
        self.core = k8s_client.CoreV1Api(self.api)
        self.apps = k8s_client.AppsV1Api(self.api)

    def call(self, what: str, func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        """Run one API call; ``what`` names the object for error messages."""
        # A (connect, read) pair: urllib3 2.x does not apply a total-only timeout
        # to the TLS handshake, so a server that accepts and never answers would hang.
        kwargs.setdefault("_request_timeout", (self.timeout, self.timeout))
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            if ApiException is not None and isinstance(exc, ApiException):
                status = getattr(exc, "status", None)
                if status == 404:
                    raise NotFound("%s not found (API server %s)" % (what, self.host), status=404) from exc
                if status in (401, 403):
                    raise AirlockIncidentError(
                        "not allowed to access %s on %s (HTTP %s): %s; check the credentials (%s) and their RBAC"
                        % (what, self.host, status, _api_message(exc), self.source), status=status) from exc
                raise AirlockIncidentError("%s: API server %s answered HTTP %s: %s" % (what, self.host, status, _api_message(exc)),
                                           status=status) from exc
            if urllib3 is not None and isinstance(exc, (urllib3.exceptions.HTTPError,)):
                raise AirlockIncidentError(
                    "Kubernetes API server %s is unreachable while reading %s (request_timeout=%ss): %s"
                    % (self.host, what, self.timeout, _short(exc)), unreachable=True) from exc
            if isinstance(exc, OSError):
                raise AirlockIncidentError("Kubernetes API server %s is unreachable while reading %s: %s" % (self.host, what, exc),
                                           unreachable=True) from exc
            raise

    def ensure_namespace(self, namespace: t.Optional[str] = None) -> t.Any:
        """Fail with a clear message when the namespace does not exist."""
        namespace = namespace or self.namespace
        try:
            return self.call("namespace %s" % namespace, self.core.read_namespace, namespace)
        except NotFound as exc:
            raise AirlockIncidentError("namespace %s does not exist on %s" % (namespace, self.host), status=404) from exc
        except AirlockIncidentError as exc:
            if exc.result.get("status") == 403:
                # Namespaced RBAC may forbid reading namespaces; the next call tells.
                return None
            raise

    def sanitize(self, obj: t.Any) -> t.Any:
        """A plain dict (JSON types, camelCase keys) of a client model object."""
        return self.api.sanitize_for_serialization(obj)


def _short(exc: BaseException) -> str:
    """The innermost reason of a urllib3 error, without the pool repr noise."""
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc)
    match = re.search(r"(\[Errno -?\d+\][^')]*|timed out|Connection refused|Name or service not known)", text)
    return match.group(1).strip() if match else text
