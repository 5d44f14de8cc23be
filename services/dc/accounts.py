"""AD's account rules, shared by the LDAP simple bind and the Kerberos AS exchange.

One set of rules for both doors, as on a real DC: a bad password counts toward lockout whichever
protocol carried it, a good logon resets the counter, and the account states (disabled, locked,
expired, password expired, must change) mean the same thing to both. What each protocol makes of
a state (an LDAP bind sub-code, a KDC error) is the protocol's business; the mapping to the bind
sub-codes is `BIND_SUBCODE` here because AD's bind order is part of the rule.
See docs/active-directory.md ("Account rules").

Times (pwdLastSet, lockoutTime, accountExpires) are FILETIMEs taken from the service clock, so an
admin clock offset moves lockouts and expiries forward without sleeping.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.common import ad_wire

from .entry import Account, password_digest
from .names import filetime, from_filetime
from .settings import Policy

if TYPE_CHECKING:
    from .directory import Directory

# Account states: the first three refuse any logon (`revoked`), the last two only a logon with
# the right password (`key_expired`).
DISABLED, LOCKED, ACCOUNT_EXPIRED = "disabled", "locked", "account_expired"
MUST_CHANGE, PASSWORD_EXPIRED = "must_change_password", "password_expired"

# The sub-code a simple bind's diagnostic carries for each state.
BIND_SUBCODE = {
    DISABLED: ad_wire.ACCOUNT_DISABLED, LOCKED: ad_wire.ACCOUNT_LOCKED,
    ACCOUNT_EXPIRED: ad_wire.ACCOUNT_EXPIRED, MUST_CHANGE: ad_wire.MUST_CHANGE_PASSWORD,
    PASSWORD_EXPIRED: ad_wire.PASSWORD_EXPIRED,
}
SUCCESS, ANONYMOUS = "success", "anonymous"
# What a logon attempt changes (and nothing else does but an admin's unlock): saved apart from the
# rest of the entry by the snapshot, so binds all day cost a small record each, not the entry.
LOGON_ATTRIBUTES = ("badPwdCount", "badPasswordTime", "lockoutTime", "lastLogon", "logonCount")


@dataclass
class BindResult:
    outcome: str                 # SUCCESS, ANONYMOUS or an AD sub-code such as "52e"
    account: Account | None = None
    name: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in (SUCCESS, ANONYMOUS)


class Accounts:
    """The rules over one directory's accounts (its policy and clock are read on each call, so a
    reset that rebuilds the directory needs no new Accounts)."""

    def __init__(self, directory: Directory):
        self.directory = directory

    @property
    def policy(self) -> Policy:
        return self.directory.policy

    def _now(self, now: float | None) -> float:
        return self.directory.now() if now is None else now

    # -- states --------------------------------------------------------------------------------
    def is_locked(self, account: Account, now: float | None = None) -> bool:
        lockout = account.entry.int("lockoutTime")
        if not lockout:
            return False
        if self.policy.lockout_duration <= 0:
            return True
        return self._now(now) < from_filetime(lockout) + self.policy.lockout_duration

    def password_expired(self, account: Account, now: float | None = None) -> bool:
        e = account.entry
        if e.int("userAccountControl") & ad_wire.UF_DONT_EXPIRE_PASSWD:
            return False
        last = e.int("pwdLastSet")
        if last == 0:
            return False  # "must change" is its own state
        return self._now(now) - from_filetime(last) > self.policy.max_password_age

    def revoked(self, account: Account, now: float) -> str | None:
        """DISABLED, LOCKED or ACCOUNT_EXPIRED: the states that refuse a logon whatever the
        password (the KDC says so before looking at it)."""
        e = account.entry
        if e.int("userAccountControl") & ad_wire.UF_ACCOUNTDISABLE:
            return DISABLED
        if self.is_locked(account, now):
            return LOCKED
        expires = e.int("accountExpires")
        if expires not in (0, ad_wire.FILETIME_NEVER) and filetime(now) > expires:
            return ACCOUNT_EXPIRED
        return None

    def key_expired(self, account: Account, now: float) -> str | None:
        """MUST_CHANGE or PASSWORD_EXPIRED: only revealed to someone who knows the password."""
        if account.entry.int("pwdLastSet") == 0:
            return MUST_CHANGE
        if self.password_expired(account, now):
            return PASSWORD_EXPIRED
        return None

    # -- what a logon attempt does to the account ------------------------------------------------
    @staticmethod
    def password_matches(account: Account, password: str) -> bool:
        return hmac.compare_digest(account.digest, password_digest(account.sam, password))

    def bad_password(self, account: Account, now: float) -> None:
        """Count a wrong password toward lockout (the observation window restarts the count)."""
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
        self.directory.logon_changed(e)

    def password_proved(self, account: Account) -> None:
        """The right password without a logon (a password-change ticket): the count starts over."""
        account.entry.set("badPwdCount", 0)
        self.directory.logon_changed(account.entry)

    def logged_on(self, account: Account, now: float) -> None:
        """A successful logon: the failure counter and any expired lockout start over."""
        e = account.entry
        e.set("badPwdCount", 0)
        e.set("lockoutTime", 0)
        e.set("lastLogon", filetime(now))
        e.set("logonCount", e.int("logonCount") + 1)
        self.directory.logon_changed(e)

    # -- the LDAP simple bind ---------------------------------------------------------------------
    def bind(self, name: str, password: str) -> BindResult:
        """A simple bind, as AD decides it: lockout first (775 even with the right password), then
        the password (52e, counted), then the account states, only now revealed."""
        if not password:
            # AD treats a name with an empty password as an anonymous (unauthenticated) bind.
            return BindResult(ANONYMOUS, name=name)
        account = self.directory.find_account(name)
        if account is None:
            return BindResult(ad_wire.NO_SUCH_USER, name=name)
        now = self.directory.now()
        if self.is_locked(account, now):
            return BindResult(ad_wire.ACCOUNT_LOCKED, account, name)
        if not self.password_matches(account, password):
            self.bad_password(account, now)
            return BindResult(ad_wire.BAD_PASSWORD, account, name)
        state = self.revoked(account, now) or self.key_expired(account, now)
        if state is not None:
            return BindResult(BIND_SUBCODE[state], account, name)
        self.logged_on(account, now)
        return BindResult(SUCCESS, account, name)
