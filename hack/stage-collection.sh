#!/usr/bin/env bash
# Copies the collection's files (tracked, or new and not ignored) to
# .build/ansible_collections/airlock/incident: ansible-test needs the collection
# under a path ending in ansible_collections/<namespace>/<name>/ and resolves
# symlinks, so the .collections link cannot be used for it.
#   hack/stage-collection.sh [NAME]  -> .build/NAME/ansible_collections/airlock/incident
# Each suite stages into its own NAME so that runs in parallel never share a tree.
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
name="${1:-adhoc-$$}"
case "$name" in */*|.*|"") die "stage name '$name': use letters, digits, - and _" ;; esac
dest="$ROOT/.build/$name/ansible_collections/airlock/incident"
rm -rf "$dest"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] || continue
  # lab/ is the drill target, not collection content: galaxy.yml build_ignore
  # keeps it out of the artifact, its Python and shell have their own test
  # suite (lab/tests), and its Helm chart templates are not YAML until helm
  # renders them. ansible-test checks what the collection ships and its tests.
  case "$f" in lab/*) continue ;; esac
  mkdir -p "$dest/$(dirname "$f")"
  cp -p "$f" "$dest/$f"
done
# Integration targets reach the lab through variables: ansible-test passes
# tests/integration/integration_config.yml to every target (its environment
# only keeps PATH and HOME).
cat >"$dest/tests/integration/integration_config.yml" <<YAML
---
lab_python: $VENV/bin/python
lab_cli: $ROOT/lab/bin/airlock-lab
lab_root: $ROOT/.lab/integration
collection_root: $dest
# The real gateway and chaingen (empty when unset: the targets that need them say
# they were skipped); .ci/run sets both when ../shared/real-airlock holds them.
real_airlock_binary: "${AIRLOCK_REAL_BINARY:-}"
real_airlock_chaingen: "${AIRLOCK_CHAINGEN:-}"
YAML
# ansible-test lists content with git when it finds a repository.
git -C "$dest" init -q && git -C "$dest" add -A >/dev/null
echo "$dest"
