"""One definite-length TLV, as BER and DER write it (X.690 8.1), written and found: what the DC's
LDAP and Kerberos replies and AD Connector's Kerberos requests are written with, and what the DC's
request parsers and AD Connector's LDAP client read with, by hand, instead of through pyasn1
objects (which cost a tenth of a millisecond and more per message)."""
from __future__ import annotations


def tlv(tag: int, body: bytes) -> bytes:
    """`tag` (one octet), the length (short form below 128, else long form), then `body`."""
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at `pos`; ValueError when it overruns `end`
    (lengths of up to 4 octets: nothing the lab reads is larger)."""
    if pos + 2 > end:
        raise ValueError("truncated")
    tag, n = data[pos], data[pos + 1]
    pos += 2
    if n & 0x80:
        count = n & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise ValueError("bad length")
        n = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + n > end:
        raise ValueError("overruns its container")
    return tag, pos, pos + n
