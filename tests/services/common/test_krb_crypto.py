"""services/common/krb_crypto.py against the RFCs' test vectors (RFC 3961 n-fold, RFC 3962
string-to-key and CBC with ciphertext stealing, RFC 4757's NT hash) and against impacket's
RFC 3961 implementation (`impacket.krb5.crypto`, a test dependency only): the same keys, ciphertexts
both ways, the same checksums."""
import os
import threading

import pytest
from impacket.krb5 import crypto as reference

from services.common import krb_crypto as kc

# RFC 3961 A.1: n-fold
NFOLD = [(b"012345", 8, "be072631276b1955"), (b"password", 7, "78a07b6caf85fa"),
         (b"Rough Consensus, and Running Code", 8, "bb6ed30870b7f0e0"),
         (b"password", 21, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"),
         (b"MASSACHVSETTS INSTITVTE OF TECHNOLOGY", 24, "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b"),
         (b"Q", 21, "518a54a215a8452a518a54a215a8452a518a54a215"),
         (b"ba", 21, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"),
         (b"kerberos", 8, "6b65726265726f73"), (b"kerberos", 16, "6b65726265726f737b9b5b2b93132b93")]

# RFC 3962 B: string-to-key (iterations, password, salt, aes128 key, aes256 key)
S2K = [(1, "password", "ATHENA.MIT.EDUraeburn", "42263c6e89f4fc28b8df68ee09799f15",
        "fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161"),
       (2, "password", "ATHENA.MIT.EDUraeburn", "c651bf29e2300ac27fa469d693bdda13",
        "a2e16d16b36069c135d5e9d2e25f896102685618b95914b467c67622225824ff"),
       (1200, "password", "ATHENA.MIT.EDUraeburn", "4c01cd46d632d01e6dbe230a01ed642a",
        "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a"),
       (50, "\U0001d11e", "EXAMPLE.COMpianist", "f149c1f2e154a73452d43e7fe62a56e5",
        "4b6d9839f84406df1f09cc166db4b83c571848b784a3d6bdc346589a3e393f9e")]

# RFC 3962 B: AES-128 CBC-CTS with a zero IV, key "chicken teriyaki"
CTS_PLAIN = b"I would like the General Gau's Chicken, please, and wonton soup."
CTS = [(17, "c6353568f2bf8cb4d8a580362da7ff7f97"),
       (31, "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5"),
       (32, "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584"),
       (47, "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5"),
       (48, "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8"),
       (64, "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a8"
            "4807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8")]


@pytest.mark.parametrize("data,size,expected", NFOLD)
def test_nfold_vectors(data, size, expected):
    assert kc.nfold(data, size).hex() == expected


@pytest.mark.parametrize("iterations,password,salt,k128,k256", S2K)
def test_string_to_key_vectors(iterations, password, salt, k128, k256):
    assert kc.string_to_key(kc.AES128, password, salt, iterations).contents.hex() == k128
    assert kc.string_to_key(kc.AES256, password, salt, iterations).contents.hex() == k256


@pytest.mark.parametrize("size,expected", CTS)
def test_cts_vectors(size, expected):
    key = b"chicken teriyaki"
    assert kc.cts_encrypt(key, CTS_PLAIN[:size]).hex() == expected
    assert kc.cts_decrypt(key, bytes.fromhex(expected)) == CTS_PLAIN[:size]


def test_one_key_s_cipher_keeps_every_message_at_iv_zero_across_calls_and_threads():
    """krb_crypto makes AES-CBC once per key and chains on between messages (`_ZeroIvCbc`):
    each message must still come out as from a zero IV, in any order, from several threads."""
    key, wrong = b"chicken teriyaki", []

    def run() -> None:
        for _ in range(200):
            for size, expected in CTS:
                got = kc.cts_encrypt(key, CTS_PLAIN[:size]).hex()
                if got != expected:
                    wrong.append((size, got))
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_rc4_key_is_the_nt_hash():
    assert kc.string_to_key(kc.RC4, "password", "ignored").contents.hex() == "8846f7eaee8fb117ad06bdd830b7586c"


@pytest.mark.parametrize("enctype", [kc.AES128, kc.AES256, kc.RC4])
def test_string_to_key_is_impacket_s(enctype):
    salt = "CORP.EXAMPLE.COMalice"
    theirs = reference.string_to_key(enctype, "Alice-Passw0rd!", salt if enctype != kc.RC4 else b"")
    assert kc.string_to_key(enctype, "Alice-Passw0rd!", salt).contents == theirs.contents


@pytest.mark.parametrize("enctype", [kc.AES128, kc.AES256, kc.RC4])
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 31, 32, 33, 700])
def test_ciphertexts_are_impacket_s_both_ways(enctype, size):
    key = kc.random_key(enctype)
    plaintext, confounder = os.urandom(size), os.urandom(8 if enctype == kc.RC4 else 16)
    for usage in (1, 3, 9, 3):                       # the last one with Ke/Ki remembered
        ours = kc.encrypt(key, usage, plaintext, confounder)
        assert ours == reference.encrypt(key, usage, plaintext, confounder)
        theirs = reference.encrypt(key, usage, plaintext, os.urandom(len(confounder)))
        assert kc.decrypt(key, usage, theirs) == plaintext
        assert reference.decrypt(key, usage, kc.encrypt(key, usage, plaintext)) == plaintext


@pytest.mark.parametrize("kind,enctype", [(15, kc.AES128), (16, kc.AES256), (-138, kc.RC4)])
def test_checksums_are_impacket_s(kind, enctype):
    key = kc.random_key(enctype)
    for usage in (17, 6, 17):
        expected = bytes(reference._checksum_table[kind].checksum(key, usage, b"the data"))
        assert kc.checksum(kind, key, usage, b"the data") == expected
        kc.verify_checksum(kind, key, usage, b"the data", expected)
        with pytest.raises(kc.InvalidChecksum):
            kc.verify_checksum(kind, key, usage, b"other data", expected)
    with pytest.raises(KeyError):
        kc.checksum(7, key, 6, b"x")                 # unkeyed RSA-MD5: not a keyed checksum


@pytest.mark.parametrize("enctype", [kc.AES128, kc.AES256, kc.RC4])
def test_wrong_key_usage_or_altered_bytes_do_not_decrypt(enctype):
    key, other = kc.random_key(enctype), kc.random_key(enctype)
    sealed = kc.encrypt(key, 1, b"a timestamp, say")
    for bad in (lambda: kc.decrypt(other, 1, sealed), lambda: kc.decrypt(key, 2, sealed),
                lambda: kc.decrypt(key, 1, sealed[:-1] + bytes([sealed[-1] ^ 1]))):
        with pytest.raises(kc.InvalidChecksum):
            bad()
    with pytest.raises(ValueError):
        kc.decrypt(key, 1, sealed[:10])


def test_keys_check_their_size_and_never_show_their_bytes():
    with pytest.raises(ValueError):
        kc.Key(kc.AES256, bytes(16))
    with pytest.raises(ValueError):
        kc.Key(99, bytes(16))
    key = kc.Key(kc.AES128, bytes(range(16)))
    assert key == kc.Key(kc.AES128, bytes(range(16))) and "0001" not in repr(key)
