"""The KDC's key and cipher shortcuts give what the reference code gives: string2key through
hashlib equals impacket's RFC 3962 PBKDF2, rc4's key is the NT hash, and encryption with cached
derived keys interoperates both ways with impacket's RFC 3961 implementation."""
import os

import pytest
from impacket.krb5 import crypto as reference

from services.dc import krb_crypto


@pytest.mark.parametrize("enctype", [krb_crypto.AES128, krb_crypto.AES256])
def test_aes_string_to_key_matches_the_reference(enctype):
    ours = krb_crypto.string_to_key(enctype, "Alice-Passw0rd!", "CORP.EXAMPLE.COMalice")
    theirs = reference.string_to_key(enctype, "Alice-Passw0rd!", "CORP.EXAMPLE.COMalice")
    assert ours.contents == theirs.contents and ours.enctype == enctype


def test_rc4_key_is_the_nt_hash():
    assert krb_crypto.string_to_key(krb_crypto.RC4, "password", "ignored").contents.hex() == \
        "8846f7eaee8fb117ad06bdd830b7586c"


@pytest.mark.parametrize("enctype", krb_crypto.SUPPORTED)
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 33, 700])
def test_encryption_interoperates_with_the_reference(enctype, size):
    key = krb_crypto.random_key(enctype)
    plaintext = os.urandom(size)
    confounder = os.urandom(8 if enctype == krb_crypto.RC4 else 16)
    assert reference.decrypt(key, 3, krb_crypto.encrypt(key, 3, plaintext)) == plaintext
    assert krb_crypto.decrypt(key, 3, reference.encrypt(key, 3, plaintext, confounder)) == plaintext


@pytest.mark.parametrize("enctype", krb_crypto.SUPPORTED)
def test_wrong_key_or_usage_is_an_integrity_failure(enctype):
    key, other = krb_crypto.random_key(enctype), krb_crypto.random_key(enctype)
    sealed = krb_crypto.encrypt(key, 1, b"a timestamp, say")
    with pytest.raises(krb_crypto.InvalidChecksum):
        krb_crypto.decrypt(other, 1, sealed)
    with pytest.raises(krb_crypto.InvalidChecksum):
        krb_crypto.decrypt(key, 2, sealed)
    with pytest.raises((krb_crypto.InvalidChecksum, ValueError)):
        krb_crypto.decrypt(key, 1, sealed[:10])
