"""AD Connector's RADIUS client: one Access-Request per sign-in, carrying the MFA field.

It behaves as AWS documents: the request leaves from one of the connector addresses (ConnectIps),
waits RadiusTimeout per attempt, makes 1 + RadiusRetries attempts retransmitting the *same* packet
(same Identifier and Request Authenticator, so the server can spot duplicates, RFC 5080), then
fails over to the next server. Replies that fail the Response Authenticator or
Message-Authenticator check are ignored, as if never received.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrad import packet
from pyrad.dictionary import Dictionary

from . import password_encodings
from .udp_socket import connected_udp

DICTIONARY = Dictionary(str(Path(__file__).with_name("dictionary")))
CODE_NAMES = {packet.AccessAccept: "Access-Accept", packet.AccessReject: "Access-Reject",
              packet.AccessChallenge: "Access-Challenge"}


@dataclass
class Attempt:
    server: str
    source: str
    sent: float
    outcome: str          # "accept", "reject", "challenge", "timeout", "bad_authenticator"


@dataclass
class RadiusResult:
    outcome: str          # "accept", "reject", "challenge", "timeout"
    server: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    reply_message: str | None = None
    elapsed: float = 0.0


_ids = itertools.count(int.from_bytes(os.urandom(1), "big"))


def build_access_request(username: str, mfa_code: str, secret: bytes, nas_identifier: str,
                         protocol: str = "PAP", nas_ip: str | None = None) -> packet.AuthPacket:
    req = packet.AuthPacket(code=packet.AccessRequest, id=next(_ids) % 256, secret=secret, dict=DICTIONARY)
    req["User-Name"] = username
    password_encodings.encode(req, protocol, username, mfa_code)
    req["NAS-Identifier"] = nas_identifier
    if nas_ip and "." in nas_ip:      # the connector address (ConnectIp, an ENI) it sends from; IPv4 only
        req["NAS-IP-Address"] = nas_ip
    req["Service-Type"] = "Authenticate-Only"
    req.add_message_authenticator()
    return req


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, _addr: tuple[str | Any, int]) -> None:
        self.queue.put_nowait(data)


async def authenticate(
    *,
    servers: list[str],
    port: int,
    secret: bytes,
    username: str,
    mfa_code: str,
    source_ip: str,
    timeout: float,
    retries: int,
    nas_identifier: str,
    protocol: str = "PAP",
    on_send=None,
    on_unanswered=None,
) -> RadiusResult:
    """Try each server in list order; per server 1 + retries attempts of `timeout` seconds."""
    loop = asyncio.get_running_loop()
    result = RadiusResult(outcome="timeout")
    started = time.monotonic()
    for server in servers:
        req = build_access_request(username, mfa_code, secret, nas_identifier, protocol, nas_ip=source_ip)
        raw = req.RequestPacket()
        transport, receiver = await connected_udp(_Receiver, server, port, source_ip)
        try:
            for _ in range(1 + retries):
                attempt = Attempt(server=f"{server}:{port}", source=source_ip, sent=time.time(), outcome="timeout")
                result.attempts.append(attempt)
                transport.sendto(raw)
                if on_send is not None:
                    on_send(attempt, len(result.attempts), req.id)
                deadline = loop.time() + timeout
                while True:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        data = await asyncio.wait_for(receiver.queue.get(), remaining)
                    except TimeoutError:
                        break
                    except ConnectionRefusedError:
                        continue
                    outcome = _judge(req, data)
                    if outcome is None:
                        attempt.outcome = "bad_authenticator"
                        continue
                    attempt.outcome = outcome
                    result.outcome, result.server = outcome, attempt.server
                    reply = packet.Packet(packet=data, secret=secret, dict=DICTIONARY)
                    if "Reply-Message" in reply:
                        result.reply_message = str(reply["Reply-Message"][0])
                    result.elapsed = time.monotonic() - started
                    return result
                if on_unanswered is not None:
                    on_unanswered(attempt)
        finally:
            transport.close()
    result.elapsed = time.monotonic() - started
    return result


def _judge(req: packet.AuthPacket, data: bytes) -> str | None:
    """The reply's meaning, or None when it is not an authentic reply to `req`."""
    try:
        reply = packet.Packet(packet=data, secret=req.secret, dict=DICTIONARY)
    except Exception:  # noqa: BLE001 - pyrad raises many kinds on a malformed reply: not authentic
        return None
    if reply.id != req.id or reply.code not in CODE_NAMES:
        return None
    try:
        # Response Authenticator, and Message-Authenticator whenever the reply carries one.
        if not req.VerifyReply(reply, data, enforce_ma=False):
            return None
    except Exception:  # noqa: BLE001 - a reply pyrad cannot verify is not authentic
        return None
    return {packet.AccessAccept: "accept", packet.AccessReject: "reject",
            packet.AccessChallenge: "challenge"}[reply.code]
