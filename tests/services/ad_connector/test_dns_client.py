"""AD Connector's DNS client (dns_client.py) against the real DC's DNS server: the same answers and
outcomes as dnspython's resolver (which the connector used before), one socket per server for a
discovery's queries, and no caching (a removed record is NXDOMAIN at once).
Subnet 127.0.246 (the signin engineer's)."""
from __future__ import annotations

import asyncio
import socket

import dns.asyncresolver
import dns.message
import httpx
import pytest

from services.ad_connector import discovery
from services.ad_connector import dns_client as dc_dns
from tests.support import admin_headers, running_services

SUBNET = "127.0.246"
SOURCE = f"{SUBNET}.41"
DOMAIN = "corp.example.com"


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    with running_services(["dc"], tmp_path_factory.mktemp("connector-dns"), SUBNET) as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "dns": svc["ports"]["dns"], "auth": admin_headers(topology),
               "admin": f"http://{svc['host']}:{svc['ports']['admin']}"}


@pytest.fixture
def faults(dc):
    def add(fault: dict) -> None:
        httpx.post(f"{dc['admin']}/faults", json=fault, headers=dc["auth"]).raise_for_status()
    yield add
    httpx.delete(f"{dc['admin']}/faults", headers=dc["auth"]).raise_for_status()


def ours(dc, name, rdtype, timeout=2.0):
    return asyncio.run(dc_dns.resolve([dc["host"]], dc["dns"], name, rdtype, timeout=timeout, source=SOURCE))


def theirs(dc, name, rdtype):
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [dc["host"]], dc["dns"]
    return asyncio.run(resolver.resolve(name, rdtype, source=SOURCE))


def test_the_query_is_dnspythons_but_for_the_random_id():
    mine = dc_dns.encode_query(0x1234, f"_ldap._tcp.{DOMAIN}", dc_dns.TYPE_SRV)
    made = dns.message.make_query(f"_ldap._tcp.{DOMAIN}", "SRV")
    made.id = 0x1234
    assert mine == made.to_wire()


@pytest.mark.parametrize("service", ["_ldap._tcp", "_kerberos._tcp"])
def test_srv_and_a_answers_are_dnspythons(dc, service):
    name = f"{service}.{DOMAIN}"
    got = ours(dc, name, dc_dns.TYPE_SRV)
    expected = theirs(dc, name, "SRV")
    assert sorted((r.priority, r.weight, r.port, r.target) for r in got) == \
        sorted((r.priority, r.weight, r.port, str(r.target).rstrip(".").lower()) for r in expected)
    host = got[0].target
    assert ours(dc, host, dc_dns.TYPE_A) == [r.to_text() for r in theirs(dc, host, "A")]


def test_one_socket_carries_a_discovery_and_closes_with_it(dc):
    async def many():
        async with dc_dns.Session() as session:
            found = await discovery._discover(session, DOMAIN, [dc["host"]], dc["dns"], 3.0, SOURCE)
            await asyncio.gather(*(session.resolve([dc["host"]], dc["dns"], f"_ldap._tcp.{DOMAIN}",
                                                   dc_dns.TYPE_SRV, timeout=2, source=SOURCE) for _ in range(20)))
            sockets = {key: ep.transport.get_extra_info("sockname") for key, ep in session.endpoints.items()}
            transports = [ep.transport for ep in session.endpoints.values()]
        return found, sockets, transports
    found, sockets, transports = asyncio.run(many())
    assert found.address == dc["host"]
    assert list(sockets) == [(SOURCE, dc["host"], dc["dns"])]
    assert sockets[(SOURCE, dc["host"], dc["dns"])][0] == SOURCE
    # closed with the discovery: the next sign-in's queries are a new flow for the security groups
    assert all(t.is_closing() for t in transports)


def test_a_removed_record_is_gone_from_the_next_query(dc, faults):
    name = f"_kerberos._tcp.{DOMAIN}"
    assert ours(dc, name, dc_dns.TYPE_SRV)

    async def before_and_after():
        # one session, one socket: the answer before the removal must not be served after it
        async with dc_dns.Session() as session:
            await session.resolve([dc["host"]], dc["dns"], name, dc_dns.TYPE_SRV, timeout=2, source=SOURCE)
            await asyncio.to_thread(faults, {"action": "remove_record", "protocol": "dns", "target": name})
            with pytest.raises(dc_dns.NXDOMAIN):
                await session.resolve([dc["host"]], dc["dns"], name, dc_dns.TYPE_SRV, timeout=2, source=SOURCE)
        with pytest.raises(discovery.DiscoveryError, match=f"no SRV record {name}"):
            await discovery.find_domain_controller(DOMAIN, [dc["host"]], dc["dns"], source=SOURCE)
    asyncio.run(before_and_after())


def test_no_answer_of_the_type_asked(dc):
    with pytest.raises(dc_dns.NoAnswer):
        ours(dc, f"_ldap._tcp.{DOMAIN}", dc_dns.TYPE_A)


def test_a_dropping_server_is_a_timeout_and_a_refusing_one_an_error(dc, faults):
    faults({"action": "drop", "protocol": "dns"})
    with pytest.raises(discovery.DiscoveryError, match=r"DNS timeout querying _ldap\._tcp"):
        asyncio.run(discovery.find_domain_controller(DOMAIN, [dc["host"]], dc["dns"], timeout=0.3, source=SOURCE))
    httpx.delete(f"{dc['admin']}/faults", headers=dc["auth"]).raise_for_status()
    faults({"action": "deny", "protocol": "dns"})
    with pytest.raises(discovery.DiscoveryError, match=r"DNS error querying .*answered REFUSED"):
        asyncio.run(discovery.find_domain_controller(DOMAIN, [dc["host"]], dc["dns"], source=SOURCE))


def test_a_closed_port_is_an_error_not_a_wait(dc):
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind((dc["host"], 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(dc_dns.NoNameservers, match=r"All nameservers failed.*refused"):
        asyncio.run(dc_dns.resolve([dc["host"]], port, f"_ldap._tcp.{DOMAIN}", dc_dns.TYPE_SRV, timeout=5,
                                   source=SOURCE))


def test_a_truncated_reply_is_asked_again_over_tcp():
    """A server that truncates every UDP reply (TC): the answer comes over TCP, as dnspython's."""
    host = f"{SUBNET}.60"
    name = f"_ldap._tcp.{DOMAIN}"

    def reply(query: bytes, tc: bool) -> bytes:
        target = b"".join(bytes((len(p),)) + p.encode() for p in f"dc1.{DOMAIN}".split(".")) + b"\x00"
        rdata = (0).to_bytes(2, "big") + (100).to_bytes(2, "big") + (389).to_bytes(2, "big") + target
        flags = 0x8380 if tc else 0x8180
        header = query[:2] + flags.to_bytes(2, "big") + b"\x00\x01" + (b"\x00\x00" if tc else b"\x00\x01") + b"\x00" * 4
        rr = b"\xc0\x0c" + b"\x00\x21\x00\x01" + b"\x00\x00\x02\x58" + len(rdata).to_bytes(2, "big") + rdata
        return header + query[12:] + (b"" if tc else rr)

    async def run():
        loop = asyncio.get_running_loop()

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                self.transport.sendto(reply(data, True), addr)

        async def tcp(reader, writer):
            size = int.from_bytes(await reader.readexactly(2), "big")
            answer = reply(await reader.readexactly(size), False)
            writer.write(len(answer).to_bytes(2, "big") + answer)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(tcp, host, 0)
        port = server.sockets[0].getsockname()[1]
        udp, _ = await loop.create_datagram_endpoint(Udp, local_addr=(host, port))
        try:
            return await dc_dns.resolve([host], port, name, dc_dns.TYPE_SRV, timeout=2, source=SOURCE)
        finally:
            udp.close()
            server.close()
    assert asyncio.run(run()) == [dc_dns.Srv(0, 100, 389, f"dc1.{DOMAIN}")]
