"""The container files agree with the topology: these need no Docker engine and always run."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lab import docker_compose as dc
from lab import docker_runtime as dr
from lab import topology as topo

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def with_defaults(text: str) -> dict:
    """A compose file with every ${VAR:-default} replaced by its default."""
    text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)
    assert "${" not in text
    return yaml.safe_load(text)


def test_the_baked_topology_and_the_compose_file_are_current():
    """docker/config/topology.json and docker-compose.yml are written from lab/topology.py."""
    hint = "regenerate them: python -m lab.docker_runtime write-files"
    assert json.loads(dc.BAKED_TOPOLOGY.read_text()) == dc.baked_topology(), hint
    assert COMPOSE.read_text() == dc.compose_text(dc.baked_topology()), hint


def test_container_topology_has_the_process_topologys_shape_on_standard_ports():
    inside = dc.container_topology(credentials={"okta_api_token": "x"})
    process = topo.build(Path("/tmp/x"))
    assert list(inside["services"]) == list(process["services"])
    assert inside["runtime"] == "docker" and inside["standard_ports"] is True
    assert inside["state_dir"] == "/var/lib/lab" and inside["seed"] == "/etc/lab/seed.yaml"
    for name, svc in inside["services"].items():
        octet = process["services"][name]["host"].rsplit(".", 1)[1]
        assert svc["host"] == f"{dc.DEFAULT_SUBNET}.{octet}"
        assert svc["ports"]["admin"] == 9100
        assert all(port < 10000 or kind == "admin" for kind, port in svc["ports"].items())
    for name, (_, ports) in topo.SERVICES.items():   # the standard ports, as the topology names them
        assert inside["services"][name]["ports"] == ports | {"admin": 9100}, name
    assert inside["services"]["dc"]["ports"]["ldap"] == 389 and inside["services"]["dc"]["ports"]["dns"] == 53
    connector = inside["services"]["ad-connector"]
    assert connector["settings"]["connect_ips"] == [connector["host"]]
    assert connector["settings"]["customer_dns_ips"] == [inside["services"]["dc"]["host"]]
    assert connector["settings"]["dns_port"] == 53


def test_container_topology_with_two_agents():
    inside = dc.container_topology(agents=2)
    second = inside["services"]["radius-agent-2"]
    assert second["package"] == "services.radius_agent"
    assert second["host"] == f"{dc.DEFAULT_SUBNET}.22" and second["ports"]["radius"] == 1812


@pytest.mark.parametrize("agents", [1, 2])
def test_compose_has_one_container_per_service_at_its_topology_address(agents):
    inside = dc.container_topology(agents=agents)
    compose = with_defaults(dc.compose_text(inside))
    services = compose["services"]
    assert set(services) == set(inside["services"]) | {dc.PROVISION}
    subnet = compose["networks"]["lab"]["ipam"]["config"][0]["subnet"]
    assert subnet == f"{dc.DEFAULT_SUBNET}.0/24"
    hosts = [c["networks"]["lab"]["ipv4_address"] for c in services.values()]
    assert len(set(hosts)) == len(hosts)
    for name, svc in inside["services"].items():
        c = services[name]
        assert c["command"] == [name]
        assert c["image"] == dc.DEFAULT_IMAGE and c["read_only"] is True
        assert c["networks"]["lab"]["ipv4_address"] == svc["host"], name
        assert c["healthcheck"]["test"][-1] == "/opt/lab/docker/healthcheck.py"
        assert f"{name}-state:/var/lib/lab" in c["volumes"], name
        mounts = {v.split(":")[1]: v for v in c["volumes"]}
        assert mounts["/etc/lab/topology.json"].endswith(":ro")
        assert mounts["/etc/lab/seed.yaml"].endswith(":ro")
        # the services start together, as in processes (Docker's check runs every 30 s, too seldom
        # to order a start by); the one-shot enrolment waits until every service is healthy
        for dep, condition in (c.get("depends_on") or {}).items():
            assert dep in inside["services"] and condition == {"condition": "service_started"}
        assert c["healthcheck"]["interval"] == "30s"
    assert set(compose["volumes"]) == {f"{n}-state" for n in inside["services"]}
    # AD Connector waits for the DC and every RADIUS agent; provision for everything.
    agent_names = [n for n, s in inside["services"].items() if s["package"] == "services.radius_agent"]
    assert len(agent_names) == agents
    assert set(services["ad-connector"]["depends_on"]) == {"dc", "ec2", *agent_names}
    assert set(services[dc.PROVISION]["depends_on"]) == set(inside["services"])
    assert services[dc.PROVISION]["healthcheck"] == {"disable": True}
    assert all(cond == {"condition": "service_healthy"} for cond in services[dc.PROVISION]["depends_on"].values())


def test_plain_compose_mounts_the_baked_topology_and_the_packages_seed():
    mounts = with_defaults(COMPOSE.read_text())["services"]["dc"]["volumes"]
    assert "./docker/config/topology.json:/etc/lab/topology.json:ro" in mounts
    assert "./lab/seeds/default.yaml:/etc/lab/seed.yaml:ro" in mounts
    assert (ROOT / "lab/seeds/default.yaml").exists()


def test_compose_files_are_valid_for_the_installed_compose(tmp_path):
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    two = tmp_path / "docker-compose.yml"
    two.write_text(dc.compose_text(dc.container_topology(agents=2)))
    for path in (COMPOSE, two):
        proc = subprocess.run(["docker-compose", "--file", str(path), "--project-directory", str(ROOT),
                               "config", "--quiet"], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr


def test_the_orgs_clients_get_the_ca_certificate_and_nothing_else_of_the_ca(tmp_path):
    """`lab up --runtime docker`'s TLS files: each TLS service its own pair, the org its inspection
    pair, the org's HTTPS clients (the agents, the phone, the one-shot provision) the lab CA's
    certificate; the CA's key stays home."""
    host = dc.container_topology(tmp_path, agents=2)
    dc.issue_certificates(tmp_path, host)
    copied = tmp_path / "docker" / dc.TLS_DIR / dc.CA_FILE
    assert copied.read_bytes() == (tmp_path / "ca" / "ca.pem").read_bytes() and copied.stat().st_mode & 0o777 == 0o644
    assert not list((tmp_path / "docker").rglob("ca-key.pem"))
    inside = dc.containers_view(host)
    assert inside["ca"] == {"cert": dc.CONTAINER_CA}
    assert inside["services"]["okta"]["tls_inspection"] == dc.CONTAINER_TLS_INSPECTION
    services = with_defaults(dc.compose_text(inside))["services"]
    ca_mount = f"./{dc.TLS_DIR}/{dc.CA_FILE}:{dc.CONTAINER_CA}:ro"
    with_ca = {name for name, c in services.items() if ca_mount in c["volumes"]}
    assert with_ca == {"radius-agent", "radius-agent-2", "ad-agent", "phone", "provision"}
    okta = services["okta"]["volumes"]
    assert f"./{dc.TLS_DIR}/okta/inspection/key.pem:{dc.CONTAINER_TLS_INSPECTION['key']}:ro" in okta
    for name, c in services.items():
        files = [v.split(":")[0] for v in c["volumes"] if v.startswith(f"./{dc.TLS_DIR}/")]
        assert all((tmp_path / "docker" / f).is_file() for f in files), (name, files)
        assert all(v.endswith(":ro") for v in c["volumes"] if v.startswith(f"./{dc.TLS_DIR}/")), name


def test_sync_topology_rewrites_the_containers_copy_in_place(tmp_path):
    """The containers bind-mount the file itself: a new file (a rename) would go unseen."""
    host = dc.container_topology(tmp_path, seed=tmp_path / "docker" / "seed.yaml")
    (tmp_path / "docker").mkdir()
    (tmp_path / "topology.json").write_text(json.dumps(host))
    inside = tmp_path / "docker" / "topology.json"
    inside.write_text(json.dumps(dc.containers_view(host)) + " " * 5000)   # longer than the new text
    inode = inside.stat().st_ino
    host["services"]["okta"]["settings"]["push_ttl_seconds"] = 2
    (tmp_path / "topology.json").write_text(json.dumps(host))
    dr.sync_topology(tmp_path)
    assert inside.stat().st_ino == inode
    seen = json.loads(inside.read_text())
    assert seen["services"]["okta"]["settings"] == {"push_ttl_seconds": 2}
    assert seen["state_dir"] == dc.CONTAINER_STATE_DIR and seen["seed"] == dc.CONTAINER_SEED


def test_dockerignore_sends_only_what_the_dockerfile_copies():
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "the context starts empty; only what the image needs is let in"
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M)
    sources = [s for line in copied for s in line.split()]
    assert sources
    for src in sources:
        assert f"!{src}" in ignore, src


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entrypoint_overrides_credentials_from_the_environment(tmp_path, monkeypatch):
    entrypoint = _load(ROOT / "docker" / "entrypoint.py", "lab_docker_entrypoint")
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(dc.baked_topology()))
    for env in entrypoint.CREDENTIAL_ENV.values():
        monkeypatch.delenv(env, raising=False)
    same, topology = entrypoint.effective_topology(str(path))
    assert same == str(path) and topology["credentials"] == dc.DEMO_CREDENTIALS
    monkeypatch.setenv("LAB_OKTA_API_TOKEN", "00" + "y" * 40)
    monkeypatch.setenv("LAB_RADIUS_SHARED_SECRET", "")        # empty: not an override
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    merged, topology = entrypoint.effective_topology(str(path))
    assert merged != str(path)
    assert os.stat(merged).st_mode & 0o077 == 0
    written = json.loads(Path(merged).read_text())
    assert written["credentials"]["okta_api_token"] == "00" + "y" * 40
    assert written["credentials"]["radius_shared_secret"] == dc.DEMO_CREDENTIALS["radius_shared_secret"]
    assert entrypoint.CREDENTIAL_ENV.values() and set(entrypoint.CREDENTIAL_ENV.values()) == set(dc.CREDENTIAL_ENV)


SOURCES_DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
"""


@pytest.mark.parametrize("files, suite, expected", [
    ({"sources.list.d/debian.sources": SOURCES_DEB822}, "bookworm", "http://mirror.invalid/debian"),
    ({"sources.list.d/debian.sources": SOURCES_DEB822}, "bookworm-security",
     "http://mirror.invalid/debian-security"),
    ({"sources.list": "deb [arch=amd64 signed-by=/k.gpg] http://one.invalid/debian bookworm main\n"},
     "bookworm", "http://one.invalid/debian"),
    ({"sources.list": "# deb http://no.invalid/debian bookworm main\ndeb http://two.invalid/d bookworm contrib main\n"},
     "bookworm", "http://two.invalid/d"),
    ({"sources.list.d/x.sources": "Enabled: no\nTypes: deb\nURIs: http://off.invalid/\nSuites: bookworm\n"
                                  "Components: main\n"}, "bookworm", None),
    ({"sources.list": "deb http://three.invalid/debian trixie main\n"}, "bookworm", None),
])
def test_base_image_finds_the_hosts_debian_mirror(tmp_path, files, suite, expected):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "sources.list.d").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DEBIAN_MIRROR"}
    proc = subprocess.run(["bash", str(ROOT / "docker" / "base-image.sh"), "--print-mirror"],
                          env=env | {"APT_ETC": str(tmp_path), "DEBIAN_SUITE": suite},
                          capture_output=True, text=True)
    if expected is None:
        assert proc.returncode == 2 and "DEBIAN_MIRROR" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == expected


def test_source_digest_follows_the_sources_and_nothing_else(tmp_path):
    digest = _load(ROOT / "docker" / "source_digest.py", "lab_source_digest").source_digest
    (tmp_path / "lab" / "__pycache__").mkdir(parents=True)
    (tmp_path / "services").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "lab" / "cli.py").write_text("x = 1\n")
    first = digest(tmp_path)
    (tmp_path / "lab" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "README.md").write_text("words\n")
    assert digest(tmp_path) == first
    (tmp_path / "lab" / "cli.py").write_text("x = 2\n")
    assert digest(tmp_path) != first


def test_demo_credentials_have_every_key_a_lab_has(tmp_path):
    """The baked topology's credentials, and the environment that overrides them, follow the
    credentials `lab up` makes (a service reading a key the demo lab lacks would not start)."""
    entrypoint = _load(ROOT / "docker" / "entrypoint.py", "lab_docker_entrypoint")
    keys = set(topo.load_or_create_credentials(tmp_path))
    assert set(dc.DEMO_CREDENTIALS) == keys
    assert set(entrypoint.CREDENTIAL_ENV) == keys
    assert set(entrypoint.CREDENTIAL_ENV.values()) == set(dc.CREDENTIAL_ENV)
    for key in ("okta_api_token", "okta_agent_token"):
        assert dc.DEMO_CREDENTIALS[key].startswith("00") and len(dc.DEMO_CREDENTIALS[key]) == 42
