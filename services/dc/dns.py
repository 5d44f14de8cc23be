"""The DC's DNS server for its own zone, on UDP and TCP, with dnslib as the message codec.

It publishes what an AD DC registers and what AD Connector looks for before it will connect:
SRV `_ldap._tcp.<domain>`, `_kerberos._tcp.<domain>`, `_kerberos._udp.<domain>`,
`_ldap._tcp.dc._msdcs.<domain>` (and the Default-First-Site-Name variants), all pointing at
`instancerdc.<domain>` with the ports of the lab's topology, plus that name's A record and the
domain's own A record. Unknown names in the zone get NXDOMAIN with the SOA in the authority
section; names outside the zone are REFUSED (this is not a recursive resolver). Malformed
queries are answered as BIND or Windows DNS answer them: a datagram too short for the 12-byte
header gets nothing (there is no ID to answer to); one whose header reads but whose question does
not (truncated, a label over 63 octets, a name over 255) gets FORMERR with its ID, opcode and RD
echoed and no sections (RFC 1035 4.1.1, 2.3.4); a message with QR set (a response) is ignored.

Answers are kept per question (the message after its ID, the transport, the faults that shape the
answer) while the zone stays the same object, and sent again with the new query's ID: parsing and
building with dnslib cost most of a query's time. Events are recorded for every query as before.

Faults (one look per query, for this peer and port): `drop` (protocol dns) swallows queries;
`delay` waits; `deny` answers REFUSED; `remove_record` with `target` = a record name makes that
name vanish (NXDOMAIN). The records a DC registers: docs/active-directory.md ("DNS").
"""
from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dnslib import EDNS0, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, A, DNSRecord

from services.common.context import ServiceContext
from services.common.faults import Gate
from services.common.udp import Reply, UdpAnswerer

SRV_TTL, HOST_TTL = 600, 3600
HEADER = 12                          # octets (RFC 1035 4.1.1)
MAX_LABEL, MAX_NAME = 63, 255        # octets (RFC 1035 2.3.4)
_QR, _OPCODE_RD = 0x8000, 0x7900     # flag bits: response; opcode and RD, echoed in a FORMERR
MAX_KEPT = 4096                      # answers kept (see DnsServer.answers)


def formerr(data: bytes) -> bytes:
    """FORMERR for a query whose header reads: its ID, opcode and RD echoed, no sections."""
    ident, flags = struct.unpack("!HH", data[:4])
    return struct.pack("!HHHHHH", ident, _QR | (flags & _OPCODE_RD) | RCODE.FORMERR, 0, 0, 0, 0)


def name_problem(request: DNSRecord) -> str | None:
    """Why a question's name is not a DNS name, or None (dnslib reads labels of 64-191 octets)."""
    for q in request.questions:
        labels = q.qname.label
        if any(len(label) > MAX_LABEL for label in labels):
            return f"a label of more than {MAX_LABEL} octets"
        if sum(len(label) + 1 for label in labels) + 1 > MAX_NAME:
            return f"a name of more than {MAX_NAME} octets"
    return None


@dataclass
class Zone:
    """The records of the domain's zone, by lower-case name without the trailing dot."""
    origin: str
    records: dict[str, list[RR]]
    soa: RR

    def contains(self, name: str) -> bool:
        return name == self.origin or name.endswith("." + self.origin) or name in self.records


def build_zone(domain: str, dc_hostname: str, dc_ip: str, ldap_port: int, kerberos_port: int) -> Zone:
    origin = domain.lower().rstrip(".")
    fqdn = f"{dc_hostname.lower()}.{origin}"
    records: dict[str, list[RR]] = {}

    def add(name: str, rtype: str, rdata, ttl: int) -> None:
        records.setdefault(name, []).append(RR(name + ".", getattr(QTYPE, rtype), rdata=rdata, ttl=ttl))

    soa = RR(origin + ".", QTYPE.SOA, ttl=HOST_TTL, rdata=SOA(
        fqdn + ".", f"hostmaster.{origin}.", (1, 900, 600, 86400, 3600)))
    records[origin] = [soa]
    add(origin, "NS", NS(fqdn + "."), HOST_TTL)
    add(origin, "A", A(dc_ip), HOST_TTL)
    add(fqdn, "A", A(dc_ip), HOST_TTL)
    srv = {
        "_ldap._tcp": ldap_port, "_ldap._tcp.dc._msdcs": ldap_port,
        "_ldap._tcp.pdc._msdcs": ldap_port,
        "_ldap._tcp.Default-First-Site-Name._sites": ldap_port,
        "_ldap._tcp.Default-First-Site-Name._sites.dc._msdcs": ldap_port,
        "_kerberos._tcp": kerberos_port, "_kerberos._udp": kerberos_port,
        "_kerberos._tcp.dc._msdcs": kerberos_port,
        "_kerberos._tcp.Default-First-Site-Name._sites": kerberos_port,
        "_kerberos._tcp.Default-First-Site-Name._sites.dc._msdcs": kerberos_port,
    }
    for prefix, port in srv.items():
        add(f"{prefix}.{origin}".lower(), "SRV", SRV(priority=0, weight=100, port=port, target=fqdn + "."), SRV_TTL)
    # The DC's reverse record (Kerberos clients that canonicalise names look it up).
    reverse = ".".join(reversed(dc_ip.split("."))) + ".in-addr.arpa"
    add(reverse, "PTR", PTR(fqdn + "."), HOST_TTL)
    # Empty non-terminals (`_tcp.<domain>`, `_msdcs.<domain>`...) exist: NOERROR/NODATA there.
    for name in list(records):
        labels = name.split(".")
        for i in range(1, len(labels)):
            parent = ".".join(labels[i:])
            if parent != origin and parent.endswith(origin):
                records.setdefault(parent, [])
    return Zone(origin, records, soa)


class DnsServer:
    def __init__(self, ctx: ServiceContext, zone: Zone):
        self.ctx = ctx
        self.zone = zone
        self.port = ctx.port("dns")
        # (message after its ID, transport, deny, removed names) -> (reply after its ID, event fields)
        self.answers: dict[tuple, tuple[bytes, dict]] = {}
        self.answers_zone = zone

    async def answer(self, data: bytes, peer: str, transport: str) -> bytes | None:
        """The reply to one DNS message, or None to stay silent."""
        out = self.answer_now(data, peer, transport)
        return await out if isinstance(out, Awaitable) else out

    def answer_now(self, data: bytes, peer: str, transport: str) -> Reply | Awaitable[Reply]:
        """As `answer`, computed on the spot; under a `delay` fault, an awaitable of it instead
        (so UDP answers without a task per query: services/common/udp.py)."""
        gate = self.ctx.faults.gate("dns", peer, self.port)
        if gate.drop:
            self.ctx.record("dns.query", peer=peer, outcome="dropped", transport=transport)
            return None
        if len(data) < HEADER:   # no header, so no ID to answer to
            self.ctx.record("dns.malformed", peer=peer, outcome="dropped", transport=transport, size=len(data))
            return None
        if data[2] & 0x80:       # QR: a response sent to a server; answering could loop
            return None
        removed = self.ctx.faults.removed_records("dns", peer, self.port)
        key = (data[2:], transport, gate.deny, frozenset(removed))
        if self.answers_zone is not self.zone:
            self.answers, self.answers_zone = {}, self.zone
        hit = self.answers.get(key)
        if hit is not None:
            if gate.delay:
                return _later(gate.delay, self._again, data, peer, transport, hit)
            return self._again(data, peer, transport, hit)
        try:
            request = DNSRecord.parse(data)
            problem = name_problem(request)
        except Exception as exc:  # noqa: BLE001 - dnslib raises assorted errors on garbage, all mean "malformed"
            problem = f"{exc.__class__.__name__}: {str(exc)[:120]}"
        if problem is not None:
            self.ctx.record("dns.malformed", peer=peer, outcome="FORMERR", transport=transport,
                            size=len(data), reason=problem)
            return formerr(data)
        if gate.delay:
            return _later(gate.delay, self._reply, request, data, peer, transport, gate, removed, key)
        return self._reply(request, data, peer, transport, gate, removed, key)

    def _again(self, data: bytes, peer: str, transport: str, hit: tuple[bytes, dict]) -> bytes:
        """A kept answer, with this query's ID."""
        tail, fields = hit
        self.ctx.record("dns.query", peer=peer, transport=transport, **fields)
        return data[:2] + tail

    def _reply(self, request: DNSRecord, data: bytes, peer: str, transport: str, gate: Gate,
               removed: set[str], key: tuple) -> bytes:
        """The answer to a question that reads, made with dnslib (and kept under `key`)."""
        reply = request.reply()
        edns = next((rr for rr in request.ar if rr.rtype == QTYPE.OPT), None)
        if edns is not None:   # RFC 6891: answer EDNS with EDNS
            reply.add_ar(EDNS0(udp_len=1232))
        reply.header.ra = 0
        reply.header.ad = 0   # nothing here is DNSSEC-validated
        if request.header.opcode != 0:
            reply.header.aa = 0
            reply.header.rcode = RCODE.NOTIMP
            return self._done(reply, peer, transport, "", "", key)
        if len(request.questions) != 1:
            # dnslib's reply() would invent a question ("./A/IN"); a FORMERR carries none
            self.ctx.record("dns.query", peer=peer, outcome="FORMERR", name="", type="", transport=transport,
                            answers=0, questions=len(request.questions))
            return formerr(data)
        q = request.questions[0]
        name = str(q.qname).lower().rstrip(".")
        qtype = QTYPE.get(q.qtype, str(q.qtype))
        if gate.deny or not self.zone.contains(name):
            reply.header.aa = 0
            reply.header.rcode = RCODE.REFUSED
            return self._done(reply, peer, transport, name, qtype, key)
        records = None if name in removed else self.zone.records.get(name)
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(self.zone.soa)
            return self._done(reply, peer, transport, name, qtype, key)
        matching = [rr for rr in records if q.qtype in (QTYPE.ANY, rr.rtype)]
        for rr in matching:
            reply.add_answer(rr)
            if rr.rtype == QTYPE.SRV:
                target = str(rr.rdata.target).lower().rstrip(".")
                if target not in removed:
                    for extra in self.zone.records.get(target, []):
                        if extra.rtype == QTYPE.A:
                            reply.add_ar(extra)
        if not matching:
            reply.add_auth(self.zone.soa)   # NODATA
        return self._done(reply, peer, transport, name, qtype, key)

    def _done(self, reply: DNSRecord, peer: str, transport: str, name: str, qtype: str, key: tuple) -> bytes:
        packed = reply.pack()
        limit = 1232 if any(rr.rtype == QTYPE.OPT for rr in reply.ar) else 512
        if transport == "udp" and len(packed) > limit:
            reply = reply.truncate()
            packed = reply.pack()
        fields = dict(outcome=RCODE.get(reply.header.rcode), name=name, type=qtype, answers=len(reply.rr))
        self.ctx.record("dns.query", peer=peer, transport=transport, **fields)
        if len(self.answers) >= MAX_KEPT:      # random names must not grow it without end
            self.answers.clear()
        self.answers[key] = (packed[2:], fields)
        return packed

    # -- transports --------------------------------------------------------------------------
    def udp_protocol(self) -> asyncio.DatagramProtocol:
        return UdpAnswerer(self.answer_now, self.ctx.log, "dns")

    async def handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """RFC 1035 4.2.2 / RFC 7766: two-byte length, then the message; several per connection."""
        peer = (writer.get_extra_info("peername") or ("?",))[0]
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), 30)
                    (length,) = struct.unpack("!H", head)
                    data = await asyncio.wait_for(reader.readexactly(length), 10)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    return
                out = await self.answer(data, peer, "tcp")
                if out is None:
                    # Dropped or malformed: answer nothing more and let the client hang up (so
                    # TCP's TIME_WAIT stays on its side, not on the DC's port).
                    await _wait_for_eof(reader, 5.0)
                    return
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except Exception:
            self.ctx.log.exception("dns: error serving %s over tcp", peer)
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - closing must not raise: the peer may have gone any way
                pass


async def _later(seconds: float, fn: Callable[..., bytes], *args: Any) -> bytes:
    """`fn(*args)` after a `delay` fault's wait."""
    await asyncio.sleep(seconds)
    return fn(*args)


async def _wait_for_eof(reader: asyncio.StreamReader, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while not reader.at_eof():
            left = deadline - loop.time()
            if left <= 0 or not await asyncio.wait_for(reader.read(65536), left):
                return
    except Exception:  # noqa: BLE001 - the client is gone or silent: either way we are done
        return
