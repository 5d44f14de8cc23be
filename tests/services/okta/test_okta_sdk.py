"""What an admin script does with the official okta SDK (okta-sdk-python 3.x) against the org as a
process (okta only, 127.0.26): add the walkthrough's RADIUS app from the catalog by name, search
the System Log with `q`, list authenticators, agent pools and a user's app links."""
import asyncio

import pytest

from tests.services.okta.helpers import org_client
from tests.support import running_services, url

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
    monkeypatch.setenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")
    return lambda: okta_client.Client({"orgUrl": url(topo, "okta"), "token": topo["credentials"]["okta_api_token"]})


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
