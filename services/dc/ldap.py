"""The DC's LDAPv3 server (RFC 4511) on asyncio TCP, answering the way Active Directory does.

Wire only: messages are framed in `ber.py` and read in `ldap_messages.py`, turned into
calls on the directory (`accounts.py` for binds, `search.py`, `modify.py`), and the answers encoded
back. What AD-specific behaviour a client sees lives here: the diagnostic messages
(`ldap_results.py`: `data 52e`...), anonymous access limited to the RootDSE (`000004DC`),
MaxPageSize applied to unpaged searches, and the simple paged results control with its cookie.
See docs/active-directory.md ("LDAP").

A connection that sends bytes that are not LDAP is told so (Notice of Disconnection) and closed;
the server itself keeps serving. Passwords never reach an event or a log line.
"""
from __future__ import annotations

import asyncio
import os
import socket
import ssl
import struct
from dataclasses import dataclass, field
from typing import Any

from services.common.context import ServiceContext

from . import ber, ldap_messages, modify
from . import filters as F
from . import ldap_results as R
from .accounts import ANONYMOUS, SUCCESS, Accounts
from .directory import Directory
from .entry import Account, Entry
from .gssapi import GssapiAcceptor
from .ldap_messages import BindRequest, CompareRequest, ExtendedRequest, Message, ModifyRequest, SearchRequest
from .ldap_work import TooComplex, Worker, event_text
from .names import InvalidDN, norm_dn
from .rootdse import NOTICE_OF_DISCONNECTION, PAGED_RESULTS, START_TLS, SUPPORTED_CONTROLS, WHO_AM_I, root_dse
from .search import NoSuchObject, TimeLimit, indexed, search, select

SCOPES = {0: "base", 1: "one", 2: "sub"}
MODIFY_OPS = {0: "add", 1: "delete", 2: "replace", 3: "increment"}

_WRITE_OPS = {"modifyRequest": "modifyResponse", "addRequest": "addResponse",
              "delRequest": "delResponse", "modDNRequest": "modDNResponse"}


class Closed(Exception):
    """The session is over (unbind, fault, protocol error)."""


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP reset (what a dropped connection looks like to a client)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


@dataclass
class _Paged:
    key: tuple
    remaining: list[Entry]


@dataclass
class Session:
    peer: str
    account: Account | None = None
    bind_name: str = ""
    pages: dict[bytes, _Paged] = field(default_factory=dict)
    tls: bool = False
    gss: Any = None                 # a SASL GSSAPI bind in progress (gssapi.GssContext)
    frames: Any = None              # the connection's ber.MessageReader


class LdapServer:
    def __init__(self, ctx: ServiceContext, directory: Directory, tls: ssl.SSLContext | None = None):
        self.ctx = ctx
        self.directory = directory
        self.accounts = Accounts(directory)
        self.tls = tls
        # What the RootDSE advertises is what this server does: StartTLS only with a certificate.
        self.extensions = [WHO_AM_I] + ([START_TLS] if tls is not None else [])
        self.idle = directory.settings.ldap_idle_seconds
        self.max_message = directory.settings.ldap_max_message_bytes
        self.work = Worker(directory.settings)   # decoding and searches, off the event loop
        self.port = ctx.port("ldap")
        self.connections = 0
        self.gssapi: GssapiAcceptor | None = None    # set once the KDC's keys exist (__main__)

    # -- connection loop ---------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername") or ("?", 0)
        # LDAPS connections arrive already encrypted: the session is secure from its first byte.
        session = Session(peer=str(peername[0]), tls=writer.get_extra_info("sslcontext") is not None,
                          frames=ber.MessageReader(reader, self.idle, self.max_message))
        frames = session.frames
        self.connections += 1
        try:
            gate = self.ctx.faults.gate("ldap", session.peer, self.port)
            if gate.drop or gate.deny:
                self.ctx.record("ldap.connection", peer=session.peer, outcome="dropped")
                _reset(writer)
                return
            while True:
                try:
                    data = await frames.next()
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    return
                except ber.TooLarge as exc:
                    # AD drops the connection, without a Notice and without reading the rest.
                    self.ctx.record("ldap.connection", peer=session.peer, outcome="dropped", reason=str(exc))
                    writer.close()
                    return
                except ber.FrameError as exc:
                    self._protocol_error(session, writer, str(exc))
                    return
                try:
                    message = await self.work.prepare(data)
                except ber.FrameError as exc:
                    self._protocol_error(session, writer, f"undecodable BER ({exc})")
                    return
                except UnicodeDecodeError:
                    self._protocol_error(session, writer, "an LDAPString is not UTF-8")
                    return
                except Exception as exc:
                    self.ctx.log.exception("ldap: error decoding from %s", session.peer)
                    self._protocol_error(session, writer, f"undecodable BER ({exc.__class__.__name__})")
                    return
                gate = self.ctx.faults.gate("ldap", session.peer, self.port)
                if gate.drop:
                    self.ctx.record("ldap.connection", peer=session.peer, outcome="dropped")
                    _reset(writer)
                    return
                if gate.delay:
                    await asyncio.sleep(gate.delay)
                try:
                    if isinstance(message, TooComplex):
                        await self._too_complex(session, message, writer)
                    else:
                        await self._dispatch(session, message, writer)
                except Closed:
                    return
                except ber.FilterError as exc:     # a search filter that does not read
                    self._protocol_error(session, writer, f"undecodable filter ({exc})")
                    return
                except UnicodeDecodeError:
                    # An LDAPString (DN, attribute name, OID) must be UTF-8 (RFC 4511 4.1.2): the
                    # message is as undecodable as bad BER; values (OCTET STRINGs) stay bytes.
                    self._protocol_error(session, writer, "an LDAPString is not UTF-8")
                    return
                except Exception as exc:  # a bug must cost one connection, never the server
                    self.ctx.log.exception("ldap: error serving %s", session.peer)
                    self._protocol_error(session, writer, f"server error ({exc.__class__.__name__})")
                    return
        finally:
            self.connections -= 1
            await self._close(reader, writer)

    @staticmethod
    async def _close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Close, after giving the client a moment to close first.

        After an unbind (or a Notice of Disconnection) clients hang up at once; letting them be
        the first to close leaves TCP's TIME_WAIT on their side, not on the DC's listening port.
        """
        if writer.transport.is_closing():
            return
        try:
            deadline = asyncio.get_running_loop().time() + 1.0
            while not reader.at_eof():
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0 or not await asyncio.wait_for(reader.read(65536), left):
                    break
        except Exception:  # noqa: BLE001 - closing must not raise: the peer may have gone any way
            pass
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - as above
            pass

    def _protocol_error(self, session: Session, writer: asyncio.StreamWriter, reason: str) -> None:
        """Tell the client (Notice of Disconnection, RFC 4511 4.4.1) and give up the connection."""
        self.ctx.record("ldap.protocol_error", peer=session.peer, outcome="closed", reason=reason)
        try:
            writer.write(ber.result(0, "extendedResp", R.PROTOCOL_ERROR, R.diagnostic(R.UNDECODABLE),
                                    responseName=NOTICE_OF_DISCONNECTION))
        except Exception:  # noqa: BLE001 - the connection is being given up anyway
            pass

    async def _too_complex(self, s: Session, req: TooComplex, writer: asyncio.StreamWriter) -> None:
        self.ctx.record("ldap.search", peer=s.peer, outcome=R.result_name(R.ADMIN_LIMIT), entries=0,
                        terms=req.terms, depth=req.depth, user=self._who(s))
        writer.write(ber.result(req.mid, "searchResDone", R.ADMIN_LIMIT, R.diagnostic(R.FILTER_TOO_COMPLEX)))
        await writer.drain()

    # -- encoding helpers --------------------------------------------------------------------
    @staticmethod
    def _refused(mid: int, op_name: str, refusal: R.Refusal) -> bytes:
        return ber.result(mid, op_name, refusal.result, refusal.message())

    @staticmethod
    def _entry(mid: int, entry_dn: str, attrs: list[tuple[str, list[Any]]], types_only: bool) -> bytes:
        return ber.encode_entry(mid, entry_dn, attrs, types_only)

    # -- operations --------------------------------------------------------------------------
    async def _dispatch(self, s: Session, message: Message, writer: asyncio.StreamWriter) -> None:
        mid, name, req = message.mid, message.op, message.req
        if name == "unbindRequest":
            self.ctx.record("ldap.unbind", peer=s.peer, outcome="ok", user=self._who(s))
            raise Closed()
        if name == "abandonRequest":
            self.ctx.record("ldap.abandon", peer=s.peer, outcome="ok", target=req)
            return  # searches here complete before the next request is read: nothing to stop
        if name == "bindRequest":
            writer.write(self._bind(s, mid, req))
        elif name == "searchRequest":
            await self._search(s, mid, req, message.controls, writer)
        elif name == "extendedReq":
            await self._extended(s, mid, req, writer)
            return
        elif name == "compareRequest":
            writer.write(self._compare(s, mid, req))
        elif name == "modifyRequest" and s.account is not None:
            writer.write(self._modify(s, mid, req))
        elif name in _WRITE_OPS:
            refusal = (R.Refusal(R.OPERATIONS_ERROR, R.NEED_BIND) if s.account is None
                       else R.Refusal(R.INSUFFICIENT_ACCESS, R.ACCESS))
            self.ctx.record("ldap.write", peer=s.peer, outcome=refusal.name, op=name, user=self._who(s))
            writer.write(self._refused(mid, _WRITE_OPS[name], refusal))
        else:
            self._protocol_error(s, writer, f"unexpected operation {name}")
            raise Closed()
        await writer.drain()

    @staticmethod
    def _who(s: Session) -> str | None:
        return s.account.sam if s.account is not None else None

    def _bind(self, s: Session, mid: int, req: BindRequest) -> bytes:
        version, name = req.version, req.name
        s.account, s.bind_name = None, ""   # a bind, whatever its result, starts a new identity
        s.pages.clear()
        if version not in (2, 3):
            self.ctx.record("ldap.bind", peer=s.peer, outcome="protocolError", name=name, version=version)
            return ber.result(mid, "bindResponse", R.PROTOCOL_ERROR, R.diagnostic(R.BAD_VERSION))
        if req.method == "sasl" and self.gssapi is not None and req.mechanism.upper() == "GSSAPI":
            return self.gssapi.bind(s, mid, req.credentials or b"", self.ctx.record)
        s.gss = None
        if req.method != "simple":
            mech = req.mechanism
            self.ctx.record("ldap.bind", peer=s.peer, outcome="authMethodNotSupported", name=name, mechanism=mech)
            return ber.result(mid, "bindResponse", R.AUTH_METHOD_NOT_SUPPORTED, R.diagnostic(R.SASL))
        secret = req.secret.decode("utf-8", "replace")
        result = self.accounts.bind(name, secret)
        del secret
        dn = result.account.entry.dn if result.account is not None else None
        user = result.account.sam if result.account is not None else None
        self.ctx.record("ldap.bind", peer=s.peer, outcome=result.outcome, dn=dn, user=user, name=name)
        if result.outcome == SUCCESS:
            s.account, s.bind_name = result.account, name
            return ber.result(mid, "bindResponse", R.SUCCESS)
        if result.outcome == ANONYMOUS:
            return ber.result(mid, "bindResponse", R.SUCCESS)
        return ber.result(mid, "bindResponse", R.INVALID_CREDENTIALS,
                          R.diagnostic(R.BAD_CREDENTIALS, code=result.outcome))

    async def _search(self, s: Session, mid: int, req: SearchRequest, controls, writer: asyncio.StreamWriter) -> None:
        base, scope, size_limit, types_only = req.base, req.scope, req.size_limit, req.types_only
        attributes = req.attributes
        flt, text = await self.work.filter(req.filter)
        event = dict(base=base, scope=SCOPES.get(scope, str(scope)), filter=event_text(text), user=self._who(s))

        # Entries and the result go out together (one send for a small search; `_send` flushes
        # every 200 entries of a big one).
        pending: list[bytes] = []

        def done(code: int, text: str = "", matched: str = "", n: int = 0, ctrls=None) -> None:
            pending.append(ber.result(mid, "searchResDone", code, text, matched, ctrls))
            writer.write(b"".join(pending))
            self.ctx.record("ldap.search", peer=s.peer, outcome=R.result_name(code), entries=n, **event)

        paged = None
        for oid, critical, value in controls:
            if oid == PAGED_RESULTS:
                paged = ldap_messages.paged_request(value)
                if paged is None:
                    return done(R.PROTOCOL_ERROR, R.diagnostic(R.CONTROL))
            elif critical and oid not in SUPPORTED_CONTROLS:
                return done(R.UNAVAILABLE_CRITICAL_EXTENSION, R.diagnostic(R.CONTROL))

        if base == "" and scope == 0:
            entry = root_dse(self.directory, self.extensions)
            found = [entry] if await self.work.run(flt.match, entry, self.directory) else []
            for e in found:
                pending.append(self._entry(mid, "", select(self.directory, e, attributes), types_only))
            return done(R.SUCCESS, n=len(found))
        if s.account is None:
            return done(R.OPERATIONS_ERROR, R.diagnostic(R.NEED_BIND))

        size, cookie = paged if paged is not None else (0, b"")
        max_page = self.directory.max_page_size
        try:
            base_key = norm_dn(base) if base else ""
            # A paged search's next page continues from its cookie; anything else searches now.
            deadline = self.work.deadline(req.time_limit)
            if cookie:
                results = []
            elif indexed(self.directory, scope, flt):    # a dict lookup: not worth a thread hand-off
                results = search(self.directory, base, scope, flt, deadline)
            else:
                results = await self.work.run(search, self.directory, base, scope, flt, deadline)
        except TimeLimit as exc:   # AD's MaxQueryDuration: what was found so far, then the error
            partial = exc.found[:min(size_limit or max_page, max_page)]
            await self._send(mid, partial, attributes, types_only, writer, pending)
            return done(R.TIME_LIMIT, R.diagnostic(R.QUERY_TIME), n=len(partial))
        except NoSuchObject as exc:
            return done(R.NO_SUCH_OBJECT, R.diagnostic(R.NO_OBJECT, dn=exc.matched), exc.matched)
        except InvalidDN:
            return done(R.INVALID_DN_SYNTAX, R.diagnostic(R.BAD_DN, dn=base))
        if paged is not None:
            key = (base_key, scope, text.lower(), tuple(a.lower() for a in attributes))
            if cookie:
                state = s.pages.pop(cookie, None)
                if state is None or state.key != key:
                    return done(R.UNWILLING, R.diagnostic(R.STALE_COOKIE))
                results = state.remaining
            if size == 0:  # the client abandons the paged search
                return done(R.SUCCESS, ctrls=[(PAGED_RESULTS, ber.paged_value(0, b""))])
            page = min(size, max_page)
            code = R.SUCCESS
            if size_limit and size_limit < min(page, len(results)):
                page, code = size_limit, R.SIZE_LIMIT
            now_sent, rest = results[:page], results[page:]
            await self._send(mid, now_sent, attributes, types_only, writer, pending)
            next_cookie = b""
            if rest and code == R.SUCCESS:
                next_cookie = os.urandom(12)
                s.pages[next_cookie] = _Paged(key, rest)
            return done(code, n=len(now_sent), ctrls=[(PAGED_RESULTS, ber.paged_value(0, next_cookie))])

        limit = min(size_limit, max_page) if size_limit else max_page
        if len(results) > limit:
            await self._send(mid, results[:limit], attributes, types_only, writer, pending)
            return done(R.SIZE_LIMIT, n=limit)
        await self._send(mid, results, attributes, types_only, writer, pending)
        return done(R.SUCCESS, n=len(results))

    async def _send(self, mid: int, entries: list[Entry], attributes: list[str], types_only: bool,
                    writer: asyncio.StreamWriter, pending: list[bytes]) -> None:
        """Encode `entries` onto `pending`, written out (and drained) every 200 entries."""
        for i, e in enumerate(entries, 1):
            pending.append(self._entry(mid, e.dn, select(self.directory, e, attributes), types_only))
            if i % 200 == 0:
                writer.write(b"".join(pending))
                pending.clear()
                await writer.drain()

    def _modify(self, s: Session, mid: int, req: ModifyRequest) -> bytes:
        dn = req.dn
        changes = [(MODIFY_OPS.get(op, "?"), attr, values) for op, attr, values in req.changes]
        refusal = modify.apply(self.directory, s.account, dn, changes, secure=s.tls)
        # Attribute names and operations only: unicodePwd values are passwords.
        self.ctx.record("ldap.modify", peer=s.peer, outcome=refusal.name if refusal else "success", dn=dn,
                        user=self._who(s), changes=[f"{op} {attr}" for op, attr, _ in changes])
        if refusal is not None:
            return self._refused(mid, "modifyResponse", refusal)
        return ber.result(mid, "modifyResponse", R.SUCCESS)

    def _compare(self, s: Session, mid: int, req: CompareRequest) -> bytes:
        dn, attr, value = req.dn, req.attribute, req.value
        if s.account is None:
            return ber.result(mid, "compareResponse", R.OPERATIONS_ERROR, R.diagnostic(R.NEED_BIND))
        try:
            entries = search(self.directory, dn, 0, F.Present("objectClass"))
        except NoSuchObject as exc:
            return ber.result(mid, "compareResponse", R.NO_SUCH_OBJECT,
                              R.diagnostic(R.NO_OBJECT, dn=exc.matched), exc.matched)
        except InvalidDN:
            return ber.result(mid, "compareResponse", R.INVALID_DN_SYNTAX, R.diagnostic(R.BAD_DN, dn=dn))
        entry = entries[0]
        if not entry.values(attr):
            code = R.NO_SUCH_ATTRIBUTE
        else:
            equal = F.Compare("=", attr, value).match(entry, self.directory)
            code = R.COMPARE_TRUE if equal else R.COMPARE_FALSE
        self.ctx.record("ldap.compare", peer=s.peer, outcome=R.result_name(code), dn=dn, attribute=attr,
                        user=self._who(s))
        return ber.result(mid, "compareResponse", code)

    async def _extended(self, s: Session, mid: int, req: ExtendedRequest, writer: asyncio.StreamWriter) -> None:
        oid = req.name
        if oid == WHO_AM_I:
            who = f"u:{self.directory.domain.netbios}\\{s.account.sam}" if s.account else ""
            self.ctx.record("ldap.extended", peer=s.peer, outcome="success", oid=oid, user=self._who(s))
            writer.write(ber.result(mid, "extendedResp", R.SUCCESS, responseValue=who.encode()))
        elif oid == START_TLS and self.tls is not None and not s.tls:
            writer.write(ber.result(mid, "extendedResp", R.SUCCESS, responseName=START_TLS))
            await writer.drain()
            # Bytes that came after the request were sent in the clear: never read them as protected.
            s.frames.discard()
            try:
                await writer.start_tls(self.tls)
            except Exception as exc:  # noqa: BLE001 - a failed handshake of any kind ends the session
                self.ctx.record("ldap.starttls", peer=s.peer, outcome="failed", reason=exc.__class__.__name__)
                raise Closed() from None
            s.tls = True
            self.ctx.record("ldap.starttls", peer=s.peer, outcome="success")
            return
        else:
            code = R.PROTOCOL_ERROR if oid != START_TLS else R.OPERATIONS_ERROR
            self.ctx.record("ldap.extended", peer=s.peer, outcome=R.result_name(code), oid=oid)
            writer.write(ber.result(mid, "extendedResp", code, R.diagnostic(R.UNKNOWN_EXTENSION)))
        await writer.drain()
