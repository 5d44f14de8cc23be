"""Helpers shared by the okta tests: an SSWS client for a running org, and an org in the test's
own process (no HTTP) for the flow and policy unit tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from lab.client_env import lab_verify, okta_sdk_config, org_url
from services.common.context import ServiceContext
from services.common.events import Journal
from services.okta import policies
from services.okta.groups import ensure_everyone
from services.okta.org import Org
from services.okta.settings import OrgSettings
from services.okta.store import Store


def in_process_org(state_dir: Path, org_url: str = "http://org") -> Org:
    """An org on a SQLite file in `state_dir`, with its Everyone group and default policies (as the
    service's start makes them), served by nothing."""
    ctx = ServiceContext(name="okta", topology={"services": {"okta": {"host": "127.0.0.1", "ports": {}}},
                                                "state_dir": str(state_dir)})
    ctx.journal = Journal("okta", ctx.clock)
    org = Org.open(ctx, Store(state_dir / "org.sqlite3"), org_url, OrgSettings())
    ensure_everyone(org)
    policies.ensure_defaults(org)
    return org


def org_client(topology) -> httpx.Client:
    """An SSWS client of the org at the URL it advertises (HTTPS, the lab CA trusted), so the
    `_links` it answers with can be followed with the same client."""
    token = topology["credentials"]["okta_api_token"]
    return httpx.Client(base_url=org_url(topology), headers={"Authorization": f"SSWS {token}"},
                        timeout=10, verify=lab_verify(topology))


def sdk_config(topology) -> dict[str, Any]:
    """The okta SDK's config for the org over HTTPS, trusting the lab CA (no plain-HTTP switch)."""
    config = okta_sdk_config(topology)
    assert config["orgUrl"].startswith("https://"), config["orgUrl"]
    return config


def assert_error(resp: httpx.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["errorCode"] == code, body
    assert {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"} <= body.keys()
    return body
