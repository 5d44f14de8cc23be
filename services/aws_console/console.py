"""What every page of the console shares: the AWS clients, the sessions, the templates (with the
signed-in user and the Region in the header) and the defaults of the "Set up directory" form."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.common.web import Pages

from .aws import Aws
from .session import Session, Sessions
from .settings import ConsoleSettings

TEMPLATES = Path(__file__).parent / "templates"


def when(value: Any) -> str:
    """A timestamp as the console lists it (boto3 gives datetimes), to the second, in UTC."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "-" if value is None else str(value)


@dataclass
class Console:
    settings: ConsoleSettings
    aws: Aws
    sessions: Sessions
    region: str
    # Prefills of "Set up directory": the VPC and subnets the lab's account has (the seed's), as
    # the real console offers the account's VPCs in a list. A person can type others.
    network: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pages = Pages(TEMPLATES, shared={"region": self.region, "poll_seconds": self.settings.poll_seconds})
        self.pages.env.filters["when"] = when

    def session(self, request: Request) -> Session:
        session = self.sessions.require(request)
        request.state.console_user = session
        return session

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        response = self.pages.render(request, template, status_code,
                                     user=getattr(request.state, "console_user", None), **context)
        response.headers["Cache-Control"] = "no-store"          # pages show live AWS state
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def connect_defaults(self) -> dict[str, Any]:
        return {"size": "Small", "vpc_id": self.network.get("vpc_id", ""),
                "subnet_ids": ", ".join(self.network.get("subnet_ids", [])),
                "dns_ips": ", ".join(self.network.get("dns_ips", []))}
