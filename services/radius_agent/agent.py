"""The request pipeline: datagram → validation → duplicate check → worker → Okta → reply.

The order matters and follows the RFCs: faults first (a scenario's "security group" drops before
anything is decoded), then the app for the receiving port (its secret authenticates the packet),
then Message-Authenticator (an invalid one MUST NOT touch the duplicate cache, RFC 5080), then
Status-Server (answered at once, no org, no dedup, RFC 5997), then duplicates, then a worker.

It also writes the agent's log in the shape of Okta's `okta_radius.log` (docs/radius.md, "The agent's log"):

    [radiusRequestId=UsPdTSTAHI, user=alice, requestType=mfa] Begin processing of Access-Request,
        client=/127.0.10.41:51234, nasIp=127.0.10.41, packetId=105, method=PAP
    [...] Completed processing. packetId=105, totalProcessingTime=18433ms, queueTime=0ms,
        oktaTime=18415ms, method=push, result=ACCEPT

and one `radius.request` event per datagram outcome. Neither ever carries the password, the code
or the secret.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import string
import time
from collections.abc import Coroutine
from typing import Any

from . import radius
from .apps import AppRegistry
from .dedup import DuplicateCache, Key
from .mfa import Outcome, Verifier
from .org import Timer
from .radius import Discard, Endpoint, Request

log = logging.getLogger("lab.radius-agent")

_ID_ALPHABET = string.ascii_letters + string.digits
STATUS_EVENT_SECONDS = 1.0
_LOG_RESULTS = {"accept": "ACCEPT", "reject": "REJECT", "none": "NO_RESPONSE", "challenge": "CHALLENGE"}


def new_request_id() -> str:
    """Okta's radiusRequestId looks like `UsPdTSTAHI`: ten letters and digits. Ten base-62 digits
    of one 128-bit draw (ten `secrets.choice` calls were 3% of the agent's CPU per passcode; the
    bias of 2**128 mod 62**10 is below 2**-68)."""
    n = int.from_bytes(secrets.token_bytes(16), "big")
    out = []
    for _ in range(10):
        n, digit = divmod(n, 62)
        out.append(_ID_ALPHABET[digit])
    return "".join(out)


class Agent:
    def __init__(self, ctx: Any, registry: AppRegistry, verifier: Verifier, dedup: DuplicateCache,
                 threads: int) -> None:
        self.ctx = ctx
        self.registry = registry
        self.verifier = verifier
        self.dedup = dedup
        self.threads = threads
        self.busy = 0
        # (peer, port) -> [Status-Servers answered since its last event, the last one's Identifier]
        self._status_counts: dict[tuple[str, int], list[int]] = {}

    # -- one datagram ---------------------------------------------------------------------
    def receive(self, data: bytes, addr: tuple[str, int], port: int,
                endpoint: Endpoint) -> Coroutine[Any, Any, None] | None:
        """Everything that needs no waiting is done here, in the datagram callback: discards,
        Status-Server and duplicates are answered without a task (a task per datagram was a third
        of the agent's CPU for Status-Server). What must wait (a fault's delay, an Access-Request
        for the org) is returned as a coroutine for the endpoint to run as a task."""
        arrived = time.monotonic()
        peer = f"{addr[0]}:{addr[1]}"
        gate = self.ctx.faults.gate("radius", addr[0], port)
        if gate.drop:
            self._discarded(peer, port, data, "fault: drop")
            return None
        if gate.delay:
            return self._after_delay(gate.delay, data, addr, port, endpoint, arrived, peer, gate.deny)
        return self._screen(data, addr, port, endpoint, arrived, peer, gate.deny)

    async def handle(self, data: bytes, addr: tuple[str, int], port: int, endpoint: Endpoint) -> None:
        """One datagram from arrival to reply (receive() and what it leaves to wait for)."""
        rest = self.receive(data, addr, port, endpoint)
        if rest is not None:
            await rest

    async def _after_delay(self, delay: float, data: bytes, addr: tuple[str, int], port: int,
                           endpoint: Endpoint, arrived: float, peer: str, deny: bool) -> None:
        await asyncio.sleep(delay)
        rest = self._screen(data, addr, port, endpoint, arrived, peer, deny)
        if rest is not None:
            await rest

    def _screen(self, data: bytes, addr: tuple[str, int], port: int, endpoint: Endpoint, arrived: float,
                peer: str, deny: bool) -> Coroutine[Any, Any, None] | None:
        app = self.registry.app_for_port(port)
        if app is None:
            self._discarded(peer, port, data, "no RADIUS app is configured on this port (yet)")
            return None
        try:
            request = radius.parse(data, addr, port, app.secret,
                                   require_message_authenticator=app.require_message_authenticator)
        except Discard as exc:
            self._discarded(peer, port, data, str(exc))
            return None
        if request.code == radius.STATUS_SERVER:
            endpoint.send(radius.encode_reply(request, radius.ACCESS_ACCEPT), addr)
            self._status_answered(peer, port, request.id)
            return None

        key = (port, addr[0], addr[1], request.id, request.authenticator)
        verdict, entry = self.dedup.check(key)
        if verdict == "in_flight":
            log.info("Dropping duplicate of a request in progress, client=/%s, packetId=%s", peer, request.id)
            self.ctx.record("radius.request", peer=peer, outcome="dropped_duplicate", port=port,
                            packet_id=request.id, user=request.user_name())
            return None
        if verdict == "answered":
            assert entry is not None
            if entry.reply is not None:
                endpoint.send(entry.reply, addr)
            self.ctx.record("radius.request", peer=peer, port=port, packet_id=request.id,
                            user=request.user_name(),
                            outcome="resent_cached" if entry.reply is not None else "dropped_duplicate")
            return None
        return self._answer(key, request, app, peer, arrived, deny, endpoint, addr)

    async def _answer(self, key: Key, request: Request, app: Any, peer: str, arrived: float, deny: bool,
                      endpoint: Endpoint, addr: tuple[str, int]) -> None:
        try:
            reply = await self._process(request, app, peer, arrived, deny=deny)
        except BaseException:
            self.dedup.forget(key)
            raise
        self.dedup.finish(key, reply)
        if reply is not None:
            endpoint.send(reply, addr)

    def _status_answered(self, peer: str, port: int, packet_id: int) -> None:
        """One `radius.status` event per client and port per STATUS_EVENT_SECONDS: the first
        Status-Server at once, the others of that second as one event with their `count` when it
        ends. A monitor probing a few times a minute gets an event per probe; a flood (the
        benchmark's 20,000 a second) no longer pays an event, a JSON line and a write each."""
        key = (peer, port)
        counts = self._status_counts.get(key)
        if counts is not None:
            counts[0] += 1
            counts[1] = packet_id
            return
        self._status_counts[key] = [0, packet_id]
        asyncio.get_running_loop().call_later(STATUS_EVENT_SECONDS, self._status_window_over, key)
        self.ctx.record("radius.status", peer=peer, outcome="accept", port=port, packet_id=packet_id, count=1)

    def _status_window_over(self, key: tuple[str, int]) -> None:
        count, packet_id = self._status_counts.pop(key)
        if count:
            self.ctx.record("radius.status", peer=key[0], outcome="accept", port=key[1], packet_id=packet_id,
                            count=count)

    # -- an Access-Request that needs an answer -------------------------------------------
    async def _process(self, request: Request, app: Any, peer: str, arrived: float, deny: bool) -> bytes | None:
        rid = new_request_id()
        user = request.user_name()
        logged = request.name_as_logged()      # what the log shows: garbled for MS-CHAP (radius.py)
        request_type = "primary" if app.primary_auth else "mfa"
        tag = f"[radiusRequestId={rid}, user={logged}, requestType={request_type}]"
        protocol = request.auth_protocol()
        nas_ip = request.nas_ip()     # the client's own claim, beside the address it came from
        log.info("%s Begin processing of Access-Request, client=/%s, nasIp=%s, packetId=%s, method=%s, app=%s",
                 tag, peer, nas_ip or "-", request.id, protocol, app.label)
        timer = Timer()
        queue_ms = 0
        if deny:
            outcome = Outcome("reject", "-", "fault: deny")
        elif self.busy >= self.threads:
            log.warning("%s Request queue is full (%d of %d worker threads busy); rejecting",
                        tag, self.busy, self.threads)
            outcome = Outcome("reject", "-", "Request queue is full")
        elif protocol == "none":
            outcome = Outcome("reject", "-", "the Access-Request carries no User-Password")
        elif protocol == "EAP":
            # The lab's apps use "PAP authentication"; EAP-TTLS is a per-app choice with its own
            # certificate (docs/radius.md, "EAP"), so an EAP conversation ends at its first message.
            outcome = Outcome("reject", "-", "EAP (e.g. EAP-TTLS) is not enabled for this app, which uses PAP "
                              "authentication: the RADIUS agent only supports PAP-based authentication here")
        elif protocol != "PAP":
            outcome = Outcome("reject", "-", f"no User-Password in the request ({protocol}): the RADIUS agent only "
                              "supports PAP-based authentication")
        else:
            self.busy += 1
            queue_ms = int((time.monotonic() - arrived) * 1000)
            try:
                try:
                    password = request.password()
                except ValueError as exc:
                    outcome = Outcome("reject", "-", f"malformed User-Password: {exc}")
                else:
                    outcome = await self.verifier.authenticate(app, user, password, arrived=arrived,
                                                               trace=rid, timer=timer, state=request.state())
            finally:
                self.busy -= 1
        if outcome.org_unauthorized:
            self.registry.mark_unauthorized(outcome.reason or "401")

        total_ms = int((time.monotonic() - arrived) * 1000)
        okta_ms = int(timer.seconds * 1000)
        reply = self._encode(request, outcome)
        if outcome.result == "reject":
            log.warning("%s Authentication failed for user %s, reason --- %s", tag, logged, outcome.reason)
        elif outcome.result == "none":
            log.warning("%s No response sent for user %s, reason --- %s", tag, user, outcome.reason)
        elif outcome.result == "challenge":
            log.info("%s Sending Access-Challenge to user %s --- %s", tag, user, outcome.prompt)
        elif outcome.groups:
            log.info("%s Returning %d group(s) in attribute %s: %s", tag, len(outcome.groups),
                     outcome.attributes[0][0], ", ".join(outcome.groups))
        log.info("%s Completed processing. packetId=%s, totalProcessingTime=%dms, queueTime=%dms, "
                 "oktaTime=%dms, httpCode=%s, method=%s, result=%s", tag, request.id, total_ms, queue_ms,
                 okta_ms, timer.last_status if timer.last_status is not None else "-", outcome.method,
                 _LOG_RESULTS[outcome.result])
        extra: dict[str, Any] = {"groups": outcome.groups} if outcome.groups else {}
        if nas_ip:
            extra["nas_ip"] = nas_ip
        self.ctx.record("radius.request", peer=peer, trace=rid, port=request.local_port,
                        outcome=outcome.result if outcome.result != "none" else "no_response",
                        user=user, packet_id=request.id, method=outcome.method, app=app.label,
                        reason=outcome.reason, total_ms=total_ms, okta_ms=okta_ms, **extra)
        return reply

    @staticmethod
    def _encode(request: Request, outcome: Outcome) -> bytes | None:
        """The reply packet for an outcome (None: stay silent)."""
        if outcome.result == "accept":
            return radius.encode_reply(request, radius.ACCESS_ACCEPT, outcome.attributes)
        if outcome.result == "reject":
            # an EAP conversation is ended with EAP-Failure (RFC 3579 §2.6.3), never a Reply-Message
            eap = radius.eap_failure(request.eap_identifier()) if request.auth_protocol() == "EAP" else []
            return radius.encode_reply(request, radius.ACCESS_REJECT, eap)
        if outcome.result == "challenge":
            assert outcome.state is not None
            attributes = [(radius.ATTR_STATE, outcome.state), *radius.reply_message(outcome.prompt or "")]
            return radius.encode_reply(request, radius.ACCESS_CHALLENGE, attributes)
        return None

    def _discarded(self, peer: str, port: int, data: bytes, reason: str) -> None:
        log.info("Silently discarding a datagram from /%s on port %s (%d octets): %s", peer, port, len(data), reason)
        self.ctx.record("radius.request", peer=peer, outcome="discarded", port=port, reason=reason,
                        octets=len(data))
