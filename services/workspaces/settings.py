"""WorkSpaces' settings (`services.workspaces.settings` of the topology), read once at start-up."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.settings import SettingsReader


@dataclass(frozen=True)
class WorkspacesSettings:
    stage_delay_seconds: float         # between states: REGISTERING → REGISTERED, PENDING → AVAILABLE, STOPPING → ...
    reboot_seconds: float              # REBOOTING → AVAILABLE (RebootWorkspaces)
    registration_code_prefix: str      # codes are `<prefix>+XXXXXX`; "" (default): the Region's, `WSiad` ...
    account_id: str                    # the AWS account in the default role's ARN

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> WorkspacesSettings:
        r = SettingsReader(settings)
        return cls(stage_delay_seconds=r.number("stage_delay_seconds", 1.0, minimum=0),
                   reboot_seconds=r.number("reboot_seconds", 5.0, minimum=0),
                   registration_code_prefix=(r.text("registration_code_prefix")
                                             if "registration_code_prefix" in settings else ""),
                   account_id=r.text("account_id", "123456789012"))
