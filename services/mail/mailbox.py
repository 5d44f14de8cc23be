"""The mailbox's state: every message received, one JSON file each under `<state>/mail/messages/`,
so the messages survive a restart (a trainee may restart the lab between "Activate" and opening
the email). Messages are parsed once, on arrival, into what a mail client shows: envelope, the
main headers, the text and HTML parts."""
from __future__ import annotations

import email
import email.policy
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any


def _parts(msg: email.message.EmailMessage) -> tuple[str, str]:
    """(text, html) bodies of a message, empty when absent."""
    text = html = ""
    for part in msg.walk() if msg.is_multipart() else [msg]:
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        try:
            content = part.get_content()
        except (LookupError, ValueError):
            payload = part.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if not isinstance(content, str):
            continue
        if ctype == "text/plain" and not text:
            text = content
        elif ctype == "text/html" and not html:
            html = content
    return text, html


def _header(msg: email.message.EmailMessage, name: str) -> str:
    """A header as text. The stdlib's parser can fail on a hostile value (`From: x@` raises
    IndexError in Python 3.11): then the raw value, so the message is still stored."""
    try:
        return str(msg.get(name, ""))
    except Exception:  # noqa: BLE001 - its failures on malformed headers are not a closed set
        raw = next((str(v) for k, v in msg.raw_items() if k.lower() == name.lower()), "")
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class Mailbox:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)   # activation links: private
        self._lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                self.messages.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue          # a half-written file from a crash is not a message
        self.messages.sort(key=lambda m: m["seq"])

    def add(self, *, mail_from: str, rcpt_to: list[str], data: bytes, received: str,
            peer: str | None) -> dict[str, Any]:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        text, html = _parts(msg)
        with self._lock:
            seq = (self.messages[-1]["seq"] + 1) if self.messages else 1
            doc = {
                "id": uuid.uuid4().hex[:16], "seq": seq, "received": received, "peer": peer,
                "envelope": {"from": mail_from, "to": rcpt_to},
                "from": _header(msg, "From"), "to": _header(msg, "To"),
                "subject": _header(msg, "Subject"), "date": _header(msg, "Date"),
                "messageId": _header(msg, "Message-ID"),
                "size": len(data), "text": text, "html": html,
            }
            path = self.dir / f"{seq:08d}-{doc['id']}.json"
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(doc))
            os.replace(tmp, path)
            self.messages.append(doc)
        return doc

    def find(self, to: str | None = None) -> list[dict[str, Any]]:
        """Messages for `to`: a full address, or the part before the @ (`alice`)."""
        if not to:
            return list(self.messages)
        wanted = to.lower()

        def hit(m: dict[str, Any]) -> bool:
            addrs = [a.lower() for a in m["envelope"]["to"]]
            return any(a == wanted or a.split("@")[0] == wanted for a in addrs) or wanted in m["to"].lower()
        return [m for m in self.messages if hit(m)]

    def get(self, mid: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["id"] == mid), None)

    def clear(self) -> int:
        with self._lock:
            n = len(self.messages)
            for path in self.dir.glob("*.json"):
                path.unlink(missing_ok=True)
            self.messages.clear()
        return n
