"""The console's settings (`services.aws-console.settings` of the topology), read once at start-up.

The endpoints and the account are written by lab/topology.py; the keys and the Region are the lab's
credentials (`aws_access_key_id`, `aws_secret_access_key`, `aws_region`), the IAM user's password
is `console_password`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.settings import SettingsReader

# The IAM user of the sign-in page (lab/topology.py's CONSOLE_USER; `lab users` lists it).
DEFAULT_USER = "lab-operator"


@dataclass(frozen=True)
class ConsoleSettings:
    ds_endpoint: str              # Directory Service (the ad-connector service's API)
    workspaces_endpoint: str      # Amazon WorkSpaces
    account_id: str               # the 12-digit account of the sign-in page
    user_name: str                # the IAM user who may sign in
    session_minutes: float        # how long a sign-in lasts without activity
    poll_seconds: float           # how often live parts of a page refresh (htmx)
    # Amazon EC2 (the ec2 service's API); None when the topology has no ec2 service: the console
    # still starts and its EC2 pages say EC2 is not available.
    ec2_endpoint: str | None = None

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> ConsoleSettings:
        r = SettingsReader(settings)
        account = r.text("account_id", "123456789012")
        if not (len(account) == 12 and account.isdigit()):
            raise ValueError(f"setting account_id must be 12 digits, not {account!r}")
        for key in ("ds_endpoint", "workspaces_endpoint"):
            if not r.text(key).startswith(("http://", "https://")):
                raise ValueError(f"setting {key} must be an http(s) URL, not {settings[key]!r}")
        ec2 = r.text("ec2_endpoint") if settings.get("ec2_endpoint") is not None else None
        if ec2 is not None and not ec2.startswith(("http://", "https://")):
            raise ValueError(f"setting ec2_endpoint must be an http(s) URL, not {settings['ec2_endpoint']!r}")
        return cls(ds_endpoint=r.text("ds_endpoint"), workspaces_endpoint=r.text("workspaces_endpoint"),
                   account_id=account, user_name=r.text("user_name", DEFAULT_USER),
                   session_minutes=r.number("session_minutes", 60.0, positive=True),
                   poll_seconds=r.number("poll_seconds", 2.0, positive=True),
                   ec2_endpoint=ec2)
