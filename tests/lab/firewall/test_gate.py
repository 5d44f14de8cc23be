"""The container gate (lab/firewall/gate.py): the entry point waits for READY, the enforcer writes
it through /proc/PID/root. Tested here with this process's own pid (its root is the host's /)
against a path of the test's own; tests/docker checks a restarted container waited for it."""
from __future__ import annotations

import os
import threading

from lab.firewall import gate


def test_the_entry_point_waits_for_the_file_and_gives_up_after_its_timeout(tmp_path):
    ready = tmp_path / "ready"
    assert gate.wait_open(timeout=0.2, ready=str(ready)) is False
    threading.Timer(0.1, ready.write_text, args=("x",)).start()
    assert gate.wait_open(timeout=10, ready=str(ready)) is True


def test_the_enforcer_opens_the_gate_inside_the_process_root(monkeypatch, tmp_path):
    monkeypatch.setattr(gate, "READY", str(tmp_path / "ready"))
    gate.open_for(os.getpid())           # /proc/<own pid>/root is /: the file lands at READY
    assert gate.wait_open(timeout=1, ready=gate.READY)
    assert oct(os.stat(gate.READY).st_mode & 0o777) == "0o644"   # the container's user reads it


def test_a_vanished_process_is_no_error():
    gate.open_for(2 ** 22 + 12345)        # above pid_max: no such process
