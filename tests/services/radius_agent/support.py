"""Harness for the radius-agent tests: the agent as a real process beside a fake org (unit tests of the
agent), so nothing here waits for services/okta."""
from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import ca
from lab import topology as topo
from tests.services.radius_agent.fakes import FakeOrg, FakeUser
from tests.support import admin_headers, running_services

STRICT_SECRET = "strict-Secret-9"


@dataclass
class AgentLab:
    topology: dict[str, Any]
    org: FakeOrg
    secret: bytes
    host: str
    state_dir: Path

    @property
    def admin(self) -> str:
        svc = self.topology["services"]["radius-agent"]
        return f"http://{svc['host']}:{svc['ports']['admin']}"

    @property
    def auth(self) -> dict[str, str]:
        """The admin token header the agent's admin API wants."""
        return admin_headers(self.topology)

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "radius-agent.log"


PASSWORDS = {"alice": "Alice-Pw,1", "grace": "Grace-Pw1", "mia": "Mia-Pw1", "bob": "Bob-Pw1"}


def default_users() -> list[FakeUser]:
    return [
        FakeUser("00u-alice", "alice", "alice@corp.example.com", codes={"918273"}, password=PASSWORDS["alice"],
                 groups=["WorkSpaces Users", "Full time employees"]),
        FakeUser("00u-bob", "bob", "bob@corp.example.com", codes={"102938"}, push="deny", password=PASSWORDS["bob"],
                 enrol_required=True),
        FakeUser("00u-carol", "carol", "carol@corp.example.com", codes={"564738"}, assigned=False),
        FakeUser("00u-dave", "dave", "dave@corp.example.com", codes=set(), totp_factors=0, push=None),
        FakeUser("00u-erin", "erin", "erin@corp.example.com", push="ignore"),
        FakeUser("00u-frank", "frank", "frank@corp.example.com", push="approve", push_after=1.5),
        FakeUser("00u-grace", "Grace", "grace@corp.example.com", codes={"777001"}, totp_factors=2, sms=True,
                 password=PASSWORDS["grace"]),
        FakeUser("00u-heidi", "heidi", "heidi@corp.example.com", push="timeout", push_after=0.3),
        # User-Name resolution (failures F5/F6, docs/radius.md) and the Okta statuses that forbid sign-in
        FakeUser("00u-ivy", "ivy", "ivy@corp.example.com", codes={"313131"}, status="SUSPENDED"),
        FakeUser("00u-judy", "judy", "judy@corp.example.com", codes={"414141"}, status="LOCKED_OUT"),
        FakeUser("00u-kim", "kim@corp.example.com", "kim@corp.example.com", codes={"515151"}),
        # primary authentication: one TOTP factor only (no menu); codes by sms/call/email
        FakeUser("00u-mia", "mia", "mia@corp.example.com", codes={"616161"}, push=None, password=PASSWORDS["mia"]),
        FakeUser("00u-nina", "nina", "nina@corp.example.com", totp_factors=0, push=None, sms=True, call=True,
                 email=True),
        FakeUser("00u-oscar", "oscar", "oscar@corp.example.com", totp_factors=0, push=None, sms=True,
                 otp_rate_limited=True),
    ]


def default_apps(secret: str) -> list[dict[str, Any]]:
    common = {"usernameTemplate": {"template": "${source.samAccountName}", "type": "BUILT_IN"},
              "inlineEnrollment": False}
    return [
        {"id": "0oa-ws", "label": "Amazon WorkSpaces", "port": 1812, "sharedSecret": secret,
         "primaryAuth": False, "requireMessageAuthenticator": False, **common},
        {"id": "0oa-strict", "label": "Strict VPN", "port": 1813, "sharedSecret": STRICT_SECRET,
         "primaryAuth": False, "requireMessageAuthenticator": True, **common},
        {"id": "0oa-primary", "label": "Primary auth", "port": 1814, "sharedSecret": secret,
         "primaryAuth": True, "requireMessageAuthenticator": False, **common},
        {"id": "0oa-inline", "label": "Inline enrolment", "port": 1816, "sharedSecret": secret,
         "primaryAuth": False, "requireMessageAuthenticator": False, **(common | {"inlineEnrollment": True})},
        # "Include groups in RADIUS response": 11 Filter-Id, 25 Class, 26 Vendor-Specific
        {"id": "0oa-filter", "label": "Groups in Filter-Id", "port": 1817, "sharedSecret": secret, **common,
         "groupReturn": {"attribute": 11, "groups": ["WorkSpaces Users"]}},
        {"id": "0oa-class", "label": "Groups in Class", "port": 1818, "sharedSecret": secret, **common,
         "groupReturn": {"attribute": "Class", "groups": []}},
        {"id": "0oa-vsa", "label": "Groups in Cisco-AVPair", "port": 1819, "sharedSecret": secret, **common,
         "groupReturn": {"attribute": 26, "groups": ["Full time employees"], "vendorId": 9, "vendorType": 1}},
    ]


@contextlib.contextmanager
def agent_with_fake_org(state_dir: Path, subnet: str, settings: dict[str, Any] | None = None,
                        users: list[FakeUser] | None = None) -> Iterator[AgentLab]:
    """The radius-agent as a real process, talking to a FakeOrg on the org's topology address."""
    creds = topo.load_or_create_credentials(state_dir)
    plan = topo.build(state_dir, subnet=subnet)
    okta = plan["services"]["okta"]
    # The agent calls the org over HTTPS, verified against the lab CA: the fake serves the org's
    # https port with a certificate from the state directory's CA (`lab up` issues another, same CA).
    ca.issue_for_topology(state_dir, plan)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(okta["tls"]["cert"], okta["tls"]["key"])
    org = FakeOrg(okta["host"], okta["ports"]["https"], creds.get("okta_agent_token", creds["okta_api_token"]),
                  default_apps(creds["radius_shared_secret"]), users or default_users(), tls=tls).start()
    base = {"app_refresh_seconds": 1, "push_poll_interval_seconds": 0.1,
            "ragent.request.timeout.millisecond": 4000}
    try:
        with running_services(["radius-agent"], state_dir, subnet,
                              settings={"radius-agent": base | (settings or {})}, timeout=30) as topology:
            svc = topology["services"]["radius-agent"]
            yield AgentLab(topology, org, creds["radius_shared_secret"].encode(), svc["host"], state_dir)
    finally:
        org.stop()
