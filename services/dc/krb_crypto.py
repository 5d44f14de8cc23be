"""Kerberos keys and encryption for the KDC: the three enctypes AD Connector needs.

aes256-cts-hmac-sha1-96 (18) and aes128-cts-hmac-sha1-96 (17) per RFC 3962, rc4-hmac (23) per
RFC 4757, from `services/common/krb_crypto.py` (pycryptodomex's AES and RC4, the standard
library's HMAC and PBKDF2; derived keys Ke, Ki, Kc kept per key and usage). This module names
what the KDC uses: its enctype preference and the key usages of the AS exchange.
"""
from __future__ import annotations

from services.common.krb_crypto import (
    AES128,
    AES256,
    AES_ITERATIONS,
    CHECKSUM_ENCTYPES,
    CKSUM_HMAC_MD5,
    CKSUM_HMAC_SHA1_96_AES128,
    CKSUM_HMAC_SHA1_96_AES256,
    NAMES,
    RC4,
    InvalidChecksum,
    Key,
    checksum,
    decrypt,
    encrypt,
    random_key,
    string_to_key,
    verify_checksum,
)

SUPPORTED = (AES256, AES128, RC4)           # the KDC's preference, strongest first

# Key usage numbers (RFC 4120 7.5.1).
KU_PA_ENC_TIMESTAMP = 1
KU_TICKET = 2
KU_AS_REP_ENC_PART = 3

__all__ = [
    "AES128",
    "AES256",
    "AES_ITERATIONS",
    "CHECKSUM_ENCTYPES",
    "CKSUM_HMAC_MD5",
    "CKSUM_HMAC_SHA1_96_AES128",
    "CKSUM_HMAC_SHA1_96_AES256",
    "KU_AS_REP_ENC_PART",
    "KU_PA_ENC_TIMESTAMP",
    "KU_TICKET",
    "NAMES",
    "RC4",
    "SUPPORTED",
    "InvalidChecksum",
    "Key",
    "checksum",
    "decrypt",
    "encrypt",
    "random_key",
    "string_to_key",
    "verify_checksum",
]
