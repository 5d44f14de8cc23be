"""Test helpers for the radius-agent tests: a fake Okta org and a tiny RADIUS client.

FakeOrg implements ONLY the org endpoints the agent calls (docs/architecture.md, okta section),
with canned users, factors and push behaviours, and counts calls. It lets the agent be tested as a
unit (a real process, real UDP, a fake org) before and independently of services/okta.
The client builds packets with pyrad on raw sockets, so tests control Identifier, Request
Authenticator, Message-Authenticator and Proxy-State exactly.
"""
from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from pyrad import packet as rp

from services.radius_agent.radius import dictionary


@dataclass
class FakeUser:
    id: str
    user_name: str                     # the app user's credentials.userName
    login: str
    codes: set[str] = field(default_factory=set)   # codes the TOTP factor(s) accept
    totp_factors: int = 1              # how many TOTP factors; codes verify on the last one only
    push: str | None = "approve"       # approve | deny | ignore | timeout | None (no push factor)
    push_after: float = 0.2            # seconds before the user answers
    sms: bool = False
    assigned: bool = True
    factors_delay: float = 0.0         # a slow org: seconds before GET .../factors answers
    status: str = "ACTIVE"             # Okta user status (SUSPENDED, LOCKED_OUT, ...)
    groups: list[str] = field(default_factory=list)
    call: bool = False
    email: bool = False
    password: str | None = None        # for /api/v1/authn ("Okta performs primary authentication")
    enrol_required: bool = False       # /api/v1/authn answers MFA_ENROLL
    otp_rate_limited: bool = False     # sending an SMS/call/email code answers 429 E0000109


class FakeOrg:
    def __init__(self, host: str, port: int, token: str, apps: list[dict[str, Any]], users: list[FakeUser],
                 tls: ssl.SSLContext | None = None):
        self.host, self.port, self.token = host, port, token
        self.tls = tls          # serve HTTPS (the org's `https` port, the lab CA's certificate)
        self.apps = apps
        self.users = {u.id: u for u in users}
        self.reject_token = False
        self.authn_enabled = True          # False: /api/v1/authn is 404, an org without it
        self.sent_codes: dict[str, str] = {}   # factor id -> the OTP the org "sent" by sms/call/email
        self.authn: dict[str, dict[str, Any]] = {}   # stateToken -> {"user", "tx"}
        self.verify_calls: list[tuple[str, str, str]] = []     # (user id, factor id, "code"|"push"|"otp")
        self.requests: list[tuple[str, str]] = []
        self.transactions: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._conns: set[socket.socket] = set()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeOrg:
        org = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 keep-alive: the agent (the client) closes first, so no TIME_WAIT is left on
            # the org's port to block the next test module's `okta` from binding it.
            protocol_version = "HTTP/1.1"
            # one write per response and no Nagle, or keep-alive meets delayed ACKs (40 ms stalls)
            wbufsize = -1
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with org.lock:
                    org._conns.add(self.connection)

            def finish(self) -> None:
                with org.lock:
                    org._conns.discard(self.connection)
                super().finish()

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                org._dispatch(self, "GET")

            def do_POST(self) -> None:
                org._dispatch(self, "POST")

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening AND cut kept-alive connections, so the org is really down."""
        with self.lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def verify_count(self, user_id: str, kind: str | None = None) -> int:
        with self.lock:
            return sum(1 for u, _, k in self.verify_calls if u == user_id and (kind is None or k == kind))

    # -- the contract's endpoints -------------------------------------------------------------
    def factors_of(self, user: FakeUser) -> list[dict[str, Any]]:
        out = [{"id": f"totp{i}-{user.id}", "factorType": "token:software:totp", "provider": "OKTA",
                "status": "ACTIVE"} for i in range(user.totp_factors)]
        if user.push:
            out.append({"id": f"push-{user.id}", "factorType": "push", "provider": "OKTA", "status": "ACTIVE"})
        for kind in ("sms", "call", "email"):
            if getattr(user, kind):
                out.append({"id": f"{kind}-{user.id}", "factorType": kind, "provider": "OKTA", "status": "ACTIVE"})
        out.append({"id": f"old-{user.id}", "factorType": "push", "provider": "OKTA", "status": "PENDING_ACTIVATION"})
        return out

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        with self.lock:
            self.requests.append((method, path))
        length = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(length) or b"{}") if length else {}
        if self.reject_token or h.headers.get("Authorization") != f"SSWS {self.token}":
            return self._send(h, 401, _error("E0000011", "Invalid token provided"))
        base = f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"
        if method == "GET" and path == "/api/v1/radius/apps":
            return self._send(h, 200, self.apps)
        m = re.fullmatch(r"/api/v1/apps/([^/]+)/users", path)
        if method == "GET" and m:
            expand = "expand=user" in h.path       # Okta: embed each app user's user object
            users = [{"id": u.id, "scope": "USER", "status": "ACTIVE", "credentials": {"userName": u.user_name}}
                     | ({"_embedded": {"user": {"id": u.id, "status": u.status, "profile": {"login": u.login}}}}
                        if expand else {})
                     for u in self.users.values() if u.assigned]
            return self._send(h, 200, users)
        m = re.fullmatch(r"/api/v1/apps/([^/]+)/users/([^/]+)", path)
        if method == "GET" and m:
            u = self.users.get(m.group(2))
            if u is not None and u.assigned:
                return self._send(h, 200, {"id": u.id, "scope": "USER", "status": "ACTIVE",
                                           "credentials": {"userName": u.user_name}})
        m = re.fullmatch(r"/api/v1/users/([^/]+)", path)
        if method == "GET" and m and (u := self.find_user(unquote(m.group(1)))) is not None:
            return self._send(h, 200, {"id": u.id, "status": u.status, "profile": {"login": u.login}})
        m = re.fullmatch(r"/api/v1/users/([^/]+)/groups", path)
        if method == "GET" and m and m.group(1) in self.users:
            return self._send(h, 200, [{"id": f"00g-{i}", "type": "OKTA_GROUP", "profile": {"name": g}}
                                       for i, g in enumerate(self.users[m.group(1)].groups)])
        if path.startswith("/api/v1/authn"):
            if self.authn_enabled:
                return self._authn(h, path, body, base)
            return self._send(h, 404, _error("E0000007", f"Not found: Resource not found: {path} (GenericResource)"))
        m = re.fullmatch(r"/api/v1/users/([^/]+)/factors", path)
        if method == "GET" and m and m.group(1) in self.users:
            time.sleep(self.users[m.group(1)].factors_delay)
            return self._send(h, 200, self.factors_of(self.users[m.group(1)]))
        m = re.fullmatch(r"/api/v1/users/([^/]+)/factors/([^/]+)/verify", path)
        if method == "POST" and m and m.group(1) in self.users:
            user, fid = self.users[m.group(1)], m.group(2)
            if fid.startswith("totp"):
                with self.lock:
                    self.verify_calls.append((user.id, fid, "code"))
                last = f"totp{user.totp_factors - 1}-{user.id}"
                if fid == last and body.get("passCode") in user.codes:
                    return self._send(h, 200, {"factorResult": "SUCCESS"})
                return self._send(h, 403, _error("E0000068", "Invalid Passcode/Answer"))
            if fid.startswith("push"):
                with self.lock:
                    self.verify_calls.append((user.id, fid, "push"))
                tx = uuid.uuid4().hex
                self.transactions[tx] = {"user": user.id, "created": time.monotonic(),
                                         "action": user.push, "after": user.push_after}
                href = f"{base}/api/v1/users/{user.id}/factors/{fid}/transactions/{tx}"
                return self._send(h, 201, {"factorResult": "WAITING", "expiresAt": "2099-01-01T00:00:00.000Z",
                                           "_links": {"poll": {"href": href}, "cancel": {"href": href}}})
            if fid.split("-", 1)[0] in ("sms", "call", "email"):
                return self._send(h, *self._otp_factor(user, fid, body.get("passCode")))
        m = re.fullmatch(r"/api/v1/users/([^/]+)/factors/([^/]+)/transactions/([^/]+)", path)
        if method == "GET" and m and m.group(3) in self.transactions:
            pending = self.transactions[m.group(3)]
            result = "WAITING"
            if time.monotonic() - pending["created"] >= pending["after"]:
                result = {"approve": "SUCCESS", "deny": "REJECTED", "timeout": "TIMEOUT"}.get(pending["action"],
                                                                                               "WAITING")
            return self._send(h, 200, {"factorResult": result,
                                       "_links": {"poll": {"href": f"{base}{path}"}}})
        return self._send(h, 404, _error("E0000007", f"Not found: Resource not found: {path} (GenericResource)"))

    def find_user(self, key: str) -> FakeUser | None:
        """By id, login, or login prefix, as the org's GET /api/v1/users/{key} does."""
        if key in self.users:
            return self.users[key]
        k = key.lower()
        return next((u for u in self.users.values() if k in (u.login.lower(), u.login.lower().split("@")[0])), None)

    def _otp_factor(self, user: FakeUser, fid: str, code: Any) -> tuple[int, Any]:
        """sms/call/email: verify without passCode sends a code; with one checks the code sent."""
        if code is None:
            if user.otp_rate_limited:
                return 429, _error("E0000109",
                                   "An SMS message was recently sent. Please wait 30 seconds before trying again.")
            with self.lock:
                self.verify_calls.append((user.id, fid, "otp"))
                self.sent_codes[fid] = f"{uuid.uuid4().int % 1000000:06d}"
            return 201, {"factorResult": "CHALLENGE"}
        with self.lock:
            self.verify_calls.append((user.id, fid, "code"))
            ok = self.sent_codes.get(fid) == code
            if ok:
                del self.sent_codes[fid]
        return (200, {"factorResult": "SUCCESS"}) if ok else (403, _error("E0000068", "Invalid Passcode/Answer"))

    def _authn(self, h: BaseHTTPRequestHandler, path: str, body: dict[str, Any], base: str) -> None:
        """A small /api/v1/authn: password → MFA_REQUIRED (factors) → factor verify by stateToken."""
        if path == "/api/v1/authn" and "username" in body:
            u = self.find_user(str(body["username"]))
            if u is None or u.password is None or body.get("password") != u.password:
                return self._send(h, 401, _error("E0000004", "Authentication failed"))
            if u.enrol_required:
                return self._send(h, 200, {"stateToken": "st-enrol", "status": "MFA_ENROLL",
                                           "_embedded": {"factors": []}})
            factors = [f for f in self.factors_of(u) if f["status"] == "ACTIVE"]
            if not factors:
                return self._send(h, 200, {"status": "SUCCESS", "sessionToken": "s"})
            token = "st-" + uuid.uuid4().hex
            self.authn[token] = {"user": u.id, "tx": None}
            return self._send(h, 200, {"stateToken": token, "status": "MFA_REQUIRED",
                                       "_embedded": {"factors": [{k: f[k] for k in ("id", "factorType", "provider")}
                                                                 for f in factors]}})
        if path == "/api/v1/authn/cancel":
            self.authn.pop(str(body.get("stateToken")), None)
            return self._send(h, 200, {})
        m = re.fullmatch(r"/api/v1/authn/factors/([^/]+)/verify", path)
        st = self.authn.get(str(body.get("stateToken")))
        if not m or st is None:
            return self._send(h, 401, _error("E0000011", "Invalid token provided"))
        user, fid = self.users[st["user"]], m.group(1)
        done = {"status": "SUCCESS", "sessionToken": "s"}
        if fid.startswith("push"):
            if st["tx"] is None:
                with self.lock:
                    self.verify_calls.append((user.id, fid, "push"))
                st["tx"] = {"created": time.monotonic(), "action": user.push, "after": user.push_after}
                return self._send(h, 200, {"stateToken": body["stateToken"], "status": "MFA_CHALLENGE",
                                           "factorResult": "WAITING"})
            tx = st["tx"]
            result = "WAITING"
            if time.monotonic() - tx["created"] >= tx["after"]:
                result = {"approve": "SUCCESS", "deny": "REJECTED", "timeout": "TIMEOUT"}.get(tx["action"], "WAITING")
            if result == "SUCCESS":
                del self.authn[body["stateToken"]]
                return self._send(h, 200, done)
            return self._send(h, 200, {"stateToken": body["stateToken"], "status": "MFA_CHALLENGE",
                                       "factorResult": result})
        if fid.split("-", 1)[0] in ("sms", "call", "email"):
            status, answer = self._otp_factor(user, fid, body.get("passCode"))
            if status == 201:
                return self._send(h, 200, {"stateToken": body["stateToken"], "status": "MFA_CHALLENGE",
                                           "factorResult": "CHALLENGE"})
            return self._send(h, status, done if status == 200 else answer)
        with self.lock:
            self.verify_calls.append((user.id, fid, "code"))
        if fid == f"totp{user.totp_factors - 1}-{user.id}" and body.get("passCode") in user.codes:
            del self.authn[body["stateToken"]]
            return self._send(h, 200, done)
        return self._send(h, 403, _error("E0000068", "Invalid Passcode/Answer"))

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def _error(code: str, summary: str) -> dict[str, Any]:
    return {"errorCode": code, "errorSummary": summary, "errorLink": code,
            "errorId": "oae" + uuid.uuid4().hex[:20], "errorCauses": []}


# -- a RADIUS client on raw sockets ------------------------------------------------------------
def access_request(secret: bytes, user: str | None, password: str | None, *, ma: bool = True,
                   proxy_states: tuple[bytes, ...] = (), ident: int | None = None,
                   authenticator: bytes | None = None, code: int = rp.AccessRequest) -> rp.AuthPacket:
    pkt = rp.AuthPacket(code=code, id=ident if ident is not None else rp.CreateID(), secret=secret,
                        authenticator=authenticator or rp.Packet.CreateAuthenticator(), dict=dictionary())
    if user is not None:
        pkt.AddAttribute("User-Name", user)
    if password is not None:
        pkt.AddAttribute("User-Password", pkt.PwCrypt(password))
    for ps in proxy_states:
        pkt.AddAttribute("Proxy-State", ps)
    if ma:
        pkt.add_message_authenticator()
    return pkt


class RadiusClient:
    """One UDP socket (a fixed source port, as a NAS has), send raw bytes, wait for a reply."""

    def __init__(self, server: tuple[str, int], source_ip: str = "127.0.0.1") -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source_ip, 0))

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def recv(self, timeout: float) -> bytes | None:
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(8192)
            return data
        except TimeoutError:
            return None

    def exchange(self, pkt: rp.AuthPacket, timeout: float = 3.0) -> bytes | None:
        self.send(pkt.RequestPacket())
        return self.recv(timeout)


def decode_reply(request: rp.AuthPacket, data: bytes) -> rp.AuthPacket:
    """Decode a reply and check it the way a strict (BlastRADIUS-aware) client does."""
    reply = rp.AuthPacket(packet=data, secret=request.secret, dict=dictionary())
    assert request.VerifyReply(reply, data, enforce_ma=True), "reply fails Response Authenticator/M-A checks"
    assert data[20] == 80, "Message-Authenticator must be the first attribute of the reply"
    return reply
