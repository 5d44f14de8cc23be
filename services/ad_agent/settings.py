"""The Okta AD agent's settings (`services.ad-agent.settings` of the topology), read once at start-up.

The integration's "Profile & Lifecycle Sourcing" choices are Okta's; the rest are the agent's
schedule, where it reads AD, and the lab's timing knobs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.settings import SettingsReader

from .importer import Lifecycle


@dataclass(frozen=True)
class AgentSettings:
    import_interval_seconds: float     # an incremental import this often (Okta's schedule)
    import_on_start: bool              # a full import as soon as the agent has registered
    poll_wait_seconds: float           # the long-poll to the org
    retry_seconds: float               # after a failed poll or registration
    user_ous: tuple[str, ...]          # relative to the base DN ("" = the whole domain)
    group_ous: tuple[str, ...]
    exclude_users: tuple[str, ...]     # sAMAccountNames never imported
    service_account: str               # the seed's service account the agent binds as
    page_size: int                     # LDAP paged results (AD caps unpaged searches at 1000)
    lifecycle: Lifecycle

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> AgentSettings:
        r = SettingsReader(settings)
        return cls(
            import_interval_seconds=r.number("import_interval_seconds", 3600, positive=True),
            import_on_start=r.flag("import_on_start", False),
            poll_wait_seconds=r.number("poll_wait_seconds", 20, minimum=0),
            retry_seconds=r.number("retry_seconds", 2, minimum=0),
            user_ous=r.strings("user_ous", ["OU=Users"]),
            group_ous=r.strings("group_ous", ["OU=Groups"]),
            exclude_users=r.strings("exclude_users", ["Administrator", "Guest", "krbtgt"]),
            service_account=r.text("service_account", "svc-oktaagent"),
            page_size=r.integer("page_size", 500, minimum=1),
            lifecycle=Lifecycle.from_settings(settings),
        )
