"""One definite-length TLV, as BER and DER write it (X.690 8.1): what the DC's LDAP and Kerberos
replies and AD Connector's Kerberos requests are written with, by hand, instead of through pyasn1
objects (which cost a tenth of a millisecond and more per message)."""
from __future__ import annotations


def tlv(tag: int, body: bytes) -> bytes:
    """`tag` (one octet), the length (short form below 128, else long form), then `body`."""
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body
