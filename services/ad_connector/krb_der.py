"""The few Kerberos messages AD Connector's password check exchanges, in DER (RFC 4120 §5, X.690).

Written out here rather than through pyasn1's schema objects (impacket.krb5.asn1): the connector
builds two AS-REQs and reads a KRB-ERROR, an AS-REP and its EncASRepPart per sign-in, and
pyasn1's generic codec was a fifth of its CPU and most of its Kerberos import cost. The
layouts are RFC 4120's ASN.1 module; tests compare the encoder with pyasn1's bytes.

Reading is strict where the connector depends on a field (a missing or mistyped one raises
DerError, which kerberos_auth turns into "bad_reply") and skips what it does not use.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..common import der

# universal tags
INTEGER, BIT_STRING, OCTET_STRING, SEQUENCE = 0x02, 0x03, 0x04, 0x30
GENERALIZED_TIME, GENERAL_STRING = 0x18, 0x1B
# application tags (constructed): RFC 4120 §5.4.1, §5.4.2, §5.9.1
AS_REQ, AS_REP, ENC_AS_REP_PART, ENC_TGS_REP_PART, KRB_ERROR = 0x6A, 0x6B, 0x79, 0x7A, 0x7E


class DerError(ValueError):
    """The bytes are not the DER structure expected."""


# -- writing -------------------------------------------------------------------------------
tlv = der.tlv


def ctx(number: int, value: bytes) -> bytes:
    """An explicit context tag [number] (constructed)."""
    return tlv(0xA0 | number, value)


def integer(value: int) -> bytes:
    length = value.bit_length() // 8 + 1          # two's complement, minimal (one sign bit to spare)
    return tlv(INTEGER, value.to_bytes(length, "big", signed=True))


def seq(*parts: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(parts))


def general_string(text: str) -> bytes:
    return tlv(GENERAL_STRING, text.encode("utf-8"))


def principal_name(name_type: int, parts: Sequence[str]) -> bytes:
    return seq(ctx(0, integer(name_type)), ctx(1, seq(*(general_string(p) for p in parts))))


def kdc_options(bits: Sequence[int]) -> bytes:
    """A 32-bit KDCOptions BIT STRING with the given bit numbers set (bit 0 is the leftmost)."""
    value = 0
    for bit in bits:
        value |= 1 << (31 - bit)
    return tlv(BIT_STRING, b"\x00" + value.to_bytes(4, "big"))


def as_req(*, realm: str, name_type: int, name: str, sname: Sequence[str], sname_type: int, till: str,
           nonce: int, etypes: Sequence[int], options: Sequence[int],
           padata: Sequence[tuple[int, bytes]] = ()) -> bytes:
    """AS-REQ ::= [APPLICATION 10] KDC-REQ (RFC 4120 §5.4.1)."""
    body = seq(ctx(0, kdc_options(options)),
               ctx(1, principal_name(name_type, [name])),
               ctx(2, general_string(realm)),
               ctx(3, principal_name(sname_type, sname)),
               ctx(5, tlv(GENERALIZED_TIME, till.encode("ascii"))),
               ctx(7, integer(nonce)),
               ctx(8, seq(*(integer(e) for e in etypes))))
    fields = [ctx(1, integer(5)), ctx(2, integer(10))]
    if padata:
        fields.append(ctx(3, seq(*(seq(ctx(1, integer(t)), ctx(2, tlv(OCTET_STRING, v))) for t, v in padata))))
    fields.append(ctx(4, body))
    return tlv(AS_REQ, seq(*fields))


def pa_enc_ts_enc(patimestamp: str, pausec: int) -> bytes:
    """PA-ENC-TS-ENC (RFC 4120 §5.2.7.2)."""
    return seq(ctx(0, tlv(GENERALIZED_TIME, patimestamp.encode("ascii"))), ctx(1, integer(pausec)))


def encrypted_data(etype: int, cipher: bytes) -> bytes:
    """EncryptedData without kvno (RFC 4120 §5.2.9)."""
    return seq(ctx(0, integer(etype)), ctx(2, tlv(OCTET_STRING, cipher)))


# -- reading -------------------------------------------------------------------------------
def read_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, position after it) of the TLV at `pos`; single-octet tags only (all Kerberos needs)."""
    if pos + 2 > len(data):
        raise DerError("truncated TLV header")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-octet tags are not used by Kerberos")
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise DerError("bad length octets")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise DerError("value runs past the end")
    return tag, data[pos:end], end


def expect(data: bytes, tag: int) -> bytes:
    """The value of the one TLV `data` must be, with tag `tag`."""
    got, value, end = read_tlv(data)
    if got != tag:
        raise DerError(f"tag 0x{got:02x} where 0x{tag:02x} was expected")
    if end != len(data):
        raise DerError("trailing octets")
    return value


def items(value: bytes) -> Iterator[tuple[int, bytes]]:
    """The (tag, value) of each TLV inside a constructed value."""
    pos = 0
    while pos < len(value):
        tag, inner, pos = read_tlv(value, pos)
        yield tag, inner


def fields(sequence_value: bytes) -> dict[int, bytes]:
    """A SEQUENCE's explicitly tagged fields: context number -> the inner TLV (tag included)."""
    out: dict[int, bytes] = {}
    for tag, inner in items(sequence_value):
        if tag & 0xE0 != 0xA0:
            raise DerError(f"tag 0x{tag:02x} in a SEQUENCE of context-tagged fields")
        out[tag & 0x1F] = inner
    return out


def sequence_fields(data: bytes) -> dict[int, bytes]:
    return fields(expect(data, SEQUENCE))


def as_int(data: bytes) -> int:
    value = expect(data, INTEGER)
    if not value:
        raise DerError("empty INTEGER")
    return int.from_bytes(value, "big", signed=True)


def as_octets(data: bytes) -> bytes:
    return expect(data, OCTET_STRING)


def as_string(data: bytes) -> str:
    return expect(data, GENERAL_STRING).decode("utf-8")


def required(found: dict[int, bytes], number: int, what: str) -> bytes:
    if number not in found:
        raise DerError(f"{what} is missing")
    return found[number]


def sequence_of(data: bytes) -> list[bytes]:
    """The element TLVs (tag included) of a SEQUENCE OF."""
    value = expect(data, SEQUENCE)
    out, pos = [], 0
    while pos < len(value):
        start = pos
        _, _, pos = read_tlv(value, pos)
        out.append(value[start:pos])
    return out
