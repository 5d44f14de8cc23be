"""Fail closed in containers: a service does not start serving until its namespace has the rules.

The process runtime's table is the host's and outlives any restart. A container's network
namespace is new at every start and empty until the enforcer has entered it. So when the lab's
rules are enforced by the kernel, the container topology says `firewall_gate: true` and the image's
entry point waits, before it runs the service, for READY: a file the enforcer writes into the
container's /tmp (through /proc/PID/root) right after `nft` has taken the table there. /tmp is a
tmpfs, empty at every container start, so a restarted container waits again.

Standard library only: docker/entrypoint.py imports it before anything else is known to work.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

READY = "/tmp/lab-firewall-ready"
WAIT = 60.0            # seconds: the enforcer sees a new container within half a second
POLL = 0.05


def open_for(pid: int) -> None:
    """The enforcer's side: the rules are in force in PID's namespace; let its service start."""
    path = Path(f"/proc/{pid}/root{READY}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:       # the container is gone already, or has no /tmp (not a lab image)
        return
    os.fchmod(fd, 0o644)            # whatever the enforcer's umask: the container's user reads it
    with os.fdopen(fd, "w") as out:
        out.write(f"{time.time():.3f}\n")


def wait_open(timeout: float = WAIT, ready: str = READY) -> bool:
    """The entry point's side: True once READY exists; False after TIMEOUT (do not serve)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(ready):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True
