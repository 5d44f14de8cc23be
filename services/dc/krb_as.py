"""The AS exchange as an AD domain controller's KDC runs it (RFC 4120 3.1, with AD's rules).

Order of the checks, as AD does them, for an AS-REQ naming `client@CORP.EXAMPLE.COM`:
1. realm and server (krbtgt/REALM, or kadmin/changepw for a password change) must be ours;
2. the client must exist (sAMAccountName case-insensitively, or a UPN / enterprise name)
   -> KDC_ERR_C_PRINCIPAL_UNKNOWN;
3. a disabled, locked-out or expired account is refused before any password is looked at
   -> KDC_ERR_CLIENT_REVOKED (this is why AD Connector must ask LDAP which of the three it was);
4. no PA-ENC-TIMESTAMP -> KDC_ERR_PREAUTH_REQUIRED with PA-ETYPE-INFO2 (etypes and salts);
5. a timestamp that does not decrypt is a bad password: it counts toward lockout exactly as a
   failed LDAP bind does (the directory's own counter) -> KDC_ERR_PREAUTH_FAILED;
6. a timestamp more than `max_skew` from the DC's clock -> KRB_AP_ERR_SKEW;
7. an expired password or "must change at next logon" -> KDC_ERR_KEY_EXPIRED (only revealed
   to someone who knows the password, as with LDAP's 532/773);
8. otherwise a TGT, and the logon resets badPwdCount as a good bind does.

The account rules (states, counting, logon) are `accounts.py`'s, the same the LDAP bind uses.
See docs/active-directory.md ("Kerberos").

The TGT carries a PAC (`pac.py`) as AD's do; service tickets come from the TGS (`krb_tgs.py`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import krb_ap, krb_as_req, krb_crypto, krb_wire, pac
from .accounts import Accounts
from .directory import Directory
from .entry import Account
from .krb_keys import KeyTable
from .krb_principals import Principals
from .krb_wire import Grant, Principal

TICKET_LIFETIME = 10 * 3600.0       # AD's default "Maximum lifetime for user ticket"
RENEW_LIFETIME = 7 * 86400.0        # AD's default "Maximum lifetime for user ticket renewal"


@dataclass
class Outcome:
    """A reply and what the journal should say about it (never a key or a password)."""
    reply: bytes
    outcome: str                    # "ok", "preauth_required" or an error name
    fields: dict[str, Any] = field(default_factory=dict)


class AsExchange:
    def __init__(self, directory: Directory, keys: KeyTable, principals: Principals,
                 now: Callable[[], float], max_skew: float):
        self.directory = directory
        self.accounts = Accounts(directory)
        self.keys = keys
        self.principals = principals
        self.now = now
        self.max_skew = max_skew
        self.realm = keys.realm

    def handle(self, req: krb_wire.AsRequest) -> Outcome:
        now = self.now()
        sname = req.sname
        requested = req.cname.parts[0] if len(req.cname.parts) == 1 else req.cname.text
        fields: dict[str, Any] = {"user": requested}

        def error(code: int, cname: Principal | None = req.cname, **extra: Any) -> Outcome:
            fields.update(extra)
            reply = krb_wire.encode_error(code, now=now, realm=self.realm, sname=sname, cname=cname)
            return Outcome(reply, krb_wire.ERROR_NAMES[code], fields)

        if req.realm.upper() != self.realm:
            return error(krb_wire.KDC_ERR_WRONG_REALM)
        service = self._service(req.sname)
        if service is None:
            return error(krb_wire.KDC_ERR_S_PRINCIPAL_UNKNOWN, service=sname.text)
        account = self._client(req.cname)
        if account is None:
            return error(krb_wire.KDC_ERR_C_PRINCIPAL_UNKNOWN)
        fields["user"] = account.sam
        revoked = self.accounts.revoked(account, now)
        if revoked:
            return error(krb_wire.KDC_ERR_CLIENT_REVOKED, state=revoked)
        etypes = [e for e in req.etypes if e in krb_crypto.SUPPORTED]
        if not etypes:
            return error(krb_wire.KDC_ERR_ETYPE_NOSUPP)

        if krb_wire.PA_ENC_TIMESTAMP not in req.padata:
            info = [(e, None if e == krb_crypto.RC4 else self.keys.salt(account)) for e in etypes]
            fields["etype"] = etypes[0]
            reply = krb_wire.encode_error(krb_wire.KDC_ERR_PREAUTH_REQUIRED, now=now, realm=self.realm,
                                          sname=sname, cname=req.cname, e_data=krb_wire.method_data(info))
            return Outcome(reply, "preauth_required", fields)

        pa_etype, cipher = krb_as_req.enc_timestamp(req.padata[krb_wire.PA_ENC_TIMESTAMP])
        fields["etype"] = pa_etype
        if pa_etype not in krb_crypto.SUPPORTED:
            return error(krb_wire.KDC_ERR_ETYPE_NOSUPP)
        client_key = self.keys.key(account, pa_etype)
        if client_key is None:
            # The password was set by a path the key table did not see: refuse, but do not count
            # it against the user, who may well have typed the right password.
            fields["reason"] = "no key for the current password"
            return error(krb_wire.KDC_ERR_PREAUTH_FAILED)
        try:
            plaintext = krb_crypto.decrypt(client_key, krb_crypto.KU_PA_ENC_TIMESTAMP, cipher)
        except (krb_crypto.InvalidChecksum, ValueError):
            self.accounts.bad_password(account, now)
            fields["bad_pwd_count"] = account.entry.int("badPwdCount")
            return error(krb_wire.KDC_ERR_PREAUTH_FAILED)
        client_time = krb_as_req.ts_enc(plaintext)   # Malformed (dropped) if not a timestamp
        if abs(client_time - now) > self.max_skew:
            return error(krb_wire.KRB_AP_ERR_SKEW, skew_seconds=round(client_time - now))
        expired = None if service == "kadmin" else self.accounts.key_expired(account, now)
        if expired:
            return error(krb_wire.KDC_ERR_KEY_EXPIRED, state=expired)

        if service == "krbtgt":
            self.accounts.logged_on(account, now)
        else:   # a password change ticket proves the password but is no logon
            self.accounts.password_proved(account)
        return Outcome(self._as_rep(req, account, service, client_key, etypes[0], now), "ok", fields)

    # -- names ---------------------------------------------------------------------------------
    def _service(self, sname: Principal) -> str | None:
        parts = [p.lower() for p in sname.parts]
        if parts == ["krbtgt", self.realm.lower()]:
            return "krbtgt"
        if parts == ["kadmin", "changepw"]:
            return "kadmin"
        return None

    def _client(self, cname: Principal) -> Account | None:
        """sAMAccountName (any case), or with NT-ENTERPRISE a UPN / sam@domain."""
        if len(cname.parts) != 1:
            return None
        name = cname.parts[0]
        if "@" in name:
            return self.directory.find_account(name)
        return self.directory.by_sam.get(name.lower())

    # -- the reply -----------------------------------------------------------------------------
    def _as_rep(self, req: krb_wire.AsRequest, account: Account, name: str,
                client_key: krb_crypto.Key, session_etype: int, now: float) -> bytes:
        flags = {krb_wire.INITIAL, krb_wire.PRE_AUTHENT}
        if krb_wire.FORWARDABLE in req.options:
            flags.add(krb_wire.FORWARDABLE)
        if krb_wire.PROXIABLE in req.options:
            flags.add(krb_wire.PROXIABLE)
        till = req.till if req.till and req.till > now else now + TICKET_LIFETIME
        endtime = min(till, now + TICKET_LIFETIME)
        renew_till = None
        if krb_wire.RENEWABLE in req.options and name == "krbtgt":
            flags.add(krb_wire.RENEWABLE)
            rtime = req.rtime if req.rtime and req.rtime > now else now + RENEW_LIFETIME
            renew_till = max(endtime, min(rtime, now + RENEW_LIFETIME))
        # An enterprise name is answered with the canonical name, as AD does (the client asked
        # for canonicalisation by sending one); a plain name comes back as the client wrote it.
        cname = req.cname
        if cname.name_type == krb_wire.NT_ENTERPRISE:
            cname = Principal(krb_wire.NT_PRINCIPAL, [account.sam])
        sname = (Principal(krb_wire.NT_SRV_INST, ["krbtgt", self.realm]) if name == "krbtgt"
                 else Principal(krb_wire.NT_PRINCIPAL, ["kadmin", "changepw"]))
        session = krb_crypto.random_key(session_etype)
        salt = None if client_key.enctype == krb_crypto.RC4 else self.keys.salt(account)
        grant = Grant(realm=self.realm, cname=cname, sname=sname, nonce=req.nonce, flags=flags,
                      session_etype=session_etype, session_key=session.contents, authtime=now,
                      endtime=endtime, renew_till=renew_till,
                      padata=[krb_wire.etype_info2_padata(client_key.enctype, salt)])
        service = self.principals.krbtgt if name == "krbtgt" else self.principals.kadmin
        service_key = service.key()
        krbtgt_key = self.principals.krbtgt.key()
        grant.authorization_data = [krb_ap.pac_authorization_data(
            pac.build(pac.logon_for(self.directory, account, now), service_key, krbtgt_key))]
        ticket_cipher = krb_crypto.encrypt(service_key, krb_crypto.KU_TICKET,
                                           krb_wire.encode_enc_ticket_part(grant))
        reply_cipher = krb_crypto.encrypt(client_key, krb_crypto.KU_AS_REP_ENC_PART,
                                          krb_wire.encode_enc_as_rep_part(grant))
        return krb_wire.encode_as_rep(grant, ticket_etype=service_key.enctype, ticket_kvno=service.kvno,
                                      ticket_cipher=ticket_cipher, reply_etype=client_key.enctype,
                                      reply_kvno=1, reply_cipher=reply_cipher)
