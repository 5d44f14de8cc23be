"""The supervisor `lab up` starts: every service killed with SIGKILL in turn, during sign-ins, comes
back; sign-ins after it work; nothing saved is lost. Times to come back are printed, not asserted."""
from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from lab.client import LabClient

from .support import carol_disabled, events_of, kill9, lab_up, ok, pid_of, run_lab, status, topology, wait_back

SUBNET = "127.0.42"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with lab_up(tmp_path_factory.mktemp("supervised"), "--subnet", SUBNET) as state_dir:
        yield state_dir


def fresh_code(client: LabClient, user: str, used: set[str]) -> str:
    """The user's current code once it is one not used yet (a code is good once: Okta refuses a
    replay, E0000082), waiting for the next 30-second step if need be."""
    deadline = time.monotonic() + 40
    while True:
        code = client.phone_code(user)
        if code not in used or time.monotonic() > deadline:
            used.add(code)
            return code
        time.sleep(0.5)


def code_or_push(client: LabClient, user: str, used: set[str]) -> str:
    """The user's current code when it is still unused, else `push`: waiting for the next 30-second
    step would make each sign-in during the kills cost up to half a minute."""
    code = client.phone_code(user)
    if code in used:
        return "push"
    used.add(code)
    return code


class SignIns(threading.Thread):
    """alice with a code (or push while her code is used up) and bob with push, one after the
    other, until stopped."""

    def __init__(self, client: LabClient, used: set[str]):
        super().__init__(daemon=True)
        self.client, self.results, self.stopping, self.used = client, [], threading.Event(), used
        self.phase = "before the kills"      # which service was killed last, for the report

    def run(self) -> None:
        while not self.stopping.is_set():
            for user, mfa in (("alice", None), ("bob", "push")):
                try:
                    if mfa is None:
                        mfa = code_or_push(self.client, user, self.used)
                    answer = self.client.login(user, mfa=mfa)
                    self.results.append((user, answer["success"], answer.get("reason"), answer.get("message"),
                                         self.phase))
                except (httpx.TransportError, ValueError) as exc:
                    # a killed service's port is closed: the documented answer of a machine that is down
                    self.results.append((user, False, f"unreachable: {exc.__class__.__name__}", str(exc),
                                         self.phase))
                    time.sleep(0.2)


# One kill and a sign-in per service: ten services on a loaded machine can outgrow the default 300 s
# (which also counts the module's lab start).
@pytest.mark.timeout(900)
def test_every_service_killed_comes_back_and_nothing_is_lost(lab):
    topo = topology(lab)
    client = LabClient(topo)
    # What must survive: an Okta user made through the API, a message in the mailbox, the users'
    # enrolments (the sign-ins after). The DC's own changes: see the restart test below.
    made = client.okta("POST", "/api/v1/users", params={"activate": "false"},
                       json={"profile": {"login": "kept@corp.example.com", "email": "kept@corp.example.com",
                                         "firstName": "Kept", "lastName": "User"}})
    assert made.status_code == 200, made.text
    ok(run_lab(lab, "activate", "ivan"))
    assert client.mail("ivan")

    used: set[str] = set()
    signins = SignIns(LabClient(topo), used)
    signins.start()
    times = {}
    try:
        for service in topo["services"]:
            old = pid_of(lab, service)
            signins.phase = f"{service} killed"
            kill9(old)
            times[service] = wait_back(lab, service, old)
            # let a sign-in run against the lab with the service back (one: the checks below sign in again)
            before = len(signins.results)
            deadline = time.monotonic() + 120
            while len(signins.results) < before + 1 and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        signins.stopping.set()
        signins.join(timeout=700)
    print("seconds to come back after kill -9:", {k: round(v, 1) for k, v in times.items()})
    failed: dict[tuple[str, str, str], int] = {}
    for user, success, reason, _, phase in signins.results:
        if not success:
            failed[(phase, user, reason)] = failed.get((phase, user, reason), 0) + 1
    print(f"sign-ins during the kills: {len(signins.results)}; failed (after, user, reason): count: {failed}")

    # every failure has the client's message and its reason; the lab kept answering
    assert all(reason and message for _, success, reason, message, _ in signins.results if not success)
    assert any(success for _, success, _, _, _ in signins.results)

    # after the kills: sign-ins work, with a code and with push
    assert client.login("alice", mfa=fresh_code(client, "alice", used))["success"]
    assert client.login("bob", mfa="push")["success"]
    # and nothing saved is lost
    assert client.okta("GET", "/api/v1/users/kept@corp.example.com").status_code == 200
    assert client.mail("ivan")

    report = status(lab)
    assert all(svc["healthy"] for svc in report["services"].values()), report
    assert all(svc["restarts"] >= 1 for svc in report["services"].values()), report
    kinds = {(e["kind"], e["peer"]) for e in events_of(lab, "supervisor")}
    assert all(("supervisor.restart", name) in kinds for name in topo["services"]), kinds


def test_an_ad_change_survives_a_dc_restart(lab):
    """A real DC keeps its database on disk: an account disabled stays disabled after a restart
    (services/dc/snapshot.py)."""
    ok(run_lab(lab, "ad", "carol", "disable"))
    try:
        ok(run_lab(lab, "restart", "dc"))
        assert carol_disabled(topology(lab))
    finally:
        ok(run_lab(lab, "ad", "carol", "enable"))


def test_a_service_that_keeps_crashing_is_left_stopped_with_its_log_in_status(lab):
    """A bad setting makes the AD agent exit at every start: after five crashes in two minutes the
    supervisor stops trying, and `lab status` says so with the log's last lines. `lab up` then
    starts it again once the setting is fixed."""
    import json

    path = lab / "topology.json"
    good = path.read_text()
    bad = json.loads(good)
    bad["services"]["ad-agent"]["settings"]["import_interval_seconds"] = -1
    path.write_text(json.dumps(bad))
    try:
        kill9(pid_of(lab, "ad-agent"))
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            result = run_lab(lab, "status")
            if "FAILED" in result.stdout:
                break
            time.sleep(1)
        assert result.returncode == 1
        assert re.search(r"ad-agent: FAILED, left stopped after \d+ crashes", result.stdout), result.stdout
        assert "import_interval_seconds" in result.stdout      # the log's last lines say why
        assert any(e["kind"] == "supervisor.gave_up" for e in events_of(lab, "supervisor"))
    finally:
        path.write_text(good)
    up = ok(run_lab(lab, "up"))
    assert "starting ad-agent" in up.stdout
    assert run_lab(lab, "status").returncode == 0
