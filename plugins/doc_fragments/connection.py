# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # Connection options shared by every module that talks to Airlock over HTTP.
    # Set them once for a play with module_defaults: group/airlock.incident.airlock.
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the Airlock gateway, without a path, for example V(https://airlock.example.com)
        or V(http://127.0.0.1:8080).
      - Airlock itself speaks plain HTTP on C(server.addr); TLS is normally terminated in front of it.
    type: str
    required: true
  token:
    description:
      - "Bearer token (a JWT from the identity provider Airlock trusts) sent as C(Authorization: Bearer <token>)."
      - "Builds that enforce authentication answer C(/mcp) with 401 without it; the current release ignores it."
      - Never logged.
    type: str
  timeout:
    description:
      - Seconds allowed for each HTTP request, connection and first response byte included.
      - Every probe is bounded by it, so an unresponsive gateway cannot hang the play.
    type: float
    default: 5.0
  validate_certs:
    description:
      - Verify the TLS certificate of an C(https) O(url).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificates used to verify an C(https) O(url).
    type: path
"""

    # The options airlock.incident.config and airlock.incident.policy share
    # (plugins/module_utils/change/flow.py): the ConfigMap target, the
    # Kubernetes connection it uses, the incident and the health check after
    # the change. Use as airlock.incident.connection.safe_change.
    SAFE_CHANGE = r"""
notes:
  - With O(target=configmap) only the module's own key of the Helm chart's ConfigMap C(<fullname>-config)
    (O(configmap), default V(airlock-config)) is written; the other key stays byte-identical. The resourceVersion
    read before is sent as a precondition, so a concurrent edit makes the task fail instead of being overwritten.
  - On Kubernetes Airlock loads the change by a rolling restart of O(deployment) through the pod-template
    annotation C(airlock.incident/config-checksum) (the sha256 of the ConfigMap's C(config.yaml) and
    C(policy.rego)), so unchanged content restarts nothing. The module waits for the rollout (at most
    O(wait_timeout)) and then, with O(verify_url), for C(/live) and C(/ready). If the rollout does not complete or
    the service is not healthy, the previous content and the previous annotation are restored, the module waits
    for that rollout, and the task fails saying what was restored and why. Changing the ConfigMap needs
    O(confirm) equal to O(incident_id); the previous content is kept in O(backup_dir) (required).
  - In check mode with O(target=configmap) the ConfigMap and Deployment patches are sent as server-side dry runs
    (validated, stored nowhere).
options:
  configmap:
    description:
      - With O(target=configmap), the ConfigMap holding C(config.yaml) and C(policy.rego); the chart names it
        C(<fullname>-config).
    type: str
    default: airlock-config
    version_added: 0.1.0
  deployment:
    description:
      - With O(target=configmap), the Deployment that mounts O(configmap) and is rolled after a change; the chart
        names it C(<fullname>).
    type: str
    default: airlock
    version_added: 0.1.0
  namespace:
    description:
      - With O(target=configmap), the namespace of O(configmap) and O(deployment).
    type: str
    default: airlock-system
    version_added: 0.1.0
  confirm:
    description:
      - With O(target=configmap), must equal O(incident_id) for the ConfigMap to be changed. Not needed in check
        mode.
    type: str
    version_added: 0.1.0
  wait_timeout:
    description:
      - With O(target=configmap), seconds (1 to 3600) to wait for the rollout after the change, and again after
        a restore.
    type: int
    default: 300
    version_added: 0.1.0
  kubeconfig:
    description:
      - With O(target=configmap), path to a kubeconfig file. Defaults to E(K8S_AUTH_KUBECONFIG), then the kubernetes
        client's own default (E(KUBECONFIG), then C(~/.kube/config)).
      - As with the Kubernetes modules, E(K8S_AUTH_HOST), E(K8S_AUTH_API_KEY), E(K8S_AUTH_SSL_CA_CERT) and
        E(K8S_AUTH_VERIFY_SSL) (AWX's Kubernetes credential) override the server and credentials, and without
        a kubeconfig or E(K8S_AUTH_HOST) a pod's in-cluster service account is used. O(validate_certs) is about
        O(verify_url) only.
    type: path
    version_added: 0.1.0
  context:
    description:
      - With O(target=configmap), the kubeconfig context to use. Defaults to E(K8S_AUTH_CONTEXT), then the current
        context.
    type: str
    version_added: 0.1.0
  request_timeout:
    description:
      - With O(target=configmap), seconds one API request may take (more than 0, at most 300). Requests are not
        retried.
    type: float
    default: 10.0
    version_added: 0.1.0
  incident_id:
    description:
      - The incident this change belongs to; recorded in the backup name and metadata (which is how a revert
        finds the incident's backups).
      - Required with O(target=configmap).
      - The collection's one incident-id rule (see the C(airlock.incident.action) doc fragment) - letters, digits,
        C(.), C(_) and C(-), starting with a letter or digit, at most 63 characters.
    type: str
  verify_timeout:
    description:
      - Seconds to wait for C(/live) and C(/ready) of O(verify_url) after a restart or reload.
    type: float
    default: 30
"""
