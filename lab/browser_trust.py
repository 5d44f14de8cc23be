"""The lab CA in the trainee's browsers: NSS certificate databases, what Chromium (and Chrome) on
Linux read at `~/.pki/nssdb`, and Firefox in each profile's own `cert9.db`.

A browser opens the org's pages over HTTPS (`https://<org>:10443`, a certificate from the lab CA);
it shows them without a warning only once it trusts that CA, as a person's machine trusts the
public CAs a real org's certificate comes from. `lab ca trust` adds the CA with NSS's own tool,
`certutil` (Debian: `libnss3-tools`), as a trust anchor for TLS servers only (`-t "C,,"`), under a
nickname naming its fingerprint, so each lab's CA (a class has one per trainee) is its own entry.
Other systems keep their own stores (the macOS keychain, Windows' certificate manager): `HOW_ELSEWHERE`
says how to add the file there. Nothing here runs as root or touches the machine's own CA bundle.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .ca import CA_NAME

NSS_DB = Path(".pki") / "nssdb"           # under HOME: Chromium's and NSS tools' shared database
FIREFOX_PROFILES = (Path(".mozilla") / "firefox", Path("snap") / "firefox" / "common" / ".mozilla" / "firefox")
TRUST_FLAGS = "C,,"                       # a CA trusted to issue TLS server certificates, nothing else
INSTALL_HINT = "certutil is missing: install NSS's tools (Debian/Ubuntu: apt-get install libnss3-tools)"
HOW_ELSEWHERE = (
    "macOS: sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {ca}\n"
    "  (or Keychain Access > File > Import Items, then the certificate's Trust > Always Trust)\n"
    "Windows: certutil -user -addstore Root {ca}\n"
    "  (or certmgr.msc > Trusted Root Certification Authorities > Certificates > All Tasks > Import)\n"
    "Firefox without a profile yet: Settings > Privacy & Security > Certificates > View Certificates > "
    "Authorities > Import, and tick \"Trust this CA to identify websites\"")


class TrustError(Exception):
    """certutil is missing or refused."""


def fingerprint(ca_cert: Path) -> str:
    """The SHA-256 fingerprint of the CA certificate, as browsers show it (hex, colon-separated)."""
    cert = x509.load_pem_x509_certificate(Path(ca_cert).read_bytes())
    digest = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def nickname(ca_cert: Path) -> str:
    """`Okta WorkSpaces Lab CA 3F2A…` (the fingerprint's first 8 bytes): one entry per lab's CA."""
    return f"{CA_NAME} {fingerprint(ca_cert).replace(':', '')[:16]}"


def databases(home: Path | None = None) -> list[Path]:
    """The NSS databases to trust the CA in: ~/.pki/nssdb (made when missing) and every Firefox
    profile that has a `cert9.db`."""
    home = Path(home) if home is not None else Path.home()
    found = [home / NSS_DB]
    for base in FIREFOX_PROFILES:
        if (home / base).is_dir():
            found += sorted(p.parent for p in (home / base).glob("*/cert9.db"))
    return found


def certutil() -> str:
    path = shutil.which("certutil")
    if path is None:
        raise TrustError(INSTALL_HINT)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([certutil(), *args], capture_output=True, text=True, timeout=30, check=False)


def installed(ca_cert: Path, db: Path) -> bool:
    """True when `db` holds this CA (by its nickname) as a trusted TLS issuer."""
    if not (db / "cert9.db").exists():
        return False
    listed = _run("-L", "-d", f"sql:{db}")
    nick = nickname(ca_cert)
    return any(line.startswith(nick) and line.split()[-1].startswith("C")
               for line in listed.stdout.splitlines())


def install(ca_cert: Path, db: Path) -> bool:
    """Add the CA to `db` (creating an empty database, 0700, when there is none); False when it
    was there already. TrustError with certutil's words when it refuses."""
    if installed(ca_cert, db):
        return False
    if not (db / "cert9.db").exists():
        db.mkdir(mode=0o700, parents=True, exist_ok=True)
        made = _run("-N", "-d", f"sql:{db}", "--empty-password")
        if made.returncode != 0:
            raise TrustError(f"certutil could not make {db}: {(made.stderr or made.stdout).strip()}")
    added = _run("-A", "-d", f"sql:{db}", "-t", TRUST_FLAGS, "-n", nickname(ca_cert), "-i", str(ca_cert))
    if added.returncode != 0:
        raise TrustError(f"certutil could not add the CA to {db}: {(added.stderr or added.stdout).strip()}")
    return True


def remove(ca_cert: Path, db: Path) -> bool:
    """Take the CA out of `db`; False when it was not there."""
    if not installed(ca_cert, db):
        return False
    gone = _run("-D", "-d", f"sql:{db}", "-n", nickname(ca_cert))
    if gone.returncode != 0:
        raise TrustError(f"certutil could not remove the CA from {db}: {(gone.stderr or gone.stdout).strip()}")
    return True


def trusted_anywhere(ca_cert: Path, home: Path | None = None) -> bool:
    """Whether any of the user's NSS databases trusts the CA (False without certutil: unknown is
    reported as not installed, with the hint to install it)."""
    try:
        return any(installed(ca_cert, db) for db in databases(home))
    except (TrustError, OSError, subprocess.SubprocessError):
        return False

