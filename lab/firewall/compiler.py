"""Security groups and Windows firewall rules → one nftables table for one lab (pure: text in, text out).

What the table does, for packets whose source AND destination are both the lab's own addresses
(its /24 subnet); every other packet leaves the table untouched (`return`), so two labs on two
subnets never see each other's rules and the machine's own traffic is never matched:

  1. from the machine itself (127.0.0.1; with Docker also the network's gateway, the host's address
     on the lab's network): always let through (a person's dig, the health checks);
  2. to the admin port: never filtered;
  3. answers to allowed traffic pass (`ct state established,related`), as security groups are stateful;
  4. to an address with a Windows firewall (InstanceRDC, InstanceOkta): its block rules drop, its
     allow rules let the packet go on to the security group (both must allow);
  5. to an address in security groups: the union of the groups' ingress rules accepts (each with a
     counter named by its sgr- id), everything else is dropped silently (counted per address, as
     `drop:<address>`): the sender times out, as on AWS.

Egress rules are not enforced (every seed and walkthrough group keeps AWS's default allow-all egress).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

PROTOCOLS = ("tcp", "udp", "icmp", "all")
FIREWALL_HOSTS = ("InstanceRDC", "InstanceOkta")


@dataclass(frozen=True)
class WindowsRule:
    """One Windows firewall inbound rule of a host: allow or block PORT/PROTO, from one address or any."""
    host: str                 # InstanceRDC | InstanceOkta
    action: str               # allow | block
    port: int
    protocol: str             # tcp | udp
    source: str | None = None

    @property
    def name(self) -> str:
        return f"fw:{self.host}:{self.action}:{self.port}/{self.protocol}" + (f":{self.source}" if self.source else "")


@dataclass(frozen=True)
class LabNet:
    """What the compiler needs to know of the lab besides the rules."""
    subnet: str                            # first three octets, e.g. 127.0.135
    admin_port: int
    instances: dict[str, list[str]]        # InstanceRDC / InstanceOkta → their addresses
    port_map: dict[int, int]               # AWS's port → the port the lab listens on (process runtime: 53 → 10053)
    machine: tuple[str, ...] = ("127.0.0.1",)   # the machine itself, never filtered (docker: also the gateway)

    @property
    def cidr(self) -> str:
        return f"{self.subnet}.0/24"


def table_name(subnet: str) -> str:
    return "lab_" + subnet.replace(".", "_")


def _chain(prefix: str, address: str) -> str:
    return f"{prefix}_{address.replace('.', '_')}"


def _ports(lo: Any, hi: Any, port_map: dict[int, int]) -> list[str]:
    """The nft port expressions of a range: itself, and each moved port of a standard port inside it."""
    if lo is None or hi is None or int(lo) < 0:
        return []
    lo, hi = int(lo), int(hi)
    out = [str(lo) if lo == hi else f"{lo}-{hi}"]
    out += [str(moved) for std, moved in sorted(port_map.items()) if lo <= std <= hi and moved != std]
    return out


def _match(protocol: str, lo: Any, hi: Any, port_map: dict[int, int]) -> list[str]:
    """nft matches (one per alternative) for a protocol and port range; [""] for any traffic."""
    if protocol == "all":
        return [""]
    if protocol == "icmp":
        return ["ip protocol icmp" + (f" icmp type {int(lo)}" if lo is not None and int(lo) >= 0 else "")]
    ports = _ports(lo, hi, port_map)
    if not ports:
        return [f"meta l4proto {protocol}"]
    return [f"{protocol} dport {{ {', '.join(ports)} }}"]


def group_sources(rule: dict[str, Any], interfaces: list[dict[str, Any]]) -> list[str]:
    """The sources a rule admits: its CIDR, or the addresses of the interfaces in its source group."""
    if rule.get("cidr"):
        return [str(ipaddress.ip_network(rule["cidr"], strict=False))]
    if rule.get("group"):
        return sorted({i["address"] for i in interfaces if rule["group"] in i.get("groups", [])})
    return []


# AD Connector's interfaces are AWS's to manage: nothing in the customer's network opens a
# connection to them (their own traffic's answers pass as established), and in containers the same
# address also serves the Directory Service API, which is AWS's side, not the VPC's.
UNGUARDED_OWNERS = ("ad-connector",)


def guarded(desired: dict[str, Any]) -> dict[str, list[str]]:
    """{address: its groups} for the interfaces in at least one group (the default-deny addresses)."""
    out: dict[str, list[str]] = {}
    for iface in desired.get("interfaces", []):
        if iface.get("groups") and iface.get("owner") not in UNGUARDED_OWNERS:
            out.setdefault(iface["address"], [])
            out[iface["address"]] += [g for g in iface["groups"] if g not in out[iface["address"]]]
    return out


def _windows_by_address(net: LabNet, windows: list[WindowsRule]) -> dict[str, list[WindowsRule]]:
    out: dict[str, list[WindowsRule]] = {}
    for rule in windows:
        for address in net.instances.get(rule.host, []):
            out.setdefault(address, []).append(rule)
    # the rules naming a source come first (the more specific wins), then those for any source
    return {a: sorted(rs, key=lambda r: r.source is None) for a, rs in out.items()}


def _in_subnet(address: str, net: LabNet) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(net.cidr)


def compile_ruleset(desired: dict[str, Any], windows: list[WindowsRule], net: LabNet,
                    carried: dict[str, dict[str, int]] | None = None) -> str:
    """The whole table as `nft -f` text: it replaces the previous one in one transaction.
    `carried`: the counts so far by rule name, so a rule that stays keeps counting from them."""
    table = table_name(net.subnet)
    left = {name: dict(c) for name, c in (carried or {}).items()}

    def counter(name: str) -> str:
        c = left.pop(name, None)       # the first nft rule of a name carries its count, the others start at 0
        return f"counter packets {c['packets']} bytes {c['bytes']}" if c else "counter"

    interfaces = desired.get("interfaces", [])
    groups = desired.get("groups", {})
    sg = {a: gs for a, gs in guarded(desired).items() if _in_subnet(a, net)}
    fw = {a: rs for a, rs in _windows_by_address(net, windows).items() if _in_subnet(a, net)}
    targets = sorted(set(sg) | set(fw), key=ipaddress.ip_address)

    lines = [f"table inet {table}", f"delete table inet {table}", f"table inet {table} {{"]
    lines += ["  chain input {", "    type filter hook input priority filter; policy accept;",
              f"    ip saddr {{ {', '.join(net.machine)} }} return",
              f"    ip saddr != {net.cidr} return",
              f"    tcp dport {net.admin_port} return"]
    if targets:
        lines.append(f"    ip daddr != {{ {', '.join(targets)} }} return")
        lines.append("    ct state established,related accept")
        lines += [f"    ip daddr {a} jump {_chain('to', a)}" for a in targets]
    lines.append("  }")
    for address in targets:
        if address in fw:
            lines.append(f"  chain {_chain('win', address)} {{")
            for rule in fw[address]:
                src = f"ip saddr {rule.source} " if rule.source else ""
                verdict = "return" if rule.action == "allow" else "drop"
                for match in _match(rule.protocol, rule.port, rule.port, net.port_map):
                    lines.append(f"    {src}{match} {counter(rule.name)} {verdict} comment \"{rule.name}\"")
            lines.append("  }")
        lines.append(f"  chain {_chain('to', address)} {{")
        if address in fw:
            lines.append(f"    jump {_chain('win', address)}")
        if address in sg:
            for group_id in sg[address]:
                for rule in (groups.get(group_id) or {}).get("ingress", []):
                    sources = group_sources(rule, interfaces)
                    if not sources:
                        continue
                    for match in _match(rule.get("protocol", "all"), rule.get("from_port"), rule.get("to_port"),
                                        net.port_map):
                        expr = f"ip saddr {{ {', '.join(sources)} }} {match}".rstrip()
                        lines.append(f"    {expr} {counter(rule['id'])} accept comment \"{rule['id']}\"")
            lines.append(f"    {counter('drop:' + address)} drop comment \"drop:{address}\"")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def counters_from(listing: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Packets per rule id / `drop:<address>` / `fw:...` from `nft -j list table` (summed: one rule
    id can be several nft rules, one per port alternative)."""
    out: dict[str, dict[str, int]] = {}
    for item in listing.get("nftables", []):
        rule = item.get("rule")
        if not rule or not rule.get("comment"):
            continue
        for expr in rule.get("expr", []):
            if "counter" in expr:
                entry = out.setdefault(rule["comment"], {"packets": 0, "bytes": 0})
                entry["packets"] += int(expr["counter"].get("packets", 0))
                entry["bytes"] += int(expr["counter"].get("bytes", 0))
    return out


# -- the same decision in Python: for the fallback (faults), `lab firewall`, and the tests ---------------

def _port_in(port: int, lo: Any, hi: Any, port_map: dict[int, int]) -> bool:
    if lo is None or hi is None or int(lo) < 0:
        return True
    std = next((s for s, m in port_map.items() if m == port), port)
    return int(lo) <= std <= int(hi) or int(lo) <= port <= int(hi)


def _rule_admits(rule: dict[str, Any], src: str, protocol: str, port: int, interfaces: list[dict[str, Any]],
                 port_map: dict[int, int]) -> bool:
    proto = rule.get("protocol", "all")
    if proto != "all" and proto != protocol:
        return False
    if proto in ("tcp", "udp") and not _port_in(port, rule.get("from_port"), rule.get("to_port"), port_map):
        return False
    return any(ipaddress.ip_address(src) in ipaddress.ip_network(s) for s in group_sources(rule, interfaces))


def verdict(desired: dict[str, Any], windows: list[WindowsRule], net: LabNet, src: str, dst: str,
            protocol: str, port: int) -> str | None:
    """What the table does to a new connection: None when it lets it through, else the name of
    the rule that drops it (`fw:...` or `drop:<dst>`)."""
    if src in net.machine or not (_in_subnet(src, net) and _in_subnet(dst, net)) or \
            (protocol == "tcp" and port == net.admin_port):
        return None
    for rule in _windows_by_address(net, windows).get(dst, []):
        std = next((s for s, m in net.port_map.items() if m == port), port)
        if rule.protocol == protocol and rule.port in (port, std) and rule.source in (None, src):
            if rule.action == "block":
                return rule.name
            break
    gs = guarded(desired).get(dst)
    if gs is None:
        return None
    interfaces, groups = desired.get("interfaces", []), desired.get("groups", {})
    for group_id in gs:
        for rule in (groups.get(group_id) or {}).get("ingress", []):
            if _rule_admits(rule, src, protocol, port, interfaces, net.port_map):
                return None
    return f"drop:{dst}"
