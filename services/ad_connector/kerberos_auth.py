"""Proving a user's password the way AD Connector does: a Kerberos AS exchange with the DC.

AWS: "AD Connector uses Kerberos for authentication ... LDAP is only used for user and group
object lookups", and pre-authentication must be enabled on the accounts. So the connector sends
  1. an AS-REQ for krbtgt/REALM without pre-authentication; the KDC answers
     KDC_ERR_PREAUTH_REQUIRED with PA-ETYPE-INFO2 (which enctype, which salt);
  2. an AS-REQ with PA-ENC-TIMESTAMP: the connector's clock, encrypted in the key derived from the
     password; an AS-REP whose enc-part decrypts with that key proves the password.
UDP first, from the connector's own address, and TCP (4-byte length prefix) when the KDC says
KRB_ERR_RESPONSE_TOO_BIG; or TCP only.

Kerberos cannot tell a disabled account from a locked or expired one (all KDC_ERR_CLIENT_REVOKED),
nor "must change password" from "password expired" (both KDC_ERR_KEY_EXPIRED): `explain()` asks
LDAP, with the service account, which it was, so the connector keeps AD's sub-codes.

The messages are written and read by krb_der.py (RFC 4120's DER layouts); the ciphers are
services/common/krb_crypto.py's (RFC 3961/3962/4757), the plumbing the DC's KDC uses too. This
module shares no Kerberos message code with the DC: they are different services.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.common import ad_wire
from services.common import krb_crypto as kcrypto

from . import krb_der as der
from .krb_der import DerError
from .service_account import LookupFailed, ServiceAccount, by_sam, find_entry
from .udp_socket import connected_udp

AES256, AES128, RC4 = 18, 17, 23
ETYPES = (AES256, AES128, RC4)              # what AD Connector offers, strongest first
PA_ENC_TIMESTAMP, PA_ETYPE_INFO2 = 2, 19
NT_PRINCIPAL, NT_SRV_INST, NT_ENTERPRISE = 1, 2, 10
FORWARDABLE, RENEWABLE = 1, 8

KDC_ERR_C_PRINCIPAL_UNKNOWN = 6
KDC_ERR_CLIENT_REVOKED = 18
KDC_ERR_KEY_EXPIRED = 23
KDC_ERR_PREAUTH_FAILED = 24
KDC_ERR_PREAUTH_REQUIRED = 25
KRB_AP_ERR_SKEW = 37
KRB_ERR_RESPONSE_TOO_BIG = 52
ERROR_NAMES = {6: "KDC_ERR_C_PRINCIPAL_UNKNOWN", 7: "KDC_ERR_S_PRINCIPAL_UNKNOWN",
               14: "KDC_ERR_ETYPE_NOSUPP", 18: "KDC_ERR_CLIENT_REVOKED", 23: "KDC_ERR_KEY_EXPIRED",
               24: "KDC_ERR_PREAUTH_FAILED", 25: "KDC_ERR_PREAUTH_REQUIRED", 37: "KRB_AP_ERR_SKEW",
               52: "KRB_ERR_RESPONSE_TOO_BIG", 68: "KDC_ERR_WRONG_REALM"}


_DECODE_ERRORS = (DerError, ValueError, TypeError, KeyError, IndexError, UnicodeError, OverflowError)


class KdcUnreachable(Exception):
    """No answer (or no connection) from the KDC within the time budget."""


class KdcRefused(KdcUnreachable):
    """Nothing listens on the Kerberos port (ICMP port unreachable, TCP reset): the host has no
    KDC at all, as opposed to a KDC that is filtered or silent."""


class BadReply(Exception):
    """The KDC answered something that is not a usable Kerberos reply."""


@dataclass
class AsResult:
    ok: bool
    outcome: str            # "ok", a Kerberos error name, "unreachable", "refused" or "bad_reply"
    error_code: int | None = None
    transport: str = "udp"
    etype: int | None = None
    detail: str = ""


def principal_for(username: str) -> tuple[int, str]:
    """The client name AD Connector would send for what the user typed: `alice` and `CORP\\alice`
    as an NT-PRINCIPAL sAMAccountName, `alice@corp.example.com` as an NT-ENTERPRISE name (a UPN)."""
    if "\\" in username:
        return NT_PRINCIPAL, username.split("\\", 1)[1]
    if "@" in username:
        return NT_ENTERPRISE, username
    return NT_PRINCIPAL, username


async def authenticate(host: str, port: int, realm: str, username: str, password: str, *,
                       source: str | None = None, now: Callable[[], float] = time.time,
                       timeout: float = 3.0, udp_retries: int = 1, transport: str = "udp",
                       udp_fallback: str = "tcp") -> AsResult:
    """One AS exchange proving `password`. Never raises for what the network or the KDC does.
    `udp_fallback` "tcp": when the KDC does not answer over UDP (88/udp filtered), the exchange is
    tried over TCP; "none": that is the end of it (unreachable)."""
    realm = realm.upper()
    name_type, name = principal_for(username)
    channel = _Channel(host, port, source, timeout, udp_retries, transport, udp_fallback)
    try:
        first = await channel.exchange(_as_req(realm, name_type, name, nonce=_nonce(), padata=None))
        kind, msg = _decode_reply(first)
        if kind == "error" and int(msg["error-code"]) != KDC_ERR_PREAUTH_REQUIRED:
            return _error_result(msg, channel.used)
        etype, salt = _choose_etype(msg if kind == "error" else None, realm, name, name_type)
        key = string_to_key(etype, password, salt)
        if kind == "rep":   # the KDC asked for no pre-authentication: the reply itself is the proof
            return _check_rep(msg, key, None, channel.used)
        nonce = _nonce()
        second = await channel.exchange(_as_req(realm, name_type, name, nonce=nonce,
                                                padata=_enc_timestamp(key, now())))
        kind, msg = _decode_reply(second)
        if kind == "error":
            return _error_result(msg, channel.used, etype)
        return _check_rep(msg, key, nonce, channel.used)
    except KdcRefused as exc:
        return AsResult(False, "refused", transport=channel.used, detail=str(exc))
    except KdcUnreachable as exc:
        return AsResult(False, "unreachable", transport=channel.used, detail=str(exc))
    except BadReply as exc:
        return AsResult(False, "bad_reply", transport=channel.used, detail=str(exc))


def string_to_key(etype: int, password: str, salt: str) -> kcrypto.Key:
    """RFC 3962 / 4757 string2key (PBKDF2 through hashlib).

    A pure function of (etype, password, salt), so the result is kept for the next sign-in of the
    same account (4096 PBKDF2 rounds were the connector's largest single cost). Only the key is
    computed once: every sign-in still makes its own AS exchange with the KDC, which alone decides
    whether the password is right. The cache is keyed by a digest, never the password itself."""
    digest = hashlib.sha256(b"%d\0%s\0%s" % (etype, salt.encode("utf-8"), password.encode("utf-8"))).digest()
    key = _derived.get(digest)
    if key is None:
        key = kcrypto.string_to_key(etype, password, salt)
        if len(_derived) >= _DERIVED_MAX:
            _derived.pop(next(iter(_derived)))          # the oldest first
        _derived[digest] = key
    return key


_DERIVED_MAX = 1024
_derived: dict[bytes, kcrypto.Key] = {}


# -- what Kerberos cannot say ------------------------------------------------------------------
async def explain(error_code: int, host: str, port: int, account: ServiceAccount, sam_account_name: str,
                  source: str | None = None) -> str:
    """AD's sub-code behind CLIENT_REVOKED (533 disabled, 775 locked, 701 expired) or KEY_EXPIRED
    (773 must change, 532 expired), read over LDAP with the connector's service account.
    Falls back to 533 / 532 when LDAP cannot say."""
    default = ad_wire.ACCOUNT_DISABLED if error_code == KDC_ERR_CLIENT_REVOKED else ad_wire.PASSWORD_EXPIRED
    try:
        entry = await find_entry(host, port, account, by_sam(sam_account_name),
                                 ["userAccountControl", "msDS-User-Account-Control-Computed", "accountExpires",
                                  "pwdLastSet"], source)
    except LookupFailed:
        return default
    if entry is None:
        return default
    def number(attr: str) -> int:
        try:
            return int((entry.get(attr) or [b"0"])[0])
        except (ValueError, IndexError):
            return 0

    if error_code == KDC_ERR_KEY_EXPIRED:
        return ad_wire.MUST_CHANGE_PASSWORD if number("pwdLastSet") == 0 else ad_wire.PASSWORD_EXPIRED
    if number("userAccountControl") & ad_wire.UF_ACCOUNTDISABLE:
        return ad_wire.ACCOUNT_DISABLED
    if number("msDS-User-Account-Control-Computed") & ad_wire.UF_LOCKOUT:
        return ad_wire.ACCOUNT_LOCKED
    # Neither disabled nor locked: the KDC's one remaining reason to revoke is an expired account
    # (judged on the DC's clock, which is why it is not recomputed here).
    return ad_wire.ACCOUNT_EXPIRED


# -- messages ----------------------------------------------------------------------------------
def _nonce() -> int:
    return random.getrandbits(31)


def _ktime(epoch: float) -> str:
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(epoch))


def _as_req(realm: str, name_type: int, name: str, *, nonce: int, padata: bytes | None) -> bytes:
    return der.as_req(realm=realm, name_type=name_type, name=name, sname=["krbtgt", realm], sname_type=NT_SRV_INST,
                      till=_ktime(time.time() + 10 * 3600), nonce=nonce, etypes=ETYPES,
                      options=(FORWARDABLE, RENEWABLE),
                      padata=[(PA_ENC_TIMESTAMP, padata)] if padata is not None else ())


def _enc_timestamp(key: kcrypto.Key, now: float) -> bytes:
    ts = der.pa_enc_ts_enc(_ktime(now), int((now % 1) * 1_000_000))
    confounder = os.urandom(8 if key.enctype == RC4 else 16)
    return der.encrypted_data(key.enctype, kcrypto.encrypt(key, 1, ts, confounder))


def _decode_reply(data: bytes) -> tuple[str, dict[str, Any]]:
    """("error", {"error-code", "e-data"}) for a KRB-ERROR, ("rep", {"enc-part": {"etype", "cipher"}})
    for an AS-REP; raises BadReply for anything else."""
    try:
        tag, value, _ = der.read_tlv(data)       # octets after the message are ignored
        if tag == der.KRB_ERROR:
            found = der.sequence_fields(value)
            e_data = der.as_octets(found[12]) if 12 in found else None
            return "error", {"error-code": der.as_int(der.required(found, 6, "error-code")), "e-data": e_data}
        if tag == der.AS_REP:
            enc = der.sequence_fields(der.required(der.sequence_fields(value), 6, "enc-part"))
            return "rep", {"enc-part": {"etype": der.as_int(der.required(enc, 0, "etype")),
                                        "cipher": der.as_octets(der.required(enc, 2, "cipher"))}}
    except _DECODE_ERRORS as exc:
        raise BadReply(f"undecodable reply: {exc}") from None
    raise BadReply("reply is neither AS-REP nor KRB-ERROR")


def _choose_etype(err: dict[str, Any] | None, realm: str, name: str, name_type: int) -> tuple[int, str]:
    """The first PA-ETYPE-INFO2 entry we support, with its salt (AD's default salt otherwise)."""
    default_salt = realm + (name.split("@")[0] if name_type == NT_ENTERPRISE else name)
    if err is not None and err.get("e-data") is not None:
        try:
            for pa in der.sequence_of(err["e-data"]):                          # METHOD-DATA
                pa_fields = der.sequence_fields(pa)
                if der.as_int(der.required(pa_fields, 1, "padata-type")) != PA_ETYPE_INFO2:
                    continue
                info = der.as_octets(der.required(pa_fields, 2, "padata-value"))
                for entry in der.sequence_of(info):                             # ETYPE-INFO2
                    entry_fields = der.sequence_fields(entry)
                    etype = der.as_int(der.required(entry_fields, 0, "etype"))
                    if etype in ETYPES:
                        salt = der.as_string(entry_fields[1]) if 1 in entry_fields else default_salt
                        return etype, salt
        except _DECODE_ERRORS as exc:
            raise BadReply(f"undecodable PREAUTH_REQUIRED e-data: {exc}") from None
    return AES256, default_salt


def _error_result(err: dict[str, Any], transport: str, etype: int | None = None) -> AsResult:
    code = int(err["error-code"])
    return AsResult(False, ERROR_NAMES.get(code, f"KRB_ERROR_{code}"), code, transport, etype)


def _check_rep(rep: dict[str, Any], key: kcrypto.Key, nonce: int | None, transport: str) -> AsResult:
    """The password is right iff the AS-REP's enc-part decrypts with its key (usage 3)."""
    if int(rep["enc-part"]["etype"]) != key.enctype:
        raise BadReply("AS-REP encrypted in an enctype the pre-authentication did not use")
    try:
        plain = kcrypto.decrypt(key, 3, bytes(rep["enc-part"]["cipher"]))
    except (kcrypto.InvalidChecksum, ValueError):
        return AsResult(False, "KDC_ERR_PREAUTH_FAILED", KDC_ERR_PREAUTH_FAILED, transport, key.enctype,
                        "AS-REP does not decrypt with the password's key")
    try:
        # EncASRepPart, or EncTGSRepPart as Windows KDCs tag it; padding after it is ignored
        tag, value, _ = der.read_tlv(plain)
        if tag not in (der.ENC_AS_REP_PART, der.ENC_TGS_REP_PART):
            raise DerError(f"tag 0x{tag:02x} is not EncASRepPart")
        got = der.as_int(der.required(der.sequence_fields(value), 2, "nonce"))
    except _DECODE_ERRORS as exc:
        raise BadReply(f"undecodable EncASRepPart: {exc}") from None
    if nonce is not None and got != nonce:
        raise BadReply("AS-REP nonce does not match the request")
    return AsResult(True, "ok", None, transport, key.enctype)


# -- transport ---------------------------------------------------------------------------------
class _Channel:
    """UDP (with retries, then TCP on RESPONSE_TOO_BIG) or TCP, leaving from `source`."""

    def __init__(self, host: str, port: int, source: str | None, timeout: float, retries: int,
                 transport: str, udp_fallback: str = "tcp"):
        self.host, self.port, self.source = host, port, source
        self.timeout, self.retries = timeout, retries
        self.used = transport
        self.udp_fallback = udp_fallback

    async def exchange(self, request: bytes) -> bytes:
        if self.used == "udp":
            try:
                reply = await self._udp(request)
            except KdcUnreachable:
                if self.udp_fallback != "tcp":
                    raise
                self.used = "tcp"          # silence over UDP: the same request over TCP
                return await self._tcp(request)
            if not _is_too_big(reply):
                return reply
            self.used = "tcp"
        return await self._tcp(request)

    async def _udp(self, request: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        got: asyncio.Future[bytes] = loop.create_future()
        host, port = self.host, self.port

        class _Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data, _addr):
                if not got.done():
                    got.set_result(data)

            def error_received(self, exc):
                if isinstance(exc, ConnectionRefusedError) and not got.done():
                    got.set_exception(KdcRefused(f"udp {host}:{port}: connection refused"))

        try:
            sock_transport, _ = await connected_udp(_Proto, self.host, self.port, self.source)
        except OSError as exc:
            raise KdcUnreachable(f"udp {self.host}:{self.port}: {exc.strerror or exc}") from None
        try:
            for _ in range(self.retries + 1):
                sock_transport.sendto(request)
                try:
                    return await asyncio.wait_for(asyncio.shield(got), self.timeout)
                except TimeoutError:
                    continue
            raise KdcUnreachable(f"no Kerberos reply from {self.host}:{self.port}/udp")
        finally:
            sock_transport.close()

    async def _tcp(self, request: bytes) -> bytes:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                self.host, self.port, local_addr=(self.source, 0) if self.source else None), self.timeout)
        except ConnectionRefusedError:
            raise KdcRefused(f"tcp {self.host}:{self.port}: connection refused") from None
        except (TimeoutError, OSError) as exc:
            raise KdcUnreachable(f"tcp {self.host}:{self.port}: {getattr(exc, 'strerror', None) or exc!r}") from None
        try:
            writer.write(struct.pack("!I", len(request)) + request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readexactly(4), self.timeout)
            (length,) = struct.unpack("!I", head)
            if length > 1 << 20:
                raise BadReply("reply length prefix out of range")
            return await asyncio.wait_for(reader.readexactly(length), self.timeout)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            raise KdcUnreachable(f"no Kerberos reply from {self.host}:{self.port}/tcp ({exc!r})") from None
        finally:
            writer.close()


def _is_too_big(reply: bytes) -> bool:
    if reply[:1] != b"\x7e":
        return False
    try:
        kind, err = _decode_reply(reply)
    except BadReply:
        return False
    return kind == "error" and err["error-code"] == KRB_ERR_RESPONSE_TOO_BIG
