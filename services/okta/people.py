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
from typing import Any

from .store import Store

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
        return self.store.put(USERS, user["id"], user)

    def set_password(self, user: dict[str, Any], password: str) -> None:
        """Hash `password` into the user (the caller saves)."""
        user["password"] = hash_password(password)

    def delete_user(self, user_id: str) -> None:
        """The user, their memberships, app assignments and factors."""
        self.store.delete(USERS, user_id)
        self._by_login = None
        for f in self.factors_of(user_id):
            self.store.delete(FACTORS, f["id"])
        for m in self.store.of_user(MEMBERSHIPS, user_id):
            self.store.delete(MEMBERSHIPS, f"{m['groupId']}/{user_id}")
        for au in self.store.of_user(APP_USERS, user_id):
            self.store.delete(APP_USERS, f"{au['appId']}/{user_id}")

    # -- group memberships --------------------------------------------------------------------
    def add_member(self, group_id: str, user_id: str) -> None:
        self.store.put(MEMBERSHIPS, f"{group_id}/{user_id}", {"groupId": group_id, "userId": user_id})

    def remove_member(self, group_id: str, user_id: str) -> bool:
        return self.store.delete(MEMBERSHIPS, f"{group_id}/{user_id}")

    def member_ids(self, group_id: str) -> list[str]:
        """The group's members, in the order they were added (Everyone: every user)."""
        if group_id == self.everyone_id:
            return [u["id"] for u in self.users()]
        return [m["userId"] for m in self.store.all(MEMBERSHIPS, f"{group_id}/")]

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
        return self.store.put(APP_USERS, f"{au['appId']}/{au['userId']}", au)

    def remove_app_user(self, app_id: str, user_id: str) -> bool:
        return self.store.delete(APP_USERS, f"{app_id}/{user_id}")

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
