"""The Docker engine and Compose, through their command-line tools.

Compose owns the lab's containers: docker-compose 1.29 (Debian's) or the Compose v2 plugin
creates the project, its network and volumes, and removes them again. Everything else here
(inspect, ps, logs, networks) goes through the same `docker` command, so both follow the same
engine selection (DOCKER_HOST and `docker context`); see docs/architecture.md for why the Docker
SDK for Python is not used.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .docker_compose import CREDENTIAL_ENV, ROOT
from .errors import LabError


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


def docker_unavailable_reason() -> str | None:
    """Why no Docker engine can be used (one line), or None when one answers."""
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
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    proc = subprocess.run(["docker", "image", "inspect", "--format",
                           f'{{{{index .Config.Labels "{module.LABEL}"}}}}', image], capture_output=True, text=True)
    built = proc.stdout.strip()
    if proc.returncode != 0 or built == module.source_digest(ROOT):
        return None
    return (f"the image {image} was built from other sources than this tree "
            f"({built or 'unlabelled'} != {module.source_digest(ROOT)}); rebuild it with `make images`")


def docker(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
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


def compose_env(conf: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    # The containers must read exactly the topology written for them: no credential overrides.
    for name in CREDENTIAL_ENV:
        env[name] = ""
    env.update(LAB_IMAGE=conf["image"], LAB_DOCKER_SUBNET=conf["subnet"],
               LAB_TOPOLOGY_FILE=conf["topology_file"], LAB_SEED_FILE=conf["seed_file"])
    env.pop("COMPOSE_FILE", None)
    env.pop("COMPOSE_PROJECT_NAME", None)
    return env


def compose(conf: dict[str, Any], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [*compose_command(), "--project-name", conf["project"], "--file", conf["compose_file"],
           "--project-directory", str(Path(conf["compose_file"]).parent), *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=compose_env(conf), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(cmd[:1] + list(args[:1]))}` did not finish within {timeout:.0f} s") from None


def check_subnet_free(conf: dict[str, Any]) -> None:
    """Docker refuses a network overlapping another; say which and what to do, before starting."""
    wanted = ipaddress.ip_network(f"{conf['subnet']}.0/24")
    ours = f"{conf['project']}_lab"
    ids = docker("network", "ls", "--quiet").stdout.split()
    if not ids:
        return
    for net in json.loads(docker("network", "inspect", *ids).stdout or "[]"):
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


def last_lines(text: str, n: int) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def unhealthy_logs(conf: dict[str, Any], names: list[str]) -> str:
    """The log tails of the containers that are not healthy (why `up` failed)."""
    out = []
    for name, row in containers(conf).items():
        if name in names and (row.get("health") != "healthy" or row.get("state") != "running"):
            out.append(f"\n--- {name} ({row.get('state')}, {row.get('health')}):\n"
                       + last_lines(logs_of(row["id"], 20), 20))
    return "".join(out)


def containers(conf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{service: {id, name, state, health, exit_code, restarts, pid}} of the compose project's
    containers (two `docker` calls, however many containers)."""
    ids = docker("ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={conf['project']}",
                  check=False).stdout.split()
    if not ids:
        return {}
    rows = {}
    for c in json.loads(docker("inspect", *ids, check=False).stdout or "[]"):
        service = (c.get("Config", {}).get("Labels") or {}).get("com.docker.compose.service")
        if not service:
            continue
        state = c.get("State", {})
        rows[service] = {"id": c["Id"][:12], "name": c.get("Name", "").lstrip("/"),
                         "state": state.get("Status"), "exit_code": state.get("ExitCode"),
                         "health": (state.get("Health") or {}).get("Status"),
                         "restarts": c.get("RestartCount", 0), "pid": state.get("Pid") or None}
    return rows


def logs_of(container: str, lines: int = 50) -> str:
    proc = docker("logs", "--tail", str(lines), container, check=False)
    return proc.stdout + proc.stderr
