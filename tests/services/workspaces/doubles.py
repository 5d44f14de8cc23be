"""Test doubles for the AWS API tests: a domain controller's DNS and LDAP, a RADIUS responder,
and boto3 clients pointed at the lab.

The lab's own `dc` service is being built at the same time; until it runs, ConnectDirectory's
connectivity check and CreateWorkspaces' user lookup talk to `FakeDC`, which answers on the DC's
topology address with just enough DNS (SRV and A records, via dnslib) and LDAP (simple bind and
an equality search, hand-encoded BER) for the connector. Shared by tests/services/ad_connector
and tests/services/workspaces.
"""
from __future__ import annotations

import socket
import socketserver
import threading
import time
from typing import Any, Callable

import boto3
from botocore.config import Config
from dnslib import QTYPE, RCODE, RR, A, SRV
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from pyrad import packet
from pyrad.dictionary import Dictionary

from services.ad_connector import radius_client


# -- boto3 -----------------------------------------------------------------------------------------

def aws_client(topology: dict[str, Any], service: str, **overrides: Any):
    """A boto3 client for `ds` or `workspaces` with the lab's keys, as a user would make one."""
    creds = topology["credentials"]
    target = "ad-connector" if service == "ds" else "workspaces"
    svc = topology["services"][target]
    kwargs = dict(endpoint_url=f"http://{svc['host']}:{svc['ports']['api']}",
                  aws_access_key_id=creds["aws_access_key_id"],
                  aws_secret_access_key=creds["aws_secret_access_key"], region_name=creds["aws_region"],
                  config=Config(retries={"max_attempts": 1}))
    kwargs.update(overrides)
    return boto3.client(service, **kwargs)


def wait_until(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 15.0,
               interval: float = 0.1) -> Any:
    """Poll like Terraform's waiters: return the first value `done` accepts, or fail at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value!r}")
        time.sleep(interval)


# -- DNS -------------------------------------------------------------------------------------------

class _Zone(BaseResolver):
    def __init__(self, records: dict[tuple[str, str], list[Any]]):
        self.records = records

    def resolve(self, request, handler):  # noqa: ARG002
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        answers = self.records.get((name, qtype), [])
        if not answers and not any(n == name for n, _ in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
        for rdata in answers:
            reply.add_answer(RR(request.q.qname, getattr(QTYPE, qtype), rdata=rdata, ttl=60))
        return reply


# -- LDAP (just enough BER) ------------------------------------------------------------------------

def _tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + length], pos + length


def _children(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        tag, value, pos = _tlv(data, pos)
        out.append((tag, value))
    return out


def _enc(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + value


def _int(tag: int, n: int) -> bytes:
    return _enc(tag, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def _result(op: int, msg_id: int, code: int, diag: str = "") -> bytes:
    body = _int(0x0A, code) + _enc(0x04, b"") + _enc(0x04, diag.encode())
    return _enc(0x30, _int(0x02, msg_id) + _enc(op, body))


def _equalities(data: bytes) -> list[tuple[str, str]]:
    """Every (attribute, value) of the equality matches anywhere in a filter."""
    out = []
    for tag, value in _children(data):
        if tag == 0xA3:
            (_, attr), (_, val) = _children(value)
            out.append((attr.decode().lower(), val.decode()))
        elif tag & 0x20:
            out.extend(_equalities(value))
    return out


class FakeDC:
    """DNS and LDAP of a domain controller on `host` (the topology's dc address and ports).

    `accounts` maps sAMAccountName → password; binds use `<sam>@<domain>`. `srv` chooses which SRV
    records exist ("ldap", "kerberos"); `partial` adds domains with only some of them. `ldap=False`
    leaves LDAP unanswered.
    """

    def __init__(self, host: str, dns_port: int, ldap_port: int, domain: str, accounts: dict[str, str],
                 *, kerberos_port: int = 88, srv: tuple[str, ...] = ("ldap", "kerberos"), ldap: bool = True,
                 partial: dict[str, tuple[str, ...]] | None = None):
        self.domain, self.accounts = domain, accounts
        dc_name = f"instancerdc.{domain}"
        records: dict[tuple[str, str], list[Any]] = {(dc_name, "A"): [A(host)]}
        # `partial`: more domains served by the same DNS with only some SRV records (failure cases).
        for zone, kinds in {domain: srv, **(partial or {})}.items():
            if "ldap" in kinds:
                records[(f"_ldap._tcp.{zone}", "SRV")] = [SRV(0, 100, ldap_port, dc_name + ".")]
            if "kerberos" in kinds:
                records[(f"_kerberos._tcp.{zone}", "SRV")] = [SRV(0, 100, kerberos_port, dc_name + ".")]
        self.dns = DNSServer(_Zone(records), address=host, port=dns_port,
                             logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data,-log_prefix"))
        self.dns.start_thread()
        self.ldap = None
        self.binds: list[str] = []
        if ldap:
            dc = self

            class Handler(socketserver.BaseRequestHandler):
                def handle(self) -> None:
                    dc._serve(self.request)

            socketserver.ThreadingTCPServer.allow_reuse_address = True
            self.ldap = socketserver.ThreadingTCPServer((host, ldap_port), Handler)
            self.ldap.daemon_threads = True
            threading.Thread(target=self.ldap.serve_forever, daemon=True).start()

    def _user(self, name: str) -> str | None:
        name = name.lower()
        for sam in self.accounts:
            if name in (sam.lower(), f"{sam}@{self.domain}".lower()):
                return sam
        return None

    def _serve(self, sock: socket.socket) -> None:
        buffer, bound = b"", None
        sock.settimeout(10)
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while len(buffer) >= 2:
                try:
                    _, message, end = _tlv(buffer, 0)
                except IndexError:
                    break
                if end > len(buffer):
                    break
                buffer = buffer[end:]
                (_, raw_id), (op, body) = _children(message)[:2]
                msg_id = int.from_bytes(raw_id, "big")
                if op == 0x42:                       # UnbindRequest
                    return
                if op == 0x60:                       # BindRequest
                    _, (_, name), (_, password) = _children(body)[:3]
                    sam = self._user(name.decode())
                    self.binds.append(name.decode())
                    if sam is not None and self.accounts[sam] == password.decode():
                        bound = sam
                        sock.sendall(_result(0x61, msg_id, 0))
                    else:
                        sock.sendall(_result(0x61, msg_id, 49, "80090308: LdapErr: DSID-0C09044E, comment: "
                                             "AcceptSecurityContext error, data 52e, v4563"))
                elif op == 0x63:                     # SearchRequest
                    parts = _children(body)
                    wanted = [v for a, v in _equalities(_enc(0x30, _enc(parts[6][0], parts[6][1])))
                              if a in ("samaccountname", "userprincipalname")]
                    if bound is not None:
                        for value in wanted:
                            sam = self._user(value)
                            if sam is not None:
                                sock.sendall(self._entry(msg_id, sam))
                                break
                    sock.sendall(_result(0x65, msg_id, 0 if bound else 1))

    def _entry(self, msg_id: int, sam: str) -> bytes:
        base = ",".join(f"DC={p}" for p in self.domain.split("."))
        attrs = {"sAMAccountName": sam, "userPrincipalName": f"{sam}@{self.domain}", "objectClass": "user"}
        encoded = b"".join(_enc(0x30, _enc(0x04, k.encode()) + _enc(0x31, _enc(0x04, v.encode())))
                           for k, v in attrs.items())
        entry = _enc(0x04, f"CN={sam},CN=Users,{base}".encode()) + _enc(0x30, encoded)
        return _enc(0x30, _int(0x02, msg_id) + _enc(0x64, entry))

    def close(self) -> None:
        self.dns.stop()
        self.dns.server.server_close()   # dnslib's stop() leaves the UDP port bound
        if self.ldap is not None:
            self.ldap.shutdown()
            self.ldap.server_close()


def fake_dc_for(topology: dict[str, Any], seed_like: dict[str, Any] | None = None, **kw: Any) -> FakeDC:
    """A FakeDC on the topology's dc address, with the default seed's users and service accounts."""
    dc = topology["services"]["dc"]
    accounts = {"svc-adconnector": "Connector-Passw0rd!", "alice": "Alice-Passw0rd!", "bob": "Bob-Passw0rd!",
                "Administrator": "Admin-Passw0rd!"}
    return FakeDC(dc["host"], dc["ports"]["dns"], dc["ports"]["ldap"], "corp.example.com", accounts, **kw)


# -- RADIUS ----------------------------------------------------------------------------------------

class RadiusResponder:
    """Answers Access-Requests: `mode` accept, reject or silent; signs replies with `secret`."""

    def __init__(self, host: str, secret: bytes, mode: str = "reject", port: int = 0,
                 dictionary: Dictionary = radius_client.DICTIONARY):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.secret, self.mode, self.dictionary = secret, mode, dictionary
        self.received: list[tuple[str, str]] = []     # (source address, User-Name)
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            req = packet.AuthPacket(packet=data, secret=self.secret, dict=self.dictionary)
            self.received.append((addr[0], str(req["User-Name"][0])))
            if self.mode == "silent":
                continue
            reply = req.CreateReply()
            reply.code = packet.AccessAccept if self.mode == "accept" else packet.AccessReject
            reply.add_message_authenticator()
            self.sock.sendto(reply.ReplyPacket(), addr)

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()
