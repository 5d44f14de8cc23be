"""The connector's DNS client for DC discovery: SRV and A queries over one UDP socket per
DNS server for a whole discovery (`Session`: the two SRV queries and the A query of a sign-in),
answers matched to queries by ID; TCP when a reply is truncated.

Why not dnspython's resolver here: it opened a socket per query and built a message object of
every reply (a quarter of AD Connector's CPU per sign-in went to three queries). The queries are
written as that resolver wrote them (RFC 1035: one question, RD set, no EDNS, a random ID), and
its outcomes are kept: NXDOMAIN, no answer of the type asked (a CNAME chain in the answer is
followed), a timeout when no reply comes within the lifetime, and, when every server failed
(SERVFAIL, REFUSED, ICMP refused), "All nameservers failed to answer the query ...".

Nothing is cached: every call asks the server, so a removed record is gone from the next sign-in.
Each discovery has sockets of its own (a new flow, so a security-group rule revoked since the last
sign-in applies to the next). The socket is connected to its server, so an ICMP port-unreachable
reaches the query waiting on it (as it did with a connected socket per query).
"""
from __future__ import annotations

import asyncio
import random
import struct
from dataclasses import dataclass

from .udp_socket import connected_udp

CLASS_IN, TYPE_A, TYPE_CNAME, TYPE_SRV = 1, 1, 5, 33
TYPE_NAMES = {TYPE_A: "A", TYPE_SRV: "SRV", TYPE_CNAME: "CNAME"}
RCODE_NAMES = {1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


# Named as dnspython's, whose names the connector's journal notes carry.
class DNSException(Exception):
    """The query got no usable answer; the message says why (dnspython's wording)."""


class NXDOMAIN(DNSException):
    pass


class NoAnswer(DNSException):
    pass


class LifetimeTimeout(DNSException):
    pass


class NoNameservers(DNSException):
    pass


class BadReply(DNSException):
    pass


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str          # lower case, no trailing dot


# -- the wire (RFC 1035 4.1) ---------------------------------------------------------------------
def encode_query(qid: int, name: str, rdtype: int) -> bytes:
    labels = b"".join(bytes((len(p),)) + p for p in (x.encode("idna") for x in name.rstrip(".").split(".")) if p)
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\x00" + struct.pack("!HH", rdtype, CLASS_IN)


def _name(data: bytes, pos: int) -> tuple[str, int]:
    """A (possibly compressed) name at `pos`: (lower-case text without the final dot, where it ends)."""
    labels: list[str] = []
    end = -1
    jumps = 0
    while True:
        if pos >= len(data):
            raise BadReply("truncated name")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data) or jumps > 64:
                raise BadReply("bad compression pointer")
            if end < 0:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            jumps += 1
            continue
        if n & 0xC0:
            raise BadReply("bad label type")
        if n == 0:
            return ".".join(labels).lower(), (end if end >= 0 else pos + 1)
        labels.append(data[pos + 1:pos + 1 + n].decode("latin-1"))
        pos += 1 + n


@dataclass
class Reply:
    qid: int
    flags: int
    question: tuple[str, int]
    answers: list[tuple[str, int, bytes, int]]      # (owner, type, the message, rdata start)

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    @property
    def truncated(self) -> bool:
        return bool(self.flags & 0x0200)


def decode_reply(data: bytes) -> Reply:
    try:
        qid, flags, qd, an, _ns, _ar = struct.unpack_from("!HHHHHH", data)
        pos = 12
        question = ("", 0)
        for i in range(qd):
            qname, pos = _name(data, pos)
            qtype, _ = struct.unpack_from("!HH", data, pos)
            pos += 4
            if i == 0:
                question = (qname, qtype)
        answers = []
        for _ in range(an):
            owner, pos = _name(data, pos)
            rtype, rclass, _ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
            pos += 10
            if pos + rdlen > len(data):
                raise BadReply("truncated record")
            if rclass == CLASS_IN:
                answers.append((owner, rtype, data, pos))
            pos += rdlen
    except struct.error:
        raise BadReply("truncated message") from None
    return Reply(qid, flags, question, answers)


def _rdata(owner_type_data: tuple[str, int, bytes, int]) -> object:
    _, rtype, data, pos = owner_type_data
    if rtype == TYPE_A:
        return ".".join(str(b) for b in data[pos:pos + 4])
    if rtype == TYPE_SRV:
        priority, weight, port = struct.unpack_from("!HHH", data, pos)
        return Srv(priority, weight, port, _name(data, pos + 6)[0])
    if rtype == TYPE_CNAME:
        return _name(data, pos)[0]
    return None


def answer(reply: Reply, name: str, rdtype: int) -> list:
    """The records of `rdtype` for `name`, following a CNAME chain in the answer section."""
    owner = name.rstrip(".").lower()
    for _ in range(16):
        records = [_rdata(a) for a in reply.answers if a[0] == owner and a[1] == rdtype]
        if records:
            return records
        cname = [_rdata(a) for a in reply.answers if a[0] == owner and a[1] == TYPE_CNAME]
        if not cname:
            break
        owner = str(cname[0])
    raise NoAnswer(f"The DNS response does not contain an answer to the question: {name}. IN "
                   f"{TYPE_NAMES.get(rdtype, rdtype)}")


# -- transport -----------------------------------------------------------------------------------
class _Endpoint(asyncio.DatagramProtocol):
    """One UDP socket from a connector address to one DNS server; replies routed by query ID."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[asyncio.Future[bytes], bytes]] = {}
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, _addr: object) -> None:
        if len(data) < 12:
            return
        waiting = self.pending.get(int.from_bytes(data[:2], "big"))
        if waiting is None or waiting[0].done():
            return                                   # late, or not ours: ignored, as dnspython does
        future, query = waiting
        # The question must be the one asked (a spoofed or stray reply with our ID is ignored).
        if data[2] & 0x80 and data[4:6] == query[4:6] and data[12:12 + len(query) - 12].lower() == query[12:].lower():
            future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        for future, _ in self.pending.values():
            if not future.done():
                future.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error_received(exc or ConnectionResetError("DNS socket closed"))

    def new_id(self) -> int:
        while True:
            qid = random.randrange(65536)
            if qid not in self.pending:
                return qid


class Session:
    """The sockets of one discovery (`async with Session() as dns: await dns.resolve(...)`): one
    per DNS server, made on the first query and closed at the end. Why not one for the process:
    the lab's security groups are stateful, as AWS's, so a kept socket's flow would outlive a
    revoked rule, while AD Connector's queries each start a new flow; a discovery is one sign-in."""

    def __init__(self) -> None:
        self.endpoints: dict[tuple[str | None, str, int], _Endpoint] = {}

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for endpoint in self.endpoints.values():
            if endpoint.transport is not None:
                endpoint.transport.close()
        self.endpoints.clear()

    async def endpoint(self, server: str, port: int, source: str | None) -> _Endpoint:
        key = (source, server, port)
        endpoint = self.endpoints.get(key)
        if endpoint is None or endpoint.closed:
            _, endpoint = await connected_udp(_Endpoint, server, port, source)
            self.endpoints[key] = endpoint
        return endpoint

    async def resolve(self, servers: list[str], port: int, name: str, rdtype: int, *, timeout: float,
                      source: str | None = None) -> list:
        return await resolve(servers, port, name, rdtype, timeout=timeout, source=source, session=self)


async def _udp(session: Session, server: str, port: int, source: str | None, name: str, rdtype: int,
               timeout: float) -> bytes:
    endpoint = await session.endpoint(server, port, source)
    qid = endpoint.new_id()
    query = encode_query(qid, name, rdtype)
    future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    endpoint.pending[qid] = (future, query)
    try:
        assert endpoint.transport is not None
        endpoint.transport.sendto(query)
        return await asyncio.wait_for(future, timeout)
    finally:
        endpoint.pending.pop(qid, None)


async def _tcp(server: str, port: int, source: str | None, name: str, rdtype: int, timeout: float) -> bytes:
    query = encode_query(random.randrange(65536), name, rdtype)

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(server, port, local_addr=(source, 0) if source else None)
        try:
            writer.write(len(query).to_bytes(2, "big") + query)
            size = int.from_bytes(await reader.readexactly(2), "big")
            return await reader.readexactly(size)
        finally:
            writer.close()

    return await asyncio.wait_for(exchange(), timeout)


async def resolve(servers: list[str], port: int, name: str, rdtype: int, *, timeout: float,
                  source: str | None = None, session: Session | None = None) -> list:
    """The records of `rdtype` for `name` (Srv for SRV, dotted quads for A), asking `servers` in
    order within `timeout` in all, on `session`'s sockets (on sockets of its own when None).
    Raises NXDOMAIN, NoAnswer, LifetimeTimeout or NoNameservers (all DNSException)."""
    if session is None:
        async with Session() as own:
            return await resolve(servers, port, name, rdtype, timeout=timeout, source=source, session=own)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    failures: list[str] = []
    for server in servers:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            data = await _udp(session, server, port, source, name, rdtype, remaining)
            reply = decode_reply(data)
            if reply.truncated:
                data = await _tcp(server, port, source, name, rdtype, max(deadline - loop.time(), 0.001))
                reply = decode_reply(data)
        except TimeoutError:
            failures.append(f"Server Do53:{server}@{port} answered The DNS operation timed out.")
            continue
        except (OSError, EOFError, asyncio.IncompleteReadError, BadReply) as exc:
            failures.append(f"Server Do53:{server}@{port} answered {exc}")
            continue
        if reply.rcode == 3:
            raise NXDOMAIN(f"The DNS query name does not exist: {name}.")
        if reply.rcode:
            failures.append(f"Server Do53:{server}@{port} answered {RCODE_NAMES.get(reply.rcode, reply.rcode)}")
            continue
        return answer(reply, name, rdtype)
    if not failures or (failures[-1].endswith("timed out.") and loop.time() >= deadline):
        raise LifetimeTimeout(f"The resolution lifetime expired after {timeout:.3f} seconds: {'; '.join(failures)}")
    raise NoNameservers(f"All nameservers failed to answer the query {name}. IN {TYPE_NAMES.get(rdtype, rdtype)}: "
                   + "; ".join(failures))
