"""Hostile HTTP bodies stopped before any handler parses them: too large (413) or JSON nested too
deep (400, where Python's json would raise RecursionError and the handler would answer 500).

`BodyGuard` is an ASGI middleware every HTTP app of the lab installs (each service's app and the
admin app): `app.add_middleware(BodyGuard, limit=..., errors=...)`. It reads the whole body (at
most `limit` bytes: a longer Content-Length is refused unread, a longer chunked body as soon as it
passes the limit), checks the nesting of anything that looks like JSON, and hands the body on
unchanged. `errors(status, message, scope)` renders the refusal in the API's own error shape;
the default is FastAPI's `{"detail": message}`.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_LIMIT = 1 << 20      # 1 MiB: the largest legitimate body in the lab is a few KB
MAX_DEPTH = 64               # far more than any API here nests; far less than Python's recursion limit

# status, message, scope -> (body, extra headers)
ErrorShape = Callable[[int, str, Scope], tuple[dict[str, Any], dict[str, str]]]

_OPEN, _CLOSE = b"[{", b"]}"
# Every byte but quotes, backslashes and brackets, for bytes.translate to delete at C speed.
_IRRELEVANT = bytes(b for b in range(256) if b not in b'"\\[]{}')


def default_errors(_status: int, message: str, _scope: Scope) -> tuple[dict[str, Any], dict[str, str]]:
    return {"detail": message}, {}


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON `body` nests arrays/objects deeper than `limit` (brackets inside strings do
    not count). Cheap when the body has few brackets, which is every legitimate body."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    deepest = 0
    in_string = escaped = False
    for byte in body.translate(None, _IRRELEVANT):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:          # backslash
                escaped = True
            elif byte == 0x22:          # closing quote
                in_string = False
            continue
        if byte == 0x22:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return True
        elif byte in _CLOSE:
            depth -= 1
    return False


def _looks_like_json(body: bytes) -> bool:
    head = body[:64].lstrip()
    return head[:1] in (b"[", b"{")


class BodyGuard:
    def __init__(self, app: ASGIApp, limit: int = DEFAULT_LIMIT, errors: ErrorShape = default_errors,
                 max_depth: int = MAX_DEPTH) -> None:
        self.app, self.limit, self.errors, self.max_depth = app, limit, errors, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(413, f"The request body exceeds {self.limit} bytes.", scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":     # the client went away: nothing to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(413, f"The request body exceeds {self.limit} bytes.", scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and _looks_like_json(body) and too_deep(body, self.max_depth):
            await self._refuse(400, f"The request body nests deeper than {self.max_depth} levels.", scope, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, status: int, message: str, scope: Scope, send: Send) -> None:
        body, headers = self.errors(status, message, scope)
        payload = json.dumps(body).encode()
        content_type = headers.pop("content-type", "application/json")
        raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode()),
               (b"connection", b"close")]
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
