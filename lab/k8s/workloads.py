"""One service of a trainee's lab as Kubernetes objects: a Deployment, its Service and its state's
PersistentVolumeClaim; and the one-shot provisioning Job.

Why a Deployment with `replicas: 1` and `strategy: Recreate` rather than a StatefulSet: each service
is one process with one SQLite state (WAL), so there is never a second replica to order or name;
Recreate stops the old pod before the new one mounts the volume, the guarantee the state needs; the
claim is a plain object of the namespace, so deleting a trainee's namespace deletes their state,
where a StatefulSet's claims outlive it. The pods get new IPs on restart either way: the services
find each other through their Services' ClusterIPs (lab/k8s/cluster_topology.py).
"""
from __future__ import annotations

from typing import Any

from .. import docker_compose as dc
from . import cluster_topology, network_policy

PART_OF = {"app.kubernetes.io/part-of": network_policy.LABEL_DOMAIN}
PYTHON = "/opt/lab/bin/python"                 # the image's venv (Dockerfile)
LAB_UID = 10001                                # the image's `lab` user (Dockerfile LAB_UID)
SECRET = "lab-credentials"                     # the trainee's Secret: one key per credential
TOPOLOGY_CONFIGMAP = "lab-topology"
SEED_CONFIGMAP = "lab-seed"
STATE_SIZE = "256Mi"    # SQLite databases of a few MB; journals rotate at 16 MiB, four files at most

# Requests from what one lab measured here at rest (RSS, MiB; lab up on the process runtime after four
# sign-ins): dc 75, mail 57, okta 68, ad-agent 61, phone 68, radius-agent 57, ec2 107 (peak 121),
# ad-connector 110, workspaces 87, aws-console 114 (peak 119); CPU 16-17 ticks a minute each at
# rest (about 3 millicores). Limits leave room for a class's sign-ins and for start-up, when each
# process imports its dependencies (about 1 s of CPU).
SMALL = {"requests": {"cpu": "10m", "memory": "96Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}
LARGE = {"requests": {"cpu": "10m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "384Mi"}}
RESOURCES = {"dc": SMALL, "mail": SMALL, "okta": LARGE, "ad-agent": SMALL, "phone": SMALL,
             "radius-agent": SMALL, "ec2": LARGE, "ad-connector": LARGE, "workspaces": LARGE,
             "aws-console": LARGE}
PROVISION_RESOURCES = SMALL

# Which port kinds serve UDP too, or only (as the process runtime checks them: lab/process_runtime.py).
UDP_TOO = ("dns", "kerberos", "kpasswd", "ldap")
UDP_ONLY = ("radius",)


def port_list(ports: dict[str, int]) -> list[dict[str, Any]]:
    """A container's or Service's ports by name (`ldap`, `ldap-udp`, ...), in the topology's order."""
    out = []
    for kind, port in ports.items():
        if kind not in UDP_ONLY:
            out.append({"name": kind, "port": port, "protocol": "TCP"})
        if kind in UDP_TOO or kind in UDP_ONLY:
            out.append({"name": kind if kind in UDP_ONLY else f"{kind}-udp", "port": port, "protocol": "UDP"})
    return out


def credential_env() -> list[dict[str, Any]]:
    """The LAB_* variables docker/entrypoint.py merges into the topology, from the trainee's Secret."""
    out: list[dict[str, Any]] = [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    for key in dc.DEMO_CREDENTIALS:
        env = "LAB_" + key.upper()
        assert env in dc.CREDENTIAL_ENV, env
        out.append({"name": env, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key}}})
    return out


def _pod_security() -> dict[str, Any]:
    # The services listen on 25, 53, 80, 88, 389 and 636 as a non-root user: the one sysctl the
    # Pod Security Standards allow for it, as docker-compose.yml sets it.
    return {"runAsNonRoot": True, "runAsUser": LAB_UID, "runAsGroup": LAB_UID, "fsGroup": LAB_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]}


CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                      "capabilities": {"drop": ["ALL"]}}


def _mounts(state: bool) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"},
              {"name": "topology", "mountPath": "/etc/lab/template", "readOnly": True},
              {"name": "seed", "mountPath": "/etc/lab/seed", "readOnly": True}]
    return mounts + ([{"name": "state", "mountPath": cluster_topology.STATE_DIR}] if state else [])


def _volumes(claim: str | None) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
        {"name": "topology", "configMap": {"name": TOPOLOGY_CONFIGMAP}},
        {"name": "seed", "configMap": {"name": SEED_CONFIGMAP}}]
    return volumes + ([{"name": "state", "persistentVolumeClaim": {"claimName": claim}}] if claim else [])


def _probe(period: int, failures: int) -> dict[str, Any]:
    # GET /healthz on the admin port: what docker/healthcheck.py and `lab up` ask; open to anyone.
    return {"httpGet": {"path": "/healthz", "port": "admin"}, "periodSeconds": period, "timeoutSeconds": 3,
            "failureThreshold": failures}


def _pod_start(args: list[str]) -> list[str]:
    return [PYTHON, "-m", "lab.k8s.pod_start", *args]


def _pod_spec(containers: list[dict[str, Any]], claim: str | None, init: list[dict[str, Any]],
              restart: str = "Always") -> dict[str, Any]:
    spec: dict[str, Any] = {"automountServiceAccountToken": False, "enableServiceLinks": False,
                            "restartPolicy": restart, "securityContext": _pod_security(),
                            "terminationGracePeriodSeconds": 10}
    if init:
        spec["initContainers"] = init
    spec["containers"] = containers
    spec["volumes"] = _volumes(claim)
    return spec


def dependencies(topology: dict[str, Any], name: str) -> list[str]:
    """The services NAME waits for (docker-compose.yml's depends_on, from the same table)."""
    services = topology["services"]
    program = dc.program_of(services[name], name)
    wanted = dc.DEPENDS_ON.get(program, ())
    return [other for other in services if other != name and dc.program_of(services[other], other) in wanted]


def deployment(topology: dict[str, Any], name: str, image: str, labels: dict[str, str]) -> dict[str, Any]:
    svc = topology["services"][name]
    selector = {network_policy.SERVICE_LABEL: name}
    container = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "command": _pod_start([]), "args": [name],
        "env": credential_env(),
        "ports": [{"name": p["name"], "containerPort": p["port"], "protocol": p["protocol"]}
                  for p in port_list(svc["ports"])],
        # Up to 120 s to start (compose allows 60 s and retries); unready after 10 s without an
        # answer; restarted after 30 s, as the lab's supervisor restarts a silent service.
        "startupProbe": _probe(2, 60), "readinessProbe": _probe(5, 2), "livenessProbe": _probe(10, 3),
        "resources": RESOURCES.get(dc.program_of(svc, name), SMALL),
        "securityContext": CONTAINER_SECURITY, "volumeMounts": _mounts(state=True),
    }
    waits = dependencies(topology, name)
    init = [{"name": "wait-for-peers", "image": image, "imagePullPolicy": "IfNotPresent",
             "command": _pod_start(["--wait-for", ",".join(waits)]), "resources": SMALL,
             "securityContext": CONTAINER_SECURITY, "volumeMounts": _mounts(state=False)}] if waits else []
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": selector | PART_OF},
            "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": selector},
                     "template": {"metadata": {"labels": selector | PART_OF | labels},
                                  "spec": _pod_spec([container], f"{name}-state", init)}}}


def service(topology: dict[str, Any], name: str) -> dict[str, Any]:
    selector = {network_policy.SERVICE_LABEL: name}
    ports = [{"name": p["name"], "port": p["port"], "targetPort": p["port"], "protocol": p["protocol"]}
             for p in port_list(topology["services"][name]["ports"])]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": selector | PART_OF},
            "spec": {"type": "ClusterIP", "selector": selector, "ports": ports}}


def state_claim(name: str, storage_class: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": STATE_SIZE}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"{name}-state", "labels": {network_policy.SERVICE_LABEL: name} | PART_OF},
            "spec": spec}


def provision_job(image: str) -> dict[str, Any]:
    """docker-compose.yml's `provision`: enrols Okta Verify for the seed users once every service is
    healthy, then exits (idempotent; a seeded lab only)."""
    labels = {network_policy.SERVICE_LABEL: dc.PROVISION} | PART_OF
    container = {"name": dc.PROVISION, "image": image, "imagePullPolicy": "IfNotPresent",
                 "command": _pod_start([]), "args": [dc.PROVISION], "env": credential_env(),
                 "resources": PROVISION_RESOURCES, "securityContext": CONTAINER_SECURITY,
                 "volumeMounts": _mounts(state=False)}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": dc.PROVISION, "labels": labels},
            "spec": {"backoffLimit": 4, "activeDeadlineSeconds": 1800,
                     "template": {"metadata": {"labels": labels},
                                  "spec": _pod_spec([container], None, [], restart="OnFailure")}}}
