"""The docker runtime: every service as its own container, on a private bridge network.

`lab up --runtime docker` uses `DockerRuntime` (the `Runtime` of lab/runtime.py). It writes a
compose file for the lab's topology into the state directory (lab/docker_compose.py: the same
shape as the committed docker-compose.yml, which is the demo lab's) and runs it under a compose
project of its own (one per state directory), with the topology it writes for the containers
mounted read-only into each of them. It waits until Docker reports every container healthy and
the host reaches each admin API; `bring_up` then enrols Okta Verify for the seed users from the
host, as for the process runtime. `down` removes that compose project's containers and network,
which is all `up` created; the named volumes (the services' state) are kept, as the process
runtime keeps the state directory, unless asked to remove them too.

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

import ipaddress
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from . import docker_compose as dc
from . import docker_engine as engine
from . import topology as topo
from .errors import LabError
from .runtime import LabSpec, Progress, quiet

DOCKER_FILE = "docker.json"
DEFAULT_TIMEOUT = 180.0   # seconds for `lab up --runtime docker` (start, health, enrolment)
RESTART_TIMEOUT = 60.0


class DockerRuntime:
    """The lab as containers of one compose project per state directory."""
    name = "docker"
    default_timeout = DEFAULT_TIMEOUT
    undone = "the containers it started are removed again"

    def __init__(self, state_dir: Path, *, image: str | None = None, project: str | None = None) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.image = image
        self.project = project

    def prepare(self, spec: LabSpec, names: list[str] | None,  # noqa: ARG002 — the compose file holds every service
                progress: Progress) -> dict[str, Any]:
        """Check Docker, the image and the network; write the topologies, the seed and the compose file."""
        state_dir = self.state_dir
        progress(f"starting the lab in containers (state in {state_dir})")
        why = engine.docker_unavailable_reason()
        if why:
            raise LabError(f"the docker runtime needs Docker: {why}")
        image = self.image or os.environ.get("LAB_IMAGE") or dc.DEFAULT_IMAGE
        if not engine.image_exists(image):
            raise LabError(f"the image {image} does not exist; build it with `make images` "
                           "(without a registry: `make base-image images`)")
        stale = engine.stale_image(image)
        if stale:
            progress(f"  note: {stale}")
        subnet = spec.subnet or os.environ.get("LAB_DOCKER_SUBNET") or dc.DEFAULT_SUBNET
        try:
            net = ipaddress.ip_network(f"{subnet}.0/24")
        except ValueError:
            raise LabError(f"--subnet {subnet!r} is not the first three octets of an IPv4 /24") from None
        if not net.is_private or net.is_loopback:
            raise LabError(f"--subnet {subnet}: the docker runtime needs a private, non-loopback network "
                           f"(default {dc.DEFAULT_SUBNET})")

        creds = topo.load_or_create_credentials(state_dir)
        config_dir = state_dir / "docker"
        config_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(config_dir, 0o700)   # the files inside are readable by the containers' user, not others
        seed_file = config_dir / "seed.yaml"
        shutil.copyfile(spec.seed or topo.SEED_DEFAULT, seed_file)
        host = dc.container_topology(state_dir, subnet=subnet, seed=seed_file, blank=spec.blank, credentials=creds,
                                     agents=spec.agents)
        for name, extra in spec.settings.items():
            host["services"][name]["settings"].update(extra)
        dc.issue_certificates(state_dir, host)   # into docker/tls/, mounted into the containers
        topo.write_topology(state_dir, host)
        inside = dc.containers_view(host)
        from .firewall import lifecycle as firewall  # here: it imports the runtimes
        inside["firewall_gate"] = firewall.gated(state_dir, host)   # fail closed at every container start
        topology_file = config_dir / "topology.json"
        _write_readable(topology_file, json.dumps(inside, indent=2))
        os.chmod(seed_file, 0o644)
        compose_file = config_dir / "docker-compose.yml"
        compose_file.write_text(dc.compose_text(inside, origin=f"by `lab up --runtime docker` for {state_dir}"))

        conf = {"project": self.project or engine.project_name(state_dir), "compose_file": str(compose_file),
                "subnet": subnet, "image": image, "topology_file": str(topology_file), "seed_file": str(seed_file),
                "services": list(host["services"])}
        (state_dir / DOCKER_FILE).write_text(json.dumps(conf, indent=2))
        engine.check_subnet_free(conf)
        return host

    def up(self, topology: dict[str, Any], names: list[str], *, timeout: float, progress: Progress) -> None:
        deadline = time.monotonic() + timeout
        conf = self._conf()
        proc = engine.compose(conf, "up", "--detach", "--no-build", *names, timeout=timeout)
        if proc.returncode != 0:
            raise LabError("docker-compose up failed: " + engine.last_lines(proc.stderr + proc.stdout, 15)
                           + engine.unhealthy_logs(conf, names))
        wait_healthy(conf, topology, deadline=deadline, progress=progress, names=names)

    def down(self, *, volumes: bool = False) -> list[str]:
        """Remove the containers and the network of this state directory's compose project, and with
        `volumes` its named volumes (the services' state). Returns the services that were running."""
        from .dashboard import lifecycle as dashboard
        from .firewall import lifecycle as firewall  # here: it imports the runtimes

        dashboard.stop(self.state_dir)       # the dashboard runs on the host, as the enforcer
        firewall.stop(self.state_dir)        # the enforcer and the tables in the containers' namespaces
        conf = load_conf(self.state_dir)
        if conf is None or engine.docker_unavailable_reason():
            return []
        was = sorted(n for n, row in engine.containers(conf).items() if row["state"] == "running" and n != dc.PROVISION)
        args = ["down", "--timeout", "10"] + (["--volumes"] if volumes else [])
        proc = engine.compose(conf, *args, timeout=180)
        if proc.returncode != 0:
            raise LabError("docker-compose down failed: " + engine.last_lines(proc.stderr + proc.stdout, 10))
        return was

    def running(self) -> list[dict[str, Any]]:
        """The lab's containers that are running, as [{name, container, health}]; [] when this state
        directory has no docker lab (Docker is not even asked then) or Docker is not reachable."""
        conf = load_conf(self.state_dir)
        if conf is None or not shutil.which("docker"):
            return []
        try:
            rows = engine.containers(conf)
        except (LabError, OSError, ValueError, subprocess.TimeoutExpired):
            return []
        return [{"name": name, "container": row["name"], "health": row["health"], "restarts": row.get("restarts", 0)}
                for name, row in rows.items() if row["state"] == "running" and name in conf["services"]]

    def restart(self, service: str) -> None:
        """Restart a service's container (SIGTERM, then start again with its volume) and wait until it
        is healthy. Changes made to the lab's topology.json since `up` (settings) reach it."""
        conf = self._conf()
        topology = sync_topology(self.state_dir)
        deadline = time.monotonic() + RESTART_TIMEOUT
        proc = engine.compose(conf, "restart", "--timeout", "10", service, timeout=RESTART_TIMEOUT)
        if proc.returncode != 0:
            raise LabError("docker-compose restart failed: " + engine.last_lines(proc.stderr + proc.stdout, 10))
        wait_healthy(conf, topology, deadline=deadline, names=[service])

    def logs(self, service: str, lines: int = 50) -> list[str]:
        """The last lines a service's container printed (its log), [] when it has no container."""
        conf = load_conf(self.state_dir)
        if conf is None:
            return []
        row = engine.containers(conf).get(service)
        return engine.logs_of(row["id"], lines).splitlines() if row else []

    def status(self) -> dict[str, str | None]:
        """{service: Docker's health status} of the lab's running containers."""
        return {row["name"]: row["health"] for row in self.running()}

    def _conf(self) -> dict[str, Any]:
        conf = load_conf(self.state_dir)
        if conf is None:
            raise LabError(f"no docker lab in {self.state_dir}")
        return conf


def load_conf(state_dir: Path) -> dict[str, Any] | None:
    """What `prepare` recorded in docker.json: compose project and file, subnet, image, services."""
    path = Path(state_dir) / DOCKER_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def wait_healthy(conf: dict[str, Any], topology: dict[str, Any], *, deadline: float,
                 progress: Progress = quiet, names: list[str] | None = None) -> None:
    """Until the host gets 200 from each container's (or `names`') /healthz. Docker's own check
    runs every 30 s (lab/docker_compose.py), too seldom to wait for; a container that exits fails
    the wait at once."""
    waiting = list(names or topology["services"])
    with httpx.Client(timeout=2.0) as client:
        while True:
            rows = engine.containers(conf)
            for name in list(waiting):
                row = rows.get(name)
                if row is None:
                    continue
                if row["state"] in ("exited", "dead"):
                    raise LabError(f"{name} exited (code {row['exit_code']}) during start-up; its last lines:\n"
                                   + engine.last_lines(engine.logs_of(row["id"], 20), 20))
                if row["state"] != "running":
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
                raise LabError(f"not healthy in time: {detail}" + engine.unhealthy_logs(conf, waiting))
            time.sleep(0.25)


def sync_topology(state_dir: Path) -> dict[str, Any]:
    """Carry changes of the host's topology.json (a scenario's settings) to the containers' copy.
    Written in place: the containers bind-mount that file, and a renamed new file would not be
    the one they see. Services read it when they start (see `DockerRuntime.restart`)."""
    topology = json.loads((Path(state_dir) / "topology.json").read_text())
    with open(Path(state_dir) / "docker" / "topology.json", "r+", encoding="utf-8") as fh:
        fh.truncate(0)
        fh.write(json.dumps(dc.containers_view(topology), indent=2))
    return topology


def _write_readable(path: Path, text: str) -> None:
    """0644: bind-mounted into the containers, whose user is not the host's. The parent
    directory is 0700, so other users of the host cannot reach it."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """`python -m lab.docker_runtime write-files`: regenerate docker/config/topology.json and
    docker-compose.yml from lab/topology.py (after a service is added or moved)."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv == ["write-files"]:
        print(dc.write_baked_topology())
        print(dc.write_compose())
        return 0
    print("usage: python -m lab.docker_runtime write-files", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
