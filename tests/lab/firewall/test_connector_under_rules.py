"""AD Connector's clients against the real DC with the kernel dropping what a security group does
not allow (real nftables, real packets): ConnectDirectory's checks fail with AWS's message for a
closed DNS, LDAP or Kerberos port, and Kerberos closed on UDP only falls back to TCP (the lab's
choice, `kerberos_udp_fallback`). The connector's traffic leaves from its ENI address (.41), so the
rules see it; the test's own calls from 127.0.0.1 are never filtered. Subnet 127.0.138."""
from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from lab import topology as topo
from lab.firewall import nft
from lab.firewall.compiler import LabNet, compile_ruleset, table_name
from services.ad_connector import connectivity, kerberos_auth
from tests.support import running_services

from .support import walkthrough, without

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"),
                                reason="the kernel's rules need root and nftables")

S = "127.0.138"
ENI = f"{S}.41"
DOMAIN = "corp.example.com"


@pytest.fixture(scope="module")
def dc(tmp_path_factory) -> Iterator[dict[str, Any]]:
    with running_services(["dc"], tmp_path_factory.mktemp("firewall-dc"), S) as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], **svc["ports"]}
    nft.delete(table_name(S))


def enforce(desired: dict[str, Any]) -> None:
    moved = {p: topo.process_port(p, False) for p in (53, 88, 389, 636)}
    nft.apply(compile_ruleset(desired, [], LabNet(S, topo.ADMIN_PORT, {}, moved)))


def check(dc: dict[str, Any]) -> connectivity.CheckResult:
    return asyncio.run(connectivity.check_directory(
        domain=DOMAIN, dns_ips=[dc["host"]], dns_port=dc["dns"], user="svc-adconnector",
        password="Connector-Passw0rd!", timeout=0.5, source=ENI))


def kerberos(dc: dict[str, Any], fallback: str) -> kerberos_auth.AsResult:
    return asyncio.run(kerberos_auth.authenticate(dc["host"], dc["kerberos"], DOMAIN, "alice", "Alice-Passw0rd!",
                                                  source=ENI, timeout=0.5, udp_fallback=fallback))


def test_connect_directory_passes_with_the_walkthrough_rules(dc):
    enforce(walkthrough(S))
    result = check(dc)
    assert result.ok, result


@pytest.mark.parametrize("closed,message", [
    (("sgr-dns-udp", "sgr-dns-tcp"), "DNS unavailable (TCP port 53) for IP: {dc}"),
    (("sgr-ldap",), "Connectivity issues detected: LDAP unavailable (TCP port 389) for IP: {dc}."),
    (("sgr-krb-tcp",), "Kerberos/authentication unavailable (TCP port 88) for IP: {dc}."),
])
def test_connect_directory_fails_with_awss_message_for_the_closed_port(dc, closed, message):
    desired = walkthrough(S)
    for rule_id in closed:
        desired = without(desired, rule_id)
    enforce(desired)
    result = check(dc)
    assert not result.ok
    assert result.reason is not None and result.reason.startswith(message.format(dc=dc["host"]))


def test_kerberos_closed_on_udp_only_falls_back_to_tcp_or_fails_by_setting(dc):
    enforce(without(walkthrough(S), "sgr-krb-udp"))
    assert check(dc).ok                              # ConnectDirectory checks Kerberos over TCP
    fell_back = kerberos(dc, "tcp")
    assert fell_back.ok and fell_back.transport == "tcp"
    strict = kerberos(dc, "none")
    assert strict.outcome == "unreachable" and strict.transport == "udp"
    enforce(walkthrough(S))
    over_udp = kerberos(dc, "none")
    # UDP open again: no fallback needed. (Alice's AS-REP carries a PAC now; when it is over UDP's
    # limit the KDC answers RESPONSE_TOO_BIG and the client moves to TCP, as with AD, which is
    # not a fallback: so the transport may be either.)
    assert over_udp.ok and over_udp.outcome == "ok"
