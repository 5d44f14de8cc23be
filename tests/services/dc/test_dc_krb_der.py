"""The KDC's hand-written DER replies (krb_wire.py) against impacket's types as pyasn1 encodes them:
byte for byte, for errors, the pre-authentication hints, tickets and AS/TGS replies. The reference
encoders below are the ones the KDC used before (impacket's ASN.1 classes)."""
from __future__ import annotations

import pytest
from impacket.krb5 import asn1
from pyasn1.codec.der import encoder

from services.dc import krb_wire

ALICE = krb_wire.Principal(krb_wire.NT_PRINCIPAL, ["alice"])
KRBTGT = krb_wire.Principal(krb_wire.NT_SRV_INST, ["krbtgt", "CORP.EXAMPLE.COM"])
ENTERPRISE = krb_wire.Principal(krb_wire.NT_ENTERPRISE, ["älice@corp.example.com"])


# -- the reference: impacket's types, pyasn1's DER ------------------------------------------------
def ref_set_principal(component, p: krb_wire.Principal) -> None:
    component["name-type"] = p.name_type
    for i, part in enumerate(p.parts):
        component["name-string"][i] = part


def ref_encode_error(code: int, *, now: float, realm: str, sname: krb_wire.Principal,
                 cname: krb_wire.Principal | None = None, e_text: str | None = None,
                 e_data: bytes | None = None) -> bytes:
    err = asn1.KRB_ERROR()
    err["pvno"] = 5
    err["msg-type"] = krb_wire.KRB_ERROR
    err["stime"] = krb_wire.kerberos_time(now)
    err["susec"] = int((now % 1) * 1_000_000)
    err["error-code"] = code
    if cname is not None:
        err["crealm"] = realm
        ref_set_principal(err["cname"], cname)
    err["realm"] = realm
    ref_set_principal(err["sname"], sname)
    if e_text:
        err["e-text"] = e_text
    if e_data is not None:
        err["e-data"] = e_data
    return encoder.encode(err)


def ref_method_data(etype_info: list[tuple[int, str | None]]) -> bytes:
    """The e-data of KDC_ERR_PREAUTH_REQUIRED: PA-ETYPE-INFO2 (etypes and salts the client should
    use) and an empty PA-ENC-TIMESTAMP saying which pre-authentication to send."""
    info = asn1.ETYPE_INFO2()
    for i, (etype, salt) in enumerate(etype_info):
        info[i]["etype"] = etype
        if salt is not None:
            info[i]["salt"] = salt
    md = asn1.METHOD_DATA()
    md[0]["padata-type"] = krb_wire.PA_ETYPE_INFO2
    md[0]["padata-value"] = encoder.encode(info)
    md[1]["padata-type"] = krb_wire.PA_ENC_TIMESTAMP
    md[1]["padata-value"] = b""
    return encoder.encode(md)


def ref_etype_info2_padata(etype: int, salt: str | None) -> tuple[int, bytes]:
    info = asn1.ETYPE_INFO2()
    info[0]["etype"] = etype
    if salt is not None:
        info[0]["salt"] = salt
    return krb_wire.PA_ETYPE_INFO2, encoder.encode(info)



def ref_encode_enc_ticket_part(g: krb_wire.Grant) -> bytes:
    part = asn1.EncTicketPart()
    part["flags"] = tuple(1 if i in g.flags else 0 for i in range(32))
    part["key"]["keytype"] = g.session_etype
    part["key"]["keyvalue"] = g.session_key
    part["crealm"] = g.realm
    ref_set_principal(part["cname"], g.cname)
    part["transited"]["tr-type"] = 0
    part["transited"]["contents"] = b""
    part["authtime"] = krb_wire.kerberos_time(g.authtime)
    part["starttime"] = krb_wire.kerberos_time(g.starttime or g.authtime)
    part["endtime"] = krb_wire.kerberos_time(g.endtime)
    if g.renew_till is not None:
        part["renew-till"] = krb_wire.kerberos_time(g.renew_till)
    for i, (kind, value) in enumerate(g.authorization_data):
        part["authorization-data"][i]["ad-type"] = kind
        part["authorization-data"][i]["ad-data"] = value
    return encoder.encode(part)


def ref_encode_enc_as_rep_part(g: krb_wire.Grant, tgs: bool = False) -> bytes:
    """EncASRepPart, or with `tgs` EncTGSRepPart (the same fields under another tag)."""
    part = asn1.EncTGSRepPart() if tgs else asn1.EncASRepPart()
    part["key"]["keytype"] = g.session_etype
    part["key"]["keyvalue"] = g.session_key
    part["last-req"][0]["lr-type"] = 0
    part["last-req"][0]["lr-value"] = krb_wire.kerberos_time(g.authtime)
    part["nonce"] = g.nonce
    part["flags"] = tuple(1 if i in g.flags else 0 for i in range(32))
    part["authtime"] = krb_wire.kerberos_time(g.authtime)
    part["starttime"] = krb_wire.kerberos_time(g.starttime or g.authtime)
    part["endtime"] = krb_wire.kerberos_time(g.endtime)
    if g.renew_till is not None:
        part["renew-till"] = krb_wire.kerberos_time(g.renew_till)
    part["srealm"] = g.realm
    ref_set_principal(part["sname"], g.sname)
    return encoder.encode(part)


def ref_encode_as_rep(g: krb_wire.Grant, *, ticket_etype: int, ticket_kvno: int, ticket_cipher: bytes,
                  reply_etype: int, reply_kvno: int | None, reply_cipher: bytes, tgs: bool = False) -> bytes:
    """An AS-REP, or with `tgs` a TGS-REP (whose enc-part has no kvno: it is in a session key)."""
    rep = asn1.TGS_REP() if tgs else asn1.AS_REP()
    rep["pvno"] = 5
    rep["msg-type"] = krb_wire.TGS_REP if tgs else krb_wire.AS_REP
    for i, (kind, value) in enumerate(g.padata):
        rep["padata"][i]["padata-type"] = kind
        rep["padata"][i]["padata-value"] = value
    rep["crealm"] = g.realm
    ref_set_principal(rep["cname"], g.cname)
    ticket = rep["ticket"]
    ticket["tkt-vno"] = 5
    ticket["realm"] = g.realm
    ref_set_principal(ticket["sname"], g.sname)
    ticket["enc-part"]["etype"] = ticket_etype
    ticket["enc-part"]["kvno"] = ticket_kvno
    ticket["enc-part"]["cipher"] = ticket_cipher
    rep["enc-part"]["etype"] = reply_etype
    if reply_kvno is not None:
        rep["enc-part"]["kvno"] = reply_kvno
    rep["enc-part"]["cipher"] = reply_cipher
    return encoder.encode(rep)




# -- the comparisons ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [
    {}, {"cname": ALICE}, {"cname": ENTERPRISE, "e_text": "why not"}, {"e_data": b""},
    {"cname": ALICE, "e_data": krb_wire.method_data([(18, "CORP.EXAMPLE.COMalice"), (17, None), (23, "x" * 200)])},
])
@pytest.mark.parametrize("now", [1764750000.0, 1764750000.999999, 0.5])
@pytest.mark.parametrize("code", [6, 25, 52, 68])
def test_errors_are_pyasn1s(kw, now, code):
    args = dict(now=now, realm="CORP.EXAMPLE.COM", sname=KRBTGT, **kw)
    assert krb_wire.encode_error(code, **args) == ref_encode_error(code, **args)


@pytest.mark.parametrize("info", [[(18, "CORP.EXAMPLE.COMalice")], [(18, "s"), (17, "s"), (23, None)], []])
def test_preauth_hints_are_pyasn1s(info):
    assert krb_wire.method_data(info) == ref_method_data(info)
    if info:
        assert krb_wire.etype_info2_padata(*info[0]) == ref_etype_info2_padata(*info[0])


def grants():
    base = dict(realm="CORP.EXAMPLE.COM", cname=ALICE, sname=KRBTGT, nonce=0, flags={1, 8, 9, 10, 15},
                session_etype=18, session_key=bytes(range(32)), authtime=1764750000.0, endtime=1764786000.0,
                renew_till=1765354800.0)
    yield krb_wire.Grant(**base)
    yield krb_wire.Grant(**{**base, "nonce": 2**31 - 1, "flags": set(), "renew_till": None,
                            "padata": [(19, b"\x30\x00")], "authorization_data": [(1, b"\x00" * 600)],
                            "starttime": 1764750100.0})
    yield krb_wire.Grant(**{**base, "cname": ENTERPRISE, "nonce": 2**32 - 1, "flags": {0, 31},
                            "session_etype": 23, "session_key": b"k" * 16,
                            "authorization_data": [(1, b"a"), (128, b"b" * 130)]})


@pytest.mark.parametrize("grant", list(grants()))
@pytest.mark.parametrize("tgs", [False, True])
def test_tickets_and_replies_are_pyasn1s(grant, tgs):
    assert krb_wire.encode_enc_ticket_part(grant) == ref_encode_enc_ticket_part(grant)
    assert krb_wire.encode_enc_as_rep_part(grant, tgs) == ref_encode_enc_as_rep_part(grant, tgs)
    for kvno in (None, 1, 300):
        kw = dict(ticket_etype=18, ticket_kvno=2, ticket_cipher=b"t" * 1000, reply_etype=18, reply_kvno=kvno,
                  reply_cipher=b"r" * 200, tgs=tgs)
        assert krb_wire.encode_as_rep(grant, **kw) == ref_encode_as_rep(grant, **kw)


@pytest.mark.parametrize("size", [0, 5, 127, 128, 300, 70000])
def test_pac_authorization_data_is_impacket_s(size):
    from services.dc import krb_ap
    pac = bytes(range(256)) * (size // 256) + bytes(size % 256)
    inner = asn1.AuthorizationData()
    inner[0]["ad-type"] = krb_ap.AD_WIN2K_PAC
    inner[0]["ad-data"] = pac
    assert krb_ap.pac_authorization_data(pac) == (krb_ap.AD_IF_RELEVANT, encoder.encode(inner))


def test_what_a_client_sends_does_not_grow_the_kept_encodings():
    """The encoder keeps the DER of names and e-data it writes often; a client chooses its own
    name and etype list, so a name of 30,000 empty parts or a list of 15,000 etypes (both fit in
    one 64 KB request) is written each time, not kept. The bytes are the same either way."""
    huge_name = krb_wire.Principal(krb_wire.NT_PRINCIPAL, [""] * 30000)
    names = len(krb_wire._NAMES)
    for name_type in range(1, 20):                       # each a key of its own, were it kept
        huge_name.name_type = name_type
        der = krb_wire.encode_error(krb_wire.KDC_ERR_C_PRINCIPAL_UNKNOWN, now=1.5e9, realm="CORP.EXAMPLE.COM",
                                    sname=KRBTGT, cname=huge_name)
        if name_type == 1:                               # pyasn1 takes a while over 30,000 parts
            assert der == ref_encode_error(krb_wire.KDC_ERR_C_PRINCIPAL_UNKNOWN, now=1.5e9,
                                           realm="CORP.EXAMPLE.COM", sname=KRBTGT, cname=huge_name)
    assert len(krb_wire._NAMES) <= names + 1                 # krbtgt/REALM at most
    assert all(len(der) <= krb_wire._KEPT_BYTES for der in krb_wire._STRINGS.values())
    kept = krb_wire._method_data.cache_info().currsize
    for n in range(5, 40):
        info = [(18, "CORP.EXAMPLE.COMalice")] * n
        assert krb_wire.method_data(info) == krb_wire._pa_data(
            [(krb_wire.PA_ETYPE_INFO2, krb_wire._etype_info2(info)), (krb_wire.PA_ENC_TIMESTAMP, b"")])
    assert krb_wire._method_data.cache_info().currsize == kept
