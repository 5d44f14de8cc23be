"""Unit tests of the radius-agent's issue-5 flows against a FAKE org (127.0.96.x): primary
authentication (one request and Access-Challenge with State), User-Name resolution reasons,
sms/call/email keywords, and groups in the Access-Accept."""
from __future__ import annotations

import re
import struct
import time

import httpx
import pytest
from pyrad import packet as rp

from tests.services.radius_agent.fakes import RadiusClient, access_request, decode_reply
from tests.services.radius_agent.support import PASSWORDS, agent_with_fake_org

SUBNET = "127.0.96"
NAS_IP = f"{SUBNET}.41"
PRIMARY = 1814
MFA_TIMEOUT = 1.5              # ragent.mfa.timeout.seconds, short so expiry is testable


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with agent_with_fake_org(tmp_path_factory.mktemp("ra-flows"), SUBNET,
                             settings={"ragent.mfa.timeout.seconds": MFA_TIMEOUT}) as lab:
        yield lab


@pytest.fixture
def nas(lab):
    clients: dict[int, RadiusClient] = {}

    def client(port: int = 1812) -> RadiusClient:
        if port not in clients:
            clients[port] = RadiusClient((lab.host, port), NAS_IP)
        return clients[port]
    yield client
    for c in clients.values():
        c.close()


def last_event(lab) -> dict:
    return [e for e in httpx.get(f"{lab.admin}/events", headers=lab.auth).json() if e["kind"] == "radius.request"][-1]


def ask(lab, nas, user, password, port=1812, state: bytes | None = None):
    req = access_request(lab.secret, user, password)
    if state is not None:
        req.AddAttribute("State", state)
        req.add_message_authenticator()          # recompute over the added State
    data = nas(port).exchange(req, timeout=6)
    assert data is not None, "no answer"
    return decode_reply(req, data)


def prompt(reply) -> str:
    return "".join(bytes(v).decode() if isinstance(v, bytes) else v for v in reply[18])


def state_of(reply) -> bytes:
    return bytes(reply[24][0])


def reason(lab) -> str:
    return last_event(lab)["fields"]["reason"] or ""


# -- 1. "Okta performs primary authentication" ---------------------------------------------------
def test_password_and_code_in_one_request(lab, nas):
    # alice's password contains a comma: the LAST comma splits off the passcode
    assert ask(lab, nas, "alice", f"{PASSWORDS['alice']},918273", PRIMARY).code == rp.AccessAccept
    assert last_event(lab)["fields"]["method"] == "password,code"


def test_password_and_push_in_one_request(lab, nas):
    before = lab.org.verify_count("00u-alice", "push")
    assert ask(lab, nas, "alice", f"{PASSWORDS['alice']},PUSH", PRIMARY).code == rp.AccessAccept
    assert lab.org.verify_count("00u-alice", "push") == before + 1
    assert last_event(lab)["fields"]["method"] == "password,push"


def test_wrong_password_or_wrong_code_is_rejected(lab, nas):
    assert ask(lab, nas, "alice", "not-her-password,918273", PRIMARY).code == rp.AccessReject
    assert "E0000004" in reason(lab)
    assert ask(lab, nas, "alice", f"{PASSWORDS['alice']},000000", PRIMARY).code == rp.AccessReject
    assert "Invalid passcode" in reason(lab)


def test_a_bare_mfa_code_as_the_password_fails_as_with_ad_connector(lab, nas):
    assert ask(lab, nas, "alice", "918273", PRIMARY).code == rp.AccessReject
    assert "E0000004" in reason(lab) and "must be cleared" in reason(lab)


def test_challenge_menu_then_passcode_prompt_then_accept(lab, nas):
    first = ask(lab, nas, "alice", PASSWORDS["alice"], PRIMARY)
    assert first.code == rp.AccessChallenge
    assert prompt(first) == "Select factor: 1 - Okta Verify TOTP, 2 - Okta Verify Push"
    assert last_event(lab)["outcome"] == "challenge"
    second = ask(lab, nas, "alice", "1", PRIMARY, state=state_of(first))
    assert second.code == rp.AccessChallenge and prompt(second) == "Enter Okta Verify TOTP passcode:"
    assert state_of(second) != state_of(first)
    assert ask(lab, nas, "alice", "918273", PRIMARY, state=state_of(second)).code == rp.AccessAccept
    assert last_event(lab)["fields"]["method"] == "challenge-answer"


def test_challenge_menu_then_push(lab, nas):
    before = lab.org.verify_count("00u-alice", "push")
    menu = ask(lab, nas, "alice", PASSWORDS["alice"], PRIMARY)
    assert ask(lab, nas, "alice", "2", PRIMARY, state=state_of(menu)).code == rp.AccessAccept
    assert lab.org.verify_count("00u-alice", "push") == before + 1


def test_state_is_single_use(lab, nas):
    menu = ask(lab, nas, "alice", PASSWORDS["alice"], PRIMARY)
    assert ask(lab, nas, "alice", "1", PRIMARY, state=state_of(menu)).code == rp.AccessChallenge
    assert ask(lab, nas, "alice", "1", PRIMARY, state=state_of(menu)).code == rp.AccessReject
    assert "already used State" in reason(lab)


def test_state_expires_after_the_mfa_timeout(lab, nas):
    menu = ask(lab, nas, "alice", PASSWORDS["alice"], PRIMARY)
    time.sleep(MFA_TIMEOUT + 0.3)
    assert ask(lab, nas, "alice", "1", PRIMARY, state=state_of(menu)).code == rp.AccessReject
    assert "ragent.mfa.timeout.seconds" in reason(lab)


def test_state_is_bound_to_its_user(lab, nas):
    menu = ask(lab, nas, "alice", PASSWORDS["alice"], PRIMARY)
    assert ask(lab, nas, "grace", "1", PRIMARY, state=state_of(menu)).code == rp.AccessReject
    assert "another user" in reason(lab)


def test_a_bad_menu_answer_is_rejected(lab, nas):
    menu = ask(lab, nas, "alice", PASSWORDS["alice"], PRIMARY)
    assert ask(lab, nas, "alice", "7", PRIMARY, state=state_of(menu)).code == rp.AccessReject
    assert "invalid factor selection" in reason(lab)


def test_one_factor_means_no_menu(lab, nas):
    first = ask(lab, nas, "mia", PASSWORDS["mia"], PRIMARY)
    assert first.code == rp.AccessChallenge and prompt(first) == "Enter Okta Verify TOTP passcode:"
    assert ask(lab, nas, "mia", "616161", PRIMARY, state=state_of(first)).code == rp.AccessAccept


def test_sms_chosen_from_the_menu_is_sent_then_prompted(lab, nas):
    menu = ask(lab, nas, "grace", PASSWORDS["grace"], PRIMARY)
    assert prompt(menu).endswith("3 - Okta Verify Push, 4 - SMS")
    sent = lab.org.verify_count("00u-grace", "otp")
    code_prompt = ask(lab, nas, "grace", "4", PRIMARY, state=state_of(menu))
    assert code_prompt.code == rp.AccessChallenge and prompt(code_prompt) == "Enter the passcode sent by SMS:"
    assert lab.org.verify_count("00u-grace", "otp") == sent + 1
    code = lab.org.sent_codes["sms-00u-grace"]
    assert ask(lab, nas, "grace", code, PRIMARY, state=state_of(code_prompt)).code == rp.AccessAccept


def test_password_comma_sms_sends_a_code_and_rejects(lab, nas):
    sent = lab.org.verify_count("00u-grace", "otp")
    assert ask(lab, nas, "grace", f"{PASSWORDS['grace']},SmS", PRIMARY).code == rp.AccessReject
    assert lab.org.verify_count("00u-grace", "otp") == sent + 1 and "sent by sms" in reason(lab)
    code = lab.org.sent_codes["sms-00u-grace"]
    assert ask(lab, nas, "grace", f"{PASSWORDS['grace']},{code}", PRIMARY).code == rp.AccessAccept


def test_enrolment_required_with_inline_enrolment_off_is_rejected(lab, nas):
    assert ask(lab, nas, "bob", PASSWORDS["bob"], PRIMARY).code == rp.AccessReject
    assert "not enrolled in MFA (MFA_ENROLL)" in reason(lab) and "inlineEnrollment=false" in reason(lab)


def test_a_state_on_an_mfa_only_app_is_rejected(lab, nas):
    assert ask(lab, nas, "alice", "918273", 1812, state=b"okta-ragent:forged").code == rp.AccessReject
    assert "never sends Access-Challenge" in reason(lab)


# -- 2. User-Name resolution ------------------------------------------------------------------------
@pytest.mark.parametrize("user, code, why", [
    ("ivy", "313131", "is SUSPENDED in Okta"),
    ("judy", "414141", "is LOCKED_OUT in Okta"),
    ("kim", "515151", "does not match the app's username format (${source.samAccountName})"),
    ("carol", "564738", "carol is not assigned to the app Amazon WorkSpaces"),
    ("mallory", "123456", "no Okta user of that login"),
    ("dave", "123456", "not enrolled in MFA (no ACTIVE factor) and the app does not permit inline enrollment"),
])
def test_user_name_resolution_rejects_with_the_reason_in_the_log(lab, nas, user, code, why):
    assert ask(lab, nas, user, code).code == rp.AccessReject
    assert why in reason(lab)
    assert why in lab.log_path.read_text()


def test_format_mismatch_names_the_assigned_username(lab, nas):
    ask(lab, nas, "kim", "515151")
    assert "assigned to Amazon WorkSpaces as 'kim@corp.example.com'" in reason(lab)
    assert ask(lab, nas, "kim@corp.example.com", "515151").code == rp.AccessAccept


def test_not_enrolled_with_inline_enrolment_on_names_it(lab, nas):
    assert ask(lab, nas, "dave", "push", 1816).code == rp.AccessReject
    assert "permits inline enrollment" in reason(lab)


# -- 4. sms / call / email keywords -----------------------------------------------------------------
@pytest.mark.parametrize("keyword", ["call", "EMAIL", "sms"])
def test_keyword_sends_a_code_rejects_then_the_code_is_accepted(lab, nas, keyword):
    kind = keyword.lower()
    sent = lab.org.verify_count("00u-nina", "otp")
    assert ask(lab, nas, "nina", keyword).code == rp.AccessReject
    assert lab.org.verify_count("00u-nina", "otp") == sent + 1
    assert f"sent by {kind}" in reason(lab)
    code = lab.org.sent_codes[f"{kind}-00u-nina"]
    assert ask(lab, nas, "nina", code).code == rp.AccessAccept


def test_keyword_the_org_refuses_to_send_names_its_error(lab, nas):
    assert ask(lab, nas, "oscar", "sms").code == rp.AccessReject
    assert "E0000109" in reason(lab)


def test_keyword_without_that_factor_is_rejected(lab, nas):
    assert ask(lab, nas, "alice", "email").code == rp.AccessReject
    assert "no ACTIVE email factor" in reason(lab)


# -- 3. groups in the Access-Accept ---------------------------------------------------------------
def test_groups_in_filter_id(lab, nas):
    reply = ask(lab, nas, "alice", "918273", 1817)
    assert reply.code == rp.AccessAccept
    assert [bytes(v) if isinstance(v, bytes) else v.encode() for v in reply[11]] == [b"WorkSpaces Users"]
    assert last_event(lab)["fields"]["groups"] == ["WorkSpaces Users"]


def test_groups_in_class_all_groups_when_none_are_listed(lab, nas):
    reply = ask(lab, nas, "alice", "918273", 1818)
    assert reply.code == rp.AccessAccept
    assert [bytes(v) for v in reply[25]] == [b"WorkSpaces Users", b"Full time employees"]


def test_groups_in_a_cisco_vendor_specific_attribute(lab, nas):
    req = access_request(lab.secret, "alice", "918273")
    data = nas(1819).exchange(req, timeout=6)
    assert decode_reply(req, data).code == rp.AccessAccept
    value = b"Full time employees"
    vsa = bytes([26, 8 + len(value)]) + struct.pack("!LBB", 9, 1, 2 + len(value)) + value
    assert vsa in data[20:]


def test_no_groups_in_a_reject_or_when_the_app_does_not_ask(lab, nas):
    assert 11 not in ask(lab, nas, "alice", "000000", 1817)
    plain = ask(lab, nas, "alice", "918273", 1812)
    assert plain.code == rp.AccessAccept and 11 not in plain and 25 not in plain


def test_no_password_code_state_or_state_token_reaches_the_log_or_events(lab, nas):
    menu = ask(lab, nas, "alice", PASSWORDS["alice"], PRIMARY)
    ask(lab, nas, "alice", "1", PRIMARY, state=state_of(menu))
    text = lab.log_path.read_text() + httpx.get(f"{lab.admin}/events", headers=lab.auth).text
    for secret in [*PASSWORDS.values(), "918273", "616161", state_of(menu).decode(), lab.secret.decode()]:
        assert secret not in text
    assert not re.search(r"st-[0-9a-f]{32}", text)          # the fake org's authn stateTokens
