"""TLS for the lab's services: a server's context from the certificate the lab issued it, the
HTTPS listener of an HTTP app, and a client's trust in the lab CA.

The lab's control plane (its CA) writes each TLS-serving service a certificate and key and puts
their paths in the service's topology entry (`"tls": {"cert": ..., "key": ...}`); a service never
makes its own nor holds the CA's key. Without them (a topology written without certificates) the
service offers no TLS, as a server with no certificate installed.

TLS inspection: a service the lab may put an inspecting proxy in front of (the Okta org) also has
`"tls_inspection"`, a certificate for the same names from a CA no client trusts. While an
`intercept_tls` fault is on, new handshakes get that certificate, as a proxy that terminates TLS
would present its own; connections made before are closed when they are next idle, since a
proxy put in the path breaks the flows it did not see start.

Clients (the RADIUS and AD agents) call the org over HTTPS when the topology names the CA
(`"ca": {"cert": ...}`) and the org has an `https` port, and verify it against that CA only. The
org advertises that HTTPS URL (`https_url`) in everything it builds links from, so the phone,
which is handed those links, trusts the lab CA too (`lab_trust`): the lab CA stands in for the
public CAs a real phone trusts, and nothing else is trusted.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
import struct
from collections.abc import Iterator
from typing import Any

import uvicorn

from .runner import bind_tcp

# The error the real agent (a Java program) logs when the certificate it is shown does not chain to
# a CA it trusts: the JDK's wording for this failure. Which exception text the agent's log line
# carries is not published; the lab shows the JDK's, the message administrators search for.
PKIX_FAILURE = ("javax.net.ssl.SSLHandshakeException: PKIX path building failed: "
                "sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid "
                "certification path to requested target")
INTERCEPT = "intercept_tls"         # the fault action (services/common/faults.py)


def server_context(entry: dict[str, Any], log: logging.Logger, what: str,
                   key: str = "tls") -> ssl.SSLContext | None:
    """The context for `what` (e.g. "LDAP StartTLS and LDAPS"), or None with a warning saying why."""
    paths = entry.get(key) or {}
    if not (paths.get("cert") and paths.get("key")):
        log.warning("no certificate in the topology: %s is off", what)
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(paths["cert"], paths["key"])
    except (OSError, ssl.SSLError) as exc:
        log.warning("cannot load the certificate %s: %s is off (%s)", paths["cert"], what, exc)
        return None
    return context


# -- clients ----------------------------------------------------------------------------------------

def peer_https(ctx: Any, peer: str) -> tuple[str, ssl.SSLContext | None]:
    """(URL, context) for calling `peer`: HTTPS verified against the lab CA when the topology has
    both (the CA and the peer's `https` port with its certificate), else its plain `api` URL and
    None (a topology without certificates: the docker demo lab)."""
    ca = (ctx.topology.get("ca") or {}).get("cert")
    svc = ctx.peer(peer)
    if not (ca and svc.get("tls") and "https" in svc.get("ports", {})):
        return ctx.peer_url(peer), None
    return https_url(ctx, peer), client_context(ca)


def https_url(ctx: Any, name: str) -> str:
    """`https://<host>:<https port>` of `name` (a service that serves HTTPS)."""
    return ctx.peer_url(name, "https").replace("http://", "https://", 1)


@functools.lru_cache(maxsize=8)
def client_context(ca_file: str) -> ssl.SSLContext:
    """Trust the lab CA and nothing else (not the machine's store: a proxy's certificate signed by
    a CA the machine trusts must still fail, as with the real agent's pinning). One context per CA
    file, shared: a context per request would cost its loading each time."""
    return ssl.create_default_context(cafile=ca_file)


def lab_trust(ctx: Any) -> ssl.SSLContext | bool:
    """What a client of the lab (the phone) verifies HTTPS with: the lab CA when the topology names
    one, else httpx's default (True: a topology without certificates has no HTTPS URL to call)."""
    ca = (ctx.topology.get("ca") or {}).get("cert")
    return client_context(ca) if ca else True


def certificate_reason(exc: BaseException) -> str | None:
    """OpenSSL's reason when `exc` (or what caused it) is a refused certificate, e.g. "unable to
    get local issuer certificate"; None for any other error."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        text = str(cur)
        if isinstance(cur, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            detail = getattr(cur, "verify_message", None) or text.partition("verify failed: ")[2].split(" (_ssl")[0]
            return detail or "certificate verify failed"
        cur = cur.__cause__ or cur.__context__
    return None


def describe_error(exc: BaseException) -> str | None:
    """A certificate failure in the words the real agent logs, or None for any other error."""
    reason = certificate_reason(exc)
    return f"{PKIX_FAILURE} ({reason})" if reason else None


# -- the HTTPS listener -----------------------------------------------------------------------------

def secure_cookies(app: Any) -> Any:
    """`app` with `Secure` added to every cookie it sets (ASGI middleware for the HTTPS listener).
    The pages set their session and CSRF cookies without it, since the same app also answers on
    the plain `api` port, where a browser would drop a Secure cookie; over HTTPS they must not
    travel on plain HTTP afterwards (OWASP Session Management Cheat Sheet: the Secure attribute)."""
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def marking(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(k, _secure(v)) if k.lower() == b"set-cookie" else (k, v)
                                      for k, v in message.get("headers", [])]
            await send(message)

        await app(scope, receive, marking)

    return wrapped


def _secure(cookie: bytes) -> bytes:
    attributes = [a.strip().lower() for a in cookie.split(b";")[1:]]
    return cookie if b"secure" in attributes else cookie + b"; Secure"


class _QuietServer(uvicorn.Server):
    """Leaves signal handling to the runner (several servers share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpsListener:
    """An HTTP app served over TLS on the port kind `kind`, as one of a Service's tasks. The socket
    is bound when made (at build time: a busy port fails the start, as for the other listeners)."""

    def __init__(self, ctx: Any, kind: str, app: Any, context: ssl.SSLContext,
                 inspection: ssl.SSLContext | None = None) -> None:
        self.ctx, self.sock = ctx, bind_tcp(ctx, kind)
        self.inspection = inspection
        if inspection is not None:
            context.sni_callback = self._choose         # every handshake asks which certificate
        config = uvicorn.Config(secure_cookies(app), log_level="warning", lifespan="off", access_log=False)
        config.load()
        config.ssl = context
        self.server = _QuietServer(config)
        self._intercepting = False

    @property
    def intercepting(self) -> bool:
        return self.inspection is not None and self.ctx.faults.match(action=INTERCEPT) is not None

    def _choose(self, conn: ssl.SSLObject, _server_name: str | None, _context: ssl.SSLContext) -> None:
        if self.intercepting and self.inspection is not None:
            conn.context = self.inspection

    def sync(self) -> None:
        """Called after the faults change: when interception starts, close the idle connections
        made before it (those busy are closed after their answer)."""
        now = self.intercepting
        if now and not self._intercepting:
            for connection in list(self.server.server_state.connections):
                connection.shutdown()
        self._intercepting = now

    async def __call__(self) -> None:
        try:
            await self.server.serve(sockets=[self.sock])
        except asyncio.CancelledError:
            self.server.should_exit = True
            self._abort()
            raise

    def _abort(self) -> None:
        """At stop: close the port and reset every connection (RST, not FIN), so nothing of this
        process lingers on the port (FIN_WAIT) and a restarted service can bind it at once."""
        for server in getattr(self.server, "servers", []):
            server.close()
        for connection in list(self.server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is None:
                continue
            raw = transport.get_extra_info("socket")
            if raw is not None:
                with contextlib.suppress(OSError):
                    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        self.sock.close()
