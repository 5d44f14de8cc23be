"""Mutation of valid protocol messages for the over-the-wire fuzz tests (seeded, so a failure
repeats). The RADIUS agent's fuzz tests use hypothesis instead; the KDC's flip bits in place."""
from __future__ import annotations

import random


def mutate(data: bytes, rnd: random.Random) -> bytes:
    """One random mutation of the kinds that break hand-written decoders."""
    buf = bytearray(data)
    kind = rnd.randrange(6)
    if kind == 0:                                   # flip a few bytes
        for _ in range(rnd.randint(1, 3)):
            buf[rnd.randrange(len(buf))] ^= 1 << rnd.randrange(8)
    elif kind == 1:                                 # a byte set to a boundary value
        buf[rnd.randrange(len(buf))] = rnd.choice([0x00, 0x01, 0x7F, 0x80, 0x81, 0x84, 0xFF])
    elif kind == 2:                                 # cut the tail
        del buf[rnd.randrange(1, len(buf)):]
    elif kind == 3:                                 # random bytes inserted
        at = rnd.randrange(len(buf))
        buf[at:at] = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 8)))
    elif kind == 4:                                 # a slice repeated (nested lengths disagree)
        a = rnd.randrange(len(buf))
        b = min(len(buf), a + rnd.randint(1, 16))
        buf[b:b] = buf[a:b]
    else:                                           # a slice removed
        a = rnd.randrange(len(buf))
        del buf[a:a + rnd.randint(1, 6)]
    return bytes(buf) or b"\x30"


class LogWatch:
    """What a service's log gains from now on: a traceback there is a parser bug, even when the
    service answered and kept serving (each one cost somebody a connection)."""

    def __init__(self, log) -> None:
        self.log, self.start = log, log.stat().st_size

    def tracebacks(self) -> list[str]:
        text = self.log.read_bytes()[self.start:].decode(errors="replace")
        return ["Traceback" + block[:1500] for block in text.split("Traceback")[1:]]
