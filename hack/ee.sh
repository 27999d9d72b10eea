#!/usr/bin/env bash
# The execution environment: build this checkout's collection tarball into
# .build/ee/, then run ansible-builder on execution-environment.yml.
#   hack/ee.sh create            # build context only (.build/ee/context; no container engine needed)
#   hack/ee.sh build -t NAME     # build context and image (podman or docker)
# ansible-builder comes from .venv, or from $AIRLOCK_ANSIBLE_BUILDER.
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
cmd="${1:-create}"; shift || true
case "$cmd" in create|build) ;; *) die "hack/ee.sh: unknown command '$cmd' (accepted: create, build)" ;; esac
builder="${AIRLOCK_ANSIBLE_BUILDER:-$VENV/bin/ansible-builder}"
[ -x "$builder" ] || die "ansible-builder not found at $builder (requirements-dev.txt installs it into .venv; or set AIRLOCK_ANSIBLE_BUILDER)"
out="$ROOT/.build/ee"
rm -rf "$out" && mkdir -p "$out"
"$VENV/bin/ansible-galaxy" collection build --force --output-path "$out" . >/dev/null || die "ansible-galaxy collection build failed"
mv "$out"/airlock-incident-*.tar.gz "$out/airlock-incident.tar.gz"
"$builder" "$cmd" -f execution-environment.yml --context "$out/context" "$@"
