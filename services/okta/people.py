"""The repository of the org's people: users, group memberships, app users and the users'
factors. It alone knows
their document kinds and composite keys in the store, and how a password is hashed, so the
modules that act on people (users, groups, apps, authn, factors...) never spell a kind or a key.

Keys: a user by its id; a membership by "<groupId>/<userId>"; an app user by "<appId>/<userId>"
(so one prefix lists a group's members or an app's users, in the order they were added)."""
from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .store import Store

T = TypeVar("T")
R = TypeVar("R")

USERS, MEMBERSHIPS, APP_USERS, FACTORS = "users", "group_members", "app_users", "factors"

# Okta-mastered passwords: PBKDF2-HMAC-SHA256 with a random salt. The lab's choice (Okta does
# not say how it stores them); the org never keeps a password itself.
_HASH, _ROUNDS, _SALT_BYTES = "sha256", 10000, 16


def hash_password(password: str) -> dict[str, str]:
    salt = os.urandom(_SALT_BYTES)
    return {"salt": salt.hex(), "hash": hashlib.pbkdf2_hmac(_HASH, password.encode(), salt, _ROUNDS).hex()}


def password_matches(user: dict[str, Any], password: str) -> bool:
    """Whether `password` is the user's Okta password (False when the user has none)."""
    stored = user.get("password")
    if not stored or not password:
        return False
    digest = hashlib.pbkdf2_hmac(_HASH, password.encode(), bytes.fromhex(stored["salt"]), _ROUNDS)
    return hmac.compare_digest(digest.hex(), stored["hash"])


class Derived(Generic[T]):
    """What People derives from one kind of document (search fields), built on first use and
    kept by People's own writes (`write`); any other change of the kind (a wipe, a write that
    bypassed People) is seen from the store's version of the kind and drops it."""

    def __init__(self, store: Store, kind: str, build: Callable[[], T]) -> None:
        self.store, self.kind, self.build = store, kind, build
        self.data: T | None = None
        self.seen: tuple[int, int] | None = None

    def get(self) -> T:
        version = self.store.version(self.kind)
        if self.data is None or version != self.seen:
            self.data, self.seen = self.build(), version
        return self.data

    def write(self, write: Callable[[], R], apply: Callable[[T], object]) -> R:
        """Do `write` (one write of the kind) and `apply` it to what is derived, if built."""
        before = self.store.version(self.kind)
        result = write()
        if self.data is not None:
            if before == self.seen:
                apply(self.data)
                self.seen = self.store.version(self.kind)
            else:
                self.data = None
        return result


def _search_fields(user: dict[str, Any]) -> tuple[str, ...]:
    """What an app-user search (`q`) compares besides the app user's userName, lowercased."""
    profile = user["profile"]
    return tuple(str(profile.get(k) or "").lower() for k in ("login", "email", "firstName", "lastName"))


class People:
    def __init__(self, store: Store) -> None:
        self.store = store
        # The built-in `Everyone` group (groups.ensure_everyone): every user is in it, unstored.
        self.everyone_id: str | None = None
        # lower(login) -> user id, built on first use and kept by save/delete_user (every user
        # write goes through them): creating a user checks its login, and an AD import of 10,000
        # users must not decode the whole org for each (bench/README.md).
        self._by_login: dict[str, str] | None = None
        self._login_of: dict[str, str] = {}        # user id -> its indexed lower(login)
        # For `app_users_matching` (the RADIUS agent asks it at every sign-in): user id -> its
        # search fields; app id -> {user id: lower(userName)} in assignment order.
        self._fields: Derived[dict[str, tuple[str, ...]]] = Derived(
            store, USERS, lambda: {u["id"]: _search_fields(u) for u in self.users()})
        self._names: Derived[dict[str, dict[str, str]]] = Derived(store, APP_USERS, self._all_app_user_names)
        # group id -> its members' ids in the order they were added: an import lists groups of
        # 10,000 members a page at a time, and decoding every membership for each page cost 15%
        # of the org's CPU (bench/README.md)
        self._members: Derived[dict[str, dict[str, None]]] = Derived(store, MEMBERSHIPS, self._all_members)

    # -- users ------------------------------------------------------------------------------
    def user(self, user_id: str) -> dict[str, Any] | None:
        return self.store.get(USERS, user_id)

    def users(self) -> list[dict[str, Any]]:
        """Every user, in the order they were created."""
        return self.store.all(USERS)

    def count(self) -> int:
        return self.store.count(USERS)

    def by_login(self, login: str) -> dict[str, Any] | None:
        """The user whose login is `login`, ignoring case."""
        wanted = login.lower()
        if self._by_login is None:
            self._login_of = {u["id"]: u["profile"]["login"].lower() for u in self.users()}
            self._by_login = {login: uid for uid, login in self._login_of.items()}
        user_id = self._by_login.get(wanted)
        user = self.user(user_id) if user_id is not None else None
        if user is not None and user["profile"]["login"].lower() == wanted:
            return user
        if user_id is not None:          # the store changed under the index (a wipe): rebuild it
            self._by_login = None
            return next((u for u in self.users() if u["profile"]["login"].lower() == wanted), None)
        return None

    def by_activation_token(self, token: str) -> dict[str, Any] | None:
        return next((u for u in self.users() if u.get("activationToken")
                     # bytes: compare_digest refuses non-ASCII str (a 500 on any such token)
                     and hmac.compare_digest(u["activationToken"].encode(),
                                             token.encode(errors="surrogatepass"))), None)

    def save(self, user: dict[str, Any]) -> dict[str, Any]:
        if self._by_login is not None:
            login = user["profile"]["login"].lower()
            old = self._login_of.get(user["id"])
            if old is not None and old != login and self._by_login.get(old) == user["id"]:
                del self._by_login[old]          # a renamed login
            self._login_of[user["id"]] = login
            self._by_login[login] = user["id"]

        def apply(fields: dict[str, tuple[str, ...]]) -> None:
            fields[user["id"]] = _search_fields(user)
        return self._fields.write(lambda: self.store.put(USERS, user["id"], user), apply)

    def set_password(self, user: dict[str, Any], password: str) -> None:
        """Hash `password` into the user (the caller saves)."""
        user["password"] = hash_password(password)

    def delete_user(self, user_id: str) -> None:
        """The user, their memberships, app assignments and factors."""
        self._fields.write(lambda: self.store.delete(USERS, user_id), lambda fields: fields.pop(user_id, None))
        self._by_login = None
        for f in self.factors_of(user_id):
            self.store.delete(FACTORS, f["id"])
        for m in self.store.of_user(MEMBERSHIPS, user_id):
            self.remove_member(m["groupId"], user_id)
        for au in self.store.of_user(APP_USERS, user_id):
            self.remove_app_user(au["appId"], user_id)

    # -- group memberships --------------------------------------------------------------------
    def add_member(self, group_id: str, user_id: str) -> None:
        self._members.write(
            lambda: self.store.put(MEMBERSHIPS, f"{group_id}/{user_id}", {"groupId": group_id, "userId": user_id}),
            lambda groups: groups.setdefault(group_id, {}).__setitem__(user_id, None))

    def remove_member(self, group_id: str, user_id: str) -> bool:
        return self._members.write(lambda: self.store.delete(MEMBERSHIPS, f"{group_id}/{user_id}"),
                                   lambda groups: groups.get(group_id, {}).pop(user_id, None))

    def _all_members(self) -> dict[str, dict[str, None]]:
        groups: dict[str, dict[str, None]] = {}
        for m in self.store.all(MEMBERSHIPS):
            groups.setdefault(m["groupId"], {})[m["userId"]] = None
        return groups

    def member_ids(self, group_id: str) -> list[str]:
        """The group's members, in the order they were added (Everyone: every user, in the order
        they were created, as the search fields keep them)."""
        if group_id == self.everyone_id:
            return list(self._fields.get())
        return list(self._members.get().get(group_id, {}))

    def group_ids(self, user_id: str) -> list[str]:
        """The groups the user is a member of, Everyone first."""
        ids = [m["groupId"] for m in self.store.of_user(MEMBERSHIPS, user_id)]
        return ([self.everyone_id] if self.everyone_id else []) + ids

    # -- app users ----------------------------------------------------------------------------
    def app_user(self, app_id: str, user_id: str) -> dict[str, Any] | None:
        return self.store.get(APP_USERS, f"{app_id}/{user_id}")

    def app_users(self, app_id: str) -> list[dict[str, Any]]:
        """The app's users, in the order they were assigned."""
        return self.store.all(APP_USERS, f"{app_id}/")

    def save_app_user(self, au: dict[str, Any]) -> dict[str, Any]:
        def apply(names: dict[str, dict[str, str]]) -> None:    # an update keeps its place, as in the store
            names.setdefault(au["appId"], {})[au["userId"]] = str(au["userName"]).lower()
        return self._names.write(
            lambda: self.store.put(APP_USERS, f"{au['appId']}/{au['userId']}", au), apply)

    def remove_app_user(self, app_id: str, user_id: str) -> bool:
        return self._names.write(
            lambda: self.store.delete(APP_USERS, f"{app_id}/{user_id}"),
            lambda names: names.get(app_id, {}).pop(user_id, None))

    def _all_app_user_names(self) -> dict[str, dict[str, str]]:
        names: dict[str, dict[str, str]] = {}
        for au in self.store.all(APP_USERS):
            names.setdefault(au["appId"], {})[au["userId"]] = str(au["userName"]).lower()
        return names

    def app_users_matching(self, app_id: str, q: str) -> list[dict[str, Any]]:
        """Okta's `q` on an app's users: those whose userName, or whose user's login, email, first
        or last name, starts with `q` ignoring case, in assignment order. Compared in memory and
        only the hits read: the RADIUS agent asks at every sign-in, and reading every app user and
        user of the org for it cost 40% of the org's CPU (bench/README.md)."""
        ql = q.lower()
        fields = self._fields.get()
        hits = []
        for uid, name in self._names.get().get(app_id, {}).items():
            if name.startswith(ql) or any(f.startswith(ql) for f in fields.get(uid, ("",) * 4)):
                au = self.app_user(app_id, uid)
                if au is not None:
                    hits.append(au)
        return hits

    # -- factors ------------------------------------------------------------------------------
    def factor(self, factor_id: str) -> dict[str, Any] | None:
        return self.store.get(FACTORS, factor_id)

    def factors_of(self, user_id: str) -> list[dict[str, Any]]:
        return self.store.of_user(FACTORS, user_id)

    def all_factors(self) -> list[dict[str, Any]]:
        return self.store.all(FACTORS)

    def save_factor(self, factor: dict[str, Any]) -> dict[str, Any]:
        return self.store.put(FACTORS, factor["id"], factor)

    def delete_factor(self, factor_id: str) -> None:
        self.store.delete(FACTORS, factor_id)
