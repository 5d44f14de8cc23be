"""The agent's view of the org's RADIUS apps, refreshed without restart, and one UDP port per app.

Okta: app-side changes "do NOT require an agent restart. However, the agent may take a few minutes
before it retrieves the updated configuration" (docs/radius.md). The lab re-reads
GET /api/v1/radius/apps every `app_refresh_seconds` (default 30) so a scenario can flip
requireMessageAuthenticator or primaryAuth and watch the agent pick it up.

Each app owns a UDP port. The topology's `radius` port is bound by the runner before the service
starts (so a port in use fails the start cleanly); the ports of other apps are bound here when
they appear and closed when their app goes away. The last good app list is kept when the org is
unreachable, so Status-Server and dedup keep working while the org is down.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

from .model import App
from .org import OrgClient, OrgError, OrgTimeout, OrgUnreachable
from .radius import Endpoint, Handler

log = logging.getLogger("lab.radius-agent.apps")


class AppRegistry:
    def __init__(self, org: OrgClient, refresh_seconds: float, record: Callable[..., Any]) -> None:
        self.org = org
        self.refresh_seconds = refresh_seconds
        self.record = record
        self.by_port: dict[int, App] = {}
        self.fetched_once = False
        self.unauthorized: str | None = None      # set while the org answers 401 (DISRUPTED)
        self.last_error: str | None = None
        self.on_change: Callable[[dict[int, App]], Any] | None = None
        self._wake = asyncio.Event()
        self._poked = False

    def app_for_port(self, port: int) -> App | None:
        return self.by_port.get(port)

    def mark_unauthorized(self, detail: str) -> None:
        """Called when any org call answers 401, so /healthz says DISRUPTED at once."""
        if self.unauthorized is None:
            log.error("the org refuses the agent's API token: %s; agent DISRUPTED", detail)
            self.record("radius.agent_status", outcome="disrupted", reason=detail)
        self.unauthorized = detail

    async def refresh(self) -> bool:
        try:
            rows = await self.org.radius_apps(timeout=10.0)
            apps = [App.from_org(r) for r in rows]
        except OrgError as exc:
            self.last_error = f"GET /api/v1/radius/apps: {exc}"
            if exc.status == 401:
                self.mark_unauthorized(f"{exc.error_code} {exc.summary}")
            log.warning("cannot read the RADIUS apps: %s", self.last_error)
            return False
        except (OrgUnreachable, OrgTimeout) as exc:
            self.last_error = f"GET /api/v1/radius/apps: {exc}"
            log.warning("cannot read the RADIUS apps: %s", self.last_error)
            return False
        except (KeyError, TypeError, ValueError) as exc:
            self.last_error = f"GET /api/v1/radius/apps: unexpected shape ({exc!r})"
            log.warning("%s", self.last_error)
            return False
        if self.unauthorized is not None:
            self.record("radius.agent_status", outcome="active", reason="the org accepts the API token again")
        self.unauthorized = None
        self.last_error = None
        by_port: dict[int, App] = {}
        for app in apps:
            if app.port in by_port:
                log.warning("apps %s and %s share port %s; serving %s", by_port[app.port].label,
                            app.label, app.port, by_port[app.port].label)
                continue
            by_port[app.port] = app
        changed = {p: _fingerprint(a) for p, a in by_port.items()} != \
            {p: _fingerprint(a) for p, a in self.by_port.items()}
        self.by_port = by_port
        poked, self._poked = self._poked, False
        # Recorded on a change, and after a poke even without one: whoever poked (a scenario
        # changing the app) can then see that the agent has read the org's current settings.
        if not self.fetched_once or changed or poked:
            log.info("RADIUS apps: %s", ", ".join(
                f"{a.label} (port {p}, primaryAuth={a.primary_auth}, "
                f"requireMessageAuthenticator={a.require_message_authenticator})"
                for p, a in sorted(by_port.items())) or "none")
            self.record("radius.apps", outcome="loaded" if changed or not self.fetched_once else "unchanged",
                        apps=[{"id": a.id, "label": a.label, "port": a.port,
                               "primary_auth": a.primary_auth,
                               "require_message_authenticator": a.require_message_authenticator}
                              for a in by_port.values()])
        self.fetched_once = True
        if self.on_change is not None:
            self.on_change(by_port)
        return True

    def poke(self) -> None:
        """Refresh now (used by the admin reset)."""
        self._poked = True
        self._wake.set()

    async def run(self) -> None:
        """Refresh forever: until the first success after 0.2 s, then 0.4, 0.8, then every second
        (the agent is healthy, and `lab up` done waiting, as soon as the org answers), then every
        refresh_seconds."""
        tries = 0
        while True:
            await self.refresh()
            tries += 1
            delay = self.refresh_seconds if self.fetched_once else min(1.0, 0.1 * 2 ** tries)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass


def _fingerprint(app: App) -> tuple[Any, ...]:
    """What makes an app "changed" for the log (the secret is compared, never logged)."""
    return (app.id, app.secret, app.primary_auth, app.require_message_authenticator, app.inline_enrollment,
            repr(app.username_template), repr(app.group_return))


class Listeners:
    """The UDP endpoints: the topology's port (bound up front) plus one per extra app port."""

    def __init__(self, host: str, main_port: int, main_sock: socket.socket, handler: Handler,
                 record: Callable[..., Any]) -> None:
        self.host = host
        self.main_port = main_port
        self._main_sock: socket.socket | None = main_sock
        self.handler = handler
        self.record = record
        self.endpoints: dict[int, Endpoint] = {}
        self._opening: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._main_sock is not None
        endpoint = Endpoint(self.main_port, self.handler)
        await loop.create_datagram_endpoint(lambda: endpoint, sock=self._main_sock)
        self._main_sock = None
        self.endpoints[self.main_port] = endpoint

    def sync(self, by_port: dict[int, Any]) -> None:
        """Open ports for new apps, close ports whose app went away (never the main port)."""
        loop = asyncio.get_running_loop()
        for port in sorted(set(by_port) - set(self.endpoints)):
            opening = loop.create_task(self._open(port))
            self._opening.add(opening)          # kept until done, so the task is not collected
            opening.add_done_callback(self._opening.discard)
        for port in sorted(set(self.endpoints) - set(by_port) - {self.main_port}):
            self.endpoints.pop(port).close()
            log.info("closed RADIUS port %s:%s (its app is gone)", self.host, port)
            self.record("radius.listener", outcome="closed", port=port)

    async def _open(self, port: int) -> None:
        if port in self.endpoints:
            return
        endpoint = Endpoint(port, self.handler)
        self.endpoints[port] = endpoint
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, port))
            sock.setblocking(False)
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: endpoint, sock=sock)
        except OSError as exc:
            sock.close()
            del self.endpoints[port]
            log.error("cannot listen on %s:%s/udp for a RADIUS app: %s", self.host, port, exc.strerror or exc)
            # Okta's own event name for this: app.radius.agent.listener.failed
            self.record("radius.listener", outcome="failed", port=port, reason=str(exc.strerror or exc))
            return
        log.info("listening for a RADIUS app on %s:%s/udp", self.host, port)
        self.record("radius.listener", outcome="succeeded", port=port)

    def abandon(self) -> int:
        """Drop every request in progress on every port (Endpoint.abandon)."""
        return sum(endpoint.abandon() for endpoint in self.endpoints.values())

    def close(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.close()
        self.endpoints.clear()
