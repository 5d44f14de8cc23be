"""End-user browser sessions: what the org's cookie stands for. One record per browser (kind
"web_sessions" in the org's store, so a restart keeps people signed in and `reset` signs everyone
out): the authentication transaction in progress (its stateToken never leaves the server) and,
once the transaction reached SUCCESS, the signed-in user.

The cookie (`sid`) is HttpOnly and SameSite=Lax: pages read it, scripts cannot, and other sites
cannot send it with a form (SameSite) while a link from the mailbox still arrives signed in. The
id is replaced when the person signs in, so an id planted before sign-in is worth nothing.
Okta's default session lifetime, 2 hours idle, applies."""
from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request, Response

from ..org import Org

COOKIE = "sid"
KIND = "web_sessions"
IDLE_SECONDS = 2 * 3600


class Sessions:
    def __init__(self, org: Org) -> None:
        self.org = org

    def of(self, request: Request) -> dict[str, Any] | None:
        sid = request.cookies.get(COOKIE, "")
        if len(sid) != 43:
            return None
        s = self.org.store.get(KIND, sid)
        if s is None or self.org.now() >= s["expiresTs"]:
            return None
        return s

    def save(self, session: dict[str, Any]) -> dict[str, Any]:
        session["expiresTs"] = self.org.now() + IDLE_SECONDS
        return self.org.store.put(KIND, session["id"], session)

    def ensure(self, request: Request, response: Response) -> dict[str, Any]:
        """This browser's session, made (and its cookie set on `response`) when it has none."""
        s = self.of(request)
        if s is None:
            s = self.save({"id": secrets.token_urlsafe(32), "userId": None, "stateToken": None})
            self.set_cookie(response, s)
        return s

    def set_cookie(self, response: Response, session: dict[str, Any]) -> None:
        response.set_cookie(COOKIE, session["id"], httponly=True, samesite="lax", path="/")

    def signed_in(self, session: dict[str, Any], user_id: str, response: Response) -> dict[str, Any]:
        """The transaction reached SUCCESS: a fresh id for the signed-in session."""
        self.org.store.delete(KIND, session["id"])
        fresh = self.save({"id": secrets.token_urlsafe(32), "userId": user_id, "stateToken": None,
                           "signedIn": self.org.iso()})
        self.set_cookie(response, fresh)
        return fresh

    def end(self, request: Request, response: Response) -> None:
        s = self.of(request)
        if s is not None:
            self.org.store.delete(KIND, s["id"])
        response.delete_cookie(COOKIE, path="/")

    def user(self, request: Request) -> dict[str, Any] | None:
        """The signed-in user of this browser, if any (and still allowed to sign in)."""
        s = self.of(request)
        if s is None or not s.get("userId"):
            return None
        u = self.org.people.user(s["userId"])
        if u is None or u["status"] in ("SUSPENDED", "DEPROVISIONED", "LOCKED_OUT"):
            return None
        self.save(s)              # sliding idle timeout
        return u
