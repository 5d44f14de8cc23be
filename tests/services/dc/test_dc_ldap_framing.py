"""The LDAP server's framing (ber.MessageReader): a connection's bytes cut into whole LDAPMessages,
however they arrive (several in one read, one across many, long-form lengths), bad bytes and
messages over MaxReceiveBuffer refused from their header alone, EOF and silence reported, and
StartTLS's discard of what was buffered."""
import asyncio

import pytest

from services.dc import ber


def message(body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([0x30, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x30, 0x80 | len(size)]) + size + body


BIND = message(b"\x02\x01\x01" + b"\x60\x07\x02\x01\x03\x04\x00\x80\x00")
BIG = message(b"\x02\x01\x02" + b"\x04\x82\x01\x2c" + b"x" * 300)     # a long-form length


def read_all(chunks: list[bytes], count: int, max_size: int = ber.MAX_MESSAGE, eof: bool = True):
    async def main():
        reader = asyncio.StreamReader()
        frames = ber.MessageReader(reader, idle=5, max_size=max_size)

        async def feed():
            for c in chunks:
                reader.feed_data(c)
                await asyncio.sleep(0)
            if eof:
                reader.feed_eof()
        feeding = asyncio.create_task(feed())
        try:
            return [await frames.next() for _ in range(count)]
        finally:
            await feeding
    return asyncio.run(main())


def test_several_messages_in_one_read_and_one_message_across_many():
    assert read_all([BIND + BIG + BIND], 3) == [BIND, BIG, BIND]
    assert read_all([bytes([b]) for b in BIG + BIND], 2) == [BIG, BIND]


def test_bytes_that_are_not_ldap_are_refused_at_once():
    with pytest.raises(ber.FrameError, match="not an LDAPMessage"):
        read_all([b"\x04\x03abc"], 1)
    with pytest.raises(ber.FrameError, match="indefinite"):
        read_all([b"\x30\x80\x02\x01\x01"], 1)


def test_a_message_over_max_receive_buffer_is_refused_from_its_header():
    header = b"\x30\x84" + (1001).to_bytes(4, "big")
    with pytest.raises(ber.TooLarge, match="MaxReceiveBuffer"):
        read_all([header], 1, max_size=1000, eof=False)   # no body sent: the header decides


def test_eof_in_the_middle_of_a_message():
    with pytest.raises(asyncio.IncompleteReadError):
        read_all([BIND[:5]], 1)
    assert read_all([BIND], 1) == [BIND]
    with pytest.raises(asyncio.IncompleteReadError):
        read_all([BIND], 2)


def test_a_silent_connection_times_out():
    async def main():
        frames = ber.MessageReader(asyncio.StreamReader(), idle=0.05)
        await frames.next()
    with pytest.raises(TimeoutError):
        asyncio.run(main())


def test_discard_drops_what_is_buffered():
    async def main():
        reader = asyncio.StreamReader()
        frames = ber.MessageReader(reader, idle=5)
        reader.feed_data(BIND + b"\x30\x05plain")          # a request, then bytes sent in the clear
        assert await frames.next() == BIND
        assert frames.discard() == 7
        reader.feed_data(BIG)
        return await frames.next()
    assert asyncio.run(main()) == BIG
