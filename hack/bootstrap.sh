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
# The optional compiled fast paths (extras/accel: chain checker, log scanner): rebuilt when its sources
# change. Without a C compiler the collection runs its other engines and the accel tests say they were skipped.
accel_stamp="$VENV/.accel.sha256"
accel_want="$(git ls-files -z extras/accel 2>/dev/null | sort -z | xargs -0 sha256sum 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$accel_stamp" 2>/dev/null)" != "$accel_want" ]; then
  step "building the optional compiled fast paths (extras/accel)"
  accel_log="$ROOT/tests/output/logs/accel-build.log"
  mkdir -p "$(dirname "$accel_log")"
  if "$VENV/bin/pip" install --disable-pip-version-check ./extras/accel >"$accel_log" 2>&1; then
    done_step
    echo "$accel_want" >"$accel_stamp"
  else
    printf '\nwarning: extras/accel did not build (log: %s); audit_verify uses its Python path, log_scan hyperscan\n' \
      "${accel_log#"$ROOT"/}" >&2
  fi
  rm -rf extras/accel/build extras/accel/*.egg-info extras/accel/src/*.egg-info
fi
mkdir -p .collections/ansible_collections/airlock
ln -sfn ../../.. .collections/ansible_collections/airlock/incident
"$VENV/bin/ansible-doc" airlock.incident.health >/dev/null 2>&1 || true
