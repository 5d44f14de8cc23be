"""The agent's HTTP client to the Okta org (the calls listed in docs/architecture.md, okta section).

Why a module of its own: the MFA logic should read as Okta's rules, not as HTTP plumbing. Every
call here takes a `timeout` (the time left in the request's budget), carries the SSWS token and a
trace header, and turns Okta's error bodies into `OrgError` with the errorCode kept, so callers
can tell "wrong code" (E0000068) from "replayed code" (E0000082) from "bad token" (E0000011).
The time spent waiting for the org is accumulated per call site (`okta_time`), for the log line.
"""
from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlparse

from services.common.http1 import Http1Client, HttpError, Response
from services.common.tls import describe_error


class OrgError(Exception):
    """The org answered with an error status."""

    def __init__(self, status: int, error_code: str | None, summary: str):
        super().__init__(f"HTTP {status} {error_code or ''} {summary}".strip())
        self.status = status
        self.error_code = error_code
        self.summary = summary


class OrgUnreachable(Exception):
    """No HTTP answer from the org (connection refused, reset, ...)."""


class OrgTimeout(Exception):
    """The org did not answer within the time left for this request."""


@dataclass
class Timer:
    """Time spent waiting for the org during one RADIUS request (Okta's `oktaTime`)."""
    seconds: float = 0.0
    calls: int = 0
    last_status: int | None = None


class OrgClient:
    def __init__(self, base_url: str, token: str, *, max_connections: int = 20,
                 local_address: str | None = None, verify: ssl.SSLContext | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        # Leave from the agent's own host address, so the org's logs see InstanceOkta, not 127.0.0.1;
        # `verify`: the lab CA, the only one trusted for the org (services/common/tls.py). Kept-alive
        # connections (ragent.num_max_http_connection of them) and a lean client: four calls per
        # passcode made httpx the agent's largest CPU cost (services/common/http1.py).
        self._http = Http1Client(
            self.base_url, max_connections=max_connections, local_address=local_address, ssl_context=verify,
            headers={"Authorization": f"SSWS {token}", "Accept": "application/json",
                     "User-Agent": "okta-radius-agent-lab/2.x"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the contract's endpoints ---------------------------------------------------------
    async def radius_apps(self, *, timeout: float = 10.0, trace: str | None = None) -> list[dict[str, Any]]:
        return await self._get_list("/api/v1/radius/apps", timeout=timeout, trace=trace)

    async def app_users(self, app_id: str, *, q: str | None = None, timeout: float, trace: str | None = None,
                        timer: Timer | None = None) -> list[dict[str, Any]]:
        """The app's users; `q` narrows the list server-side (Okta: prefix match on userName,
        names and email), so a big app is not listed in full on every sign-in. Callers still
        match exactly: q is only a filter. `expand=user` asks Okta to embed each user
        (`_embedded.user`, with its status), which saves a GET per sign-in where the org does it."""
        params: dict[str, Any] = {"limit": 500, "expand": "user"}     # Okta embeds the user: no second call
        if q:
            params["q"] = q
        return await self._get_list(f"/api/v1/apps/{app_id}/users", params=params,
                                    timeout=timeout, trace=trace, timer=timer)

    async def user(self, user_id: str, *, timeout: float, trace: str | None = None,
                   timer: Timer | None = None) -> dict[str, Any]:
        """A user by id, or by login / login prefix (the org's own lookup rules)."""
        return await self._json("GET", f"/api/v1/users/{quote(user_id, safe='@')}", timeout=timeout,
                                trace=trace, timer=timer)

    async def app_user(self, app_id: str, user_id: str, *, timeout: float, trace: str | None = None,
                       timer: Timer | None = None) -> dict[str, Any]:
        return await self._json("GET", f"/api/v1/apps/{app_id}/users/{quote(user_id, safe='')}",
                                timeout=timeout, trace=trace, timer=timer)

    async def user_groups(self, user_id: str, *, timeout: float, trace: str | None = None,
                          timer: Timer | None = None) -> list[dict[str, Any]]:
        return await self._get_list(f"/api/v1/users/{user_id}/groups", timeout=timeout, trace=trace, timer=timer)

    async def factors(self, user_id: str, *, timeout: float, trace: str | None = None,
                      timer: Timer | None = None) -> list[dict[str, Any]]:
        return await self._get_list(f"/api/v1/users/{user_id}/factors", timeout=timeout,
                                    trace=trace, timer=timer)

    async def verify(self, user_id: str, factor_id: str, body: dict[str, Any] | None, *, timeout: float,
                     trace: str | None = None, timer: Timer | None = None) -> dict[str, Any]:
        return await self._json("POST", f"/api/v1/users/{user_id}/factors/{factor_id}/verify",
                                json=body or {}, timeout=timeout, trace=trace, timer=timer)

    async def poll(self, href: str, *, timeout: float, trace: str | None = None,
                   timer: Timer | None = None) -> dict[str, Any]:
        """GET a transaction link. The org gives an absolute URL; only its path is used, so an org
        that advertises a public name still works when the agent reaches it by another address."""
        parsed = urlparse(href)
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        return await self._json("GET", path, timeout=timeout, trace=trace, timer=timer)

    async def cancel(self, href: str, *, timeout: float = 2.0, trace: str | None = None) -> None:
        """DELETE a push transaction (best effort: the request is over either way)."""
        parsed = urlparse(href)
        try:
            await self._send("DELETE", parsed.path, timeout=timeout, trace=trace, timer=None)
        except (OrgError, OrgTimeout, OrgUnreachable):
            pass

    async def authn(self, body: dict[str, Any], *, timeout: float, trace: str | None = None,
                    timer: Timer | None = None, path: str = "/api/v1/authn") -> dict[str, Any]:
        return await self._json("POST", path, json=body, timeout=timeout, trace=trace, timer=timer)

    # -- plumbing -----------------------------------------------------------------------------
    async def _get_list(self, path: str, *, timeout: float, trace: str | None = None,
                        timer: Timer | None = None, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """GET a collection, following Okta's `Link: <...>; rel="next"` pagination."""
        items: list[dict[str, Any]] = []
        url: str | None = path
        first = True
        while url:
            resp = await self._send("GET", url, params=params if first else None,
                                    timeout=timeout, trace=trace, timer=timer)
            first = False
            data = resp.json()
            if not isinstance(data, list):
                raise OrgError(resp.status_code, None, f"expected a list from {path}")
            items.extend(data)
            nxt = resp.links.get("next", {}).get("url")
            if nxt:
                parsed = urlparse(nxt)
                url = parsed.path + (f"?{parsed.query}" if parsed.query else "")
            else:
                url = None
        return items

    async def _json(self, method: str, path: str, *, timeout: float, trace: str | None = None,
                    timer: Timer | None = None, json: Any = None) -> dict[str, Any]:
        resp = await self._send(method, path, json=json, timeout=timeout, trace=trace, timer=timer)
        try:
            data = resp.json()
        except ValueError:
            raise OrgError(resp.status_code, None, "the org answered with a body that is not JSON") from None
        if not isinstance(data, dict):
            raise OrgError(resp.status_code, None, "expected a JSON object")
        return data

    async def _send(self, method: str, path: str, *, timeout: float, trace: str | None,
                    timer: Timer | None, json: Any = None, params: dict[str, Any] | None = None) -> Response:
        if timeout <= 0:
            raise OrgTimeout("no time left for a call to the org")
        headers = {"X-Lab-Trace": trace} if trace else None
        started = time.monotonic()
        try:
            resp = await self._http.request(method, path, json=json, params=params,
                                            headers=headers, timeout=timeout)
        except TimeoutError as exc:
            raise OrgTimeout(f"{method} {path}: no answer within {timeout:.1f} s") from exc
        except HttpError as exc:            # a certificate refused: in the real agent's words
            why = describe_error(exc) or f"{exc.__class__.__name__}: {exc}"
            raise OrgUnreachable(f"{method} {path}: {why}") from exc
        finally:
            if timer is not None:
                timer.seconds += time.monotonic() - started
                timer.calls += 1
        if timer is not None:
            timer.last_status = resp.status_code
        if resp.status_code >= 400:
            code, summary = None, resp.reason_phrase
            try:
                body = resp.json()
                if isinstance(body, dict):
                    code, summary = body.get("errorCode"), body.get("errorSummary", summary)
            except ValueError:
                pass
            raise OrgError(resp.status_code, code, str(summary))
        return resp
