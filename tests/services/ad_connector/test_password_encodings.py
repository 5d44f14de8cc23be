"""The MFA field in each AuthenticationProtocol: PAP decrypts back; CHAP and MS-CHAP follow their
RFCs (checked with RFC 2759's own test vectors)."""
import hashlib

import pytest
from pyrad import packet

from services.ad_connector import password_encodings as pe
from services.ad_connector.radius_client import DICTIONARY, build_access_request

SECRET = b"a-shared-secret"


def test_rfc_2759_test_vectors():
    auth = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
    peer = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
    challenge = hashlib.sha1(peer + auth + b"User").digest()[:8]
    assert challenge.hex().upper() == "D02E4386BCE91226"
    nt_hash = pe._nt_hash("clientPass")
    assert nt_hash.hex().upper() == "44EBBA8D5312B8D611474411F56989AE"
    assert pe._challenge_response(challenge, nt_hash).hex().upper() == \
        "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"


def decode(raw):
    return packet.AuthPacket(packet=raw, secret=SECRET, dict=DICTIONARY)


def test_pap_carries_the_code_as_user_password():
    req = decode(build_access_request("alice", "123456", SECRET, "d-1", "PAP").RequestPacket())
    assert req.PwDecrypt(req["User-Password"][0]) == "123456"


def test_chap_password_is_md5_of_ident_password_challenge():
    req = decode(build_access_request("alice", "123456", SECRET, "d-1", "CHAP").RequestPacket())
    chap, challenge = req["CHAP-Password"][0], req["CHAP-Challenge"][0]
    assert chap[1:] == hashlib.md5(chap[:1] + b"123456" + challenge).digest()
    assert "User-Password" not in req


@pytest.mark.parametrize("protocol, attribute, length", [("MS-CHAPv1", "MS-CHAP-Response", 50),
                                                          ("MS-CHAPv2", "MS-CHAP2-Response", 50)])
def test_ms_chap_sends_microsoft_vsas_and_no_user_password(protocol, attribute, length):
    req = decode(build_access_request("alice", "123456", SECRET, "d-1", protocol).RequestPacket())
    assert len(req[attribute][0]) == length
    assert "MS-CHAP-Challenge" in req and "User-Password" not in req


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError):
        build_access_request("alice", "123456", SECRET, "d-1", "EAP-TLS")
