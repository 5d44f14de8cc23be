"""`python -m services.dc`: the domain controller InstanceRDC (LDAP, LDAPS, DNS and the Kerberos KDC).

Settings (topology `services.dc.settings`, all optional) are read once into `settings.DcSettings`;
a bad value stops the start with one line. The list is in services/dc/README.md.
"""
from __future__ import annotations

import socket
from collections.abc import Callable, Coroutine
from typing import Any

from services.common.context import ServiceContext
from services.common.runner import Service, bind_udp, run, serve_tcp, serve_udp
from services.common.tls import server_context

from .cldap import CldapServer
from .directory import Directory
from .dns import DnsServer, build_zone
from .gssapi import GssapiAcceptor
from .kerberos import build_kdc
from .kpasswd import KpasswdService
from .ldap import LdapServer
from .settings import DcSettings
from .snapshot import DirectorySnapshot


async def build(ctx: ServiceContext) -> Service:
    seed = ctx.seed()
    settings = DcSettings.from_settings(ctx.settings, seed)
    directory = Directory(seed, ctx.clock.now, settings)
    tls = server_context(ctx.me, ctx.log, "LDAP StartTLS and LDAPS") if settings.starttls else None
    ldap = LdapServer(ctx, directory, tls)
    advertised = _advertised_ip(ctx, settings)
    zone = build_zone(directory.domain.dns_name, directory.domain.dc_hostname,
                      advertised, ctx.port("ldap"), ctx.port("kerberos"))
    dns = DnsServer(ctx, zone)
    kdc = build_kdc(ctx, directory)
    # SASL GSSAPI binds take service tickets in the DC's machine key, which the KDC holds.
    ldap.gssapi = GssapiAcceptor(directory, kdc.tgs.principals, ctx.clock.now, settings.kerberos_max_skew_seconds)
    # What changed since the seed (an admin's modify, lockouts, new passwords) outlives a restart.
    snapshot = DirectorySnapshot(ctx.state_dir, directory, kdc.exchange.keys, ctx.log)
    restored = snapshot.restore()
    if restored:
        ctx.log.info("directory: %d changed entries restored from %s", restored, snapshot.path.name)

    ldap_tcp = serve_tcp(ctx, "ldap", ldap.handle)
    dns_tcp, dns_udp = serve_tcp(ctx, "dns", dns.handle_tcp), serve_udp(ctx, "dns", dns.udp_protocol)
    krb_tcp = serve_tcp(ctx, "kerberos", protocol=kdc.tcp_protocol)
    krb_udp = serve_udp(ctx, "kerberos", kdc.udp_protocol)
    tasks: list[Callable[[], Coroutine[Any, Any, Any]]] = [ldap_tcp, dns_tcp, dns_udp, krb_tcp, krb_udp, snapshot.run]
    cldap_udp = serve_udp(ctx, "ldap", CldapServer(ctx, directory, advertised).udp_protocol)  # LDAP pings
    kpw_up: list[Any] = []
    if "kpasswd" in ctx.me["ports"]:   # password changes with a kadmin/changepw ticket (RFC 3244)
        kpw = KpasswdService(ctx, directory, kdc.tgs.principals, ctx.clock.now, settings.kerberos_max_skew_seconds)
        kpw_up = [serve_tcp(ctx, "kpasswd", kpw.handle_tcp), kpw.udp_server(bind_udp(ctx, "kpasswd"))]
    tasks += [cldap_udp, *kpw_up]
    if "ldaps" in ctx.me["ports"]:
        if tls is None:
            ctx.log.warning("LDAPS is off: no certificate (starttls is off, or the topology gives none)")
        else:
            # LDAP over TLS from the first byte (636), with the certificate StartTLS uses.
            tasks.append(serve_tcp(ctx, "ldaps", ldap.handle, ssl=tls))

    async def health() -> tuple[bool, str]:
        dns_up = {"dns/tcp": dns_tcp.up, "dns/udp": dns_udp.up}
        up = {"ldap": ldap_tcp.up, **dns_up, "kerberos": krb_tcp.up and krb_udp.up, "cldap": cldap_udp.up,
              **({"kpasswd": all(listener.up for listener in kpw_up)} if kpw_up else {})}
        detail = ", ".join(f"{name} {'up' if ok else 'down'}" for name, ok in up.items())
        return all(up.values()), f"{detail}; {len(directory.entries)} entries"

    async def reset() -> None:
        directory.load()
        snapshot.discard()

    return Service(tasks=list(tasks), health=health, reset=reset, on_stop=snapshot.close)


def _advertised_ip(ctx: ServiceContext, settings: DcSettings) -> str:
    """The address the A record gives: `advertise_ip` if set, else the topology's host, resolved
    when it is a name (in the container runtime a service's host may be its compose name)."""
    host = settings.advertise_ip or str(ctx.me["host"])
    try:
        socket.inet_aton(host)
        return host
    except OSError:
        return socket.gethostbyname(host)


if __name__ == "__main__":
    run("dc", build)
