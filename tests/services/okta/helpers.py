"""Helpers shared by the okta tests: an SSWS client for a running org."""
from __future__ import annotations

import httpx

from tests.support import url


def org_client(topology) -> httpx.Client:
    token = topology["credentials"]["okta_api_token"]
    return httpx.Client(base_url=url(topology, "okta"), headers={"Authorization": f"SSWS {token}"},
                        timeout=10)


def assert_error(resp: httpx.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["errorCode"] == code, body
    assert {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"} <= body.keys()
    return body
