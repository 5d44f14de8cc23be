"""The names a scenario may use for what depends on the lab (`$directory`, `$agent`, ...), the
values earlier steps remembered (`$name`), and reading a value out of an answer by its path."""
from __future__ import annotations

from typing import Any

from ..client import LabClient

SENT_CODE = "$code_sent_to:"


def placeholders(client: LabClient) -> dict[str, str]:
    """Names a scenario may use for what depends on the topology: `$directory` (the seed's
    directory id), `$dc`, `$agent`, `$agent2` (addresses), `$nowhere` (an address nothing uses);
    `$app` (the WorkSpaces RADIUS app's id in the org) is looked up by `resolve` when used, and
    `$code_sent_to:NUMBER` (the code in the next unread SMS or voice call to that phone number)."""
    services = client.topology["services"]
    seed_directory = (client.seed().get("aws") or {}).get("directory", {}).get("id", "")
    out = {"$directory": "" if client.topology.get("blank") else seed_directory, "$dc": services["dc"]["host"],
           "$agent": services["radius-agent"]["host"], "$nowhere": f"{client.topology['subnet']}.99"}
    if "radius-agent-2" in services:
        out["$agent2"] = services["radius-agent-2"]["host"]
    return out


def resolve(params: dict[str, Any], client: LabClient,
            remembered: dict[str, Any] | None = None) -> dict[str, Any]:
    """Scenario parameters with the placeholders (and remembered values) replaced."""
    names = placeholders(client) | (remembered or {})
    if "$app" in repr(params):          # an org call: only when a step names it
        names["$app"] = client.workspaces_app_id()

    def swap(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(SENT_CODE):
            return client.phone_texted_code(value[len(SENT_CODE):])
        if isinstance(value, str) and value in names:
            return names[value]
        if isinstance(value, str) and "$" in value:
            for name in sorted(names, key=len, reverse=True):
                value = value.replace(name, str(names[name]))
            return value
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value
    return swap(params)


def dig(data: Any, path: str) -> Any:
    """`DirectoryDescriptions.0.RadiusStatus` → data["DirectoryDescriptions"][0]["RadiusStatus"];
    in a list, `name=X` picks the first item whose `name` is X."""
    for part in path.split("."):
        if isinstance(data, list) and "=" in part:
            key, _, value = part.partition("=")
            data = next((item for item in data if isinstance(item, dict) and str(item.get(key)) == value), None)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data
