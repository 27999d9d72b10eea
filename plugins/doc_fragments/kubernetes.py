# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Cluster connection options shared by every module that talks to the
    # Kubernetes API. Set them once for a play with module_defaults:
    # group/airlock.incident.kubernetes (meta/runtime.yml).
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file. Defaults to E(K8S_AUTH_KUBECONFIG), then the kubernetes client's own
        default (E(KUBECONFIG), then C(~/.kube/config)).
    type: path
  context:
    description:
      - Kubeconfig context to use. Defaults to E(K8S_AUTH_CONTEXT), then the current context.
    type: str
  host:
    description:
      - URL of the API server, for example V(https://api.example.com:6443). Defaults to E(K8S_AUTH_HOST) (set by
        AWX's OpenShift or Kubernetes API Bearer Token credential).
      - Without O(kubeconfig) or O(context) no kubeconfig is read; with them, it replaces the kubeconfig's server.
    type: str
    version_added: 0.1.0
  api_key:
    description:
      - Bearer token, for example a service account's. Defaults to E(K8S_AUTH_API_KEY). Replaces the token of the
        kubeconfig or of the in-cluster service account. Never logged.
    type: str
    version_added: 0.1.0
  ca_cert:
    description:
      - PEM file of the CA that signed the API server's certificate. Defaults to E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
    version_added: 0.1.0
  validate_certs:
    description:
      - V(false) skips the verification of the API server's certificate (a lab only). Defaults to
        E(K8S_AUTH_VERIFY_SSL), then V(true).
    type: bool
    aliases: [verify_ssl]
    version_added: 0.1.0
  request_timeout:
    description:
      - Seconds one API request may take (more than 0, at most 300). Requests are not retried, so an
        unreachable API server fails within this time.
    type: float
    default: 10.0
notes:
  - The connection is found as M(kubernetes.core.k8s_info) finds it. With O(kubeconfig) or O(context), that
    kubeconfig; else with O(host), that server alone; else, in a pod (E(KUBERNETES_SERVICE_HOST) and
    E(KUBERNETES_SERVICE_PORT) set), the pod's service account (token and CA under
    C(/var/run/secrets/kubernetes.io/serviceaccount), or the directory in E(AIRLOCK_INCIDENT_SERVICEACCOUNT_DIR));
    else the default kubeconfig. O(host), O(api_key), O(ca_cert) and O(validate_certs) then override what was
    loaded.
requirements:
  - kubernetes (Python client)
attributes:
  platform:
    support: full
    platforms: posix
    description: Runs where the kubernetes Python client can reach the API server.
"""

    # The namespace the module works in (airlock.incident.kubernetes.namespace).
    NAMESPACE = r"""
options:
  namespace:
    description:
      - Namespace of the Deployment (for M(airlock.incident.k8s_helm_rollback), of the release) and of every object
        the module reads or changes there. A DNS label.
    type: str
    default: airlock-system
"""

    # The recovery actions on a Deployment (airlock.incident.kubernetes.recovery): the Deployment, and the
    # incident of the action contract is required (its description comes from airlock.incident.action).
    RECOVERY = r"""
options:
  name:
    description:
      - Name of the Deployment. The Helm chart names it after the release (V(airlock)).
    type: str
    default: airlock
  incident_id:
    required: true
attributes:
  check_mode:
    support: full
    description: Server-side dry run of the patch; nothing is stored and nothing waits.
  diff_mode:
    support: full
"""
