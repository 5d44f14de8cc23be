"""What the firewall tests share: a desired state in the contract's shape for one subnet."""
from __future__ import annotations

from typing import Any

from lab.firewall.compiler import LabNet


def net(subnet: str = "127.0.135") -> LabNet:
    return LabNet(subnet, 9100, {"InstanceRDC": [f"{subnet}.10"], "InstanceOkta": [f"{subnet}.20", f"{subnet}.21"]},
                  {53: 10053, 88: 10088, 389: 10389})


def rule(rule_id: str, protocol: str, port: int | None, *, group: str | None = None,
         cidr: str | None = None) -> dict[str, Any]:
    return {"id": rule_id, "protocol": protocol, "from_port": port, "to_port": port, "cidr": cidr, "group": group}


def walkthrough(subnet: str = "127.0.135") -> dict[str, Any]:
    """The walkthrough's groups: the DC lets the connector in on 53, 88 (TCP/UDP) and 389, the agent
    lets it in on UDP 1812, and the AD agent reaches the DC's LDAP."""
    def iface(n: int, owner: str, group: str) -> dict[str, Any]:
        return {"id": f"eni-{n}", "owner": owner, "address": f"{subnet}.{n}", "groups": [group]}

    return {"generation": 1,
            "interfaces": [iface(10, "InstanceRDC", "sg-dc"), iface(20, "InstanceOkta", "sg-okta"),
                           iface(21, "InstanceOkta", "sg-okta"), iface(41, "ad-connector", "sg-conn"),
                           iface(42, "ad-connector", "sg-conn")],
            "groups": {
                "sg-dc": {"name": "dc", "egress": [], "ingress": [
                    rule("sgr-dns-udp", "udp", 53, group="sg-conn"), rule("sgr-dns-tcp", "tcp", 53, group="sg-conn"),
                    rule("sgr-krb-udp", "udp", 88, group="sg-conn"), rule("sgr-krb-tcp", "tcp", 88, group="sg-conn"),
                    rule("sgr-ldap", "tcp", 389, group="sg-conn"),
                    rule("sgr-agent-ldap", "tcp", 389, group="sg-okta")]},
                "sg-okta": {"name": "okta", "egress": [], "ingress": [
                    rule("sgr-radius", "udp", 1812, group="sg-conn")]},
                "sg-conn": {"name": "connector", "egress": [], "ingress": []}}}


def without(desired: dict[str, Any], rule_id: str) -> dict[str, Any]:
    groups = {gid: dict(g, ingress=[r for r in g["ingress"] if r["id"] != rule_id])
              for gid, g in desired["groups"].items()}
    return dict(desired, groups=groups)
