"""Who may use the dashboard: a session, given for the lab's admin credential.

Two ways in, both ending in an HttpOnly, SameSite=Strict session cookie: the one-time link `lab
open dashboard` prints (a ticket in `<state>/dashboard/ticket.json`, mode 0600, good once for ten
minutes), or the sign-in form with the lab's admin token (`admin_token` in `credentials.json`).
Every POST carries the session's CSRF token (a form field or the `X-CSRF-Token` header). Sessions
live in the dashboard's memory only: a restarted dashboard asks again.
"""
from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

COOKIE = "lab_dashboard"
SESSION_SECONDS = 12 * 3600          # a training day
MAX_SESSIONS = 200


@dataclass
class Session:
    csrf: str
    expires: float


class Sessions:
    def __init__(self, state_dir: Path, admin_tokens: list[str]) -> None:
        self.state_dir = state_dir
        self.admin_tokens = [t for t in admin_tokens if t]
        self._sessions: dict[str, Session] = {}

    def _new(self) -> str:
        now = time.time()
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.pop(next(iter(self._sessions)))
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = Session(csrf=secrets.token_urlsafe(24), expires=now + SESSION_SECONDS)
        return sid

    def get(self, sid: str | None) -> Session | None:
        session = self._sessions.get(sid or "")
        if session is None or session.expires < time.time():
            return None
        return session

    def end(self, sid: str | None) -> None:
        self._sessions.pop(sid or "", None)

    def with_ticket(self, ticket: str) -> str | None:
        """A new session for the one-time ticket, which is used up; None when it is not the one."""
        path = self.state_dir / "dashboard" / "ticket.json"
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not (isinstance(saved, dict) and isinstance(saved.get("ticket"), str)):
            return None
        if not hmac.compare_digest(saved["ticket"].encode(), ticket.encode()):
            return None
        path.unlink(missing_ok=True)
        if float(saved.get("expires", 0)) < time.time():
            return None
        return self._new()

    def with_token(self, token: str) -> str | None:
        """A new session for the admin token (a class dashboard: the class directory's own, not a
        trainee's)."""
        if token and any(hmac.compare_digest(token.encode(), t.encode()) for t in self.admin_tokens):
            return self._new()
        return None

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())
