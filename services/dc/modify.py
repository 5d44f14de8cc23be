"""An LDAP modify, limited to what an AD administrator does to accounts in the lab.

Enable/disable (`userAccountControl`), unlock (`lockoutTime: 0`), force or clear "must change
password" (`pwdLastSet: 0 / -1`), expiry (`accountExpires`), a few descriptive attributes, and
setting (admin: replace) or changing (delete old + add new, which any signed-in account may do
knowing the old password: AD grants the "Change Password" right to Everyone) `unicodePwd` over TLS. Anything else is
refused as AD would refuse it. Nothing is applied unless the whole request is accepted.
See docs/active-directory.md ("Administration over LDAP").
"""
from __future__ import annotations

from typing import Any

from . import ldap_results as R
from .accounts import Accounts
from .directory import INDEXED, Directory
from .entry import Account
from .names import InvalidDN, filetime, norm_dn
from .search import matched

Change = tuple[str, str, list[bytes]]   # (operation: add/delete/replace, attribute, values)

DESCRIPTIVE = {"description", "mail", "displayname", "givenname", "sn", "telephonenumber", "title",
               "department"}
MIN_PASSWORD_LENGTH = 7          # the domain's minPwdLength


def apply(directory: Directory, actor: Account | None, dn: str, changes: list[Change],
          secure: bool) -> R.Refusal | None:
    """Apply the modify, or say why not (None = done)."""
    try:
        target = directory.entries.get(norm_dn(dn))
    except InvalidDN:
        return R.Refusal(R.INVALID_DN_SYNTAX, R.BAD_DN, dn)
    if target is None:
        return R.Refusal(R.NO_SUCH_OBJECT, R.NO_OBJECT, matched(directory, norm_dn(dn)))
    account = directory.accounts.get(target.norm)
    password_change = (actor is not None and account is not None and
                       {a.lower() for _, a, _ in changes} == {"unicodepwd"} and
                       sorted(op for op, _, _ in changes) == ["add", "delete"])
    if not directory.is_admin(actor) and not password_change:
        return R.Refusal(R.INSUFFICIENT_ACCESS, R.ACCESS)
    conversion = R.Refusal(R.UNWILLING, R.ATTRIBUTE_CONVERSION)
    staged: list[tuple[str, Any]] = []
    new_password: str | None = None
    old_password: str | None = None
    for op, attr, values in changes:
        key = attr.lower()
        text = [v.decode("utf-8", "replace") for v in values]
        if key == "unicodepwd":
            if account is None:
                return conversion
            if not secure:
                return R.Refusal(R.UNWILLING, R.PASSWORD_NEEDS_TLS)
            password = _quoted_password(values)
            if password is None:
                return conversion
            if op == "delete":
                old_password = password
            else:
                new_password = password
            continue
        if key in ("useraccountcontrol", "accountexpires") and op == "replace":
            try:
                staged.append((attr, int(text[0])))
            except (IndexError, ValueError):
                return conversion
        elif key == "lockouttime" and op == "replace" and text == ["0"]:
            staged += [("lockoutTime", 0), ("badPwdCount", 0)]
        elif key == "pwdlastset" and op == "replace" and text in (["0"], ["-1"]):
            staged.append(("pwdLastSet", 0 if text == ["0"] else filetime(directory.now())))
        elif key in DESCRIPTIVE and op in ("replace", "add", "delete"):
            staged.append((attr, _values_after(op, [str(v) for v in target.values(key)], text)))
        else:
            return R.Refusal(R.UNWILLING, R.WILL_NOT_PERFORM)
    if new_password is not None and account is not None:
        if password_change and (old_password is None
                                or not Accounts.password_matches(account, old_password)):
            return R.Refusal(R.CONSTRAINT_VIOLATION, R.WRONG_OLD_PASSWORD)
        if len(new_password) < MIN_PASSWORD_LENGTH:
            return R.Refusal(R.CONSTRAINT_VIOLATION, R.PASSWORD_TOO_SHORT)
    for attr, value in staged:
        target.set(attr, value)
    if new_password is not None and account is not None:
        directory.set_password(account, new_password)
    if staged or new_password is not None:
        directory.touched(target)
    if any(attr.lower() in INDEXED for attr, _ in staged):
        directory.reindex_entry(target)   # a new mail must be found by the indexed equality filter
    return None


def _quoted_password(values: list[bytes]) -> str | None:
    """unicodePwd's value: the password in double quotes, UTF-16LE; None when it is not that."""
    try:
        quoted = values[0].decode("utf-16-le") if values else ""
    except UnicodeDecodeError:
        return None
    if not (len(quoted) >= 2 and quoted[0] == quoted[-1] == '"'):
        return None
    return quoted[1:-1]


def _values_after(op: str, current: list[str], given: list[str]) -> list[str]:
    if op == "replace":
        return given
    if op == "add":
        return current + given
    if not given:   # delete without values: the whole attribute
        return []
    drop = {t.casefold() for t in given}
    return [v for v in current if v.casefold() not in drop]
