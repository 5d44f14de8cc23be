"""Signing in to the console: the IAM user of the lab (account id, user name, password), a session
cookie, and the guard every page goes through.

The session id is random (256 bits), lives in an HttpOnly, SameSite=Lax cookie and in this
process's memory only (a restart signs everyone out, as a lost console session does). A request
without a valid session never reaches a page: GETs are sent to the sign-in page, htmx requests get
`HX-Redirect` to it, and nothing is called on AWS.
"""
from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

COOKIE = "aws_console_session"
# AWS's sign-in page says the same for every wrong field, so as not to tell which one was wrong.
BAD_SIGN_IN = "Your authentication information is incorrect. Please try again."


@dataclass
class Session:
    account_id: str
    user_name: str
    expires: float


class SignedOut(Exception):
    """Raised by `Sessions.require`; the app turns it into the way to the sign-in page."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class Sessions:
    def __init__(self, *, account_id: str, user_name: str, password: str, minutes: float) -> None:
        self.account_id, self.user_name, self._password = account_id, user_name, password
        self.lifetime = minutes * 60
        self._live: dict[str, Session] = {}

    def check(self, account_id: str, user_name: str, password: str) -> bool:
        """All three compared in constant time, each of them (no early exit telling which was wrong)."""
        ok = hmac.compare_digest(account_id.strip().encode(), self.account_id.encode())
        ok &= hmac.compare_digest(user_name.strip().encode(), self.user_name.encode())
        ok &= hmac.compare_digest(password.encode(), self._password.encode())
        return bool(ok)

    def start(self, response: Response) -> Session:
        sid = secrets.token_urlsafe(32)
        session = Session(self.account_id, self.user_name, time.monotonic() + self.lifetime)
        self._live[sid] = session
        response.set_cookie(COOKIE, sid, httponly=True, samesite="lax", path="/")
        return session

    def end(self, request: Request, response: Response) -> None:
        self._live.pop(request.cookies.get(COOKIE, ""), None)
        response.delete_cookie(COOKIE, path="/")

    def current(self, request: Request) -> Session | None:
        session = self._live.get(request.cookies.get(COOKIE, ""))
        now = time.monotonic()
        if session is None or session.expires < now:
            return None
        session.expires = now + self.lifetime       # activity keeps a session alive
        return session

    def require(self, request: Request) -> Session:
        session = self.current(request)
        if session is None:
            raise SignedOut(request.url.path)
        return session

    def clear(self) -> None:
        self._live.clear()


def to_sign_in(request: Request, exc: SignedOut) -> Response:
    target = "/signin?next=" + quote(exc.path if exc.path.startswith("/") else "/", safe="/")
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def safe_next(path: str) -> str:
    """Where to go after signing in: a path of this site only (no `//host`, no scheme)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or "://" in path:
        return "/"
    return path
