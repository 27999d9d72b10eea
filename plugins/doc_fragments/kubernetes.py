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
  request_timeout:
    description:
      - Seconds one API request may take (more than 0, at most 300). Requests are not retried, so an
        unreachable API server fails within this time.
    type: float
    default: 10.0
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
