"""The enforcer with real nftables and real packets, against a stand-in of the ec2 service's
network admin API (fakes.py): allowed traffic is answered, revoked traffic times out, the counters
say which rule matched, and stopping it leaves no table behind. Subnets 127.0.136 and 127.0.137."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import topology as topo
from lab.firewall import enforce, hosts, lifecycle, nft
from lab.firewall.compiler import LabNet, compile_ruleset, table_name

from .fakes import FakeEc2Network
from .support import walkthrough, without

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"),
                                reason="the kernel's rules need root and nftables")

S = "127.0.136"
OTHER = "127.0.137"
TOKEN = "admin-token-for-the-firewall-tests"
NO_ANSWER = 1.0     # seconds a dropped packet is given to come back anyway


def _topology(state_dir: Path) -> dict[str, Any]:
    t = topo.build(state_dir, subnet=S, credentials={"admin_token": TOKEN})
    t["services"]["ec2"] = {"host": f"{S}.80", "package": "services.ec2", "ports": {"admin": topo.ADMIN_PORT},
                            "settings": {}}
    topo.write_topology(state_dir, t)
    return t


@contextlib.contextmanager
def udp_echo(host: str, port: int) -> Iterator[None]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            sock.sendto(b"echo:" + data, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sock.close()


@contextlib.contextmanager
def tcp_listener(host: str, port: int) -> Iterator[None]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(16)
    try:
        yield
    finally:
        sock.close()


def udp_answered(src: str, dst: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(NO_ANSWER)
        s.sendto(b"ping", (dst, port))
        try:
            return s.recvfrom(2048)[0] == b"echo:ping"
        except TimeoutError:
            return False


def tcp_connects(src: str, dst: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((src, 0))
        s.settimeout(NO_ANSWER)
        try:
            s.connect((dst, port))
            return True
        except (TimeoutError, OSError):
            return False


def wait_counter(fake: FakeEc2Network, name: str, at_least: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    got = 0
    while time.monotonic() < deadline:
        got = int(fake.latest_counters().get(name, {}).get("packets", 0))
        if got >= at_least:
            return got
        time.sleep(0.2)
    raise AssertionError(f"counter {name} stayed at {got} (expected at least {at_least})")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Path, FakeEc2Network]]:
    state_dir = tmp_path / "state"
    topology = _topology(state_dir)
    with FakeEc2Network(topology["services"]["ec2"]["host"], topo.ADMIN_PORT, TOKEN) as fake:
        lifecycle.spawn(state_dir)
        try:
            yield state_dir, fake
        finally:
            lifecycle.stop(state_dir)
            nft.delete(table_name(S))          # in case the test failed before stopping it


def _publish(fake: FakeEc2Network, desired: dict[str, Any]) -> int:
    generation = fake.publish(desired["interfaces"], desired["groups"])
    fake.wait_applied(generation)
    return generation


def test_security_groups_decide_which_packets_arrive(lab: tuple[Path, FakeEc2Network]) -> None:
    state_dir, fake = lab
    desired = walkthrough(S)
    ldap = topo.process_port(389, False)
    with udp_echo(f"{S}.20", 1812), tcp_listener(f"{S}.10", ldap), tcp_listener(f"{S}.10", 10636):
        _publish(fake, desired)
        assert nft.exists(table_name(S))
        assert udp_answered(f"{S}.41", f"{S}.20", 1812)
        assert tcp_connects(f"{S}.41", f"{S}.10", ldap)
        assert tcp_connects(f"{S}.21", f"{S}.10", ldap)            # the AD agent reaches the DC
        assert not tcp_connects(f"{S}.41", f"{S}.10", 10636)       # LDAPS was never allowed: dropped silently
        wait_counter(fake, "sgr-radius", 1)

        _publish(fake, without(desired, "sgr-radius"))
        assert not udp_answered(f"{S}.41", f"{S}.20", 1812)
        assert udp_answered("127.0.0.1", f"{S}.20", 1812)          # the machine itself is never filtered
        assert tcp_connects(f"{S}.41", f"{S}.10", ldap)            # the other rules still hold
        wait_counter(fake, f"drop:{S}.20", 1)

        _publish(fake, desired)                                    # the rule is back
        assert udp_answered(f"{S}.42", f"{S}.20", 1812)
    events = [json.loads(line) for line in (state_dir / "events" / "firewall.jsonl").read_text().splitlines()]
    applied = [e for e in events if e["kind"] == "firewall.applied" and e["outcome"] == "ok"]
    assert len(applied) >= 3 and all(e["fields"]["ms"] >= 0 for e in applied)


def test_the_windows_firewall_blocks_after_the_group_allows(lab: tuple[Path, FakeEc2Network]) -> None:
    state_dir, fake = lab
    topology = json.loads((state_dir / "topology.json").read_text())
    with udp_echo(f"{S}.20", 1812):
        _publish(fake, walkthrough(S))
        hosts.change(state_dir, "InstanceOkta", "block", 1812, "udp", None)
        enforce.enforce(state_dir, topology)                       # what `lab firewall` does after a change
        assert not udp_answered(f"{S}.41", f"{S}.20", 1812)
        hosts.change(state_dir, "InstanceOkta", "allow", 1812, "udp", None)
        enforce.enforce(state_dir, topology)
        assert udp_answered(f"{S}.41", f"{S}.20", 1812)
        counts = enforce.counters(state_dir, topology)
        assert counts["fw:InstanceOkta:allow:1812/udp"]["packets"] >= 1


def test_stopping_removes_the_table_and_leaves_another_labs_alone(lab: tuple[Path, FakeEc2Network]) -> None:
    state_dir, fake = lab
    other = compile_ruleset(walkthrough(OTHER), [], LabNet(OTHER, topo.ADMIN_PORT, {}, {}))
    nft.apply(other)
    try:
        _publish(fake, walkthrough(S))
        assert nft.exists(table_name(S))
        removed = lifecycle.stop(state_dir)
        assert removed == ["host"]
        assert not nft.exists(table_name(S))
        assert nft.exists(table_name(OTHER))
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
        assert table_name(S) not in tables
        assert not (state_dir / "firewall" / "ruleset.nft").exists()
    finally:
        nft.delete(table_name(OTHER))
