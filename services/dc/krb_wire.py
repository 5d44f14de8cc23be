"""Kerberos messages on the wire (RFC 4120 section 5): decoding requests, encoding replies.

Requests are read with impacket's ASN.1 types (`impacket.krb5.asn1`, pyasn1 underneath; the AS-REQ
by hand in `krb_as_req.py`); replies are written as DER by hand. The KDC's logic (`krb_as.py`) sees
plain values only.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from functools import lru_cache

from impacket.krb5 import asn1
from pyasn1.codec.der import decoder, encoder
from pyasn1.error import PyAsn1Error

from .ber import _tlv  # the same definite-length TLVs as LDAP's replies

# Message types (application tags).
AS_REQ, AS_REP, TGS_REQ, TGS_REP, AP_REQ, KRB_ERROR = 10, 11, 12, 13, 14, 30
# Name types.
NT_PRINCIPAL, NT_SRV_INST, NT_ENTERPRISE = 1, 2, 10
# Pre-authentication data types.
PA_TGS_REQ, PA_ENC_TIMESTAMP, PA_ETYPE_INFO2 = 1, 2, 19
# Error codes the KDC sends.
KDC_ERR_C_PRINCIPAL_UNKNOWN = 6
KDC_ERR_S_PRINCIPAL_UNKNOWN = 7
KDC_ERR_ETYPE_NOSUPP = 14
KDC_ERR_CLIENT_REVOKED = 18
KDC_ERR_KEY_EXPIRED = 23
KDC_ERR_PREAUTH_FAILED = 24
KDC_ERR_PREAUTH_REQUIRED = 25
KRB_AP_ERR_SKEW = 37
KRB_AP_ERR_MSG_TYPE = 40
KDC_ERR_BADOPTION = 13
KDC_ERR_POLICY = 12
KRB_AP_ERR_BAD_INTEGRITY = 31
KRB_AP_ERR_TKT_EXPIRED = 32
KRB_AP_ERR_NOT_US = 35
KRB_AP_ERR_BADMATCH = 36
KRB_AP_ERR_MODIFIED = 41
KDC_ERR_TGT_REVOKED = 20
KRB_ERR_RESPONSE_TOO_BIG = 52
KDC_ERR_WRONG_REALM = 68
ERROR_NAMES = {
    6: "KDC_ERR_C_PRINCIPAL_UNKNOWN", 7: "KDC_ERR_S_PRINCIPAL_UNKNOWN", 14: "KDC_ERR_ETYPE_NOSUPP",
    18: "KDC_ERR_CLIENT_REVOKED", 23: "KDC_ERR_KEY_EXPIRED", 24: "KDC_ERR_PREAUTH_FAILED",
    25: "KDC_ERR_PREAUTH_REQUIRED", 37: "KRB_AP_ERR_SKEW", 40: "KRB_AP_ERR_MSG_TYPE",
    52: "KRB_ERR_RESPONSE_TOO_BIG", 68: "KDC_ERR_WRONG_REALM", 12: "KDC_ERR_POLICY", 13: "KDC_ERR_BADOPTION",
    20: "KDC_ERR_TGT_REVOKED", 31: "KRB_AP_ERR_BAD_INTEGRITY", 32: "KRB_AP_ERR_TKT_EXPIRED",
    33: "KRB_AP_ERR_TKT_NYV", 35: "KRB_AP_ERR_NOT_US", 36: "KRB_AP_ERR_BADMATCH", 41: "KRB_AP_ERR_MODIFIED",
}
# Ticket flags (bit numbers).
FORWARDABLE, FORWARDED, PROXIABLE, RENEWABLE, INITIAL, PRE_AUTHENT = 1, 2, 3, 8, 9, 10
# KDC option bits that are not ticket flags.
OPT_CANONICALIZE, OPT_RENEW = 15, 30


# What pyasn1 raises on hostile input (a huge length, for one, is an OverflowError).
_DECODE_ERRORS = (PyAsn1Error, ValueError, TypeError, KeyError, IndexError, UnicodeError, OverflowError)


class Malformed(ValueError):
    """Not a Kerberos message this KDC can parse: dropped (UDP) or the connection closed (TCP)."""


@dataclass
class Principal:
    name_type: int
    parts: list[str]

    @property
    def text(self) -> str:
        return "/".join(self.parts)


@dataclass
class AsRequest:
    realm: str
    cname: Principal
    sname: Principal
    nonce: int
    etypes: list[int]
    options: set[int]
    till: float | None
    rtime: float | None
    padata: dict[int, bytes] = field(default_factory=dict)
    body: bytes = b""            # req-body re-encoded in DER: what a TGS-REQ's authenticator checksums


def message_type(data: bytes) -> int:
    """The application tag of a message (10 AS-REQ, 12 TGS-REQ, ...); Malformed if none."""
    if not data or data[0] & 0xE0 != 0x60:
        raise Malformed("not an application-tagged Kerberos message")
    return data[0] & 0x1F


def decode_as_req(data: bytes) -> AsRequest:
    """impacket's reading of an AS-REQ; the KDC reads it with `krb_as_req.decode` (the tests compare
    the two)."""
    return _decode_kdc_req(data, tgs=False)


def decode_tgs_req(data: bytes) -> AsRequest:
    """A TGS-REQ in the same shape (its cname is empty: the client is named in the TGT)."""
    return _decode_kdc_req(data, tgs=True)


def _decode_kdc_req(data: bytes, tgs: bool) -> AsRequest:
    try:
        req, rest = decoder.decode(data, asn1Spec=asn1.TGS_REQ() if tgs else asn1.AS_REQ())
        if rest:
            raise Malformed("trailing bytes")
        body = req["req-body"]
        if (not tgs and not body["cname"].isValue) or not body["sname"].isValue:
            raise Malformed("KDC-REQ without cname or sname")
        padata = {}
        if req["padata"].isValue:
            for pa in req["padata"]:
                padata[int(pa["padata-type"])] = bytes(pa["padata-value"])
        flags = body["kdc-options"]
        return AsRequest(
            realm=str(body["realm"]),
            cname=_principal(body["cname"]) if body["cname"].isValue else Principal(NT_PRINCIPAL, []),
            sname=_principal(body["sname"]),
            nonce=int(body["nonce"]),
            etypes=[int(e) for e in body["etype"]],
            options={i for i, bit in enumerate(flags) if bit} if flags.isValue else set(),
            till=_time(body["till"]),
            rtime=_time(body["rtime"]) if body["rtime"].isValue else None,
            padata=padata,
            body=_untagged(encoder.encode(body)) if tgs else b"",
        )
    except Malformed:
        raise
    except _DECODE_ERRORS as exc:
        raise Malformed(str(exc) or exc.__class__.__name__) from None


def decode_enc_timestamp(padata_value: bytes) -> tuple[int, bytes]:
    """PA-ENC-TIMESTAMP's EncryptedData: (etype, cipher)."""
    try:
        enc, _ = decoder.decode(padata_value, asn1Spec=asn1.EncryptedData())
        return int(enc["etype"]), bytes(enc["cipher"])
    except _DECODE_ERRORS as exc:
        raise Malformed(str(exc) or exc.__class__.__name__) from None


def decode_ts_enc(plaintext: bytes) -> float:
    """PA-ENC-TS-ENC: the client's time (seconds since the epoch)."""
    try:
        ts, _ = decoder.decode(plaintext, asn1Spec=asn1.PA_ENC_TS_ENC())
        when = _time(ts["patimestamp"])
        if when is None:
            raise Malformed("bad patimestamp")
        usec = int(ts["pausec"]) if ts["pausec"].isValue else 0
        return when + usec / 1e6
    except _DECODE_ERRORS as exc:
        raise Malformed(str(exc) or exc.__class__.__name__) from None


# -- encoding ---------------------------------------------------------------------------------
def kerberos_time(epoch: float) -> str:
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(epoch))


# -- DER, by hand: pyasn1 took a fifth of an AS exchange to encode its replies. The shapes are
# RFC 4120 5.4.2, 5.3, 5.9.1 and 5.2.7; tests/services/dc/test_dc_krb_der.py checks them byte for
# byte against impacket's types; the TLV itself is ber.py's. What repeats from one reply to the
# next (the realm, the principals, small integers, the current second) is encoded once and kept:
# these small pieces were half of a reply's encoding time.
def _seq(*fields: tuple[int, bytes] | None) -> bytes:
    """SEQUENCE of explicitly tagged fields [n] (None: an absent OPTIONAL one)."""
    return _tlv(0x30, b"".join([_tlv(0xA0 | f[0], f[1]) for f in fields if f is not None]))


def _int(value: int) -> bytes:
    der = _SMALL_INTS.get(value)
    if der is None:
        der = _tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))
    return der


_SMALL_INTS = {v: _tlv(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))
               for v in range(-1, 256)}


def _str(text: str) -> bytes:
    der = _STRINGS.get(text)
    if der is None:
        der = _tlv(0x1B, text.encode("utf-8"))     # KerberosString: GeneralString
        _keep(_STRINGS, text, der)
    return der


# Kept: at most _KEPT entries each, only those whose DER is at most _KEPT_BYTES (what a client sends
# goes in too, a name of 30,000 empty parts for one, and must not grow the DC); full, a cache
# starts again.
_KEPT, _KEPT_BYTES = 4096, 512
_STRINGS: dict[str, bytes] = {}
_NAMES: dict[tuple[int, tuple[str, ...]], bytes] = {}


def _keep(cache: dict, key: object, der: bytes) -> None:
    if len(der) <= _KEPT_BYTES:
        if len(cache) >= _KEPT:
            cache.clear()
        cache[key] = der


@lru_cache(maxsize=64)
def _second(second: int) -> bytes:
    return _tlv(0x18, kerberos_time(second).encode())


def _ktime(epoch: float) -> bytes:
    return _second(int(epoch // 1))


def _octets(value: bytes) -> bytes:
    return _tlv(0x04, value)


def _principal_der(p: Principal) -> bytes:
    key = (p.name_type, tuple(p.parts))
    der = _NAMES.get(key)
    if der is None:
        der = _seq((0, _int(p.name_type)), (1, _tlv(0x30, b"".join([_str(x) for x in p.parts]))))
        _keep(_NAMES, key, der)
    return der


def _flags_der(bits: set[int]) -> bytes:
    value = sum(1 << (31 - i) for i in bits if 0 <= i < 32)
    return _tlv(0x03, b"\x00" + value.to_bytes(4, "big"))


def _pa_data(items: list[tuple[int, bytes]]) -> bytes:
    return _tlv(0x30, b"".join([_seq((1, _int(kind)), (2, _octets(value))) for kind, value in items]))


def encode_error(code: int, *, now: float, realm: str, sname: Principal,
                 cname: Principal | None = None, e_text: str | None = None,
                 e_data: bytes | None = None) -> bytes:
    # pvno and msg-type, then each field [n] in order; the KDC's busiest reply (every exchange
    # begins with PREAUTH_REQUIRED), so written field by field rather than through _seq.
    fields = [_ERROR_HEAD, _tlv(0xA4, _ktime(now)), _tlv(0xA5, _int(int((now % 1) * 1_000_000))),
              _tlv(0xA6, _int(code))]
    if cname is not None:
        fields += (_tlv(0xA7, _str(realm)), _tlv(0xA8, _principal_der(cname)))
    fields += (_tlv(0xA9, _str(realm)), _tlv(0xAA, _principal_der(sname)))
    if e_text:
        fields.append(_tlv(0xAB, _str(e_text)))
    if e_data is not None:
        fields.append(_tlv(0xAC, _octets(e_data)))
    return _tlv(0x7E, _tlv(0x30, b"".join(fields)))


_ERROR_HEAD = _tlv(0xA0, _int(5)) + _tlv(0xA1, _int(KRB_ERROR))


def method_data(etype_info: list[tuple[int, str | None]]) -> bytes:
    """The e-data of KDC_ERR_PREAUTH_REQUIRED: PA-ETYPE-INFO2 (etypes and salts the client should
    use) and an empty PA-ENC-TIMESTAMP saying which pre-authentication to send."""
    if len(etype_info) > 4:        # the client's list, repeats and all: not worth keeping
        return _pa_data([(PA_ETYPE_INFO2, _etype_info2(etype_info)), (PA_ENC_TIMESTAMP, b"")])
    return _method_data(tuple(etype_info))


@lru_cache(maxsize=1024)
def _method_data(etype_info: tuple[tuple[int, str | None], ...]) -> bytes:
    return _pa_data([(PA_ETYPE_INFO2, _etype_info2(list(etype_info))), (PA_ENC_TIMESTAMP, b"")])


def _etype_info2(etype_info: list[tuple[int, str | None]]) -> bytes:
    return _tlv(0x30, b"".join(_seq((0, _int(etype)), (1, _str(salt)) if salt is not None else None)
                               for etype, salt in etype_info))


@lru_cache(maxsize=1024)
def etype_info2_padata(etype: int, salt: str | None) -> tuple[int, bytes]:
    return PA_ETYPE_INFO2, _etype_info2([(etype, salt)])


@dataclass
class Grant:
    """What an AS-REP says, in plain values; `krb_as` fills it, `encode_as_rep` writes it."""
    realm: str
    cname: Principal
    sname: Principal
    nonce: int
    flags: set[int]
    session_etype: int
    session_key: bytes
    authtime: float
    endtime: float
    renew_till: float | None
    padata: list[tuple[int, bytes]] = field(default_factory=list)
    authorization_data: list[tuple[int, bytes]] = field(default_factory=list)
    starttime: float | None = None     # None: the authtime (an AS exchange)


def authorization_data(elements: list[tuple[int, bytes]]) -> bytes:
    """AuthorizationData (RFC 4120 5.2.6): SEQUENCE OF { ad-type [0], ad-data [1] }."""
    return _tlv(0x30, b"".join(_seq((0, _int(kind)), (1, _octets(value))) for kind, value in elements))


def encode_enc_ticket_part(g: Grant) -> bytes:
    auth = authorization_data(g.authorization_data)
    return _tlv(0x63, _seq(
        (0, _flags_der(g.flags)), (1, _seq((0, _int(g.session_etype)), (1, _octets(g.session_key)))),
        (2, _str(g.realm)), (3, _principal_der(g.cname)), (4, _seq((0, _int(0)), (1, _octets(b"")))),
        (5, _ktime(g.authtime)), (6, _ktime(g.starttime or g.authtime)), (7, _ktime(g.endtime)),
        (8, _ktime(g.renew_till)) if g.renew_till is not None else None,
        (10, auth) if g.authorization_data else None))


def encode_enc_as_rep_part(g: Grant, tgs: bool = False) -> bytes:
    """EncASRepPart, or with `tgs` EncTGSRepPart (the same fields under another tag)."""
    last_req = _tlv(0x30, _seq((0, _int(0)), (1, _ktime(g.authtime))))
    return _tlv(0x7A if tgs else 0x79, _seq(
        (0, _seq((0, _int(g.session_etype)), (1, _octets(g.session_key)))), (1, last_req), (2, _int(g.nonce)),
        (4, _flags_der(g.flags)), (5, _ktime(g.authtime)), (6, _ktime(g.starttime or g.authtime)),
        (7, _ktime(g.endtime)), (8, _ktime(g.renew_till)) if g.renew_till is not None else None,
        (9, _str(g.realm)), (10, _principal_der(g.sname))))


def encode_as_rep(g: Grant, *, ticket_etype: int, ticket_kvno: int, ticket_cipher: bytes,
                  reply_etype: int, reply_kvno: int | None, reply_cipher: bytes, tgs: bool = False) -> bytes:
    """An AS-REP, or with `tgs` a TGS-REP (whose enc-part has no kvno: it is in a session key)."""
    ticket = _tlv(0x61, _seq((0, _int(5)), (1, _str(g.realm)), (2, _principal_der(g.sname)),
                             (3, _seq((0, _int(ticket_etype)), (1, _int(ticket_kvno)), (2, _octets(ticket_cipher))))))
    enc = _seq((0, _int(reply_etype)), (1, _int(reply_kvno)) if reply_kvno is not None else None,
               (2, _octets(reply_cipher)))
    return _tlv(0x6D if tgs else 0x6B, _seq(
        (0, _int(5)), (1, _int(TGS_REP if tgs else AS_REP)), (2, _pa_data(g.padata)) if g.padata else None,
        (3, _str(g.realm)), (4, _principal_der(g.cname)), (5, ticket), (6, enc)))


# -- helpers ----------------------------------------------------------------------------------
def _untagged(der: bytes) -> bytes:
    """The contents of an explicitly tagged component: `[4] KDC-REQ-BODY` without its `[4]`."""
    n = der[1]
    return der[2:] if n < 0x80 else der[2 + (n & 0x7F):]


def _principal(component) -> Principal:
    parts = [str(s) for s in component["name-string"]]
    if not parts:
        raise Malformed("empty principal name")
    return Principal(int(component["name-type"]), parts)


def _time(component) -> float | None:
    """A KerberosTime as epoch seconds; None for an absent or unreadable value."""
    if not component.isValue:
        return None
    text = str(component)
    try:
        moment = dt.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return moment.timestamp()


def _set_principal(component, p: Principal) -> None:
    """Fill an impacket PrincipalName (krb_ap.py still builds its messages with impacket's types)."""
    component["name-type"] = p.name_type
    for i, part in enumerate(p.parts):
        component["name-string"][i] = part
