"""What an admin script does with the official okta SDK (okta-sdk-python 3.x) against the org as a
process (okta only, 127.0.26), over HTTPS and trusting the lab CA as a script would trust a real
org's certificate (no plain-HTTP switch): with `lab env`'s environment, or refused without the CA;
add the walkthrough's RADIUS app from the catalog by name, search
the System Log with `q`, list authenticators (consistent with the factor types), the AD agent's
pool and a user's app links."""
import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import httpx
import pytest

from lab.client_env import client_env, lab_verify, org_url
from tests.services.okta.support import org_client, sdk_config
from tests.support import admin_headers, running_services, url

okta_client = pytest.importorskip("okta.client")


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    with running_services(["okta"], tmp_path_factory.mktemp("okta-sdk"), "127.0.26") as topology:
        yield topology


@pytest.fixture(scope="module")
def api(topo):
    with org_client(topo) as client:
        yield client


@pytest.fixture()
def sdk(topo, monkeypatch):
    monkeypatch.delenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", raising=False)
    return lambda: okta_client.Client(sdk_config(topo))


# What an admin script does after `eval "$(lab env)"`: the SDK's config from the environment only.
ENV_SCRIPT = """
import asyncio, okta.client
async def main():
    client = okta.client.Client()
    users, _, err = await client.list_users(q="alice")
    print(client.get_config()["client"]["orgUrl"], err is None and [u.profile.login for u in users] or err)
asyncio.run(main())
"""


def test_lab_env_gives_the_sdk_the_org_over_https(topo):
    env = client_env(Path(topo["state_dir"]), topo)
    assert env["OKTA_CLIENT_ORGURL"].startswith("https://") and "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK" not in env
    bundle = Path(env["SSL_CERT_FILE"]).read_text()
    assert bundle.endswith(Path(topo["ca"]["cert"]).read_text()), "the lab CA closes the bundle"
    out = subprocess.run([sys.executable, "-c", ENV_SCRIPT], capture_output=True, text=True, timeout=60,
                         env=env | {"PATH": os.environ["PATH"]})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [env["OKTA_CLIENT_ORGURL"], "['alice@corp.example.com']"], out.stdout


def test_sdk_refuses_the_org_without_the_lab_ca(topo, monkeypatch):
    monkeypatch.delenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", raising=False)
    config = sdk_config(topo)
    del config["httpClient"]            # the machine's CAs only (aiohttp's default context)

    async def drive():
        # The request executor's own answer (list_users() itself fails on the missing response).
        executor = okta_client.Client(config).get_request_executor()
        request, err = await executor.create_request("GET", config["orgUrl"] + "/api/v1/users", {}, {})
        assert err is None, err
        return await executor.execute(request)

    _, _, err = asyncio.run(drive())
    assert isinstance(err, aiohttp.ClientConnectorCertificateError), err
    assert "certificate verify failed" in str(err)
    # and the plain-HTTP port is not an org URL the SDK takes
    with pytest.raises(ValueError, match="https"):
        okta_client.Client(config | {"orgUrl": url(topo, "okta")})


def test_sdk_adds_the_radius_app_from_the_catalog_by_name(sdk, api):
    from okta.models import Application, BasicAuthApplication

    async def drive():
        client = sdk()
        # The SDK sends `name` only on models with a signOnMode of its own enum (no RADIUS) and
        # only the settings.app they model: the catalog name alone must make the RADIUS app.
        app, _, err = await client.create_application(BasicAuthApplication(
            name="radius_workspaces", label="Amazon WorkSpaces", sign_on_mode="BASIC_AUTH",
            settings={"app": {"url": "https://workspaces.example.com", "authURL": "https://workspaces.example.com"}}))
        assert err is None, err
        # Application.from_dict keeps an unknown signOnMode but drops the name.
        other, _, err = await client.create_application(
            Application.from_dict({"label": "Other RADIUS", "signOnMode": "RADIUS"}))
        assert err is None, err
        return app.id, other.id

    app_id, other_id = asyncio.run(drive())
    public = api.get(f"/api/v1/apps/{app_id}").json()
    assert public["name"] == "radius_workspaces" and public["signOnMode"] == "RADIUS"
    assert public["label"] == "Amazon WorkSpaces" and public["status"] == "ACTIVE"
    private = {a["id"]: a for a in api.get("/api/v1/radius/apps").json()}
    mine = private[app_id]
    assert mine["port"] == 1812 and len(mine["sharedSecret"]) >= 16
    assert mine["primaryAuth"] is False and mine["inlineEnrollment"] is True
    assert private[other_id]["name"] == "radius"
    # The walkthrough's settings, afterwards (what the SDK could not send).
    changed = api.put(f"/api/v1/radius/apps/{app_id}", json={"sharedSecret": "Walkthrough-Secret-2026",
                                                             "usernameFormat": "ad_sam_account_name"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["usernameTemplate"] == "${source.samAccountName}"
    # A name outside the catalog with a mode the lab does not host is still refused.
    refused = api.post("/api/v1/apps", json={"name": "salesforce", "label": "SF", "signOnMode": "SAML_2_0"})
    assert refused.status_code == 400 and refused.json()["errorCode"] == "E0000001"
    for aid in (app_id, other_id):
        api.post(f"/api/v1/apps/{aid}/lifecycle/deactivate")


def test_sdk_log_search_q_finds_actors_and_targets(sdk, api):
    alice = api.get("/api/v1/users/alice@corp.example.com").json()
    assert api.post(f"/api/v1/users/{alice['id']}/lifecycle/suspend").status_code == 200
    assert api.post(f"/api/v1/users/{alice['id']}/lifecycle/unsuspend").status_code == 200

    async def drive():
        client = sdk()
        found = {}
        for q in ("alice", "ALICE unsuspend", "alice nosuchword", "Lab admin", "lab API token alice"):
            events, _, err = await client.list_log_events(q=q, limit=1000)
            assert err is None, err
            found[q] = events
        return found

    found = asyncio.run(drive())
    types = {e.event_type for e in found["alice"]}
    assert {"user.lifecycle.suspend", "user.lifecycle.unsuspend"} <= types, types
    assert all(any("alice" in (t.alternate_id or "").lower() for t in e.target) for e in found["alice"]
               if e.event_type.startswith("user.lifecycle"))
    assert {e.event_type for e in found["ALICE unsuspend"]} == {"user.lifecycle.unsuspend"}
    assert found["alice nosuchword"] == []
    # The actor is searched too: the admin's token made the changes.
    assert {"user.lifecycle.suspend"} <= {e.event_type for e in found["lab API token alice"]}
    assert len(found["Lab admin"]) >= 2


def test_sdk_lists_authenticators_from_the_factor_types(sdk, api):
    async def listed():
        found, _, err = await sdk().list_authenticators()
        assert err is None, err
        return {a.key.value: a for a in found}

    def status(a):
        return a.status.value

    before = asyncio.run(listed())
    assert {"okta_verify", "phone_number", "okta_email", "google_otp", "okta_password"} <= before.keys()
    assert all(status(a) == "ACTIVE" for a in before.values())
    raw = {a["key"]: a for a in api.get("/api/v1/authenticators").json()}
    assert raw["okta_verify"]["type"] == "app" and raw["phone_number"]["type"] == "phone"
    assert raw["okta_verify"]["id"].startswith("aut") and raw["okta_verify"]["settings"]["methods"] == ["push", "totp"]
    assert api.get(f"/api/v1/authenticators/{raw['google_otp']['id']}").json()["key"] == "google_otp"
    assert api.get("/api/v1/authenticators/autNoSuchThing").json()["errorCode"] == "E0000007"
    # Consistent with the factor types: Google Authenticator off, then SMS and voice off.
    try:
        for fid in ("google_otp", "okta_sms", "okta_call"):
            assert api.post(f"/api/v1/org/factors/{fid}/lifecycle/deactivate").status_code == 200
        after = asyncio.run(listed())
        assert status(after["google_otp"]) == "INACTIVE" and status(after["phone_number"]) == "INACTIVE"
        assert status(after["okta_verify"]) == "ACTIVE"
        assert api.post("/api/v1/org/factors/okta_push/lifecycle/deactivate").status_code == 200
        raw = {a["key"]: a for a in api.get("/api/v1/authenticators").json()}
        assert raw["okta_verify"]["status"] == "ACTIVE" and raw["okta_verify"]["settings"]["methods"] == ["totp"]
        assert raw["okta_verify"]["id"] == before["okta_verify"].id
    finally:
        for fid in ("google_otp", "okta_sms", "okta_call", "okta_push"):
            api.post(f"/api/v1/org/factors/{fid}/lifecycle/activate")


def test_sdk_lists_the_ad_agent_pool(sdk, api, topo):
    reg = api.post("/api/v1/agents/ad/register", json={"domain": "corp.example.com", "netbiosName": "CORP",
                                                        "host": "instanceokta", "version": "3.20.0"})
    assert reg.status_code == 200, reg.text
    agent_id, dir_id = reg.json()["agentId"], reg.json()["directoryId"]

    async def drive():
        client = sdk()
        pools, _, err = await client.list_agent_pools()
        assert err is None, err
        ad, _, err = await client.list_agent_pools(pool_type="AD")
        assert err is None, err
        radius, _, err = await client.list_agent_pools(pool_type="Radius")
        assert err is None, err
        return pools, ad, radius

    pools, ad, radius = asyncio.run(drive())
    assert [p.id for p in pools] == [dir_id] and [p.id for p in ad] == [dir_id] and radius == []
    pool = pools[0]
    assert pool.name == "corp.example.com" and pool.type.value == "AD"
    assert pool.operational_status.value == "OPERATIONAL"
    assert [(a.id, a.name, a.version, a.pool_id) for a in pool.agents] == [(agent_id, "instanceokta", "3.20.0", dir_id)]
    assert pool.agents[0].operational_status.value == "OPERATIONAL" and pool.agents[0].last_connection > 0
    bad = api.get("/api/v1/agentPools", params={"poolType": "NOPE"})
    assert bad.status_code == 400 and bad.json()["errorCode"] == "E0000001"
    assert api.get("/api/v1/agentPools", params={"agentTypes": "AD"}).json()[0]["id"] == dir_id
    # silent: DISRUPTED after 30 s, INACTIVE after agent_inactive_days (7) on the org's clock
    clock = url(topo, "okta", "admin") + "/clock"
    try:
        for offset, want in ((60, "DISRUPTED"), (8 * 86400, "INACTIVE")):
            assert httpx.post(clock, json={"offset_seconds": offset}, headers=admin_headers(topo)).status_code == 200
            pool = asyncio.run(drive())[1][0]
            assert pool.operational_status.value == want and pool.agents[0].operational_status.value == want
            raw = api.get("/api/v1/agentPools").json()[0]
            assert (raw["disruptedAgents"], raw["inactiveAgents"]) == ((1, 0) if want == "DISRUPTED" else (0, 1))
            status = api.get(f"/api/v1/directories/{dir_id}").json()["agents"][0]["status"]
            assert status == want
    finally:
        httpx.post(clock, json={"offset_seconds": 0}, headers=admin_headers(topo))


def test_sdk_lists_a_users_app_links(sdk, api):
    app = api.post("/api/v1/apps", json={"name": "bookmark", "label": "Wiki", "signOnMode": "BOOKMARK",
                                         "settings": {"app": {"url": "https://wiki.example.com/"}}}).json()
    bob = api.get("/api/v1/users/bob@corp.example.com").json()
    assert api.post(f"/api/v1/apps/{app['id']}/users", json={"id": bob["id"]}).status_code == 200

    async def drive():
        links, _, err = await sdk().list_app_links(bob["id"])
        assert err is None, err
        return links

    links = asyncio.run(drive())
    wiki = [link for link in links if link.app_instance_id == app["id"]]
    assert len(wiki) == 1 and wiki[0].label == "Wiki" and wiki[0].app_name == "bookmark"
    assert wiki[0].link_url.endswith(f"/home/bookmark/{app['id']}/link")
    assert all(link.app_name != "radius_workspaces" for link in links)     # RADIUS apps have no link
    api.post(f"/api/v1/apps/{app['id']}/lifecycle/deactivate")


def _actor_of(api, user_id: str, event_type: str) -> dict:
    events = api.get("/api/v1/logs", params={
        "filter": f'eventType eq "{event_type}" and target.id eq "{user_id}"', "limit": 1000}).json()
    assert events, f"no {event_type} for {user_id}"
    return events[-1]["actor"]


def test_self_service_enrolment_names_the_user_and_imports_name_okta_system(sdk, api, topo):
    import httpx
    import pyotp

    policy = api.post("/api/v1/policies", json={
        "type": "MFA_ENROLL", "name": "Self-service for everyone", "priority": 1,
        "settings": {"type": "FACTORS", "factors": {"okta_otp": {"enroll": {"self": "REQUIRED"}},
                                                    "okta_push": {"enroll": {"self": "REQUIRED"}}}}}).json()
    api.post(f"/api/v1/policies/{policy['id']}/rules", json={"name": "first sign in",
                                                              "actions": {"enroll": {"self": "LOGIN"}}})
    base = org_url(topo)
    web = httpx.Client(verify=lab_verify(topo), timeout=10)  # the org's links are HTTPS (lab CA)
    try:
        olga = api.post("/api/v1/users", params={"activate": "true"}, json={
            "profile": {"login": "olga@corp.example.com", "firstName": "Olga", "lastName": "Tester"},
            "credentials": {"password": {"value": "Olga-Passw0rd!"}}}).json()
        tx = web.post(f"{base}/api/v1/authn", json={"username": "olga@corp.example.com",
                                                      "password": "Olga-Passw0rd!"}).json()
        assert tx["status"] == "MFA_ENROLL", tx
        # Okta Verify's code, then its push, as the sign-in widget would.
        tx = web.post(f"{base}/api/v1/authn/factors", json={
            "stateToken": tx["stateToken"], "factorType": "token:software:totp", "provider": "OKTA"}).json()
        secret = tx["_embedded"]["factor"]["_embedded"]["activation"]["sharedSecret"]
        tx = web.post(tx["_links"]["next"]["href"], json={"stateToken": tx["stateToken"],
                                                            "passCode": pyotp.TOTP(secret).now()}).json()
        assert tx["status"] == "MFA_ENROLL", tx
        tx = web.post(f"{base}/api/v1/authn/factors", json={
            "stateToken": tx["stateToken"], "factorType": "push", "provider": "OKTA"}).json()
        qr = tx["_embedded"]["factor"]["_embedded"]["activation"]["qrContents"]
        activation_token = qr.split("t=")[1].split("&")[0]
        phone = web.post(f"{base}/idp/authenticators/okta-verify/enroll", json={
            "activationToken": activation_token, "pushEndpoint": "http://127.0.0.1:9/push"})
        assert phone.status_code == 200, phone.text
        me = {"id": olga["id"], "type": "User", "alternateId": "olga@corp.example.com", "displayName": "Olga Tester"}
        events = api.get("/api/v1/logs", params={"filter": f'target.id eq "{olga["id"]}"', "limit": 1000}).json()
        mfa = [e for e in events if e["eventType"] in ("user.mfa.factor.update", "user.mfa.factor.activate")]
        assert len(mfa) == 4, [e["eventType"] for e in mfa]      # TOTP and push, each enrolled then activated
        assert all(e["actor"] == me for e in mfa), [e["actor"] for e in mfa]
        # An admin's enrolment through the Factors API still names the admin's token.
        api.post(f"/api/v1/users/{olga['id']}/factors", json={"factorType": "token:software:totp",
                                                              "provider": "GOOGLE"})
        assert _actor_of(api, olga["id"], "user.mfa.factor.update")["alternateId"] == "lab API token"
    finally:
        api.delete(f"/api/v1/policies/{policy['id']}")

    # What the AD agent's import does is Okta System's (the agent's own User-Agent, the lab's token).
    agent = {"User-Agent": "Okta AD Agent/3.16.0 (lab)"}
    imported = api.post("/api/v1/users", params={"activate": "false"}, headers=agent, json={
        "profile": {"login": "imported@corp.example.com", "firstName": "Imp", "lastName": "Orted"}}).json()
    group = api.get("/api/v1/groups", params={"q": "WorkSpaces Users"}).json()[0]
    assert api.put(f"/api/v1/groups/{group['id']}/users/{imported['id']}", headers=agent).status_code == 204
    system = {"id": "0oaOktaSystem0000000", "type": "SystemPrincipal", "alternateId": "system@okta.com",
              "displayName": "Okta System"}
    assert _actor_of(api, imported["id"], "user.lifecycle.create") == system
    assert _actor_of(api, imported["id"], "group.user_membership.add") == system

    async def drive():
        events, _, err = await sdk().list_log_events(q="olga factor")
        assert err is None, err
        return events

    assert {e.actor.alternate_id for e in asyncio.run(drive()) if e.event_type.startswith("user.mfa.factor")
            and e.event_type != "user.mfa.factor.update"} == {"olga@corp.example.com"}
