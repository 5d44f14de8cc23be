"""Small helpers for the services that are LDAP clients of the DC (ldap3)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ldap3


def close_quietly(conn: ldap3.Connection) -> None:
    """Unbind, ignoring a connection the DC already reset or dropped.

    ldap3 raises from `unbind()` when the socket is gone (LDAPSocketSendError: broken pipe); that
    must never replace the outcome the caller already decided on.
    """
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing is best effort by design
        pass
