"""The walkthrough's onboarding, end to end, in a blank lab (127.0.95.x): the org starts empty
while the DC has its directory, and everything is done through the real interfaces.

An admin adds the Amazon WorkSpaces RADIUS app, imports AD through the Okta AD agent, writes the
"Full time employees" MFA enrolment policy ("Okta Verify required, the first time a user signs
in"), assigns the imported "WorkSpaces Users" group to the app and activates Alice. Alice reads
the activation email in the mail service, follows its link (`/api/v1/authn {"token"}`), is asked
to enrol (MFA_ENROLL), scans the QR codes with the phone (PNG → the phone's camera), activates
TOTP with the phone's code and push by the phone's own enrolment, and reaches SUCCESS. Then her
AD password works on /api/v1/authn through the AD agent (delegated authentication) with a push,
a code verifies through the Factors API, and the AWS side (AD Connector with RADIUS to the agent,
WorkSpaces) signs her in with her AD password and `push`. Finally the org, mailbox and agent restart and
keep what they had."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from lab import process_runtime as pr
from lab.client_env import lab_verify, org_url
from tests.support import admin_headers, url, wait_until

SUBNET = "127.0.95"
SERVICES = ["dc", "mail", "okta", "ad-agent", "phone", "radius-agent", "ad-connector", "workspaces"]
ALICE = "alice@corp.example.com"


wait_for = wait_until   # the walkthrough reads better with the old name


def events(topo, service):
    return httpx.get(url(topo, service, "admin") + "/events", headers=admin_headers(topo)).json()


@pytest.fixture(scope="module")
def lab(start_services):
    settings = {"ad-agent": {"poll_wait_seconds": 2, "import_interval_seconds": 3600},
                "okta": {"delegated_auth": "agent", "push_ttl_seconds": 20},
                "radius-agent": {"app_refresh_seconds": 1},
                "ad-connector": {"stage_delay_seconds": 0.3, "radius_probe_timeout_seconds": 1.0},
                "workspaces": {"stage_delay_seconds": 0.3}}
    topo = start_services(SERVICES, SUBNET, blank=True, settings=settings)
    return {"topo": topo, "state": Path(topo["state_dir"])}


@pytest.fixture(scope="module")
def admin(lab):
    token = lab["topo"]["credentials"]["okta_api_token"]
    with httpx.Client(base_url=url(lab["topo"], "okta"), headers={"Authorization": f"SSWS {token}"},
                      timeout=20, verify=lab_verify(lab["topo"])) as client:
        yield client


@pytest.fixture(scope="module")
def web(lab):
    """What a user's browser or app does: follows the org's links (HTTPS), trusting the lab CA."""
    with httpx.Client(timeout=20, verify=lab_verify(lab["topo"])) as client:
        yield client


@pytest.fixture(scope="module")
def onboarded(lab, admin):
    """Steps 1-4 of the walkthrough, as the admin does them; returns what later tests need."""
    topo = lab["topo"]
    assert [u["credentials"]["provider"]["type"] for u in admin.get("/api/v1/users").json()] == ["OKTA"], \
        "a blank lab's org starts with its first administrator only"
    # the AD agent registered itself with the org: Directory Integrations shows Active Directory
    directory = wait_for(lambda: admin.get("/api/v1/directories").json(), bool)[0]
    assert directory["domain"] == "corp.example.com" and directory["agents"][0]["status"] == "ACTIVE"
    job = admin.post(f"/api/v1/directories/{directory['id']}/import", json={"full": True})
    assert job.status_code == 202 and job.json()["status"] == "PENDING"
    done = wait_for(lambda: admin.get(job.json()["_links"]["self"]["href"]).json(),
                    lambda j: j["status"] in ("COMPLETED", "FAILED"))
    assert done["status"] == "COMPLETED", done
    assert done["counts"]["users.created"] >= 9 and done["counts"]["groups.created"] == 3
    users = {u["profile"]["login"]: u for u in admin.get("/api/v1/users").json()}
    alice = users[ALICE]
    assert alice["status"] == "STAGED" and alice["credentials"]["provider"]["type"] == "ACTIVE_DIRECTORY"
    assert alice["profile"]["samAccountName"] == "alice" and alice["profile"]["userName"] == ALICE
    groups = {g["profile"]["name"]: g for g in admin.get("/api/v1/groups").json()}
    # the app
    secret = topo["credentials"]["radius_shared_secret"]
    app = admin.post("/api/v1/apps", json={
        "name": "radius_workspaces", "label": "Amazon WorkSpaces", "signOnMode": "RADIUS",
        "credentials": {"userNameTemplate": {"template": "${source.samAccountName}", "type": "BUILT_IN"}},
        "settings": {"app": {"port": topo["services"]["radius-agent"]["ports"]["radius"], "sharedSecret": secret,
                             "primaryAuth": False}}})
    assert app.status_code == 200, app.text
    app = app.json()
    # the enrolment policy and its rule
    policy = admin.post("/api/v1/policies", json={
        "type": "MFA_ENROLL", "name": "Full time employees", "status": "ACTIVE",
        "conditions": {"people": {"groups": {"include": [groups["Full time employees"]["id"]]}}},
        "settings": {"type": "FACTORS", "factors": {"okta_otp": {"enroll": {"self": "REQUIRED"}},
                                                    "okta_push": {"enroll": {"self": "REQUIRED"}}}}})
    assert policy.status_code == 200, policy.text
    rule = admin.post(f"/api/v1/policies/{policy.json()['id']}/rules", json={
        "name": "Must enroll MFA at first sign in", "actions": {"enroll": {"self": "LOGIN"}}})
    assert rule.status_code == 200, rule.text
    # assign the imported group to the app: its members become app users
    assert admin.put(f"/api/v1/apps/{app['id']}/groups/{groups['WorkSpaces Users']['id']}", json={}).status_code == 200
    app_users = {au["credentials"]["userName"] for au in admin.get(f"/api/v1/apps/{app['id']}/users").json()}
    assert {"alice", "bob"} <= app_users and "carol" not in app_users
    return {"alice": alice, "app": app, "policy": policy.json(), "directory": directory}


def test_activation_email_link_and_enrolment(lab, onboarded, admin, web):
    topo = lab["topo"]
    mail, phone = url(topo, "mail"), url(topo, "phone")
    alice = onboarded["alice"]
    resp = admin.post(f"/api/v1/users/{alice['id']}/lifecycle/activate", params={"sendEmail": "true"})
    assert resp.status_code == 200 and resp.json() == {}
    assert admin.get(f"/api/v1/users/{alice['id']}").json()["status"] == "ACTIVE"
    # Alice's mailbox
    inbox = wait_for(lambda: web.get(f"{mail}/messages", params={"to": ALICE}).json(), bool)
    message = web.get(f"{mail}/messages/{inbox[-1]['id']}").json()
    assert message["subject"] == "Welcome to Okta!" and message["envelope"]["to"] == [ALICE]
    link = re.search(r"(https://\S+/welcome/([A-Za-z0-9]+))", message["text"])
    assert link and link.group(1).startswith(org_url(topo) + "/"), message["text"]     # the org's HTTPS URL
    token = link.group(2)
    assert all(token not in str(e) for e in events(topo, "mail") + events(topo, "okta"))
    # the link: sign in with the activation token -> enrolment per the policy
    tx = web.post(f"{url(topo, 'okta')}/api/v1/authn", json={"token": token}).json()
    assert tx["status"] == "MFA_ENROLL", tx
    offered = {(f["factorType"], f["provider"]): f for f in tx["_embedded"]["factors"]}
    assert {k: f["enrollment"] for k, f in offered.items()} == {
        ("push", "OKTA"): "REQUIRED", ("token:software:totp", "OKTA"): "REQUIRED"}
    assert "skip" not in tx["_links"]
    # the token is spent
    again = web.post(f"{url(topo, 'okta')}/api/v1/authn", json={"token": token})
    assert again.status_code == 401 and again.json()["errorCode"] == "E0000004"
    # TOTP: enrol, scan the PNG, activate with the phone's code
    enroll = offered[("token:software:totp", "OKTA")]["_links"]["enroll"]["href"]
    tx = web.post(enroll, json={"stateToken": tx["stateToken"], "factorType": "token:software:totp",
                                  "provider": "OKTA"}).json()
    assert tx["status"] == "MFA_ENROLL_ACTIVATE" and tx["_links"]["next"]["name"] == "activate"
    qr = web.get(tx["_embedded"]["factor"]["_embedded"]["activation"]["_links"]["qrcode"]["href"])
    assert qr.headers["content-type"] == "image/png"
    scanned = web.post(f"{phone}/scan", content=qr.content, headers={"Content-Type": "image/png"})
    assert scanned.status_code == 200 and scanned.json()["totp"], scanned.text
    code = web.get(f"{phone}/accounts/{ALICE}/code").json()["code"]
    tx = web.post(tx["_links"]["next"]["href"], json={"stateToken": tx["stateToken"], "passCode": code}).json()
    assert tx["status"] == "MFA_ENROLL", tx            # push is required too
    push = next(f for f in tx["_embedded"]["factors"] if f["factorType"] == "push")
    assert push["status"] == "NOT_SETUP"
    # push: enrol, the phone scans and enrols itself, poll until the transaction completes
    tx = web.post(push["_links"]["enroll"]["href"], json={"stateToken": tx["stateToken"],
                                                            "factorType": "push", "provider": "OKTA"}).json()
    assert tx["status"] == "MFA_ENROLL_ACTIVATE" and tx["factorResult"] == "WAITING"
    assert tx["_links"]["next"]["name"] == "poll"
    qr = web.get(tx["_embedded"]["factor"]["_embedded"]["activation"]["_links"]["qrcode"]["href"])
    assert web.post(f"{phone}/scan", content=qr.content, headers={"Content-Type": "image/png"}).json()["push"]
    state = tx["stateToken"]
    tx = wait_for(lambda: web.post(tx["_links"]["next"]["href"], json={"stateToken": state}).json(),
                  lambda body: body["status"] != "MFA_ENROLL_ACTIVATE")
    assert tx["status"] == "SUCCESS" and tx["sessionToken"], tx
    factors = {f["factorType"]: f for f in admin.get(f"/api/v1/users/{alice['id']}/factors").json()}
    assert {t: f["status"] for t, f in factors.items()} == {"token:software:totp": "ACTIVE", "push": "ACTIVE"}
    # a code verifies through the Factors API (what the RADIUS agent does)
    code = web.get(f"{phone}/accounts/alice/code").json()["code"]
    verified = admin.post(factors["token:software:totp"]["_links"]["verify"]["href"], json={"passCode": code})
    assert verified.status_code == 200 and verified.json()["factorResult"] == "SUCCESS"


def test_ad_password_through_the_agent_then_push(lab, onboarded, admin, web):
    topo = lab["topo"]
    base = url(topo, "okta")
    wrong = web.post(f"{base}/api/v1/authn", json={"username": ALICE, "password": "Not-Alices-Passw0rd"})
    assert wrong.status_code == 401 and wrong.json()["errorCode"] == "E0000004"
    tx = web.post(f"{base}/api/v1/authn", json={"username": ALICE, "password": "Alice-Passw0rd!"}).json()
    assert tx["status"] == "MFA_REQUIRED", tx
    push = next(f for f in tx["_embedded"]["factors"] if f["factorType"] == "push")
    body = web.post(push["_links"]["verify"]["href"], json={"stateToken": tx["stateToken"]}).json()
    assert body["status"] == "MFA_CHALLENGE" and body["factorResult"] == "WAITING"
    body = wait_for(lambda: web.post(body["_links"]["next"]["href"], json={"stateToken": tx["stateToken"]}).json(),
                    lambda b: b["status"] != "MFA_CHALLENGE" or b.get("factorResult") not in ("WAITING",))
    assert body["status"] == "SUCCESS", body
    checks = [e for e in events(topo, "ad-agent") if e["kind"] == "agent.auth"]
    assert [e["outcome"] for e in checks][-2:] == ["bad_password", "ok"]
    assert all("Passw0rd" not in str(e) for e in events(topo, "ad-agent") + events(topo, "okta"))
    imports = [e for e in events(topo, "ad-agent") if e["kind"] == "agent.import"]
    assert imports and imports[0]["fields"]["users.created"] >= 9


def test_workspaces_sign_in_with_password_and_code(lab, onboarded, web):
    """The AWS side of the walkthrough on the same blank lab: AD Connector with RADIUS to the
    agent, a registered directory and a WorkSpace for Alice, then the client's sign-in."""
    from tests.services.workspaces.fakes import aws_client
    topo = lab["topo"]
    ds, ws = aws_client(topo, "ds"), aws_client(topo, "workspaces")
    dc = topo["services"]["dc"]["host"]
    directory_id = ds.connect_directory(
        Name="corp.example.com", ShortName="CORP", Password="Connector-Passw0rd!", Size="Small",
        ConnectSettings={"VpcId": "vpc-0a1b2c3d4e5f60789", "SubnetIds": ["subnet-01234567", "subnet-89abcdef"],
                         "CustomerDnsIps": [dc], "CustomerUserName": "svc-adconnector"})["DirectoryId"]
    wait_for(lambda: ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]["Stage"],
             lambda s: s in ("Active", "Failed"), timeout=30)
    agent = topo["services"]["radius-agent"]
    ds.enable_radius(DirectoryId=directory_id, RadiusSettings={
        "RadiusServers": [agent["host"]], "RadiusPort": agent["ports"]["radius"], "RadiusTimeout": 5,
        "RadiusRetries": 1, "SharedSecret": topo["credentials"]["radius_shared_secret"],
        "AuthenticationProtocol": "PAP", "DisplayLabel": "Okta", "UseSameUsername": True})
    status = wait_for(lambda: ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]
                      .get("RadiusStatus"), lambda s: s in ("Completed", "Failed"), timeout=30)
    assert status == "Completed"
    ws.register_workspace_directory(DirectoryId=directory_id)
    code_of = wait_for(lambda: ws.describe_workspace_directories(DirectoryIds=[directory_id])["Directories"],
                       lambda d: d and d[0].get("State") == "REGISTERED", timeout=30)[0]["RegistrationCode"]
    created = ws.create_workspaces(Workspaces=[{"DirectoryId": directory_id, "UserName": "alice",
                                                "BundleId": "wsb-0123456789"}])
    assert not created["FailedRequests"], created
    # The MFA field: `push` (this step's code was already used above, and Okta refuses a replay)
    signin = web.post(url(topo, "workspaces") + "/client/signin", timeout=60, json={
        "registrationCode": code_of, "username": "alice", "password": "Alice-Passw0rd!", "mfaCode": "push"})
    assert signin.status_code == 200, signin.text
    assert signin.json()["userName"].lower() == "alice"


def test_restart_keeps_mail_imports_policies_and_factors(lab, onboarded, admin, web):
    topo, state = lab["topo"], lab["state"]
    before_mail = web.get(url(topo, "mail") + "/messages").json()
    before_users = admin.get("/api/v1/users").json()
    names = ["mail", "okta", "ad-agent"]
    pr.stop(state, names)
    started = pr.start(state / "topology.json", topo, names)
    pr.wait_healthy(topo, started, timeout=30)
    assert web.get(url(topo, "mail") + "/messages").json() == before_mail
    assert {u["id"] for u in admin.get("/api/v1/users").json()} == {u["id"] for u in before_users}
    pols = admin.get("/api/v1/policies", params={"type": "MFA_ENROLL"}).json()
    assert [p["name"] for p in pols] == ["Full time employees", "Default Policy"]
    rules = admin.get(pols[0]["_links"]["rules"]["href"]).json()
    assert rules[0]["actions"]["enroll"]["self"] == "LOGIN"
    imports = admin.get(f"/api/v1/directories/{onboarded['directory']['id']}/imports").json()
    assert imports and imports[0]["status"] == "COMPLETED"
    # the agent registered again as the same agent, and delegated authentication still works
    wait_for(lambda: admin.get("/api/v1/directories").json()[0]["agents"][0]["status"], lambda s: s == "ACTIVE")
    tx = web.post(url(topo, "okta") + "/api/v1/authn", json={"username": ALICE, "password": "Alice-Passw0rd!"})
    assert tx.json()["status"] == "MFA_REQUIRED"
