"""In-process: the TGS-REQ authenticator's checksum of the req-body (RFC 4120 3.3.2), each answer."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.dc import krb_crypto, krb_tgs
from services.dc.krb_wire import KRB_AP_ERR_MODIFIED

BODY = b"the req-body as it came"
AES_KEY = krb_crypto.random_key(krb_crypto.AES256)


def accepted(kind: int | None, checksum: bytes, key: krb_crypto.Key = AES_KEY) -> SimpleNamespace:
    return SimpleNamespace(checksum_type=kind, checksum=checksum, ticket=SimpleNamespace(session_key=key))


def test_the_right_checksum_verifies():
    mac = krb_crypto.checksum(krb_crypto.CKSUM_HMAC_SHA1_96_AES256, AES_KEY, krb_tgs.KU_TGS_REQ_AUTH_CKSUM, BODY)
    assert krb_tgs._body_checksum_problem(accepted(16, mac), BODY) is None


def test_a_changed_body_is_modified():
    mac = krb_crypto.checksum(krb_crypto.CKSUM_HMAC_SHA1_96_AES256, AES_KEY, krb_tgs.KU_TGS_REQ_AUTH_CKSUM, BODY)
    assert krb_tgs._body_checksum_problem(accepted(16, mac), BODY + b"!") == KRB_AP_ERR_MODIFIED


@pytest.mark.parametrize("kind", [None, 7, krb_crypto.CKSUM_HMAC_SHA1_96_AES128, krb_crypto.CKSUM_HMAC_MD5])
def test_no_checksum_an_unkeyed_one_or_one_of_another_enctype_is_inappropriate(kind):
    """Keyed checksums belong to an enctype (RFC 3961): hmac-md5 or the aes128 one over an aes256
    session key is KRB_AP_ERR_INAPP_CKSUM (50), not a wrong checksum (41)."""
    mac = bytes(12) if kind is None or kind == 7 else krb_crypto.checksum(kind, AES_KEY, 6, BODY)
    assert krb_tgs._body_checksum_problem(accepted(kind, mac), BODY) == krb_tgs.KRB_AP_ERR_INAPP_CKSUM
