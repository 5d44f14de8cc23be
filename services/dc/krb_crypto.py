"""Kerberos keys and encryption for the KDC: the three enctypes AD Connector needs.

aes256-cts-hmac-sha1-96 (18) and aes128-cts-hmac-sha1-96 (17) per RFC 3962, rc4-hmac (23) per
RFC 4757. The cipher code is impacket's `krb5.crypto` (CTS, n-fold, key derivation, RC4-HMAC);
this module only chooses how keys are made and keeps the calls in one place:

- string2key for AES runs PBKDF2 through `hashlib` (OpenSSL) instead of impacket's pure-Python
  PBKDF2, which is ~50x slower; the result is the same RFC 3962 key.
- rc4-hmac's key is the NT hash (MD4 of the UTF-16LE password); it has no salt.
- AES encrypt/decrypt follow RFC 3961's simplified profile as impacket does, but remember the
  derived keys (Ke, Ki per key and usage): impacket derives both in Python on every call, a fifth
  of the KDC's time per AS exchange, and the KDC reuses the same few long-term keys all day.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import struct
from functools import lru_cache

from impacket.krb5 import crypto as _crypto
from impacket.krb5.crypto import InvalidChecksum as InvalidChecksum  # re-exported for the KDC
from impacket.krb5.crypto import Key as Key

AES256, AES128, RC4 = 18, 17, 23
SUPPORTED = (AES256, AES128, RC4)           # the KDC's preference, strongest first
NAMES = {AES256: "aes256-cts-hmac-sha1-96", AES128: "aes128-cts-hmac-sha1-96", RC4: "rc4-hmac"}
AES_ITERATIONS = 4096                       # RFC 3962 default; AD uses it too

# Key usage numbers (RFC 4120 7.5.1).
KU_PA_ENC_TIMESTAMP = 1
KU_TICKET = 2
KU_AS_REP_ENC_PART = 3


def string_to_key(enctype: int, password: str, salt: str) -> Key:
    """The long-term key a client derives from its password (salt is ignored for RC4)."""
    if enctype == RC4:
        return _crypto.string_to_key(RC4, password, b"")
    profile = _crypto._get_enctype_profile(enctype)
    seed = hashlib.pbkdf2_hmac("sha1", password.encode("utf-8"), salt.encode("utf-8"),
                               AES_ITERATIONS, profile.seedsize)
    return profile.derive(profile.random_to_key(seed), b"kerberos")


def random_key(enctype: int) -> Key:
    """A fresh session key (or a KDC-only service key) of `enctype`."""
    return Key(enctype, os.urandom(_crypto._get_enctype_profile(enctype).keysize))


def encrypt(key: Key, usage: int, plaintext: bytes) -> bytes:
    if key.enctype == RC4:
        return _crypto.encrypt(key, usage, plaintext, os.urandom(8))
    profile, ke, ki = _derived(key.enctype, key.contents, usage)
    basic = os.urandom(16) + plaintext
    mac = hmac.new(ki, basic, "sha1").digest()[:12]
    return profile.basic_encrypt(Key(key.enctype, ke), basic) + mac


def decrypt(key: Key, usage: int, ciphertext: bytes) -> bytes:
    """Raises InvalidChecksum (wrong key) or ValueError (malformed ciphertext)."""
    if key.enctype == RC4:
        return _crypto.decrypt(key, usage, ciphertext)
    if len(ciphertext) < 16 + 12:
        raise ValueError("ciphertext too short")
    profile, ke, ki = _derived(key.enctype, key.contents, usage)
    basic = profile.basic_decrypt(Key(key.enctype, ke), bytes(ciphertext[:-12]))
    if not hmac.compare_digest(hmac.new(ki, basic, "sha1").digest()[:12], bytes(ciphertext[-12:])):
        raise InvalidChecksum("ciphertext integrity failure")
    return bytes(basic[16:])


CKSUM_HMAC_SHA1_96_AES128, CKSUM_HMAC_SHA1_96_AES256 = 15, 16
_AES_CKSUM = {CKSUM_HMAC_SHA1_96_AES128: AES128, CKSUM_HMAC_SHA1_96_AES256: AES256}


def checksum(kind: int, key: Key, usage: int, data: bytes) -> bytes:
    """A keyed checksum (RFC 3961 get_mic): for the AES types HMAC-SHA1 in Kc, cut to 96 bits, with
    Kc remembered per key and usage as Ke and Ki are (impacket derives it on every call); other
    types (hmac-md5 for rc4), and a key of another enctype than the checksum's, are left to
    impacket as before. KeyError for an unknown type."""
    enctype = _AES_CKSUM.get(kind)
    if enctype is None or key.enctype != enctype:
        return bytes(_crypto._checksum_table[kind].checksum(key, usage, data))
    return hmac.new(_kc(enctype, key.contents, usage), data, "sha1").digest()[:12]


@lru_cache(maxsize=1024)
def _kc(enctype: int, contents: bytes, usage: int) -> bytes:
    profile = _crypto._get_enctype_profile(enctype)
    return profile.derive(Key(enctype, contents), struct.pack(">IB", usage, 0x99)).contents


@lru_cache(maxsize=4096)
def _derived(enctype: int, contents: bytes, usage: int):
    """(profile, Ke, Ki) for an AES key and usage (RFC 3961 DK with 0xAA / 0x55)."""
    profile = _crypto._get_enctype_profile(enctype)
    key = Key(enctype, contents)
    ke = profile.derive(key, struct.pack(">IB", usage, 0xAA)).contents
    ki = profile.derive(key, struct.pack(">IB", usage, 0x55)).contents
    return profile, ke, ki
