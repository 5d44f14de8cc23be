"""Bringing the seed's people to the walkthrough's end state: Okta Verify enrolled on the phone.

This is done the way a user does it, through the real interfaces: the org enrols a factor and
shows a QR code, the phone's camera reads the QR image, the phone shows a code that activates the
TOTP factor, and for push the phone enrols itself with the org. Nothing is written behind the
services' backs, so the org and the phone agree on secrets only because they exchanged them.
It is idempotent: users already enrolled are skipped.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from .client_env import lab_verify, org_url, plain_http_verify
from .state import api_url


class ProvisionError(Exception):
    pass


def _links(obj: Any, name: str) -> Iterator[str]:
    """Every `_links.<name>.href` anywhere in an Okta response (its place varies by factor)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "_links" and isinstance(value, dict) and isinstance(value.get(name), dict):
                href = value[name].get("href")
                if href:
                    yield href
            yield from _links(value, name)
    elif isinstance(obj, list):
        for item in obj:
            yield from _links(item, name)


def _first_link(obj: Any, name: str) -> str:
    for href in _links(obj, name):
        return href
    raise ProvisionError(f"the org's response has no {name} link")


def _check(resp: httpx.Response, what: str) -> Any:
    if resp.status_code >= 300:
        raise ProvisionError(f"{what}: HTTP {resp.status_code} {resp.text[:300]}")
    return resp.json() if resp.content else None


def enrol_okta_verify(topology: dict[str, Any], seed: dict[str, Any],
                      progress: Callable[[str], None] = lambda _: None) -> list[str]:
    """Enrol Okta Verify (TOTP and push) for every seed user marked `okta_verify: true`.

    The people enrol side by side (a few at a time, as people do), each through the same steps;
    what they enrolled is said in the seed's order."""
    token = topology["credentials"]["okta_api_token"]
    domain = seed["domain"]["dns_name"]
    org, phone = org_url(topology), api_url(topology, "phone")
    headers = {"Authorization": f"SSWS {token}", "Accept": "application/json"}
    verify = lab_verify(topology)       # the org over HTTPS, its certificate from the lab CA
    logins = [f"{person['sam']}@{domain}" for person in seed.get("users", [])
              if (person.get("okta") or {}).get("okta_verify")]
    with httpx.Client(headers=headers, timeout=15, verify=verify) as okta, \
            httpx.Client(timeout=15, verify=plain_http_verify()) as camera, \
            ThreadPoolExecutor(max_workers=ENROLLING_AT_ONCE) as pool:
        done = [pool.submit(_enrol_person, okta, camera, org, phone, login) for login in logins]
        enrolled = []
        for login, future in zip(logins, done, strict=True):
            if future.result():
                progress(f"enrolled Okta Verify for {login}")
                enrolled.append(login)
    return enrolled


ENROLLING_AT_ONCE = 4     # the org and the phone each serve on one event loop: 4 keep both busy


def _enrol_person(okta: httpx.Client, camera: httpx.Client, org: str, phone: str, login: str) -> bool:
    """Enrol what `login` lacks of TOTP and push; True when anything was enrolled."""
    user = _check(okta.get(f"{org}/api/v1/users/{login}"), f"looking up {login}")
    factors = _check(okta.get(f"{org}/api/v1/users/{user['id']}/factors"), f"{login}'s factors")
    active = {(f["factorType"], f["provider"]) for f in factors if f.get("status") == "ACTIVE"}
    if ("token:software:totp", "OKTA") not in active:
        _enrol_totp(okta, camera, org, phone, user["id"], login)
    if ("push", "OKTA") not in active:
        _enrol_push(okta, camera, org, phone, user["id"], login)
    return len(active) < 2


def _scan(okta: httpx.Client, camera: httpx.Client, phone: str, factor: dict[str, Any], login: str) -> None:
    png = okta.get(_first_link(factor, "qrcode"))
    if png.status_code != 200:
        raise ProvisionError(f"QR code for {login}: HTTP {png.status_code}")
    _check(camera.post(f"{phone}/scan", content=png.content, headers={"Content-Type": "image/png"}),
           f"the phone scanning {login}'s QR code")


def _enrol_totp(okta, camera, org, phone, user_id, login) -> None:
    factor = _check(okta.post(f"{org}/api/v1/users/{user_id}/factors",
                              json={"factorType": "token:software:totp", "provider": "OKTA"}),
                    f"enrolling TOTP for {login}")
    _scan(okta, camera, phone, factor, login)
    code = _check(camera.get(f"{phone}/accounts/{login}/code"), f"reading {login}'s code")["code"]
    _check(okta.post(_first_link(factor, "activate"), json={"passCode": code}), f"activating TOTP for {login}")


def _enrol_push(okta, camera, org, phone, user_id, login) -> None:
    factor = _check(okta.post(f"{org}/api/v1/users/{user_id}/factors",
                              json={"factorType": "push", "provider": "OKTA"}),
                    f"enrolling push for {login}")
    _scan(okta, camera, phone, factor, login)
    poll = _first_link(factor, "poll")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = _check(okta.post(poll), f"polling {login}'s push activation")
        if state.get("status") == "ACTIVE":
            return
        time.sleep(0.1)
    raise ProvisionError(f"push enrolment of {login} did not become ACTIVE")


ACTIVATION_LINK = re.compile(r"(https?://\S+/welcome/([A-Za-z0-9_-]+))")


def follow_activation_email(topology: dict[str, Any], user: str, timeout: float = 15.0,
                            progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """What the user does with the activation email: open it, follow the link (the org's
    `/api/v1/authn {"token"}`), and enrol whatever the enrolment policy asks (MFA_ENROLL) by
    scanning the QR codes with the phone, until SUCCESS. Returns the final transaction."""
    org, phone, mailbox = org_url(topology), api_url(topology, "phone"), api_url(topology, "mail")
    with httpx.Client(timeout=15, verify=lab_verify(topology)) as http:
        deadline = time.monotonic() + timeout
        while True:
            inbox = _check(http.get(f"{mailbox}/messages", params={"to": user}), f"{user}'s mailbox")
            if inbox:
                break
            if time.monotonic() > deadline:
                raise ProvisionError(f"no email for {user} within {timeout:g} s")
            time.sleep(0.2)
        message = _check(http.get(f"{mailbox}/messages/{inbox[-1]['id']}"), "the activation email")
        link = ACTIVATION_LINK.search(message.get("text", ""))
        if link is None:
            raise ProvisionError(f"the newest email of {user} has no activation link")
        progress(f"{user} follows the activation link in \"{message.get('subject')}\"")
        tx = _check(http.post(f"{org}/api/v1/authn", json={"token": link.group(2)}), "the activation link")
        while tx["status"] == "MFA_ENROLL":
            pending = [f for f in tx["_embedded"]["factors"]
                       if f.get("status") != "ACTIVE" and f.get("enrollment") == "REQUIRED"]
            if not pending:
                tx = _check(http.post(tx["_links"]["skip"]["href"], json={"stateToken": tx["stateToken"]}), "skip")
                continue
            factor = pending[0]
            progress(f"{user} enrols {factor['factorType']} ({factor['provider']}) by scanning the QR code")
            tx = _check(http.post(factor["_links"]["enroll"]["href"],
                                  json={"stateToken": tx["stateToken"], "factorType": factor["factorType"],
                                        "provider": factor["provider"]}), f"enrolling {factor['factorType']}")
            tx = _activate_in_authn(http, phone, tx, user)
        if tx["status"] != "SUCCESS":
            raise ProvisionError(f"{user}'s activation ended in {tx['status']}, not SUCCESS")
        return tx


def _activate_in_authn(http: httpx.Client, phone: str, tx: dict[str, Any], user: str) -> dict[str, Any]:
    """MFA_ENROLL_ACTIVATE: the phone scans the QR; TOTP is activated with the phone's code, push by
    polling until the phone has enrolled itself."""
    factor = tx["_embedded"]["factor"]
    png = http.get(_first_link(factor, "qrcode"))
    _check(http.post(f"{phone}/scan", content=png.content, headers={"Content-Type": "image/png"}),
           f"the phone scanning {user}'s QR code")
    state = tx["stateToken"]
    if factor["factorType"] == "token:software:totp":
        code = _check(http.get(f"{phone}/accounts/{user}/code"), f"{user}'s code")["code"]
        return _check(http.post(tx["_links"]["next"]["href"], json={"stateToken": state, "passCode": code}),
                      "activating TOTP")
    deadline = time.monotonic() + 15
    while tx["status"] == "MFA_ENROLL_ACTIVATE":
        if time.monotonic() > deadline:
            raise ProvisionError(f"{user}'s push activation did not complete")
        time.sleep(0.2)
        tx = _check(http.post(tx["_links"]["next"]["href"], json={"stateToken": state}), "polling push activation")
    return tx
