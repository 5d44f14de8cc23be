"""A trainee's topology on Kubernetes: written once with Service names, made concrete in each pod.

The services find each other by IPv4 address, and some settings must be addresses, not names: EC2's
`instances` and `connector_interfaces` are checked as IPv4, AD Connector's `customer_dns_ips` are the
DNS servers it asks, `connect_ips` are the addresses its RADIUS, DNS and LDAP traffic leaves from.
On a cluster, addresses are not known when the manifests are written: a Service's ClusterIP is given
when it is created, a pod's IP when it starts. So:

- `template(...)`: the containers' topology (lab/docker_compose.py) with every service address
  replaced by the service's name, which is also its Service's name (the trainee's ConfigMap);
- `pod_view(...)`: in the pod, at start (lab/k8s/pod_start.py), each name becomes an address again:
  the pod's own IP for its own name (where its connections leave from; a pod cannot bind its
  Service's ClusterIP), the peer's Service ClusterIP for every other name, which is stable for the
  Service's life. The DC's DNS answers give its ClusterIP (`advertise_ip`), so a DC that restarts
  on another IP is still found.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from .. import docker_compose as dc

STATE_DIR = dc.CONTAINER_STATE_DIR          # /var/lib/lab, each service's PersistentVolumeClaim under it
SEED_PATH = "/etc/lab/seed/seed.yaml"        # the trainee's seed ConfigMap
TEMPLATE_PATH = "/etc/lab/template/topology.json"
# Where every service but the DC listens: on all of the pod's addresses, as `kubectl port-forward`
# connects to the pod's loopback. The DC keeps its own address: its kpasswd replies carry the
# address it listens on, and nobody opens a page on the DC.
BIND_ALL = "0.0.0.0"
KEEP_OWN_BIND = ("dc",)
_ADDRESS = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d./])")
_URL_HOST = re.compile(r"^(?P<scheme>[a-z]+://)(?P<host>[a-z][a-z0-9-]*)(?P<rest>(:\d+)?(/.*)?)$")


def template(*, blank: bool = False, agents: int = 1) -> dict[str, Any]:
    """The topology every pod of a trainee reads (its ConfigMap): names where addresses go, no
    credentials (they come from the trainee's Secret, as environment, docker/entrypoint.py)."""
    topology = dc.container_topology(STATE_DIR, seed=SEED_PATH, blank=blank, agents=agents)
    topology["runtime"] = "kubernetes"
    names: dict[str, str] = {str(svc["host"]): name for name, svc in topology["services"].items()}

    def by_name(text: str) -> str:
        return _ADDRESS.sub(lambda m: names.get(m.group(1), str(m.group(1))), text)

    for name, svc in topology["services"].items():
        svc["host"] = name
        svc["settings"] = _map_strings(svc["settings"], by_name)
        if name not in KEEP_OWN_BIND:
            svc["bind"] = BIND_ALL
    return topology


def pod_view(topology: dict[str, Any], me: str | None, pod_ip: str | None,
             cluster_ips: dict[str, str]) -> dict[str, Any]:
    """The topology as the pod running `me` reads it (`me` None: a client such as the provisioning
    Job): every service name in a host or a setting becomes an address. `cluster_ips`: each
    Service's ClusterIP by name (all of them, the pod's own too)."""
    missing = sorted(set(topology["services"]) - set(cluster_ips))
    if missing:
        raise ValueError(f"no ClusterIP for {', '.join(missing)}")
    if me is not None and not pod_ip:
        raise ValueError(f"{me}: the pod's own IP is unknown (env POD_IP from the downward API)")
    addresses = dict(cluster_ips)
    if me is not None and pod_ip:
        addresses[me] = pod_ip

    def concrete(text: str) -> str:
        if text in addresses:
            return addresses[text]
        url = _URL_HOST.match(text)
        if url and url.group("host") in addresses:
            return url.group("scheme") + addresses[url.group("host")] + url.group("rest")
        return text

    out = copy.deepcopy(topology)
    for svc in out["services"].values():
        svc["host"] = concrete(svc["host"])
        svc["settings"] = _map_strings(svc.get("settings", {}), concrete)
    if me == "dc":
        out["services"]["dc"]["settings"].setdefault("advertise_ip", cluster_ips["dc"])
    return out


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    return value
