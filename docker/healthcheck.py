"""The image's HEALTHCHECK: asks the running service's admin API for GET /healthz.

Which service and which topology are read from PID 1's command line (`python -m services.<pkg>
--service <name> --topology <file>`, as docker/entrypoint.py starts it), so one image and one HEALTHCHECK serve
every service. Exit 0 healthy, 1 not. Standard library only.
"""
from __future__ import annotations

import json
import os
import socket
import sys


def main() -> int:
    try:
        with open("/proc/1/cmdline", "rb") as fh:
            argv = [a.decode() for a in fh.read().split(b"\0") if a]
    except OSError as exc:
        print(f"healthcheck: {exc}")
        return 1
    module = next((a for a in argv if a.startswith("services.")), None)
    if module is None:
        print("healthcheck: PID 1 is not a lab service")
        return 1
    # `--service NAME` (the topology entry; a second agent runs the first one's package).
    name = argv[argv.index("--service") + 1] if "--service" in argv[:-1] else \
        module.split(".", 1)[1].replace("_", "-")
    path = argv[argv.index("--topology") + 1] if "--topology" in argv[:-1] else os.environ.get("LAB_TOPOLOGY")
    try:
        with open(path, encoding="utf-8") as fh:
            svc = json.load(fh)["services"][name]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"healthcheck: no topology entry for {name}: {exc!r}")
        return 1
    host = svc.get("bind", svc["host"])
    host = svc["host"] if host in ("0.0.0.0", "") else host
    port = int(svc["ports"]["admin"])
    timeout = float(os.environ.get("LAB_HEALTH_TIMEOUT", "2"))
    # A bare HTTP/1.0 request: importing urllib costs more than the whole check.
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(f"GET /healthz HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError as exc:
        print(f"{name}: {host}:{port}: {exc}")
        return 1
    head, _, body = reply.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    ok = status.split(" ")[1:2] == ["200"]
    print(f"{name}: {status} {body[:200].decode(errors='replace')}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
