#!/usr/bin/env bash
# make test: every suite CI runs, in order, each with progress and a one-line
# failure. `hack/test.sh <suite>...` runs some of them:
#   sanity units types lint lab awx molecule integration k8s
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
export PYTHONPATH="$ROOT/.collections${PYTHONPATH:+:$PYTHONPATH}"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
export AIRLOCK_LAB_PYTHON="$VENV/bin/python"
export AIRLOCK_LAB_CLI="$ROOT/lab/bin/airlock-lab"
export PATH="$VENV/bin:$PATH"
# molecule installs the collection it runs in under $ANSIBLE_HOME/collections;
# keep that inside the checkout (.ansible/, ignored) so a stale copy in ~/.ansible
# can never shadow the code under test.
export ANSIBLE_HOME="$ROOT/.ansible"
# ansible-test needs the collection under .../ansible_collections/airlock/incident.
units() {
  local dest
  dest="$(hack/stage-collection.sh units | tail -n1)" || return 1
  # ansible-test passes only a fixed set of environment variables to pytest: the
  # opa CLI hack/tools.sh built (under AIRLOCK_LAB_CACHE when that is set) is
  # named in a file of the staged copy instead.
  printf '%s\n' "${AIRLOCK_LAB_CACHE:-$HOME/.cache/airlock-lab}/bin/opa-${OPA_VERSION:-v1.22.3}/opa" \
    >"$dest/tests/unit/opa-bin.path"
  cd "$dest" && "$VENV/bin/ansible-test" units --local --python 3.11 --color no
}
integration() {
  local dest
  dest="$(hack/stage-collection.sh integration | tail -n1)" && cd "$dest" &&
    "$VENV/bin/ansible-test" integration --local --python 3.11 --color no
}
fqcn_playbooks() {
  local p name
  for p in playbooks/*.yml; do
    name="$(basename "$p" .yml)"
    case "$name" in *-*) continue ;; esac  # hyphenated files only import their underscore playbook
    "$VENV/bin/ansible-playbook" --syntax-check "airlock.incident.$name" || return 1
  done
}
molecule_all() {
  # Molecule keeps each scenario's state (prepared, converged) in an ephemeral
  # directory under $ANSIBLE_HOME/tmp; a run that failed or was interrupted
  # leaves "prepared: true" there and the next run would skip prepare. Start
  # from none, as CI's clean clone does.
  rm -rf "$ANSIBLE_HOME"/tmp/molecule.*
  cd roles/outage && "$VENV/bin/molecule" test --all
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(sanity units types lint lab awx molecule integration k8s)
started=$(date +%s)

for suite in "${suites[@]}"; do
  case "$suite" in
    sanity)
      run_step "ansible-test sanity (Python 3.11, offline get-pip stand-in, no ignore entries)" hack/sanity.sh ;;
    units)
      hack/tools.sh opa
      run_step "ansible-test units (Python 3.11)" units ;;
    lint)
      # molecule leaves its installed copy of this collection under
      # $ANSIBLE_HOME/collections; ansible-lint would resolve our modules from
      # that stale copy instead of the checkout.
      rm -rf "$ANSIBLE_HOME/collections/ansible_collections/airlock/incident"
      run_step "ansible-lint (production profile)" "$VENV/bin/ansible-lint" --profile production --offline
      # Every playbook name must run by FQCN (ansible-playbook airlock.incident.NAME).
      run_step "playbooks run by FQCN (ansible-playbook --syntax-check airlock.incident.NAME)" fqcn_playbooks ;;
    types)
      # mypy on plugins/: module_utils with every function annotated, modules and
      # filters checked as they are (a name a split moved away is found here,
      # not in a playbook run); see mypy.ini.
      run_step "mypy: plugins type check (module_utils fully annotated)" \
        env MYPYPATH="$ROOT/.collections" "$VENV/bin/mypy" --config-file "$ROOT/mypy.ini" --no-incremental \
        -p ansible_collections.airlock.incident.plugins ;;
    lab)
      run_step "lab Airlock test suite (real processes on loopback)" \
        "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider lab/tests ;;
    awx)
      # AWX and Event-Driven Ansible as they run the collection (tests/awx): the
      # shipped workflow node by node under ansible-runner and the rulebook under
      # ansible-rulebook, both against the lab; the repository as an AWX project;
      # the generated job templates, surveys and rulebooks; the execution
      # environment (ansible-builder create). 1.5 min on an idle 2-core machine.
      run_step "AWX/EDA: ansible-runner workflow, ansible-rulebook, project, objects, EE" \
        "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/awx ;;
    molecule)
      run_step "molecule: roles/outage scenarios against the lab" molecule_all ;;
    integration)
      # The host targets and the Kubernetes suite share nothing (own lab
      # directories, free loopback ports, the k8s cluster on its own ports) and
      # both spend most of their time waiting on processes: when both are asked
      # for, the Kubernetes suite runs beside the host targets and its result is
      # collected at its own turn below.
      if [[ " ${suites[*]} " == *" k8s "* ]]; then
        k8s_log="$ROOT/tests/output/logs/k8s-suite.log"
        mkdir -p "$(dirname "$k8s_log")"
        step "Kubernetes suite started beside the host targets (log: ${k8s_log#"$ROOT"/})"
        hack/k8s-suite.sh >"$k8s_log" 2>&1 &
        k8s_pid=$!
        trap '[ -n "${k8s_pid:-}" ] && kill "$k8s_pid" 2>/dev/null; wait 2>/dev/null' EXIT
      fi
      run_step "ansible-test integration (targets against the lab)" integration ;;
    k8s)
      # Builds the lab binaries when they are not cached (~50 min cold on 2
      # cores, seconds warm), then a fresh lab cluster for the k8s_* targets.
      if [ -n "${k8s_pid:-}" ]; then
        k8s_rc=0
        wait "$k8s_pid" || k8s_rc=$?
        k8s_pid=
        cat "$k8s_log"
        [ "$k8s_rc" -eq 0 ] || die "Kubernetes suite (full log: ${k8s_log#"$ROOT"/})"
      else
        hack/k8s-suite.sh
      fi ;;
    *) die "unknown suite '$suite' (accepted: sanity units types lint lab awx molecule integration k8s)" ;;
  esac
done
printf '==> all suites passed in %ss\n' "$(( $(date +%s) - started ))"
