"""EC2's settings (`services.ec2.settings` of the topology), read once at start-up.

`instances`, `connector_interfaces` and `vpc_cidr` are written by the lab's topology (the addresses
the enforcer filters); the rest are lab knobs.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from services.common.settings import SettingsReader

INSTANCE_NAMES = ("InstanceRDC", "InstanceOkta")


@dataclass(frozen=True)
class Ec2Settings:
    instances: dict[str, tuple[str, ...]]     # Name tag -> private addresses (the first is the primary)
    connector_interfaces: tuple[str, ...]     # AD Connector's two ENIs: the source of its traffic
    vpc_cidr: str                             # the VPC's IPv4 block (the lab's subnet)
    account_id: str                           # OwnerId of every resource
    apply_wait_seconds: float                 # a mutating call waits at most this for the enforcer
    enforcer_fresh_seconds: float             # an enforcer heard from within this is "present"
    long_poll_seconds: float                  # GET /admin/network?after=G waits at most this

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Ec2Settings:
        r = SettingsReader(settings)
        raw = settings.get("instances")
        if not isinstance(raw, dict) or not raw:
            raise ValueError("setting instances must map instance names to lists of addresses")
        instances: dict[str, tuple[str, ...]] = {}
        for name, addresses in raw.items():
            if name not in INSTANCE_NAMES:
                raise ValueError(f"setting instances: unknown instance {name!r} (known: {', '.join(INSTANCE_NAMES)})")
            if not isinstance(addresses, list) or not addresses or not all(_is_ipv4(a) for a in addresses):
                raise ValueError(f"setting instances.{name} must be a non-empty list of IPv4 addresses")
            instances[name] = tuple(addresses)
        connector = r.strings("connector_interfaces")
        if not all(_is_ipv4(a) for a in connector):
            raise ValueError("setting connector_interfaces must be IPv4 addresses")
        cidr = r.text("vpc_cidr")
        try:
            ipaddress.IPv4Network(cidr)
        except ValueError:
            raise ValueError(f"setting vpc_cidr must be an IPv4 network, not {cidr!r}") from None
        account = r.text("account_id", "123456789012")
        if not (len(account) == 12 and account.isdigit()):
            raise ValueError(f"setting account_id must be 12 digits, not {account!r}")
        return cls(
            instances=instances, connector_interfaces=connector, vpc_cidr=cidr, account_id=account,
            apply_wait_seconds=r.number("apply_wait_seconds", 10.0, minimum=0),
            enforcer_fresh_seconds=r.number("enforcer_fresh_seconds", 10.0, minimum=0),
            long_poll_seconds=r.number("long_poll_seconds", 25.0, positive=True),
        )


def _is_ipv4(value: Any) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True
