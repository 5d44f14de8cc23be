"""Calling a running service's admin API as the lab CLI does: with the lab's admin token.

    from tests.support import admin_client
    admin = admin_client(topology, "dc")        # an httpx.Client on the dc's admin API
    admin.post("/faults", json={...}); admin.get("/events").json()

Every admin call but `GET /healthz` needs `Authorization: Bearer <admin_token>`
(services/common/admin_auth.py); `admin_headers(topology)` gives that header alone.
"""
from __future__ import annotations

from typing import Any

import httpx


def admin_headers(topology: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {topology['credentials']['admin_token']}"}


def admin_url(topology: dict[str, Any], service: str) -> str:
    svc = topology["services"][service]
    return f"http://{svc['host']}:{svc['ports']['admin']}"


def admin_client(topology: dict[str, Any], service: str, **kwargs: Any) -> httpx.Client:
    """An httpx client on `service`'s admin API that sends the admin token (close it, or use it in
    a `with` block; a test that forgets leaks one idle connection, nothing more)."""
    kwargs.setdefault("timeout", 30)
    return httpx.Client(base_url=admin_url(topology, service), headers=admin_headers(topology), **kwargs)
