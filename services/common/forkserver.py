"""The process runtime's fork server: one interpreter imports what every service imports, then
forks once per service; each child becomes that service as `python -m services.<x>` would.

Every service spends most of its start importing the same things (FastAPI, pydantic, uvicorn,
uvloop and the runner: ~0.35 s of CPU each on the build machine). Started one interpreter each,
ten services pay that ten times on two cores; forked from one that has paid it, once. Only what
every service imports is loaded here, so no service carries a module it would not have loaded
itself. Each one's RSS came out smaller too (59 -> 53 MB on average, bench/README.md: less of
the heap is left fragmented by imports interleaved with its own), and its PSS about half of that.

A child, before the service's own code runs:
  - leaves the server's session (`setsid`: `lab down` signals a service's process group),
  - has its stdout and stderr appended to its log, stdin from /dev/null,
  - shows the command line it would have had (setproctitle), so `ps`, `pgrep -f services.dc` and
    the runtime's pid records (lab/process_records.py, which check it) see the same thing,
  - runs the service's package as `__main__` (runpy), so it exits as that process would: its
    exit handlers run and its exit status is the service's.

Protocol (lab/process_runtime.py is the caller): a JSON list of jobs on stdin, each
`{"name", "module", "args", "log"}`; one line `<name> <pid>` on stdout per child, written once the
child has its session, log and command line (a pipe it closes says so), then exit 0. A failure
before or between forks exits 1 with the reason on stderr; the lines already written name the
children that run. The server itself does not wait for its children: it exits once they
are forked, and they are reparented as a detached `Popen` would be.

    echo '[{"name": "dc", "module": "services.dc", "args": [...], "log": "..."}]' \
        | python -m services.common.forkserver
"""
from __future__ import annotations

import gc
import json
import os
import runpy
import sys
from typing import Any

# What every service imports (measured with -X importtime across the ten services: these cover
# ~95% of the modules all of them share). Nothing a single service needs goes here.
PRELOAD = (
    "services.common.runner",             # FastAPI, pydantic, uvicorn, the admin API, the journal
    "uvloop",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.lifespan.on",
    "concurrent.futures.thread",
)


def preload() -> None:
    for module in PRELOAD:
        __import__(module)
    import setproctitle  # noqa: F401 — missing (a venv from before it was a dependency): fail before any fork
    # The imports' objects live as long as each child: out of the collector's reach, so a child's
    # collections neither visit them nor write to their pages (which stay shared).
    gc.collect()
    gc.freeze()


def become(job: dict[str, Any], ready: int) -> None:
    """In the child: turn this process into the service, closing `ready` once it looks like one
    (its own session, its log, its command line), or writing there why it could not; then run
    the service (returns when the service's code does)."""
    try:
        os.setsid()
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        argv = [job["module"], *job["args"]]
        import setproctitle
        setproctitle.setproctitle(" ".join([sys.executable, "-m", *argv]))
        # setproctitle names the thread after the title too; `comm` stays the interpreter's, as exec left it
        setproctitle.setthreadtitle(os.path.basename(sys.executable))
    except BaseException as exc:  # noqa: BLE001 — told to the server, which tells the caller
        os.write(ready, f"{exc!r}".encode()[:4000])
        os._exit(1)
    os.close(ready)
    sys.argv = argv
    runpy.run_module(job["module"], run_name="__main__", alter_sys=True)


def spawn(job: dict[str, Any]) -> int:
    """Fork `job`'s child and wait until it is its service's process (its pid only then goes to
    the caller, whose records check the command line); OSError with the reason if it is not."""
    readable, ready = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(readable)
        # The child never comes back here: the service's own exit (SystemExit from the runner, or
        # an exception's traceback into its log) ends the interpreter.
        become(job, ready)
        raise SystemExit(0)
    os.close(ready)
    with os.fdopen(readable, "rb") as pipe:
        why = pipe.read().decode(errors="replace")
    if why:
        os.waitpid(pid, 0)
        raise OSError(why)
    return pid


def main() -> int:
    try:
        jobs = json.load(sys.stdin)
        if not isinstance(jobs, list) or not all(isinstance(j, dict) and {"name", "module", "args", "log"} <= set(j)
                                                 for j in jobs):
            raise ValueError("expected a JSON list of {name, module, args, log}")
        preload()
    except Exception as exc:  # noqa: BLE001 — the caller shows this line
        print(f"forkserver: {exc!r}", file=sys.stderr)
        return 1
    for job in jobs:
        try:
            pid = spawn(job)
        except OSError as exc:
            print(f"forkserver: cannot start {job['name']}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"{job['name']} {pid}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
