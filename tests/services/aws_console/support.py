"""What the console's tests share: a console app in-process, and signing in over HTTP."""
from __future__ import annotations

import re
from typing import Any

import httpx

from services.aws_console.app import make_app
from services.aws_console.aws import Aws
from services.aws_console.console import Console
from services.aws_console.session import Sessions
from services.aws_console.settings import ConsoleSettings

ACCOUNT, USER, PASSWORD = "123456789012", "lab-operator", "Op3rator-Pass"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_app(ds_endpoint: str, workspaces_endpoint: str, *, key_id: str = "AKIAEXAMPLE0000000000",
                secret: str = "x" * 40, region: str = "us-east-1", password: str = PASSWORD) -> Any:
    settings = ConsoleSettings.from_settings({"ds_endpoint": ds_endpoint, "workspaces_endpoint": workspaces_endpoint,
                                              "account_id": ACCOUNT})
    aws = Aws.connect(settings, region=region, key_id=key_id, secret=secret)
    sessions = Sessions(account_id=ACCOUNT, user_name=USER, password=password, minutes=5)
    return make_app(None, Console(settings, aws, sessions, region, {"vpc_id": "vpc-1", "subnet_ids": ["s-1", "s-2"]}))


def csrf_of(client: httpx.Client, path: str = "/signin") -> str:
    """The page's CSRF token (the cookie is kept by the client)."""
    found = TOKEN.search(client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: httpx.Client, password: str = PASSWORD) -> httpx.Response:
    token = csrf_of(client)
    return client.post("/signin", data={"csrf_token": token, "account": ACCOUNT, "username": USER,
                                        "password": password, "next": "/"}, follow_redirects=False)
