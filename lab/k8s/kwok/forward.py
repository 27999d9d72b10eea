# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kwok ClusterPortForward command: pipe stdin/stdout to the host lab Airlock.

kwok runs this once per forwarded connection (`kubectl port-forward` to port 8080
of a fake Airlock pod). The target is read at connect time from
<state dir>/state.json ("url"), so the host lab Airlock may be started after
the cluster. AIRLOCK_LAB_URL overrides it.
"""
import json
import os
import socket
import sys
import threading
from urllib.parse import urlsplit


def target(state_dir):
    url = os.environ.get("AIRLOCK_LAB_URL")
    if not url:
        path = os.path.join(state_dir, "state.json")
        try:
            with open(path, encoding="utf-8") as handle:
                url = json.load(handle)["url"]
        except (OSError, ValueError, KeyError) as exc:
            sys.stderr.write("forward.py: no host lab Airlock (%s: %s)\n" % (path, exc))
            sys.exit(1)
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def main():
    host, port = target(sys.argv[1] if len(sys.argv) > 1 else ".lab/host")
    sock = socket.create_connection((host, port), timeout=10)
    sock.settimeout(None)

    def upstream():
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            sock.sendall(data)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=upstream, daemon=True).start()
    while True:
        data = sock.recv(65536)
        if not data:
            break
        os.write(1, data)


if __name__ == "__main__":
    main()
