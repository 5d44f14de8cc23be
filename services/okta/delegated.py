"""Delegated authentication: an AD-sourced user's password is checked against Active Directory,
never stored by the org (docs/okta.md, "Delegated authentication and the AD agent").

Two paths, chosen by the setting `delegated_auth`:
- `agent` (and `auto` while an Okta AD agent is connected): the org queues the check for the AD
  agent, which long-polls the org for work (as the real agent polls Okta), binds to the DC as the
  user and posts the outcome back (`agents.py`). No agent answering within
  `delegated_auth_timeout_seconds` is "unavailable".
- `ldap` (and `auto` with no agent): the org binds to the DC itself (the first lab's shortcut).
- `accept` / `reject`: lab switches for tests without a DC.

Outcomes: ok, bad_password, locked, password_expired, must_change, disabled, expired, no_user,
unavailable. The caller maps them to /api/v1/authn answers (all but a few are E0000004)."""
from __future__ import annotations

import asyncio
from typing import Any

from services.common import ad_wire
from services.common.ldap_client import close_quietly

from .org import Org

# What the org makes of each sub-code of a failed bind (the codes are AD's, see ad_wire; the
# mapping is the org's rule). Any other failure counts as a wrong password.
BIND_OUTCOMES = {ad_wire.BAD_PASSWORD: "bad_password", ad_wire.NO_SUCH_USER: "no_user",
                 ad_wire.ACCOUNT_LOCKED: "locked", ad_wire.PASSWORD_EXPIRED: "password_expired",
                 ad_wire.MUST_CHANGE_PASSWORD: "must_change", ad_wire.ACCOUNT_DISABLED: "disabled",
                 ad_wire.ACCOUNT_EXPIRED: "expired", ad_wire.LOGON_HOURS: "disabled",
                 ad_wire.WORKSTATION: "disabled"}


def outcome_of_bind(ok: bool, message: str) -> str:
    if ok:
        return "ok"
    code = ad_wire.bind_subcode(message)
    return BIND_OUTCOMES.get(code, "bad_password") if code else "bad_password"


def ldap_check(host: str, port: int, upn: str, password: str, *, source: str | None = None) -> str:
    """Blocking: a simple bind as the user (the AD agent does the same from its own host)."""
    import ldap3
    if not password:
        return "bad_password"          # an empty password is AD's anonymous bind: never a check
    server = ldap3.Server(host, port=port, connect_timeout=3)
    conn = ldap3.Connection(server, user=upn, password=password, receive_timeout=5,
                            source_address=source, source_port=0) if source else \
        ldap3.Connection(server, user=upn, password=password, receive_timeout=5)
    try:
        ok = bool(conn.bind())
        return outcome_of_bind(ok, str(conn.result.get("message", "")) if conn.result else "")
    except ldap3.core.exceptions.LDAPException:
        return "unavailable"
    finally:
        close_quietly(conn)


async def change_password(org: Org, user: dict[str, Any], old: str, new: str) -> str:
    """An AD user's password change, made in AD through the AD agent (as every AD operation of the
    org is): ok, bad_old_password, policy, no_user, unavailable. Without a connected agent (or in
    the `ldap` shortcut) it is unavailable; `accept` / `reject` answer as for a check."""
    mode = org.settings.delegated_auth
    if mode in ("accept", "reject"):
        return "ok" if mode == "accept" else "bad_old_password"
    from . import agents
    if mode == "ldap" or not agents.connected(org):
        return "unavailable"
    upn = user["profile"].get("userName") or user["profile"]["login"]
    return await agents.delegate_password_change(org, user, upn, old, new)


async def check(org: Org, user: dict[str, Any], password: str) -> str:
    if not password:
        return "bad_password"
    upn = user["profile"].get("userName") or user["profile"]["login"]
    mode = org.settings.delegated_auth
    if mode in ("accept", "reject"):
        return "ok" if mode == "accept" else "bad_password"
    from . import agents
    if mode == "agent" or (mode == "auto" and agents.connected(org)):
        return await agents.delegate_auth(org, user, upn, password)
    if "dc" not in org.ctx.topology.get("services", {}):
        return "unavailable"
    host, port = org.ctx.peer_address("dc", "ldap")
    return await asyncio.to_thread(ldap_check, host, port, upn, password, source=org.ctx.source_address)
