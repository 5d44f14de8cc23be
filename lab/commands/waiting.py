"""Saying that `lab login --mfa push` waits for the phone, and for how long: on a terminal one line
that counts the seconds in place; otherwise (a pipe, a log) a plain line now and one every
`PLAIN_EVERY` seconds, so a script's output stays readable."""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

PLAIN_EVERY = 10


@contextlib.contextmanager
def for_phone(user: str, out: TextIO | None = None) -> Iterator[None]:
    stream = out or sys.stdout
    tty = stream.isatty()
    what = f"waiting for {user}'s phone: approve the push in Okta Verify (`lab open {user}`)"
    started, done = time.monotonic(), threading.Event()

    def count() -> None:
        last_plain = 0
        while not done.wait(1.0 if tty else 0.5):
            seconds = int(time.monotonic() - started)
            if tty:
                stream.write(f"\r{what} … {seconds} s")
                stream.flush()
            elif seconds // PLAIN_EVERY > last_plain:
                last_plain = seconds // PLAIN_EVERY
                print(f"still waiting for {user}'s phone ({seconds} s)", file=stream, flush=True)

    if tty:
        stream.write(f"{what} … 0 s")
    else:
        print(what, file=stream)
    stream.flush()
    thread = threading.Thread(target=count, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        elapsed = time.monotonic() - started
        if tty:
            stream.write(f"\r{what} … {elapsed:.0f} s, done\n")
        else:       # done, whatever the answer: approved, denied, or no answer in time
            print(f"done waiting after {elapsed:.0f} s", file=stream)
        stream.flush()
