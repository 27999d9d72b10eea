#!/usr/bin/env bash
# make demo: start the lab Airlock, inject a P0 outage, run playbooks/outage-p0.yml
# against it with recovery allowed, show where the incident record, report and
# evidence are, and stop the lab.
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
LAB=("$VENV/bin/python" "$ROOT/lab/bin/airlock-lab" "--dir" "$ROOT/.lab/demo")
cleanup() { "${LAB[@]}" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "starting the lab Airlock (release profile, loopback)"
"${LAB[@]}" start --profile release >/dev/null || die "the lab Airlock did not start (see .lab/demo/airlock.log)"
url="$(.venv/bin/python -c 'import json;print(json.load(open(".lab/demo/state.json"))["url"])')"
done_step
step "sending traffic, then injecting the outage (drill: down)"
"${LAB[@]}" traffic --count 20 >/dev/null || die "lab traffic failed"
"${LAB[@]}" drill down >/dev/null || die "could not inject the outage"
done_step

step "running playbooks/outage-p0.yml against $url"
.venv/bin/ansible-playbook playbooks/outage-p0.yml \
  -e airlock_incident_url="$url" \
  -e airlock_incident_allow_recovery=true \
  -e airlock_incident_service_manager=command \
  -e "{\"airlock_incident_restart_command\": [\"${LAB[0]}\", \"${LAB[1]}\", \"--dir\", \"${LAB[3]}\", \"restart\"]}" \
  -e "{\"airlock_incident_logs_command\": [\"${LAB[0]}\", \"${LAB[1]}\", \"--dir\", \"${LAB[3]}\", \"logs\", \"--tail\", \"200\"]}" \
  -e airlock_incident_directory="$ROOT/.lab/incidents" \
  -e airlock_incident_commander="demo (${USER:-$(id -un)})" \
  || die "playbooks/outage-p0.yml failed"
done_step

latest="$(find .lab/incidents -mindepth 1 -maxdepth 1 -name 'INC-*' -type d -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n1 | cut -d' ' -f2-)"
[ -n "$latest" ] || die "no incident record was written under .lab/incidents"
cat <<MSG

Incident record : $latest/incident.json
Report          : $latest/incident.md
Evidence        : $latest/evidence/manifest.json  (verify: cd $latest/evidence && sha256sum -c SHA256SUMS)
Notices         : $latest/notices/
MSG
step "stopping the lab"
cleanup
done_step
