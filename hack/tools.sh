#!/usr/bin/env bash
# Tools the tests run for real, built from their Go modules through the Go
# module proxy and cached by version outside the repository:
#   ~/.cache/airlock-lab/bin/<name>-<version>/<name>
# opa: the policy module's validation is checked against `opa check/eval/test`.
source "$(dirname "$0")/lib.sh"
OPA_VERSION="${OPA_VERSION:-v1.22.3}"
CACHE="${AIRLOCK_LAB_CACHE:-$HOME/.cache/airlock-lab}"

ensure_opa() {
  local dir="$CACHE/bin/opa-$OPA_VERSION"
  if [ -x "$dir/opa" ]; then
    return 0
  fi
  command -v go >/dev/null 2>&1 || die "go is not on PATH: it is needed once to build opa $OPA_VERSION (see README)"
  run_step "building opa $OPA_VERSION from github.com/open-policy-agent/opa (once, ~4 min cold)" \
    env GOBIN="$dir" CGO_ENABLED=0 GOFLAGS="-trimpath" go install "github.com/open-policy-agent/opa@$OPA_VERSION"
}

for tool in "${@:-opa}"; do
  case "$tool" in
    opa) ensure_opa ;;
    *) die "unknown tool '$tool' (accepted: opa)" ;;
  esac
done
