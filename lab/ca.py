"""The lab's certificate authority: one CA per state directory, and a leaf certificate for every
service that serves TLS.

The control plane holds the CA's key (`<state>/ca/ca-key.pem`, 0600, made once and kept when the
lab starts afresh); services only get their own certificate and key, by path, in their topology
entry (`"tls": {"cert": ..., "key": ...}`), and never the CA's key. Clients trust the lab by
trusting `<state>/ca/ca.pem` (`lab status --json` names it; `lab env` exports it as
LDAPTLS_CACERT). Leaf certificates are issued afresh at every `lab up`, so their addresses follow
the subnet the lab runs on.

Which services get one, and for which names, is `SUBJECTS` (by the package a service runs): a new
TLS-serving service adds one entry there. The services in `INSPECTED` (the Okta org) also get a
second certificate for the same names from another CA, the "TLS inspection" CA (`<state>/ca/
inspection/`), which no lab client trusts: what a TLS-inspecting proxy between InstanceOkta and
the org presents (the org serves it while the `intercept_tls` fault is on; docs/network.md).
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .state import domain_of

CA_DIR, CA_CERT, CA_KEY = "ca", "ca.pem", "ca-key.pem"
# The machine's CAs followed by the lab's, for clients that read one bundle (SSL_CERT_FILE).
TRUST_BUNDLE = "trust.pem"
CA_NAME = "Okta WorkSpaces Lab CA"
# A corporate proxy's own CA, as a TLS-inspection device has: trusted by nothing in the lab.
INSPECTION_DIR, INSPECTION_CA_NAME = "inspection", "Corporate TLS Inspection CA (lab)"
CA_DAYS, LEAF_DAYS = 3650, 825          # 825: what browsers and Apple platforms accept for a server certificate
DC_HOSTNAME = "instancerdc"             # the walkthrough's domain controller
LISTENS_EVERYWHERE = ("0.0.0.0", "127.0.0.1")


@dataclass(frozen=True)
class Subject:
    """What a leaf certificate names: DNS names and IP addresses (the first DNS name is its CN)."""
    dns: tuple[str, ...]
    ips: tuple[str, ...]


def ca_cert_path(state_dir: Path) -> Path:
    return Path(state_dir) / CA_DIR / CA_CERT


def write_trust_bundle(ca_cert: Path | str) -> Path:
    """trust.pem next to the CA certificate (<state>/ca/, 0644): the machine's CA bundle (OpenSSL's
    built-in default file, when there is one) followed by the lab CA. `lab env` points
    SSL_CERT_FILE at it: OpenSSL then reads it instead of the machine's bundle, so the lab CA is
    trusted and nothing the machine trusts is lost (the okta SDK's aiohttp, Python's
    ssl.create_default_context(), httpx). The built-in path, not SSL_CERT_FILE's: a shell that
    already evaluated `lab env` must not fold the bundle into itself."""
    system_file = Path(ssl.get_default_verify_paths().openssl_cafile)
    system = system_file.read_bytes() if system_file.is_file() else b""
    lab = Path(ca_cert).read_bytes()
    path = Path(ca_cert).with_name(TRUST_BUNDLE)
    data = system.rstrip(b"\n") + b"\n" + lab if system else lab
    if not path.exists() or path.read_bytes() != data:
        _write(path, data, 0o644)
    return path


# -- who gets a certificate, for which names -----------------------------------------------------

def _addresses(svc: dict[str, Any]) -> tuple[str, ...]:
    """Every address the service serves on: its host, and 127.0.0.1 when it binds all addresses
    or loopback's first (a client may then connect there)."""
    ips = [svc["host"]]
    if svc.get("bind") in LISTENS_EVERYWHERE:
        ips.append("127.0.0.1")
    advertised = (svc.get("settings") or {}).get("advertise_ip")
    if advertised:
        ips.append(advertised)
    out = []
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            continue        # a host name (the compose service name): not an IP SAN
        if ip not in out:
            out.append(ip)
    return tuple(out)


def _dc(topology: dict[str, Any], name: str) -> Subject:
    # The name ldapsearch, AD Connector and Kerberos clients use, and every address it serves.
    return Subject((f"{DC_HOSTNAME}.{domain_of(topology)}",), _addresses(topology["services"][name]))


def _by_address(topology: dict[str, Any], name: str) -> Subject:
    # Reached by address (the org sends to the mail service's IP); its name is the container's hostname.
    return Subject((name,), _addresses(topology["services"][name]))


def _org(topology: dict[str, Any], name: str) -> Subject:
    # The agents reach the org by address (InstanceOkta's view of `<org>.okta.com`); the DNS name
    # is the container's hostname.
    return Subject((name,), _addresses(topology["services"][name]))


SUBJECTS: dict[str, Callable[[dict[str, Any], str], Subject]] = {
    "services.dc": _dc,        # LDAP StartTLS and LDAPS
    "services.mail": _by_address,   # SMTP STARTTLS
    "services.okta": _org,     # the org's HTTPS (the agents' API calls)
}
# Services a TLS-inspection proxy can stand in front of: they also get the inspection CA's certificate.
INSPECTED = frozenset({"services.okta"})


# -- the CA ----------------------------------------------------------------------------------------

def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a fresh file of the given mode (never a moment with looser permissions)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    tmp.replace(path)


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class LabCA:
    """The CA of one state directory: made on first use, then loaded."""

    def __init__(self, state_dir: Path, *, sub_dir: str = "", name: str = CA_NAME) -> None:
        self.dir = Path(state_dir) / CA_DIR / sub_dir if sub_dir else Path(state_dir) / CA_DIR
        self.name = name
        self.cert_path, self.key_path = self.dir / CA_CERT, self.dir / CA_KEY
        if not (self.cert_path.exists() and self.key_path.exists()):
            self._create()
        self.key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        self.cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())

    def _create(self) -> None:
        _private_dir(self.dir)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "okta-workspaces-lab")])
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        _write(self.key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()), 0o600)
        # The CA certificate is public: clients read it (LDAPTLS_CACERT, smtplib's cafile).
        _write(self.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def issue(self, subject: Subject, out_dir: Path, *, key_mode: int = 0o600) -> dict[str, str]:
        """A new key and a server certificate for `subject`, written to out_dir/{cert,key}.pem (the
        certificate followed by the CA's, so a client that has only the CA can build the chain);
        returns {"cert": path, "key": path}."""
        key = ec.generate_private_key(ec.SECP256R1())
        assert isinstance(self.key, ec.EllipticCurvePrivateKey)
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in subject.dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in subject.ips]
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                            (subject.dns or subject.ips)[0])]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        out_dir.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = out_dir / "cert.pem", out_dir / "key.pem"
        _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()), key_mode)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM)
               + self.cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return {"cert": str(cert_path), "key": str(key_path)}


def issue_for_topology(state_dir: Path, topology: dict[str, Any], *, out_dir: Path | None = None,
                       key_mode: int = 0o600) -> dict[str, Any]:
    """Issue every TLS-serving service of the topology its certificate (into out_dir/<service>/,
    default <state>/tls/<service>/), record the paths in its entry as `tls`, and the CA
    certificate's path as the topology's `ca`. The docker runtime passes a folder it mounts into
    the containers, with keys the containers' user can read (key_mode 0644 in a 0700 folder)."""
    ca = LabCA(state_dir)
    inspection: LabCA | None = None
    base = _private_dir(out_dir or Path(state_dir) / "tls")
    for name, svc in topology["services"].items():
        subjects = SUBJECTS.get(svc.get("package", ""))
        if subjects is not None:
            svc["tls"] = ca.issue(subjects(topology, name), base / name, key_mode=key_mode)
        if svc.get("package") in INSPECTED and subjects is not None:
            inspection = inspection or LabCA(state_dir, sub_dir=INSPECTION_DIR, name=INSPECTION_CA_NAME)
            svc["tls_inspection"] = inspection.issue(subjects(topology, name), base / name / INSPECTION_DIR,
                                                     key_mode=key_mode)
    topology["ca"] = {"cert": str(ca.cert_path)}
    return topology
