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


class Posted:
    """What a form POST made from the page answered: `status` and `text()`, as Playwright's response."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.status, self._text = answer["status"], answer["text"]

    def text(self) -> str:
        return self._text


def browser_post(page: Any, address: str, form: dict[str, str]) -> Posted:
    """A form POST by the browser itself (fetch from the page: its cookies, its trust in the lab
    CA), not by Playwright's request API, which runs outside Chromium and trusts no NSS database."""
    return Posted(page.evaluate(
        """async ([address, form]) => {
            const r = await fetch(address, {method: "POST", body: new URLSearchParams(form), redirect: "manual"});
            return {status: r.status, text: await r.text()};
        }""", [address, form]))


def api(topology: dict[str, Any]) -> httpx.Client:
    token = topology["credentials"]["okta_api_token"]
    return httpx.Client(base_url=org_url(topology), headers={"Authorization": f"SSWS {token}"}, timeout=30,
                        verify=lab_verify(topology))
