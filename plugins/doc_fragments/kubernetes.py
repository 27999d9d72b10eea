# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
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
"""
