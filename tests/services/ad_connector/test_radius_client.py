"""AD Connector's RADIUS client against a small responder in the test: retransmissions reuse the
packet, the time budget is timeout × attempts × servers, forged replies are ignored, failover works."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from pyrad import packet

from services.ad_connector import radius_client

SECRET = b"s3cret-for-tests"


class Responder:
    """Answers Access-Requests on 127.0.88.x: `mode` is accept, reject, challenge, silent, forge."""

    def __init__(self, host: str, mode: str, answer_on_attempt: int = 1, port: int = 0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.mode, self.answer_on_attempt = mode, answer_on_attempt
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.received.append((data, addr))
            if self.mode == "silent" or len(self.received) < self.answer_on_attempt:
                continue
            req = packet.AuthPacket(packet=data, secret=SECRET, dict=radius_client.DICTIONARY)
            reply = req.CreateReply()
            reply.code = {"accept": packet.AccessAccept, "reject": packet.AccessReject,
                          "challenge": packet.AccessChallenge, "forge": packet.AccessAccept}[self.mode]
            if self.mode == "forge":
                reply.secret = b"not-the-secret"
            reply.add_message_authenticator()
            self.sock.sendto(reply.ReplyPacket(), addr)

    def close(self):
        self._stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def responders():
    made = []

    def make(host, mode, **kw):
        r = Responder(host, mode, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def authenticate(servers, port, timeout=0.3, retries=2, code="123456"):
    return asyncio.run(radius_client.authenticate(
        servers=servers, port=port, secret=SECRET, username="alice", mfa_code=code,
        source_ip="127.0.88.41", timeout=timeout, retries=retries, nas_identifier="d-1234567890"))


@pytest.mark.parametrize("mode", ["accept", "reject", "challenge"])
def test_the_reply_code_is_the_outcome(responders, mode):
    r = responders("127.0.88.20", mode)
    assert authenticate(["127.0.88.20"], r.port).outcome == mode


def test_request_carries_pap_password_and_message_authenticator_from_a_connect_ip(responders):
    r = responders("127.0.88.20", "accept")
    authenticate(["127.0.88.20"], r.port, code="654321")
    data, addr = r.received[0]
    assert addr[0] == "127.0.88.41"
    req = packet.AuthPacket(packet=data, secret=SECRET, dict=radius_client.DICTIONARY)
    assert req["User-Name"] == ["alice"]
    assert req.PwDecrypt(req["User-Password"][0]) == "654321"
    assert data[20] == 80, "Message-Authenticator comes first"
    assert req.verify_message_authenticator()


def test_retransmissions_are_the_same_packet(responders):
    r = responders("127.0.88.20", "accept", answer_on_attempt=3)
    result = authenticate(["127.0.88.20"], r.port, timeout=0.2, retries=2)
    assert result.outcome == "accept"
    assert len(r.received) == 3
    assert len({data for data, _ in r.received}) == 1, "same Identifier and Request Authenticator"


def test_silence_costs_timeout_times_attempts_then_fails(responders):
    r = responders("127.0.88.20", "silent")
    started = time.monotonic()
    result = authenticate(["127.0.88.20"], r.port, timeout=0.2, retries=2)
    elapsed = time.monotonic() - started
    assert result.outcome == "timeout" and len(r.received) == 3
    assert 0.55 <= elapsed < 2.0


def test_forged_replies_are_ignored(responders):
    r = responders("127.0.88.20", "forge")
    result = authenticate(["127.0.88.20"], r.port, timeout=0.2, retries=0)
    assert result.outcome == "timeout"
    assert result.attempts[0].outcome == "bad_authenticator"


def test_failover_to_the_second_server(responders):
    down = responders("127.0.88.21", "silent")
    up = responders("127.0.88.22", "accept", port=down.port)  # one RadiusPort for every server
    result = authenticate(["127.0.88.21", "127.0.88.22"], down.port, timeout=0.2, retries=1)
    assert result.outcome == "accept" and result.server == f"127.0.88.22:{down.port}"
    assert len(down.received) == 2 and len(up.received) == 1
