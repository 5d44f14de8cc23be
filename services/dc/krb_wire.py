"""Kerberos messages on the wire (RFC 4120 section 5): decoding requests, encoding replies.

The ASN.1 types are impacket's (`impacket.krb5.asn1`, pyasn1 underneath); this module turns them
into plain values for the KDC's logic (`krb_as.py`) and back, so the logic never touches pyasn1.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from impacket.krb5 import asn1
from pyasn1.codec.der import decoder, encoder
from pyasn1.error import PyAsn1Error

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


def _set_principal(component, p: Principal) -> None:
    component["name-type"] = p.name_type
    for i, part in enumerate(p.parts):
        component["name-string"][i] = part


def encode_error(code: int, *, now: float, realm: str, sname: Principal,
                 cname: Principal | None = None, e_text: str | None = None,
                 e_data: bytes | None = None) -> bytes:
    err = asn1.KRB_ERROR()
    err["pvno"] = 5
    err["msg-type"] = KRB_ERROR
    err["stime"] = kerberos_time(now)
    err["susec"] = int((now % 1) * 1_000_000)
    err["error-code"] = code
    if cname is not None:
        err["crealm"] = realm
        _set_principal(err["cname"], cname)
    err["realm"] = realm
    _set_principal(err["sname"], sname)
    if e_text:
        err["e-text"] = e_text
    if e_data is not None:
        err["e-data"] = e_data
    return encoder.encode(err)


def method_data(etype_info: list[tuple[int, str | None]]) -> bytes:
    """The e-data of KDC_ERR_PREAUTH_REQUIRED: PA-ETYPE-INFO2 (etypes and salts the client should
    use) and an empty PA-ENC-TIMESTAMP saying which pre-authentication to send."""
    info = asn1.ETYPE_INFO2()
    for i, (etype, salt) in enumerate(etype_info):
        info[i]["etype"] = etype
        if salt is not None:
            info[i]["salt"] = salt
    md = asn1.METHOD_DATA()
    md[0]["padata-type"] = PA_ETYPE_INFO2
    md[0]["padata-value"] = encoder.encode(info)
    md[1]["padata-type"] = PA_ENC_TIMESTAMP
    md[1]["padata-value"] = b""
    return encoder.encode(md)


def etype_info2_padata(etype: int, salt: str | None) -> tuple[int, bytes]:
    info = asn1.ETYPE_INFO2()
    info[0]["etype"] = etype
    if salt is not None:
        info[0]["salt"] = salt
    return PA_ETYPE_INFO2, encoder.encode(info)


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


def encode_enc_ticket_part(g: Grant) -> bytes:
    part = asn1.EncTicketPart()
    part["flags"] = _flags(g.flags)
    part["key"]["keytype"] = g.session_etype
    part["key"]["keyvalue"] = g.session_key
    part["crealm"] = g.realm
    _set_principal(part["cname"], g.cname)
    part["transited"]["tr-type"] = 0
    part["transited"]["contents"] = b""
    part["authtime"] = kerberos_time(g.authtime)
    part["starttime"] = kerberos_time(g.starttime or g.authtime)
    part["endtime"] = kerberos_time(g.endtime)
    if g.renew_till is not None:
        part["renew-till"] = kerberos_time(g.renew_till)
    for i, (kind, value) in enumerate(g.authorization_data):
        part["authorization-data"][i]["ad-type"] = kind
        part["authorization-data"][i]["ad-data"] = value
    return encoder.encode(part)


def encode_enc_as_rep_part(g: Grant, tgs: bool = False) -> bytes:
    """EncASRepPart, or with `tgs` EncTGSRepPart (the same fields under another tag)."""
    part = asn1.EncTGSRepPart() if tgs else asn1.EncASRepPart()
    part["key"]["keytype"] = g.session_etype
    part["key"]["keyvalue"] = g.session_key
    part["last-req"][0]["lr-type"] = 0
    part["last-req"][0]["lr-value"] = kerberos_time(g.authtime)
    part["nonce"] = g.nonce
    part["flags"] = _flags(g.flags)
    part["authtime"] = kerberos_time(g.authtime)
    part["starttime"] = kerberos_time(g.starttime or g.authtime)
    part["endtime"] = kerberos_time(g.endtime)
    if g.renew_till is not None:
        part["renew-till"] = kerberos_time(g.renew_till)
    part["srealm"] = g.realm
    _set_principal(part["sname"], g.sname)
    return encoder.encode(part)


def encode_as_rep(g: Grant, *, ticket_etype: int, ticket_kvno: int, ticket_cipher: bytes,
                  reply_etype: int, reply_kvno: int | None, reply_cipher: bytes, tgs: bool = False) -> bytes:
    """An AS-REP, or with `tgs` a TGS-REP (whose enc-part has no kvno: it is in a session key)."""
    rep = asn1.TGS_REP() if tgs else asn1.AS_REP()
    rep["pvno"] = 5
    rep["msg-type"] = TGS_REP if tgs else AS_REP
    for i, (kind, value) in enumerate(g.padata):
        rep["padata"][i]["padata-type"] = kind
        rep["padata"][i]["padata-value"] = value
    rep["crealm"] = g.realm
    _set_principal(rep["cname"], g.cname)
    ticket = rep["ticket"]
    ticket["tkt-vno"] = 5
    ticket["realm"] = g.realm
    _set_principal(ticket["sname"], g.sname)
    ticket["enc-part"]["etype"] = ticket_etype
    ticket["enc-part"]["kvno"] = ticket_kvno
    ticket["enc-part"]["cipher"] = ticket_cipher
    rep["enc-part"]["etype"] = reply_etype
    if reply_kvno is not None:
        rep["enc-part"]["kvno"] = reply_kvno
    rep["enc-part"]["cipher"] = reply_cipher
    return encoder.encode(rep)


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


def _flags(bits: set[int]) -> tuple[int, ...]:
    return tuple(1 if i in bits else 0 for i in range(32))
