"""A service's TLS server context, from the certificate and key the lab issued it.

The lab's control plane (its CA) writes each TLS-serving service a certificate and key and puts
their paths in the service's topology entry (`"tls": {"cert": ..., "key": ...}`); a service never
makes its own nor holds the CA's key. Without them (a topology written without certificates) the
service offers no TLS, as a server with no certificate installed.
"""
from __future__ import annotations

import logging
import ssl
from typing import Any


def server_context(entry: dict[str, Any], log: logging.Logger, what: str) -> ssl.SSLContext | None:
    """The context for `what` (e.g. "LDAP StartTLS and LDAPS"), or None with a warning saying why."""
    paths = entry.get("tls") or {}
    if not (paths.get("cert") and paths.get("key")):
        log.warning("no certificate in the topology: %s is off", what)
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(paths["cert"], paths["key"])
    except (OSError, ssl.SSLError) as exc:
        log.warning("cannot load the certificate %s: %s is off (%s)", paths["cert"], what, exc)
        return None
    return context
