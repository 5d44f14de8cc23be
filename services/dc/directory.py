"""The directory: AD's entries for the lab domain, loaded from the seed, and AD's account rules.

This is the state half of the DC (the wire is `ldap.py`). It answers three questions:
- which entry a bind name means (a DN, a UPN `alice@corp.example.com`, or `CORP\\alice`);
- what AD would say to a simple bind with that name and password, including the sub-codes the
  LDAP diagnostic message carries (52e, 525, 532, 533, 701, 773, 775) and the lockout counters
  (badPwdCount, lockoutTime) it updates as it goes;
- which entries a search finds, and which of their attributes to return.

Times (pwdLastSet, lockoutTime, accountExpires) are Windows FILETIMEs taken from the service clock,
so an admin clock offset moves lockouts and expiries forward without sleeping.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import schema
from .filters import Filter, equality_hint
from .names import (
    NEVER,
    InvalidDN,
    domain_sid,
    filetime,
    from_filetime,
    generalized_time,
    norm_dn,
    parse_dn,
    sid_to_bytes,
)

SCOPE_BASE, SCOPE_ONE, SCOPE_SUB = 0, 1, 2
DAY = 86400.0

# Bind outcomes: "success", "anonymous", or the AD sub-code carried in `data <code>`.
BAD_PASSWORD = "52e"
NO_SUCH_USER = "525"
PASSWORD_EXPIRED = "532"
DISABLED = "533"
ACCOUNT_EXPIRED = "701"
MUST_CHANGE = "773"
LOCKED = "775"

STATES = ("enabled", "disabled", "locked", "password_expired", "must_change_password",
          "account_expired")
WELL_KNOWN_GROUP_RIDS = {"domain admins": 512, "domain users": 513, "domain computers": 515}


class NoSuchObject(LookupError):
    """The search base does not exist; `matched` is the deepest existing ancestor's DN."""

    def __init__(self, matched: str):
        super().__init__(matched)
        self.matched = matched


class Entry:
    """One directory object: a DN and its attributes, looked up case-insensitively."""

    __slots__ = ("_names", "_values", "dn", "norm", "parent")

    def __init__(self, dn: str, attrs: dict[str, Any], parent: str | None = None):
        self.dn = dn
        self.norm = norm_dn(dn)
        self.parent = parent
        self._values: dict[str, list[Any]] = {}
        self._names: dict[str, str] = {}
        for name, value in attrs.items():
            self.set(name, value)

    def set(self, name: str, value: Any) -> None:
        """Set an attribute (a list, a scalar, or None/[] to remove it)."""
        key = name.lower()
        if value is None or value == [] or value == "":
            self._values.pop(key, None)
            self._names.pop(key, None)
            return
        values = value if isinstance(value, list) else [value]
        self._values[key] = [v if isinstance(v, (bytes, str)) else str(v) for v in values]
        self._names.setdefault(key, name)

    def values(self, attr: str) -> list[Any]:
        return self._values.get(attr.lower(), [])

    def first(self, attr: str, default: Any = None) -> Any:
        vals = self.values(attr)
        return vals[0] if vals else default

    def int(self, attr: str, default: int = 0) -> int:
        try:
            return int(self.first(attr, default))
        except (TypeError, ValueError):
            return default

    def items(self) -> Iterable[tuple[str, list[Any]]]:
        return ((self._names[k], v) for k, v in self._values.items())

    def has(self, attr: str) -> bool:
        return attr.lower() in self._values

    def name_of(self, attr: str) -> str:
        return self._names.get(attr.lower(), attr)


@dataclass
class Account:
    """A security principal that can bind: a person or a service account."""
    sam: str
    entry: Entry
    digest: bytes
    kind: str = "user"           # "user" | "service"


@dataclass
class BindResult:
    outcome: str                 # "success", "anonymous" or an AD sub-code such as "52e"
    account: Account | None = None
    name: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("success", "anonymous")


@dataclass
class Policy:
    """The domain's account policy (AD keeps it on the domain object)."""
    lockout_threshold: int = 5
    lockout_duration: float = 1800.0         # 0 = until an administrator unlocks
    observation_window: float = 1800.0       # badPwdCount resets after this long without failures
    max_password_age: float = 42 * DAY       # AD's default maximum password age


@dataclass
class Domain:
    dns_name: str = "corp.example.com"
    netbios: str = "CORP"
    base_dn: str = "DC=corp,DC=example,DC=com"
    dc_hostname: str = "InstanceRDC"
    sid: str = field(default="")

    @property
    def dc_fqdn(self) -> str:
        return f"{self.dc_hostname}.{self.dns_name}".lower()


def _digest(sam: str, password: str) -> bytes:
    # Not a KDF: the lab's demo passwords only need to stay out of memory dumps of the entries.
    return hashlib.sha256(f"{sam.lower()}\0{password}".encode()).digest()


class Directory:
    def __init__(self, seed: dict[str, Any], now: Callable[[], float],
                 settings: dict[str, Any] | None = None):
        self.seed = seed or {}
        self.now = now
        self.settings = settings or {}
        self.load()

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> None:
        """(Re)build every entry from the seed: lockouts, counters and logons start fresh."""
        d = self.seed.get("domain") or {}
        s = self.settings
        self.domain = Domain(
            dns_name=str(d.get("dns_name", "corp.example.com")),
            netbios=str(d.get("netbios_name", "CORP")),
            base_dn=str(d.get("base_dn") or ",".join(
                f"DC={p}" for p in str(d.get("dns_name", "corp.example.com")).split("."))),
            dc_hostname=str(d.get("dc_hostname", "InstanceRDC")),
        )
        self.domain.sid = domain_sid(self.domain.dns_name)
        duration = float(s.get("lockout_duration_seconds", d.get("lockout_duration_seconds", 1800)))
        self.policy = Policy(
            lockout_threshold=int(s.get("lockout_threshold", d.get("lockout_threshold", 5))),
            lockout_duration=duration,
            observation_window=float(s.get("lockout_observation_window_seconds",
                                           d.get("lockout_observation_window_seconds", duration or 1800))),
            max_password_age=float(s.get("max_password_age_days",
                                         d.get("max_password_age_days", 42))) * DAY,
        )
        self.max_page_size = int(s.get("max_page_size", d.get("max_page_size", 1000)))
        self.entries: dict[str, Entry] = {}
        self.order: list[Entry] = []
        self.children: dict[str, list[Entry]] = {}
        self.accounts: dict[str, Account] = {}          # by normalised DN
        self.by_sam: dict[str, Account] = {}
        self.index: dict[str, dict[Any, list[Entry]]] = {
            "samaccountname": {}, "userprincipalname": {}, "distinguishedname": {}, "mail": {},
        }
        self._usn = 12000
        self._rid = 1103
        self.loaded_at = self.now()
        base = self.domain.base_dn
        self.schema_dn = f"CN=Schema,CN=Configuration,{base}"

        self._add(base, self._object(base, ["top", "domain", "domainDNS"], "Domain-DNS", {
            "dc": parse_dn(base)[0][1],
            "objectSid": sid_to_bytes(self.domain.sid),
            "instanceType": 5,
            "lockoutThreshold": self.policy.lockout_threshold,
            "lockoutDuration": -int(self.policy.lockout_duration * 10_000_000),
            "lockOutObservationWindow": -int(self.policy.observation_window * 10_000_000),
            "maxPwdAge": -int(self.policy.max_password_age * 10_000_000),
            "minPwdLength": 7, "pwdProperties": 1, "pwdHistoryLength": 24,
            "msDS-Behavior-Version": 7,
        }), parent=None)

        self.ou_dns: dict[str, str] = {}
        for ou in self.seed.get("ous") or []:
            dn = f"OU={ou},{base}"
            self.ou_dns[str(ou).lower()] = dn
            self._add(dn, self._object(dn, ["top", "organizationalUnit"], "Organizational-Unit",
                                       {"ou": ou}), parent=base)

        self.group_dns: dict[str, str] = {}
        groups_parent = self.ou_dns.get("groups", base)
        for g in self.seed.get("groups") or []:
            name = str(g["name"])
            dn = f"CN={name},{groups_parent}"
            rid = WELL_KNOWN_GROUP_RIDS.get(name.lower()) or self._next_rid()
            self.group_dns[name.lower()] = dn
            self._add(dn, self._object(dn, ["top", "group"], "Group", {
                "cn": name, "sAMAccountName": name, "description": g.get("description"),
                "groupType": schema.GROUP_GLOBAL_SECURITY,
                "sAMAccountType": schema.SAM_GROUP_OBJECT,
                "objectSid": sid_to_bytes(f"{self.domain.sid}-{rid}"),
            }), parent=groups_parent)

        self._add_subschema()

        users_parent = self.ou_dns.get("users", base)
        for u in self.seed.get("users") or []:
            self._add_user(u, users_parent)
        svc_parent = self.ou_dns.get("service accounts", users_parent)
        for sa in self.seed.get("service_accounts") or []:
            self._add_user({**sa, "state": sa.get("state", "enabled"), "service": True}, svc_parent)

        count = int(s.get("generated_users", d.get("generated_users", 0)) or 0)
        if count:
            self.generate_users(count, users_parent,
                                str(s.get("generated_password", "Generated-Passw0rd!")))

    def _add_subschema(self) -> None:
        """The subschema entry (`subschemaSubentry` of the RootDSE), with the attribute types and
        object classes of a real AD (Windows Server 2012 R2, as recorded in ldap3's offline
        schema). Clients such as ldap3 read it after binding and use its syntaxes to present
        values as they would from AD: objectSid as `S-1-5-...`, pwdLastSet as a date, and so on.
        It lives outside the domain's naming context, so subtree searches never return it."""
        raw = _ad_subschema()
        dn = f"CN=Aggregate,{self.schema_dn}"
        attrs = {k: v for k, v in raw.items() if k not in ("objectGUID", "distinguishedName", "objectCategory")}
        attrs.update({"distinguishedName": dn, "objectCategory": f"CN=SubSchema,{self.schema_dn}",
                      "objectGUID": uuid.uuid5(uuid.NAMESPACE_URL, f"ldap:///{norm_dn(dn)}").bytes_le})
        entry = Entry(dn, attrs, parent=None)
        self.entries[entry.norm] = entry

    def _next_rid(self) -> int:
        rid, self._rid = self._rid, self._rid + 1
        return rid

    def _object(self, dn: str, classes: list[str], category: str, attrs: dict[str, Any]) -> dict[str, Any]:
        """The attributes every AD object has, plus `attrs`."""
        self._usn += 1
        created = self.loaded_at - 365 * DAY
        rdn_value = parse_dn(dn)[0][1]
        base = {
            "objectClass": classes,
            "distinguishedName": dn,
            "name": rdn_value,
            "instanceType": 4,
            "whenCreated": generalized_time(created),
            "whenChanged": generalized_time(self.loaded_at),
            "uSNCreated": self._usn,
            "uSNChanged": self._usn,
            "objectGUID": uuid.uuid5(uuid.NAMESPACE_URL, f"ldap:///{norm_dn(dn)}").bytes_le,
            "objectCategory": f"CN={category},{self.schema_dn}",
        }
        base.update(attrs)
        return base

    def _add(self, dn: str, attrs: dict[str, Any], parent: str | None) -> Entry:
        entry = Entry(dn, attrs, parent=norm_dn(parent) if parent is not None else None)
        self.entries[entry.norm] = entry
        self.order.append(entry)
        if entry.parent is not None:
            self.children.setdefault(entry.parent, []).append(entry)
        for attr, idx in self.index.items():
            for v in entry.values(attr):
                key = norm_dn(v) if attr == "distinguishedname" else str(v).casefold()
                idx.setdefault(key, []).append(entry)
        return entry

    def _add_user(self, u: dict[str, Any], parent: str) -> Account:
        sam = str(u["sam"])
        state = str(u.get("state", "enabled"))
        if state not in STATES:
            raise ValueError(f"user {sam}: unknown state {state!r} (one of {', '.join(STATES)})")
        given, surname = str(u.get("given_name") or ""), str(u.get("surname") or "")
        display = str(u.get("display_name") or f"{given} {surname}".strip() or sam)
        cn = display
        dn = f"CN={_escape_cn(cn)},{parent}"
        if norm_dn(dn) in self.entries:
            cn = f"{display} ({sam})"
            dn = f"CN={_escape_cn(cn)},{parent}"
        service = bool(u.get("service"))
        rid = 500 if sam.lower() == "administrator" else self._next_rid()
        now = self.loaded_at
        uac = schema.UF_NORMAL_ACCOUNT | (schema.UF_DONT_EXPIRE_PASSWD if service else 0)
        if "user_account_control" in u:
            uac = int(u["user_account_control"])
        pwd_last_set = filetime(now - DAY)
        expires = NEVER
        lockout_time = bad_count = bad_time = 0
        if state == "disabled":
            uac |= schema.UF_ACCOUNTDISABLE
        elif state == "must_change_password":
            pwd_last_set = 0
        elif state == "password_expired":
            pwd_last_set = filetime(now - self.policy.max_password_age - 5 * DAY)
        elif state == "account_expired":
            expires = filetime(now - DAY)
        elif state == "locked":
            lockout_time = bad_time = filetime(now)
            bad_count = max(self.policy.lockout_threshold, 1)
        upn = str(u.get("upn") or f"{sam}@{self.domain.dns_name}")
        groups = [self.group_dns[g.lower()] for g in u.get("groups") or [] if g.lower() in self.group_dns]
        mail = u.get("mail") or (None if service or not given else f"{sam}@{self.domain.dns_name}")
        entry = self._add(dn, self._object(dn, ["top", "person", "organizationalPerson", "user"], "Person", {
            "cn": cn, "givenName": given or None, "sn": surname or None, "displayName": display,
            "description": u.get("description"),
            "sAMAccountName": sam, "userPrincipalName": upn, "mail": mail,
            "sAMAccountType": schema.SAM_USER_OBJECT,
            "objectSid": sid_to_bytes(f"{self.domain.sid}-{rid}"),
            "primaryGroupID": 513,
            "userAccountControl": uac,
            "pwdLastSet": pwd_last_set,
            "accountExpires": expires,
            "lockoutTime": lockout_time,
            "badPwdCount": bad_count,
            "badPasswordTime": bad_time,
            "lastLogon": 0, "logonCount": 0,
            "codePage": 0, "countryCode": 0,
            "memberOf": groups,
        }), parent=parent)
        for gdn in groups:
            group = self.entries[norm_dn(gdn)]
            group.set("member", group.values("member") + [dn])
        account = Account(sam=sam, entry=entry, digest=_digest(sam, str(u.get("password", ""))),
                          kind="service" if service else "user")
        self.accounts[entry.norm] = account
        self.by_sam[sam.lower()] = account
        return account

    def generate_users(self, count: int, parent: str, password: str) -> None:
        """Add `count` people (`user00001`...) for paging tests and benchmarks.

        Every 100th is disabled so bitwise filters have something to find; none are in groups
        (a 3000-value `member` would need AD's ranged retrieval, which the lab does not do).
        """
        for i in range(1, count + 1):
            self._add_user({
                "sam": f"user{i:05d}", "given_name": "User", "surname": f"{i:05d}",
                "password": password, "state": "disabled" if i % 100 == 0 else "enabled",
            }, parent)

    # -- lookups -----------------------------------------------------------------------------
    def get(self, norm: str) -> Entry | None:
        return self.entries.get(norm)

    def find_account(self, name: str) -> Account | None:
        """The account a bind name means: a DN, `user@suffix` or `DOMAIN\\user`."""
        name = name.strip()
        if "\\" in name:
            dom, _, sam = name.partition("\\")
            if dom.lower() in (self.domain.netbios.lower(), self.domain.dns_name.lower()):
                return self.by_sam.get(sam.lower())
            return None
        if "=" in name:
            try:
                return self.accounts.get(norm_dn(name))
            except InvalidDN:
                return None
        if "@" in name:
            hits = self.index["userprincipalname"].get(name.casefold(), [])
            if hits:
                return self.accounts.get(hits[0].norm)
            local, _, suffix = name.rpartition("@")
            if suffix.lower() in (self.domain.dns_name.lower(), self.domain.netbios.lower()):
                return self.by_sam.get(local.lower())
        return None

    # -- the account rules -------------------------------------------------------------------
    def is_locked(self, account: Account, now: float | None = None) -> bool:
        lockout = account.entry.int("lockoutTime")
        if not lockout:
            return False
        if self.policy.lockout_duration <= 0:
            return True
        now = self.now() if now is None else now
        return now < from_filetime(lockout) + self.policy.lockout_duration

    def password_expired(self, account: Account, now: float | None = None) -> bool:
        e = account.entry
        if e.int("userAccountControl") & schema.UF_DONT_EXPIRE_PASSWD:
            return False
        last = e.int("pwdLastSet")
        if last == 0:
            return False  # "must change" is its own outcome (773)
        now = self.now() if now is None else now
        return now - from_filetime(last) > self.policy.max_password_age

    def authenticate(self, name: str, password: str) -> BindResult:
        """A simple bind, as AD decides it. Failures of the password update the lockout state."""
        if not name and not password:
            return BindResult("anonymous", name=name)
        if name and not password:
            # AD treats a name with an empty password as an anonymous (unauthenticated) bind.
            return BindResult("anonymous", name=name)
        account = self.find_account(name)
        if account is None:
            return BindResult(NO_SUCH_USER, name=name)
        now = self.now()
        e = account.entry
        if self.is_locked(account, now):
            return BindResult(LOCKED, account, name)
        if not hmac.compare_digest(account.digest, _digest(account.sam, password)):
            self._bad_password(account, now)
            return BindResult(BAD_PASSWORD, account, name)
        uac = e.int("userAccountControl")
        expires = e.int("accountExpires")
        if uac & schema.UF_ACCOUNTDISABLE:
            outcome = DISABLED
        elif expires not in (0, NEVER) and filetime(now) > expires:
            outcome = ACCOUNT_EXPIRED
        elif e.int("pwdLastSet") == 0:
            outcome = MUST_CHANGE
        elif self.password_expired(account, now):
            outcome = PASSWORD_EXPIRED
        else:
            outcome = "success"
            e.set("badPwdCount", 0)
            e.set("lockoutTime", 0)
            e.set("lastLogon", filetime(now))
            e.set("logonCount", e.int("logonCount") + 1)
        return BindResult(outcome, account, name)

    def _bad_password(self, account: Account, now: float) -> None:
        e = account.entry
        count = e.int("badPwdCount")
        last_bad = e.int("badPasswordTime")
        if last_bad and now - from_filetime(last_bad) > self.policy.observation_window:
            count = 0
        if e.int("lockoutTime") and not self.is_locked(account, now):
            count = 0  # the lockout has expired: counting starts again
            e.set("lockoutTime", 0)
        count += 1
        e.set("badPwdCount", count)
        e.set("badPasswordTime", filetime(now))
        if self.policy.lockout_threshold and count >= self.policy.lockout_threshold:
            e.set("lockoutTime", filetime(now))

    def unlock(self, sam: str) -> bool:
        account = self.by_sam.get(sam.lower())
        if account is None:
            return False
        account.entry.set("lockoutTime", 0)
        account.entry.set("badPwdCount", 0)
        return True

    # -- administration over LDAP ------------------------------------------------------------
    def is_admin(self, account: Account | None) -> bool:
        if account is None:
            return False
        admins = self.group_dns.get("domain admins")
        return account.sam.lower() == "administrator" or (
            admins is not None and norm_dn(admins) in {norm_dn(v) for v in account.entry.values("memberOf")})

    def modify(self, actor: Account | None, dn: str, changes: list[tuple[str, str, list[bytes]]],
               secure: bool) -> tuple[int, str]:
        """An LDAP modify, limited to what an AD administrator does to accounts in the lab:
        enable/disable (`userAccountControl`), unlock (`lockoutTime: 0`), force or clear "must
        change password" (`pwdLastSet: 0 / -1`), expiry (`accountExpires`), a few descriptive
        attributes, and setting (admin) or changing (self: delete old + add new) `unicodePwd`
        over TLS. Returns (resultCode, diagnosticMessage); 0 = done, nothing applied otherwise."""
        try:
            target = self.entries.get(norm_dn(dn))
        except InvalidDN:
            return 34, f"00002081: NameErr: DSID-03100225, problem 2003 (BAD_ATT_SYNTAX), data 0, best match of:\n\t'{dn}'\n"
        if target is None:
            return 32, f"0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'{self._matched(norm_dn(dn))}'\n"
        account = self.accounts.get(target.norm)
        admin = self.is_admin(actor)
        self_password_change = (actor is not None and account is actor and
                                {a.lower() for _, a, _ in changes} == {"unicodepwd"} and
                                sorted(op for op, _, _ in changes) == ["add", "delete"])
        if not admin and not self_password_change:
            return 50, "00000005: SecErr: DSID-03152870, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n"
        will_not = "00000057: LdapErr: DSID-0C090C3E, comment: Error in attribute conversion operation, data 0, v3839"
        staged: list[tuple[str, Any]] = []
        new_password: str | None = None
        old_password: str | None = None
        for op, attr, values in changes:
            key = attr.lower()
            text = [v.decode("utf-8", "replace") for v in values]
            if key == "unicodepwd":
                if account is None:
                    return 53, will_not
                if not secure:
                    return 53, "00002077: SvcErr: DSID-03190F4C, problem 5003 (WILL_NOT_PERFORM), data 0\n"
                try:
                    pw = values[0].decode("utf-16-le") if values else ""
                except UnicodeDecodeError:
                    return 53, will_not
                if not (len(pw) >= 2 and pw[0] == pw[-1] == '"'):
                    return 53, will_not
                if op == "delete":
                    old_password = pw[1:-1]
                else:
                    new_password = pw[1:-1]
                continue
            if key in ("useraccountcontrol", "accountexpires") and op == "replace":
                try:
                    staged.append((attr, int(text[0])))
                except (IndexError, ValueError):
                    return 53, will_not
            elif key == "lockouttime" and op == "replace" and text == ["0"]:
                staged += [("lockoutTime", 0), ("badPwdCount", 0)]
            elif key == "pwdlastset" and op == "replace" and text in (["0"], ["-1"]):
                staged.append(("pwdLastSet", 0 if text == ["0"] else filetime(self.now())))
            elif key in ("description", "mail", "displayname", "givenname", "sn", "telephonenumber",
                         "title", "department") and op in ("replace", "add", "delete"):
                current = [str(v) for v in target.values(key)]
                if op == "replace":
                    staged.append((attr, text))
                elif op == "add":
                    staged.append((attr, current + text))
                else:
                    staged.append((attr, [v for v in current if v.casefold() not in {t.casefold() for t in text}] if text else []))
            else:
                return 53, "0000209A: SvcErr: DSID-031A1254, problem 5003 (WILL_NOT_PERFORM), data 0\n"
        if new_password is not None and account is not None:
            if self_password_change and (old_password is None or not hmac.compare_digest(
                    account.digest, _digest(account.sam, old_password))):
                return 19, "00000056: AtrErr: DSID-03191083, #1:\n\t0: 00000056: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n"
            if len(new_password) < 7:
                return 19, "0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!"
        for attr, value in staged:
            target.set(attr, value)
        if new_password is not None and account is not None:
            account.digest = _digest(account.sam, new_password)
            target.set("pwdLastSet", filetime(self.now()))
        if staged or new_password is not None:
            self._usn += 1
            target.set("uSNChanged", self._usn)
            target.set("whenChanged", generalized_time(self.now()))
        return 0, ""

    # -- search ------------------------------------------------------------------------------
    def search(self, base: str, scope: int, flt: Filter) -> list[Entry]:
        """Entries under `base` within `scope` matching `flt`. Raises NoSuchObject, InvalidDN."""
        base_norm = norm_dn(base)
        root = self.entries.get(base_norm)
        if root is None:
            raise NoSuchObject(self._matched(base_norm))
        if scope == SCOPE_BASE:
            candidates: Iterable[Entry] = [root]
        elif scope == SCOPE_ONE:
            candidates = self.children.get(base_norm, [])
        else:
            candidates = self._subtree(base_norm, flt)
        return [e for e in candidates if flt.match(e, self)]

    def _subtree(self, base_norm: str, flt: Filter) -> Iterable[Entry]:
        hint = equality_hint(flt)
        if hint is not None and hint[0] in self.index:
            attr, raw = hint
            text = raw.decode("utf-8", "replace")
            try:
                key = norm_dn(text) if attr == "distinguishedname" else text.casefold()
            except InvalidDN:
                return []
            hits = self.index[attr].get(key, [])
            return [e for e in hits if e.norm == base_norm or e.norm.endswith("," + base_norm)]
        if base_norm == norm_dn(self.domain.base_dn):
            return self.order
        return [e for e in self.order if e.norm == base_norm or e.norm.endswith("," + base_norm)]

    def _matched(self, norm: str) -> str:
        """The DN of the deepest existing ancestor of a missing entry ("" when none)."""
        rdns = parse_dn(norm)
        for i in range(1, len(rdns) + 1):
            key = ",".join(f"{a}={v}" for a, v in rdns[i:])
            try:
                found = self.entries.get(norm_dn(key)) if key else None
            except InvalidDN:
                found = None
            if found is not None:
                return found.dn
        return ""

    # -- attributes on read ------------------------------------------------------------------
    def constructed(self, entry: Entry, attr: str) -> list[Any]:
        """AD's constructed attributes, computed at read time; [] when not applicable."""
        account = self.accounts.get(entry.norm)
        if attr == "msds-user-account-control-computed" and account is not None:
            flags = 0
            if self.is_locked(account):
                flags |= schema.UF_LOCKOUT
            if self.password_expired(account):
                flags |= schema.UF_PASSWORD_EXPIRED
            return [str(flags)]
        if attr == "canonicalname":
            rdns = parse_dn(entry.dn)
            dcs = [v for a, v in rdns if a.lower() == "dc"]
            rest = [v for a, v in rdns if a.lower() != "dc"]
            return [".".join(dcs) + "/" + "/".join(reversed(rest))]
        if attr == "createtimestamp":
            return entry.values("whenCreated")
        if attr == "modifytimestamp":
            return entry.values("whenChanged")
        if attr == "tokengroups" and account is not None:
            return [g.first("objectSid") for g in
                    (self.entries.get(norm_dn(dn)) for dn in entry.values("memberOf")) if g is not None]
        return []

    def select(self, entry: Entry, requested: list[str]) -> list[tuple[str, list[Any]]]:
        """The attributes a search returns: all stored ones for none or `*`, none for `1.1`,
        plus any named ones (constructed attributes only when named, as in AD)."""
        wanted = [r.split(";")[0] for r in requested if r]
        everything = not wanted or "*" in wanted
        named = [w for w in wanted if w not in ("*", "1.1", "+")]
        out: list[tuple[str, list[Any]]] = []
        seen: set[str] = set()
        if everything:
            for name, vals in entry.items():
                if name.lower() not in schema.HIDDEN:
                    out.append((name, vals))
                    seen.add(name.lower())
        for w in named:
            key = w.lower()
            if key in seen or key in schema.HIDDEN:
                continue
            seen.add(key)
            if key in schema.CONSTRUCTED:
                vals = self.constructed(entry, key)
                if vals:
                    out.append((_CANONICAL.get(key, w), vals))
            elif entry.has(key):
                out.append((entry.name_of(key), entry.values(key)))
        return out

    # -- the RootDSE -------------------------------------------------------------------------
    def root_dse(self) -> Entry:
        """The RootDSE AD serves to anyone, bound or not (built per read: currentTime moves)."""
        base = self.domain.base_dn
        config = f"CN=Configuration,{base}"
        server = f"CN={self.domain.dc_hostname.upper()},CN=Servers,CN=Default-First-Site-Name,CN=Sites,{config}"
        return Entry("", {
            "currentTime": generalized_time(self.now()),
            "subschemaSubentry": f"CN=Aggregate,{self.schema_dn}",
            "dsServiceName": f"CN=NTDS Settings,{server}",
            "namingContexts": [base, config, self.schema_dn, f"DC=DomainDnsZones,{base}",
                               f"DC=ForestDnsZones,{base}"],
            "defaultNamingContext": base,
            "rootDomainNamingContext": base,
            "configurationNamingContext": config,
            "schemaNamingContext": self.schema_dn,
            "serverName": server,
            "dnsHostName": self.domain.dc_fqdn,
            "ldapServiceName": f"{self.domain.dns_name}:{self.domain.dc_hostname.lower()}$@{self.domain.dns_name.upper()}",
            "supportedControl": SUPPORTED_CONTROLS,
            "supportedLDAPVersion": ["3", "2"],
            "supportedLDAPPolicies": ["MaxPageSize", "MaxConnIdleTime", "MaxReceiveBuffer"],
            "supportedSASLMechanisms": ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"],
            "supportedCapabilities": SUPPORTED_CAPABILITIES,
            "supportedExtension": SUPPORTED_EXTENSIONS,
            "highestCommittedUSN": self._usn,
            "isSynchronized": "TRUE",
            "isGlobalCatalogReady": "FALSE",
            "domainFunctionality": 7, "forestFunctionality": 7, "domainControllerFunctionality": 7,
        })


# The controls this emulator really honours (paged results) or may safely ignore (SD flags,
# show deleted, domain scope, extended DN is not honoured so it is not listed).
PAGED_RESULTS = "1.2.840.113556.1.4.319"
SUPPORTED_CONTROLS = [
    PAGED_RESULTS,
    "1.2.840.113556.1.4.801",    # LDAP_SERVER_SD_FLAGS_OID (no security descriptors are returned)
    "1.2.840.113556.1.4.417",    # LDAP_SERVER_SHOW_DELETED_OID (nothing is ever deleted here)
    "1.2.840.113556.1.4.1339",   # LDAP_SERVER_DOMAIN_SCOPE_OID (no referrals are generated)
    "1.2.840.113556.1.4.1413",   # LDAP_SERVER_PERMISSIVE_MODIFY_OID
]
SUPPORTED_CAPABILITIES = [
    "1.2.840.113556.1.4.800",    # LDAP_CAP_ACTIVE_DIRECTORY_OID
    "1.2.840.113556.1.4.1670",   # LDAP_CAP_ACTIVE_DIRECTORY_V51_OID
    "1.2.840.113556.1.4.1791",   # LDAP_CAP_ACTIVE_DIRECTORY_LDAP_INTEG_OID
    "1.2.840.113556.1.4.1935",   # LDAP_CAP_ACTIVE_DIRECTORY_V61_OID
    "1.2.840.113556.1.4.2080",   # LDAP_CAP_ACTIVE_DIRECTORY_V61_R2_OID
    "1.2.840.113556.1.4.2237",   # LDAP_CAP_ACTIVE_DIRECTORY_W8_OID
]
WHO_AM_I = "1.3.6.1.4.1.4203.1.11.3"
START_TLS = "1.3.6.1.4.1.1466.20037"
SUPPORTED_EXTENSIONS = [WHO_AM_I]   # StartTLS is added by the LDAP server when it has a certificate

_CANONICAL = {
    "msds-user-account-control-computed": "msDS-User-Account-Control-Computed",
    "tokengroups": "tokenGroups", "canonicalname": "canonicalName",
    "createtimestamp": "createTimeStamp", "modifytimestamp": "modifyTimeStamp",
}


_SUBSCHEMA: dict[str, Any] | None = None


def _ad_subschema() -> dict[str, Any]:
    """AD 2012 R2's subschema entry from ldap3's offline schema (parsed once per process)."""
    global _SUBSCHEMA
    if _SUBSCHEMA is None:
        import json

        from ldap3.protocol.schemas.ad2012R2 import ad_2012_r2_schema
        _SUBSCHEMA = json.loads(ad_2012_r2_schema)["raw"]
    return _SUBSCHEMA


def _escape_cn(value: str) -> str:
    from .names import escape_rdn_value
    return escape_rdn_value(value)
