"""The org's sms factor and groupReturn as the real RADIUS agent uses them (okta + phone +
radius-agent, 127.0.73): MFA only, `sms` makes the org text a code and the agent reject, the
next request carrying that code is accepted, with the user's groups in Class (attribute 25);
with "Okta performs primary authentication", `password,sms` then `password,<code>`."""
from __future__ import annotations

import re
import time

import httpx
import pytest
from pyrad import packet as rp

from tests.services.okta.support import org_client
from tests.services.radius_agent.fakes import RadiusClient, access_request, decode_reply
from tests.support import admin_headers, running_services, url

SUBNET = "127.0.73"
NAS_IP = f"{SUBNET}.41"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"radius-agent": {"app_refresh_seconds": 1}}
    with running_services(["okta", "phone", "radius-agent"], tmp_path_factory.mktemp("okta-ra-sms"), SUBNET,
                          settings=settings, timeout=60) as topo, org_client(topo) as api:
        yield topo, api


@pytest.fixture
def nas(lab):
    svc = lab[0]["services"]["radius-agent"]
    c = RadiusClient((svc["host"], svc["ports"]["radius"]), NAS_IP)
    yield c
    c.close()


def ask(lab, nas, user, password):
    req = access_request(lab[0]["credentials"]["radius_shared_secret"].encode(), user, password)
    data = nas.exchange(req, timeout=15)
    assert data is not None, "no answer from the agent"
    return decode_reply(req, data)


def advance(lab, seconds=31):
    href = url(lab[0], "okta", "admin") + "/clock"
    now = httpx.get(href, headers=admin_headers(lab[0])).json()["offset_seconds"]
    httpx.post(href, json={"offset_seconds": now + seconds}, headers=admin_headers(lab[0]))


def sms_code(lab, to: str, after: int = 0) -> tuple[str, int]:
    phone = url(lab[0], "phone")
    deadline = time.monotonic() + 10
    while not (msgs := [m for m in httpx.get(f"{phone}/messages", params={"to": to}).json() if m["id"] > after]):
        assert time.monotonic() < deadline, f"no SMS to {to}"
        time.sleep(0.1)
    return re.search(r"code is (\d{6})", msgs[-1]["text"]).group(1), msgs[-1]["id"]


def enrol_sms(api, lab, uid: str, number: str) -> int:
    f = api.post(f"/api/v1/users/{uid}/factors", json={"factorType": "sms", "provider": "OKTA",
                                                       "profile": {"phoneNumber": number}}).json()
    code, seen = sms_code(lab, number)
    assert api.post(f["_links"]["activate"]["href"], json={"passCode": code}).json()["status"] == "ACTIVE"
    return seen


def test_sms_keyword_then_code_with_groups_in_class(lab, nas):
    api = lab[1]
    app = api.get("/api/v1/radius/apps").json()[0]
    group_return = {"groupReturn": {"attribute": 25, "groups": []}}
    assert api.put(f"/api/v1/radius/apps/{app['id']}", json=group_return).status_code == 200
    dave = api.get("/api/v1/users/dave@corp.example.com").json()
    seen = enrol_sms(api, lab, dave["id"], "+15550104444")
    advance(lab)                                             # past the 30 s since the activation SMS
    time.sleep(1.5)                                          # the agent re-reads the app (groupReturn)
    assert ask(lab, nas, "dave", "SMS").code == rp.AccessReject      # "initially returns a failure"
    code, seen = sms_code(lab, "+15550104444", seen)
    reply = ask(lab, nas, "dave", code)
    assert reply.code == rp.AccessAccept
    classes = [v.decode() if isinstance(v, bytes) else v for v in reply["Class"]]
    assert classes == ["Everyone", "WorkSpaces Users"]        # all his groups, the built-in one too
    assert ask(lab, nas, "dave", code).code == rp.AccessReject        # the code is used once
    assert ask(lab, nas, "dave", "sms").code == rp.AccessReject       # throttled: no new SMS
    time.sleep(0.5)
    assert [m["id"] for m in httpx.get(url(lab[0], "phone") + "/messages", params={"to": "+15550104444"}).json()
            if m["id"] > seen] == []
    api.put(f"/api/v1/radius/apps/{app['id']}", json={"groupReturn": None})


def test_primary_auth_password_comma_sms(lab, nas):
    api = lab[1]
    app = api.get("/api/v1/radius/apps").json()[0]
    olga = api.post("/api/v1/users", params={"activate": "true"}, json={
        "profile": {"login": "olga@corp.example.com", "firstName": "Olga", "lastName": "O"},
        "credentials": {"password": {"value": "Olga-Passw0rd1"}}}).json()
    assert api.post(f"/api/v1/apps/{app['id']}/users",
                    json={"id": olga["id"], "credentials": {"userName": "olga"}}).status_code == 200
    seen = enrol_sms(api, lab, olga["id"], "+15550105555")
    advance(lab)
    api.put(f"/api/v1/radius/apps/{app['id']}", json={"primaryAuth": True})
    try:
        time.sleep(1.5)
        assert ask(lab, nas, "olga", "Olga-Passw0rd1,sms").code == rp.AccessReject
        code, _ = sms_code(lab, "+15550105555", seen)
        assert ask(lab, nas, "olga", f"Olga-Passw0rd1,{code}").code == rp.AccessAccept
    finally:
        api.put(f"/api/v1/radius/apps/{app['id']}", json={"primaryAuth": False})
