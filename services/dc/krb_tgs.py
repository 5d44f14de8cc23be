"""The TGS exchange as an AD domain controller's KDC runs it (RFC 4120 3.3, MS-KILE 3.3.5.7).

A TGS-REQ carries, in PA-TGS-REQ, an AP-REQ with the client's TGT. In order:
1. a TGS-REQ without PA-TGS-REQ is malformed and dropped (no client sends one);
2. the ticket must be a TGT of this realm (KRB_AP_ERR_NOT_US) in krbtgt's key
   (KRB_AP_ERR_BAD_INTEGRITY), with a matching, fresh authenticator (`krb_ap.accept`: 31, 36, 37, 32);
3. the authenticator's keyed checksum of the req-body must verify (KRB_AP_ERR_MODIFIED; none or
   an unkeyed one KRB_AP_ERR_INAPP_CKSUM), and the TGT's PAC signature too (KRB_AP_ERR_MODIFIED);
4. the server name must be one of the KDC's principals (`krb_principals`: the DC's SPNs and its
   machine account, krbtgt for a renewal) -> else KDC_ERR_S_PRINCIPAL_UNKNOWN;
5. the client must still exist (KDC_ERR_C_PRINCIPAL_UNKNOWN) and not have been disabled, locked
   or expired since its logon (KDC_ERR_CLIENT_REVOKED; AD re-checks the account at the TGS);
6. RENEW needs a renewable TGT within its renew-till (KDC_ERR_BADOPTION / KRB_AP_ERR_TKT_EXPIRED);
7. a service ticket: the TGT's PAC copied and signed again (server checksum in the service's key,
   KDC checksum in krbtgt's), in the service's key; the reply in the authenticator's subkey if
   there is one (key usage 9), else the TGT's session key (8).
"""
from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from . import krb_ap, krb_crypto, krb_wire, pac
from .accounts import Accounts
from .directory import Directory
from .krb_as import TICKET_LIFETIME, Outcome
from .krb_principals import Principals
from .krb_wire import Grant, Principal

KU_TGS_REP_SESSION, KU_TGS_REP_SUBKEY = 8, 9
KU_TGS_REQ_AUTH_CKSUM = 6
KRB_AP_ERR_INAPP_CKSUM = 50


class TgsExchange:
    def __init__(self, directory: Directory, principals: Principals, now: Callable[[], float], max_skew: float):
        self.directory = directory
        self.accounts = Accounts(directory)
        self.principals = principals
        self.realm = principals.realm
        self.now = now
        self.max_skew = max_skew

    def handle(self, req: krb_wire.AsRequest) -> Outcome:
        now = self.now()
        fields: dict[str, Any] = {"service": req.sname.text}

        def error(code: int, cname: Principal | None = None, **extra: Any) -> Outcome:
            fields.update(extra)
            reply = krb_wire.encode_error(code, now=now, realm=self.realm, sname=req.sname, cname=cname)
            return Outcome(reply, krb_wire.ERROR_NAMES.get(code, str(code)), fields)

        raw = req.padata.get(krb_wire.PA_TGS_REQ)
        if raw is None:
            raise krb_wire.Malformed("TGS-REQ without PA-TGS-REQ")
        ap = krb_ap.decode(raw)
        tgt_keys = self.principals.krbtgt
        if [p.lower() for p in ap.sname.parts] != ["krbtgt", self.realm.lower()] or ap.realm.upper() != self.realm:
            return error(krb_wire.KRB_AP_ERR_NOT_US, reason="not a TGT of this realm")
        try:
            accepted = krb_ap.accept(ap, tgt_keys.keys, krb_ap.KU_TGS_REQ_AUTH, now, self.max_skew)
        except krb_ap.ApError as exc:
            return error(exc.code, reason=str(exc))
        tgt = accepted.ticket
        fields["user"] = tgt.cname.text
        problem = _body_checksum_problem(accepted, req.body)
        if problem is not None:
            return error(problem, tgt.cname, reason="req-body checksum")
        if req.realm.upper() != self.realm:
            return error(krb_wire.KDC_ERR_WRONG_REALM, tgt.cname)
        if tgt.pac is not None:
            try:
                buffers = pac.parse(tgt.pac)
                pac.verify_server(tgt.pac, tgt_keys.key())   # a TGT's "server" is krbtgt
            except pac.BadPac as exc:
                return error(krb_wire.KRB_AP_ERR_MODIFIED, tgt.cname, reason=str(exc))
        service = self.principals.service(req.sname.parts)
        if service is None:
            return error(krb_wire.KDC_ERR_S_PRINCIPAL_UNKNOWN, tgt.cname)
        account = self.directory.by_sam.get(tgt.cname.parts[0].lower()) if len(tgt.cname.parts) == 1 else None
        if account is None:
            return error(krb_wire.KDC_ERR_C_PRINCIPAL_UNKNOWN, tgt.cname)
        fields["user"] = account.sam
        revoked = self.accounts.revoked(account, now)
        if revoked:
            return error(krb_wire.KDC_ERR_CLIENT_REVOKED, tgt.cname, state=revoked)
        if tgt.pac is None:
            buffers = pac.parse(pac.build(pac.logon_for(self.directory, account, tgt.authtime),
                                          tgt_keys.key(), tgt_keys.key()))

        flags = {f for f in tgt.flags if f in (krb_wire.FORWARDABLE, krb_wire.PROXIABLE, krb_wire.PRE_AUTHENT)}
        renew_till = None
        if krb_wire.OPT_RENEW in req.options:
            if service.name != "krbtgt" or krb_wire.RENEWABLE not in tgt.flags:
                return error(krb_wire.KDC_ERR_BADOPTION, tgt.cname, reason="renewal of a non-renewable ticket")
            if tgt.renew_till is None or tgt.renew_till < now:
                return error(krb_wire.KRB_AP_ERR_TKT_EXPIRED, tgt.cname, reason="past renew-till")
            flags.add(krb_wire.RENEWABLE)
            renew_till = tgt.renew_till
            endtime = min(renew_till, now + TICKET_LIFETIME)
        else:
            till = req.till if req.till and req.till > now else now + TICKET_LIFETIME
            endtime = min(till, tgt.endtime, now + TICKET_LIFETIME)
            if krb_wire.RENEWABLE in req.options and krb_wire.RENEWABLE in tgt.flags and tgt.renew_till:
                flags.add(krb_wire.RENEWABLE)
                renew_till = tgt.renew_till
        etypes = [e for e in req.etypes if e in krb_crypto.SUPPORTED]
        if not etypes:
            return error(krb_wire.KDC_ERR_ETYPE_NOSUPP, tgt.cname)
        ticket_key = service.key(krb_crypto.AES256)
        signed = pac.sign(buffers, ticket_key, tgt_keys.key())
        session = krb_crypto.random_key(etypes[0])
        grant = Grant(realm=self.realm, cname=tgt.cname, sname=req.sname, nonce=req.nonce, flags=flags,
                      session_etype=session.enctype, session_key=session.contents, authtime=tgt.authtime,
                      starttime=now, endtime=endtime, renew_till=renew_till,
                      authorization_data=[krb_ap.pac_authorization_data(signed)])
        ticket_cipher = krb_crypto.encrypt(ticket_key, krb_crypto.KU_TICKET, krb_wire.encode_enc_ticket_part(grant))
        reply_key, usage = ((accepted.subkey, KU_TGS_REP_SUBKEY) if accepted.subkey is not None
                            else (tgt.session_key, KU_TGS_REP_SESSION))
        reply_cipher = krb_crypto.encrypt(reply_key, usage, krb_wire.encode_enc_as_rep_part(grant, tgs=True))
        fields["etype"] = session.enctype
        reply = krb_wire.encode_as_rep(grant, ticket_etype=ticket_key.enctype, ticket_kvno=service.kvno,
                                       ticket_cipher=ticket_cipher, reply_etype=reply_key.enctype,
                                       reply_kvno=None, reply_cipher=reply_cipher, tgs=True)
        return Outcome(reply, "ok", fields)


def _body_checksum_problem(accepted: krb_ap.Accepted, body: bytes) -> int | None:
    """RFC 4120 3.3.2 / 3.3.3: the authenticator checksums the req-body with a keyed checksum in
    the TGT's session key, so nobody can change the server name or options on the way. None when
    it verifies, else the error: an absent or unkeyed checksum, or one of another enctype than the
    session key's (RFC 3961 ties each keyed checksum to its enctype), KRB_AP_ERR_INAPP_CKSUM (50,
    as a KDC that requires one answers); a wrong one KRB_AP_ERR_MODIFIED (41)."""
    kind = accepted.checksum_type
    session_key = accepted.ticket.session_key
    if kind is None or krb_crypto.CHECKSUM_ENCTYPES.get(kind) != session_key.enctype:
        return KRB_AP_ERR_INAPP_CKSUM
    expected = krb_crypto.checksum(kind, session_key, KU_TGS_REQ_AUTH_CKSUM, body)
    return None if hmac.compare_digest(expected, accepted.checksum) else krb_wire.KRB_AP_ERR_MODIFIED
