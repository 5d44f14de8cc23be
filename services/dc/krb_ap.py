"""AP-REQ / AP-REP (RFC 4120 3.2 and 5.5): what the TGS, the GSSAPI acceptor and kpasswd share.

An AP-REQ carries a ticket (encrypted in the service's long-term key) and an authenticator
(encrypted in the ticket's session key). `accept()` opens both and applies RFC 4120 3.2.3's
checks in the order a Windows acceptor does: the ticket decrypts (else KRB_AP_ERR_BAD_INTEGRITY),
the authenticator decrypts with its session key (the same), the names agree
(KRB_AP_ERR_BADMATCH), the authenticator's time is within the skew (KRB_AP_ERR_SKEW), the
ticket has not expired (KRB_AP_ERR_TKT_EXPIRED). There is no replay cache: the lab has one DC
and its clients are tests (a stated simplification).
"""
from __future__ import annotations

from dataclasses import dataclass

from impacket.krb5 import asn1
from pyasn1.codec.der import decoder, encoder

from . import krb_crypto, krb_wire
from .krb_wire import _DECODE_ERRORS, Malformed, Principal, _principal, _set_principal, _time, kerberos_time

KRB_AP_ERR_BAD_INTEGRITY, KRB_AP_ERR_TKT_EXPIRED, KRB_AP_ERR_TKT_NYV = 31, 32, 33
KRB_AP_ERR_NOT_US, KRB_AP_ERR_BADMATCH, KRB_AP_ERR_SKEW, KRB_AP_ERR_MODIFIED = 35, 36, 37, 41
KU_TGS_REQ_AUTH, KU_AP_REQ_AUTH, KU_AP_REP_ENC_PART = 7, 11, 12
AD_IF_RELEVANT, AD_WIN2K_PAC = 1, 128
AP_OPT_MUTUAL_REQUIRED = 2


class ApError(Exception):
    """An AP-REQ refused with a Kerberos error code."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code


@dataclass
class OpenTicket:
    sname: Principal
    realm: str
    flags: set[int]
    session_key: krb_crypto.Key
    crealm: str
    cname: Principal
    authtime: float
    starttime: float
    endtime: float
    renew_till: float | None
    pac: bytes | None


@dataclass
class Accepted:
    ticket: OpenTicket
    cname: Principal
    ctime: float
    cusec: int
    subkey: krb_crypto.Key | None
    seq_number: int | None
    checksum_type: int | None
    checksum: bytes
    options: set[int]


@dataclass
class ApRequest:
    options: set[int]
    sname: Principal
    realm: str
    ticket_etype: int
    ticket_kvno: int | None
    ticket_cipher: bytes
    auth_cipher: bytes


def decode(data: bytes) -> ApRequest:
    try:
        req, rest = decoder.decode(data, asn1Spec=asn1.AP_REQ())
        if rest:
            raise Malformed("trailing bytes after the AP-REQ")
        ticket = req["ticket"]
        enc = ticket["enc-part"]
        opts = req["ap-options"]
        return ApRequest(options={i for i, b in enumerate(opts) if b} if opts.isValue else set(),
                         sname=_principal(ticket["sname"]), realm=str(ticket["realm"]),
                         ticket_etype=int(enc["etype"]),
                         ticket_kvno=int(enc["kvno"]) if enc["kvno"].isValue else None,
                         ticket_cipher=bytes(enc["cipher"]),
                         auth_cipher=bytes(req["authenticator"]["cipher"]))
    except Malformed:
        raise
    except _DECODE_ERRORS as exc:
        raise Malformed(str(exc) or exc.__class__.__name__) from None


def open_ticket(req: ApRequest, keys: dict[int, krb_crypto.Key]) -> OpenTicket:
    key = keys.get(req.ticket_etype)
    if key is None:
        raise ApError(KRB_AP_ERR_BAD_INTEGRITY, "no key of the ticket's enctype")
    try:
        plain = krb_crypto.decrypt(key, krb_crypto.KU_TICKET, req.ticket_cipher)
        part, _ = decoder.decode(plain, asn1Spec=asn1.EncTicketPart())
    except (krb_crypto.InvalidChecksum, *_DECODE_ERRORS):
        raise ApError(KRB_AP_ERR_BAD_INTEGRITY, "the ticket does not decrypt with the service key") from None
    flags = part["flags"]
    authtime = _time(part["authtime"]) or 0.0
    return OpenTicket(
        sname=req.sname, realm=req.realm, flags={i for i, b in enumerate(flags) if b},
        session_key=krb_crypto.Key(int(part["key"]["keytype"]), bytes(part["key"]["keyvalue"])),
        crealm=str(part["crealm"]), cname=_principal(part["cname"]), authtime=authtime,
        starttime=(_time(part["starttime"]) if part["starttime"].isValue else None) or authtime,
        endtime=_time(part["endtime"]) or 0.0,
        renew_till=_time(part["renew-till"]) if part["renew-till"].isValue else None,
        pac=_pac(part["authorization-data"]) if part["authorization-data"].isValue else None)


def accept(req: ApRequest, keys: dict[int, krb_crypto.Key], usage: int, now: float, max_skew: float) -> Accepted:
    """Open and check an AP-REQ (see the module's docstring); ApError with the code if refused."""
    ticket = open_ticket(req, keys)
    try:
        plain = krb_crypto.decrypt(ticket.session_key, usage, req.auth_cipher)
        auth, _ = decoder.decode(plain, asn1Spec=asn1.Authenticator())
    except (krb_crypto.InvalidChecksum, *_DECODE_ERRORS):
        raise ApError(KRB_AP_ERR_BAD_INTEGRITY, "the authenticator does not decrypt") from None
    try:
        cname = _principal(auth["cname"])
    except Malformed:
        raise ApError(KRB_AP_ERR_BADMATCH, "no name in the authenticator") from None
    if [p.lower() for p in cname.parts] != [p.lower() for p in ticket.cname.parts] \
            or str(auth["crealm"]).upper() != ticket.crealm.upper():
        raise ApError(KRB_AP_ERR_BADMATCH, "the authenticator names another client than the ticket")
    ctime = _time(auth["ctime"]) or 0.0
    cusec = int(auth["cusec"])
    if abs(ctime + cusec / 1e6 - now) > max_skew:
        raise ApError(KRB_AP_ERR_SKEW, "authenticator time outside the allowed skew")
    if ticket.endtime < now:
        raise ApError(KRB_AP_ERR_TKT_EXPIRED, "ticket expired")
    if ticket.starttime > now + max_skew:
        raise ApError(KRB_AP_ERR_TKT_NYV, "ticket not yet valid")
    subkey = None
    if auth["subkey"].isValue:
        subkey = krb_crypto.Key(int(auth["subkey"]["keytype"]), bytes(auth["subkey"]["keyvalue"]))
    cksum_type, cksum = None, b""
    if auth["cksum"].isValue:
        cksum_type, cksum = int(auth["cksum"]["cksumtype"]), bytes(auth["cksum"]["checksum"])
    return Accepted(ticket=ticket, cname=cname, ctime=ctime, cusec=cusec, subkey=subkey,
                    seq_number=int(auth["seq-number"]) if auth["seq-number"].isValue else None,
                    checksum_type=cksum_type, checksum=cksum, options=req.options)


def encode_ap_rep(accepted: Accepted, seq_number: int | None = None) -> bytes:
    """The AP-REP for mutual authentication: the authenticator's time, in the session key."""
    part = asn1.EncAPRepPart()
    part["ctime"] = kerberos_time(accepted.ctime)
    part["cusec"] = accepted.cusec
    if seq_number is not None:
        part["seq-number"] = seq_number
    cipher = krb_crypto.encrypt(accepted.ticket.session_key, KU_AP_REP_ENC_PART, encoder.encode(part))
    rep = asn1.AP_REP()
    rep["pvno"] = 5
    rep["msg-type"] = 15
    rep["enc-part"]["etype"] = accepted.ticket.session_key.enctype
    rep["enc-part"]["cipher"] = cipher
    return encoder.encode(rep)


def encode_ticket(sname: Principal, realm: str, etype: int, kvno: int, cipher: bytes):
    """A Ticket component (for a KDC-REP's `ticket` field)."""
    ticket = asn1.Ticket()
    ticket["tkt-vno"] = 5
    ticket["realm"] = realm
    _set_principal(ticket["sname"], sname)
    ticket["enc-part"]["etype"] = etype
    ticket["enc-part"]["kvno"] = kvno
    ticket["enc-part"]["cipher"] = cipher
    return ticket


def pac_authorization_data(pac: bytes) -> tuple[int, bytes]:
    """The ticket's authorization-data element: AD-IF-RELEVANT holding AD-WIN2K-PAC, as AD wraps
    its PAC."""
    return AD_IF_RELEVANT, krb_wire.authorization_data([(AD_WIN2K_PAC, pac)])


def _pac(authz) -> bytes | None:
    for element in authz:
        if int(element["ad-type"]) != AD_IF_RELEVANT:
            continue
        inner, _ = decoder.decode(bytes(element["ad-data"]), asn1Spec=asn1.AuthorizationData())
        for item in inner:
            if int(item["ad-type"]) == AD_WIN2K_PAC:
                return bytes(item["ad-data"])
    return None
