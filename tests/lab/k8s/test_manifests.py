"""The class's Kubernetes objects: valid for Kubernetes 1.29, current in deploy/k8s, one namespace
per trainee, each service as docker-compose.yml runs it, no credentials in the files.

Validation is against the schemas `kubernetes-validate` ships (Kubernetes' published OpenAPI,
strict: an unknown field fails), offline. No cluster runs here: nothing is applied."""
from __future__ import annotations

import functools
import json
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kv

from lab import docker_compose as dc
from lab import topology as topo
from lab.k8s import cluster_topology, manifests, network_policy, workloads

from .support import load

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy" / "k8s"
KUBERNETES = "1.29.0"       # the oldest minor still supported upstream when this was written; 1.25+ ships here


@pytest.fixture(scope="module")
def validate() -> Iterator[Callable[[dict[str, Any]], str]]:
    """kubernetes_validate.validate, its schema files read once (it reads them on every call)."""
    original = kv.schema_contents
    kv.schema_contents = functools.lru_cache(maxsize=None)(original)
    yield lambda obj: kv.validate(obj, KUBERNETES, strict=True)
    kv.schema_contents = original


@pytest.fixture(scope="module")
def example() -> dict[str, list[dict[str, Any]]]:
    return {p.name: load(p.read_text()) for p in sorted(EXAMPLE.glob("*.yaml"))}


def test_the_committed_example_is_current():
    hint = "regenerate it: python -m lab.k8s --trainees 2 --out deploy/k8s"
    committed = {p.name: p.read_text() for p in EXAMPLE.glob("*.yaml")}
    assert committed == manifests.files(manifests.Options(trainees=2)), hint


def test_every_generated_object_validates_against_kubernetes_schemas(validate, example):
    blank = manifests.trainee_objects(7, manifests.Options(trainees=7, blank=True, storage_class="fast",
                                                           image="registry.example/lab:1"),
                                      topo.SEED_DEFAULT.read_text())
    objects = [o for objs in example.values() for o in objs] + blank
    kinds = {o["kind"] for o in objects}
    assert kinds == {"Namespace", "ConfigMap", "NetworkPolicy", "PersistentVolumeClaim", "Service", "Deployment", "Job"}
    for obj in objects:
        assert validate(obj) == "1.29", obj["metadata"]["name"]
    # ...and the schemas do refuse a wrong object (strict: unknown fields)
    wrong = json.loads(json.dumps(next(o for o in objects if o["kind"] == "Deployment")))
    wrong["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kv.ValidationError, match="livenesProbe"):
        validate(wrong)
    wrong = json.loads(json.dumps(next(o for o in objects if o["kind"] == "NetworkPolicy")))
    wrong["spec"]["ingress"] = [{"ports": [{"protocol": "TCP", "port": [389]}]}]
    with pytest.raises(kv.ValidationError):
        validate(wrong)


def test_n_trainees_are_n_namespaces_with_the_same_lab_each():
    files = manifests.files(manifests.Options(trainees=5))
    assert list(files) == [f"lab-trainee-{n:02d}.yaml" for n in range(1, 6)]
    shapes = set()
    for name, text in files.items():
        objects = load(text)
        namespace = name.removesuffix(".yaml")
        assert objects[0]["kind"] == "Namespace" and objects[0]["metadata"]["name"] == namespace
        assert objects[0]["metadata"]["labels"]["okta-workspaces-lab/trainee"] == namespace.removeprefix("lab-")
        assert all(o["metadata"]["namespace"] == namespace for o in objects[1:])
        keys = [(o["kind"], o["metadata"]["name"]) for o in objects]
        assert len(set(keys)) == len(keys)
        shapes.add(tuple(keys[1:]))
    assert len(shapes) == 1
    # the files are each trainee's objects rendered (written from one rendering, names filled in)
    seed = topo.SEED_DEFAULT.read_text()
    for number in (1, 5):
        direct = manifests.render(manifests.trainee_objects(number, manifests.Options(trainees=5), seed))
        assert files[f"lab-trainee-{number:02d}.yaml"].split("\n", 1)[1] == direct
    assert manifests.namespace_of(1000) == "lab-trainee-1000"
    with pytest.raises(ValueError, match="1 to 1000"):
        manifests.files(manifests.Options(trainees=0))


def _by(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_each_service_runs_as_docker_compose_runs_it(example):
    objects = example["lab-trainee-01.yaml"]
    topology = dc.container_topology()
    compose = yaml.safe_load(re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", dc.COMPOSE_FILE.read_text()))["services"]
    deployments, services, claims = (_by(objects, k) for k in ("Deployment", "Service", "PersistentVolumeClaim"))
    assert set(deployments) == set(services) == set(topology["services"])
    assert set(claims) == {f"{n}-state" for n in topology["services"]}
    for name, svc in topology["services"].items():
        pod = deployments[name]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["image"] == compose[name]["image"] == dc.DEFAULT_IMAGE
        assert container["command"][-2:] == ["-m", "lab.k8s.pod_start"] and container["args"] == [name]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": "admin"}, (name, probe)
        ports = {(p["containerPort"], p["protocol"]) for p in container["ports"]}
        assert {(port, "TCP") for kind, port in svc["ports"].items() if kind != "radius"} <= ports
        assert {p["name"]: p["containerPort"] for p in container["ports"]}["admin"] == topo.ADMIN_PORT
        # the Service has the container's ports and selects the Deployment's pods
        service = services[name]["spec"]
        assert {(p["port"], p["protocol"]) for p in service["ports"]} == ports
        assert service["selector"].items() <= pod["metadata"]["labels"].items()
        assert deployments[name]["spec"]["selector"]["matchLabels"] == service["selector"]
        # its state on its own claim, where the topology puts the state directory
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert mounts["state"] == topology["state_dir"]
        assert volumes["state"]["persistentVolumeClaim"]["claimName"] == f"{name}-state"
        assert deployments[name]["spec"]["replicas"] == 1
        assert deployments[name]["spec"]["strategy"] == {"type": "Recreate"}
        # it waits for what compose makes it wait for
        waits = [n for c in pod["spec"].get("initContainers", []) for n in c["command"][-1].split(",")]
        assert sorted(waits) == sorted(compose[name].get("depends_on") or {}), name
        res = container["resources"]
        assert set(res) == {"requests", "limits"} and res["requests"]["memory"] and res["limits"]["memory"]
    assert "radius" in {p["name"] for p in deployments["radius-agent"]["spec"]["template"]["spec"]["containers"][0]
                        ["ports"] if p["protocol"] == "UDP"}
    job = _by(objects, "Job")[dc.PROVISION]["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == [dc.PROVISION] and job["restartPolicy"] == "OnFailure"


def test_a_blank_class_has_no_provisioning_job():
    objects = manifests.trainee_objects(1, manifests.Options(trainees=1, blank=True), topo.SEED_DEFAULT.read_text())
    assert "Job" not in {o["kind"] for o in objects}
    assert json.loads(_by(objects, "ConfigMap")["lab-topology"]["data"]["topology.json"])["blank"] is True


def test_every_pod_passes_the_restricted_pod_security_standard(example):
    for obj in example["lab-trainee-02.yaml"]:
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        spec = obj["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for c in spec["containers"] + spec.get("initContainers", []):
            assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}, c["name"]
        assert {v["name"] for v in spec["volumes"]} <= {"tmp", "topology", "seed", "state"}


def test_no_credential_is_in_the_manifests_and_secrets_are_private_and_kept(tmp_path):
    options = manifests.Options(trainees=2)
    written = manifests.write(tmp_path, options)
    secrets = manifests.write_secrets(tmp_path, options)
    text = "".join(p.read_text() for p in written)
    for obj in load(text):
        assert obj["kind"] != "Secret"
        if obj["metadata"]["name"] == "lab-topology":
            assert json.loads(obj["data"]["topology.json"])["credentials"] == {}
    values = []
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        (secret,) = load(path.read_text())
        assert secret["kind"] == "Secret" and secret["metadata"]["name"] == workloads.SECRET
        assert set(secret["stringData"]) == set(topo.load_or_create_credentials(tmp_path / "fresh"))
        values += list(secret["stringData"].values())
    assert len(set(values)) > len(values) // 2          # per trainee, not shared (the region is)
    for value in values:
        assert value not in text or value == "us-east-1"
    for demo in dc.DEMO_CREDENTIALS.values():
        assert demo not in text or demo == "us-east-1"
    assert stat.S_IMODE((tmp_path / manifests.SECRETS_DIR).stat().st_mode) == 0o700
    assert (tmp_path / manifests.SECRETS_DIR / ".gitignore").read_text().splitlines()[-1] == "*"
    again = manifests.write_secrets(tmp_path, options)
    assert [p.read_text() for p in again] == [p.read_text() for p in secrets]     # kept: the data is made for them
    # every pod gets every credential from the Secret, as docker/entrypoint.py reads them
    deployment = next(o for o in load(text) if o["kind"] == "Deployment")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"]
                   for e in env if "secretKeyRef" in e.get("valueFrom", {})}
    assert set(from_secret) == set(dc.CREDENTIAL_ENV)
    assert set(from_secret.values()) == set(dc.DEMO_CREDENTIALS)


def test_the_topology_configmap_is_the_container_topology_with_names_for_addresses():
    template = cluster_topology.template()
    inside = dc.container_topology(cluster_topology.STATE_DIR, seed=cluster_topology.SEED_PATH)
    hosts = {name: svc["host"] for name, svc in inside["services"].items()}
    back = cluster_topology.pod_view(template, None, None, hosts)
    for svc in back["services"].values():
        assert svc.pop("bind", cluster_topology.BIND_ALL) == cluster_topology.BIND_ALL
    assert back | {"runtime": "docker"} == inside
    assert network_policy.SERVICE_LABEL == "app.kubernetes.io/name"
