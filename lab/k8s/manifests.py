"""A class on Kubernetes: one namespace per trainee, every object of their lab, as YAML files.

`<out>/<namespace>.yaml` per trainee, in the order `kubectl apply -f <out>/` needs (the Namespace
first): the Namespace, the topology and seed ConfigMaps, the NetworkPolicies, then per service its
PersistentVolumeClaim, Service and Deployment, and the provisioning Job in a seeded lab. The same
arguments give the same bytes (the committed deploy/k8s/ is checked by tests/lab/k8s).

Credentials are not in these files: each pod reads them from the namespace's Secret
`lab-credentials` (as environment). `write_secrets` makes one per trainee under `<out>/secrets/`
(0600, kept across runs: a lab's data is made for its credentials), for `kubectl apply` and never
for a repository.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import docker_compose as dc
from .. import topology as topo
from ..classroom.roster import trainee_name
from . import cluster_topology, network_policy, workloads

MAX_TRAINEES = 1000
NAMESPACE_PREFIX = "lab-"
HEADER = "# Written by `lab class manifests` (lab/k8s) for {namespace}; do not edit by hand.\n"
SECRETS_DIR = "secrets"


@dataclass(frozen=True)
class Options:
    trainees: int
    image: str = dc.DEFAULT_IMAGE
    storage_class: str | None = None
    blank: bool = False
    seed: Path = topo.SEED_DEFAULT
    prefix: str = NAMESPACE_PREFIX


def namespace_of(number: int, prefix: str = NAMESPACE_PREFIX) -> str:
    return prefix + trainee_name(number)


def trainee_objects(number: int, options: Options, seed_text: str) -> list[dict[str, Any]]:
    """Every object of trainee NUMBER's lab, each with its namespace."""
    namespace = namespace_of(number, options.prefix)
    seed = yaml.safe_load(seed_text) or {}
    topology = cluster_topology.template(blank=options.blank)
    groups = network_policy.security_groups(seed, topology, blank=options.blank)
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": workloads.PART_OF | {
             f"{network_policy.LABEL_DOMAIN}/trainee": trainee_name(number),
             # every pod passes the "restricted" Pod Security Standard
             "pod-security.kubernetes.io/enforce": "restricted"}}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": workloads.TOPOLOGY_CONFIGMAP, "labels": dict(workloads.PART_OF)},
         "data": {"topology.json": json.dumps(topology, indent=2) + "\n"}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": workloads.SEED_CONFIGMAP, "labels": dict(workloads.PART_OF)},
         "data": {"seed.yaml": seed_text}},
        *network_policy.policies(groups, topo.ADMIN_PORT),
    ]
    for name in topology["services"]:
        objects += [workloads.state_claim(name, options.storage_class), workloads.service(topology, name),
                    workloads.deployment(topology, name, options.image, network_policy.pod_labels(groups, name))]
    if not options.blank:
        objects.append(workloads.provision_job(options.image))
    for obj in objects:
        if obj["kind"] != "Namespace":
            obj["metadata"] = {"name": obj["metadata"]["name"], "namespace": namespace} | obj["metadata"]
    return objects


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (the ConfigMaps' files stay readable); no anchors and
    aliases where two objects share a part (each object reads on its own)."""

    def ignore_aliases(self, _data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _text)


def render(objects: Iterable[dict[str, Any]]) -> str:
    return "".join("---\n" + yaml.dump(obj, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
                   for obj in objects)


def files(options: Options) -> dict[str, str]:
    """{file name: text} of the whole class."""
    if not 1 <= options.trainees <= MAX_TRAINEES:
        raise ValueError(f"--trainees runs from 1 to {MAX_TRAINEES}, not {options.trainees}")
    seed_text = Path(options.seed).read_text(encoding="utf-8")
    # Rendered once with stand-ins for the two names that differ between trainees, then filled in:
    # a class of 1,000 is written in seconds (tests/lab/k8s checks it is the same as rendering each).
    text = render(_stand_in(trainee_objects(1, options, seed_text), namespace_of(1, options.prefix)))
    out = {}
    for number in range(1, options.trainees + 1):
        namespace = namespace_of(number, options.prefix)
        out[f"{namespace}.yaml"] = HEADER.format(namespace=namespace) + text.replace(
            _NAMESPACE, namespace).replace(_TRAINEE, trainee_name(number))
    return out


_NAMESPACE, _TRAINEE = "x-namespace-x", "x-trainee-x"


def _stand_in(objects: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == "Namespace":
            meta["name"] = _NAMESPACE
            meta["labels"][f"{network_policy.LABEL_DOMAIN}/trainee"] = _TRAINEE
        else:
            assert meta["namespace"] == namespace
            meta["namespace"] = _NAMESPACE
    return objects


def write(out_dir: Path, options: Options) -> list[Path]:
    """Write the class's files; files this generator wrote before for trainees no longer in the
    class are removed (only those: they start with its header)."""
    wanted = files(options)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in wanted.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    marker = HEADER.split("{", 1)[0]
    for old in sorted(out_dir.glob("*.yaml")):
        if old.name not in wanted and old.read_text(encoding="utf-8").startswith(marker):
            old.unlink()
    return written


def secret_object(namespace: str, credentials: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": workloads.SECRET, "namespace": namespace, "labels": dict(workloads.PART_OF)},
            "type": "Opaque", "stringData": {k: credentials[k] for k in dc.DEMO_CREDENTIALS}}


def write_secrets(out_dir: Path, options: Options) -> list[Path]:
    """`<out>/secrets/<namespace>.yaml` (0600) per trainee, from credentials made once per trainee
    and kept in `<out>/secrets/<trainee>/credentials.json` (the lab's own generator)."""
    root = out_dir / SECRETS_DIR
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    (root / ".gitignore").write_text("# credentials: never in a repository\n*\n")
    written = []
    for number in range(1, options.trainees + 1):
        namespace = namespace_of(number, options.prefix)
        credentials = topo.load_or_create_credentials(root / trainee_name(number))
        path = root / f"{namespace}.yaml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render([secret_object(namespace, credentials)]))
        written.append(path)
    return written
