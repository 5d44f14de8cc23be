"""In the pod: the topology made concrete is one the services accept, peers are waited for over
their real admin port (on this test's own loopback addresses, 127.0.170.x)."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lab.k8s import cluster_topology, pod_start
from services.ad_connector.settings import ConnectorSettings
from services.dc.settings import DcSettings
from services.ec2.settings import Ec2Settings

POD_IP = "10.244.3.17"
SUBNET = "127.0.170"


def cluster_ips(topology: dict[str, Any]) -> dict[str, str]:
    return {name: f"10.96.0.{10 + i}" for i, name in enumerate(topology["services"])}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


@pytest.mark.parametrize("agents", [1, 2])
def test_every_pod_gets_addresses_its_service_accepts(agents):
    template = cluster_topology.template(agents=agents)
    ips = cluster_ips(template)
    for me in template["services"]:
        view = cluster_topology.pod_view(template, me, POD_IP, ips)
        mine = view["services"][me]
        assert mine["host"] == POD_IP                       # where its connections leave from
        assert mine.get("bind", mine["host"]) == (POD_IP if me == "dc" else "0.0.0.0")
        for name, svc in view["services"].items():
            if name != me:
                assert svc["host"] == ips[name]
            for text in _strings(svc["settings"]):
                assert text not in template["services"], (me, name, text)     # no name is left
                assert "://" not in text or "//10." in text
        # the settings readers of the services themselves take the concrete values
        Ec2Settings.from_settings(view["services"]["ec2"]["settings"])
        connector = ConnectorSettings.from_settings(view["services"]["ad-connector"]["settings"])
        assert connector.customer_dns_ips == ((POD_IP,) if me == "dc" else (ips["dc"],))
        assert connector.connect_ips == ((POD_IP,) if me == "ad-connector" else (ips["ad-connector"],))
    dc = cluster_topology.pod_view(template, "dc", POD_IP, ips)["services"]["dc"]["settings"]
    assert DcSettings.from_settings(dc).advertise_ip == ips["dc"]       # its DNS answers name its Service
    console = cluster_topology.pod_view(template, "okta", POD_IP, ips)["services"]["aws-console"]["settings"]
    assert console["ds_endpoint"] == f"http://{ips['ad-connector']}:80"


def test_a_missing_service_or_pod_ip_is_refused():
    template = cluster_topology.template()
    ips = cluster_ips(template)
    with pytest.raises(ValueError, match="no ClusterIP for okta"):
        cluster_topology.pod_view(template, "dc", POD_IP, {k: v for k, v in ips.items() if k != "okta"})
    with pytest.raises(ValueError, match="POD_IP"):
        cluster_topology.pod_view(template, "dc", None, ips)


def test_resolve_retries_until_the_service_exists_then_gives_up():
    answers = iter([OSError("Name or service not known"), "10.96.0.9"])

    def lookup(_name: str) -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert pod_start.resolve(["dc"], lookup=lookup) == {"dc": "10.96.0.9"}

    def never(name: str) -> str:
        raise OSError(f"{name}: Name or service not known")

    with pytest.raises(LookupError, match="cannot resolve the Service 'okta'"):
        pod_start.resolve(["okta"], within=0, lookup=never)


@pytest.fixture
def admin_port() -> Iterator[tuple[str, int]]:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer((f"{SUBNET}.10", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[0], server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def test_wait_for_asks_the_peers_admin_port(admin_port):
    host, port = admin_port
    topology = {"services": {"dc": {"host": host, "ports": {"admin": port}},
                             "okta": {"host": f"{SUBNET}.30", "ports": {"admin": port}}}}
    pod_start.wait_healthy(topology, ["dc"], within=5)
    with pytest.raises(TimeoutError, match="okta is not healthy"):
        pod_start.wait_healthy(topology, ["okta"], within=0)


def test_the_command_line_wants_a_service_or_wait_for(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        pod_start.main([])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        pod_start.main(["dc", "--wait-for", "okta"])
    assert exit_.value.code == 2
    template = tmp_path / "topology.json"
    template.write_text(json.dumps(cluster_topology.template()))
    with pytest.raises(SystemExit) as exit_:
        pod_start.main(["nosuch", "--template", str(template)])
    assert exit_.value.code == 2
    assert "no service 'nosuch'" in capsys.readouterr().err
