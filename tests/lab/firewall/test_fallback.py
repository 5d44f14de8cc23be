"""Where the lab may not change the kernel's rules: the reason is said, and the rules become drop
faults in the receiving services (a real DC; the connector's LDAP check from its ENI fails while
the fault stands and passes once the rule is back). Subnet 127.0.139."""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.firewall import enforce, hosts, lifecycle
from lab.state import admin_headers, admin_url
from services.ad_connector import connectivity
from tests.support import running_services

from .support import walkthrough, without

S = "127.0.139"
ROOT = Path(__file__).resolve().parents[3]


def test_the_dropping_faults_follow_the_rules():
    topology = {"subnet": S, "runtime": "process", "standard_ports": False, "services": {
        "dc": {"host": f"{S}.10", "package": "services.dc",
               "ports": {"ldap": 10389, "kerberos": 10088, "dns": 10053, "admin": 9100}},
        "radius-agent": {"host": f"{S}.20", "package": "services.radius_agent", "ports": {"radius": 1812}},
        "ad-agent": {"host": f"{S}.21", "package": "services.ad_agent", "ports": {}},
        "workspaces": {"host": f"{S}.50", "package": "services.workspaces", "ports": {"api": 8080}}}}
    net = enforce.lab_net(topology)
    assert [f for f in enforce.fallback_faults(topology, walkthrough(S), [], net) if f[0] == "dc"] == [
        (svc, {"action": "drop", "protocol": proto, "port": port, "peer": peer})
        for svc, proto, port, peers in [("dc", "ldap", 10389, [f"{S}.50"]),
                                        ("dc", "kerberos", 10088, [f"{S}.20", f"{S}.21", f"{S}.50"]),
                                        ("dc", "dns", 10053, [f"{S}.20", f"{S}.21", f"{S}.50"])]
        for peer in peers]
    revoked = enforce.fallback_faults(topology, without(walkthrough(S), "sgr-radius"), [], net)
    assert [f for s, f in revoked if s == "radius-agent"] == [
        {"action": "drop", "protocol": "radius", "port": 1812, "peer": p}
        for p in (f"{S}.10", f"{S}.21", f"{S}.41", f"{S}.42", f"{S}.50")]
    windows = [hosts.WindowsRule("InstanceOkta", "block", 1812, "udp")]
    blocked = enforce.fallback_faults(topology, walkthrough(S), windows, net)
    assert {"action": "drop", "protocol": "radius", "port": 1812, "peer": f"{S}.41"} in [f for _, f in blocked]


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv to run as another user")
def test_without_root_the_lab_says_why():
    code = "from lab.firewall import nft, lifecycle; print(lifecycle.describe({'mode': 'fallback', " \
           "'why': nft.unavailable_reason()}))"
    out = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
                          "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0 and "Permission denied" in out.stderr:
        pytest.skip("the virtualenv is not readable by another user")
    assert out.returncode == 0, out.stderr
    assert "NOT enforced by the kernel (not running as root)" in out.stdout
    assert "drop faults" in out.stdout


@pytest.fixture(scope="module")
def dc(tmp_path_factory) -> Iterator[dict[str, Any]]:
    with running_services(["dc"], tmp_path_factory.mktemp("firewall-fallback"), S) as topology:
        yield topology


def _check(topology: dict[str, Any]) -> connectivity.CheckResult:
    svc = topology["services"]["dc"]
    return asyncio.run(connectivity.check_directory(
        domain="corp.example.com", dns_ips=[svc["host"]], dns_port=svc["ports"]["dns"], user="svc-adconnector",
        password="Connector-Passw0rd!", timeout=0.5, source=f"{S}.41"))


def test_the_fallback_drops_in_the_service_and_takes_its_faults_back(dc):
    state_dir = Path(dc["state_dir"])
    faults_url = f"{admin_url(dc, 'dc')}/faults"
    enforce.enforce(state_dir, dc, without(walkthrough(S), "sgr-ldap"), how="fallback")
    faults = httpx.get(faults_url, headers=admin_headers(dc)).json()
    assert any({"action": "drop", "protocol": "ldap", "peer": f"{S}.41"}.items() <= f.items() for f in faults)
    result = _check(dc)
    assert not result.ok and result.reason and "LDAP unavailable (TCP port 389)" in result.reason
    enforce.enforce(state_dir, dc, walkthrough(S), how="fallback")
    ldap = dc["services"]["dc"]["ports"]["ldap"]
    left = httpx.get(faults_url, headers=admin_headers(dc)).json()
    assert not [f for f in left if f["peer"] == f"{S}.41" and f["port"] == ldap]
    assert [f for f in left if f["peer"] == f"{S}.41" and f["port"] == dc["services"]["dc"]["ports"]["ldaps"]]
    assert _check(dc).ok
    lifecycle.stop(state_dir)
    assert httpx.get(faults_url, headers=admin_headers(dc)).json() == []
