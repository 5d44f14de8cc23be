"""The DC's TGS exchange, PAC and GSSAPI binds, checked with clients nobody here wrote: MIT kinit/kvno
and OpenLDAP's `ldapsearch -Y GSSAPI` (Cyrus SASL's GSSAPI plugin over MIT's libgssapi).

The PAC is read back from the ticket kvno stored, with impacket's MS-PAC types and checksums and the
machine account's key derived by impacket from the password the DC keeps in its state (the lab's
choice of how the DC's key is made; see services/dc/krb_principals.py).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from impacket.krb5 import asn1
from impacket.krb5 import pac as ms_pac
from impacket.krb5.ccache import CCache
from impacket.krb5.crypto import _checksum_table, _enctype_table, string_to_key
from ldap3 import MODIFY_REPLACE, NONE, Connection, Server
from pyasn1.codec.der import decoder

from tests.support import admin_headers, running_services

SUBNET = "127.0.142"
REALM = "CORP.EXAMPLE.COM"
LDAP_SPN = f"ldap/instancerdc.corp.example.com@{REALM}"
BASE_DN = "DC=corp,DC=example,DC=com"
HAVE_TOOLS = all(shutil.which(t) for t in ("kinit", "kvno", "klist"))
HAVE_GSSAPI_SASL = shutil.which("ldapsearch") is not None and any(
    Path(d).glob("libgssapiv2.so*") for d in ("/usr/lib/x86_64-linux-gnu/sasl2", "/usr/lib/aarch64-linux-gnu/sasl2",
                                              "/usr/lib/sasl2") if Path(d).is_dir())
pytestmark = pytest.mark.skipif(not HAVE_TOOLS, reason="krb5-user (kinit, kvno, klist) not installed")


def _can_unshare() -> bool:
    """A private mount namespace needs user namespaces (some container runtimes forbid them)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--map-root-user", "true"], capture_output=True, timeout=10)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    with running_services(["dc"], tmp_path_factory.mktemp("dc-tgs"), SUBNET) as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "kerberos": svc["ports"]["kerberos"], "ldap": svc["ports"]["ldap"],
               "admin": f"http://{svc['host']}:{svc['ports']['admin']}", "auth": admin_headers(topology),
               "state": Path(topology["state_dir"]) / "dc"}


@pytest.fixture
def krb(dc, tmp_path):
    conf = tmp_path / "krb5.conf"
    conf.write_text(f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
[realms]
    {REALM} = {{
        kdc = {dc['host']}:{dc['kerberos']}
    }}
""")
    env = dict(os.environ, KRB5_CONFIG=str(conf), KRB5CCNAME=f"FILE:{tmp_path}/ccache",
               KRB5_TRACE=str(tmp_path / "trace"))
    return {"env": env, "ccache": tmp_path / "ccache", "dir": tmp_path}


def run(args, env, stdin=""):
    return subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, timeout=30)


def kinit(krb, user="alice", password="Alice-Passw0rd!"):
    out = run(["kinit", f"{user}@{REALM}"], krb["env"], password + "\n")
    assert out.returncode == 0, out.stderr


def events(dc, kind):
    return [e for e in httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).json() if e["kind"] == kind]


def admin_modify(dc, sam, changes):
    c = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), user="CORP\\Administrator",
                   password="Admin-Passw0rd!", auto_bind=True)
    c.search(BASE_DN, f"(sAMAccountName={sam})", attributes=["cn"])
    assert c.modify(c.entries[0].entry_dn, changes), c.result
    c.unbind()


def machine_key(dc):
    """The DC's machine account key as a Windows client would derive it (AD's computer salt)."""
    secret = json.loads((dc["state"] / "kdc-keys.json").read_text())
    return string_to_key(18, secret["machine_password"], f"{REALM}hostinstancerdc.corp.example.com")


def stored_ticket(krb, spn):
    cache = CCache.loadFile(str(krb["ccache"]))
    for cred in cache.credentials:
        if cred["server"].prettyPrint().decode().lower().startswith(spn.split("@")[0].lower()):
            return cred.toTGS()["KDC_REP"]
    raise AssertionError(f"no ticket for {spn} in the cache")


# -- kvno: service tickets --------------------------------------------------------------------------
@pytest.mark.parametrize("spn", [LDAP_SPN, f"host/instancerdc.corp.example.com@{REALM}",
                                 f"LDAP/InstanceRDC@{REALM}", f"INSTANCERDC$@{REALM}",
                                 f"ldap/instancerdc.corp.example.com/corp.example.com@{REALM}"])
def test_kvno_gets_a_service_ticket_for_the_dcs_names(dc, krb, spn):
    kinit(krb)
    out = run(["kvno", spn], krb["env"])
    assert out.returncode == 0, out.stderr
    assert "kvno = 2" in out.stdout
    last = events(dc, "kerberos.tgs_req")[-1]
    assert last["outcome"] == "ok" and last["fields"]["user"] == "alice"


def test_an_unknown_service_is_s_principal_unknown(dc, krb):
    kinit(krb)
    out = run(["kvno", f"cifs/fileserver.corp.example.com@{REALM}"], krb["env"])
    assert out.returncode == 1
    assert "Server not found in Kerberos database" in out.stderr
    assert events(dc, "kerberos.tgs_req")[-1]["outcome"] == "KDC_ERR_S_PRINCIPAL_UNKNOWN"


def test_a_user_disabled_after_logon_gets_no_service_ticket(dc, krb, fresh):
    kinit(krb, "carol", "Carol-Passw0rd!")
    admin_modify(dc, "carol", {"userAccountControl": [(MODIFY_REPLACE, ["514"])]})
    out = run(["kvno", LDAP_SPN], krb["env"])
    assert out.returncode == 1
    assert "Client's credentials have been revoked" in out.stderr
    last = events(dc, "kerberos.tgs_req")[-1]
    assert last["outcome"] == "KDC_ERR_CLIENT_REVOKED" and last["fields"]["state"] == "disabled"


def test_the_service_ticket_carries_a_pac_signed_as_ad_signs_it(dc, krb):
    kinit(krb, "bob", "Bob-Passw0rd!")
    assert run(["kvno", LDAP_SPN], krb["env"]).returncode == 0
    rep = decoder.decode(stored_ticket(krb, LDAP_SPN), asn1Spec=asn1.TGS_REP())[0]
    key = machine_key(dc)
    plain = _enctype_table[18].decrypt(key, 2, bytes(rep["ticket"]["enc-part"]["cipher"]))
    part = decoder.decode(plain, asn1Spec=asn1.EncTicketPart())[0]
    outer = part["authorization-data"][0]
    assert int(outer["ad-type"]) == 1                                  # AD-IF-RELEVANT
    inner = decoder.decode(bytes(outer["ad-data"]), asn1Spec=asn1.AuthorizationData())[0][0]
    assert int(inner["ad-type"]) == 128                                # AD-WIN2K-PAC
    raw = bytes(inner["ad-data"])
    header = ms_pac.PACTYPE(raw)
    buffers, at = {}, 8
    for _ in range(header["cBuffers"]):
        info = ms_pac.PAC_INFO_BUFFER(raw[at:at + 16])
        buffers[info["ulType"]] = (info["Offset"], raw[info["Offset"]:info["Offset"] + info["cbBufferSize"]])
        at += 16
    assert sorted(buffers) == [1, 6, 7, 10, 12]

    logon = ms_pac.VALIDATION_INFO()
    logon.fromString(buffers[1][1])
    logon.fromStringReferents(buffers[1][1][len(logon.getData()):])
    info = logon["Data"]
    assert str(info["EffectiveName"]) == "bob" and str(info["LogonDomainName"]) == "CORP"
    assert info["PrimaryGroupId"] == 513
    rids = {g["RelativeId"] for g in info["GroupIds"]}
    assert 513 in rids and len(rids) == 3                      # Domain Users + his two groups
    assert info["LogonDomainId"].formatCanonical().startswith("S-1-5-21-")
    assert info["ExtraSids"][0]["Sid"].formatCanonical() == "S-1-18-1"
    filetime = lambda ft: (ft["dwHighDateTime"] << 32) | ft["dwLowDateTime"]  # noqa: E731
    # The password must change at pwdLastSet + maxPwdAge (42 days by default).
    assert filetime(info["PasswordMustChange"]) - filetime(info["PasswordLastSet"]) == 42 * 86400 * 10**7

    client = ms_pac.PAC_CLIENT_INFO(buffers[10][1])
    assert client["Name"].decode("utf-16-le") == "bob"
    upn = ms_pac.UPN_DNS_INFO(buffers[12][1])
    body = buffers[12][1]
    assert body[upn["UpnOffset"]:upn["UpnOffset"] + upn["UpnLength"]].decode("utf-16-le") == "bob@corp.example.com"
    assert body[upn["DnsDomainNameOffset"]:][:upn["DnsDomainNameLength"]].decode("utf-16-le") == REALM

    # Server checksum: over the PAC with both signatures zeroed, in the service's (machine) key.
    server = ms_pac.PAC_SIGNATURE_DATA(buffers[6][1])
    kdc = ms_pac.PAC_SIGNATURE_DATA(buffers[7][1])
    assert server["SignatureType"] == 16 and kdc["SignatureType"] == 16   # HMAC-SHA1-96-AES256
    zeroed = bytearray(raw)
    for kind in (6, 7):
        offset = buffers[kind][0]
        zeroed[offset + 4:offset + 16] = bytes(12)
    assert _checksum_table[16].checksum(key, 17, bytes(zeroed)) == server["Signature"]
    # The KDC checksum is in krbtgt's key, which only the DC holds: it must at least not be the
    # server checksum's twin (a KDC signing with the service key would make them equal).
    assert _checksum_table[16].checksum(key, 17, server["Signature"]) != kdc["Signature"]


# -- ldapsearch -Y GSSAPI -----------------------------------------------------------------------------
def gssapi(dc, krb, *tool_args, tool="ldapsearch"):
    """Run an OpenLDAP tool with SASL GSSAPI in a private mount namespace whose /etc/hosts names the DC
    (the machine's own /etc/hosts is never touched)."""
    hosts = krb["dir"] / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{dc['host']} instancerdc.corp.example.com instancerdc\n")
    url = f"ldap://instancerdc.corp.example.com:{dc['ldap']}"
    script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
    return run(["unshare", "--mount", "--map-root-user", "sh", "-c", script, "sh", str(hosts),
                tool, "-N", "-Y", "GSSAPI", "-H", url, *tool_args], krb["env"])


needs_sasl = pytest.mark.skipif(not (HAVE_GSSAPI_SASL and _can_unshare()),
                                reason="libsasl2-modules-gssapi-mit missing, or no user namespaces for unshare")


@needs_sasl
def test_ldapsearch_binds_with_gssapi_and_acts_as_the_user(dc, krb):
    kinit(krb)
    out = gssapi(dc, krb, "-b", BASE_DN, "(sAMAccountName=bob)", "sAMAccountName")
    assert out.returncode == 0, out.stderr
    assert "SASL username: alice@CORP.EXAMPLE.COM" in out.stderr
    assert "SASL SSF: 0" in out.stderr                          # no security layer: the lab's choice
    assert "sAMAccountName: bob" in out.stdout
    who = gssapi(dc, krb, tool="ldapwhoami")
    assert who.returncode == 0 and who.stdout.strip() == "u:CORP\\alice"
    binds = [e for e in events(dc, "ldap.bind") if e["fields"].get("mechanism") == "GSSAPI"]
    assert binds[-1]["outcome"] == "success" and binds[-1]["fields"]["user"] == "alice"
    assert "ldap/instancerdc.corp.example.com" in run(["klist"], krb["env"]).stdout


@needs_sasl
def test_gssapi_without_a_ticket_fails_on_the_client(dc, krb):
    out = gssapi(dc, krb, "-b", BASE_DN, "(sAMAccountName=bob)")
    assert out.returncode != 0
    assert "No Kerberos credentials available" in out.stderr or "credentials cache" in out.stderr


@needs_sasl
def test_a_client_that_insists_on_a_security_layer_is_refused(dc, krb):
    kinit(krb)
    out = gssapi(dc, krb, "-O", "minssf=56", "-b", BASE_DN, "(sAMAccountName=bob)")
    assert out.returncode != 0
    assert "too weak" in out.stderr                    # Cyrus: no offered layer meets minssf
    assert "sAMAccountName: bob" not in out.stdout


def test_a_gssapi_token_that_is_not_kerberos_is_invalid_credentials(dc):
    from ldap3 import SASL
    c = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), authentication=SASL,
                   sasl_mechanism="GSSAPI", sasl_credentials=None)
    c.open()
    # A raw bind with garbage in the SASL credentials, as a broken client would send it.
    from ldap3.operation.bind import bind_operation
    request = bind_operation(3, SASL, None, None, "GSSAPI", b"\x60\x03\x06\x01\x00")
    response = c.post_send_single_response(c.send("bindRequest", request, None))
    assert response[0]["result"] == 49
    assert response[0]["message"].startswith("80090308")
    c.unbind()


def test_kinit_renews_a_renewable_tgt_through_the_tgs(dc, krb):
    out = run(["kinit", "-r", "2d", f"alice@{REALM}"], krb["env"], "Alice-Passw0rd!\n")
    assert out.returncode == 0, out.stderr
    renewed = run(["kinit", "-R"], krb["env"])
    assert renewed.returncode == 0, renewed.stderr
    last = events(dc, "kerberos.tgs_req")[-1]
    assert last["outcome"] == "ok" and last["fields"]["service"] == f"krbtgt/{REALM}"
    assert "renew until" in run(["klist"], krb["env"]).stdout


# -- hostile input: MIT's own TGS-REQ, captured on its way and mutated ----------------------------------
def test_mutated_tgs_requests_never_cost_the_kdc_a_traceback(dc, krb):
    import random
    import socket

    from tests.services.dc.support import Recorder
    from tests.support.fuzzing import LogWatch, mutate
    relay = Recorder(dc["host"], dc["kerberos"])
    conf = Path(krb["env"]["KRB5_CONFIG"])
    direct = conf.read_text()
    try:
        host, port = relay.sock.getsockname()
        conf.write_text(direct.replace(f"kdc = {dc['host']}:{dc['kerberos']}", f"kdc = {host}:{port}"))
        kinit(krb)
        assert run(["kvno", LDAP_SPN], krb["env"]).returncode == 0
    finally:
        relay.close()
        conf.write_text(direct)
    tgs_reqs = [m for m in relay.sent if m[:1] == b"\x6c"]
    assert tgs_reqs, "MIT sent no TGS-REQ through the relay"
    # The same request with its server name changed on the way: the authenticator's checksum of the
    # req-body no longer matches (RFC 4120 3.3.2), so no ticket for "host/..." comes out of it.
    ldap_req = next(m for m in tgs_reqs if b"\x1b\x04ldap" in m)
    forged = ldap_req.replace(b"\x1b\x04ldap", b"\x1b\x04host", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(forged, (dc["host"], dc["kerberos"]))
        err = decoder.decode(s.recv(65536), asn1Spec=asn1.KRB_ERROR())[0]
    assert int(err["error-code"]) == 41                       # KRB_AP_ERR_MODIFIED
    assert events(dc, "kerberos.tgs_req")[-1]["outcome"] == "KRB_AP_ERR_MODIFIED"
    watch = LogWatch(Path(dc["state"]).parent / "logs" / "dc.log")
    rnd = random.Random(4120)
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        for _ in range(200):          # silence costs a 0.1 s receive timeout each
            s.sendto(mutate(rnd.choice(tgs_reqs), rnd), (dc["host"], dc["kerberos"]))
            try:
                reply = s.recv(65536)
                assert reply[:1] in (b"\x7e", b"\x6d")        # KRB-ERROR or TGS-REP
                answered += 1
            except TimeoutError:
                pass
    assert not watch.tracebacks()
    assert answered, "no mutation got far enough to be answered"
    assert run(["kvno", f"host/instancerdc.corp.example.com@{REALM}"], krb["env"]).returncode == 0


# -- the GSSAPI acceptor with a second client written from RFC 4121 over impacket's crypto -------------
KRB5_OID = bytes.fromhex("06092a864886f712010202")


def _frame(inner: bytes) -> bytes:
    body = KRB5_OID + inner
    n = len(body)
    size = bytes([n]) if n < 0x80 else bytes([0x82]) + n.to_bytes(2, "big")
    return b"\x60" + size + body


def initial_token(krb, user="alice", flags=2 | 32):
    """An InitialContextToken for the DC's LDAP ticket in the cache: AP-REQ with a 0x8003 checksum."""
    import datetime as dt
    import struct

    from impacket.krb5.asn1 import seq_set
    from impacket.krb5.types import KerberosTime, Ticket
    from pyasn1.codec.der import encoder
    cache = CCache.loadFile(str(krb["ccache"]))
    cred = next(c for c in cache.credentials if c["server"].prettyPrint().decode().lower().startswith("ldap/"))
    tgs = cred.toTGS()
    rep = decoder.decode(tgs["KDC_REP"], asn1Spec=asn1.TGS_REP())[0]
    session = tgs["sessionKey"]
    auth = asn1.Authenticator()
    auth["authenticator-vno"] = 5
    auth["crealm"] = REALM
    auth["cname"]["name-type"] = 1
    auth["cname"]["name-string"][0] = user
    auth["cksum"]["cksumtype"] = 0x8003
    auth["cksum"]["checksum"] = struct.pack("<I", 16) + bytes(16) + struct.pack("<I", flags)
    now = dt.datetime.now(dt.UTC)
    auth["cusec"] = now.microsecond
    auth["ctime"] = KerberosTime.to_asn1(now)
    ap = asn1.AP_REQ()
    ap["pvno"] = 5
    ap["msg-type"] = 14
    ap["ap-options"] = (0, 0, 1) + (0,) * 29                      # mutual-required
    ticket = Ticket()
    ticket.from_asn1(rep["ticket"])
    seq_set(ap, "ticket", ticket.to_asn1)
    ap["authenticator"]["etype"] = session.enctype
    ap["authenticator"]["cipher"] = _enctype_table[session.enctype].encrypt(session, 11, encoder.encode(auth), None)
    return _frame(b"\x01\x00" + encoder.encode(ap)), session


def sasl_bind(conn, creds: bytes | None):
    from ldap3 import SASL
    from ldap3.operation.bind import bind_operation
    return conn.post_send_single_response(conn.send("bindRequest", bind_operation(3, SASL, None, None, "GSSAPI", creds),
                                                    None))[0]


def wrap(session, data: bytes, seq: int, usage: int, flags: int) -> bytes:
    import struct
    header = b"\x05\x04" + bytes([flags, 0xFF]) + struct.pack(">HHQ", 0, 0, seq)
    mac = _checksum_table[16].checksum(session, usage, data + header)
    return header[:4] + struct.pack(">HH", len(mac), 0) + header[8:] + data + mac


def test_a_second_gssapi_client_completes_rfc_4752s_three_steps(dc, krb):
    import struct
    kinit(krb)
    assert run(["kvno", LDAP_SPN], krb["env"]).returncode == 0
    token, session = initial_token(krb)
    conn = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE))
    conn.open()
    step1 = sasl_bind(conn, token)
    assert step1["result"] == 14, step1
    reply = bytes(step1["saslCreds"])
    assert reply[0] == 0x60 and KRB5_OID + b"\x02\x00" in reply
    ap_rep = decoder.decode(reply[reply.index(b"\x02\x00", 4) + 2:], asn1Spec=asn1.AP_REP())[0]
    enc = decoder.decode(_enctype_table[session.enctype].decrypt(session, 12, bytes(ap_rep["enc-part"]["cipher"])),
                         asn1Spec=asn1.EncAPRepPart())[0]
    seq = int(enc["seq-number"])
    step2 = sasl_bind(conn, b"")
    assert step2["result"] == 14
    offer = bytes(step2["saslCreds"])
    assert offer[:4] == b"\x05\x04\x01\xff" and struct.unpack(">HH", offer[4:8]) == (12, 0)
    assert struct.unpack(">Q", offer[8:16])[0] == seq
    body, mac = offer[16:-12], offer[-12:]
    assert body == b"\x01\x00\x00\x00"                        # "no security layer", max size 0
    assert _checksum_table[16].checksum(session, 22, body + offer[:4] + bytes(4) + offer[8:16]) == mac
    step3 = sasl_bind(conn, wrap(session, b"\x01\x00\x00\x00", 0, 24, 0))
    assert step3["result"] == 0, step3
    assert conn.extend.standard.who_am_i() == "u:CORP\\alice"
    conn.unbind()


def test_a_tampered_choice_or_a_layer_the_dc_did_not_offer_is_refused(dc, krb):
    kinit(krb)
    assert run(["kvno", LDAP_SPN], krb["env"]).returncode == 0
    for choice, usage in ((b"\x02\x00\x10\x00", 24), (b"\x01\x00\x00\x00", 22)):
        token, session = initial_token(krb)
        conn = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE))
        conn.open()
        assert sasl_bind(conn, token)["result"] == 14
        assert sasl_bind(conn, b"")["result"] == 14
        refused = sasl_bind(conn, wrap(session, choice, 0, usage, 0))
        assert refused["result"] == 49 and refused["message"].startswith("80090308")
        conn.unbind()


def test_mutated_gssapi_tokens_never_cost_the_dc_a_traceback(dc, krb):
    import random

    from tests.support.fuzzing import LogWatch, mutate
    kinit(krb)
    assert run(["kvno", LDAP_SPN], krb["env"]).returncode == 0
    token, _ = initial_token(krb)
    watch = LogWatch(Path(dc["state"]).parent / "logs" / "dc.log")
    rnd = random.Random(4752)
    conn = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE))
    conn.open()
    for _ in range(300):
        result = sasl_bind(conn, mutate(token, rnd))
        assert result["result"] in (14, 49)
    conn.unbind()
    assert not watch.tracebacks()
