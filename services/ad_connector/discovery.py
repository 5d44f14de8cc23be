"""Finding the domain controller the way AD Connector does: SRV records on the customer's DNS.

AWS: AD Connector queries CustomerDnsIps for `_ldap._tcp.<domain>` and `_kerberos._tcp.<domain>`;
at least one DC must appear in both.
"""
from __future__ import annotations

from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver


class DiscoveryError(Exception):
    pass


@dataclass
class DomainController:
    hostname: str
    address: str
    ldap_port: int
    kerberos_port: int | None


def _resolver(dns_ips: list[str], dns_port: int, timeout: float) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = list(dns_ips)
    resolver.port = dns_port
    resolver.timeout = resolver.lifetime = timeout
    return resolver


async def _srv(resolver, name: str, source: str | None) -> list[tuple[str, int]]:
    try:
        answer = await resolver.resolve(name, "SRV", source=source)
    except dns.resolver.NXDOMAIN:
        raise DiscoveryError(f"no SRV record {name}") from None
    except dns.resolver.NoAnswer:
        raise DiscoveryError(f"no SRV record {name}") from None
    except dns.exception.Timeout:
        raise DiscoveryError(f"DNS timeout querying {name}") from None
    except dns.exception.DNSException as exc:
        raise DiscoveryError(f"DNS error querying {name}: {exc}") from None
    return [(str(r.target).rstrip(".").lower(), r.port) for r in sorted(answer, key=lambda r: (r.priority, -r.weight))]


async def find_domain_controller(domain: str, dns_ips: list[str], dns_port: int,
                                 timeout: float = 3.0, source: str | None = None) -> DomainController:
    """The first DC listed in both SRV sets; queries leave from `source` (a connector address)."""
    resolver = _resolver(dns_ips, dns_port, timeout)
    ldap = await _srv(resolver, f"_ldap._tcp.{domain}", source)
    kerberos = dict(await _srv(resolver, f"_kerberos._tcp.{domain}", source))
    for host, ldap_port in ldap:
        if host in kerberos:
            try:
                a = await resolver.resolve(host, "A", source=source)
            except dns.exception.DNSException as exc:
                raise DiscoveryError(f"cannot resolve {host}: {exc}") from None
            return DomainController(host, a[0].to_text(), ldap_port, kerberos[host])
    raise DiscoveryError(f"no domain controller of {domain} is in both the LDAP and Kerberos SRV records")
