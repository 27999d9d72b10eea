#!/usr/bin/env bash
# Build the Kubernetes lab binaries from their Go modules (through the Go module
# proxy) and cache them by version outside the repository:
#   ~/.cache/airlock-lab/bin/<name>-<version>/<name>
# Binaries already in the cache are skipped. Usage:
#   lab/k8s/build.sh            # build everything that is missing
#   lab/k8s/build.sh etcd helm  # build only these (names below)
#   lab/k8s/build.sh --list     # print the cached paths, build nothing
# Names: etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm metrics-server
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"

ALL=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm metrics-server)
BUILD_ROOT="$AIRLOCK_LAB_CACHE/build"
TIMES_LOG="$AIRLOCK_LAB_CACHE/build-times.log"
export GOFLAGS="${GOFLAGS:--p=2} -trimpath"
export GOFLAGS="${GOFLAGS/-buildvcs=false/} -buildvcs=false"
export CGO_ENABLED=0

die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }

version_of() {
  case "$1" in
    etcd) echo "$ETCD_VERSION" ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl) echo "$K8S_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    metrics-server) echo "$METRICS_SERVER_VERSION" ;;
    *) die "unknown binary '$1' (accepted: ${ALL[*]})" ;;
  esac
}

bin_path() { echo "$AIRLOCK_LAB_BIN/$1-$(version_of "$1")/$1"; }

command -v go >/dev/null 2>&1 || die "the go command is not on PATH (Go >= 1.26 is needed)"

# A throwaway builder module: `go build pkg@version` refuses modules whose go.mod
# has replace directives (k8s.io/kubernetes, etcd server), so we require the
# module from a small go.mod of our own and add the replace lines ourselves.
make_builder() { # dir module version [replace-lines] tools-imports...
  local dir="$1" mod="$2" ver="$3" replaces="$4"; shift 4
  mkdir -p "$dir"
  {
    echo "module airlocklab/build"
    echo
    echo "go 1.26"
    echo
    echo "require $mod $ver"
    if [ -n "$replaces" ]; then
      echo
      echo "replace ("
      printf '%s\n' "$replaces"
      echo ")"
    fi
  } > "$dir/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    local p
    for p in "$@"; do echo "	_ \"$p\""; done
    echo ")"
  } > "$dir/tools.go"
  (cd "$dir" && go mod tidy >"$dir/tidy.log" 2>&1) \
    || die "go mod tidy failed in $dir: $(grep -m1 -iE 'error|cannot|not found|invalid' "$dir/tidy.log" || tail -n1 "$dir/tidy.log")"
}

k8s_replaces() {
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" 2>/dev/null | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"
  # k8s.io/api => ./staging/src/k8s.io/api   becomes   k8s.io/api => k8s.io/api v0.33.x
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/[a-z0-9-]*#\t\1 => \1 '"$K8S_STAGING_VERSION"'#p' "$gomod"
}

go_build() { # dir out pkg ldflags
  local dir="$1" out="$2" pkg="$3" ldflags="$4"
  local tmp="$out.tmp.$$"
  mkdir -p "$(dirname "$out")"
  if ! (cd "$dir" && go build -ldflags="-s -w $ldflags" -o "$tmp" "$pkg" >"$dir/build-$(basename "$out").log" 2>&1); then
    rm -f "$tmp"
    die "go build $pkg failed: $(grep -m1 -vE '^#' "$dir/build-$(basename "$out").log" || true) (full log: $dir/build-$(basename "$out").log)"
  fi
  mv -f "$tmp" "$out"
}

build_one() {
  local name="$1" ver out dir start
  ver="$(version_of "$name")"
  out="$(bin_path "$name")"
  if [ -x "$out" ]; then
    log "$name $ver: cached at $out"
    return 0
  fi
  start=$(date +%s)
  log "$name $ver: building (cold builds take minutes on 2 cores)..."
  case "$name" in
    etcd)
      dir="$BUILD_ROOT/etcd-$ver"
      make_builder "$dir" go.etcd.io/etcd/server/v3 "$ver" "" go.etcd.io/etcd/server/v3
      go_build "$dir" "$out" go.etcd.io/etcd/server/v3 ""
      ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl)
      dir="$BUILD_ROOT/kubernetes-$ver"
      # (Re)generate the builder when it is new or predates a command in the list.
      if [ ! -f "$dir/go.sum" ] || ! grep -q 'cmd/kubectl"' "$dir/tools.go" 2>/dev/null; then
        local reps
        reps="$(k8s_replaces)" || exit 1
        make_builder "$dir" k8s.io/kubernetes "$ver" "$reps" \
          k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
          k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
      fi
      local minor="${ver#v1.}"; minor="${minor%%.*}"
      local vpkg=k8s.io/component-base/version
      go_build "$dir" "$out" "k8s.io/kubernetes/cmd/$name" \
        "-X $vpkg.gitVersion=$ver -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
      ;;
    kwok)
      dir="$BUILD_ROOT/kwok-$ver"
      make_builder "$dir" sigs.k8s.io/kwok "$ver" "" sigs.k8s.io/kwok/cmd/kwok
      go_build "$dir" "$out" sigs.k8s.io/kwok/cmd/kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$ver"
      ;;
    helm)
      dir="$BUILD_ROOT/helm-$ver"
      make_builder "$dir" helm.sh/helm/v3 "$ver" "" helm.sh/helm/v3/cmd/helm
      go_build "$dir" "$out" helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$ver"
      ;;
    metrics-server)
      dir="$BUILD_ROOT/metrics-server-$ver"
      make_builder "$dir" sigs.k8s.io/metrics-server "$ver" "" sigs.k8s.io/metrics-server/cmd/metrics-server
      go_build "$dir" "$out" sigs.k8s.io/metrics-server/cmd/metrics-server ""
      ;;
  esac
  local secs=$(( $(date +%s) - start ))
  log "$name $ver: built in ${secs}s -> $out"
  mkdir -p "$AIRLOCK_LAB_CACHE"
  echo "$(date -u +%FT%TZ) $name $ver ${secs}s GOFLAGS='$GOFLAGS' nproc=$(nproc)" >> "$TIMES_LOG"
}

if [ "${1:-}" = "--list" ]; then
  for n in "${ALL[@]}"; do
    p="$(bin_path "$n")"
    if [ -x "$p" ]; then echo "$n $p"; else echo "$n MISSING $p"; fi
  done
  exit 0
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL[@]}")
for n in "${targets[@]}"; do version_of "$n" >/dev/null; done
total_start=$(date +%s)
for n in "${targets[@]}"; do build_one "$n"; done
log "all done in $(( $(date +%s) - total_start ))s; binaries under $AIRLOCK_LAB_BIN"
