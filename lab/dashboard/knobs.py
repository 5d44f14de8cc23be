"""What a trainer turns during a demo, each done the way any client of the lab does it: faults
and clocks through the services' admin APIs, the phone's behaviour through its API, security
groups through the EC2 API (boto3 with the lab's keys), the Windows firewall and reset through
the `lab` CLI itself. Each returns a sentence for the page; a refusal raises Refused with the
service's own words.
"""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from ..client import LabClient, LabClientError
from ..state import admin_headers, admin_url

FAULT_ACTIONS = ("drop", "delay", "deny")
FAULT_PROTOCOLS = ("radius", "ldap", "dns", "kerberos", "push", "smtp")
PHONE_ACTIONS = ("approve", "deny", "ignore")
FIREWALL_HOSTS = ("InstanceRDC", "InstanceOkta")


class Refused(Exception):
    """The input or the lab said no; the message says why in the lab's terms."""


def _number(text: Any, what: str, low: float, high: float) -> float:
    try:
        value = float(str(text).strip() or "0")
    except ValueError:
        raise Refused(f"{what} must be a number, not {str(text)[:40]!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise Refused(f"{what} must be between {low:g} and {high:g}")
    return value


def _service(client: LabClient, name: str) -> str:
    if name not in client.topology["services"]:
        raise Refused(f"this lab runs no service {name[:40]!r}")
    return name


def faults(client: LabClient) -> dict[str, list[dict[str, Any]]]:
    """{service: its faults} for the services that have any (a service that is down: skipped)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in client.topology["services"]:
        try:
            resp = httpx.get(f"{admin_url(client.topology, name)}/faults", headers=admin_headers(client.topology),
                             timeout=3)
        except httpx.HTTPError:
            continue
        if resp.status_code == 200 and resp.json():
            out[name] = resp.json()
    return out


def add_fault(client: LabClient, service: str, action: str, protocol: str, seconds: str) -> str:
    _service(client, service)
    if action not in FAULT_ACTIONS:
        raise Refused(f"a fault's action is one of {', '.join(FAULT_ACTIONS)}")
    if protocol and protocol not in FAULT_PROTOCOLS:
        raise Refused(f"a fault's protocol is one of {', '.join(FAULT_PROTOCOLS)} (or any)")
    spec: dict[str, Any] = {"action": action}
    if protocol:
        spec["protocol"] = protocol
    if action == "delay":
        spec["seconds"] = _number(seconds, "the delay", 0, 600)
    try:
        number = client.add_fault(service, spec)
    except LabClientError as exc:
        raise Refused(str(exc)) from None
    return f"{service}: fault {number} added ({action} {protocol or 'any protocol'})"


def clear_faults(client: LabClient, service: str) -> str:
    _service(client, service)
    resp = httpx.delete(f"{admin_url(client.topology, service)}/faults", headers=admin_headers(client.topology),
                        timeout=5)
    if resp.status_code != 200:
        raise Refused(f"{service} refused: {resp.text[:200]}")
    return f"{service}: faults cleared"


def set_clock(client: LabClient, service: str, offset: str) -> str:
    seconds = _number(offset, "the clock offset", -315_576_000, 315_576_000)   # ±10 years, as the services
    names = list(client.topology["services"]) if service == "all" else [_service(client, service)]
    for name in names:
        try:
            client.set_clock(name, seconds)
        except LabClientError as exc:
            raise Refused(str(exc)) from None
    return f"clock offset {seconds:+g} s on {'every service' if service == 'all' else service}"


def phone(client: LabClient, user: str, action: str, after: str) -> str:
    if action not in PHONE_ACTIONS:
        raise Refused(f"the phone's answer is one of {', '.join(PHONE_ACTIONS)}")
    if not user or len(user) > 100:
        raise Refused("name the person whose phone answers")
    delay = _number(after, "the delay before answering", 0, 600)
    try:
        client.phone_respond(user, action, after=delay)
    except LabClientError as exc:
        raise Refused(str(exc)) from None
    return f"{user}'s phone will {action} pushes" + (f" after {delay:g} s" if delay else "")


def security_groups(client: LabClient) -> list[dict[str, Any]]:
    """The lab's security groups and their inbound rules, from DescribeSecurityGroups."""
    if "ec2" not in client.topology["services"]:
        return []
    try:
        groups = client.aws("ec2").describe_security_groups()["SecurityGroups"]
    except Exception:  # noqa: BLE001 - botocore's errors and a lab that is down read the same here
        return []
    out = []
    for g in groups:
        rules: list[dict[str, str]] = []
        for perm in g.get("IpPermissions", []):
            sources = [r.get("CidrIp") for r in perm.get("IpRanges", [])] + \
                [f"group {p.get('GroupId')}" for p in perm.get("UserIdGroupPairs", [])]
            protocol = "all traffic" if perm.get("IpProtocol") == "-1" else perm.get("IpProtocol")
            ports = "" if perm.get("FromPort") in (None, -1) else (
                f" {perm['FromPort']}" if perm.get("FromPort") == perm.get("ToPort")
                else f" {perm.get('FromPort')}-{perm.get('ToPort')}")
            rules.extend({"text": f"{protocol}{ports} from {source}"} for source in sources)
        out.append({"id": g["GroupId"], "name": g.get("GroupName", ""), "rules": rules})
    return out


def security_group_rule(client: LabClient, group: str, change: str, protocol: str, port: str, cidr: str) -> str:
    """Authorize or revoke one inbound rule, as `aws ec2 authorize-security-group-ingress` does."""
    if change not in ("authorize", "revoke"):
        raise Refused("the change is authorize or revoke")
    if protocol not in ("tcp", "udp"):
        raise Refused("the protocol is tcp or udp")
    number = int(_number(port, "the port", 1, 65535))
    if "ec2" not in client.topology["services"]:
        raise Refused("this lab runs no EC2 API")
    ec2 = client.aws("ec2")
    call = ec2.authorize_security_group_ingress if change == "authorize" else ec2.revoke_security_group_ingress
    import botocore.exceptions  # here: only this knob needs it

    try:
        call(GroupId=group[:100], IpPermissions=[{"IpProtocol": protocol, "FromPort": number, "ToPort": number,
                                                 "IpRanges": [{"CidrIp": cidr.strip()[:50]}]}])
    except (botocore.exceptions.ClientError, botocore.exceptions.ParamValidationError) as exc:
        raise Refused(f"EC2 refused: {exc}") from None
    return f"{group}: {change}d {protocol} {number} from {cidr.strip()}"


def _lab_cli(state_dir: Path, *args: str, timeout: float = 180) -> str:
    done = subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    text = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise Refused(text.splitlines()[-1] if text else f"lab {args[0]} exited {done.returncode}")
    return text


def firewall(state_dir: Path, host: str, action: str, port: str, protocol: str) -> str:
    """`lab firewall HOST allow|block PORT/PROTO`."""
    if host not in FIREWALL_HOSTS:
        raise Refused(f"the Windows hosts are {', '.join(FIREWALL_HOSTS)}")
    if action not in ("allow", "block"):
        raise Refused("the rule is allow or block")
    if protocol not in ("tcp", "udp"):
        raise Refused("the protocol is tcp or udp")
    number = int(_number(port, "the port", 1, 65535))
    text = _lab_cli(state_dir, "firewall", host, action, f"{number}/{protocol}")
    return text.splitlines()[0] if text else f"{host}: {action} {number}/{protocol}"


def reset(state_dir: Path) -> str:
    """`lab reset`: every service to its seed state, faults and clocks too."""
    _lab_cli(state_dir, "reset", timeout=300)
    return "the lab is back to its seed state"
