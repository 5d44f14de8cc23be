"""The agent's own schedule and LDAP paging (dc + okta + ad-agent, blank org, 127.0.94): an
import on start and then every `import_interval_seconds`, reported to the org like the admin's;
the DC's MaxPageSize set to 3 so the directory can only be read with the paged results control;
and the agent's state (last import) surviving its restart."""
from __future__ import annotations

import time

import httpx
import pytest

from lab import process_runtime as pr
from tests.support import admin_headers, running_services, url

SUBNET = "127.0.94"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("ad-agent-schedule")
    settings = {"ad-agent": {"import_on_start": True, "import_interval_seconds": 2, "poll_wait_seconds": 1,
                             "page_size": 2},
                "dc": {"max_page_size": 3}}
    with running_services(["dc", "okta", "ad-agent"], state, SUBNET, blank=True, settings=settings) as topo:
        token = topo["credentials"]["okta_api_token"]
        with httpx.Client(base_url=url(topo, "okta"), headers={"Authorization": f"SSWS {token}"}, timeout=20) as api:
            yield {"topo": topo, "state": state, "api": api}


def jobs(api) -> list[dict]:
    dirs = api.get("/api/v1/directories").json()
    return api.get(f"/api/v1/directories/{dirs[0]['id']}/imports").json() if dirs else []


def wait_jobs(api, n: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        done = [j for j in jobs(api) if j["status"] == "COMPLETED"]
        if len(done) >= n:
            return done
        assert time.monotonic() < deadline, jobs(api)
        time.sleep(0.2)


def test_imports_on_start_and_on_the_interval_with_paged_reads(lab):
    api, topo = lab["api"], lab["topo"]
    done = wait_jobs(api, 2)
    assert all(j["trigger"] == "schedule" for j in done)
    assert done[0]["full"] is True and done[1]["full"] is False, jobs(api)
    assert done[0]["counts"]["users.created"] == 9 and done[1]["counts"]["users.created"] == 0
    searches = [e for e in httpx.get(url(topo, "dc", "admin") + "/events",
                                     headers=admin_headers(topo)).json() if e["kind"] == "ldap.search"
                and e["fields"].get("base", "").lower().startswith("ou=users")]
    assert searches and max(e["fields"].get("entries", 0) for e in searches) <= 3, "pages of at most 3"
    assert len(api.get("/api/v1/users").json()) == 9      # + the org's admin; dave, disabled in AD, is deactivated


def test_agent_restart_keeps_its_registration_and_last_import(lab):
    api, topo, state = lab["api"], lab["topo"], lab["state"]
    agent_id = api.get("/api/v1/directories").json()[0]["agents"][0]["id"]
    pr.stop(state, ["ad-agent"])
    pr.wait_healthy(topo, pr.start(state / "topology.json", topo, ["ad-agent"]), timeout=20)
    health = httpx.get(url(topo, "ad-agent", "admin") + "/healthz").json()
    assert health["healthy"]
    directory = api.get("/api/v1/directories").json()
    assert len(directory) == 1 and [a["id"] for a in directory[0]["agents"]] == [agent_id]
    before = len(jobs(api))
    wait_jobs(api, before + 1)     # the schedule carries on after the restart
    assert len(api.get("/api/v1/users").json()) == 9      # + the org's admin; dave, disabled in AD, is deactivated


def test_an_org_reset_makes_the_agent_register_again(lab):
    api, topo = lab["api"], lab["topo"]
    before = api.get("/api/v1/directories").json()[0]["id"]
    assert httpx.post(url(topo, "okta", "admin") + "/reset", headers=admin_headers(topo)).status_code == 200
    deadline = time.monotonic() + 30
    while not (after := api.get("/api/v1/directories").json()):
        assert time.monotonic() < deadline, "the agent did not register again"
        time.sleep(0.2)
    assert after[0]["id"] != before and after[0]["agents"][0]["status"] == "ACTIVE"
    registrations = [e for e in httpx.get(url(topo, "ad-agent", "admin") + "/events",
                                          headers=admin_headers(topo)).json()
                     if e["kind"] == "agent.register" and e["outcome"] == "registered"]
    assert len(registrations) >= 2


def test_scheduled_imports_stay_full_until_a_full_import_completes(lab):
    """The import on start can fail (here the DC is down, as when it is still starting): the
    next scheduled import must be full again, since there is nothing to be incremental from."""
    api, topo, state = lab["api"], lab["topo"], lab["state"]
    pr.stop(state, ["dc", "ad-agent"])
    assert httpx.post(url(topo, "okta", "admin") + "/reset",
                      headers=admin_headers(topo)).status_code == 200   # a new integration
    pr.wait_healthy(topo, pr.start(state / "topology.json", topo, ["ad-agent"]), timeout=20)
    deadline = time.monotonic() + 30
    while not any(j["status"] == "FAILED" for j in jobs(api)):
        assert time.monotonic() < deadline, jobs(api)
        time.sleep(0.2)
    pr.wait_healthy(topo, pr.start(state / "topology.json", topo, ["dc"]), timeout=20)
    completed = wait_jobs(api, 1)
    assert completed[0]["full"] is True and completed[0]["counts"]["users.created"] == 9, jobs(api)
