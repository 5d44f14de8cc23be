"""The lab's containers as a compose file, written from the topology (lab/topology.py).

Two compose files come from here: the committed docker-compose.yml with docker/config/topology.json
(the demo lab, `python -m lab.docker_runtime write-files`; tests/docker checks they are current),
and the one `lab up --runtime docker` writes into its state directory (lab/docker_runtime.py).
"""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import ca
from . import topology as topo

DEFAULT_SUBNET = "172.28.10"
DEFAULT_IMAGE = "okta-workspaces-lab:latest"
CONTAINER_STATE_DIR = "/var/lib/lab"
CONTAINER_SEED = "/etc/lab/seed.yaml"
# Where a TLS-serving container finds the certificate and key the lab's CA issued it (mounted
# read-only from <state>/docker/tls/<service>/, next to the compose file).
CONTAINER_TLS = {"cert": "/etc/lab/tls/cert.pem", "key": "/etc/lab/tls/key.pem"}
# The org's second certificate, from the TLS-inspection CA (served while `intercept_tls` is on).
CONTAINER_TLS_INSPECTION = {"cert": "/etc/lab/tls/inspection/cert.pem", "key": "/etc/lab/tls/inspection/key.pem"}
TLS_DIR = "tls"
# The lab CA's certificate (never its key), for the containers that call the org over HTTPS and
# verify it against that CA alone, as in the process runtime (services/common/tls.py peer_https;
# the phone: tls.lab_trust, for the enrolment and push answer URLs the org hands it).
CONTAINER_CA = "/etc/lab/ca.pem"
CA_FILE = "ca.pem"              # in <state>/docker/tls/, next to the services' certificates
ORG_CLIENTS = ("radius-agent", "ad-agent", "phone")
ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
BAKED_TOPOLOGY = ROOT / "docker" / "config" / "topology.json"
# The one-shot enrolment container of docker-compose.yml; the CLI enrols from the host instead.
PROVISION = "provision"
PROVISION_OCTET = "90"

# Credentials of the committed docker/config/topology.json, for a plain `docker compose up`.
# A demo lab's, like the seed's passwords; `lab up --runtime docker` makes its own per state dir.
DEMO_CREDENTIALS = {
    "okta_api_token": "00LabDemoTokenForDockerComposeOnly00000000",
    "okta_agent_token": "00LabDemoAgentTokenForDockerComposeOnly000",
    "radius_shared_secret": "LabDemoRadiusSecret",
    "aws_access_key_id": "AKIALABDEMO000000000",
    "aws_secret_access_key": "LabDemoSecretAccessKeyForDockerCompose00",
    "aws_region": "us-east-1",
    "admin_token": "LabDemoAdminTokenForDockerComposeOnly",
    "console_password": "LabDemoConsolePassword",
}
CREDENTIAL_ENV = ("LAB_OKTA_API_TOKEN", "LAB_OKTA_AGENT_TOKEN", "LAB_RADIUS_SHARED_SECRET", "LAB_AWS_ACCESS_KEY_ID",
                  "LAB_AWS_SECRET_ACCESS_KEY", "LAB_AWS_REGION", "LAB_ADMIN_TOKEN", "LAB_CONSOLE_PASSWORD")


# -- the topology ------------------------------------------------------------------------------

def container_topology(
    state_dir: str | Path = CONTAINER_STATE_DIR,
    *,
    subnet: str = DEFAULT_SUBNET,
    seed: str | Path = CONTAINER_SEED,
    blank: bool = False,
    credentials: dict[str, str] | None = None,
    agents: int = 1,
) -> dict[str, Any]:
    """The topology of the lab in containers: the process topology's shape on the bridge network.

    Each container has one address on the network, its service's `host`, and binds it; the
    standard ports are used. AD Connector's RADIUS requests leave from its own container address,
    so its ConnectIps are that one address (the process runtime has two loopback addresses).
    """
    topology = topo.build(Path(state_dir), subnet=subnet, standard_ports=True, runtime="docker",
                          seed=Path(seed), blank=blank, credentials=credentials or {}, agents=agents)
    connector = topology["services"]["ad-connector"]
    connector["settings"]["connect_ips"] = [connector["host"]]
    # ...and EC2's view of its interfaces is that one address too.
    topology["services"]["ec2"]["settings"]["connector_interfaces"] = [connector["host"]]
    return topology


def baked_topology() -> dict[str, Any]:
    """What docker/config/topology.json must hold (the plain `docker compose up` lab)."""
    return container_topology(credentials=dict(DEMO_CREDENTIALS))


def write_baked_topology(path: Path = BAKED_TOPOLOGY) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baked_topology(), indent=2) + "\n")
    return path


def issue_certificates(state_dir: Path, host_topology: dict[str, Any]) -> None:
    """The lab CA's certificates for the TLS-serving containers, into <state>/docker/tls/<service>/
    (next to the compose file, which mounts them). The keys are 0644 there, as the topology the
    containers read: their user is not the host's, and the 0700 docker/ folder keeps other users
    of the host out. The CA's own key stays on the host (<state>/ca/, 0600): only its certificate
    is copied there, for the org's clients (ORG_CLIENTS)."""
    out_dir = Path(state_dir) / "docker" / TLS_DIR
    ca.issue_for_topology(state_dir, host_topology, out_dir=out_dir, key_mode=0o644)
    ca_copy = out_dir / CA_FILE
    ca_copy.write_bytes(Path(host_topology["ca"]["cert"]).read_bytes())
    os.chmod(ca_copy, 0o644)


def containers_view(host_topology: dict[str, Any]) -> dict[str, Any]:
    """The host's topology as the containers see it: their state directory, seed path and the
    paths of the certificates mounted into them (the CA's certificate at CONTAINER_CA, mounted
    into the org's clients only)."""
    inside = copy.deepcopy(host_topology)
    inside["state_dir"], inside["seed"] = CONTAINER_STATE_DIR, CONTAINER_SEED
    if inside.pop("ca", None):
        inside["ca"] = {"cert": CONTAINER_CA}
    for svc in inside["services"].values():
        if svc.get("tls"):
            svc["tls"] = dict(CONTAINER_TLS)
        if svc.get("tls_inspection"):
            svc["tls_inspection"] = dict(CONTAINER_TLS_INSPECTION)
    return inside


# -- the compose file --------------------------------------------------------------------------
#
# Written from the topology, so the containers are always the topology's services: the committed
# docker-compose.yml (the demo lab, `python -m lab.docker_runtime write-files`; tests/docker
# checks it is current) and the one `lab up --runtime docker` writes into its state directory.

# Which programs wait for which to be healthy (the topology's start order, made explicit).
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "okta": ("mail",),                      # the org sends its emails to the mailbox
    "ad-agent": ("dc", "okta"),             # reads the directory, registers with the org
    "radius-agent": ("okta",),              # pulls its apps from the org at start
    "ad-connector": ("dc", "radius-agent", "ec2"),   # ConnectDirectory makes its security group in EC2
    "workspaces": ("ad-connector",),
    "aws-console": ("ad-connector", "workspaces", "ec2"),
}
HOSTNAMES = {"dc": "instancerdc", "radius-agent": "instanceokta", "ad-agent": "instanceokta"}

COMPOSE_HEADER = """\
# The lab as containers: one container per service of the topology, on a private bridge network
# with the topology's fixed addresses and the standard ports (admin API 9100). Works with
# docker-compose 1.29 (Debian 12) and Compose v2 (`docker compose`).
#
# Written by lab/docker_runtime.py from lab/topology.py ({origin});
# do not edit by hand. tests/docker checks that the committed docker-compose.yml is current.
#
#   make images                      # builds the image (the README's container section)
#   docker-compose up -d             # the demo lab; the `provision` container then enrols
#                                    # Okta Verify for the seed users and exits
#   lab up --runtime docker          # the same through the lab CLI, with its own credentials
#
# Every container reads the topology at /etc/lab/topology.json (docker/config/topology.json: the
# demo credentials) and the seed at /etc/lab/seed.yaml. Variables:
#   LAB_IMAGE           image (default okta-workspaces-lab:latest)
#   LAB_DOCKER_SUBNET   first three octets of the network (default {subnet}; must match the topology)
#   LAB_TOPOLOGY_FILE   the topology file to mount (default docker/config/topology.json)
#   LAB_SEED_FILE       the seed file to mount (default lab/seeds/default.yaml)
#   LAB_OKTA_API_TOKEN, LAB_OKTA_AGENT_TOKEN, LAB_RADIUS_SHARED_SECRET, LAB_AWS_ACCESS_KEY_ID,
#   LAB_AWS_SECRET_ACCESS_KEY, LAB_AWS_REGION, LAB_ADMIN_TOKEN, LAB_CONSOLE_PASSWORD   override the
#                       topology's credentials in every container (LAB_ADMIN_TOKEN: the admin APIs'
#                       Bearer token; LAB_CONSOLE_PASSWORD: the AWS console's lab-operator)
version: "2.4"

x-lab-service: &lab-service
  image: ${{LAB_IMAGE:-{image}}}
  read_only: true
  tmpfs:
    - /tmp
  cap_drop:
    - ALL
  security_opt:
    - no-new-privileges:true
  sysctls:
    # The services run as a non-root user and listen on 25, 53, 80, 88, 389 and 636.
    net.ipv4.ip_unprivileged_port_start: 0
  environment:
    LAB_TOPOLOGY: /etc/lab/topology.json
    LAB_OKTA_API_TOKEN: ${{LAB_OKTA_API_TOKEN:-}}
    LAB_OKTA_AGENT_TOKEN: ${{LAB_OKTA_AGENT_TOKEN:-}}
    LAB_RADIUS_SHARED_SECRET: ${{LAB_RADIUS_SHARED_SECRET:-}}
    LAB_AWS_ACCESS_KEY_ID: ${{LAB_AWS_ACCESS_KEY_ID:-}}
    LAB_AWS_SECRET_ACCESS_KEY: ${{LAB_AWS_SECRET_ACCESS_KEY:-}}
    LAB_AWS_REGION: ${{LAB_AWS_REGION:-}}
    LAB_ADMIN_TOKEN: ${{LAB_ADMIN_TOKEN:-}}
    LAB_CONSOLE_PASSWORD: ${{LAB_CONSOLE_PASSWORD:-}}
  # Docker runs the check with `exec` in the container: about 0.14 s of CPU each time (runc under
  # the shim 93 ms, dockerd 29, containerd 18: measured), so 110 containers checked every 2 s needed
  # more than the 2 cores a class of 10 had. Services start together and wait for each other, as
  # in processes, and `lab up` asks each /healthz itself; Docker's verdict is for `docker ps`.
  healthcheck:
    test: ["CMD", "/opt/lab/bin/python", "/opt/lab/docker/healthcheck.py"]
    interval: 30s
    timeout: 3s
    retries: 3
    start_period: 60s
  stop_grace_period: 10s
  # A crashed service is started again (Docker backs off 0.1 s, doubling); one stopped on purpose
  # (docker stop, lab down) is not. The process runtime's supervisor does the same (lab/supervisor.py).
  restart: on-failure

services:
"""


def program_of(svc: dict[str, Any], name: str) -> str:
    """The program an entry runs (`radius-agent` for a second agent too)."""
    package = svc.get("package") or "services." + name.replace("-", "_")
    return package.rsplit(".", 1)[1].replace("_", "-")


def tls_mounts(topology: dict[str, Any], name: str) -> list[str]:
    """A container's TLS files, each read-only and relative to the compose file's folder, when the
    lab's CA issued them (`lab up --runtime docker`; the committed demo lab has none): its own
    certificate and key (and the org's inspection pair), and the CA's certificate for the org's
    clients."""
    svc = topology["services"][name]
    out = [f"./{TLS_DIR}/{name}/{f}.pem:{CONTAINER_TLS[f]}:ro" for f in ("cert", "key") if svc.get("tls")]
    out += [f"./{TLS_DIR}/{name}/{ca.INSPECTION_DIR}/{f}.pem:{CONTAINER_TLS_INSPECTION[f]}:ro"
            for f in ("cert", "key") if svc.get("tls_inspection")]
    if topology.get("ca") and program_of(svc, name) in ORG_CLIENTS:
        out.append(f"./{TLS_DIR}/{CA_FILE}:{CONTAINER_CA}:ro")
    return out


def compose_text(topology: dict[str, Any], *, origin: str = "the demo topology") -> str:
    """docker-compose.yml for the topology's services (addresses keep the topology's last octets
    on ${LAB_DOCKER_SUBNET}), plus the one-shot `provision` container."""
    services = topology["services"]
    subnet_var = f"${{LAB_DOCKER_SUBNET:-{DEFAULT_SUBNET}}}"
    mounts = ["${LAB_TOPOLOGY_FILE:-./docker/config/topology.json}:/etc/lab/topology.json:ro",
              "${LAB_SEED_FILE:-./lab/seeds/default.yaml}:/etc/lab/seed.yaml:ro"]
    out = [COMPOSE_HEADER.format(origin=origin, subnet=DEFAULT_SUBNET, image=DEFAULT_IMAGE)]
    programs = {name: program_of(svc, name) for name, svc in services.items()}

    def block(name: str, command: str, octet: str, depends: list[str], volume: str | None,
              extra: Sequence[str] = (), more_mounts: Sequence[str] = (), condition: str = "service_started") -> None:
        out.append(f"  {name}:\n    <<: *lab-service\n    command: [\"{command}\"]\n")
        out.extend(f"    {line}\n" for line in extra)
        if depends:
            out.append("    depends_on:\n")
            out.extend(f"      {d}:\n        condition: {condition}\n" for d in depends)
        out.append(f"    networks:\n      lab:\n        ipv4_address: {subnet_var}.{octet}\n")
        out.append("    volumes:\n")
        state = [f"{volume}:/var/lib/lab"] if volume else []
        out.extend(f"      - {m}\n" for m in mounts + list(more_mounts) + state)
        out.append("\n")

    for name, svc in services.items():
        depends = [other for other in services
                   if programs[other] in DEPENDS_ON.get(programs[name], ()) and other != name]
        hostname = HOSTNAMES.get(programs[name], name)
        if name != programs[name]:
            hostname = f"{hostname}-{name.rsplit('-', 1)[-1]}"
        block(name, name, svc["host"].rsplit(".", 1)[1], depends, f"{name}-state",
              [f"hostname: {hostname}"], tls_mounts(topology, name))
    out.append("  # One-shot: enrols Okta Verify (TOTP and push) for the seed users as `lab up` does, then\n"
               "  # exits; idempotent. `lab up --runtime docker` does not start it: the CLI enrols from the host.\n")
    block(PROVISION, PROVISION, PROVISION_OCTET, list(services), None,
          ["healthcheck:", "  disable: true", 'restart: "no"'],
          [f"./{TLS_DIR}/{CA_FILE}:{CONTAINER_CA}:ro"] if topology.get("ca") else [],   # it calls the org
          condition="service_healthy")
    out.append(f"networks:\n  lab:\n    driver: bridge\n    ipam:\n      config:\n"
               f"        - subnet: {subnet_var}.0/24\n          gateway: {subnet_var}.1\n\n")
    out.append("volumes:\n" + "".join(f"  {name}-state:\n" for name in services))
    return "".join(out)


def write_compose(path: Path = COMPOSE_FILE) -> Path:
    path.write_text(compose_text(baked_topology()))
    return path
