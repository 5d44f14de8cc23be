"""Property-based fuzzing (hypothesis) of what the agent does with bytes from the network and with
passwords, in-process so thousands of cases run in seconds. The end-to-end malformed-packet test
(a real agent process, test_radius_agent_unit.py) stays; this one searches much wider.

Properties: `radius.parse` either returns a request or raises `Discard` (never anything else: one
packet must not take the agent down; pyrad once looped forever on a zero-length VSA, pyrad#234); a
valid request's reply always has Message-Authenticator first and verifies; `primary.split` never
loses characters; a challenge State is single-use."""
from __future__ import annotations

import struct

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from services.radius_agent import radius  # noqa: E402
from services.radius_agent.challenge import ChallengeStore, Pending  # noqa: E402
from services.radius_agent.primary import split  # noqa: E402
from tests.services.radius_agent.fakes import access_request  # noqa: E402

SECRET = b"fuzz-secret"
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(data: bytes, require_ma: bool = False):
    return radius.parse(data, ("127.0.0.1", 1), 1812, SECRET, require_message_authenticator=require_ma)


# issue 16's packets, kept as seeds: an attribute running past the end (pyrad accepted it),
# Length below 2, a lone octet after the last attribute, Length fields below 20 and beyond the datagram
_HEAD = b"\x01\x07" + b"\x00\x00" + bytes(16)
_SEEDS = [
    _HEAD[:2] + struct.pack("!H", 32) + _HEAD[4:] + b"\x01\x05ab" + b"\x12\x28abcdefg",
    _HEAD[:2] + struct.pack("!H", 24) + _HEAD[4:] + b"\x01\x01ab",
    _HEAD[:2] + struct.pack("!H", 26) + _HEAD[4:] + b"\x01\x05abc\x12",
    _HEAD[:2] + struct.pack("!H", 19) + _HEAD[4:],
    _HEAD[:2] + struct.pack("!H", 40) + _HEAD[4:] + b"\x01\x05abc",
]


@pytest.mark.parametrize("data", _SEEDS)
def test_issue_16_broken_lengths_are_discarded(data):
    with pytest.raises(radius.Discard):
        parse(data)


@FAST
@given(st.binary(max_size=300))
@example(_SEEDS[0])
@example(_SEEDS[1])
@example(_SEEDS[2])
def test_random_datagrams_are_parsed_or_discarded(data):
    try:
        parse(data)
    except radius.Discard:
        pass


attribute = st.tuples(st.integers(0, 255), st.binary(max_size=40)).map(
    lambda t: bytes([t[0], len(t[1]) + 2]) + t[1])
vsa = st.tuples(st.sampled_from([0, 9, 311, 2**32 - 1]), st.integers(0, 255), st.integers(0, 8),
                st.binary(max_size=12)).map(
    lambda t: (lambda body: bytes([26, len(body) + 2]) + body)(struct.pack("!LBB", t[0], t[1], t[2]) + t[3]))
bad_length = st.tuples(st.integers(0, 255), st.sampled_from([0, 1, 2, 255])).map(lambda t: bytes(t))


@FAST
@given(code=st.sampled_from([1, 12]), ident=st.integers(0, 255), auth=st.binary(min_size=16, max_size=16),
       attrs=st.lists(st.one_of(attribute, vsa, bad_length), max_size=8))
def test_structured_junk_is_parsed_or_discarded_and_parsed_requests_can_be_answered(code, ident, auth, attrs):
    body = b"".join(attrs)
    data = struct.pack("!BBH", code, ident, 20 + len(body)) + auth + body
    try:
        req = parse(data)
    except radius.Discard:
        return
    # what parsed has attributes that tile the packet exactly (RFC 2865 §5)
    pos = 20
    while pos < len(data):
        assert data[pos + 1] >= 2 and pos + data[pos + 1] <= len(data)
        pos += data[pos + 1]
    # whatever decoded must be answerable without an exception, with M-A first
    try:
        req.password()
    except ValueError:
        pass
    req.user_name()
    req.state()
    reply = radius.encode_reply(req, radius.ACCESS_REJECT)
    assert reply[20] == radius.ATTR_MESSAGE_AUTHENTICATOR
    assert radius.verify_reply_message_authenticator(reply, auth, SECRET)


@FAST
@given(user=st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode()) <= 200),
       # RFC 2865 pads User-Password with NULs, so a trailing NUL cannot survive: not generated
       password=st.text(min_size=1, max_size=40).filter(lambda s: 0 < len(s.encode()) <= 128
                                                         and not s.endswith("\x00")),
       state=st.binary(min_size=1, max_size=64), flip=st.integers(20, 400))
def test_valid_requests_round_trip_and_any_flipped_byte_is_handled(user, password, state, flip):
    pkt = access_request(SECRET, user, password)
    pkt.AddAttribute("State", state)
    pkt.add_message_authenticator()
    raw = pkt.RequestPacket()
    req = parse(raw, require_ma=True)
    assert (req.user_name(), req.password(), req.state()) == (user, password, state)
    reply = radius.encode_reply(req, radius.ACCESS_CHALLENGE,
                                [(radius.ATTR_STATE, b"s"), *radius.reply_message("x" * 300)])
    assert reply[20] == radius.ATTR_MESSAGE_AUTHENTICATOR
    mutated = bytearray(raw)
    mutated[flip % len(raw)] ^= 0x5A
    try:
        parse(bytes(mutated), require_ma=True)
    except radius.Discard:
        pass


@FAST
@given(st.text(max_size=60))
def test_split_keeps_every_character(password):
    first, second = split(password)
    if not second:
        assert first == password
    else:
        assert password.startswith(first + ",") and password[len(first) + 1:].strip() == second


def test_split_examples():
    assert split("Pass,word,123456") == ("Pass,word", "123456")
    assert split("Pass,1") == ("Pass,1", "")
    assert split("Pass,PUSH") == ("Pass", "PUSH")
    assert split("Pass") == ("Pass", "")


@FAST
@given(st.lists(st.sampled_from(["issue", "take", "take-twice", "tick"]), max_size=20))
def test_challenge_states_are_single_use_and_expire(ops):
    now = [0.0]
    store = ChallengeStore(ttl=5, now=lambda: now[0])
    issued: list[bytes] = []
    for op in ops:
        if op == "issue":
            issued.append(store.issue(Pending("app", "u", "uid", "u@x", "st", "select")))
        elif op == "tick":
            now[0] += 3
        elif issued:
            state = issued.pop(0)
            got, _ = store.take(state)
            if op == "take-twice":
                assert store.take(state)[0] is None
            assert got is None or now[0] < got.expires
