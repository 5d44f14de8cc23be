"""The Okta AD agent as a process with the DC and the org (blank org, 127.0.94): registration,
imports on demand through the org (users STAGED with their AD attributes, groups, memberships),
idempotent re-imports, an AD change reaching Okta, an Okta-mastered login left alone, a user
disabled in AD deactivated in Okta, and delegated authentication through the agent (right, wrong,
locked, expired AD passwords)."""
from __future__ import annotations

import time

import httpx
import ldap3
import pytest

from lab.client_env import lab_verify, org_url
from tests.support import admin_headers, running_services, url

SUBNET = "127.0.94"


def wait_for(read, done=bool, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out; last value {value!r}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    settings = {"ad-agent": {"poll_wait_seconds": 2}, "okta": {"delegated_auth": "auto"}}
    with running_services(["dc", "okta", "ad-agent"], tmp_path_factory.mktemp("ad-agent"), SUBNET,
                          blank=True, settings=settings) as topology:
        yield topology


@pytest.fixture(scope="module")
def api(topo):
    token = topo["credentials"]["okta_api_token"]
    with httpx.Client(base_url=org_url(topo), headers={"Authorization": f"SSWS {token}"}, timeout=20,
                      verify=lab_verify(topo)) as c:
        yield c


@pytest.fixture(scope="module")
def directory(api):
    return wait_for(lambda: api.get("/api/v1/directories").json())[0]


def run_import(api, directory) -> dict:
    job = api.post(f"/api/v1/directories/{directory['id']}/import", json={})
    assert job.status_code == 202
    done = wait_for(lambda: api.get(job.json()["_links"]["self"]["href"]).json(),
                    lambda j: j["status"] in ("COMPLETED", "FAILED"))
    assert done["status"] == "COMPLETED", done
    return done["counts"]


def test_agent_registers_as_the_active_directory_integration(directory, topo):
    assert directory["name"] == "active_directory" and directory["domain"] == "corp.example.com"
    assert directory["agents"][0]["host"] == topo["services"]["ad-agent"]["host"]
    assert directory["agents"][0]["status"] == "ACTIVE"


def test_first_import_creates_staged_users_groups_and_memberships(api, directory, topo):
    # an Okta-mastered user that happens to have an AD user's login is left alone
    api.post("/api/v1/users", params={"activate": "true"}, json={
        "profile": {"login": "ivan@corp.example.com", "firstName": "Okta", "lastName": "Ivan"},
        "credentials": {"password": {"value": "Okta-Passw0rd!"}}})
    counts = run_import(api, directory)
    assert counts["users.created"] == 8 and counts["users.conflicts"] == 1 and counts["users.excluded"] == 1
    # dave is disabled in AD: created, then deactivated (the integration's default lifecycle rule)
    assert counts["users.disabled_in_ad"] == 1 and counts["users.deactivated"] == 1
    assert api.get("/api/v1/users/dave@corp.example.com").json()["status"] == "DEPROVISIONED"
    assert counts["groups.created"] == 3 and counts["memberships.added"] >= 10
    users = {u["profile"]["login"]: u for u in api.get("/api/v1/users").json()}
    alice = users["alice@corp.example.com"]
    assert alice["status"] == "STAGED"
    assert alice["credentials"]["provider"] == {"type": "ACTIVE_DIRECTORY", "name": "corp.example.com"}
    assert alice["profile"].items() >= {"login": "alice@corp.example.com", "email": "alice@corp.example.com",
                                        "firstName": "Alice", "lastName": "Anderson", "samAccountName": "alice",
                                        "userName": "alice@corp.example.com"}.items()
    assert users["ivan@corp.example.com"]["profile"]["firstName"] == "Okta"
    assert not any(u.startswith("administrator@") or u.startswith("svc-") for u in users)
    groups = {g["profile"]["name"]: g["id"] for g in api.get("/api/v1/groups").json()}
    fte = {u["profile"]["login"] for u in api.get(f"/api/v1/groups/{groups['Full time employees']}/users").json()}
    assert fte == {"alice@corp.example.com", "bob@corp.example.com", "carol@corp.example.com"}
    events = httpx.get(url(topo, "ad-agent", "admin") + "/events", headers=admin_headers(topo)).json()
    done = [e for e in events if e["kind"] == "agent.import"][-1]
    assert done["outcome"] == "COMPLETED" and done["fields"]["users.created"] == 8
    ldap = [e for e in events if e["kind"] == "agent.ldap"][-1]
    assert ldap["peer"] == topo["services"]["dc"]["host"] and ldap["fields"]["bind"] == "CORP\\svc-oktaagent"
    dc_events = httpx.get(url(topo, "dc", "admin") + "/events", headers=admin_headers(topo)).json()
    assert any(e["kind"] == "ldap.search" and e["peer"].startswith(topo["services"]["ad-agent"]["host"])
               for e in dc_events), "the agent reads AD from its own address"
    logs = api.get("/api/v1/logs", params={"filter": 'eventType eq "system.import.complete"'}).json()
    assert logs and logs[-1]["target"][0]["detailEntry"]["users.created"] == 8


def test_reimport_is_idempotent_and_follows_ad_changes(api, directory, topo):
    counts = run_import(api, directory)
    assert counts["users.created"] == 0 and counts["users.updated"] == 0 and counts["groups.created"] == 0
    assert counts["memberships.added"] == 0 and counts["users.unchanged"] == 8 and counts["users.deactivated"] == 0
    host, port = topo["services"]["dc"]["host"], topo["services"]["dc"]["ports"]["ldap"]
    conn = ldap3.Connection(ldap3.Server(host, port=port), user="CORP\\Administrator", password="Admin-Passw0rd!",
                            auto_bind=True)
    conn.search("DC=corp,DC=example,DC=com", "(sAMAccountName=bob)")
    assert conn.modify(conn.entries[0].entry_dn, {"givenName": [(ldap3.MODIFY_REPLACE, ["Robert"])]}), conn.result
    conn.unbind()
    counts = run_import(api, directory)
    assert counts["users.updated"] == 1
    assert api.get("/api/v1/users/bob@corp.example.com").json()["profile"]["firstName"] == "Robert"
    assert len(api.get("/api/v1/users").json()) == 9, \
        "7 imported, Okta's ivan and the org's administrator; deactivated dave is not listed"


def set_uac(topo, sam: str, value: int) -> None:
    host, port = topo["services"]["dc"]["host"], topo["services"]["dc"]["ports"]["ldap"]
    conn = ldap3.Connection(ldap3.Server(host, port=port), user="CORP\\Administrator", password="Admin-Passw0rd!",
                            auto_bind=True)
    conn.search("DC=corp,DC=example,DC=com", f"(sAMAccountName={sam})")
    assert conn.modify(conn.entries[0].entry_dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(value)])]})
    conn.unbind()


def test_disabling_in_ad_deactivates_in_okta_and_enabling_does_not_reactivate_by_default(api, directory, topo):
    uid = api.get("/api/v1/users/grace@corp.example.com").json()["id"]
    assert api.post(f"/api/v1/users/{uid}/lifecycle/activate", params={"sendEmail": "false"}).status_code == 200
    set_uac(topo, "grace", 514)                  # ACCOUNTDISABLE
    try:
        assert run_import(api, directory)["users.deactivated"] == 1
        assert api.get(f"/api/v1/users/{uid}").json()["status"] == "DEPROVISIONED"
        logs = api.get("/api/v1/logs", params={"filter": 'eventType eq "user.lifecycle.deactivate"'}).json()
        assert any(t["alternateId"] == "grace@corp.example.com" for e in logs for t in e["target"])
    finally:
        set_uac(topo, "grace", 512)
    counts = run_import(api, directory)
    assert counts["users.reactivated"] == 0 and api.get(f"/api/v1/users/{uid}").json()["status"] == "DEPROVISIONED"


def test_delegated_authentication_goes_through_the_agent(api, topo):
    base = url(topo, "okta")
    for sam in ("alice", "erin", "frank"):
        uid = api.get(f"/api/v1/users/{sam}@corp.example.com").json()["id"]
        assert api.post(f"/api/v1/users/{uid}/lifecycle/activate", params={"sendEmail": "false"}).status_code == 200
    ok = httpx.post(f"{base}/api/v1/authn", json={"username": "alice@corp.example.com", "password": "Alice-Passw0rd!"})
    assert ok.status_code == 200 and ok.json()["status"] == "SUCCESS", ok.text
    bad = httpx.post(f"{base}/api/v1/authn", json={"username": "alice", "password": "Wrong-Passw0rd!"})
    assert bad.status_code == 401 and bad.json()["errorCode"] == "E0000004"
    locked = httpx.post(f"{base}/api/v1/authn", json={"username": "erin", "password": "Erin-Passw0rd!"})
    assert locked.status_code == 401 and locked.json()["errorCode"] == "E0000004", "hidden by default"
    expired = httpx.post(f"{base}/api/v1/authn", json={"username": "frank", "password": "Frank-Passw0rd!"}).json()
    assert expired["status"] == "PASSWORD_EXPIRED" and expired["_links"]["next"]["name"] == "changePassword"
    # showLockoutFailures: the password policy reveals the AD lockout as LOCKED_OUT
    policy = api.get("/api/v1/policies", params={"type": "PASSWORD"}).json()[0]
    policy["settings"]["password"]["lockout"]["showLockoutFailures"] = True
    assert api.put(f"/api/v1/policies/{policy['id']}", json=policy).status_code == 200
    shown = httpx.post(f"{base}/api/v1/authn", json={"username": "erin", "password": "Erin-Passw0rd!"}).json()
    assert shown["status"] == "LOCKED_OUT" and shown["_links"]["next"]["name"] == "unlock"
    outcomes = [e["outcome"] for e in httpx.get(url(topo, "ad-agent", "admin") + "/events",
                                                headers=admin_headers(topo)).json()
                if e["kind"] == "agent.auth"]
    assert outcomes[:4] == ["ok", "bad_password", "locked", "password_expired"]
    everything = httpx.get(url(topo, "ad-agent", "admin") + "/events", headers=admin_headers(topo)).text + \
        httpx.get(url(topo, "okta", "admin") + "/events", headers=admin_headers(topo)).text
    assert "Passw0rd" not in everything
    binds = [e for e in httpx.get(url(topo, "dc", "admin") + "/events",
                                  headers=admin_headers(topo)).json() if e["kind"] == "ldap.bind"]
    assert binds[-1]["peer"].startswith(topo["services"]["ad-agent"]["host"]), "the agent binds, not the org"


def test_an_expired_ad_password_is_changed_in_ad_through_the_agent(api, topo):
    """Frank's AD password has expired: at the sign-in he changes it; the org hands the change to
    the AD agent, which makes it in AD (the change operation, as its service account, over
    StartTLS); the new password then works in AD and at the org."""
    base = org_url(topo)
    web = httpx.Client(verify=lab_verify(topo), timeout=10)  # the org's links are HTTPS (lab CA)
    uid = api.get("/api/v1/users/frank@corp.example.com").json()["id"]
    api.post(f"/api/v1/users/{uid}/lifecycle/activate", params={"sendEmail": "false"})
    tx = web.post(f"{base}/api/v1/authn", json={"username": "frank", "password": "Frank-Passw0rd!"}).json()
    assert tx["status"] == "PASSWORD_EXPIRED"
    change = tx["_links"]["next"]["href"]
    wrong = web.post(change, json={"stateToken": tx["stateToken"], "oldPassword": "Not-His-Passw0rd!",
                                     "newPassword": "Frank-N3w-Passw0rd!"}, timeout=30)
    assert wrong.status_code == 403 and wrong.json()["errorCode"] == "E0000014", wrong.text
    assert "Old password is not correct" in wrong.text
    short = web.post(change, json={"stateToken": tx["stateToken"], "oldPassword": "Frank-Passw0rd!",
                                     "newPassword": "Sh0rt!"}, timeout=30)
    assert short.status_code == 403 and short.json()["errorCode"] == "E0000080", short.text
    done = web.post(change, json={"stateToken": tx["stateToken"], "oldPassword": "Frank-Passw0rd!",
                                    "newPassword": "Frank-N3w-Passw0rd!"}, timeout=30)
    assert done.status_code == 200 and done.json()["status"] == "SUCCESS", done.text
    dc = topo["services"]["dc"]
    conn = ldap3.Connection(ldap3.Server(dc["host"], port=dc["ports"]["ldap"], get_info=ldap3.NONE),
                            user="CORP\\frank", password="Frank-N3w-Passw0rd!")
    assert conn.bind(), conn.result
    conn.unbind()
    again = web.post(f"{base}/api/v1/authn", json={"username": "frank", "password": "Frank-N3w-Passw0rd!"})
    assert again.json()["status"] == "SUCCESS"
    events = web.get(url(topo, "ad-agent", "admin") + "/events", headers=admin_headers(topo)).json()
    changes = [e["outcome"] for e in events if e["kind"] == "agent.password_change"]
    assert changes == ["bad_old_password", "policy", "ok"]
    assert "N3w-Passw0rd" not in str(events)
