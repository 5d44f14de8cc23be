"""The lab's topology: which services run, on which addresses and ports, with which settings.

One topology, two runtimes: the process runtime writes it to `<state>/topology.json` and every
service reads its own entry from there. Addresses follow docs/architecture.md's table; in the
process runtime every service gets its own loopback address (Linux routes all of 127.0.0.0/8 to
`lo`), and ports below 1024 move up by 10000 (HTTP's 80 to 8080, a port browsers open) unless
standard ports are asked for.
"""
from __future__ import annotations

import json
import os
import secrets
import string
from pathlib import Path
from typing import Any

SEED_DEFAULT = Path(__file__).parent / "seeds" / "default.yaml"
DEFAULT_SUBNET = "127.0.10"
ADMIN_PORT = 9100

# service -> (last octet, {endpoint kind: standard port}); the order is the start order.
SERVICES: dict[str, tuple[int, dict[str, int]]] = {
    "dc": (10, {"ldap": 389, "ldaps": 636, "kerberos": 88, "kpasswd": 464, "dns": 53}),
    "mail": (70, {"smtp": 25, "api": 80}),      # before okta: the org sends its emails here
    "okta": (30, {"api": 80, "https": 443}),    # the agents call the org over HTTPS (lab CA)
    "ad-agent": (21, {}),                       # after okta: it registers with the org; no data ports
    "phone": (60, {"api": 80}),
    "radius-agent": (20, {"radius": 1812}),
    "ec2": (46, {"api": 80}),                   # before ad-connector: ConnectDirectory makes its group here
    "ad-connector": (40, {"api": 80}),
    "workspaces": (50, {"api": 80}),
    "aws-console": (80, {"api": 80}),           # a client of the two AWS APIs above, as a person's browser
}
# A second Okta RADIUS agent (`lab up --agents 2`): same program, its own address and duplicate cache.
SECOND_AGENT = ("radius-agent-2", 22)
# AD Connector's two connector addresses: the source of its RADIUS requests (ConnectIps).
CONNECT_IP_OCTETS = (41, 42)

# The AWS account of the console's sign-in (WorkSpaces' default `account_id` is the same).
CONSOLE_ACCOUNT_ID = "123456789012"
# The lab's operator: the IAM user who signs in to the AWS console (password: credential console_password).
CONSOLE_USER = "lab-operator"

HTTP_KINDS = {"api", "admin", "https"}
# The pages people open in a browser, by the package that serves them (on its `https` port when it
# has one with a certificate, else on `api`).
PAGES = {"services.okta": {"signin": "/login", "admin_console": "/admin"},
         "services.mail": {"mailbox": "/"}, "services.phone": {"phones": "/"},
         "services.workspaces": {"web_access": "/webclient"}, "services.aws_console": {"console": "/signin"}}
RADIUS_AGENT_PACKAGE = "services.radius_agent"


# Browsers refuse 10080 (Chromium's ERR_UNSAFE_PORT; Firefox restricts it too), so HTTP moves to
# 8080 rather than 80 + 10000: every page the lab serves opens in a browser as it is.
MOVED_PORTS = {80: 8080}


def process_port(port: int, standard_ports: bool) -> int:
    if standard_ports or port >= 1024:
        return port
    return MOVED_PORTS.get(port, port + 10000)


def build(
    state_dir: Path,
    *,
    subnet: str = DEFAULT_SUBNET,
    standard_ports: bool = False,
    runtime: str = "process",
    seed: Path = SEED_DEFAULT,
    blank: bool = False,
    credentials: dict[str, str] | None = None,
    agents: int = 1,
) -> dict[str, Any]:
    """The topology as a plain dict (what gets written to topology.json)."""
    if agents not in (1, 2):
        raise ValueError("the lab runs one or two RADIUS agents")
    entries = [(name, name, octet, ports) for name, (octet, ports) in SERVICES.items()]
    if agents == 2:
        at = [e[0] for e in entries].index("radius-agent") + 1
        entries.insert(at, (SECOND_AGENT[0], "radius-agent", SECOND_AGENT[1], SERVICES["radius-agent"][1]))
    services: dict[str, Any] = {}
    for name, program, octet, ports in entries:
        services[name] = {
            "host": f"{subnet}.{octet}",
            # The Python package that runs it: `python -m <package> --service <name>`.
            "package": "services." + program.replace("-", "_"),
            "ports": {kind: process_port(p, standard_ports) for kind, p in ports.items()}
            | {"admin": ADMIN_PORT},
            "settings": {},
        }
    dc_ports = services["dc"]["ports"]
    services["ad-connector"]["settings"] = {
        "connect_ips": [f"{subnet}.{o}" for o in CONNECT_IP_OCTETS],
        # DNS servers are given by IP only (CustomerDnsIps); the lab's DNS port is a lab setting.
        "dns_port": dc_ports["dns"],
        "customer_dns_ips": [services["dc"]["host"]],
    }
    # The console calls the two AWS APIs as boto3 does: their URLs here, the keys from credentials.
    services["aws-console"]["settings"] = {
        "ds_endpoint": f"http://{services['ad-connector']['host']}:{services['ad-connector']['ports']['api']}",
        "workspaces_endpoint": f"http://{services['workspaces']['host']}:{services['workspaces']['ports']['api']}",
        "account_id": CONSOLE_ACCOUNT_ID,
    }
    if "ec2" in services:               # EC2 → Security Groups
        services["aws-console"]["settings"]["ec2_endpoint"] = (
            f"http://{services['ec2']['host']}:{services['ec2']['ports']['api']}")
    # EC2's instances are the walkthrough's machines: InstanceRDC is the DC, InstanceOkta every
    # Okta agent's address; AD Connector's two interfaces are its connector addresses.
    okta_hosts = [services[name]["host"] for name in ("radius-agent", "ad-agent", SECOND_AGENT[0]) if name in services]
    services["ec2"]["settings"] = {
        "instances": {"InstanceRDC": [services["dc"]["host"]], "InstanceOkta": okta_hosts},
        "connector_interfaces": list(services["ad-connector"]["settings"]["connect_ips"]),
        "vpc_cidr": f"{subnet}.0/24",
    }
    return {
        "runtime": runtime,
        "state_dir": str(state_dir),
        "subnet": subnet,
        "standard_ports": standard_ports,
        "blank": blank,
        "seed": str(seed),
        "credentials": credentials or {},
        "services": services,
    }


def package_of(topology: dict[str, Any], name: str) -> str:
    """The Python package an entry runs (`python -m <package>`); a second agent runs the first's."""
    return topology["services"][name].get("package") or "services." + name.replace("-", "_")


def radius_agents(topology: dict[str, Any]) -> list[str]:
    """The entries that are Okta RADIUS agents (one, or two with `lab up --agents 2`)."""
    return [name for name in topology["services"] if package_of(topology, name) == RADIUS_AGENT_PACKAGE]


def write_topology(state_dir: Path, topology: dict[str, Any]) -> Path:
    """`<state>/topology.json`, mode 0600 (it holds the lab's credentials); every service reads it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "topology.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(topology, fh, indent=2)
    return path


def endpoints(service: dict[str, Any]) -> dict[str, str]:
    """`{kind: address}` as `lab status` shows it: URLs for HTTP, host:port for the rest, and the
    URLs of the service's pages (PAGES)."""
    out = {}
    for kind, port in service["ports"].items():
        addr = f"{service['host']}:{port}"
        scheme = "https" if kind == "https" else "http"
        out[kind] = f"{scheme}://{addr}" if kind in HTTP_KINDS else addr
    # Pages are where the service advertises itself: the org's HTTPS URL when it has a certificate
    # (what its mails and links use), else the plain `api` port.
    for page, path in PAGES.get(service.get("package", ""), {}).items():
        out[page] = (out["https"] if "https" in out and service.get("tls") else out["api"]) + path
    return out


def _secret(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def load_or_create_credentials(state_dir: Path) -> dict[str, str]:
    """The lab's admin credentials, made once per state directory and kept (mode 0600). A key
    added since the directory was made gets its value now (an older lab gains it, keeps the rest)."""
    path = state_dir / "credentials.json"
    creds = json.loads(path.read_text()) if path.exists() else {}
    fresh = {
        # Okta API tokens are 42 characters starting with 00. The admin's, and the one the Okta
        # RADIUS agent was given at installation (revoking it disrupts the agent, not the admin).
        "okta_api_token": "00" + _secret(40),
        "okta_agent_token": "00" + _secret(40),
        # AD Connector accepts printable ASCII without spaces, 8-512 characters.
        "radius_shared_secret": _secret(24),
        "aws_access_key_id": "AKIA" + _secret(16, string.ascii_uppercase + string.digits),
        "aws_secret_access_key": _secret(40),
        "aws_region": "us-east-1",
        # Every service's admin API (reset, faults, clock, events) takes it as a Bearer token.
        "admin_token": _secret(43),
        # The AWS console's IAM user password (CONSOLE_USER); shown by `lab users`.
        "console_password": _secret(16),
    }
    missing = {k: v for k, v in fresh.items() if k not in creds}
    if missing:
        creds.update(missing)
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(creds, fh, indent=2)
    return creds


def renew_credential(state_dir: Path, key: str) -> dict[str, str]:
    """A new value for one credential (as re-installing the Okta RADIUS agent gives it a new API
    token); the others are kept. Returns the credentials."""
    path = state_dir / "credentials.json"
    creds = json.loads(path.read_text()) if path.exists() else {}
    creds.pop(key, None)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(creds, fh, indent=2)
    return load_or_create_credentials(state_dir)
