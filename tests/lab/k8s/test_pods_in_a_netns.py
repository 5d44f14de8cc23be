"""Opt-in (LAB_K8S_SMOKE=1, root, `unshare` and `nft`): the services started as the pods start them,
with no cluster. Every service runs `python -m lab.k8s.pod_start NAME` with its own "pod IP"
(127.0.171.x), the Service names resolve to other "ClusterIPs" (127.0.172.x, an /etc/hosts of the
test's own mount namespace) that nftables DNATs to the pod IPs, as kube-proxy does, all in a
network namespace of the test's own. Then the init containers' wait, the provisioning Job, and a
WorkSpaces sign-in with Alice's code: the whole chain (DNS, LDAP, Kerberos, RADIUS over the
NAT) on the topology the ConfigMap holds.

What it cannot show: every service but the DC listens on 0.0.0.0 in a pod, which would collide in
one namespace here, so each listens on its pod IP; and nothing of Kubernetes itself runs.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lab import topology as topo
from lab.k8s import cluster_topology

ROOT = Path(__file__).resolve().parents[3]
PODS, CLUSTER = "127.0.171", "127.0.172"

pytestmark = pytest.mark.skipif(os.environ.get("LAB_K8S_SMOKE") != "1", reason="opt-in: LAB_K8S_SMOKE=1 (root)")

SCRIPT = r"""
set -u
ip link set lo up
mount --bind "$D/hosts" /etc/hosts
nft -f "$D/nat.nft"
pids=()
trap 'kill ${pids[@]} 2>/dev/null; sleep 1; kill -9 ${pids[@]} 2>/dev/null' EXIT
while read name ip; do
  POD_IP=$ip "$PY" -m lab.k8s.pod_start "$name" > "$D/logs/$name.log" 2>&1 &
  pids+=($!)
done < "$D/pods.txt"
"$PY" -m lab.k8s.pod_start --wait-for "$ALL" > "$D/logs/wait.log" 2>&1; echo "wait $?"
"$PY" -m lab.k8s.pod_start provision > "$D/logs/provision.log" 2>&1; echo "provision $?"
"$PY" "$D/signin.py"
"""

SIGNIN = r"""
import json, socket, httpx, yaml
seed = yaml.safe_load(open(%(seed)r))
code = httpx.get("http://phone:80/accounts/alice/code", timeout=30).json()["code"]
r = httpx.post("http://workspaces:80/client/signin", timeout=300, json={
    "registrationCode": seed["aws"]["workspaces"]["registration_code"], "username": "alice",
    "password": "Alice-Passw0rd!", "mfaCode": code})
print("signin", json.dumps({"status": r.status_code, "body": r.json(), "dc": socket.gethostbyname("dc")}))
"""


def test_the_lab_signs_in_with_the_pods_topology(tmp_path):
    for tool in ("unshare", "nft", "ip"):
        assert shutil.which(tool), f"{tool} is needed"
    assert os.geteuid() == 0, "needs root (a network and a mount namespace of the test's own)"
    template = cluster_topology.template()
    template["state_dir"], template["seed"] = str(tmp_path / "state"), str(topo.SEED_DEFAULT)
    hosts, nat, pods = ["127.0.0.1 localhost"], ["add table ip nat",
                                                 "add chain ip nat output { type nat hook output priority -100; }"], []
    for name, svc in template["services"].items():
        svc.pop("bind", None)                  # one namespace for all: each on its own pod IP
        octet = topo.SERVICES[name][0]
        hosts.append(f"{CLUSTER}.{octet} {name}")
        nat.append(f"add rule ip nat output ip daddr {CLUSTER}.{octet} dnat to {PODS}.{octet}")
        pods.append(f"{name} {PODS}.{octet}")
    (tmp_path / "logs").mkdir()
    (tmp_path / "template.json").write_text(json.dumps(template))
    (tmp_path / "hosts").write_text("\n".join(hosts) + "\n")
    (tmp_path / "nat.nft").write_text("\n".join(nat) + "\n")
    (tmp_path / "pods.txt").write_text("\n".join(pods) + "\n")
    (tmp_path / "signin.py").write_text(SIGNIN % {"seed": str(topo.SEED_DEFAULT)})
    env = dict(os.environ, D=str(tmp_path), PY=sys.executable, ALL=",".join(template["services"]),
               LAB_TEMPLATE=str(tmp_path / "template.json"), LAB_ENTRYPOINT=str(ROOT / "docker" / "entrypoint.py"))
    env |= {"LAB_" + k.upper(): v for k, v in topo.load_or_create_credentials(tmp_path / "creds").items()}
    proc = subprocess.Popen(["unshare", "--net", "--mount", "--propagation", "private", "bash", "-c", SCRIPT],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    logs = "\n".join(f"== {p.name}\n{p.read_text()[-1500:]}" for p in sorted((tmp_path / "logs").glob("*.log")))
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert lines.get("wait") == "0", out + logs
    assert lines.get("provision") == "0", out + logs
    signin = json.loads(lines["signin"])
    assert signin["status"] == 200 and signin["body"]["userName"] == "alice", signin
    assert signin["dc"] == f"{CLUSTER}.10"          # names resolve to the Services, not to the pods
