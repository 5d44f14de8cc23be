"""The state directory's rules: private files; resumed for the same choices, started afresh (saying
what it discards) for others; `lab down --volumes`; a revoked agent token recovered by `lab up`;
`lab reset` on an unhealthy lab; a service restarted by hand known to `lab status` and `lab down`."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from lab import topology as topo
from lab.client import LabClient
from tests.support import wait_until

from .support import ROOT, carol_disabled, healthy, kill9, lab_up, ok, pid_of, run_lab, status, supervisor_pid, topology

SUBNET = "127.0.43"


def mode(path) -> int:
    return path.stat().st_mode & 0o777


def make_user(state_dir, login: str) -> None:
    made = LabClient(topology(state_dir)).okta("POST", "/api/v1/users", params={"activate": "false"},
                                               json={"profile": {"login": login, "email": login,
                                                                 "firstName": "Marker", "lastName": "User"}})
    assert made.status_code == 200, made.text


def has_user(state_dir, login: str) -> bool:
    return LabClient(topology(state_dir)).okta("GET", f"/api/v1/users/{login}").status_code == 200


def revoke_agent_token(state_dir) -> None:
    client = LabClient(topology(state_dir))
    token = next(t for t in client.okta("GET", "/api/v1/api-tokens").json() if t["name"] == "Okta RADIUS agent")
    assert client.okta("DELETE", f"/api/v1/api-tokens/{token['id']}").status_code == 204


def test_the_state_directory_records_its_lab_and_starts_afresh_for_another(tmp_path):
    state = tmp_path / "state"
    with lab_up(state, "--subnet", SUBNET):
        # every file the runtime writes is its owner's alone (the supervisor's journal: once it has started)
        wait_until(lambda: (state / "events" / "supervisor.jsonl").exists(), timeout=30)
        assert mode(state) == 0o700 and mode(state / "logs") == 0o700 and mode(state / "supervisor") == 0o700
        for path in [state / "processes.json", state / "lab.json", state / "topology.json",
                     state / "credentials.json", *(state / "logs").iterdir(), *(state / "supervisor").iterdir(),
                     state / "events" / "supervisor.jsonl"]:
            assert mode(path) == 0o600, path
        make_user(state, "first@corp.example.com")
        token = json.loads((state / "credentials.json").read_text())["okta_api_token"]
        # flags that differ from the running lab are refused, not ignored
        for flags, said in ((["--agents", "2"], "--agents 2 (running: 1)"),
                            (["--subnet", "127.0.44"], "--subnet 127.0.44 (running: 127.0.43)"),
                            (["--blank"], "--blank (running: False)")):
            refused = run_lab(state, "up", *flags)
            assert refused.returncode == 2 and said in refused.stderr, refused.stderr
        again = ok(run_lab(state, "up"))
        assert f"already running ({len(topo.SERVICES)} services" in again.stdout

    # another topology: afresh, saying what it discards; the credentials are kept
    other = ok(run_lab(state, "up", "--subnet", SUBNET, "--agents", "2"))
    try:
        assert "RADIUS agents 1 -> 2" in other.stdout and "starting afresh, removing" in other.stdout
        assert "okta/" in other.stdout and "keeping credentials.json" in other.stdout
        assert not has_user(state, "first@corp.example.com")
        assert json.loads((state / "credentials.json").read_text())["okta_api_token"] == token
        assert "radius-agent-2" in status(state)["services"]
        make_user(state, "second@corp.example.com")
    finally:
        ok(run_lab(state, "down"))
    assert json.loads((state / "lab.json").read_text())["agents"] == 2

    # the same choices: resumed
    resumed = ok(run_lab(state, "up", "--subnet", SUBNET, "--agents", "2"))
    try:
        assert "afresh" not in resumed.stdout
        assert has_user(state, "second@corp.example.com")
    finally:
        ok(run_lab(state, "down"))

    # blank, then seeded again: each starts afresh, and a seeded lab after a blank one signs in
    blank = ok(run_lab(state, "up", "--subnet", SUBNET, "--blank"))
    ok(run_lab(state, "down"))
    assert "seeded -> blank" in blank.stdout and "starting afresh" in blank.stdout
    assert "keeping credentials.json" in blank.stdout
    seeded = ok(run_lab(state, "up", "--subnet", SUBNET))
    try:
        assert "blank -> seeded" in seeded.stdout
        ok(run_lab(state, "login", "bob", "--mfa", "push"))
    finally:
        gone = ok(run_lab(state, "down", "--volumes"))
    assert "removing" in gone.stdout and "okta/" in gone.stdout and "keeping credentials.json" in gone.stdout
    left = {p.name for p in state.iterdir()}
    assert "okta" not in left and "dc" not in left and "events" not in left and "lab.json" not in left
    assert "credentials.json" in left


def test_a_revoked_agent_token_and_an_unhealthy_lab_are_recovered(tmp_path):
    state = tmp_path / "state"
    with lab_up(state, "--subnet", SUBNET):
        # revoked while the lab runs: the agent is DISRUPTED, `lab reset` brings it back
        revoke_agent_token(state)
        deadline = time.monotonic() + 60
        while run_lab(state, "status").returncode == 0 and time.monotonic() < deadline:
            time.sleep(1)
        assert run_lab(state, "status").returncode == 1
        ok(run_lab(state, "reset"))
        ok(run_lab(state, "login", "alice"))

        # revoked, then the lab stopped: `lab up` gives the agent a new token instead of failing
        revoke_agent_token(state)
        ok(run_lab(state, "down"))
        started = time.monotonic()
        up = ok(run_lab(state, "up", "--subnet", SUBNET))
        print(f"lab up with a revoked agent token: {time.monotonic() - started:.1f} s")
        assert "giving the agent a new one" in up.stdout
        ok(run_lab(state, "login", "bob", "--mfa", "push"))

        # an unhealthy lab with no supervisor: `lab reset` restarts what does not answer, and
        # resets it too (a restarted DC would keep an admin's change)
        ok(run_lab(state, "ad", "carol", "disable"))
        time.sleep(1.5)                    # the DC writes its changes within a second
        kill9(supervisor_pid(state))
        kill9(pid_of(state, "phone"))
        kill9(pid_of(state, "dc"))
        reset = ok(run_lab(state, "reset"))
        assert "phone does not answer" in reset.stdout and "dc does not answer" in reset.stdout
        assert not carol_disabled(topology(state))
        assert run_lab(state, "status").returncode == 0

        # a service restarted by hand is known to `lab status` and stopped by `lab down`
        kill9(supervisor_pid(state))
        old = pid_of(state, "mail")
        kill9(old)
        by_hand = subprocess.Popen([sys.executable, "-m", "services.mail", "--service", "mail", "--topology",
                                    str(state / "topology.json")], cwd=ROOT, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not healthy(topology(state), "mail") and time.monotonic() < deadline:
                time.sleep(0.2)
            assert run_lab(state, "status").returncode == 0
            assert pid_of(state, "mail") == by_hand.pid
        finally:
            ok(run_lab(state, "down"))
            assert by_hand.wait(timeout=30) is not None      # `lab down` stopped it
