"""The connector's hand-written Kerberos DER (krb_der.py) against pyasn1's schema codec
(impacket.krb5.asn1): the same bytes out, the same fields read back, malformed replies refused."""
from __future__ import annotations

import pytest
from impacket.krb5 import asn1
from impacket.krb5 import crypto as kcrypto
from pyasn1.codec.der import decoder, encoder

from services.ad_connector import kerberos_auth as ka

REALM = "CORP.EXAMPLE.COM"


def pyasn1_as_req(name_type: int, name: str, nonce: int, till: str, padata: bytes | None) -> bytes:
    req = asn1.AS_REQ()
    req["pvno"] = 5
    req["msg-type"] = 10
    if padata is not None:
        req["padata"][0]["padata-type"] = ka.PA_ENC_TIMESTAMP
        req["padata"][0]["padata-value"] = padata
    body = req["req-body"]
    body["kdc-options"] = tuple(1 if i in (ka.FORWARDABLE, ka.RENEWABLE) else 0 for i in range(32))
    body["cname"]["name-type"] = name_type
    body["cname"]["name-string"][0] = name
    body["realm"] = REALM
    body["sname"]["name-type"] = ka.NT_SRV_INST
    body["sname"]["name-string"][0] = "krbtgt"
    body["sname"]["name-string"][1] = REALM
    body["till"] = till
    body["nonce"] = nonce
    for i, etype in enumerate(ka.ETYPES):
        body["etype"][i] = etype
    return encoder.encode(req)


@pytest.mark.parametrize("nonce", [0, 127, 128, 255, 256, 65535, 2**31 - 1])
@pytest.mark.parametrize("who", [(ka.NT_PRINCIPAL, "alice"), (ka.NT_ENTERPRISE, "alice@corp.example.com")])
@pytest.mark.parametrize("padata", [None, b"\x30\x03\x02\x01\x05"])
def test_as_req_is_byte_for_byte_what_pyasn1_encodes(monkeypatch, nonce, who, padata):
    monkeypatch.setattr(ka.time, "time", lambda: 1.7e9)
    ours = ka._as_req(REALM, who[0], who[1], nonce=nonce, padata=padata)
    assert ours == pyasn1_as_req(who[0], who[1], nonce, ka._ktime(1.7e9 + 10 * 3600), padata)


def test_enc_timestamp_decrypts_to_the_pyasn1_structure():
    key = ka.string_to_key(ka.AES256, "Alice-Passw0rd!", REALM + "alice")
    enc, _ = decoder.decode(ka._enc_timestamp(key, 1.7e9 + 0.25), asn1Spec=asn1.EncryptedData())
    assert int(enc["etype"]) == ka.AES256
    ts, _ = decoder.decode(kcrypto.decrypt(key, 1, bytes(enc["cipher"])), asn1Spec=asn1.PA_ENC_TS_ENC())
    assert str(ts["patimestamp"]) == ka._ktime(1.7e9) and int(ts["pausec"]) == 250000


def krb_error(code: int, e_data: bytes | None) -> bytes:
    err = asn1.KRB_ERROR()
    err["pvno"], err["msg-type"], err["stime"], err["susec"] = 5, 30, "20260101000000Z", 0
    err["error-code"] = code
    err["realm"] = REALM
    err["sname"]["name-type"] = ka.NT_SRV_INST
    err["sname"]["name-string"][0] = "krbtgt"
    err["sname"]["name-string"][1] = REALM
    if e_data is not None:
        err["e-data"] = e_data
    return encoder.encode(err)


def etype_info2(*entries: tuple[int, str | None]) -> bytes:
    info = asn1.ETYPE_INFO2()
    for i, (etype, salt) in enumerate(entries):
        info[i]["etype"] = etype
        if salt is not None:
            info[i]["salt"] = salt
    methods = asn1.METHOD_DATA()
    methods[0]["padata-type"] = ka.PA_ENC_TIMESTAMP
    methods[0]["padata-value"] = b""
    methods[1]["padata-type"] = ka.PA_ETYPE_INFO2
    methods[1]["padata-value"] = encoder.encode(info)
    return encoder.encode(methods)


@pytest.mark.parametrize(("entries", "chosen"), [
    ([(ka.AES256, "CORP.EXAMPLE.COMalice-salt")], (ka.AES256, "CORP.EXAMPLE.COMalice-salt")),
    ([(3, "des"), (ka.AES128, None)], (ka.AES128, REALM + "alice")),   # DES skipped; no salt: AD's default
])
def test_preauth_required_gives_the_etype_and_salt(entries, chosen):
    kind, err = ka._decode_reply(krb_error(ka.KDC_ERR_PREAUTH_REQUIRED, etype_info2(*entries)))
    assert kind == "error" and err["error-code"] == ka.KDC_ERR_PREAUTH_REQUIRED
    assert ka._choose_etype(err, REALM, "alice", ka.NT_PRINCIPAL) == chosen


def test_too_big_is_recognised_and_other_errors_are_not():
    assert ka._is_too_big(krb_error(ka.KRB_ERR_RESPONSE_TOO_BIG, None))
    assert not ka._is_too_big(krb_error(ka.KDC_ERR_PREAUTH_FAILED, None))


def as_rep(key: kcrypto.Key, nonce: int, tag_as: type = asn1.EncASRepPart) -> bytes:
    part = tag_as()
    part["key"]["keytype"] = key.enctype
    part["key"]["keyvalue"] = b"\x00" * 32
    part["last-req"][0]["lr-type"] = 0
    part["last-req"][0]["lr-value"] = "20260101000000Z"
    part["nonce"] = nonce
    part["flags"] = (0,) * 32
    part["authtime"] = part["endtime"] = "20260101000000Z"
    part["srealm"] = REALM
    part["sname"]["name-type"] = ka.NT_SRV_INST
    part["sname"]["name-string"][0] = "krbtgt"
    part["sname"]["name-string"][1] = REALM
    rep = asn1.AS_REP()
    rep["pvno"], rep["msg-type"], rep["crealm"] = 5, 11, REALM
    rep["cname"]["name-type"] = ka.NT_PRINCIPAL
    rep["cname"]["name-string"][0] = "alice"
    ticket = rep["ticket"]
    ticket["tkt-vno"], ticket["realm"] = 5, REALM
    ticket["sname"]["name-type"] = ka.NT_SRV_INST
    ticket["sname"]["name-string"][0] = "krbtgt"
    ticket["sname"]["name-string"][1] = REALM
    ticket["enc-part"]["etype"] = key.enctype
    ticket["enc-part"]["cipher"] = b"ticket"
    rep["enc-part"]["etype"] = key.enctype
    rep["enc-part"]["cipher"] = kcrypto.encrypt(key, 3, encoder.encode(part), b"\x07" * 16)
    return encoder.encode(rep)


@pytest.mark.parametrize("tag_as", [asn1.EncASRepPart, asn1.EncTGSRepPart])
def test_an_as_rep_proves_the_password_only_with_its_key_and_nonce(tag_as):
    key = ka.string_to_key(ka.AES256, "Alice-Passw0rd!", REALM + "alice")
    kind, rep = ka._decode_reply(as_rep(key, 4242, tag_as))
    assert kind == "rep"
    assert ka._check_rep(rep, key, 4242, "udp").ok
    wrong = ka.string_to_key(ka.AES256, "not-her-password", REALM + "alice")
    assert ka._check_rep(rep, wrong, 4242, "udp").outcome == "KDC_ERR_PREAUTH_FAILED"
    with pytest.raises(ka.BadReply, match="nonce"):
        ka._check_rep(rep, key, 4243, "udp")


@pytest.mark.parametrize("data", [b"", b"\x7e", b"\x7e\x05abc", b"\x30\x00", b"\x6b\x02\x30\x00",
                                  b"\x7e\x84\xff\xff\xff\xff", b"\x7e\x03\x30\x01\x02"])
def test_malformed_replies_are_bad_replies(data):
    with pytest.raises(ka.BadReply):
        ka._decode_reply(data)
