# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the Kubernetes modules find their connection: kubeconfig, K8S_AUTH_* options, in-cluster service account."""

from __future__ import annotations

import pytest

kubernetes = pytest.importorskip("kubernetes")

# pylint: disable=wrong-import-position
from kubernetes import client as k8s_client  # noqa: E402

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import AirlockIncidentError  # noqa: E402
from ansible_collections.airlock.incident.plugins.module_utils.k8s.client import (  # noqa: E402
    SERVICEACCOUNT_DIR_ENV, env_connection, load_configuration)
from ansible_collections.airlock.incident.plugins.module_utils.k8s.helm import helm_environ  # noqa: E402

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://kubeconfig.example:6443", insecure-skip-tls-verify: true}
users:
- name: lab
  user: {token: kubeconfig-token}
contexts:
- name: lab
  context: {cluster: lab, user: lab}
current-context: lab
"""


def params(**kwargs):
    base = dict(kubeconfig=None, context=None, host=None, api_key=None, ca_cert=None, validate_certs=None)
    base.update(kwargs)
    return base


def serviceaccount(tmp_path, token="sa-token"):
    directory = tmp_path / "sa"
    directory.mkdir()
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    return directory


def test_host_and_api_key_need_no_kubeconfig(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    cfg = k8s_client.Configuration()
    source = load_configuration(cfg, params(host="https://api.example:6443/", api_key="s3cret", ca_cert=str(ca)),
                                {"KUBECONFIG": str(tmp_path / "missing")})
    assert cfg.host == "https://api.example:6443"
    assert cfg.get_api_key_with_prefix("authorization") == "Bearer s3cret"
    assert cfg.ssl_ca_cert == str(ca) and cfg.verify_ssl is True
    assert source == "host https://api.example:6443/ with an api_key"
    assert "s3cret" not in source


def test_in_cluster_service_account(tmp_path):
    directory = serviceaccount(tmp_path)
    cfg = k8s_client.Configuration()
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443", SERVICEACCOUNT_DIR_ENV: str(directory)}
    source = load_configuration(cfg, params(), environ)
    assert cfg.host == "https://10.0.0.1:443"
    assert cfg.get_api_key_with_prefix("authorization").lower() == "bearer sa-token"
    assert cfg.ssl_ca_cert == str(directory / "ca.crt")
    assert source == "in-cluster service account (%s)" % directory


def test_api_key_replaces_the_service_account_token(tmp_path):
    directory = serviceaccount(tmp_path)
    cfg = k8s_client.Configuration()
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443", SERVICEACCOUNT_DIR_ENV: str(directory)}
    load_configuration(cfg, params(api_key="given"), environ)
    assert cfg.refresh_api_key_hook is None
    assert cfg.get_api_key_with_prefix("authorization") == "Bearer given"


def test_in_cluster_without_a_token_names_the_directory(tmp_path):
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443", SERVICEACCOUNT_DIR_ENV: str(tmp_path)}
    with pytest.raises(AirlockIncidentError) as err:
        load_configuration(k8s_client.Configuration(), params(), environ)
    assert err.value.msg.startswith("in-cluster configuration: cannot use the service account in %s" % tmp_path)


def test_kubeconfig_wins_over_in_cluster_and_host_overrides_its_server(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = k8s_client.Configuration()
    assert load_configuration(cfg, params(kubeconfig=str(kubeconfig)), environ) == "kubeconfig %s" % kubeconfig
    assert cfg.host == "https://kubeconfig.example:6443"
    assert cfg.get_api_key_with_prefix("authorization") == "Bearer kubeconfig-token"
    cfg = k8s_client.Configuration()
    load_configuration(cfg, params(kubeconfig=str(kubeconfig), host="https://other:6443", validate_certs=False), environ)
    assert cfg.host == "https://other:6443" and cfg.verify_ssl is False


def test_a_missing_ca_cert_is_refused(tmp_path):
    with pytest.raises(AirlockIncidentError) as err:
        load_configuration(k8s_client.Configuration(), params(host="https://h", ca_cert=str(tmp_path / "none.pem")), {})
    assert err.value.msg.startswith("ca_cert: %s is not a file" % (tmp_path / "none.pem"))


def test_helm_gets_the_connection_through_its_environment():
    assert helm_environ(params()) == {}
    assert helm_environ(params(host="https://h:6443", api_key="t", ca_cert="/ca.pem", validate_certs=False)) == {
        "HELM_KUBEAPISERVER": "https://h:6443", "HELM_KUBETOKEN": "t", "HELM_KUBECAFILE": "/ca.pem",
        "HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "true"}


def test_config_and_policy_take_the_credential_from_the_environment_only():
    module_params = dict(kubeconfig=None, context=None, namespace="ns", request_timeout=10.0, validate_certs=False)
    conn = env_connection(module_params, {"K8S_AUTH_HOST": "https://h:6443", "K8S_AUTH_API_KEY": "t",
                                          "K8S_AUTH_VERIFY_SSL": "no"})
    assert conn == dict(kubeconfig=None, context=None, namespace="ns", request_timeout=10.0, host="https://h:6443",
                        api_key="t", ca_cert=None, validate_certs=False)
    # The module's own validate_certs (for verify_url) never turns off the API server's verification.
    assert env_connection(module_params, {})["validate_certs"] is None
