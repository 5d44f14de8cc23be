"""CLDAP: LDAP over UDP on the LDAP port, and the netlogon "LDAP ping" it carries (MS-ADTS 6.3.3).

Domain-joined Windows machines (DsGetDcName), AWS Directory Service's connectivity checks and
tools such as `nltest /dsgetdc` locate and probe a DC by sending one searchRequest in one UDP
datagram: base "", scope base, a filter that is an AND of equality terms (DnsDomain, Host, User,
AAC, DomainSid, DomainGuid, NtVer, DnsHostName) and the single attribute `Netlogon`. The DC answers
with a SearchResultEntry whose Netlogon value is a binary structure chosen by NtVer, followed by a
SearchResultDone, both in one datagram:
- NtVer with NETLOGON_NT_VERSION_5EX (0x4): NETLOGON_SAM_LOGON_RESPONSE_EX (`netlogon.py`), with
  the DC's socket address when 0x8 (5EX_WITH_IP) is set too;
- NtVer with NETLOGON_NT_VERSION_5 (0x2) only: NETLOGON_SAM_LOGON_RESPONSE;
- otherwise NETLOGON_SAM_LOGON_RESPONSE_NT40.
A ping for another domain (DnsDomain or DomainGuid not this DC's) gets SearchResultDone with no
entry, as AD (and Samba) answer it; one without NtVer too (a lab choice: AD's own answer to that
is not documented). A `User` that is not in the directory gets the *_USER_UNKNOWN opcode.

Anything else over UDP: a search of the RootDSE with other attributes is answered with them
(anonymous, as over TCP); any other search gets `1 operationsError` with AD's "a successful bind
must be completed" (CLDAP has no bind); any other operation gets its response with
`2 protocolError` (AD supports only search over UDP); abandon and unbind
get nothing; a datagram that does not decode as an LDAPMessage is dropped.
"""
from __future__ import annotations

import asyncio
from typing import Any

from services.common.context import ServiceContext
from services.common.udp import UdpAnswerer

from . import ber, ldap_messages, netlogon
from . import filters as F
from . import ldap_results as R
from .directory import Directory
from .names import norm_dn
from .rootdse import root_dse
from .search import select

NT_VERSION_5, NT_VERSION_5EX = 0x2, 0x4
MAX_DATAGRAM = 65507
_RESPONSES = {"bindRequest": "bindResponse", "modifyRequest": "modifyResponse", "addRequest": "addResponse",
              "delRequest": "delResponse", "modDNRequest": "modDNResponse", "compareRequest": "compareResponse",
              "extendedReq": "extendedResp"}


class CldapServer:
    def __init__(self, ctx: ServiceContext, directory: Directory, advertised_ip: str):
        self.ctx = ctx
        self.directory = directory
        self.ip = advertised_ip
        self.port = ctx.port("ldap")

    def udp_protocol(self) -> asyncio.DatagramProtocol:
        return UdpAnswerer(self.answer, self.ctx.log, "cldap")

    async def answer(self, data: bytes, peer: str, _transport: str) -> bytes | None:
        gate = self.ctx.faults.gate("ldap", peer, self.port)
        if gate.drop or gate.deny:
            self.ctx.record("cldap.request", peer=peer, outcome="dropped")
            return None
        if gate.delay > 0:
            await asyncio.sleep(gate.delay)
        if len(data) > MAX_DATAGRAM:
            return None
        try:
            message = ldap_messages.decode(data)
            mid, name, req = message.mid, message.op, message.req
        except Exception as exc:  # noqa: BLE001 - whatever does not decode is dropped, as AD does
            self.ctx.record("cldap.malformed", peer=peer, outcome="dropped", size=len(data),
                            reason=(str(exc) or exc.__class__.__name__)[:120])
            return None
        if name != "searchRequest":
            self.ctx.record("cldap.request", peer=peer, outcome="protocolError", operation=name)
            reply = _RESPONSES.get(name)
            return ber.result(mid, reply, R.PROTOCOL_ERROR) if reply else None
        try:
            return self._search(mid, req, peer)
        except (ber.FrameError, ValueError, UnicodeError) as exc:
            self.ctx.record("cldap.malformed", peer=peer, outcome="protocolError", reason=str(exc)[:120])
            return ber.result(mid, "searchResDone", R.PROTOCOL_ERROR, R.diagnostic(R.UNDECODABLE))

    def _search(self, mid: int, req: ldap_messages.SearchRequest, peer: str) -> bytes:
        base, scope = req.base, req.scope
        attributes = req.attributes
        flt = ber.to_filter(req.filter)
        if base != "" or scope != 0:
            self.ctx.record("cldap.search", peer=peer, outcome="operationsError", base=base)
            return ber.result(mid, "searchResDone", R.OPERATIONS_ERROR, R.diagnostic(R.NEED_BIND))
        if [a.lower() for a in attributes] == ["netlogon"]:
            return self._ping(mid, flt, peer)
        entry = root_dse(self.directory)
        found = flt.match(entry, self.directory)
        out = ber.encode_entry(mid, "", _bytes(select(self.directory, entry, attributes))) if found else b""
        self.ctx.record("cldap.search", peer=peer, outcome="success", entries=int(found))
        return out + ber.result(mid, "searchResDone", R.SUCCESS)

    def _ping(self, mid: int, flt: F.Filter, peer: str) -> bytes:
        terms = _terms(flt)
        done = ber.result(mid, "searchResDone", R.SUCCESS)
        d = self.directory.domain
        fields: dict[str, Any] = {"dns_domain": terms.get("dnsdomain", b"").decode("utf-8", "replace")[:255],
                                  "user": terms.get("user", b"").decode("utf-8", "replace")[:64]}
        nt_raw = terms.get("ntver")
        domain_ok = (terms.get("dnsdomain", d.dns_name.encode()).decode("utf-8", "replace").rstrip(".").lower()
                     == d.dns_name.lower())
        guid_ok = terms.get("domainguid") in (None, self._domain_guid())
        if not terms or nt_raw is None or len(nt_raw) != 4 or not domain_ok or not guid_ok:
            reason = ("not a netlogon filter" if not terms else "no NtVer" if nt_raw is None
                      else "bad NtVer" if len(nt_raw) != 4 else "another domain")
            self.ctx.record("cldap.ping", peer=peer, outcome="no_entry", reason=reason, **fields)
            return done
        nt_version = int.from_bytes(nt_raw, "little")
        user = terms.get("user", b"").decode("utf-8", "replace")
        known = not user or user.lower() in self.directory.by_sam
        info = netlogon.DcInfo(domain_guid=self._domain_guid(), forest=d.dns_name, domain=d.dns_name,
                               host=f"{d.dc_hostname}.{d.dns_name}", netbios_domain=d.netbios.upper(),
                               netbios_host=d.dc_hostname.upper(), ip=self.ip)
        if nt_version & NT_VERSION_5EX:
            value = netlogon.response_ex(info, user, known, nt_version)
        elif nt_version & NT_VERSION_5:
            value = netlogon.response_v5(info, user, known)
        else:
            value = netlogon.response_nt40(info, user, known)
        fields.update(nt_version=nt_version, user_known=known)
        self.ctx.record("cldap.ping", peer=peer, outcome="success", **fields)
        return ber.encode_entry(mid, "", [("Netlogon", [value])]) + done

    def _domain_guid(self) -> bytes:
        entry = self.directory.get(norm_dn(self.directory.domain.base_dn))
        guid = entry.first("objectGUID") if entry is not None else None
        return guid if isinstance(guid, bytes) else bytes(16)


def _terms(flt: F.Filter) -> dict[str, bytes]:
    """The equality terms of an LDAP ping's filter by lower-case name; an empty dict when the
    filter is not an AND of equality terms (or a single one)."""
    parts = flt.parts if isinstance(flt, F.And) else [flt]
    out: dict[str, bytes] = {}
    for p in parts:
        if not isinstance(p, F.Compare) or p.op != "=":
            return {}
        out[p.attr.lower()] = p.value
    return out


def _bytes(attrs: list[tuple[str, list[Any]]]) -> list[tuple[str, list[bytes]]]:
    return [(name, [v if isinstance(v, bytes) else str(v).encode() for v in vals]) for name, vals in attrs]
