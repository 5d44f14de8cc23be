"""The mail service's certificate for STARTTLS: self-signed, for the service's address, made once.

The venv has no `cryptography`, so the `openssl` command line makes the key and certificate (kept
in the mail service's state directory, key 0600), as the DC does for LDAP. Without openssl,
STARTTLS is simply not offered, as on a relay that has no certificate installed.
"""
from __future__ import annotations

import ipaddress
import logging
import shutil
import ssl
import subprocess
from pathlib import Path

CERT, KEY = "smtp-cert.pem", "smtp-key.pem"


def server_context(state_dir: Path, host: str, log: logging.Logger) -> ssl.SSLContext | None:
    cert, key = state_dir / CERT, state_dir / KEY
    if not (cert.exists() and key.exists()):
        openssl = shutil.which("openssl")
        if openssl is None:
            log.warning("no SMTP certificate (the openssl command is missing): STARTTLS is off")
            return None
        try:
            ipaddress.ip_address(host)
            san = f"IP:{host}"
        except ValueError:
            san = f"DNS:{host}"
        try:
            subprocess.run(
                [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-days", "825", "-subj", f"/CN={host}", "-addext", f"subjectAltName={san}",
                 "-keyout", str(key), "-out", str(cert)],
                check=True, capture_output=True, timeout=30)
            key.chmod(0o600)      # the runner's umask already makes it so; say it where it matters
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("no SMTP certificate, STARTTLS is off: %s", exc)
            return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context
