"""The fork server (services/common/forkserver.py): each child becomes its module as `python -m`
would make it, in a session of its own, writing to its log, showing its own command line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.process_records import alive

PROBE = '''
import json, os, signal, sys, time
print(json.dumps({"name": __name__, "argv": sys.argv[1:], "own_session": os.getsid(0) == os.getpid(),
                  "stdin": sys.stdin.read(), "inherited_env": os.environ.get("PROBE_ENV")}), flush=True)
print("to stderr", file=sys.stderr, flush=True)
if sys.argv[1:] == ["--exit", "7"]:
    sys.exit(7)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
time.sleep(60)
'''


def serve(tmp_path: Path, jobs: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               PYTHONUNBUFFERED="1", PROBE_ENV="inherited")
    return subprocess.run([sys.executable, "-m", "services.common.forkserver"], input=json.dumps(jobs),
                          capture_output=True, text=True, env=env, timeout=60)


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("not within the time allowed")


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    (tmp_path / "forkprobe.py").write_text(PROBE)
    return tmp_path


def test_each_child_becomes_its_module_with_its_log_session_and_command_line(probe: Path):
    jobs = [{"name": n, "module": "forkprobe", "args": ["--service", n], "log": str(probe / f"{n}.log")}
            for n in ("one", "two")]
    done = serve(probe, jobs)
    assert done.returncode == 0, done.stderr
    pids = dict(line.split() for line in done.stdout.splitlines())
    assert set(pids) == {"one", "two"} and len(set(pids.values())) == 2
    try:
        for name, pid in pids.items():
            log = probe / f"{name}.log"
            first = json.loads(wait_for(lambda log=log: log.exists() and log.read_text().splitlines()[:1])[0])
            assert first == {"name": "__main__", "argv": ["--service", name], "own_session": True, "stdin": "",
                             "inherited_env": "inherited"}
            wait_for(lambda log=log: "to stderr" in log.read_text())
            assert oct(log.stat().st_mode & 0o777) == "0o600"
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            assert f"-m forkprobe --service {name} " in cmdline + " "
            # `comm` stays the interpreter's name, as an exec would have left it
            assert Path(f"/proc/{pid}/comm").read_text().strip() == Path(sys.executable).name[:15]
    finally:
        for pid in pids.values():
            os.kill(int(pid), signal.SIGTERM)
    for pid in pids.values():
        wait_for(lambda pid=pid: not alive(int(pid)))


def test_a_child_exits_as_its_module_does(probe: Path):
    done = serve(probe, [{"name": "x", "module": "forkprobe", "args": ["--exit", "7"], "log": str(probe / "x.log")}])
    assert done.returncode == 0, done.stderr
    (pid,) = (int(line.split()[1]) for line in done.stdout.splitlines())
    wait_for(lambda: not alive(pid))
    assert '"argv": ["--exit", "7"]' in (probe / "x.log").read_text()


def test_a_module_that_fails_to_import_leaves_its_traceback_in_its_log(probe: Path):
    done = serve(probe, [{"name": "x", "module": "no_such_module_here", "args": [], "log": str(probe / "x.log")}])
    assert done.returncode == 0, done.stderr
    (pid,) = (int(line.split()[1]) for line in done.stdout.splitlines())
    wait_for(lambda: not alive(pid))
    assert "No module named no_such_module_here" in (probe / "x.log").read_text()


@pytest.mark.parametrize("jobs", [{"name": "x"}, [{"name": "x", "module": "m"}], "nonsense", [1]])
def test_a_bad_request_forks_nothing_and_says_why(probe: Path, jobs: object):
    done = serve(probe, jobs)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("forkserver: ") and "expected a JSON list" in done.stderr


def test_a_child_that_cannot_become_its_service_stops_the_server_and_says_why(probe: Path):
    """The first child runs (its pid is written); the second cannot open its log (a directory), so
    the server says so and forks nothing more: the caller records the first and stops it."""
    (probe / "a-directory.log").mkdir()
    jobs = [{"name": n, "module": "forkprobe", "args": [], "log": str(probe / log)}
            for n, log in (("one", "one.log"), ("two", "a-directory.log"), ("three", "three.log"))]
    done = serve(probe, jobs)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("one "), done.stdout
    assert done.stderr.startswith("forkserver: cannot start two: ") and "IsADirectoryError" in done.stderr
    assert not (probe / "three.log").exists()
    pid = int(lines[0].split()[1])
    try:
        # written only once the child had its title: the runtime's records recognise it at once
        assert "-m forkprobe" in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid))
