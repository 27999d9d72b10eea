#!/usr/bin/env bash
# Runs the real Airlock gateway for the integration tests, as a service manager
# would: gatewayctl.sh DIR start|stop|status. DIR holds config.yaml, the pid file
# and airlock.log; the binary is DIR/airlock-binary (a link the test makes).
# stop signals only the process whose pid file we wrote and whose executable is
# the binary we started.
set -euo pipefail
dir=$1
cmd=$2
pidfile="$dir/airlock.pid"
binary="$(readlink -f "$dir/airlock-binary")"

ours() {
  local pid
  pid="$(cat "$pidfile" 2>/dev/null)" || return 1
  [ -n "$pid" ] && [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$binary" ] && echo "$pid"
}

case "$cmd" in
  start)
    if ours >/dev/null; then exit 0; fi
    addr="$(sed -n 's/^  addr: "\(.*\)"$/\1/p' "$dir/config.yaml")"
    setsid "$binary" --config "$dir/config.yaml" >>"$dir/airlock.log" 2>&1 < /dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 100); do
      if python3 -c "import socket,sys; socket.create_connection(sys.argv[1].rsplit(':',1), 0.2).close()" "$addr" 2>/dev/null; then
        exit 0
      fi
      sleep 0.1
    done
    echo "the gateway did not listen on $addr within 10 s" >&2
    exit 1 ;;
  stop)
    if pid="$(ours)"; then
      kill -TERM "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile" ;;
  status)
    ours >/dev/null ;;
  *) echo "usage: gatewayctl.sh DIR start|stop|status" >&2; exit 2 ;;
esac
