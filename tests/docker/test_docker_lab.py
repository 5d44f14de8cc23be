"""The lab in containers: every service healthy, a sign-in with the phone's code, state kept across
`down`/`up`, and `down` removing what `up` made and nothing else. Needs a Docker engine and the
image (see support.py for when these are skipped and when they fail)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import expect

from lab import docker_compose as dc
from lab import docker_engine as engine
from lab import docker_runtime as dr
from lab.docker_runtime import DockerRuntime
from lab.errors import LabError
from lab.firewall import gate, nft
from lab.firewall.compiler import table_name
from lab.runtime import LabSpec, bring_up
from tests.support import admin_headers
from tests.ui.conftest import browser, browser_home, page  # noqa: F401 (fixtures for the console's smoke test)

from .support import need_docker

ROOT = Path(__file__).resolve().parents[2]
AUTH_FAILED = ("Authentication Failed: Please check your username and password to make sure you "
               "typed them correctly")


def seed_of(lab) -> dict:
    return yaml.safe_load(Path(lab.topology["seed"]).read_text())


def phone_code(lab, user: str, steps: int = 0) -> str:
    resp = httpx.get(f"{lab.url('phone')}/accounts/{user}/code", params={"steps": steps} if steps else None,
                     timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["code"]


def healthz(lab, service: str) -> bool:
    """The service's /healthz answers 200 from the host (what `lab up` and `lab status` ask)."""
    try:
        return httpx.get(f"{lab.url(service, 'admin')}/healthz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def signin(lab, user: str, mfa: str, password: str | None = None) -> httpx.Response:
    seed = seed_of(lab)
    person = next(p for p in seed["users"] if p["sam"] == user)
    return httpx.post(f"{lab.url('workspaces')}/client/signin", timeout=120, json={
        "registrationCode": seed["aws"]["workspaces"]["registration_code"],
        "username": user, "password": password or person["password"], "mfaCode": mfa})


def test_every_service_runs_in_its_own_healthy_container(docker_lab):
    conf = dr.load_conf(docker_lab.state_dir)
    rows = engine.containers(conf)
    assert set(rows) == set(docker_lab.topology["services"])
    for name, svc in docker_lab.topology["services"].items():
        # Docker's own check runs every 30 s: `starting` until its first run, never `unhealthy`
        assert rows[name]["state"] == "running" and rows[name]["health"] in ("starting", "healthy"), (name, rows[name])
        assert svc["host"].startswith(docker_lab.subnet + ".")
        # The host reaches each container's admin API on the bridge network.
        resp = httpx.get(f"http://{svc['host']}:{svc['ports']['admin']}/healthz", timeout=5)
        assert resp.status_code == 200, (name, resp.text)
    # Standard ports inside the network.
    dc_ports = docker_lab.topology["services"]["dc"]["ports"]
    assert (dc_ports["ldap"], dc_ports["kerberos"], dc_ports["dns"], dc_ports["admin"]) == (389, 88, 53, 9100)
    assert docker_lab.topology["services"]["workspaces"]["ports"]["api"] == 80


def test_containers_run_as_a_non_root_user_from_the_one_image(docker_lab):
    conf = dr.load_conf(docker_lab.state_dir)
    for name, row in engine.containers(conf).items():
        info = json.loads(subprocess.run(["docker", "inspect", row["id"]], capture_output=True, text=True,
                                         check=True).stdout)[0]
        assert info["Config"]["User"] == "lab", name
        assert info["Config"]["Image"] == docker_lab.image, name
        uid = subprocess.run(["docker", "exec", row["id"], "id", "-u"], capture_output=True, text=True).stdout
        assert uid.strip() not in ("", "0"), (name, uid)


def test_the_containers_read_the_topology_written_for_them(docker_lab):
    inside = json.loads((docker_lab.state_dir / "docker" / "topology.json").read_text())
    assert inside["state_dir"] == dc.CONTAINER_STATE_DIR
    assert inside["credentials"] == docker_lab.topology["credentials"]
    # the host's topology, with each TLS service's certificate at its path inside the container
    assert inside["services"] == dc.containers_view(docker_lab.topology)["services"]
    assert inside["services"]["dc"]["tls"] == dc.CONTAINER_TLS and inside["ca"] == {"cert": dc.CONTAINER_CA}
    connector = docker_lab.topology["services"]["ad-connector"]
    assert connector["settings"]["connect_ips"] == [connector["host"]]


def test_the_console_in_its_container_shows_the_labs_directory(docker_lab, page):  # noqa: F811
    base = docker_lab.url("aws-console")
    page.goto(base + "/directoryservice/")
    expect(page).to_have_url(re.compile(r"/signin"))
    page.get_by_label("Account ID").fill("123456789012")
    page.get_by_label("IAM user name").fill("lab-operator")
    page.get_by_label("Password").fill(docker_lab.topology["credentials"]["console_password"])
    page.get_by_role("button", name="Sign in").click()
    directory = seed_of(docker_lab)["aws"]["directory"]["id"]
    page.get_by_role("table", name="Directories").get_by_role("link", name=directory).click()
    expect(page.get_by_label("Directory status")).to_have_text("Active")
    expect(page.get_by_label("RADIUS status")).to_have_text("Completed")
    page.get_by_role("link", name="WorkSpaces", exact=True).click()
    expect(page.get_by_role("table", name="WorkSpaces")).to_contain_text("AVAILABLE")


def test_signin_as_alice_with_the_code_from_her_phone(docker_lab):
    resp = signin(docker_lab, "alice", phone_code(docker_lab, "alice"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["userName"] == "alice" and body["workspaceId"].startswith("ws-")
    # The RADIUS request left from the connector's container address (its ConnectIp).
    events = httpx.get(f"{docker_lab.url('radius-agent', 'admin')}/events", timeout=10,
                       headers=admin_headers(docker_lab.topology)).json()
    peers = [e.get("peer") or "" for e in events if e["kind"].startswith("radius.request")]
    connector = docker_lab.topology["services"]["ad-connector"]["host"]
    assert any(p.split(":")[0] == connector for p in peers), peers


def test_wrong_code_is_refused_with_the_clients_message(docker_lab):
    good = phone_code(docker_lab, "bob")
    resp = signin(docker_lab, "bob", f"{(int(good) + 500000) % 1000000:06d}")
    assert resp.status_code >= 400
    assert resp.json()["message"] == AUTH_FAILED


def test_the_agents_call_the_org_over_https_trusting_the_lab_ca(docker_lab):
    """The agents in their containers verify the org against the mounted lab CA: a TLS-inspecting
    proxy's certificate (the org's intercept_tls fault) fails every sign-in in the JDK's words."""
    okta_admin = docker_lab.url("okta", "admin")
    headers = admin_headers(docker_lab.topology)
    agents = [n for n in docker_lab.topology["services"] if n.startswith("radius-agent")]
    try:
        added = httpx.post(f"{okta_admin}/faults", json={"action": "intercept_tls", "protocol": "https"},
                           headers=headers, timeout=10)
        assert added.status_code == 200, added.text
        resp = signin(docker_lab, "alice", phone_code(docker_lab, "alice"))
        assert resp.status_code >= 400 and resp.json()["message"] == AUTH_FAILED
    finally:
        httpx.delete(f"{okta_admin}/faults", headers=headers, timeout=10)
    reasons = [e["fields"].get("reason") or "" for agent in agents
               for e in httpx.get(f"{docker_lab.url(agent, 'admin')}/events", headers=headers, timeout=10).json()
               if e["kind"] == "radius.request"]
    assert any("PKIX path building failed" in r for r in reasons), reasons


def test_state_survives_down_and_up(docker_lab):
    """Named volumes keep the org's enrolments and the phone's accounts: no re-enrolment."""
    down = docker_lab.runtime.down()
    assert set(down) == set(docker_lab.topology["services"])
    assert docker_lab.runtime.running() == []
    lines = docker_lab.up()
    assert not [line for line in lines if "enrolled" in line], lines
    # bob: alice's current code may already be spent in this 30 s step (replays are refused).
    resp = signin(docker_lab, "bob", phone_code(docker_lab, "bob", steps=1))
    assert resp.status_code == 200, resp.text


def test_restart_brings_the_topologys_new_settings_to_the_container(docker_lab):
    """What a scenario's `given: settings` does: edit the lab's topology.json, restart the service."""
    path = docker_lab.state_dir / "topology.json"
    original = path.read_text()
    topology = json.loads(original)
    topology["services"]["phone"]["settings"]["lab_test_marker"] = 42
    path.write_text(json.dumps(topology))
    try:
        docker_lab.runtime.restart("phone")
        row = engine.containers(dr.load_conf(docker_lab.state_dir))["phone"]
        seen = subprocess.run(["docker", "exec", row["id"], "cat", "/etc/lab/topology.json"],
                              capture_output=True, text=True, check=True).stdout
        assert json.loads(seen)["services"]["phone"]["settings"] == {"lab_test_marker": 42}
        assert json.loads(seen)["state_dir"] == dc.CONTAINER_STATE_DIR
        assert row["state"] == "running" and row["health"] in ("starting", "healthy")
    finally:
        path.write_text(original)
        docker_lab.runtime.restart("phone")


@pytest.mark.parametrize("service", ["okta", "radius-agent"])
def test_a_crashed_container_is_restarted_by_its_policy(docker_lab, service):
    """kill -9 of a service's process (as a crash, not `docker kill`, which Docker counts as a
    deliberate stop): compose's `restart: on-failure` starts it again; sign-ins work after it and the
    org's enrolments (in its volume) are still there: bob's push is answered by his enrolled phone.
    The time it took is printed, not asserted."""
    conf = dr.load_conf(docker_lab.state_dir)
    before = engine.containers(conf)[service]
    pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", before["id"]],
                         capture_output=True, text=True, check=True).stdout.strip()
    started = time.monotonic()
    subprocess.run(["kill", "-9", pid], check=True)
    deadline = started + 180
    while True:
        row = engine.containers(conf).get(service) or {}
        if row.get("restarts", 0) > before["restarts"] and row.get("state") == "running" \
                and healthz(docker_lab, service):
            break
        assert time.monotonic() < deadline, f"{service} did not come back: {row}"
        time.sleep(0.5)
    print(f"{service}: healthy again {time.monotonic() - started:.1f} s after kill -9 (restarts {row['restarts']})")
    if json.loads(Path(conf["topology_file"]).read_text()).get("firewall_gate"):
        # Fail closed: the new namespace got the lab's table before the service started serving.
        new_pid = int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", row["id"]],
                                     capture_output=True, text=True, check=True).stdout)
        assert nft.exists(table_name(docker_lab.topology["subnet"]), new_pid)
        ready = subprocess.run(["docker", "exec", row["id"], "cat", gate.READY], capture_output=True, text=True)
        assert ready.returncode == 0, f"the gate was never opened in the restarted {service}: {ready.stderr}"
    # A push (the phone approves by default): unlike a code, it cannot collide with a code another
    # test here spent in the same 30 s step.
    resp = signin(docker_lab, "bob", "push")
    assert resp.status_code == 200, resp.text


def test_down_removes_its_containers_and_network_and_nothing_else(docker_lab):
    conf = dr.load_conf(docker_lab.state_dir)
    # A stranger: a container of another compose project, from the same image.
    stranger = subprocess.run(
        ["docker", "create", "--label", "com.docker.compose.project=not-the-lab", docker_lab.image, "--help"],
        capture_output=True, text=True, check=True).stdout.strip()
    try:
        docker_lab.runtime.down()
        assert engine.containers(conf) == {}
        nets = subprocess.run(["docker", "network", "ls", "--format", "{{.Name}}"], capture_output=True,
                              text=True, check=True).stdout.split()
        assert f"{conf['project']}_lab" not in nets
        assert subprocess.run(["docker", "inspect", stranger], capture_output=True).returncode == 0
        volumes = subprocess.run(["docker", "volume", "ls", "--format", "{{.Name}}"], capture_output=True,
                                 text=True, check=True).stdout.split()
        assert f"{conf['project']}_okta-state" in volumes   # state is kept unless asked
    finally:
        subprocess.run(["docker", "rm", "--force", "--volumes", stranger], capture_output=True)
        docker_lab.up()


def test_the_cli_drives_the_containers(docker_lab):
    """`lab status` and `lab login` through the CLI, against the lab in containers."""
    def lab(*args):
        return subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(docker_lab.state_dir), *args],
                              capture_output=True, text=True, timeout=180, cwd=ROOT)

    status = lab("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    body = json.loads(status.stdout)
    assert body["runtime"] == "docker" and all(s["healthy"] for s in body["services"].values())
    code = phone_code(docker_lab, "alice", steps=1)
    login = lab("login", "alice", "--mfa", code, "--json")
    assert login.returncode == 0, login.stdout + login.stderr
    logs = lab("logs", "workspaces", "-n", "5")
    assert logs.returncode == 0 and "listening" in logs.stdout


def test_two_radius_agents_in_containers(docker_lab):
    """`--agents 2` (the module's lab): a second agent container; AD Connector lists both agents as
    RADIUS servers."""
    subnet = docker_lab.subnet
    assert docker_lab.topology["services"]["radius-agent-2"]["host"] == f"{subnet}.22"
    assert docker_lab.runtime.status()["radius-agent-2"] in ("starting", "healthy")
    assert healthz(docker_lab, "radius-agent-2")
    resp = signin(docker_lab, "bob", "push")      # a push: no code to collide with another test's
    assert resp.status_code == 200, resp.text
    agents = {f"{subnet}.20", f"{subnet}.22"}
    events = httpx.get(f"{docker_lab.url('ad-connector', 'admin')}/events", timeout=10,
                       headers=admin_headers(docker_lab.topology)).json()
    assert any((e.get("peer") or "").split(":")[0] in agents for e in events)


def test_without_the_image_up_says_how_to_build_it(tmp_path):
    need_docker()
    runtime = DockerRuntime(tmp_path, image="okta-workspaces-lab:no-such-tag")
    with pytest.raises(LabError, match="make images"):
        bring_up(runtime, LabSpec(), enrol=True)
    assert runtime.running() == []
