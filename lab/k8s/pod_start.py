"""In a trainee's pod: `python -m lab.k8s.pod_start SERVICE` makes the topology concrete, then runs
the image's entry point; `--wait-for A,B` (the init container) waits until those peers are healthy.

    pod_start SERVICE            resolve every Service name to its ClusterIP, the pod's own name to
                                 $POD_IP, write the topology (0600, under /tmp) and exec
                                 docker/entrypoint.py SERVICE (credentials from the Secret's
                                 environment, as in docker-compose.yml)
    pod_start provision          the same for the one-shot enrolment Job, once every service is healthy
    pod_start --wait-for A,B     exit 0 once A and B answer GET /healthz on their admin port

This runs inside the image (`make images` installs the lab package there): standard library and
lab.k8s.cluster_topology only, no Kubernetes client (the pods need no API access).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable

from . import cluster_topology

# The image's entry point (Dockerfile); LAB_ENTRYPOINT names another (a checkout's docker/entrypoint.py).
ENTRYPOINT = "/opt/lab/docker/entrypoint.py"
PROVISION = "provision"
# A Service's name resolves as soon as the Service exists (cluster DNS may lag a few seconds);
# a peer's health may take its own start-up and its dependencies' (the startup probes allow 120 s).
RESOLVE_SECONDS = 120.0
HEALTH_SECONDS = 600.0


def fail(message: str, code: int = 4) -> None:
    print(f"pod_start: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def resolve(names: Iterable[str], *, within: float = RESOLVE_SECONDS,
            lookup: Callable[[str], str] = socket.gethostbyname) -> dict[str, str]:
    """Each name's IPv4 address (a Service's ClusterIP), retried until `within` seconds pass."""
    deadline = time.monotonic() + within
    out: dict[str, str] = {}
    for name in names:
        while True:
            try:
                out[name] = lookup(name)
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise LookupError(f"cannot resolve the Service {name!r}: {exc}") from None
                time.sleep(1)
    return out


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:   # a peer inside the namespace
            return bool(reply.status == 200)
    except OSError:
        return False


def wait_healthy(topology: dict, names: Iterable[str], *, within: float = HEALTH_SECONDS) -> None:
    deadline = time.monotonic() + within
    for name in names:
        svc = topology["services"][name]
        url = f"http://{svc['host']}:{svc['ports']['admin']}/healthz"
        while not healthy(url):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{name} is not healthy at {url} after {within:.0f} s")
            print(f"pod_start: waiting for {name} ({url})", flush=True)
            time.sleep(2)


def concrete_topology(template_path: str, me: str | None) -> dict:
    with open(template_path, encoding="utf-8") as fh:
        template = json.load(fh)
    if me is not None and me not in template["services"]:
        fail(f"no service {me!r} in {template_path}; services: {', '.join(template['services'])}", 2)
    ips = resolve(template["services"])
    return cluster_topology.pod_view(template, me, os.environ.get("POD_IP"), ips)


def write_private(topology: dict) -> str:
    fd, path = tempfile.mkstemp(prefix="lab-topology-", suffix=".json")   # 0600
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(topology, fh)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.k8s.pod_start", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("service", nargs="?", help="the topology entry this pod runs, or `provision`")
    parser.add_argument("--wait-for", metavar="A,B", help="only wait until these services are healthy")
    parser.add_argument("--template", default=os.environ.get("LAB_TEMPLATE", cluster_topology.TEMPLATE_PATH),
                        help="the trainee's topology with Service names (default: the ConfigMap's mount)")
    args = parser.parse_args(argv)
    if bool(args.service) == bool(args.wait_for):
        parser.error("give SERVICE or --wait-for, not both")
    try:
        if args.wait_for:
            topology = concrete_topology(args.template, None)
            wanted = [n for n in args.wait_for.split(",") if n]
            unknown = [n for n in wanted if n not in topology["services"]]
            if unknown:
                fail(f"--wait-for: no service {', '.join(unknown)} in the topology", 2)
            wait_healthy(topology, wanted)
            return 0
        me = None if args.service == PROVISION else args.service
        topology = concrete_topology(args.template, me)
        if me is None:
            wait_healthy(topology, topology["services"])
    except (LookupError, TimeoutError, ValueError, OSError) as exc:
        fail(str(exc))
    path = write_private(topology)
    os.environ["LAB_TOPOLOGY"] = path
    os.execv(sys.executable, [sys.executable, os.environ.get("LAB_ENTRYPOINT", ENTRYPOINT), args.service])
    return 0   # not reached


if __name__ == "__main__":
    sys.exit(main())
