"""The docker runtime: every service as its own container, on a private bridge network.

`lab up --runtime docker` uses this module. It writes a compose file for the lab's topology into
the state directory (the same shape as the committed docker-compose.yml, which is the demo lab's)
and runs it under a compose project of its own (one per state directory), with the topology it
writes for the containers mounted read-only into each of them. It waits until Docker reports every
container healthy and the host reaches each admin API, then enrols Okta Verify for the seed users
from the host, as the process runtime does. `down` removes that compose project's containers and
network, which is all `up` created; the named volumes (the services' state) are kept, as the
process runtime keeps the state directory, unless asked to remove them too.

What it writes into the state directory:
  topology.json              the lab's topology as the host sees it (the CLI reads it): container
                             addresses, standard ports, this directory as state_dir
  docker/topology.json       the same for the containers: state_dir /var/lib/lab, seed
                             /etc/lab/seed.yaml (0644 in a 0700 folder: the containers' user
                             reads it, other users of the host cannot)
  docker/seed.yaml           the seed the containers read
  docker/docker-compose.yml  the compose file of this lab
  docker.json                compose project, compose file, subnet and image, for down/status/logs

The host reaches the bridge network's addresses directly, so `lab status`, `lab login`, `lab phone`
and `lab events` work unchanged against the container addresses.
"""
from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from . import provision
from . import topology as topo
from .process_runtime import LabError, write_topology

DEFAULT_SUBNET = "172.28.10"
DEFAULT_IMAGE = "okta-workspaces-lab:latest"
BASE_IMAGE = "okta-workspaces-lab-base:bookworm"
CONTAINER_STATE_DIR = "/var/lib/lab"
CONTAINER_SEED = "/etc/lab/seed.yaml"
DOCKER_FILE = "docker.json"
DEFAULT_TIMEOUT = 180.0   # seconds for `lab up --runtime docker` (start, health, enrolment)
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
}
CREDENTIAL_ENV = ("LAB_OKTA_API_TOKEN", "LAB_OKTA_AGENT_TOKEN", "LAB_RADIUS_SHARED_SECRET", "LAB_AWS_ACCESS_KEY_ID",
                  "LAB_AWS_SECRET_ACCESS_KEY", "LAB_AWS_REGION")

Progress = Callable[[str], None]


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
    return topology


def baked_topology() -> dict[str, Any]:
    """What docker/config/topology.json must hold (the plain `docker compose up` lab)."""
    return container_topology(credentials=dict(DEMO_CREDENTIALS))


def write_baked_topology(path: Path = BAKED_TOPOLOGY) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baked_topology(), indent=2) + "\n")
    return path


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
    "ad-connector": ("dc", "radius-agent"),
    "workspaces": ("ad-connector",),
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
#   LAB_AWS_SECRET_ACCESS_KEY, LAB_AWS_REGION   override the topology's credentials in every container
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
  healthcheck:
    test: ["CMD", "/opt/lab/bin/python", "/opt/lab/docker/healthcheck.py"]
    interval: 2s
    timeout: 3s
    retries: 3
    start_period: 60s
  stop_grace_period: 10s
  restart: "no"

services:
"""


def program_of(svc: dict[str, Any], name: str) -> str:
    """The program an entry runs (`radius-agent` for a second agent too)."""
    package = svc.get("package") or "services." + name.replace("-", "_")
    return package.rsplit(".", 1)[1].replace("_", "-")


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
              extra: list[str] = ()) -> None:
        out.append(f"  {name}:\n    <<: *lab-service\n    command: [\"{command}\"]\n")
        out.extend(f"    {line}\n" for line in extra)
        if depends:
            out.append("    depends_on:\n")
            out.extend(f"      {d}:\n        condition: service_healthy\n" for d in depends)
        out.append(f"    networks:\n      lab:\n        ipv4_address: {subnet_var}.{octet}\n")
        out.append("    volumes:\n")
        out.extend(f"      - {m}\n" for m in mounts + ([f"{volume}:/var/lib/lab"] if volume else []))
        out.append("\n")

    for name, svc in services.items():
        depends = [other for other in services
                   if programs[other] in DEPENDS_ON.get(programs[name], ()) and other != name]
        hostname = HOSTNAMES.get(programs[name], name)
        if name != programs[name]:
            hostname = f"{hostname}-{name.rsplit('-', 1)[-1]}"
        block(name, name, svc["host"].rsplit(".", 1)[1], depends, f"{name}-state",
              [f"hostname: {hostname}"])
    out.append("  # One-shot: enrols Okta Verify (TOTP and push) for the seed users as `lab up` does, then\n"
               "  # exits; idempotent. `lab up --runtime docker` does not start it: the CLI enrols from the host.\n")
    block(PROVISION, PROVISION, PROVISION_OCTET, list(services), None, ["healthcheck:", "  disable: true"])
    out.append(f"networks:\n  lab:\n    driver: bridge\n    ipam:\n      config:\n"
               f"        - subnet: {subnet_var}.0/24\n          gateway: {subnet_var}.1\n\n")
    out.append("volumes:\n" + "".join(f"  {name}-state:\n" for name in services))
    return "".join(out)


def write_compose(path: Path = COMPOSE_FILE) -> Path:
    path.write_text(compose_text(baked_topology()))
    return path


# -- docker and compose ------------------------------------------------------------------------

def compose_command() -> list[str]:
    """docker-compose (1.29, Debian's) or the Compose v2 plugin; LabError when neither exists."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    raise LabError("neither docker-compose nor `docker compose` is installed "
                   "(Debian: apt-get install docker.io docker-compose)")


def docker_available() -> str | None:
    """None when a Docker engine answers, else why not (one line)."""
    if not shutil.which("docker"):
        return "the docker command is not installed (Debian: apt-get install docker.io)"
    try:
        proc = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                              capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer within 20 s"
    if proc.returncode != 0:
        return "no Docker engine answers: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return None


def image_exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def stale_image(image: str) -> str | None:
    """Why the image is not built from this tree's sources (None when it is, or when this is no
    source checkout and nobody can tell): docker/build-images.sh labels it with
    docker/source_digest.py's digest."""
    script = ROOT / "docker" / "source_digest.py"
    if not script.exists():
        return None
    import importlib.util

    spec = importlib.util.spec_from_file_location("lab_source_digest", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)   # type: ignore[union-attr]
    proc = subprocess.run(["docker", "image", "inspect", "--format",
                           f'{{{{index .Config.Labels "{module.LABEL}"}}}}', image], capture_output=True, text=True)
    built = proc.stdout.strip()
    if proc.returncode != 0 or built == module.source_digest(ROOT):
        return None
    return (f"the image {image} was built from other sources than this tree "
            f"({built or 'unlabelled'} != {module.source_digest(ROOT)}); rebuild it with `make images`")


def _docker(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError(f"docker {' '.join(args[:2])} failed: {proc.stderr.strip()[-800:]}")
    return proc


def project_name(state_dir: Path) -> str:
    """One compose project per state directory (so `down` of one lab never touches another)."""
    if os.environ.get("LAB_DOCKER_PROJECT"):
        return os.environ["LAB_DOCKER_PROJECT"]
    digest = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:10]
    return f"owlab-{digest}"


def _compose_env(conf: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    # The containers must read exactly the topology written for them: no credential overrides.
    for name in CREDENTIAL_ENV:
        env[name] = ""
    env.update(LAB_IMAGE=conf["image"], LAB_DOCKER_SUBNET=conf["subnet"],
               LAB_TOPOLOGY_FILE=conf["topology_file"], LAB_SEED_FILE=conf["seed_file"])
    env.pop("COMPOSE_FILE", None)
    env.pop("COMPOSE_PROJECT_NAME", None)
    return env


def _compose(conf: dict[str, Any], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [*compose_command(), "--project-name", conf["project"], "--file", conf["compose_file"],
           "--project-directory", str(Path(conf["compose_file"]).parent), *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=_compose_env(conf), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(cmd[:1] + list(args[:1]))}` did not finish within {timeout:.0f} s") from None


def load_conf(state_dir: Path) -> dict[str, Any] | None:
    path = Path(state_dir) / DOCKER_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _check_subnet_free(conf: dict[str, Any]) -> None:
    """Docker refuses a network overlapping another; say which and what to do, before starting."""
    wanted = ipaddress.ip_network(f"{conf['subnet']}.0/24")
    ours = f"{conf['project']}_lab"
    ids = _docker("network", "ls", "--quiet").stdout.split()
    if not ids:
        return
    for net in json.loads(_docker("network", "inspect", *ids).stdout or "[]"):
        if net.get("Name") == ours:
            continue
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            try:
                other = ipaddress.ip_network(cfg.get("Subnet", ""), strict=False)
            except ValueError:
                continue
            if other.version == 4 and other.overlaps(wanted):
                raise LabError(f"the Docker network {net.get('Name')!r} already uses {other}, which overlaps "
                               f"{wanted}; stop that lab, or give `lab up --runtime docker --subnet A.B.C`")


# -- up / down / status ------------------------------------------------------------------------

def up(
    state_dir: Path,
    *,
    subnet: str | None = None,
    seed: Path | None = None,
    blank: bool = False,
    image: str | None = None,
    project: str | None = None,
    agents: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    enrol: bool = True,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    """Start the lab in containers; return the host's topology once every service is healthy and,
    unless the lab is blank, Okta Verify is enrolled. On failure everything started is removed
    again (containers and network; state volumes stay) and LabError says why."""
    state_dir = Path(state_dir).resolve()
    why = docker_available()
    if why:
        raise LabError(f"the docker runtime needs Docker: {why}")
    image = image or os.environ.get("LAB_IMAGE") or DEFAULT_IMAGE
    if not image_exists(image):
        raise LabError(f"the image {image} does not exist; build it with `make images` "
                       "(without a registry: `make base-image images`)")
    stale = stale_image(image)
    if stale:
        progress(f"note: {stale}")
    subnet = subnet or os.environ.get("LAB_DOCKER_SUBNET") or DEFAULT_SUBNET
    try:
        net = ipaddress.ip_network(f"{subnet}.0/24")
    except ValueError:
        raise LabError(f"--subnet {subnet!r} is not the first three octets of an IPv4 /24") from None
    if not net.is_private or net.is_loopback:
        raise LabError(f"--subnet {subnet}: the docker runtime needs a private, non-loopback network "
                       f"(default {DEFAULT_SUBNET})")

    creds = topo.load_or_create_credentials(state_dir)
    config_dir = state_dir / "docker"
    config_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(config_dir, 0o700)   # the files inside are readable by the containers' user, not others
    seed_file = config_dir / "seed.yaml"
    shutil.copyfile(seed or topo.SEED_DEFAULT, seed_file)
    host = container_topology(state_dir, subnet=subnet, seed=seed_file, blank=blank, credentials=creds,
                              agents=agents)
    write_topology(state_dir, host)
    inside = containers_view(host)
    topology_file = config_dir / "topology.json"
    _write_readable(topology_file, json.dumps(inside, indent=2))
    os.chmod(seed_file, 0o644)
    compose_file = config_dir / "docker-compose.yml"
    compose_file.write_text(compose_text(inside, origin=f"by `lab up --runtime docker` for {state_dir}"))

    conf = {"project": project or project_name(state_dir), "compose_file": str(compose_file), "subnet": subnet,
            "image": image, "topology_file": str(topology_file), "seed_file": str(seed_file),
            "services": list(host["services"])}
    (state_dir / DOCKER_FILE).write_text(json.dumps(conf, indent=2))
    _check_subnet_free(conf)

    deadline = time.monotonic() + timeout
    names = list(host["services"])
    try:
        proc = _compose(conf, "up", "--detach", "--no-build", *names, timeout=timeout)
        if proc.returncode != 0:
            raise LabError("docker-compose up failed: " + _last_lines(proc.stderr + proc.stdout, 15)
                           + _unhealthy_logs(conf, names))
        wait_healthy(state_dir, host, deadline=deadline, progress=progress)
        if enrol and not blank:
            seed_data = yaml.safe_load(seed_file.read_text()) or {}
            provision.enrol_okta_verify(host, seed_data, progress=progress)
    except (LabError, provision.ProvisionError, httpx.HTTPError) as exc:
        down(state_dir)
        raise LabError(f"lab up failed, the containers it started are removed again: {exc}") from None
    return host


def containers_view(host_topology: dict[str, Any]) -> dict[str, Any]:
    """The host's topology as the containers see it: their state directory and seed path."""
    inside = copy.deepcopy(host_topology)
    inside["state_dir"], inside["seed"] = CONTAINER_STATE_DIR, CONTAINER_SEED
    return inside


def sync_topology(state_dir: Path) -> dict[str, Any]:
    """Carry changes of the host's topology.json (a scenario's settings) to the containers' copy.
    Written in place: the containers bind-mount that file, and a renamed new file would not be
    the one they see. Services read it when they start (see `restart`)."""
    topology = json.loads((Path(state_dir) / "topology.json").read_text())
    with open(Path(state_dir) / "docker" / "topology.json", "r+", encoding="utf-8") as fh:
        fh.truncate(0)
        fh.write(json.dumps(containers_view(topology), indent=2))
    return topology


def _write_readable(path: Path, text: str) -> None:
    """0644: bind-mounted into the containers, whose user is not the host's. The parent
    directory is 0700, so other users of the host cannot reach it."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    tmp.replace(path)


def _last_lines(text: str, n: int) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _unhealthy_logs(conf: dict[str, Any], names: list[str]) -> str:
    """The log tails of the containers that are not healthy (why `up` failed)."""
    out = []
    for name, row in containers(conf).items():
        if name in names and (row.get("health") != "healthy" or row.get("state") != "running"):
            out.append(f"\n--- {name} ({row.get('state')}, {row.get('health')}):\n"
                       + _last_lines(logs_of(row["id"], 20), 20))
    return "".join(out)


def containers(conf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{service: {id, state, health, exit_code}} of the compose project's containers."""
    ids = _docker("ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={conf['project']}",
                  check=False).stdout.split()
    if not ids:
        return {}
    rows = {}
    for c in json.loads(_docker("inspect", *ids, check=False).stdout or "[]"):
        service = (c.get("Config", {}).get("Labels") or {}).get("com.docker.compose.service")
        if not service:
            continue
        state = c.get("State", {})
        rows[service] = {"id": c["Id"][:12], "name": c.get("Name", "").lstrip("/"),
                         "state": state.get("Status"), "exit_code": state.get("ExitCode"),
                         "health": (state.get("Health") or {}).get("Status")}
    return rows


def logs_of(container: str, lines: int = 50) -> str:
    proc = _docker("logs", "--tail", str(lines), container, check=False)
    return proc.stdout + proc.stderr


def wait_healthy(state_dir: Path, topology: dict[str, Any], *, deadline: float,
                 progress: Progress = lambda _: None, names: list[str] | None = None) -> None:
    """Until Docker calls every container (or `names`) healthy and the host gets 200 from each
    /healthz."""
    conf = load_conf(state_dir)
    if conf is None:
        raise LabError(f"no docker lab in {state_dir}")
    waiting = list(names or topology["services"])
    with httpx.Client(timeout=2.0) as client:
        while True:
            rows = containers(conf)
            for name in list(waiting):
                row = rows.get(name)
                if row is None:
                    continue
                if row["state"] in ("exited", "dead"):
                    raise LabError(f"{name} exited (code {row['exit_code']}) during start-up; its last lines:\n"
                                   + _last_lines(logs_of(row["id"], 20), 20))
                if row["health"] != "healthy":
                    continue
                svc = topology["services"][name]
                try:
                    ok = client.get(f"http://{svc['host']}:{svc['ports']['admin']}/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    waiting.remove(name)
                    progress(f"{name:<15} healthy")
            if not waiting:
                return
            if time.monotonic() > deadline:
                detail = ", ".join(f"{n} ({(rows.get(n) or {}).get('health') or 'not started'})" for n in waiting)
                raise LabError(f"not healthy in time: {detail}" + _unhealthy_logs(conf, waiting))
            time.sleep(0.25)


def restart(state_dir: Path, names: list[str], timeout: float = 60.0) -> None:
    """Restart services' containers (SIGTERM, then start again with their volumes) and wait until
    they are healthy: what a scenario's `restart` step does in this runtime. Changes made to the
    lab's topology.json since `up` (settings) reach the restarted services."""
    conf = load_conf(state_dir)
    if conf is None:
        raise LabError(f"no docker lab in {state_dir}")
    topology = sync_topology(state_dir)
    deadline = time.monotonic() + timeout
    proc = _compose(conf, "restart", "--timeout", "10", *names, timeout=timeout)
    if proc.returncode != 0:
        raise LabError("docker-compose restart failed: " + _last_lines(proc.stderr + proc.stdout, 10))
    wait_healthy(state_dir, topology, deadline=deadline, names=list(names))


def running(state_dir: Path) -> list[dict[str, Any]]:
    """The lab's containers that are running, as [{name, container, health}]; [] when this state
    directory has no docker lab (Docker is not even asked then) or Docker is not reachable."""
    conf = load_conf(state_dir)
    if conf is None or not shutil.which("docker"):
        return []
    try:
        rows = containers(conf)
    except (LabError, OSError, ValueError, subprocess.TimeoutExpired):
        return []
    return [{"name": name, "container": row["name"], "health": row["health"]}
            for name, row in rows.items() if row["state"] == "running" and name in conf["services"]]


def health(state_dir: Path) -> dict[str, str | None]:
    """{service: Docker's health status} of the lab's running containers."""
    return {row["name"]: row["health"] for row in running(state_dir)}


def down(state_dir: Path, *, volumes: bool = False) -> list[str]:
    """Remove the containers and the network of this state directory's compose project, and with
    `volumes` its named volumes (the services' state). Returns the services that were running."""
    conf = load_conf(state_dir)
    if conf is None or docker_available():
        return []
    was = sorted(n for n, row in containers(conf).items() if row["state"] == "running" and n != PROVISION)
    args = ["down", "--timeout", "10"] + (["--volumes"] if volumes else [])
    proc = _compose(conf, *args, timeout=180)
    if proc.returncode != 0:
        raise LabError("docker-compose down failed: " + _last_lines(proc.stderr + proc.stdout, 10))
    return was


def logs(state_dir: Path, name: str, lines: int = 50) -> list[str]:
    """The last lines a service's container printed (its log), [] when it has no container."""
    conf = load_conf(state_dir)
    if conf is None:
        return []
    row = containers(conf).get(name)
    return logs_of(row["id"], lines).splitlines() if row else []


def main(argv: list[str] | None = None) -> int:
    """`python -m lab.docker_runtime write-files`: regenerate docker/config/topology.json and
    docker-compose.yml from lab/topology.py (after a service is added or moved)."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv == ["write-files"]:
        print(write_baked_topology())
        print(write_compose())
        return 0
    print("usage: python -m lab.docker_runtime write-files", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
