"""The Kerberos password-change service (port kind `kpasswd`, 464 UDP and TCP), as AD runs it.

Wire format (RFC 3244 section 2; the TCP form has RFC 4120's 4-byte length prefix in front):
message length (2) | version (2) | AP-REQ length (2) | AP-REQ | KRB-PRIV.
- version 1, "change password" (what MIT `kpasswd` sends): the KRB-PRIV's user-data is the new
  password; the ticket must be an INITIAL one for `kadmin/changepw` (from an AS exchange, so the
  old password was just proved) -> else KRB5_KPASSWD_INITIAL_FLAG_NEEDED (7);
- version 0xff80, "set password" (RFC 3244's ChangePasswdData): may name another target
  account, which only a domain admin may do -> else KRB5_KPASSWD_ACCESSDENIED (5).
The ticket is opened with krbtgt's key (kadmin/changepw is an SPN of AD's krbtgt account), the
authenticator checked (`krb_ap.accept`; a failure is KRB5_KPASSWD_AUTHERROR 3), the KRB-PRIV
decrypted with the authenticator's subkey. The new password must meet the domain's policy, the same
rules an LDAP `unicodePwd` change meets (`modify.MIN_PASSWORD_LENGTH`): else
KRB5_KPASSWD_SOFTERROR (4) whose result string is AD's 30-byte policy block (min length, history,
properties, max and min age; the layout MIT's client decodes), which MIT turns into sentences
for the user. Then `Directory.set_password`: LDAP binds and
the KDC's keys follow at once, pwdLastSet is now (clearing "must change").
The reply: the same framing, an AP-REP, and a KRB-PRIV (result code 2 bytes + result string) in
the subkey. A request that does not parse gets KRB5_KPASSWD_MALFORMED (1) in a KRB-ERROR.
"""
from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from typing import Any

from impacket.krb5 import asn1
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import namedtype, univ

from services.common.context import ServiceContext
from services.common.udp import ReplyFromDestination

from . import krb_ap, krb_crypto, krb_wire
from .directory import Directory
from .entry import Account
from .krb_principals import Principals
from .krb_wire import Malformed, Principal
from .modify import MIN_PASSWORD_LENGTH
from .names import seconds_as_interval

VERSION_CHANGE, VERSION_SET = 1, 0xFF80
SUCCESS, MALFORMED, HARDERROR, AUTHERROR, SOFTERROR, ACCESSDENIED, BAD_VERSION, INITIAL_FLAG_NEEDED = range(8)
RESULT_NAMES = ["SUCCESS", "MALFORMED", "HARDERROR", "AUTHERROR", "SOFTERROR", "ACCESSDENIED", "BAD_VERSION",
                "INITIAL_FLAG_NEEDED"]
KU_KRB_PRIV = 13
TCP_MAX_MESSAGE = 65536


class ChangePasswdData(univ.Sequence):
    """RFC 3244 2: the set-password request's user-data. Declared here with impacket's ASN.1
    helpers rather than imported from `impacket.krb5.kpasswd`, whose client code (kerberosv5,
    ccache, DCE/RPC enums) cost the DC ~4.7 MB of RSS for this one three-field type."""
    componentType = namedtype.NamedTypes(
        asn1._sequence_component("newpasswd", 0, univ.OctetString()),      # the new password, in clear
        asn1._sequence_optional_component("targname", 1, asn1.PrincipalName()),
        asn1._sequence_optional_component("targrealm", 2, asn1.Realm()),
    )


class KpasswdService:
    def __init__(self, ctx: ServiceContext, directory: Directory, principals: Principals,
                 now: Callable[[], float], max_skew: float):
        self.ctx = ctx
        self.directory = directory
        self.principals = principals
        self.now = now
        self.max_skew = max_skew
        self.port = ctx.port("kpasswd")
        self.address = socket.inet_aton(ctx.host) if _is_ipv4(ctx.host) else b"\x7f\x00\x00\x01"

    async def answer(self, data: bytes, peer: str, transport: str, local: str | None = None) -> bytes | None:
        """The reply to one request; `local` is the address it was sent to, which the reply's
        KRB-PRIV names as its sender (s-address: the client checks it against the address it
        asked, so on a wildcard bind the bind address would not do)."""
        gate = self.ctx.faults.gate("kerberos", peer, self.port)
        if gate.drop:
            self.ctx.record("kerberos.kpasswd", peer=peer, outcome="dropped", transport=transport)
            return None
        if gate.delay > 0:
            await asyncio.sleep(gate.delay)
        fields: dict[str, Any] = {}
        try:
            reply, code = self._handle(data, fields, self._sender(local))
        except Malformed as exc:
            self.ctx.record("kerberos.kpasswd", peer=peer, outcome="MALFORMED", transport=transport,
                            reason=str(exc)[:120])
            return krb_wire.encode_error(MALFORMED, now=self.now(), realm=self.principals.realm,
                                         sname=Principal(krb_wire.NT_PRINCIPAL, ["kadmin", "changepw"]),
                                         e_text="malformed kpasswd request")
        except Exception:  # a bug must cost one request, never the service
            self.ctx.log.exception("kpasswd: error answering %s", peer)
            return None
        self.ctx.record("kerberos.kpasswd", peer=peer, outcome=RESULT_NAMES[code], transport=transport, **fields)
        return reply

    def _sender(self, local: str | None) -> bytes:
        if local is not None and _is_ipv4(local) and local != "0.0.0.0":
            return socket.inet_aton(local)
        return self.address

    def _handle(self, data: bytes, fields: dict[str, Any], sender: bytes) -> tuple[bytes, int]:
        if len(data) < 6:
            raise Malformed("shorter than the kpasswd header")
        length, version, ap_len = struct.unpack_from(">HHH", data)
        if length != len(data) or 6 + ap_len > len(data):
            raise Malformed("lengths do not add up")
        fields["version"] = version
        ap = krb_ap.decode(data[6:6 + ap_len])
        priv = data[6 + ap_len:]
        now = self.now()
        if self.principals.service(ap.sname.parts) is not self.principals.kadmin:
            raise Malformed(f"ticket for {ap.sname.text}, not kadmin/changepw")
        try:
            accepted = krb_ap.accept(ap, self.principals.kadmin.keys, krb_ap.KU_AP_REQ_AUTH, now, self.max_skew)
        except krb_ap.ApError as exc:
            fields["reason"] = str(exc)
            raise Malformed(f"AP-REQ refused: {exc}") from None
        key = accepted.subkey or accepted.ticket.session_key
        user_data = self._open_priv(priv, key)

        def reply(code: int, text: bytes = b"") -> tuple[bytes, int]:
            return self._reply(accepted, key, code, text, sender), code

        cname = accepted.ticket.cname
        client = self.directory.by_sam.get(cname.parts[0].lower()) if len(cname.parts) == 1 else None
        if client is None:
            return reply(AUTHERROR, b"Unknown client")
        fields["user"] = client.sam
        target: Account | None
        if version == VERSION_CHANGE:
            if krb_wire.INITIAL not in accepted.ticket.flags:
                return reply(INITIAL_FLAG_NEEDED, b"Initial ticket needed")
            target, password = client, user_data
        elif version == VERSION_SET:
            target, password = self._set_request(user_data, client)
            if target is None:
                return reply(ACCESSDENIED, b"Access denied")
        else:
            return reply(BAD_VERSION, b"Bad version")
        fields["target"] = target.sam
        try:
            new = password.decode("utf-8")
        except UnicodeDecodeError:
            return reply(MALFORMED, b"Malformed request error")
        if len(new) < MIN_PASSWORD_LENGTH:
            return reply(SOFTERROR, self._policy_block())
        self.directory.set_password(target, new)
        return reply(SUCCESS, b"Password changed")

    def _set_request(self, user_data: bytes, client: Account) -> tuple[Account | None, bytes]:
        try:
            req, _ = decoder.decode(user_data, asn1Spec=ChangePasswdData())
        except krb_wire._DECODE_ERRORS as exc:
            raise Malformed(f"ChangePasswdData: {exc}") from None
        target: Account | None = client
        if req["targname"].isValue:
            name = krb_wire._principal(req["targname"])
            target = self.directory.by_sam.get(name.parts[0].lower()) if len(name.parts) == 1 else None
            if target is None and self.directory.is_admin(client):
                raise Malformed(f"no account {name.text}")
            if target is not client and not self.directory.is_admin(client):
                return None, b""
        return target, bytes(req["newpasswd"])

    def _policy_block(self) -> bytes:
        """AD's password policy as a kpasswd result string: 0x0000, min length, history length,
        properties (bit 0: complexity), max age, min age (big-endian, ages in 100 ns intervals).
        The lab's policy as it is enforced: a minimum length only (no history, no complexity, no
        minimum age), so the message MIT prints names only the rule that was broken."""
        max_age = seconds_as_interval(self.directory.policy.max_password_age)
        return struct.pack(">HIIIQQ", 0, MIN_PASSWORD_LENGTH, 0, 0, abs(max_age), 0)

    # -- KRB-PRIV ------------------------------------------------------------------------------
    @staticmethod
    def _open_priv(data: bytes, key: krb_crypto.Key) -> bytes:
        try:
            priv, _ = decoder.decode(data, asn1Spec=asn1.KRB_PRIV())
            plain = krb_crypto.decrypt(key, KU_KRB_PRIV, bytes(priv["enc-part"]["cipher"]))
            part, _ = decoder.decode(plain, asn1Spec=asn1.EncKrbPrivPart())
        except (krb_crypto.InvalidChecksum, *krb_wire._DECODE_ERRORS) as exc:
            raise Malformed(f"KRB-PRIV: {exc or exc.__class__.__name__}") from None
        return bytes(part["user-data"])

    def _reply(self, accepted: krb_ap.Accepted, key: krb_crypto.Key, code: int, text: bytes, sender: bytes) -> bytes:
        part = asn1.EncKrbPrivPart()
        part["user-data"] = struct.pack(">H", code) + text
        if accepted.seq_number is not None:
            part["seq-number"] = accepted.seq_number
        part["s-address"]["addr-type"] = 2
        part["s-address"]["address"] = sender
        priv = asn1.KRB_PRIV()
        priv["pvno"] = 5
        priv["msg-type"] = 21
        priv["enc-part"]["etype"] = key.enctype
        priv["enc-part"]["cipher"] = krb_crypto.encrypt(key, KU_KRB_PRIV, encoder.encode(part))
        ap_rep = krb_ap.encode_ap_rep(accepted)
        body = encoder.encode(priv)
        return struct.pack(">HHH", 6 + len(ap_rep) + len(body), 1, len(ap_rep)) + ap_rep + body

    # -- transports ----------------------------------------------------------------------------
    def udp_server(self, sock: socket.socket) -> ReplyFromDestination:
        """The UDP task: each reply from the address its request was sent to (IP_PKTINFO)."""
        return ReplyFromDestination(sock, self.answer, self.ctx.log, "kpasswd")

    async def handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or ("?",))[0]
        local = (writer.get_extra_info("sockname") or (None,))[0]
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(4), 30)
                    (length,) = struct.unpack("!I", head)
                    if length == 0 or length > TCP_MAX_MESSAGE:
                        return
                    data = await asyncio.wait_for(reader.readexactly(length), 10)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    return
                out = await self.answer(data, peer, "tcp", local)
                if out is None:
                    return
                writer.write(struct.pack("!I", len(out)) + out)
                await writer.drain()
        finally:
            writer.close()


def _is_ipv4(host: str) -> bool:
    try:
        socket.inet_aton(host)
        return True
    except OSError:
        return False
