"""The DC's LDAPv3 server (RFC 4511) on asyncio TCP, answering the way Active Directory does.

Wire only: messages are framed and decoded in `ber.py` with ldap3's ASN.1 types, turned into
calls on the `Directory`, and the answers encoded back. What AD-specific behaviour a client sees
lives here: the diagnostic messages with their sub-codes (`data 52e`...), anonymous access limited
to the RootDSE (`000004DC`), MaxPageSize applied to unpaged searches, and the simple paged results
control 1.2.840.113556.1.4.319 with its cookie.

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

from ldap3.protocol import rfc4511
from ldap3.protocol.rfc2696 import RealSearchControlValue
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.ber import encoder as ber_encoder

from services.common.context import ServiceContext

from . import ber
from . import filters as F
from .directory import PAGED_RESULTS, START_TLS, SUPPORTED_CONTROLS, WHO_AM_I, Account, Directory, Entry, NoSuchObject
from .names import InvalidDN, norm_dn

# resultCode values (RFC 4511 section 4.1.9)
SUCCESS, OPERATIONS_ERROR, PROTOCOL_ERROR, SIZE_LIMIT = 0, 1, 2, 4
COMPARE_FALSE, COMPARE_TRUE, AUTH_METHOD_NOT_SUPPORTED = 5, 6, 7
UNAVAILABLE_CRITICAL_EXTENSION, NO_SUCH_ATTRIBUTE = 12, 16
NO_SUCH_OBJECT, INVALID_DN_SYNTAX, INVALID_CREDENTIALS = 32, 34, 49
INSUFFICIENT_ACCESS, UNWILLING = 50, 53
RESULT_NAMES = {0: "success", 1: "operationsError", 2: "protocolError", 4: "sizeLimitExceeded",
                19: "constraintViolation",
                5: "compareFalse", 6: "compareTrue", 7: "authMethodNotSupported",
                12: "unavailableCriticalExtension", 16: "noSuchAttribute", 32: "noSuchObject",
                34: "invalidDNSyntax", 49: "invalidCredentials", 50: "insufficientAccessRights",
                53: "unwillingToPerform"}
SCOPES = {0: "base", 1: "one", 2: "sub"}
NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036"

# AD's diagnostic messages (the DSID and version parts vary between AD builds; clients parse
# the leading code and the `data` sub-code).
MSG_NEED_BIND = ("000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation "
                 "a successful bind must be completed on the connection., data 0, v3839")
MSG_BAD_CREDENTIALS = "80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data {}, v3839"
MSG_NO_OBJECT = "0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'{}'\n"
MSG_BAD_DN = "00002081: NameErr: DSID-03100225, problem 2003 (BAD_ATT_SYNTAX), data 0, best match of:\n\t'{}'\n"
MSG_ACCESS = "00000005: SecErr: DSID-03152870, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n"
MSG_CONTROL = "00000057: LdapErr: DSID-0C090D0A, comment: Error processing control, data 0, v3839"
MSG_SASL = "00002027: LdapErr: DSID-0C0904DC, comment: The server does not support the requested SASL mechanism in this lab, data 0, v3839"
MSG_UNKNOWN_EXT = "0000203D: LdapErr: DSID-0C090F7B, comment: Unknown extended request OID, data 0, v3839"

_RESPONSE_TYPES = {
    "bindResponse": rfc4511.BindResponse, "searchResDone": rfc4511.SearchResultDone,
    "modifyResponse": rfc4511.ModifyResponse, "addResponse": rfc4511.AddResponse,
    "delResponse": rfc4511.DelResponse, "modDNResponse": rfc4511.ModifyDNResponse,
    "compareResponse": rfc4511.CompareResponse, "extendedResp": rfc4511.ExtendedResponse,
}
_WRITE_OPS = {"modifyRequest": "modifyResponse", "addRequest": "addResponse",
              "delRequest": "delResponse", "modDNRequest": "modDNResponse"}


class Closed(Exception):
    """The session is over (unbind, fault, protocol error)."""


def _no_delay(writer: asyncio.StreamWriter) -> None:
    """Turn off Nagle. asyncio does this itself only for sockets whose `proto` is IPPROTO_TCP,
    and the runner's listening socket is made with proto 0, so without this a search's entries
    and its SearchResultDone wait out the client's delayed ACK (40 ms per search)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP reset (what a dropped connection looks like to a client)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


def to_filter(f) -> F.Filter:
    """The decoded BER Filter (pyasn1) as a `filters.Filter`."""
    kind = f.getName()
    c = f.getComponent()
    if kind == "and":
        return F.And([to_filter(x) for x in c])
    if kind == "or":
        return F.Or([to_filter(x) for x in c])
    if kind == "notFilter":
        return F.Not(to_filter(c["innerNotFilter"]))
    if kind == "present":
        return F.Present(str(c))
    if kind in ("equalityMatch", "greaterOrEqual", "lessOrEqual", "approxMatch"):
        op = {"equalityMatch": "=", "greaterOrEqual": ">=", "lessOrEqual": "<=", "approxMatch": "~="}[kind]
        return F.Compare(op, str(c["attributeDesc"]), bytes(c["assertionValue"]))
    if kind == "substringFilter":
        sub = F.Substrings(str(c["type"]))
        for s in c["substrings"]:
            part, value = s.getName(), bytes(s.getComponent())
            if part == "initial":
                sub.initial = value
            elif part == "final":
                sub.final = value
            else:
                sub.any.append(value)
        return sub
    if kind == "extensibleMatch":
        rule = str(c["matchingRule"]) if c["matchingRule"].isValue else None
        attr = str(c["type"]) if c["type"].isValue else None
        dn_attrs = bool(c["dnAttributes"]) if c["dnAttributes"].isValue else False
        return F.Extensible(rule, attr, bytes(c["matchValue"]), dn_attrs)
    raise ValueError(f"unknown filter choice {kind}")


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


class LdapServer:
    def __init__(self, ctx: ServiceContext, directory: Directory, tls: ssl.SSLContext | None = None):
        self.ctx = ctx
        self.directory = directory
        self.tls = tls
        self.idle = float(ctx.settings.get("ldap_idle_seconds", 900))
        self.max_message = int(ctx.settings.get("ldap_max_message_bytes", ber.MAX_MESSAGE))
        self.port = ctx.port("ldap")
        self.connections = 0

    # -- connection loop ---------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername") or ("?", 0)
        # LDAPS connections arrive already encrypted: the session is secure from its first byte.
        session = Session(peer=str(peername[0]), tls=writer.get_extra_info("sslcontext") is not None)
        _no_delay(writer)
        self.connections += 1
        try:
            if self._fault("drop", session) or self._fault("deny", session):
                self.ctx.record("ldap.connection", peer=session.peer, outcome="dropped")
                _reset(writer)
                return
            while True:
                try:
                    data = await ber.read_message(reader, self.idle, self.max_message)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    return
                except ber.FrameError as exc:
                    self._protocol_error(session, writer, str(exc))
                    return
                try:
                    message = ber.decode(data)
                except Exception as exc:  # pyasn1 raises several types; any means "not LDAP"
                    self._protocol_error(session, writer, f"undecodable BER ({exc.__class__.__name__})")
                    return
                if self._fault("drop", session):
                    self.ctx.record("ldap.connection", peer=session.peer, outcome="dropped")
                    _reset(writer)
                    return
                delay = self._fault("delay", session)
                if delay is not None and delay.seconds:
                    await asyncio.sleep(delay.seconds)
                try:
                    await self._dispatch(session, message, reader, writer)
                except Closed:
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
        except Exception:
            pass
        try:
            writer.close()
        except Exception:
            pass

    def _fault(self, action: str, session: Session):
        return self.ctx.faults.match(protocol="ldap", port=self.port, peer=session.peer, action=action)

    def _protocol_error(self, session: Session, writer: asyncio.StreamWriter, reason: str) -> None:
        """Tell the client (Notice of Disconnection, RFC 4511 4.4.1) and give up the connection."""
        self.ctx.record("ldap.protocol_error", peer=session.peer, outcome="closed", reason=reason)
        resp = rfc4511.ExtendedResponse()
        resp["resultCode"] = PROTOCOL_ERROR
        resp["matchedDN"] = ""
        resp["diagnosticMessage"] = "00000057: LdapErr: DSID-0C090E0B, comment: Error decoding ldap message, data 0, v3839"
        resp["responseName"] = NOTICE_OF_DISCONNECTION
        try:
            writer.write(self._message(0, "extendedResp", resp))
        except Exception:
            pass

    # -- encoding helpers --------------------------------------------------------------------
    @staticmethod
    def _message(mid: int, op_name: str, op, controls: list[tuple[str, bytes]] | None = None) -> bytes:
        msg = rfc4511.LDAPMessage()
        msg["messageID"] = mid
        msg["protocolOp"][op_name] = op
        if controls:
            ctrls = msg["controls"]
            for oid, value in controls:
                c = rfc4511.Control()
                c["controlType"] = oid
                c["controlValue"] = value
                ctrls.append(c)
        return ber.encode(msg)

    def _result(self, mid: int, op_name: str, code: int, diagnostic: str = "", matched: str = "",
                controls: list[tuple[str, bytes]] | None = None, **extra: Any) -> bytes:
        op = _RESPONSE_TYPES[op_name]()
        op["resultCode"] = code
        op["matchedDN"] = matched
        op["diagnosticMessage"] = diagnostic
        for k, v in extra.items():
            op[k] = v
        return self._message(mid, op_name, op, controls)

    @staticmethod
    def _entry(mid: int, entry_dn: str, attrs: list[tuple[str, list[Any]]], types_only: bool) -> bytes:
        values = [(name, [] if types_only else
                   [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in vals])
                  for name, vals in attrs]
        return ber.encode_entry(mid, entry_dn, values)

    @staticmethod
    def _entry_pyasn1(mid: int, entry_dn: str, attrs: list[tuple[str, list[Any]]], types_only: bool) -> bytes:
        """The reference encoding of `_entry` with ldap3's types (used by the tests)."""
        e = rfc4511.SearchResultEntry()
        e["object"] = entry_dn
        plist = e["attributes"]
        for name, values in attrs:
            pa = rfc4511.PartialAttribute()
            pa["type"] = name
            vals = pa["vals"]
            if not types_only:
                for v in values:
                    vals.append(v if isinstance(v, bytes) else str(v).encode("utf-8"))
            plist.append(pa)
        return LdapServer._message(mid, "searchResEntry", e)

    # -- operations --------------------------------------------------------------------------
    async def _dispatch(self, s: Session, message, reader, writer) -> None:
        mid = int(message["messageID"])
        op = message["protocolOp"]
        name = op.getName()
        req = op.getComponent()
        controls = self._controls(message)
        if name == "unbindRequest":
            self.ctx.record("ldap.unbind", peer=s.peer, outcome="ok", user=self._who(s))
            raise Closed()
        if name == "abandonRequest":
            self.ctx.record("ldap.abandon", peer=s.peer, outcome="ok", target=int(req))
            return  # searches here complete before the next request is read: nothing to stop
        if name == "bindRequest":
            writer.write(self._bind(s, mid, req))
        elif name == "searchRequest":
            await self._search(s, mid, req, controls, writer)
        elif name == "extendedReq":
            await self._extended(s, mid, req, reader, writer)
            return
        elif name == "compareRequest":
            writer.write(self._compare(s, mid, req))
        elif name == "modifyRequest" and s.account is not None:
            writer.write(self._modify(s, mid, req))
        elif name in _WRITE_OPS:
            code, text = (OPERATIONS_ERROR, MSG_NEED_BIND) if s.account is None else (INSUFFICIENT_ACCESS, MSG_ACCESS)
            self.ctx.record("ldap.write", peer=s.peer, outcome=RESULT_NAMES[code], op=name, user=self._who(s))
            writer.write(self._result(mid, _WRITE_OPS[name], code, text))
        else:
            self._protocol_error(s, writer, f"unexpected operation {name}")
            raise Closed()
        await writer.drain()

    @staticmethod
    def _controls(message) -> list[tuple[str, bool, bytes | None]]:
        out = []
        ctrls = message["controls"]
        if ctrls.isValue:
            for c in ctrls:
                value = bytes(c["controlValue"]) if c["controlValue"].isValue else None
                out.append((str(c["controlType"]), bool(c["criticality"]), value))
        return out

    def _who(self, s: Session) -> str | None:
        return s.account.sam if s.account is not None else None

    def _bind(self, s: Session, mid: int, req) -> bytes:
        version = int(req["version"])
        name = str(req["name"])
        auth = req["authentication"]
        s.account, s.bind_name = None, ""   # a bind, whatever its result, starts a new identity
        s.pages.clear()
        if version not in (2, 3):
            self.ctx.record("ldap.bind", peer=s.peer, outcome="protocolError", name=name, version=version)
            return self._result(mid, "bindResponse", PROTOCOL_ERROR, "00000057: LdapErr: unsupported LDAP version")
        if auth.getName() != "simple":
            mech = str(auth.getComponent()["mechanism"]) if auth.getName() == "sasl" else auth.getName()
            self.ctx.record("ldap.bind", peer=s.peer, outcome="authMethodNotSupported", name=name, mechanism=mech)
            return self._result(mid, "bindResponse", AUTH_METHOD_NOT_SUPPORTED, MSG_SASL)
        secret = bytes(auth.getComponent()).decode("utf-8", "replace")
        result = self.directory.authenticate(name, secret)
        del secret
        dn = result.account.entry.dn if result.account is not None else None
        user = result.account.sam if result.account is not None else None
        self.ctx.record("ldap.bind", peer=s.peer, outcome=result.outcome, dn=dn, user=user, name=name)
        if result.outcome == "success":
            s.account, s.bind_name = result.account, name
            return self._result(mid, "bindResponse", SUCCESS)
        if result.outcome == "anonymous":
            return self._result(mid, "bindResponse", SUCCESS)
        return self._result(mid, "bindResponse", INVALID_CREDENTIALS, MSG_BAD_CREDENTIALS.format(result.outcome))

    async def _search(self, s: Session, mid: int, req, controls, writer) -> None:
        base = str(req["baseObject"])
        scope = int(req["scope"])
        size_limit = int(req["sizeLimit"])
        types_only = bool(req["typesOnly"])
        attributes = [str(a) for a in req["attributes"]]
        flt = to_filter(req["filter"])
        event = dict(base=base, scope=SCOPES.get(scope, str(scope)), filter=str(flt), user=self._who(s))

        def done(code: int, text: str = "", matched: str = "", n: int = 0, ctrls=None) -> None:
            writer.write(self._result(mid, "searchResDone", code, text, matched, ctrls))
            self.ctx.record("ldap.search", peer=s.peer, outcome=RESULT_NAMES.get(code, str(code)),
                            entries=n, **event)

        paged = None
        for oid, critical, value in controls:
            if oid == PAGED_RESULTS:
                try:
                    v, _ = ber_decoder.decode(value or b"", asn1Spec=RealSearchControlValue())
                    paged = (int(v["size"]), bytes(v["cookie"]))
                except Exception:
                    return done(PROTOCOL_ERROR, MSG_CONTROL)
            elif critical and oid not in SUPPORTED_CONTROLS:
                return done(UNAVAILABLE_CRITICAL_EXTENSION, MSG_CONTROL)

        if base == "" and scope == 0:
            entry = self.directory.root_dse()
            matched = [entry] if flt.match(entry, self.directory) else []
            for e in matched:
                writer.write(self._entry(mid, "", self.directory.select(e, attributes), types_only))
            return done(SUCCESS, n=len(matched))
        if s.account is None:
            return done(OPERATIONS_ERROR, MSG_NEED_BIND)

        size, cookie = paged if paged is not None else (0, b"")
        try:
            base_key = norm_dn(base) if base else ""
            # A paged search's next page continues from its cookie; anything else searches now.
            results = [] if cookie else self.directory.search(base, scope, flt)
        except NoSuchObject as exc:
            return done(NO_SUCH_OBJECT, MSG_NO_OBJECT.format(exc.matched), exc.matched)
        except InvalidDN:
            return done(INVALID_DN_SYNTAX, MSG_BAD_DN.format(base))
        max_page = self.directory.max_page_size
        if paged is not None:
            key = (base_key, scope, str(flt).lower(), tuple(a.lower() for a in attributes))
            if cookie:
                state = s.pages.pop(cookie, None)
                if state is None or state.key != key:
                    return done(UNWILLING, "00002040: SvcErr: DSID-03100876, problem 5003 (WILL_NOT_PERFORM), data 0\n")
                results = state.remaining
            if size == 0:  # the client abandons the paged search
                return done(SUCCESS, ctrls=[(PAGED_RESULTS, self._paged_value(0, b""))])
            page = min(size, max_page)
            code = SUCCESS
            if size_limit and size_limit < min(page, len(results)):
                page, code = size_limit, SIZE_LIMIT
            now_sent, rest = results[:page], results[page:]
            await self._send(s, mid, now_sent, attributes, types_only, writer)
            next_cookie = b""
            if rest and code == SUCCESS:
                next_cookie = os.urandom(12)
                s.pages[next_cookie] = _Paged(key, rest)
            return done(code, n=len(now_sent), ctrls=[(PAGED_RESULTS, self._paged_value(0, next_cookie))])

        limit = min(size_limit, max_page) if size_limit else max_page
        if len(results) > limit:
            await self._send(s, mid, results[:limit], attributes, types_only, writer)
            return done(SIZE_LIMIT, n=limit)
        await self._send(s, mid, results, attributes, types_only, writer)
        return done(SUCCESS, n=len(results))

    async def _send(self, s: Session, mid: int, entries: list[Entry], attributes: list[str],
                    types_only: bool, writer: asyncio.StreamWriter) -> None:
        for i, e in enumerate(entries, 1):
            writer.write(self._entry(mid, e.dn, self.directory.select(e, attributes), types_only))
            if i % 200 == 0:
                await writer.drain()

    @staticmethod
    def _paged_value(size: int, cookie: bytes) -> bytes:
        v = RealSearchControlValue()
        v["size"] = size
        v["cookie"] = cookie
        return ber_encoder.encode(v)

    def _modify(self, s: Session, mid: int, req) -> bytes:
        dn = str(req["object"])
        ops = {0: "add", 1: "delete", 2: "replace", 3: "increment"}
        changes = []
        for change in req["changes"]:
            mod = change["modification"]
            changes.append((ops.get(int(change["operation"]), "?"), str(mod["type"]),
                            [bytes(v) for v in mod["vals"]]))
        code, text = self.directory.modify(s.account, dn, changes, secure=s.tls)
        # Attribute names and operations only: unicodePwd values are passwords.
        self.ctx.record("ldap.modify", peer=s.peer, outcome=RESULT_NAMES.get(code, str(code)), dn=dn,
                        user=self._who(s), changes=[f"{op} {attr}" for op, attr, _ in changes])
        return self._result(mid, "modifyResponse", code, text)

    def _compare(self, s: Session, mid: int, req) -> bytes:
        dn = str(req["entry"])
        ava = req["ava"]
        attr, value = str(ava["attributeDesc"]), bytes(ava["assertionValue"])
        if s.account is None:
            return self._result(mid, "compareResponse", OPERATIONS_ERROR, MSG_NEED_BIND)
        try:
            entries = self.directory.search(dn, 0, F.Present("objectClass"))
        except NoSuchObject as exc:
            return self._result(mid, "compareResponse", NO_SUCH_OBJECT, MSG_NO_OBJECT.format(exc.matched), exc.matched)
        except InvalidDN:
            return self._result(mid, "compareResponse", INVALID_DN_SYNTAX, MSG_BAD_DN.format(dn))
        entry = entries[0]
        if not entry.values(attr):
            code = NO_SUCH_ATTRIBUTE
        else:
            code = COMPARE_TRUE if F.Compare("=", attr, value).match(entry, self.directory) else COMPARE_FALSE
        self.ctx.record("ldap.compare", peer=s.peer, outcome=RESULT_NAMES[code], dn=dn, attribute=attr,
                        user=self._who(s))
        return self._result(mid, "compareResponse", code)

    async def _extended(self, s: Session, mid: int, req, reader, writer) -> None:
        oid = str(req["requestName"])
        if oid == WHO_AM_I:
            who = f"u:{self.directory.domain.netbios}\\{s.account.sam}" if s.account else ""
            self.ctx.record("ldap.extended", peer=s.peer, outcome="success", oid=oid, user=self._who(s))
            writer.write(self._result(mid, "extendedResp", SUCCESS, responseValue=who.encode()))
        elif oid == START_TLS and self.tls is not None and not s.tls:
            writer.write(self._result(mid, "extendedResp", SUCCESS, responseName=START_TLS))
            await writer.drain()
            try:
                await writer.start_tls(self.tls)
            except Exception as exc:
                self.ctx.record("ldap.starttls", peer=s.peer, outcome="failed", reason=exc.__class__.__name__)
                raise Closed() from None
            s.tls = True
            self.ctx.record("ldap.starttls", peer=s.peer, outcome="success")
            return
        else:
            code = PROTOCOL_ERROR if oid != START_TLS else OPERATIONS_ERROR
            self.ctx.record("ldap.extended", peer=s.peer, outcome=RESULT_NAMES[code], oid=oid)
            writer.write(self._result(mid, "extendedResp", code, MSG_UNKNOWN_EXT))
        await writer.drain()
