"""Unit tests of the radius-agent: the agent as a real process, real UDP, and a FAKE org
(tests.services.radius_agent.fakes.FakeOrg, only the contract endpoints the agent calls).

Clients: Debian's radclient (FreeRADIUS 3.2.1; it has no `-b`, so M-A-first is checked on raw
bytes here) and pyrad packets on raw sockets for exact control of Identifier, authenticator,
Message-Authenticator and Proxy-State.
"""
from __future__ import annotations

import random
import shutil
import struct
import subprocess
import time

import httpx
import pytest
from pyrad import packet as rp

from tests.services.radius_agent.fakes import RadiusClient, access_request, decode_reply
from tests.services.radius_agent.support import STRICT_SECRET, agent_with_fake_org
from tests.support import wait_until

SUBNET = "127.0.86"
NAS_IP = f"{SUBNET}.41"       # AD Connector's first connector address in this subnet


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with agent_with_fake_org(tmp_path_factory.mktemp("radius-agent"), SUBNET) as lab:
        yield lab


@pytest.fixture
def client(lab):
    c = RadiusClient((lab.host, 1812), NAS_IP)
    yield c
    c.close()


def events(lab, kind="radius.request", since=0):
    return [e for e in httpx.get(f"{lab.admin}/events", params={"since": since},
                                 headers=lab.auth).json() if e["kind"] == kind]


def last_seq(lab) -> int:
    evs = httpx.get(f"{lab.admin}/events", headers=lab.auth).json()
    return evs[-1]["seq"] if evs else 0


def ask(lab, client, user, password, **kw):
    req = access_request(lab.secret, user, password, **kw)
    data = client.exchange(req, timeout=6)
    assert data is not None, "no answer"
    return decode_reply(req, data)


# -- the walking skeleton (MFA only, the WorkSpaces setting) -----------------------------------
def test_right_code_is_accepted(lab, client):
    seq = last_seq(lab)
    assert ask(lab, client, "alice", "918273").code == rp.AccessAccept
    ev = events(lab, since=seq)[-1]
    assert (ev["outcome"], ev["fields"]["method"], ev["fields"]["user"]) == ("accept", "code", "alice")
    assert ev["peer"].startswith(NAS_IP + ":")


def test_wrong_code_is_rejected(lab, client):
    seq = last_seq(lab)
    assert ask(lab, client, "alice", "000000").code == rp.AccessReject
    ev = events(lab, since=seq)[-1]
    assert ev["outcome"] == "reject" and "Invalid passcode" in ev["fields"]["reason"]


def test_user_name_matches_case_insensitively(lab, client):
    assert ask(lab, client, "ALICE", "918273").code == rp.AccessAccept


def test_code_is_tried_against_each_totp_factor(lab, client):
    # grace has two ACTIVE TOTP factors; the code verifies on the second one only
    seq = last_seq(lab)
    assert ask(lab, client, "grace", "777001").code == rp.AccessAccept
    assert lab.org.verify_count("00u-grace", "code") >= 2
    assert events(lab, since=seq)[-1]["outcome"] == "accept"


def test_push_approved_is_accepted(lab, client):
    before = lab.org.verify_count("00u-alice", "push")
    assert ask(lab, client, "alice", "push").code == rp.AccessAccept
    assert lab.org.verify_count("00u-alice", "push") == before + 1


def test_push_keyword_in_any_case(lab, client):
    assert ask(lab, client, "alice", "PuSh").code == rp.AccessAccept


def test_push_denied_is_rejected(lab, client):
    seq = last_seq(lab)
    assert ask(lab, client, "bob", "push").code == rp.AccessReject
    assert "rejected the Okta Verify push" in events(lab, since=seq)[-1]["fields"]["reason"]


def test_push_timeout_at_okta_is_rejected(lab, client):
    assert ask(lab, client, "heidi", "push").code == rp.AccessReject


def test_unanswered_push_is_rejected_after_half_the_request_timeout(lab, client):
    # ragent.request.timeout.millisecond=4000 in the harness → push budget 2 s; default response
    # mode SEND_REJECT_ON_POLL_MFA → Access-Reject when the poll loop runs out of time.
    seq = last_seq(lab)
    started = time.monotonic()
    assert ask(lab, client, "erin", "push").code == rp.AccessReject
    assert 1.8 <= time.monotonic() - started < 3.5
    assert "push budget" in events(lab, since=seq)[-1]["fields"]["reason"]


def test_unassigned_user_is_rejected_with_the_reason_logged(lab, client):
    seq = last_seq(lab)
    assert ask(lab, client, "carol", "564738").code == rp.AccessReject
    assert "not assigned" in events(lab, since=seq)[-1]["fields"]["reason"]
    assert "carol is not assigned to the app" in lab.log_path.read_text()


def test_unknown_user_is_rejected(lab, client):
    assert ask(lab, client, "mallory", "123456").code == rp.AccessReject


def test_user_without_factors_is_rejected(lab, client):
    seq = last_seq(lab)
    assert ask(lab, client, "dave", "push").code == rp.AccessReject
    assert ask(lab, client, "dave", "123456").code == rp.AccessReject
    reasons = [e["fields"]["reason"] for e in events(lab, since=seq)]
    # no ACTIVE factor at all (only a PENDING_ACTIVATION push): "not enrolled", inline enrolment off
    assert all("not enrolled in MFA" in r and "inlineEnrollment=false" in r for r in reasons)


def test_enrolled_user_with_a_wrong_code_gets_invalid_passcode_not_not_enrolled(lab, client):
    seq = last_seq(lab)
    assert ask(lab, client, "heidi", "123456").code == rp.AccessReject     # heidi: one TOTP, no codes
    assert "Invalid passcode" in events(lab, since=seq)[-1]["fields"]["reason"]


def test_sms_keyword_sends_an_otp_and_rejects(lab, client):
    before = lab.org.verify_count("00u-grace", "otp")
    assert ask(lab, client, "grace", "SMS").code == rp.AccessReject
    assert lab.org.verify_count("00u-grace", "otp") == before + 1


def test_chap_is_rejected_pap_only(lab, client):
    req = access_request(lab.secret, "alice", None)
    req.AddAttribute("CHAP-Password", b"\x01" + bytes(16))
    seq = last_seq(lab)
    data = client.exchange(req)
    assert decode_reply(req, data).code == rp.AccessReject
    assert "only supports PAP" in events(lab, since=seq)[-1]["fields"]["reason"]


def test_mschapv2_is_rejected_and_logged_with_a_garbled_name(lab, client):
    """A client set to MS-CHAPv2: no User-Password to read. Okta's troubleshooting page: the log
    shows a malformed user name ("the user sent 'bob' but the log shows 'Á'")."""
    req = access_request(lab.secret, "bob", None, ma=False)
    req.AddAttribute("MS-CHAP-Challenge", bytes(16))
    req.AddAttribute("MS-CHAP2-Response", bytes([0xC1, 0]) + bytes(48))     # Ident 0xC1
    req.add_message_authenticator()
    seq = last_seq(lab)
    assert decode_reply(req, client.exchange(req)).code == rp.AccessReject
    event = events(lab, since=seq)[-1]["fields"]
    assert event["user"] == "bob" and event["reason"].startswith("no User-Password in the request (MS-CHAPv2)")
    failed = [line for line in lab.log_path.read_text().splitlines() if "Authentication failed for user Á" in line]
    assert failed and "user=Á" in failed[-1] and "only supports PAP-based authentication" in failed[-1]


EAP_IDENTITY = bytes((2, 42, 0, 10)) + b"\x01alice"     # EAP-Response/Identity, Identifier 42 (RFC 3748)


def test_eap_on_a_pap_app_is_rejected_with_eap_failure_and_the_reason_logged(lab, client):
    req = access_request(lab.secret, "alice", None, ma=False)
    req.AddAttribute("EAP-Message", EAP_IDENTITY)
    req.add_message_authenticator()
    seq = last_seq(lab)
    reply = decode_reply(req, client.exchange(req))          # checks M-A first and both authenticators
    assert reply.code == rp.AccessReject
    assert reply["EAP-Message"] == [bytes((4, 42, 0, 4))]     # EAP-Failure, the response's Identifier
    assert "Reply-Message" not in reply
    reason = events(lab, since=seq)[-1]["fields"]["reason"]
    assert "EAP" in reason and "only supports PAP" in reason
    assert "method=EAP" in lab.log_path.read_text() and reason in lab.log_path.read_text()


def test_eap_without_message_authenticator_is_discarded(lab, client):
    req = access_request(lab.secret, "alice", None, ma=False)
    req.AddAttribute("EAP-Message", EAP_IDENTITY)
    seq = last_seq(lab)
    assert client.exchange(req, timeout=1) is None
    assert "RFC 3579" in events(lab, since=seq)[-1]["fields"]["reason"]


def test_primary_auth_app_rejects_when_the_org_cannot_check_passwords(lab):
    # "Okta performs primary authentication" on: the password (here: an MFA code, as AD Connector
    # sends it) goes to /api/v1/authn, which the fake org does not have.
    c = RadiusClient((lab.host, 1814), NAS_IP)
    lab.org.authn_enabled = False
    try:
        seq = last_seq(lab)
        req = access_request(lab.secret, "alice", "918273")
        assert decode_reply(req, c.exchange(req)).code == rp.AccessReject
        ev = events(lab, since=seq)[-1]
        assert ev["fields"]["method"] == "password" and "/api/v1/authn" in ev["fields"]["reason"]
    finally:
        lab.org.authn_enabled = True
        c.close()


# -- radclient, a client nobody here wrote ----------------------------------------------------
radclient = pytest.mark.skipif(shutil.which("radclient") is None, reason="radclient not installed")


def run_radclient(lab, attrs: str, command: str = "auth", port: int = 1812, secret: str | None = None):
    return subprocess.run(
        ["radclient", "-x", "-r", "1", "-t", "2", f"{lab.host}:{port}", command, secret or lab.secret.decode()],
        input=attrs, capture_output=True, text=True, timeout=15)


@radclient
def test_radclient_accept_and_reject(lab):
    ok = run_radclient(lab, "User-Name=alice,User-Password=918273,Message-Authenticator=0x00")
    assert ok.returncode == 0 and "Received Access-Accept" in ok.stdout
    bad = run_radclient(lab, "User-Name=alice,User-Password=111111")
    assert "Received Access-Reject" in bad.stdout


@radclient
def test_radclient_eap_gets_access_reject_with_eap_failure(lab):
    out = run_radclient(lab, f"User-Name=alice,EAP-Message=0x{EAP_IDENTITY.hex()},Message-Authenticator=0x00")
    assert "Received Access-Reject" in out.stdout and "EAP-Message = 0x042a0004" in out.stdout, out.stdout


@radclient
def test_radclient_status_server(lab):
    before = lab.org.requests.copy()
    out = run_radclient(lab, "Message-Authenticator=0x00", "status")
    assert out.returncode == 0 and "Received Access-Accept" in out.stdout
    # Status-Server must not touch the org (RFC 5997: no authentication side effects)
    assert [r for r in lab.org.requests[len(before):] if r[1] != "/api/v1/radius/apps"] == []


@radclient
def test_radclient_proxy_state_comes_back(lab):
    out = run_radclient(lab, "Proxy-State=0x01,Proxy-State=0x0202,User-Name=alice,User-Password=918273")
    received = out.stdout.index("Received")
    assert out.stdout.index("Proxy-State = 0x01") < out.stdout.index("Proxy-State = 0x0202", received)


# -- RFC 2865 / 2869 / 3579 / 5080 / 5997 and BlastRADIUS ------------------------------------
def test_reply_has_message_authenticator_first_even_without_one_in_the_request(lab, client):
    req = access_request(lab.secret, "alice", "918273", ma=False)
    data = client.exchange(req)
    assert data[20] == 80 and data[21] == 18
    assert decode_reply(req, data).code == rp.AccessAccept      # Response Authenticator + M-A valid


def test_proxy_state_is_echoed_in_order(lab, client):
    states = (b"first", b"\x00\x01second", b"3")
    req = access_request(lab.secret, "alice", "000000", proxy_states=states)
    reply = decode_reply(req, client.exchange(req))
    assert reply.code == rp.AccessReject
    assert reply[33] == list(states)


def test_bad_message_authenticator_gets_no_answer(lab, client):
    req = access_request(b"not-the-secret", "alice", "918273")
    seq = last_seq(lab)
    assert client.exchange(req, timeout=0.6) is None
    ev = events(lab, since=seq)[-1]
    assert ev["outcome"] == "discarded" and "Message-Authenticator" in ev["fields"]["reason"]


def test_altered_packet_gets_no_answer(lab, client):
    raw = bytearray(access_request(lab.secret, "alice", "918273").RequestPacket())
    raw[-20] ^= 0xFF        # flip a byte inside the signed attributes
    client.send(bytes(raw))
    assert client.recv(0.6) is None


def test_required_message_authenticator_missing_gets_no_answer(lab):
    c = RadiusClient((lab.host, 1813), NAS_IP)
    try:
        secret = STRICT_SECRET.encode()
        assert c.exchange(access_request(secret, "alice", "918273", ma=False), timeout=0.6) is None
        req = access_request(secret, "alice", "918273", ma=True)
        assert decode_reply(req, c.exchange(req)).code == rp.AccessAccept
    finally:
        c.close()


def test_status_server_without_message_authenticator_is_discarded(lab, client):
    pkt = access_request(lab.secret, None, None, ma=False, code=rp.StatusServer)
    assert client.exchange(pkt, timeout=0.6) is None


def test_status_server_is_answered_with_access_accept(lab, client):
    pkt = access_request(lab.secret, None, None, code=rp.StatusServer)
    assert decode_reply(pkt, client.exchange(pkt)).code == rp.AccessAccept


def test_status_server_events_count_a_burst_and_name_the_first_at_once(lab, client):
    # one event per client and port per second: the first Status-Server at once, the rest of
    # that second as one event with their count (a flood must not cost an event each)
    seq = last_seq(lab)
    for ident in range(6):
        pkt = access_request(lab.secret, None, None, ident=ident, code=rp.StatusServer)
        assert decode_reply(pkt, client.exchange(pkt)).code == rp.AccessAccept
    peer = f"{NAS_IP}:{client.sock.getsockname()[1]}"

    def mine():
        return [e for e in events(lab, "radius.status", since=seq) if e["peer"] == peer]
    counted = wait_until(mine, lambda evs: sum(e["fields"]["count"] for e in evs) == 6, timeout=10)
    assert counted[0]["fields"] == {"port": 1812, "packet_id": 0, "count": 1}
    assert counted[-1]["fields"]["packet_id"] == 5 and counted[-1]["outcome"] == "accept"


def test_unknown_code_is_discarded(lab, client):
    for code in (rp.AccountingRequest, rp.AccessAccept, 200):
        raw = bytearray(access_request(lab.secret, "alice", "918273", ma=False).RequestPacket())
        raw[0] = code
        client.send(bytes(raw))
        assert client.recv(0.3) is None


def test_retransmission_during_a_pending_push_sends_one_push(lab, client):
    # frank approves after 1.5 s; the NAS retransmits the same request (same source port,
    # Identifier and Request Authenticator) meanwhile. One push, one answer; a late
    # retransmission gets the cached reply, byte for byte, with no new push.
    before = lab.org.verify_count("00u-frank", "push")
    seq = last_seq(lab)
    req = access_request(lab.secret, "frank", "push")
    raw = req.RequestPacket()
    client.send(raw)
    for _ in range(3):
        time.sleep(0.3)
        client.send(raw)
    first = client.recv(5.0)
    assert first is not None and decode_reply(req, first).code == rp.AccessAccept
    assert client.recv(0.5) is None                      # the in-flight duplicates were dropped
    client.send(raw)
    again = client.recv(2.0)
    assert again == first                                # the cached reply, byte-identical
    assert lab.org.verify_count("00u-frank", "push") == before + 1
    outcomes = [e["outcome"] for e in events(lab, since=seq)]
    assert outcomes.count("dropped_duplicate") == 3 and outcomes.count("resent_cached") == 1
    assert outcomes.count("accept") == 1


def test_same_identifier_with_a_new_authenticator_is_a_new_request(lab, client):
    first = access_request(lab.secret, "alice", "000000", ident=77)
    assert decode_reply(first, client.exchange(first)).code == rp.AccessReject
    second = access_request(lab.secret, "alice", "918273", ident=77)
    assert decode_reply(second, client.exchange(second)).code == rp.AccessAccept


def test_malformed_packets_never_crash_the_agent(lab, client):
    rng = random.Random(5080)
    good = access_request(lab.secret, "alice", "918273", proxy_states=(b"ps",)).RequestPacket()
    samples = [b"", b"\x01", good[:19], good[:20], good[:-1], good[:25]]
    for length in (0, 19, 20, len(good) + 1, 4097, 65535):        # bad Length fields
        samples.append(good[:2] + struct.pack("!H", length) + good[4:])
    for _ in range(150):
        kind = rng.randrange(4)
        if kind == 0:
            samples.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120))))
        elif kind == 1:                                       # flip bytes in a valid packet
            raw = bytearray(good)
            for _ in range(rng.randrange(1, 4)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            samples.append(bytes(raw))
        elif kind == 2:                                       # attributes with silly lengths
            raw = bytearray(good[:20]) + bytes([rng.randrange(256), rng.choice([0, 1, 2, 255])]) + \
                bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
            raw[2:4] = struct.pack("!H", len(raw))
            raw[0] = rng.choice([1, 12])
            samples.append(bytes(raw))
        else:                                                 # vendor-specific junk, zero-length sub-attributes
            vsa = struct.pack("!L", rng.choice([311, 9, 0])) + bytes([rng.randrange(256), rng.choice([0, 2, 3])])
            raw = bytearray(good[:20]) + bytes([26, 2 + len(vsa)]) + vsa
            raw[2:4] = struct.pack("!H", len(raw))
            samples.append(bytes(raw))
    for s in samples:
        client.send(s)
    time.sleep(0.5)
    while client.recv(0.05) is not None:        # mutated-but-valid packets may get answers; drain
        pass
    assert httpx.get(f"{lab.admin}/healthz").status_code == 200
    assert ask(lab, client, "alice", "918273").code == rp.AccessAccept
    assert "Traceback" not in lab.log_path.read_text()


def _with_length(raw: bytes, length: int | None = None) -> bytes:
    """`raw` with its Length field set (default: the datagram's size)."""
    return raw[:2] + struct.pack("!H", len(raw) if length is None else length) + raw[4:]


def test_broken_lengths_are_discarded_logged_and_the_agent_keeps_serving(lab, client):
    """RFC 2865 §3 and §5: silently discard a packet whose Length is below 20 or beyond the datagram,
    or with an attribute shorter than 2 or running past the end; octets beyond Length are padding."""
    def fresh() -> bytes:       # no Message-Authenticator, so only the lengths can be wrong
        return access_request(lab.secret, "alice", "918273", ma=False).RequestPacket()

    broken = {
        "runs past the end": _with_length(fresh() + bytes([18, 40]) + b"x" * 10),   # pyrad used to accept it
        "(less than 2)": _with_length(fresh() + bytes([18, 1])),
        "Length 0 (less than 2)": _with_length(fresh() + bytes([18, 0]) + b"x" * 4),
        "lone octet": _with_length(fresh() + bytes([18])),
        "exceeds the datagram": _with_length(fresh(), len(fresh()) + 1),
        "outside 20-4096": _with_length(fresh(), 19),
    }
    seq = last_seq(lab)
    for packet in broken.values():
        client.send(packet)
        assert client.recv(0.5) is None                  # silence, not a reject
    discards = [e["fields"]["reason"] for e in events(lab, since=seq) if e["outcome"] == "discarded"]
    log = lab.log_path.read_text()
    for reason in broken:
        assert any(reason in d for d in discards), (reason, discards)
        assert any(reason in line for line in log.splitlines() if "Silently discarding" in line), reason
    assert lab.secret.decode() not in log and "918273" not in log
    # padding after Length is ignored: the request inside is answered
    padded = fresh() + b"\x00" * 12
    client.send(padded)
    reply = client.recv(6)
    assert reply is not None and reply[0] == rp.AccessAccept
    assert ask(lab, client, "alice", "918273").code == rp.AccessAccept      # and pyrad clients still are
    if shutil.which("radclient"):
        out = run_radclient(lab, "User-Name=alice,User-Password=918273")
        assert "Received Access-Accept" in out.stdout, out.stdout + out.stderr


# -- settings, health, secrets ----------------------------------------------------------------
def test_app_settings_are_re_read_without_restart(lab):
    c = RadiusClient((lab.host, 1813), NAS_IP)
    strict = next(a for a in lab.org.apps if a["port"] == 1813)
    try:
        strict["requireMessageAuthenticator"] = False
        deadline = time.monotonic() + 5
        req = access_request(STRICT_SECRET.encode(), "alice", "918273", ma=False)
        while (data := c.exchange(req, timeout=0.5)) is None and time.monotonic() < deadline:
            req = access_request(STRICT_SECRET.encode(), "alice", "918273", ma=False)
        assert data is not None and decode_reply(req, data).code == rp.AccessAccept
    finally:
        strict["requireMessageAuthenticator"] = True
        c.close()


def test_a_new_app_gets_its_port_and_a_removed_app_loses_it(lab):
    c = RadiusClient((lab.host, 1815), NAS_IP)
    try:
        assert c.exchange(access_request(lab.secret, "alice", "918273"), timeout=0.3) is None
        lab.org.apps.append(dict(lab.org.apps[0], id="0oa-new", label="New app", port=1815))
        deadline = time.monotonic() + 5
        req = access_request(lab.secret, "alice", "918273")
        while (data := c.exchange(req, timeout=0.3)) is None and time.monotonic() < deadline:
            req = access_request(lab.secret, "alice", "918273")
        assert data is not None and decode_reply(req, data).code == rp.AccessAccept
    finally:
        lab.org.apps[:] = [a for a in lab.org.apps if a["port"] != 1815]
    deadline = time.monotonic() + 5
    while c.exchange(access_request(lab.secret, "alice", "918273"), timeout=0.3) is not None:
        assert time.monotonic() < deadline, "port 1815 still answers after its app was removed"
    c.close()
    outcomes = [(e["outcome"], e["fields"]["port"]) for e in events(lab, "radius.listener")]
    assert ("succeeded", 1815) in outcomes and ("closed", 1815) in outcomes


def test_org_refusing_the_token_makes_the_agent_disrupted(lab, client):
    lab.org.reject_token = True
    try:
        deadline = time.monotonic() + 5
        while (health := httpx.get(f"{lab.admin}/healthz")).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert health.status_code == 503 and "DISRUPTED" in health.json()["detail"]
        assert ask(lab, client, "alice", "918273").code == rp.AccessReject
    finally:
        lab.org.reject_token = False
    deadline = time.monotonic() + 5
    while httpx.get(f"{lab.admin}/healthz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert httpx.get(f"{lab.admin}/healthz").status_code == 200


def test_logs_and_events_never_carry_codes_or_secrets(lab):
    text = lab.log_path.read_text() + httpx.get(f"{lab.admin}/events", headers=lab.auth).text
    for secret in ("918273", "777001", "564738", lab.secret.decode(), STRICT_SECRET, "SSWS"):
        assert secret not in text


def test_status_server_works_while_the_org_is_down(lab, client):
    lab.org.stop()
    try:
        pkt = access_request(lab.secret, None, None, code=rp.StatusServer)
        assert decode_reply(pkt, client.exchange(pkt)).code == rp.AccessAccept
        # a real request fails cleanly: a reject naming the cause, not a hang or a crash
        seq = last_seq(lab)
        assert ask(lab, client, "alice", "918273").code == rp.AccessReject
        assert "cannot reach the Okta org" in events(lab, since=seq)[-1]["fields"]["reason"]
    finally:
        lab.org.start()
