"""The class subnet allocator (lab/classroom/subnets.py): bases, reserved ranges, sockets that
are already bound, other classes on the host. Real sockets on this test's own addresses
(127.66.x / 127.67.x), a host index of its own."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.classroom import roster as roster_mod
from lab.classroom import subnets
from lab.classroom.roster import Roster, Trainee
from lab.errors import UsageError


@pytest.fixture(autouse=True)
def own_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "classes.json"
    monkeypatch.setenv(subnets.INDEX_ENV, str(path))
    monkeypatch.delenv(subnets.BASE_ENV, raising=False)
    return path


@pytest.fixture
def bound(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    address, proto = request.param
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    sock.bind((address, 0))
    if proto == "tcp":
        sock.listen()
    try:
        yield address, sock.getsockname()[1]
    finally:
        sock.close()


def test_bases_default_per_runtime_and_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert subnets.base_for("process") == "127.64"
    assert subnets.base_for("docker") == "172.29"
    monkeypatch.setenv(subnets.BASE_ENV, "127.66")
    assert subnets.base_for("process") == "127.66"
    assert subnets.base_for("process", "127.80") == "127.80"     # the option beats the environment
    assert subnets.subnet_of("127.66", 7) == "127.66.7"


@pytest.mark.parametrize(("runtime", "base", "why"), [
    ("process", "127.0", "tests' labs"),
    ("process", "127.1", "blank labs"),
    ("docker", "172.28", "docker runtime's default lab"),
    ("process", "10.5", "loopback"),
    ("docker", "127.70", "non-loopback"),
    ("docker", "8.8", "private"),
    ("process", "127.64.1", "two octets"),
    ("process", "127.256", "two octets"),
])
def test_a_base_that_cannot_be_used_is_refused_saying_why(runtime: str, base: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        subnets.base_for(runtime, base)


def test_trainee_numbers_outside_the_roster_range_are_refused() -> None:
    with pytest.raises(UsageError, match="from 1 to 99"):
        subnets.subnet_of("127.66", 100)


def test_related_subnets_are_the_lab_and_its_blank_lab() -> None:
    assert subnets.related("127.66.4") == {"127.66.4", "127.67.4"}
    assert subnets.related("172.29.4") == {"172.29.4"}


@pytest.mark.parametrize("bound", [("127.66.90.1", "tcp"), ("127.66.90.2", "udp")], indirect=True)
def test_a_subnet_with_a_bound_socket_is_refused_naming_it(tmp_path: Path, bound: tuple[str, int]) -> None:
    address, port = bound
    assert subnets.listening_subnets()["127.66.90"].startswith(address)
    with pytest.raises(subnets.SubnetTaken, match=rf"127\.66\.90 is in use.*{address}:{port}"):
        subnets.allocate(tmp_path, "process", "127.66", [89, 90])
    # ...unless it is this class's own running lab
    assert subnets.allocate(tmp_path, "process", "127.66", [90], running={"127.66.90"}) == {90: "127.66.90"}


@pytest.mark.parametrize("bound", [("127.67.91.5", "tcp")], indirect=True)
def test_a_subnet_whose_blank_lab_subnet_is_in_use_is_refused(tmp_path: Path, bound: tuple[str, int]) -> None:
    with pytest.raises(subnets.SubnetTaken, match=r"127\.67\.91 \(the blank lab's subnet of 127\.66\.91\)"):
        subnets.allocate(tmp_path, "process", "127.66", [91])


def test_another_class_on_the_host_keeps_its_subnets_and_their_blank_labs(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    got = subnets.allocate(first, "process", "127.66", [95, 96])
    assert got == {95: "127.66.95", 96: "127.66.96"}
    roster_mod.save(first, Roster("process", [Trainee(n, roster_mod.trainee_dir(first, n), s) for n, s in got.items()]))
    with pytest.raises(subnets.SubnetTaken, match=rf"127\.66\.95 belongs to trainee-95 of the class in {first}"):
        subnets.allocate(second, "process", "127.66", [95])
    # 127.65.96's blank lab would be on 127.66.96: the first class's trainee 96
    with pytest.raises(subnets.SubnetTaken, match=r"127\.66\.96 \(the blank lab's subnet of 127\.65\.96\) belongs"):
        subnets.allocate(second, "process", "127.65", [96])
    # the class itself may allocate again (`class up` with more trainees), and the index names it once
    assert subnets.allocate(first, "process", "127.66", [95, 97]) == {95: "127.66.95", 97: "127.66.97"}
    with subnets.locked_index() as dirs:
        assert dirs.count(str(first.resolve())) == 1
    subnets.forget(first)
    assert subnets.allocate(second, "process", "127.66", [95]) == {95: "127.66.95"}


def test_a_class_whose_state_directory_is_gone_leaves_the_index(tmp_path: Path) -> None:
    gone, other = tmp_path / "gone", tmp_path / "other"
    subnets.allocate(gone, "process", "127.66", [94])       # indexed, but no roster was ever saved
    subnets.allocate(other, "process", "127.66", [94])
    with subnets.locked_index() as dirs:
        assert str(gone.resolve()) not in dirs


def test_a_kept_subnet_is_checked_like_a_new_one(tmp_path: Path) -> None:
    assert subnets.allocate(tmp_path, "process", "127.66", [1], keep={1: "127.66.93"}) == {1: "127.66.93"}
    with pytest.raises(subnets.SubnetTaken, match=r"127\.0\.93 is reserved"):
        subnets.allocate(tmp_path, "process", "127.66", [1], keep={1: "127.0.93"})


def test_a_docker_network_overlapping_a_subnet_is_named() -> None:
    with pytest.raises(subnets.SubnetTaken, match="overlaps the Docker network 'labnet'"):
        subnets.check("172.29.3", listening={}, classes={}, networks={"172.29.3": "labnet"}, mine=set())
