"""`python -m services.dc`: the domain controller InstanceRDC (LDAP, DNS and the Kerberos KDC).

Settings (topology `services.dc.settings`, all optional): `generated_users` (add that many
`userNNNNN` people, also readable from the seed's `domain` section), `generated_password`,
`lockout_threshold`, `lockout_duration_seconds`, `max_password_age_days`, `max_page_size`,
`ldap_idle_seconds`, `starttls` (default true), `advertise_ip` (the A record's address),
`kerberos_udp_max_reply` (1465), `kerberos_max_skew_seconds` (300).
"""
from __future__ import annotations

import asyncio
import socket

from services.common.runner import Service, bind_tcp, bind_udp, run

from .directory import START_TLS, SUPPORTED_EXTENSIONS, Directory
from .dns import DnsServer, build_zone
from .kerberos import build_kdc
from .ldap import LdapServer
from .tls import server_context


async def build(ctx) -> Service:
    directory = Directory(ctx.seed(), ctx.clock.now, ctx.settings)
    tls = None
    if ctx.settings.get("starttls", True):
        tls = server_context(ctx.state_dir, directory.domain.dc_fqdn, ctx.log)
        if tls is not None and START_TLS not in SUPPORTED_EXTENSIONS:
            SUPPORTED_EXTENSIONS.append(START_TLS)
    ldap = LdapServer(ctx, directory, tls)
    zone = build_zone(directory.domain.dns_name, directory.domain.dc_hostname, _advertised_ip(ctx),
                      ctx.port("ldap"), ctx.port("kerberos"))
    dns = DnsServer(ctx, zone)
    kdc = build_kdc(ctx, directory)

    ldap_sock = bind_tcp(ctx, "ldap")
    ldaps_sock = bind_tcp(ctx, "ldaps") if "ldaps" in ctx.me["ports"] else None
    dns_tcp_sock = bind_tcp(ctx, "dns")
    dns_udp_sock = bind_udp(ctx, "dns")
    krb_tcp_sock = bind_tcp(ctx, "kerberos")
    krb_udp_sock = bind_udp(ctx, "kerberos")
    servers: dict[str, object] = {}

    async def serve_ldap() -> None:
        servers["ldap"] = srv = await asyncio.start_server(ldap.handle, sock=ldap_sock)
        async with srv:
            await srv.serve_forever()

    async def serve_ldaps() -> None:
        """LDAP over TLS from the first byte (636), with the certificate StartTLS uses."""
        if ldaps_sock is None:
            return
        if tls is None:
            ctx.log.warning("LDAPS is off: no certificate (the openssl command is missing)")
            ldaps_sock.close()
            return
        servers["ldaps"] = srv = await asyncio.start_server(ldap.handle, sock=ldaps_sock, ssl=tls)
        async with srv:
            await srv.serve_forever()

    async def serve_dns_tcp() -> None:
        servers["dns_tcp"] = srv = await asyncio.start_server(dns.handle_tcp, sock=dns_tcp_sock)
        async with srv:
            await srv.serve_forever()

    async def serve_dns_udp() -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(dns.udp_protocol, sock=dns_udp_sock)
        servers["dns_udp"] = transport
        try:
            await asyncio.Event().wait()
        finally:
            transport.close()

    async def serve_kerberos_tcp() -> None:
        servers["krb_tcp"] = srv = await asyncio.start_server(kdc.handle_tcp, sock=krb_tcp_sock)
        async with srv:
            await srv.serve_forever()

    async def serve_kerberos_udp() -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(kdc.udp_protocol, sock=krb_udp_sock)
        servers["krb_udp"] = transport
        try:
            await asyncio.Event().wait()
        finally:
            transport.close()

    async def health() -> tuple[bool, str]:
        ldap_up = "ldap" in servers and servers["ldap"].is_serving()
        tcp_up = "dns_tcp" in servers and servers["dns_tcp"].is_serving()
        udp_up = "dns_udp" in servers and not servers["dns_udp"].is_closing()
        krb_up = ("krb_tcp" in servers and servers["krb_tcp"].is_serving()
                  and "krb_udp" in servers and not servers["krb_udp"].is_closing())
        ok = ldap_up and tcp_up and udp_up and krb_up
        detail = (f"ldap {'up' if ldap_up else 'down'}, dns/tcp {'up' if tcp_up else 'down'}, "
                  f"dns/udp {'up' if udp_up else 'down'}, kerberos {'up' if krb_up else 'down'}; "
                  f"{len(directory.entries)} entries")
        return ok, detail

    async def reset() -> None:
        directory.load()

    return Service(tasks=[serve_ldap, serve_ldaps, serve_dns_tcp, serve_dns_udp, serve_kerberos_tcp, serve_kerberos_udp],
                   health=health, reset=reset)


def _advertised_ip(ctx) -> str:
    """The address the A record gives: `advertise_ip` if set, else the topology's host, resolved
    when it is a name (in the container runtime a service's host may be its compose name)."""
    host = str(ctx.settings.get("advertise_ip") or ctx.me["host"])
    try:
        socket.inet_aton(host)
        return host
    except OSError:
        return socket.gethostbyname(host)


if __name__ == "__main__":
    run("dc", build)
