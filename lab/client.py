"""Talking to a running lab: the calls the CLI, the scenario runner and the tests share.

Everything goes over the network to the services' real or admin APIs, so the same client works
whichever runtime started the lab.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from .client_env import lab_verify, org_url
from .state import admin_headers, admin_url, api_url

# How long this client waits for a sign-in's answer: longer than WorkSpaces waits for AD Connector
# (600 s, enough for a push approved on the last of AD Connector's RADIUS retries, 50 s × 11), so
# the service's own answer, success or its failure message, always arrives first.
CLIENT_SIGNIN_TIMEOUT = 660.0

ACCOUNTDISABLE = 0x2
# What an AD admin can change on an account, as the attribute values AD's tools write.
AD_ACCOUNT_CHANGES = {
    "disable": lambda uac: {"userAccountControl": uac | ACCOUNTDISABLE},
    "enable": lambda uac: {"userAccountControl": uac & ~ACCOUNTDISABLE},
    "unlock": lambda _uac: {"lockoutTime": 0},
    "must-change-password": lambda _uac: {"pwdLastSet": 0},
}


class LabClientError(Exception):
    pass


class LabClient:
    def __init__(self, topology: dict[str, Any]) -> None:
        self.topology = topology
        # HTTPS to the org verified against the lab CA; the other services' APIs are plain HTTP.
        # Idle connections are dropped after 2 s, before uvicorn's 5 s keep-alive closes them: at
        # equal timeouts a request could go out on a connection the server was closing
        # (RemoteProtocolError "Server disconnected", seen once in `code-lockout`).
        self._http = httpx.Client(timeout=30, verify=lab_verify(topology),
                                  limits=httpx.Limits(keepalive_expiry=2.0))
        self._texts_read: dict[str, int] = {}      # number -> the last SMS/call whose code was read

    def close(self) -> None:
        self._http.close()

    # -- the seed --------------------------------------------------------------------------------
    def seed(self) -> dict[str, Any]:
        """The seed fixture (the directory's people exist even in a blank lab)."""
        return yaml.safe_load(Path(self.topology["seed"]).read_text()) or {}

    def seed_user(self, user: str) -> dict[str, Any] | None:
        wanted = user.split("@")[0].split("\\")[-1].lower()
        return next((p for p in self.seed().get("users", []) if p["sam"].lower() == wanted), None)

    def registration_code(self) -> str:
        return self.seed().get("aws", {}).get("workspaces", {}).get("registration_code", "")

    # -- the WorkSpaces client -------------------------------------------------------------------
    def login(self, user: str, password: str | None = None, mfa: str | None = None,
              registration_code: str | None = None, trace: str | None = None) -> dict[str, Any]:
        """One client sign-in; returns the service's answer plus `success` and `elapsed_seconds`."""
        if password is None:
            person = self.seed_user(user)
            if person is None:
                raise LabClientError(f"{user} is not in the seed directory; give a password")
            password = person["password"]
        if mfa is None:
            mfa = self.phone_code(user)
        headers = {"X-Lab-Trace": trace} if trace else {}
        started = time.monotonic()
        resp = self._http.post(f"{api_url(self.topology, 'workspaces')}/client/signin", headers=headers,
                               timeout=CLIENT_SIGNIN_TIMEOUT,
                               json={"registrationCode": registration_code or self.registration_code(),
                                     "username": user, "password": password, "mfaCode": mfa})
        body = resp.json()
        return {"success": resp.status_code == 200, "elapsed_seconds": round(time.monotonic() - started, 3), **body}

    # -- the admin's real clients: boto3 for AWS, SSWS HTTP for the Okta org ---------------------
    def aws(self, service: str) -> Any:
        """A boto3 client for `ds`, `workspaces` or `ec2`, pointed at the lab with its access keys."""
        import boto3  # imported here: only scenarios and scripts need it

        lab_service = {"ds": "ad-connector", "workspaces": "workspaces", "ec2": "ec2"}[service]
        creds = self.topology["credentials"]
        return boto3.client(service, endpoint_url=api_url(self.topology, lab_service),
                            region_name=creds["aws_region"], aws_access_key_id=creds["aws_access_key_id"],
                            aws_secret_access_key=creds["aws_secret_access_key"])

    def okta(self, method: str, path: str, json: Any = None, params: Any = None) -> httpx.Response:
        token = self.topology["credentials"]["okta_api_token"]
        return self._http.request(method, f"{org_url(self.topology)}{path}", json=json, params=params,
                                  headers={"Authorization": f"SSWS {token}", "Accept": "application/json"})

    def directory_id(self) -> str:
        return self.seed()["aws"]["directory"]["id"]

    def workspaces_app_id(self) -> str:
        apps = self.okta("GET", "/api/v1/radius/apps").json()
        label = next(a["label"] for a in self.seed()["okta"]["apps"] if a["key"] == "workspaces")
        return next(a["id"] for a in apps if a["label"] == label)

    # -- the phone -------------------------------------------------------------------------------
    def phone_code(self, user: str, steps: int = 0) -> str:
        """The code the user's Okta Verify shows now, or `steps` time steps away (-1: the previous)."""
        resp = self._http.get(f"{api_url(self.topology, 'phone')}/accounts/{user}/code",
                              params={"steps": steps} if steps else None)
        if resp.status_code == 404:
            raise LabClientError(f"Okta Verify on the phone has no account for {user}")
        resp.raise_for_status()
        return resp.json()["code"]

    def phone_texted_code(self, number: str, timeout: float = 10.0) -> str:
        """The code in the next SMS or voice call to `number` that has not been read yet (the org
        sends in the background, so it is waited for)."""
        deadline = time.monotonic() + timeout
        while True:
            after = self._texts_read.get(number, 0)
            received = self._http.get(f"{api_url(self.topology, 'phone')}/messages", params={"to": number}).json()
            if received and received[-1]["id"] < after:
                after = 0       # `lab reset` emptied the phone: its numbering starts again
            msgs = [m for m in received if m["id"] > after]
            found = next((m for m in msgs if re.search(r"\b(\d{6})\b", m["text"])), None)
            if found is not None:
                self._texts_read[number] = found["id"]
                return re.search(r"\b(\d{6})\b", found["text"]).group(1)  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise LabClientError(f"no SMS or call with a code reached {number} within {timeout:.0f} s")
            time.sleep(0.1)

    def phone_respond(self, user: str, action: str, after: float = 0.0) -> dict[str, Any]:
        resp = self._http.put(f"{api_url(self.topology, 'phone')}/accounts/{user}/behaviour",
                              json={"action": action, "after": after})
        if resp.status_code == 404:
            raise LabClientError(f"Okta Verify on the phone has no account for {user}")
        if resp.status_code != 200:
            raise LabClientError(str(resp.json().get("detail", resp.text)))
        return resp.json()

    def phone_scan(self, uri: str, device: str) -> dict[str, Any]:
        """The person scans a QR code's text with one of their phones (`device`)."""
        resp = self._http.post(f"{api_url(self.topology, 'phone')}/scan", params={"device": device}, json={"uri": uri})
        if resp.status_code != 200:
            raise LabClientError(str(resp.json().get("detail", resp.text)))
        return resp.json()

    def phone_remove(self, user: str, device: str) -> None:
        resp = self._http.delete(f"{api_url(self.topology, 'phone')}/accounts/{user}", params={"device": device})
        if resp.status_code != 200:
            raise LabClientError(str(resp.json().get("detail", resp.text)))

    def phone_pushes(self) -> list[dict[str, Any]]:
        return self._http.get(f"{api_url(self.topology, 'phone')}/pushes").json()

    # -- the mailbox and the Okta AD agent -------------------------------------------------------
    def mail(self, user: str | None = None) -> list[dict[str, Any]]:
        """The mailbox's messages with their bodies, oldest first; for `user` (an address or the
        part before the @) only theirs."""
        base = api_url(self.topology, "mail")
        listed = self._http.get(f"{base}/messages", params={"to": user} if user else None)
        listed.raise_for_status()
        return [self._http.get(f"{base}/messages/{m['id']}").json() for m in listed.json()]

    def _okta_ok(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.okta(method, path, **kwargs)
        if resp.status_code >= 300:
            try:
                summary = resp.json().get("errorSummary", resp.text)
            except ValueError:
                summary = resp.text
            raise LabClientError(f"the org refused {method} {path}: {summary}")
        return resp.json() if resp.content else None

    def ad_import(self, full: bool = True, wait: float = 60.0) -> dict[str, Any]:
        """What the admin's Import button does: ask the org for an AD import, which the Okta AD
        agent picks up at its next poll; wait until the job is COMPLETED or FAILED."""
        deadline = time.monotonic() + wait
        # After an org reset the agent registers again at its next poll: give it that moment.
        while not (directories := self._okta_ok("GET", "/api/v1/directories")):
            if time.monotonic() > deadline:
                raise LabClientError("the org has no Active Directory integration yet: is the ad-agent running?")
            time.sleep(0.3)
        dir_id = directories[0]["id"]
        job = self._okta_ok("POST", f"/api/v1/directories/{dir_id}/import", json={"full": full})
        while job["status"] in ("PENDING", "RUNNING"):
            if time.monotonic() > deadline:
                raise LabClientError(f"import {job['id']} still {job['status']} after {wait:g} s")
            time.sleep(0.3)
            job = self._okta_ok("GET", f"/api/v1/directories/{dir_id}/imports/{job['id']}")
        return job

    def activate(self, user: str, send_email: bool = True) -> dict[str, Any]:
        """The admin's Activate button (People > user > Activate): the email goes to the mailbox."""
        found = self._okta_ok("GET", f"/api/v1/users/{user}")
        body = self._okta_ok("POST", f"/api/v1/users/{found['id']}/lifecycle/activate",
                             params={"sendEmail": "true" if send_email else "false"})
        return {"login": found["profile"]["login"], **(body or {})}

    def ad_account(self, user: str, change: str) -> dict[str, Any]:
        """What the AD admin does in "Active Directory Users and Computers", done the way any LDAP
        tool does it: a modify as the domain administrator (ldap3, simple bind). `change` is one of
        AD_ACCOUNT_CHANGES. Returns the account's sAMAccountName, DN and new userAccountControl."""
        import ldap3  # imported here: only scenarios and the CLI need it
        from ldap3.utils.conv import escape_filter_chars

        if change not in AD_ACCOUNT_CHANGES:
            raise LabClientError(f"unknown AD account change {change!r}; one of: {', '.join(AD_ACCOUNT_CHANGES)}")
        seed = self.seed()
        netbios = seed.get("domain", {}).get("netbios_name", "CORP")
        admin = next((p for p in seed.get("users", []) if p["sam"].lower() == "administrator"), None)
        if admin is None:
            raise LabClientError("the seed has no Administrator to change AD accounts with")
        dc = self.topology["services"]["dc"]
        sam = user.split("@")[0].split("\\")[-1]
        conn = ldap3.Connection(ldap3.Server(dc["host"], port=dc["ports"]["ldap"], get_info=ldap3.NONE,
                                             connect_timeout=5),
                                user=f"{netbios}\\Administrator", password=admin["password"], receive_timeout=10)
        try:
            if not conn.bind():
                raise LabClientError(f"the DC refused the administrator's bind: {conn.result.get('message')}")
            base = seed.get("domain", {}).get("base_dn") or ",".join(
                f"DC={p}" for p in seed.get("domain", {}).get("dns_name", "corp.example.com").split("."))
            conn.search(base, f"(sAMAccountName={escape_filter_chars(sam)})",
                        attributes=["userAccountControl"])
            if not conn.entries:
                raise LabClientError(f"AD has no account {sam}")
            dn, uac = conn.entries[0].entry_dn, int(conn.entries[0].userAccountControl.value or 512)
            values = AD_ACCOUNT_CHANGES[change](uac)
            if not conn.modify(dn, {k: [(ldap3.MODIFY_REPLACE, [str(v)])] for k, v in values.items()}):
                raise LabClientError(f"the DC refused to {change} {sam}: {conn.result.get('message')}")
            return {"user": sam, "dn": dn, "change": change,
                    "userAccountControl": int(values.get("userAccountControl", uac))}
        except ldap3.core.exceptions.LDAPException as exc:
            raise LabClientError(f"cannot reach the DC's LDAP: {exc.__class__.__name__}: {exc}") from None
        finally:
            try:
                conn.unbind()
            except ldap3.core.exceptions.LDAPException:
                pass      # already closed by the DC; nothing was lost

    # -- the control plane -----------------------------------------------------------------------
    def health(self) -> dict[str, bool]:
        out = {}
        for name in self.topology["services"]:
            try:
                out[name] = self._http.get(f"{admin_url(self.topology, name)}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                out[name] = False
        return out

    def events(self, service: str | None = None, since: dict[str, int] | None = None) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for name in self.topology["services"]:
            if service and name != service:
                continue
            try:
                params = {"since": (since or {}).get(name, 0)}
                resp = self._http.get(f"{admin_url(self.topology, name)}/events", params=params, timeout=5,
                                     headers=admin_headers(self.topology))
            except httpx.HTTPError:
                continue      # a service that is down has no events to add
            if resp.status_code == 401:
                raise LabClientError(f"{name} refused the admin token: {resp.text}")
            try:
                events += resp.json()
            except ValueError:
                continue
        return sorted(events, key=lambda e: (e["ts"], e["service"], e["seq"]))

    def event_marks(self) -> dict[str, int]:
        """The last event number of each service: pass as `since` to see only what follows."""
        return {name: max((e["seq"] for e in self.events(name)), default=0) for name in self.topology["services"]}

    def reset(self) -> None:
        for name in self.topology["services"]:
            self._http.post(f"{admin_url(self.topology, name)}/reset",
                            headers=admin_headers(self.topology)).raise_for_status()

    def post_admin(self, service: str, path: str, json: Any = None) -> Any:
        resp = self._http.post(f"{admin_url(self.topology, service)}{path}", json=json,
                               headers=admin_headers(self.topology))
        resp.raise_for_status()
        return resp.json()

    def add_fault(self, service: str, spec: dict[str, Any]) -> int:
        resp = self._http.post(f"{admin_url(self.topology, service)}/faults", json=spec,
                               headers=admin_headers(self.topology))
        if resp.status_code != 200:
            raise LabClientError(f"{service} refused the fault: {resp.text}")
        return resp.json()["id"]

    def set_clock(self, service: str, offset_seconds: float) -> None:
        resp = self._http.post(f"{admin_url(self.topology, service)}/clock", json={"offset_seconds": offset_seconds},
                               headers=admin_headers(self.topology))
        if resp.status_code != 200:
            raise LabClientError(f"{service} refused the clock offset: {resp.text}")
