"""Finding the domain controller the way AD Connector does: SRV records on the customer's DNS.

AWS: AD Connector queries CustomerDnsIps for `_ldap._tcp.<domain>` and `_kerberos._tcp.<domain>`;
at least one DC must appear in both.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import dns_client as dns


class DiscoveryError(Exception):
    pass


@dataclass
class DomainController:
    hostname: str
    address: str
    ldap_port: int
    kerberos_port: int | None


async def _srv(session: dns.Session, dns_ips: list[str], dns_port: int, name: str, timeout: float,
               source: str | None) -> list[tuple[str, int]]:
    try:
        answer = await session.resolve(dns_ips, dns_port, name, dns.TYPE_SRV, timeout=timeout, source=source)
    except (dns.NXDOMAIN, dns.NoAnswer):
        raise DiscoveryError(f"no SRV record {name}") from None
    except dns.LifetimeTimeout:
        raise DiscoveryError(f"DNS timeout querying {name}") from None
    except dns.DNSException as exc:
        raise DiscoveryError(f"DNS error querying {name}: {exc}") from None
    return [(r.target, r.port) for r in sorted(answer, key=lambda r: (r.priority, -r.weight))]


async def find_domain_controller(domain: str, dns_ips: list[str], dns_port: int,
                                 timeout: float = 3.0, source: str | None = None) -> DomainController:
    """The first DC listed in both SRV sets; queries leave from `source` (a connector address), on
    one socket per DNS server for the whole discovery."""
    async with dns.Session() as session:
        return await _discover(session, domain, dns_ips, dns_port, timeout, source)


async def _discover(session: dns.Session, domain: str, dns_ips: list[str], dns_port: int, timeout: float,
                    source: str | None) -> DomainController:
    ldap = await _srv(session, dns_ips, dns_port, f"_ldap._tcp.{domain}", timeout, source)
    kerberos = dict(await _srv(session, dns_ips, dns_port, f"_kerberos._tcp.{domain}", timeout, source))
    for host, ldap_port in ldap:
        if host in kerberos:
            try:
                a = await session.resolve(dns_ips, dns_port, host, dns.TYPE_A, timeout=timeout, source=source)
            except dns.DNSException as exc:
                raise DiscoveryError(f"cannot resolve {host}: {exc}") from None
            return DomainController(host, a[0], ldap_port, kerberos[host])
    raise DiscoveryError(f"no domain controller of {domain} is in both the LDAP and Kerberos SRV records")
