"""The DC's Kerberos KDC as a process, checked with a client nobody here wrote: MIT kinit/klist.

Right and wrong passwords, every account state of the seed, principal name forms, clock skew
(the DC's clock moved through its admin API), lockout shared with LDAP binds, password changes made
over LDAP, UDP and TCP, faults, and garbage on the wire."""
import os
import random
import shutil
import socket
import ssl
import struct
import subprocess
import time

import httpx
import pytest
from ldap3 import NONE, Connection, Server, Tls

from tests.services.dc.support import recv_exactly
from tests.support import admin_headers, running_services

REALM = "CORP.EXAMPLE.COM"
USERS = "OU=Users,DC=corp,DC=example,DC=com"
HAVE_KINIT = shutil.which("kinit") is not None and shutil.which("klist") is not None
pytestmark = pytest.mark.skipif(not HAVE_KINIT, reason="krb5-user (kinit, klist) not installed")


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    with running_services(["dc"], tmp_path_factory.mktemp("dc-kerberos"), "127.0.91") as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "kerberos": svc["ports"]["kerberos"], "ldap": svc["ports"]["ldap"],
               "admin": f"http://{svc['host']}:{svc['ports']['admin']}", "auth": admin_headers(topology)}


def krb5_conf(dc, directory, *, tcp: bool = False) -> str:
    """A throwaway krb5.conf: the realm's KDC is the lab DC; no DNS, no clock correction (MIT
    would otherwise retry a skewed request with the KDC's time and hide the error)."""
    path = directory / ("krb5-tcp.conf" if tcp else "krb5.conf")
    path.write_text(f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    kdc_timesync = 0
    rdns = false
    {"udp_preference_limit = 1" if tcp else ""}
[realms]
    {REALM} = {{
        kdc = {dc['host']}:{dc['kerberos']}
    }}
""")
    return str(path)


def kinit(dc, tmp_path, principal, password, *args, tcp=False):
    env = dict(os.environ, KRB5_CONFIG=krb5_conf(dc, tmp_path, tcp=tcp),
               KRB5CCNAME=f"FILE:{tmp_path}/ccache", KRB5_TRACE=str(tmp_path / "trace"))
    out = subprocess.run(["kinit", *args, principal], input=password + "\n", capture_output=True,
                         text=True, env=env, timeout=30)
    return out, env


def klist(env) -> str:
    return subprocess.run(["klist"], capture_output=True, text=True, env=env, timeout=10).stdout


def events(dc, kind="kerberos.as_req"):
    return [e for e in httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).json() if e["kind"] == kind]


def ldap_bind(dc, user, password):
    c = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), user=user, password=password)
    ok = c.bind()
    result = dict(c.result)
    c.unbind()
    return ok, result


def bad_pwd_count(dc, sam):
    c = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), user="CORP\\Administrator",
                   password="Admin-Passw0rd!", auto_bind=True)
    c.search(USERS, f"(sAMAccountName={sam})", attributes=["badPwdCount"])
    value = int(c.entries[0].badPwdCount.value)
    c.unbind()
    return value


# -- kinit: the real client ----------------------------------------------------------------------
def test_right_password_gets_a_tgt_that_klist_shows(dc, tmp_path, fresh):
    out, env = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!")
    assert out.returncode == 0, out.stderr
    listing = klist(env)
    assert f"Default principal: alice@{REALM}" in listing
    assert f"krbtgt/{REALM}@{REALM}" in listing
    trace = (tmp_path / "trace").read_text()
    assert 'salt "CORP.EXAMPLE.COMalice"' in trace and "aes256-cts" in trace
    kinds = [e["outcome"] for e in events(dc) if e["fields"].get("user") == "alice"]
    assert kinds[-2:] == ["preauth_required", "ok"]


def logon_count(dc, sam):
    c = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), user="CORP\\Administrator",
                   password="Admin-Passw0rd!", auto_bind=True)
    c.search(USERS, f"(sAMAccountName={sam})", attributes=["logonCount"])
    value = int(c.entries[0].logonCount.value or 0)
    c.unbind()
    return value


def test_the_tcp_retry_of_a_too_big_reply_is_answered_from_the_lookaside(dc, fresh):
    """AD Connector's AS-REQ over UDP: the AS-REP (a TGT with a PAC) is too big, so it asks again
    over TCP and gets the reply the UDP request earned; the logon counts once."""
    from services.ad_connector import kerberos_auth as ka
    before = logon_count(dc, "alice")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.connect((dc["host"], dc["kerberos"]))
        udp.send(ka._as_req(REALM, ka.NT_PRINCIPAL, "alice", nonce=1, padata=None))
        kind, err = ka._decode_reply(udp.recv(65535))
        etype, salt = ka._choose_etype(err, REALM, "alice", ka.NT_PRINCIPAL)
        key = ka.string_to_key(etype, "Alice-Passw0rd!", salt)
        req = ka._as_req(REALM, ka.NT_PRINCIPAL, "alice", nonce=7, padata=ka._enc_timestamp(key, time.time()))
        udp.send(req)
        kind, err = ka._decode_reply(udp.recv(65535))
    assert kind == "error" and int(err["error-code"]) == ka.KRB_ERR_RESPONSE_TOO_BIG
    with socket.create_connection((dc["host"], dc["kerberos"]), timeout=5) as tcp:
        tcp.sendall(struct.pack("!I", len(req)) + req)
        (length,) = struct.unpack("!I", recv_exactly(tcp, 4))
        kind, rep = ka._decode_reply(recv_exactly(tcp, length))
    assert kind == "rep" and ka._check_rep(rep, key, 7, "tcp").ok
    mine = [e for e in events(dc) if e["fields"].get("user") == "alice"]
    assert [e["outcome"] for e in mine[-2:]] == ["KRB_ERR_RESPONSE_TOO_BIG", "ok"]
    assert mine[-1]["fields"]["transport"] == "tcp" and mine[-1]["fields"]["lookaside"] is True
    assert logon_count(dc, "alice") == before + 1


def test_wrong_password_is_password_incorrect(dc, tmp_path, fresh):
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "not-her-password")
    assert out.returncode == 1
    assert "Password incorrect while getting initial credentials" in out.stderr
    assert events(dc)[-1]["outcome"] == "KDC_ERR_PREAUTH_FAILED"


@pytest.mark.parametrize("sam,password,state", [
    ("dave", "Dave-Passw0rd!", "disabled"),
    ("erin", "Erin-Passw0rd!", "locked"),
    ("heidi", "Heidi-Passw0rd!", "account_expired"),
])
def test_disabled_locked_and_expired_accounts_are_revoked(dc, tmp_path, sam, password, state):
    out, _ = kinit(dc, tmp_path, f"{sam}@{REALM}", password)
    assert out.returncode == 1
    assert "Client's credentials have been revoked while getting initial credentials" in out.stderr
    last = events(dc)[-1]
    assert last["outcome"] == "KDC_ERR_CLIENT_REVOKED" and last["fields"]["state"] == state


@pytest.mark.parametrize("sam,password,state", [
    ("frank", "Frank-Passw0rd!", "password_expired"),
    ("grace", "Grace-Passw0rd!", "must_change_password"),
])
def test_expired_password_makes_kinit_ask_for_a_new_one(dc, tmp_path, sam, password, state):
    out, _ = kinit(dc, tmp_path, f"{sam}@{REALM}", password)
    assert out.returncode == 1
    assert "Password expired" in out.stdout + out.stderr
    key_expired = [e for e in events(dc) if e["outcome"] == "KDC_ERR_KEY_EXPIRED"]
    assert key_expired[-1]["fields"] == {**key_expired[-1]["fields"], "user": sam, "state": state}


def test_expired_password_with_the_wrong_password_is_just_incorrect(dc, tmp_path, fresh):
    out, _ = kinit(dc, tmp_path, f"frank@{REALM}", "not-franks")
    assert "Password incorrect" in out.stderr


def test_unknown_user(dc, tmp_path):
    out, _ = kinit(dc, tmp_path, f"nobody@{REALM}", "x")
    assert out.returncode == 1
    assert "not found in Kerberos database" in out.stderr
    assert events(dc)[-1]["outcome"] == "KDC_ERR_C_PRINCIPAL_UNKNOWN"


@pytest.mark.parametrize("args,principal", [((), f"ALICE@{REALM}"), ((), f"Alice@{REALM}"),
                                            (("-E",), "alice@corp.example.com")])
def test_names_are_case_insensitive_and_upns_work_as_enterprise_names(dc, tmp_path, fresh, args, principal):
    out, env = kinit(dc, tmp_path, principal, "Alice-Passw0rd!", *args)
    assert out.returncode == 0, out.stderr
    assert f"krbtgt/{REALM}@{REALM}" in klist(env)


def test_kinit_over_tcp(dc, tmp_path, fresh):
    out, _env = kinit(dc, tmp_path, f"bob@{REALM}", "Bob-Passw0rd!", tcp=True)
    assert out.returncode == 0, out.stderr
    assert "stream" in (tmp_path / "trace").read_text()
    assert {e["fields"]["transport"] for e in events(dc)[-2:]} == {"tcp"}


def test_clock_skew_on_the_dc_clock(dc, tmp_path, fresh):
    httpx.post(f"{dc['admin']}/clock", json={"offset_seconds": 600}, headers=dc["auth"]).raise_for_status()
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!")
    assert out.returncode == 1
    assert "Clock skew too great while getting initial credentials" in out.stderr
    assert events(dc)[-1]["outcome"] == "KRB_AP_ERR_SKEW"
    httpx.post(f"{dc['admin']}/clock", json={"offset_seconds": -240}, headers=dc["auth"]).raise_for_status()
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!")
    assert out.returncode == 0, out.stderr     # within AD's five minutes


# -- lockout: one counter for LDAP binds and Kerberos pre-authentication -------------------------
def test_failed_preauth_locks_the_account_out(dc, tmp_path, fresh):
    for _ in range(5):
        out, _ = kinit(dc, tmp_path, f"bob@{REALM}", "wrong-password")
        assert "Password incorrect" in out.stderr
    out, _ = kinit(dc, tmp_path, f"bob@{REALM}", "Bob-Passw0rd!")
    assert "Client's credentials have been revoked" in out.stderr
    ok, result = ldap_bind(dc, "CORP\\bob", "Bob-Passw0rd!")
    assert not ok and "data 775" in result["message"]


def test_failed_binds_and_failed_preauth_share_the_counter(dc, tmp_path, fresh):
    for _ in range(3):
        assert not ldap_bind(dc, "CORP\\carol", "wrong")[0]
    for _ in range(2):
        kinit(dc, tmp_path, f"carol@{REALM}", "wrong")
    assert bad_pwd_count(dc, "carol") == 5
    out, _ = kinit(dc, tmp_path, f"carol@{REALM}", "Carol-Passw0rd!")
    assert "revoked" in out.stderr


def test_a_good_kerberos_logon_resets_the_count(dc, tmp_path, fresh):
    kinit(dc, tmp_path, f"bob@{REALM}", "wrong")
    kinit(dc, tmp_path, f"bob@{REALM}", "wrong")
    assert bad_pwd_count(dc, "bob") == 2
    out, _ = kinit(dc, tmp_path, f"bob@{REALM}", "Bob-Passw0rd!")
    assert out.returncode == 0, out.stderr
    assert bad_pwd_count(dc, "bob") == 0


def test_unlock_over_ldap_lets_kerberos_in_again(dc, tmp_path, fresh):
    c = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), user="CORP\\Administrator",
                   password="Admin-Passw0rd!", auto_bind=True)
    assert c.modify(f"CN=Erin Evans,{USERS}", {"lockoutTime": [("MODIFY_REPLACE", ["0"])]})
    c.unbind()
    out, _ = kinit(dc, tmp_path, f"erin@{REALM}", "Erin-Passw0rd!")
    assert out.returncode == 0, out.stderr


def test_a_password_changed_over_ldap_is_the_kerberos_password(dc, tmp_path, fresh):
    c = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE, tls=Tls(validate=ssl.CERT_NONE)),
                   user="alice@corp.example.com", password="Alice-Passw0rd!")
    c.open()
    c.start_tls()
    c.bind()
    assert c.extend.microsoft.modify_password(f"CN=Alice Anderson,{USERS}", "Alice-N3w-Passw0rd!",
                                              "Alice-Passw0rd!")
    c.unbind()
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-N3w-Passw0rd!")
    assert out.returncode == 0, out.stderr
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!")
    assert "Password incorrect" in out.stderr
    httpx.post(f"{dc['admin']}/reset", headers=dc["auth"]).raise_for_status()   # the seed's password again
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!")
    assert out.returncode == 0, out.stderr


def test_events_never_carry_passwords_or_keys(dc, tmp_path, fresh):
    kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!")
    kinit(dc, tmp_path, f"alice@{REALM}", "Wrong-Passw0rd!")
    text = httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).text
    assert "Passw0rd" not in text
    for e in events(dc):
        assert set(e["fields"]) <= {"user", "etype", "transport", "state", "bad_pwd_count",
                                    "skew_seconds", "service", "too_big", "message", "reason", "lookaside"}


# -- faults and garbage --------------------------------------------------------------------------
def test_drop_fault(dc, tmp_path, fresh):
    httpx.post(f"{dc['admin']}/faults", json={"action": "drop", "protocol": "kerberos"},
               headers=dc["auth"]).raise_for_status()
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!", tcp=True)
    assert out.returncode == 1 and "Alice" not in out.stderr
    assert events(dc, "kerberos.request")[-1]["outcome"] == "dropped"
    httpx.delete(f"{dc['admin']}/faults", headers=dc["auth"]).raise_for_status()
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!", tcp=True)
    assert out.returncode == 0, out.stderr


def _as_req_prefix() -> bytes:
    """The first bytes of a real AS-REQ (application 10, a sequence): a plausible-looking start."""
    return bytes.fromhex("6a8201") + b"\x30\x82"


GARBAGE = [b"", b"\x00", b"hello kerberos", os.urandom(300), _as_req_prefix() + os.urandom(40),
           bytes.fromhex("6a03020105"), bytes.fromhex("6c0430020105"), bytes.fromhex("7e00")]


def test_malformed_datagrams_are_dropped_and_the_kdc_keeps_serving(dc, tmp_path):
    rnd = random.Random(4120)
    packets = GARBAGE + [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 200))) for _ in range(50)]
    # Mutations of a real AS-REQ: flip bytes of the request kinit's first message would be.
    real = _real_as_req(dc)
    packets += [bytes(b ^ (rnd.getrandbits(8) if rnd.random() < 0.05 else 0) for b in real) for _ in range(50)]
    packets += [real[:n] for n in range(1, len(real), 17)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((dc["host"].rsplit(".", 1)[0] + ".99", 0))
        s.settimeout(0.05)
        for p in packets:
            s.sendto(p, (dc["host"], dc["kerberos"]))
            try:
                reply = s.recv(65535)
                assert reply[:1] in (b"\x7e", b"\x6b")   # a mutation may still be a valid request
            except TimeoutError:
                pass
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!")
    assert out.returncode == 0, out.stderr
    assert events(dc, "kerberos.malformed")


@pytest.mark.parametrize("stream", [
    struct.pack("!I", 0x80000010) + b"x" * 16,          # reserved high bit set
    struct.pack("!I", 5) + b"hello",
    struct.pack("!I", 100) + b"short",                  # then the client hangs up
    b"\x00\x00",
])
def test_garbage_over_tcp_closes_that_connection_only(dc, tmp_path, stream):
    with socket.create_connection((dc["host"], dc["kerberos"]), timeout=5) as s:
        s.sendall(stream)
        if stream.startswith(struct.pack("!I", 100)) or len(stream) < 4:
            s.shutdown(socket.SHUT_WR)
        assert s.recv(100) == b""      # closed without an answer
    out, _ = kinit(dc, tmp_path, f"alice@{REALM}", "Alice-Passw0rd!", tcp=True)
    assert out.returncode == 0, out.stderr


def test_tcp_length_prefix_and_several_requests_per_connection(dc):
    real = _real_as_req(dc)
    with socket.create_connection((dc["host"], dc["kerberos"]), timeout=5) as s:
        for _ in range(3):
            s.sendall(struct.pack("!I", len(real)) + real)
            (length,) = struct.unpack("!I", recv_exactly(s, 4))
            reply = recv_exactly(s, length)
            assert reply[0] == 0x7E    # KRB-ERROR: PREAUTH_REQUIRED
            assert b"CORP.EXAMPLE.COMalice" in reply


def _real_as_req(dc) -> bytes:
    """An AS-REQ without pre-authentication, as the connector's client encodes it."""
    from services.ad_connector.kerberos_auth import _as_req
    return _as_req(REALM, 1, "alice", nonce=12345, padata=None)


def test_pipelined_tcp_requests_are_answered_in_order_also_when_held_by_a_delay(dc, fresh):
    """Several requests in one write, then a half-close: each answered, in order, on the same
    connection; under a `delay` fault too (each answer then waits, and the next request for it)."""
    from services.ad_connector.kerberos_auth import _as_req
    frames = [_as_req(REALM, 1, name, nonce=n, padata=None) for n, name in enumerate(["alice", "bob", "alice"])]
    for fault in (None, {"action": "delay", "protocol": "kerberos", "seconds": 0.1}):
        if fault:
            httpx.post(f"{dc['admin']}/faults", json=fault, headers=dc["auth"]).raise_for_status()
        try:
            with socket.create_connection((dc["host"], dc["kerberos"]), timeout=5) as s:
                s.sendall(b"".join(struct.pack("!I", len(f)) + f for f in frames))
                s.shutdown(socket.SHUT_WR)           # a half-close still gets every answer
                salts = []
                for _ in frames:
                    (length,) = struct.unpack("!I", recv_exactly(s, 4))
                    reply = recv_exactly(s, length)
                    salts.append("bob" if b"CORP.EXAMPLE.COMbob" in reply else "alice")
            assert salts == ["alice", "bob", "alice"], fault
        finally:
            httpx.delete(f"{dc['admin']}/faults", headers=dc["auth"]).raise_for_status()
