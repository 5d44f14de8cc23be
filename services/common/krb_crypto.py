"""Kerberos encryption and checksums (RFC 3961 simplified profile, RFC 3962 AES, RFC 4757 RC4-HMAC).

Shared plumbing for the DC's KDC and AD Connector's client (no service code: each side keeps its own
messages). The enctypes are the three AD Connector and the lab DC use:

- aes256-cts-hmac-sha1-96 (18) and aes128-cts-hmac-sha1-96 (17), RFC 3962: string-to-key is
  PBKDF2-HMAC-SHA1 (4096 rounds by default) then DK(key, "kerberos"); encryption is AES in CBC
  with ciphertext stealing (CTS, IV zero) over a 16-byte random confounder and the plaintext,
  followed by HMAC-SHA1 cut to 96 bits; the keys Ke / Ki / Kc are derived per key usage with
  RFC 3961's DK (n-fold of usage || 0xAA / 0x55 / 0x99, then AES-CBC iterated).
- rc4-hmac (23), RFC 4757: the key is the NT hash (MD4 of the UTF-16LE password, no salt);
  encryption is HMAC-MD5 over an 8-byte confounder and the plaintext, RC4 in a key derived from
  that MAC; the checksum hmac-md5 (-138) signs the MD5 of usage || data with a "signaturekey".

Derived keys (Ke, Ki, Kc) are kept per (key, usage) in bounded LRU caches: a KDC or a connector
uses the same few long-term keys all day, and deriving costs two AES operations each. So are the
AES ciphers made from them (ECB, and CBC chained on from message to message with its IV state
cancelled out): making one cost more than most of the messages it encrypts.

The block cipher, RC4 and MD4 are pycryptodomex's (`Cryptodome`); hashing, HMAC and PBKDF2 are
the standard library's (OpenSSL). Measured on the team's machine: `cryptography` runs one AES-CBC
call ~2.5 us faster (5.6 vs 8.1 us for 48 bytes), i.e. < 10 us of an AS exchange's ~1 ms, but
costs ~3.7 MB more RSS at import than pycryptodomex (~1 MB), and RSS per service is a target too.
The tests check the RFC 3961/3962 test vectors and interoperation with impacket's implementation.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import struct
import threading
from functools import lru_cache
from math import gcd

from Cryptodome.Cipher import AES as _AES
from Cryptodome.Cipher import ARC4 as _ARC4
from Cryptodome.Hash import MD4 as _MD4

AES128, AES256, RC4 = 17, 18, 23
KEY_SIZES = {AES128: 16, AES256: 32, RC4: 16}
NAMES = {AES256: "aes256-cts-hmac-sha1-96", AES128: "aes128-cts-hmac-sha1-96", RC4: "rc4-hmac"}
AES_ITERATIONS = 4096                       # RFC 3962's default; AD uses it too

CKSUM_HMAC_SHA1_96_AES128, CKSUM_HMAC_SHA1_96_AES256, CKSUM_HMAC_MD5 = 15, 16, -138
# the enctype whose DK makes each keyed checksum's key (hmac-md5 takes the RC4 key as it is)
CHECKSUM_ENCTYPES = {CKSUM_HMAC_SHA1_96_AES128: AES128, CKSUM_HMAC_SHA1_96_AES256: AES256,
                     CKSUM_HMAC_MD5: RC4}
_ZERO_IV = bytes(16)
_MAC_SIZE = 12                               # HMAC-SHA1-96


class InvalidChecksum(ValueError):
    """A ciphertext or checksum that does not verify: the wrong key, usage, or altered bytes."""


class Key:
    """A Kerberos key: its enctype and its bytes (of the enctype's size)."""
    __slots__ = ("contents", "enctype")

    def __init__(self, enctype: int, contents: bytes):
        size = KEY_SIZES.get(enctype)
        if size is None:
            raise ValueError(f"unsupported enctype {enctype}")
        if len(contents) != size:
            raise ValueError("wrong key length")
        self.enctype = enctype
        self.contents = bytes(contents)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and (self.enctype, self.contents) == (other.enctype, other.contents)

    def __hash__(self) -> int:
        return hash((self.enctype, self.contents))

    def __repr__(self) -> str:               # never the key's bytes
        return f"Key({NAMES.get(self.enctype, self.enctype)})"


# -- RFC 3961: n-fold and DK ---------------------------------------------------------------------
def nfold(data: bytes, size: int) -> bytes:
    """RFC 3961 5.1: `data` stretched or folded to `size` bytes: lcm(len, size) bytes made of
    copies of the input, each rotated right 13 bits more than the one before, cut into `size`-byte
    pieces added together in ones'-complement arithmetic."""
    width = len(data) * 8
    value = int.from_bytes(data, "big")
    full = (1 << width) - 1
    total = len(data) * size // gcd(len(data), size)
    stream = 0
    for i in range(total // len(data)):
        r = (13 * i) % width
        stream = (stream << width) | (((value >> r) | (value << (width - r))) & full)
    piece_bits = size * 8
    mask = (1 << piece_bits) - 1
    acc = 0
    for _ in range(total // size):
        acc += stream & mask
        stream >>= piece_bits
    while acc >> piece_bits:                  # end-around carry
        acc = (acc & mask) + (acc >> piece_bits)
    return acc.to_bytes(size, "big")


def derive(contents: bytes, constant: bytes, size: int) -> bytes:
    """RFC 3961 5.1 DK for AES (random-to-key is the identity): AES-encrypt n-fold(constant) in
    `contents`, then each output again, until `size` bytes."""
    aes = _AES.new(contents, _AES.MODE_ECB)
    block = nfold(constant, 16)
    out = b""
    while len(out) < size:
        block = aes.encrypt(block)
        out += block
    return out[:size]


@lru_cache(maxsize=4096)
def _ke_ki(contents: bytes, usage: int) -> tuple[bytes, bytes]:
    size = len(contents)
    return (derive(contents, struct.pack(">IB", usage, 0xAA), size),
            derive(contents, struct.pack(">IB", usage, 0x55), size))


@lru_cache(maxsize=1024)
def _kc(contents: bytes, usage: int, size: int) -> bytes:
    return derive(contents, struct.pack(">IB", usage, 0x99), size)


# -- keys ----------------------------------------------------------------------------------------
def string_to_key(enctype: int, password: str, salt: str, iterations: int = AES_ITERATIONS) -> Key:
    """A principal's long-term key from its password (the salt is ignored for RC4)."""
    if enctype == RC4:
        return Key(RC4, _MD4.new(password.encode("utf-16-le")).digest())
    size = KEY_SIZES.get(enctype)
    if size is None:
        raise ValueError(f"unsupported enctype {enctype}")
    seed = hashlib.pbkdf2_hmac("sha1", password.encode("utf-8"), salt.encode("utf-8"), iterations, size)
    return Key(enctype, derive(seed, b"kerberos", size))


def random_key(enctype: int) -> Key:
    """A fresh session key (or a KDC-only service key) of `enctype`."""
    if enctype not in KEY_SIZES:
        raise ValueError(f"unsupported enctype {enctype}")
    return Key(enctype, os.urandom(KEY_SIZES[enctype]))


# -- AES-CTS (RFC 3962 5: CBC, IV zero, the last two blocks swapped, the last one cut) -------------
@lru_cache(maxsize=1024)
def _ecb(contents: bytes):
    """AES in ECB for a key, kept: ECB holds no state between calls, and making one (the key
    schedule, through cffi) cost more than decrypting a PA-ENC-TIMESTAMP with it."""
    return _AES.new(contents, _AES.MODE_ECB)


class _ZeroIvCbc:
    """AES-CBC encryption with a zero IV in one key, from a cipher made once (making one cost
    ~6 us, two per AS-REP). The cipher chains on from its last output block; XOR-ing that block
    into the first plaintext block cancels it, so each message is encrypted as from IV zero."""
    __slots__ = ("cbc", "chain", "lock")

    def __init__(self, contents: bytes):
        self.cbc = _AES.new(contents, _AES.MODE_CBC, _ZERO_IV)
        self.chain = 0                        # the cipher's IV now (its last output block)
        self.lock = threading.Lock()          # the chain is state: one message at a time

    def encrypt(self, padded: bytes) -> bytes:
        with self.lock:
            if self.chain:
                first = (int.from_bytes(padded[:16], "big") ^ self.chain).to_bytes(16, "big")
                padded = first + padded[16:]
            out = self.cbc.encrypt(padded)
            self.chain = int.from_bytes(out[-16:], "big")
        return out


_cbc = lru_cache(maxsize=1024)(_ZeroIvCbc)


def cts_encrypt(contents: bytes, plaintext: bytes) -> bytes:
    n = len(plaintext)
    if n < 16:
        raise ValueError("CTS needs at least one block")
    if n == 16:
        return _ecb(contents).encrypt(plaintext)
    padded = plaintext + bytes(-n % 16)
    c = _cbc(contents).encrypt(padded)
    last = n - (len(padded) - 16)             # bytes of the final (partial) block: 1..16
    return c[:-32] + c[-16:] + c[-32:-16][:last]


def cts_decrypt(contents: bytes, ciphertext: bytes) -> bytes:
    n = len(ciphertext)
    if n < 16:
        raise ValueError("ciphertext too short")
    aes = _ecb(contents)
    if n == 16:
        return aes.decrypt(ciphertext)
    last = n % 16 or 16
    head = n - last - 16                      # whole blocks before the swapped pair
    if head:
        # CBC decryption block by block is ECB's output XOR the block before (the IV, zero, for
        # the first): one ECB call and one XOR for all of them.
        prev = ciphertext[head - 16:head]
        plain = _xor(aes.decrypt(ciphertext[:head]), _ZERO_IV + ciphertext[:head - 16])
    else:
        prev, plain = _ZERO_IV, b""
    stolen, final = ciphertext[head:head + 16], ciphertext[head + 16:]
    d = aes.decrypt(stolen)                   # the last block's CBC output, its tail the stolen bytes
    tail = _xor(d[:last], final)
    second = aes.decrypt(final + d[last:])
    return plain + _xor(second, prev) + tail


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


# -- encryption ----------------------------------------------------------------------------------
def encrypt(key: Key, usage: int, plaintext: bytes, confounder: bytes | None = None) -> bytes:
    """RFC 3961 encrypt for `key`'s enctype (a random confounder unless one is given)."""
    if key.enctype == RC4:
        return _rc4_encrypt(key.contents, usage, plaintext, confounder or os.urandom(8))
    ke, ki = _ke_ki(bytes(key.contents), usage)
    basic = (confounder or os.urandom(16)) + plaintext
    return cts_encrypt(ke, basic) + hmac.new(ki, basic, "sha1").digest()[:_MAC_SIZE]


def decrypt(key: Key, usage: int, ciphertext: bytes) -> bytes:
    """The plaintext; InvalidChecksum for the wrong key or usage, ValueError when malformed."""
    ciphertext = bytes(ciphertext)
    if key.enctype == RC4:
        return _rc4_decrypt(key.contents, usage, ciphertext)
    if len(ciphertext) < 16 + _MAC_SIZE:
        raise ValueError("ciphertext too short")
    ke, ki = _ke_ki(bytes(key.contents), usage)
    basic = cts_decrypt(ke, ciphertext[:-_MAC_SIZE])
    if not hmac.compare_digest(hmac.new(ki, basic, "sha1").digest()[:_MAC_SIZE], ciphertext[-_MAC_SIZE:]):
        raise InvalidChecksum("ciphertext integrity failure")
    return basic[16:]


def checksum(kind: int, key: Key, usage: int, data: bytes) -> bytes:
    """A keyed checksum (RFC 3961 get_mic): hmac-sha1-96-aes128/256 (15/16) HMAC-SHA1 in Kc, cut to
    96 bits; hmac-md5 (-138, RFC 4757) for RC4 keys. KeyError for another type. As RFC 3961's
    profile defines it, Kc is DK of the key's bytes to the checksum's enctype's key size, so a key
    of another AES enctype still gives a (different) value; the caller decides whether it fits."""
    enctype = CHECKSUM_ENCTYPES[kind]
    if kind == CKSUM_HMAC_MD5:
        ksign = hmac.new(key.contents, b"signaturekey\0", "md5").digest()
        inner = hashlib.md5(_rc4_usage(usage) + data).digest()
        return hmac.new(ksign, inner, "md5").digest()
    kc = _kc(bytes(key.contents), usage, KEY_SIZES[enctype])
    return hmac.new(kc, data, "sha1").digest()[:_MAC_SIZE]


def verify_checksum(kind: int, key: Key, usage: int, data: bytes, mac: bytes) -> None:
    """InvalidChecksum unless `mac` is `data`'s checksum of `kind` in `key`."""
    if not hmac.compare_digest(checksum(kind, key, usage, data), bytes(mac)):
        raise InvalidChecksum("checksum verification failure")


# -- RC4-HMAC (RFC 4757) -------------------------------------------------------------------------
def _rc4_usage(usage: int) -> bytes:
    """RFC 4757's message types: usage 3 (AS-REP) is 8 and 23 is 13; 9 stays 9 (per the errata)."""
    return struct.pack("<I", {3: 8, 23: 13}.get(usage, usage))


def _rc4_encrypt(contents: bytes, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
    ki = hmac.new(contents, _rc4_usage(usage), "md5").digest()
    basic = confounder + plaintext
    mac = hmac.new(ki, basic, "md5").digest()
    ke = hmac.new(ki, mac, "md5").digest()
    return mac + _ARC4.new(ke).encrypt(basic)


def _rc4_decrypt(contents: bytes, usage: int, ciphertext: bytes) -> bytes:
    if len(ciphertext) < 24:
        raise ValueError("ciphertext too short")
    mac, body = ciphertext[:16], ciphertext[16:]
    ki = hmac.new(contents, _rc4_usage(usage), "md5").digest()
    basic = _ARC4.new(hmac.new(ki, mac, "md5").digest()).decrypt(body)
    ok = hmac.compare_digest(hmac.new(ki, basic, "md5").digest(), mac)
    if not ok and usage == 9:               # senders that followed RFC 4757 before its errata use 8
        ki = hmac.new(contents, struct.pack("<I", 8), "md5").digest()
        basic = _ARC4.new(hmac.new(ki, mac, "md5").digest()).decrypt(body)
        ok = hmac.compare_digest(hmac.new(ki, basic, "md5").digest(), mac)
    if not ok:
        raise InvalidChecksum("ciphertext integrity failure")
    return basic[8:]
