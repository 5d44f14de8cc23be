"""The connectivity check ConnectDirectory runs before a new AD Connector becomes Active.

AWS checks, from the connector's subnets, that each CustomerDnsIps server answers, that it has the
`_ldap._tcp.<domain>` and `_kerberos._tcp.<domain>` SRV records, that LDAP on the domain controllers
is reachable, and that the service account can bind. A failure leaves the directory `Failed` with
AWS's administrator message as `StageReason` (docs/aws.md, "ConnectDirectory and the Stage
lifecycle": AWS does not say how it reports them; this is the lab's choice).

The messages name AWS's standard ports (53, 389, 88) even though the process runtime moves them up
by 10000: the text is AWS's, the port the lab really used is in the event journal.

Kerberos: the SRV record must exist and the KDC's port must answer (AD Connector authenticates
users with Kerberos, so a DC without it cannot serve sign-ins).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from . import directory_auth
from . import dns_client as dns

PORTS_SUFFIX = "Please ensure that the listed ports are available and retry the operation."


@dataclass
class CheckResult:
    ok: bool
    reason: str | None = None                      # StageReason when not ok
    notes: list[str] = field(default_factory=list)  # what the journal should know
    dc: str | None = None


def dns_unavailable(ip: str) -> str:
    return f"DNS unavailable (TCP port 53) for IP: {ip}"


def ldap_unavailable(ip: str) -> str:
    return f"Connectivity issues detected: LDAP unavailable (TCP port 389) for IP: {ip}. {PORTS_SUFFIX}"


def kerberos_unavailable(ip: str) -> str:
    return f"Kerberos/authentication unavailable (TCP port 88) for IP: {ip}. {PORTS_SUFFIX}"


def srv_missing(kind: str, ip: str) -> str:
    return f"SRV record for {kind} does not exist for IP: {ip}"


# Lab wording: AWS publishes no text for a service account that cannot bind.
def bad_service_account(user: str, detail: str) -> str:
    return (f"Invalid service account credentials: the directory rejected the bind of {user} ({detail}). "
            "Check the user name and password of the AD Connector service account.")


class _SrvMissing(Exception):
    pass


async def _srv(session: dns.Session, ip: str, port: int, name: str, timeout: float,
               source: str | None) -> list[tuple[str, int]]:
    try:
        answer = await session.resolve([ip], port, name, dns.TYPE_SRV, timeout=timeout, source=source)
    except (dns.NXDOMAIN, dns.NoAnswer):
        raise _SrvMissing(name) from None
    return [(r.target, r.port) for r in sorted(answer, key=lambda r: (r.priority, -r.weight))]


async def _tcp_open(host: str, port: int, timeout: float, source: str | None) -> bool:
    try:
        local = (source, 0) if source else None
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=local), timeout)
    except (TimeoutError, OSError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True


async def check_directory(*, domain: str, dns_ips: list[str], dns_port: int, user: str, password: str,
                          timeout: float = 2.0, source: str | None = None) -> CheckResult:
    """Run AWS's ConnectDirectory checks from `source` (a connector address); the first failure is
    the StageReason."""
    async with dns.Session() as session:
        return await _check(session, domain=domain, dns_ips=dns_ips, dns_port=dns_port, user=user,
                            password=password, timeout=timeout, source=source)


async def _check(session: dns.Session, *, domain: str, dns_ips: list[str], dns_port: int, user: str,
                 password: str, timeout: float, source: str | None) -> CheckResult:
    notes: list[str] = []
    ldap_targets: list[tuple[str, int]] = []
    kerberos_targets: list[tuple[str, int]] = []
    for ip in dns_ips:
        srv: dict[str, list[tuple[str, int]]] = {}
        for kind, service in (("LDAP", "_ldap"), ("Kerberos", "_kerberos")):
            try:
                srv[kind] = await _srv(session, ip, dns_port, f"{service}._tcp.{domain}", timeout, source)
            except _SrvMissing:
                return CheckResult(False, srv_missing(kind, ip), notes)
            except dns.DNSException as exc:
                notes.append(f"DNS {ip}:{dns_port}: {exc.__class__.__name__}")
                return CheckResult(False, dns_unavailable(ip), notes)
        for targets, records in ((ldap_targets, srv["LDAP"]), (kerberos_targets, srv["Kerberos"])):
            for host, port in records:
                try:
                    address = (await session.resolve([ip], dns_port, host, dns.TYPE_A, timeout=timeout,
                                                     source=source))[0]
                except dns.DNSException as exc:
                    notes.append(f"cannot resolve {host}: {exc.__class__.__name__}")
                    continue
                if (address, port) not in targets:
                    targets.append((address, port))
    if not ldap_targets:
        return CheckResult(False, ldap_unavailable(dns_ips[0]), notes)

    principal = user if "@" in user else f"{user}@{domain}"
    dc = None
    for address, port in ldap_targets:
        if not await _tcp_open(address, port, timeout, source):
            notes.append(f"LDAP {address}:{port} unreachable")
            return CheckResult(False, ldap_unavailable(address), notes)
        bind = await directory_auth.check_password(address, port, principal, password, source)
        if bind.reason == "unreachable":
            return CheckResult(False, ldap_unavailable(address), notes)
        if not bind.ok:
            notes.append(f"service account bind on {address}:{port}: {bind.reason}")
            return CheckResult(False, bad_service_account(principal, bind.detail or bind.reason), notes)
        dc = dc or f"{address}:{port}"

    for address, port in kerberos_targets:
        if not await _tcp_open(address, port, timeout, source):
            notes.append(f"Kerberos {address}:{port} did not answer")
            return CheckResult(False, kerberos_unavailable(address), notes, dc)
    return CheckResult(True, None, notes, dc)
