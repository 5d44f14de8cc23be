"""What the Okta admin console's browser tests share: the seed's admin, signing in, a reset."""
from __future__ import annotations

from typing import Any

import httpx

from lab.client_env import lab_verify, org_url
from tests.support import admin_headers, default_seed, url

ADMIN = default_seed()["okta"]["admin"]


def reset(topology: dict[str, Any], *services: str) -> None:
    """Every service named back to its seed (the admin API's POST /reset)."""
    for name in services:
        httpx.post(url(topology, name, "admin") + "/reset", timeout=60,
                   headers=admin_headers(topology)).raise_for_status()


def sign_in(page: Any, base: str, path: str = "/admin/people") -> None:
    page.goto(base + path)
    page.get_by_label("Username").fill(ADMIN["login"])
    page.get_by_label("Password").fill(ADMIN["password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + path)


def api(topology: dict[str, Any]) -> httpx.Client:
    token = topology["credentials"]["okta_api_token"]
    return httpx.Client(base_url=org_url(topology), headers={"Authorization": f"SSWS {token}"}, timeout=30,
                        verify=lab_verify(topology))
