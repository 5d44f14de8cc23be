"""In-process unit tests of the radius-agent's pieces that need no network: the RFC 5080 duplicate
cache, the settings, and the wire codec's known answers."""
from __future__ import annotations

import asyncio
import hashlib

import pytest
from pyrad import packet as rp

from services.radius_agent import radius
from services.radius_agent.dedup import DuplicateCache
from services.radius_agent.mfa import Policy
from tests.services.radius_agent.fakes import access_request


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def key(ident=1, auth=b"A" * 16, sport=5000):
    return (1812, "127.0.10.41", sport, ident, auth)


def test_dedup_in_flight_then_answered_then_expired():
    clock = FakeTime()
    cache = DuplicateCache(ttl=10, now=clock)
    assert cache.check(key())[0] == "new"
    assert cache.check(key())[0] == "in_flight"           # retransmission while a push is pending
    cache.finish(key(), b"reply")
    verdict, entry = cache.check(key())
    assert verdict == "answered" and entry.reply == b"reply"
    clock.t += 10.5
    assert cache.check(key())[0] == "new"                 # past the cache lifetime: a new request


def test_dedup_no_answer_is_remembered_too():
    cache = DuplicateCache(ttl=10, now=FakeTime())
    cache.check(key())
    cache.finish(key(), None)
    verdict, entry = cache.check(key())
    assert verdict == "answered" and entry.reply is None


def test_dedup_new_authenticator_on_the_same_identifier_purges_the_answered_entry():
    cache = DuplicateCache(ttl=10, now=FakeTime())
    cache.check(key(auth=b"A" * 16))
    cache.finish(key(auth=b"A" * 16), b"old")
    assert cache.check(key(auth=b"B" * 16))[0] == "new"
    assert len(cache) == 1


def test_dedup_keys_on_source_port():
    cache = DuplicateCache(ttl=10, now=FakeTime())
    assert cache.check(key(sport=5000))[0] == "new"
    assert cache.check(key(sport=5001))[0] == "new"


def test_dedup_is_bounded():
    cache = DuplicateCache(ttl=10, max_entries=50, now=FakeTime())
    for i in range(200):
        cache.check(key(ident=i % 256, auth=bytes([i]) * 16))
    assert len(cache) <= 50


def test_policy_reads_oktas_property_names():
    p = Policy.from_settings({"ragent.request.timeout.millisecond": 50000,
                              "ragent.request.timeout.response.mode": "send_reject_always"})
    assert (p.timeout, p.push_budget, p.response_mode) == (50.0, 25.0, "SEND_REJECT_ALWAYS")
    assert Policy.from_settings({"ragent.total.request.timeout.millisecond": 8000}).timeout == 8.0
    assert Policy.from_settings({}).push_budget == 30.0
    with pytest.raises(ValueError):
        Policy.from_settings({"ragent.request.timeout.response.mode": "SOMETIMES"})


def test_reply_known_answer():
    # Response Authenticator = MD5(Code+ID+Length+RequestAuth+Attributes+Secret) (RFC 2865 §3);
    # Message-Authenticator first and = HMAC-MD5 over the reply with the Request Authenticator.
    secret = b"s3cret"
    req = access_request(secret, "alice", "123456", proxy_states=(b"x", b"y"), ident=42,
                         authenticator=bytes(range(16)))
    raw = req.RequestPacket()
    parsed = radius.parse(raw, ("127.0.0.1", 1), 1812, secret, require_message_authenticator=True)
    assert parsed.password() == "123456" and parsed.user_name() == "alice"
    reply = radius.encode_reply(parsed, radius.ACCESS_REJECT)
    assert reply[0] == 3 and reply[1] == 42 and reply[20] == 80
    assert reply[4:20] == hashlib.md5(reply[:4] + bytes(range(16)) + reply[20:] + secret).digest()
    assert radius.verify_reply_message_authenticator(reply, bytes(range(16)), secret)
    decoded = rp.AuthPacket(packet=reply, secret=secret, dict=radius.dictionary())
    assert decoded[33] == [b"x", b"y"]


@pytest.mark.parametrize("length", [1, 15, 16, 17, 128])
def test_password_round_trip(length):
    secret = b"k"
    pw = "p" * length
    raw = access_request(secret, "u", pw).RequestPacket()
    assert radius.parse(raw, ("h", 1), 1, secret, require_message_authenticator=False).password() == pw


def test_discards_name_their_reason():
    secret = b"k"
    good = access_request(secret, "u", "123456").RequestPacket()
    with pytest.raises(radius.Discard, match="shorter"):
        radius.parse(good[:10], ("h", 1), 1, secret, require_message_authenticator=False)
    with pytest.raises(radius.Discard, match="exceeds"):
        radius.parse(good[:-1], ("h", 1), 1, secret, require_message_authenticator=False)
    with pytest.raises(radius.Discard, match="Message-Authenticator"):
        radius.parse(good, ("h", 1), 1, b"other", require_message_authenticator=False)
    with pytest.raises(radius.Discard, match="not served"):
        radius.parse(bytes([4]) + good[1:], ("h", 1), 1, secret, require_message_authenticator=False)


def test_endpoint_abandon_drops_what_waits_and_keeps_serving():
    """The admin reset's `abandon`: a request still waiting (a push nobody answers) is cancelled
    without its answer; the endpoint keeps taking datagrams."""
    async def scenario() -> tuple[int, list[str], list[str]]:
        finished: list[str] = []
        never = asyncio.Event()

        async def wait_forever(data: bytes) -> None:
            await never.wait()
            finished.append(data.decode())

        def handler(data, _addr, _port, _endpoint):
            return wait_forever(data)

        endpoint = radius.Endpoint(1812, handler)
        endpoint.datagram_received(b"first", ("127.0.0.1", 5000))
        await asyncio.sleep(0)
        dropped = endpoint.abandon()
        await asyncio.sleep(0)
        endpoint.datagram_received(b"second", ("127.0.0.1", 5001))
        await asyncio.sleep(0)
        never.set()
        await asyncio.sleep(0.01)
        return dropped, finished, [t.get_name() for t in endpoint.tasks]

    dropped, finished, left = asyncio.run(scenario())
    assert dropped == 1
    assert finished == ["second"], "the abandoned request never finishes; the next one does"
    assert left == []
