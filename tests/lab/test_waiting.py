"""`lab login --mfa push`'s waiting line: counted in place on a terminal, plain lines otherwise."""
import io
import threading

from lab.commands import waiting


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_counts_the_seconds_in_place():
    out, ticked = Terminal(), threading.Event()
    real_write = out.write

    def write(text: str) -> int:
        if text.startswith("\r") and "done" not in text:
            ticked.set()
        return real_write(text)

    out.write = write   # type: ignore[method-assign]
    with waiting.for_phone("alice", out):
        assert ticked.wait(30), "the count moves on while the sign-in waits"
    text = out.getvalue()
    assert text.startswith("waiting for alice's phone: approve the push in Okta Verify")
    assert "… 0 s" in text and "\r" in text and text.count("\n") == 1
    assert text.splitlines()[-1].split("\r")[-1].endswith(" s, done")


def test_otherwise_plain_lines():
    out = io.StringIO()
    with waiting.for_phone("bob", out):
        pass
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("waiting for bob's phone") and lines[-1].startswith("done waiting after")
    assert "\r" not in out.getvalue()
