#!/usr/bin/env bash
# Creates .venv with the pinned toolchain (ansible 12.x = ansible-core 2.19 with
# kubernetes.core and community.general, since Galaxy is unreachable here) and
# makes this checkout importable as the airlock.incident collection.
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
stamp="$VENV/.requirements-dev.sha256"
want="$(sha256sum requirements-dev.txt | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  step "creating .venv"
  python3 -m venv "$VENV" || die "python3 -m venv failed (install python3-venv)"
  done_step
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  run_step "installing pinned Python dependencies (requirements-dev.txt; ~2 min on a fresh machine)" \
    "$VENV/bin/pip" install --disable-pip-version-check -r requirements-dev.txt
  echo "$want" >"$stamp"
fi
mkdir -p .collections/ansible_collections/airlock
ln -sfn ../../.. .collections/ansible_collections/airlock/incident
"$VENV/bin/ansible-doc" airlock.incident.health >/dev/null 2>&1 || true
