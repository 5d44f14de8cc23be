"""End-to-end sign-ins through every component, driven by the `lab` CLI as a trainer would."""
from __future__ import annotations

import json

import httpx
import pytest

AUTH_FAILED = ("Authentication Failed: Please check your username and password to make sure you "
               "typed them correctly")


@pytest.fixture(autouse=True)
def phones_approve(lab):
    for user in ("alice", "bob"):
        assert lab.run("phone", "respond", user, "approve").returncode == 0


def login(lab, user, *extra):
    result = lab.run("login", user, "--json", *extra)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


_used: dict[str, set[str]] = {}


def code_of(lab, user):
    """A code the user's phone shows that no earlier test used: the org refuses a replayed code.
    The CLI shows the current step; the phone's API also shows the next (valid: window of one)."""
    result = lab.run("phone", "code", user)
    assert result.returncode == 0, result.stderr
    current = result.stdout.strip()
    assert len(current) == 6 and current.isdigit()
    candidates = [current, httpx.get(f"{lab.url('phone')}/accounts/{user}/code", params={"steps": 1}).json()["code"]]
    code = next((c for c in candidates if c not in _used.setdefault(user, set())), None)
    if code is None:
        pytest.skip(f"both valid codes of {user} were used in this 30 s step")
    _used[user].add(code)
    return code


def test_status_reports_every_service_healthy_with_credentials(lab):
    status = lab.status
    assert status["runtime"] == "process"
    assert set(status["services"]) >= {"dc", "okta", "radius-agent", "ad-connector", "workspaces", "phone"}
    assert all(s["healthy"] for s in status["services"].values())
    assert status["services"]["dc"]["endpoints"]["ldap"].endswith(":10389")
    assert status["services"]["radius-agent"]["endpoints"]["radius"].endswith(":1812")
    assert status["credentials"]["okta_api_token"].startswith("00")
    assert len(status["credentials"]["radius_shared_secret"]) >= 16


def test_code_accepted(lab):
    rc, body = login(lab, "alice", "--mfa", code_of(lab, "alice"))
    assert rc == 0, body
    assert body["workspaceId"].startswith("ws-") and body["userName"] == "alice"


def test_wrong_code_rejected_with_the_clients_message(lab):
    shown = lab.run("phone", "code", "bob").stdout.strip()    # only read, not used: code_of would spend it
    wrong = f"{(int(shown) + 500000) % 1000000:06d}"
    rc, body = login(lab, "bob", "--mfa", wrong)
    assert rc == 1
    assert body["message"] == AUTH_FAILED
    assert body["reason"] == "radius_reject"


def test_push_approved(lab):
    rc, body = login(lab, "alice", "--mfa", "push")
    assert rc == 0, body


def test_push_keyword_in_any_case(lab):
    rc, body = login(lab, "bob", "--mfa", "PuSh")
    assert rc == 0, body


def test_push_denied(lab):
    assert lab.run("phone", "respond", "alice", "deny").returncode == 0
    rc, body = login(lab, "alice", "--mfa", "push")
    assert rc == 1
    assert body["message"] == AUTH_FAILED and body["reason"] == "radius_reject"


def test_wrong_ad_password(lab):
    rc, body = login(lab, "alice", "--password", "not-her-password", "--mfa", code_of(lab, "alice"))
    assert rc == 1
    assert body["message"] == AUTH_FAILED
    assert body["reason"] == "ad_52e"


def test_unknown_user(lab):
    rc, body = login(lab, "mallory", "--password", "whatever1!", "--mfa", "123456")
    assert rc == 1
    assert body["message"] == AUTH_FAILED


def test_user_not_assigned_to_the_app(lab):
    rc, body = login(lab, "carol", "--mfa", code_of(lab, "carol"))
    assert rc == 1
    assert body["message"] == AUTH_FAILED
    assert body["reason"] == "radius_reject"


def test_disabled_account_fails_in_ad(lab):
    rc, body = login(lab, "dave", "--mfa", code_of(lab, "dave"))
    assert rc == 1 and body["reason"] == "ad_533"


def test_an_account_disabled_and_enabled_again_with_lab_ad(lab):
    disabled = lab.run("ad", "bob", "disable", "--json")
    try:
        assert disabled.returncode == 0, disabled.stderr
        assert json.loads(disabled.stdout)["userAccountControl"] & 0x2
        rc, body = login(lab, "bob", "--mfa", "push")        # approved: AD Connector asks RADIUS first
        assert rc == 1 and body["reason"] == "ad_533"
    finally:
        enabled = lab.run("ad", "bob", "enable")
    assert enabled.returncode == 0 and "bob: enabled in AD" in enabled.stdout, enabled.stderr
    rc, body = login(lab, "bob", "--mfa", code_of(lab, "bob"))
    assert rc == 0, body
    unknown = lab.run("ad", "nobody", "disable")
    assert unknown.returncode == 2 and "AD has no account nobody" in unknown.stderr


def test_unknown_registration_code(lab):
    rc, body = login(lab, "alice", "--registration-code", "WSxxx+NOPE00", "--mfa", "123456")
    assert rc == 1
    assert body["message"] == "Device can't connect to the registration service. Check your network settings."


def test_events_tell_the_story_without_secrets(lab):
    code = code_of(lab, "bob")
    rc, _ = login(lab, "bob", "--mfa", code)
    assert rc == 0
    events = json.loads(lab.run("events", "--json").stdout)
    services = {e["service"] for e in events}
    assert {"workspaces", "ad-connector", "radius-agent", "okta", "dc"} <= services
    raw = json.dumps(events)
    creds = lab.status["credentials"]
    for secret in (code, "Bob-Passw0rd!", creds["radius_shared_secret"], creds["okta_api_token"]):
        assert secret not in raw


def test_logs_never_carry_secrets(lab):
    creds = lab.status["credentials"]
    for log in (lab.state_dir / "logs").glob("*.log"):
        text = log.read_text()
        for secret in ("Alice-Passw0rd!", "Bob-Passw0rd!", creds["radius_shared_secret"], creds["okta_api_token"]):
            assert secret not in text, f"{secret[:3]}... leaked into {log.name}"


def test_second_up_says_already_running(lab):
    again = lab.run("up", "--subnet", "127.0.77")
    assert again.returncode == 0
    assert "already running" in again.stdout
