"""SASL GSSAPI binds over LDAP (RFC 4752) with the Kerberos V5 mechanism (RFC 4121), as AD takes them.

The exchange, one LDAP bindRequest per step, all on one connection:
1. the client sends the initial context token (RFC 2743 3.1 framing around an AP-REQ for
   `ldap/instancerdc.corp.example.com`): the ticket is opened with the DC's machine key, the
   authenticator checked (`krb_ap.accept`), the PAC's server signature verified as a Windows
   service does, and the client must be an account of the directory that is not disabled, locked
   or expired; the answer is `14 saslBindInProgress` with the AP-REP (mutual authentication);
2. the client sends an empty response: the server answers with a wrap token (RFC 4121 4.2.6.2,
   integrity only) holding its security-layer offer;
3. the client answers with its choice in a wrap token: the bind succeeds and the connection acts
   as the ticket's user.

Security layers: AD offers none, integrity and confidentiality and requires integrity only when
its "LDAP server signing requirements" policy says "Require signing" (off by default before the
2025 hardening). The lab offers "no security layer" only (a lab choice: ldapsearch's defaults
then pick it, and the rest of the connection stays plain LDAP that the lab's other parts read).
A client that insists on a layer (`-O minssf=1`) fails on its side, as against a DC whose policy
it does not meet. Failures are `49 invalidCredentials` with AD's diagnostic (`80090308`, data
`0`: SEC_E_... as a Windows acceptor maps them); the event says which check failed.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import ber, krb_ap, krb_crypto, pac
from . import ldap_results as R
from .accounts import Accounts
from .directory import Directory
from .entry import Account
from .krb_principals import Principals
from .krb_wire import Malformed

KRB5_OID = bytes.fromhex("06092a864886f712010202")      # 1.2.840.113554.1.2.2
TOK_AP_REQ, TOK_AP_REP = b"\x01\x00", b"\x02\x00"
TOK_WRAP = b"\x05\x04"
FLAG_SENT_BY_ACCEPTOR, FLAG_SEALED, FLAG_ACCEPTOR_SUBKEY = 1, 2, 4
# A wrap token is checksummed (and sealed) with the SEAL usages; the SIGN ones are for MIC tokens.
KU_ACCEPTOR_SEAL, KU_INITIATOR_SEAL = 22, 24
GSS_CHECKSUM = 0x8003
GSS_C_MUTUAL_FLAG = 2
LAYER_NONE = 1
_CKSUM = {krb_crypto.AES256: 16, krb_crypto.AES128: 15}


class SaslFailure(Exception):
    """A GSSAPI bind refused; `reason` goes to the event, never to the client."""


@dataclass
class GssContext:
    """One connection's GSSAPI bind in progress."""
    account: Account
    key: krb_crypto.Key               # the initiator's subkey, else the ticket's session key
    send_seq: int
    step: int = 1
    fields: dict[str, str] = field(default_factory=dict)


class GssapiAcceptor:
    def __init__(self, directory: Directory, principals: Principals, now: Callable[[], float], max_skew: float):
        self.directory = directory
        self.accounts = Accounts(directory)
        self.principals = principals
        self.now = now
        self.max_skew = max_skew

    def start(self, token: bytes) -> tuple[GssContext, bytes]:
        """Step 1: the initial context token -> (the context, the AP-REP token to send back)."""
        ap_req = _unframe(token, TOK_AP_REQ)
        try:
            ap = krb_ap.decode(ap_req)
        except Malformed as exc:
            raise SaslFailure(f"AP-REQ does not parse: {exc}") from None
        service = self.principals.service(ap.sname.parts)
        if service is None or service.name != "machine":
            raise SaslFailure(f"ticket for {ap.sname.text}, not for this DC")
        now = self.now()
        try:
            accepted = krb_ap.accept(ap, service.keys, krb_ap.KU_AP_REQ_AUTH, now, self.max_skew)
        except krb_ap.ApError as exc:
            raise SaslFailure(str(exc)) from None
        if accepted.ticket.pac is None:
            raise SaslFailure("ticket without a PAC")
        try:
            pac.verify_server(accepted.ticket.pac, service.key())
        except pac.BadPac as exc:
            raise SaslFailure(str(exc)) from None
        cname = accepted.ticket.cname
        account = self.directory.by_sam.get(cname.parts[0].lower()) if len(cname.parts) == 1 else None
        if account is None:
            raise SaslFailure(f"no account {cname.text}")
        if self.accounts.revoked(account, now):
            raise SaslFailure("account disabled, locked or expired")
        if accepted.checksum_type != GSS_CHECKSUM or len(accepted.checksum) < 24:
            raise SaslFailure("authenticator without the GSS-API checksum (RFC 4121 4.1.1)")
        key = accepted.subkey or accepted.ticket.session_key
        if key.enctype not in _CKSUM:
            raise SaslFailure("the lab's GSSAPI wrap tokens are AES only (RFC 4121)")
        send_seq = int.from_bytes(os.urandom(4), "big") & 0x3FFFFFFF
        ctx = GssContext(account=account, key=key, send_seq=send_seq)
        (gss_flags,) = struct.unpack_from("<I", accepted.checksum, 20)
        if not gss_flags & GSS_C_MUTUAL_FLAG:      # no token to return: the offer comes at once
            return ctx, self.offer(ctx)
        ctx.step = 2
        return ctx, _frame(TOK_AP_REP + krb_ap.encode_ap_rep(accepted, seq_number=send_seq))

    def bind(self, session: Any, mid: int, creds: bytes, record: Callable[..., Any]) -> bytes:
        """One SASL GSSAPI bindRequest on `session` (which keeps `gss` between the steps)."""
        ctx: GssContext | None = session.gss
        try:
            if ctx is None or (not creds and ctx.step != 2):
                session.gss = None
                if ctx is not None and not creds:
                    raise SaslFailure("empty response out of turn")
                ctx, token = self.start(creds)
                session.gss = ctx
                record("ldap.bind", peer=session.peer, outcome="saslBindInProgress", mechanism="GSSAPI",
                       user=ctx.account.sam, step=1)
                return ber.result(mid, "bindResponse", R.SASL_BIND_IN_PROGRESS, serverSaslCreds=token)
            if ctx.step == 2:
                if creds:
                    raise SaslFailure("expected an empty response after the AP-REP")
                token = self.offer(ctx)
                return ber.result(mid, "bindResponse", R.SASL_BIND_IN_PROGRESS, serverSaslCreds=token)
            session.gss = None
            account = self.finish(ctx, creds)
        except SaslFailure as exc:
            session.gss = None
            record("ldap.bind", peer=session.peer, outcome="invalidCredentials", mechanism="GSSAPI",
                   reason=str(exc)[:200])
            return ber.result(mid, "bindResponse", R.INVALID_CREDENTIALS,
                              R.diagnostic(R.BAD_CREDENTIALS, code="0"))
        session.account, session.bind_name = account, account.entry.dn
        record("ldap.bind", peer=session.peer, outcome="success", mechanism="GSSAPI", user=account.sam,
               dn=account.entry.dn)
        return ber.result(mid, "bindResponse", R.SUCCESS)

    def offer(self, ctx: GssContext) -> bytes:
        """Step 2: the server's security layers (none only) and max buffer size 0, wrapped."""
        ctx.step = 3
        return self._wrap(ctx, bytes([LAYER_NONE]) + b"\x00\x00\x00")

    def finish(self, ctx: GssContext, token: bytes) -> Account:
        """Step 3: the client's wrapped choice; the account the connection now acts as."""
        plain = self._unwrap(ctx, token)
        if len(plain) < 4:
            raise SaslFailure("security layer choice too short")
        if plain[0] != LAYER_NONE:
            raise SaslFailure(f"client chose security layer {plain[0]}, only 'none' is offered")
        authzid = plain[4:].decode("utf-8", "replace")
        if authzid and self.directory.find_account(authzid.removeprefix("u:").removeprefix("dn:")) is not ctx.account:
            raise SaslFailure("authorization identity other than the ticket's user")
        return ctx.account

    # -- RFC 4121 wrap tokens ------------------------------------------------------------------
    def _wrap(self, ctx: GssContext, data: bytes) -> bytes:
        kind = _CKSUM[ctx.key.enctype]
        header = TOK_WRAP + bytes([FLAG_SENT_BY_ACCEPTOR, 0xFF]) + struct.pack(">HHQ", 0, 0, ctx.send_seq)
        mac = krb_crypto.checksum(kind, ctx.key, KU_ACCEPTOR_SEAL, data + header)
        ctx.send_seq += 1
        return header[:4] + struct.pack(">HH", len(mac), 0) + header[8:] + data + mac

    def _unwrap(self, ctx: GssContext, token: bytes) -> bytes:
        if len(token) < 16 or token[:2] != TOK_WRAP or token[3] != 0xFF:
            raise SaslFailure("not an RFC 4121 wrap token")
        flags = token[2]
        if flags & FLAG_SENT_BY_ACCEPTOR:
            raise SaslFailure("wrap token from the acceptor's direction (reflected)")
        ec, rrc = struct.unpack(">HH", token[4:8])
        body = token[16:]
        if rrc:
            rrc %= max(len(body), 1)
            body = body[rrc:] + body[:rrc]
        if flags & FLAG_SEALED:
            try:
                plain = krb_crypto.decrypt(ctx.key, KU_INITIATOR_SEAL, body)
            except (krb_crypto.InvalidChecksum, ValueError):
                raise SaslFailure("wrap token does not decrypt") from None
            if len(plain) < ec + 16 or plain[-16:][:2] != TOK_WRAP:
                raise SaslFailure("sealed wrap token without its header copy")
            return plain[:len(plain) - 16 - ec]
        kind = _CKSUM[ctx.key.enctype]
        if ec != 12 or len(body) < 12:
            raise SaslFailure("wrap token's checksum length is not 12")
        data, mac = body[:-12], body[-12:]
        header = token[:4] + b"\x00\x00\x00\x00" + token[8:16]
        if krb_crypto.checksum(kind, ctx.key, KU_INITIATOR_SEAL, data + header) != mac:
            raise SaslFailure("wrap token's checksum does not verify")
        return data


def _frame(inner: bytes) -> bytes:
    """RFC 2743 3.1's InitialContextToken framing: [APPLICATION 0] { mech OID, token }."""
    body = KRB5_OID + inner
    return b"\x60" + _der_length(len(body)) + body


def _unframe(token: bytes, tok_id: bytes) -> bytes:
    if len(token) < 2 or token[0] != 0x60:
        raise SaslFailure("not a GSS-API initial context token")
    length, at = token[1], 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or len(token) < 2 + n:
            raise SaslFailure("bad GSS-API token length")
        length, at = int.from_bytes(token[2:2 + n], "big"), 2 + n
    if at + length != len(token):
        raise SaslFailure("GSS-API token length does not match")
    body = token[at:]
    if not body.startswith(KRB5_OID):
        raise SaslFailure("not the Kerberos V5 mechanism")
    body = body[len(KRB5_OID):]
    if body[:2] != tok_id:
        raise SaslFailure("unexpected GSS-API token id")
    return body[2:]


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw
