"""The DC's TLS certificate for StartTLS: self-signed, for `instancerdc.<domain>`, made once.

The venv has no `cryptography`, so the `openssl` command line makes the key and certificate
(kept in the DC's state directory, key mode 0600). Without openssl, StartTLS is simply not
offered, as on a DC that has no certificate enrolled.
"""
from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path


def server_context(state_dir: Path, fqdn: str, log=None) -> ssl.SSLContext | None:
    cert, key = state_dir / "ldap-cert.pem", state_dir / "ldap-key.pem"
    if not (cert.exists() and key.exists()):
        openssl = shutil.which("openssl")
        if openssl is None:
            return None
        try:
            subprocess.run(
                [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-days", "825", "-subj", f"/CN={fqdn}",
                 "-addext", f"subjectAltName=DNS:{fqdn}", "-keyout", str(key), "-out", str(cert)],
                check=True, capture_output=True, timeout=30)
            key.chmod(0o600)
        except (OSError, subprocess.SubprocessError) as exc:
            if log is not None:
                log.warning("no LDAP certificate, StartTLS disabled: %s", exc)
            return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context
