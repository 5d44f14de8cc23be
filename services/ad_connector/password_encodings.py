"""How AD Connector puts the MFA field into an Access-Request, per AuthenticationProtocol.

PAP is what works with the Okta RADIUS agent. CHAP, MS-CHAPv1 and MS-CHAPv2 are here so the lab
can reproduce that misconfiguration faithfully: the request carries real CHAP-Password or
Microsoft VSAs (RFC 1994, RFC 2433, RFC 2548, RFC 2759) and no User-Password, which a PAP-only
server cannot use.
"""
from __future__ import annotations

import hashlib
import os

from Cryptodome.Cipher import DES
from Cryptodome.Hash import MD4
from pyrad import packet

PROTOCOLS = ("PAP", "CHAP", "MS-CHAPv1", "MS-CHAPv2")


def encode(req: packet.AuthPacket, protocol: str, username: str, secret_value: str) -> None:
    """Add the password attributes for `protocol` to `req`."""
    if protocol == "PAP":
        req["User-Password"] = req.PwCrypt(secret_value)
    elif protocol == "CHAP":
        ident, challenge = os.urandom(1), os.urandom(16)
        req["CHAP-Challenge"] = challenge
        req["CHAP-Password"] = ident + hashlib.md5(ident + secret_value.encode() + challenge).digest()
    elif protocol == "MS-CHAPv1":
        challenge = os.urandom(8)
        req["MS-CHAP-Challenge"] = challenge
        nt_response = _challenge_response(challenge, _nt_hash(secret_value))
        # Ident, Flags (1: use the NT-Response), LM-Response (unused, zero), NT-Response
        req["MS-CHAP-Response"] = b"\x01\x01" + bytes(24) + nt_response
    elif protocol == "MS-CHAPv2":
        auth_challenge, peer_challenge = os.urandom(16), os.urandom(16)
        req["MS-CHAP-Challenge"] = auth_challenge
        challenge = hashlib.sha1(peer_challenge + auth_challenge + username.encode()).digest()[:8]
        nt_response = _challenge_response(challenge, _nt_hash(secret_value))
        # Ident, Flags, Peer-Challenge, Reserved (8 zero octets), NT-Response
        req["MS-CHAP2-Response"] = b"\x01\x00" + peer_challenge + bytes(8) + nt_response
    else:
        raise ValueError(f"AuthenticationProtocol must be one of {', '.join(PROTOCOLS)}")


def _nt_hash(password: str) -> bytes:
    return MD4.new(password.encode("utf-16-le")).digest()


def _des_key(seven: bytes) -> bytes:
    """Spread 56 key bits over 8 octets (parity bits left clear; DES ignores them)."""
    bits = int.from_bytes(seven, "big")
    return bytes(((bits >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))


def _challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    padded = password_hash + bytes(21 - len(password_hash))
    return b"".join(DES.new(_des_key(padded[i:i + 7]), DES.MODE_ECB).encrypt(challenge) for i in (0, 7, 14))
