"""Benchmark of the lab DC (LDAP and DNS) against a loopback reference measured in the same run.

Absolute times depend on the machine; the ratios against a plain TCP/UDP echo round trip on the
same loopback (the floor any network service pays here) are comparable between machines and runs.

    .venv/bin/python bench/bench_ldap.py [--users 3000] [--ops 300]

Starts its own DC process on 127.0.99.x (LAB_BENCH_SUBNET to change it) with generated users.
"""
from __future__ import annotations

import argparse
import os
import socket
import socketserver
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dns.message  # noqa: E402
import dns.query  # noqa: E402
from ldap3 import NONE, SUBTREE, Connection, Server  # noqa: E402

from lab import process_runtime as pr  # noqa: E402
from lab import topology as topo  # noqa: E402

DOMAIN = "corp.example.com"
USERS = "OU=Users,DC=corp,DC=example,DC=com"


class _TcpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class _UdpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


def per_op(fn, n: int) -> float:
    """Median seconds per call of `fn` over n calls (after a short warm-up)."""
    for _ in range(min(20, n)):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=3000)
    ap.add_argument("--ops", type=int, default=300)
    args = ap.parse_args()
    subnet = os.environ.get("LAB_BENCH_SUBNET", "127.0.99")

    # -- the reference: echo round trips on the same loopback ---------------------------------
    ref_host = f"{subnet}.99"
    tcp_echo = socketserver.ThreadingTCPServer((ref_host, 0), _TcpEcho)
    udp_echo = socketserver.ThreadingUDPServer((ref_host, 0), _UdpEcho)
    for srv in (tcp_echo, udp_echo):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    payload = b"x" * 120   # about the size of a bind request or a DNS query
    tcp = socket.create_connection(tcp_echo.server_address)
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def tcp_rtt():
        tcp.sendall(payload)
        got = 0
        while got < len(payload):
            got += len(tcp.recv(65536))

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.connect(udp_echo.server_address)

    def udp_rtt():
        udp.send(payload)
        udp.recv(65536)

    ref_tcp = per_op(tcp_rtt, args.ops)
    ref_udp = per_op(udp_rtt, args.ops)

    # -- the DC -------------------------------------------------------------------------------
    with tempfile.TemporaryDirectory(prefix="bench-dc-") as tmp:
        state = Path(tmp)
        topology = topo.build(state, subnet=subnet, credentials=topo.load_or_create_credentials(state))
        topology["services"]["dc"]["settings"]["generated_users"] = args.users
        path = pr.write_topology(state, topology)
        pr.check_ports_free(topology, ["dc"])
        try:
            started = pr.start(path, topology, ["dc"])
            t0 = time.perf_counter()
            pr.wait_healthy(topology, started, timeout=60)
            start_s = time.perf_counter() - t0
            svc = topology["services"]["dc"]
            host, ldap_port, dns_port = svc["host"], svc["ports"]["ldap"], svc["ports"]["dns"]

            server = Server(host, port=ldap_port, get_info=NONE)
            conn = Connection(server, "alice@corp.example.com", "Alice-Passw0rd!", auto_bind=True)
            bind_s = per_op(lambda: conn.rebind("alice@corp.example.com", "Alice-Passw0rd!"), args.ops)
            conn.rebind("CORP\\svc-oktaagent", "OktaAgent-Passw0rd!")
            counter = iter(range(10**9))

            def lookup():
                sam = f"user{next(counter) % args.users + 1:05d}"
                conn.search(USERS, f"(sAMAccountName={sam})", SUBTREE,
                            attributes=["userPrincipalName", "memberOf", "userAccountControl"])
                assert len(conn.entries) == 1

            search_s = per_op(lookup, args.ops)

            t = time.perf_counter()
            listed = sum(1 for _ in conn.extend.standard.paged_search(
                USERS, "(&(objectCategory=person)(objectClass=user))",
                attributes=["sAMAccountName", "userPrincipalName", "mail", "userAccountControl"],
                paged_size=1000, generator=True))
            page_s = time.perf_counter() - t
            conn.unbind()

            query = dns.message.make_query(f"_ldap._tcp.{DOMAIN}", "SRV")
            srv_s = per_op(lambda: dns.query.udp(query, host, port=dns_port, timeout=2), args.ops)
        finally:
            pr.stop(state)
    tcp.close()
    udp.close()
    tcp_echo.shutdown()
    udp_echo.shutdown()

    per_entry = page_s / max(listed, 1)
    rows = [
        ("reference: TCP echo round trip", ref_tcp, 1.0),
        ("reference: UDP echo round trip", ref_udp, 1.0),
        ("LDAP simple bind (UPN), same connection", bind_s, bind_s / ref_tcp),
        ("LDAP search by sAMAccountName", search_s, search_s / ref_tcp),
        (f"LDAP paged listing, per entry ({listed} entries)", per_entry, per_entry / ref_tcp),
        ("DNS SRV _ldap._tcp over UDP (dnspython)", srv_s, srv_s / ref_udp),
    ]
    print(f"dc with {args.users} generated users; started healthy in {start_s:.2f} s; "
          f"median of {args.ops} operations each")
    print(f"{'operation':48} {'time':>10}  {'x reference':>11}")
    for name, secs, ratio in rows:
        print(f"{name:48} {secs * 1e6:8.0f} us  {ratio:10.1f}x")
    print(f"paged listing: {listed / page_s:,.0f} entries/s")


if __name__ == "__main__":
    main()
