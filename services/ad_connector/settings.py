"""AD Connector's settings (`services.ad-connector.settings` of the topology), read once at start-up.

The first three are written by the lab's topology; the rest are lab knobs with AWS-like defaults.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.settings import SettingsReader

AUTH_ORDERS = ("radius_first", "ad_first")
KERBEROS_TRANSPORTS = ("udp", "tcp")
# When no UDP reply comes from the KDC (port 88/udp closed): try TCP (the lab's choice, as Windows'
# and MIT's Kerberos clients do), or fail the sign-in as dc_unreachable. No public source says.
KERBEROS_UDP_FALLBACKS = ("tcp", "none")


@dataclass(frozen=True)
class ConnectorSettings:
    connect_ips: tuple[str, ...]         # the connector's addresses (ENIs): RADIUS, DNS, LDAP leave from them
    dns_port: int                        # the port of CustomerDnsIps (DNS servers are given by IP only)
    customer_dns_ips: tuple[str, ...]    # the seed directory's DnsIpAddrs
    auth_order: str                      # sign-in: RADIUS then AD (AWS's documented order), or AD first
    time_scale: float                    # multiplies RadiusTimeout (tests shrink it)
    kerberos_timeout_seconds: float
    kerberos_transport: str              # udp (then TCP when the reply is too big) or tcp
    kerberos_udp_fallback: str           # tcp: no UDP reply → the same exchange over TCP; none: fail
    stage_delay_seconds: float           # between lifecycle states (Requested → Creating → Active)
    connect_check_timeout_seconds: float
    radius_probe_timeout_seconds: float
    radius_probe_retries: int

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> ConnectorSettings:
        r = SettingsReader(settings)
        return cls(
            connect_ips=r.strings("connect_ips"),
            dns_port=r.integer("dns_port", minimum=1),
            customer_dns_ips=r.strings("customer_dns_ips"),
            auth_order=r.choice("auth_order", AUTH_ORDERS, "radius_first"),
            time_scale=r.number("time_scale", 1.0, positive=True),
            kerberos_timeout_seconds=r.number("kerberos_timeout_seconds", 2.0, positive=True),
            kerberos_transport=r.choice("kerberos_transport", KERBEROS_TRANSPORTS, "udp"),
            kerberos_udp_fallback=r.choice("kerberos_udp_fallback", KERBEROS_UDP_FALLBACKS, "tcp"),
            stage_delay_seconds=r.number("stage_delay_seconds", 1.0, minimum=0),
            connect_check_timeout_seconds=r.number("connect_check_timeout_seconds", 2.0, positive=True),
            radius_probe_timeout_seconds=r.number("radius_probe_timeout_seconds", 2.0, positive=True),
            radius_probe_retries=r.integer("radius_probe_retries", 0, minimum=0),
        )
