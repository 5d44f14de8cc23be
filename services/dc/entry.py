"""The directory's nouns: an entry (a DN and its attributes), an account that can bind, the domain.

Kept apart from the `Directory` (the collection and its indexes) so the rules (`accounts.py`), the
seeding (`seeding.py`) and the wire modules import nouns without importing each other.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .names import norm_dn


class Entry:
    """One directory object: a DN and its attributes, looked up case-insensitively."""

    __slots__ = ("_names", "_values", "dn", "norm", "parent")

    def __init__(self, dn: str, attrs: dict[str, Any], parent: str | None = None):
        self.dn = dn
        self.norm = norm_dn(dn)
        self.parent = parent
        self._values: dict[str, list[Any]] = {}
        self._names: dict[str, str] = {}
        for name, value in attrs.items():
            self.set(name, value)

    def set(self, name: str, value: Any) -> None:
        """Set an attribute (a list, a scalar, or None/[] to remove it)."""
        key = name.lower()
        if value is None or value == [] or value == "":
            self._values.pop(key, None)
            self._names.pop(key, None)
            return
        values = value if isinstance(value, list) else [value]
        self._values[key] = [v if isinstance(v, (bytes, str)) else str(v) for v in values]
        self._names.setdefault(key, name)

    def values(self, attr: str) -> list[Any]:
        return self._values.get(attr.lower(), [])

    def first(self, attr: str, default: Any = None) -> Any:
        vals = self.values(attr)
        return vals[0] if vals else default

    def int(self, attr: str, default: int = 0) -> int:
        try:
            return int(self.first(attr, default))
        except (TypeError, ValueError):
            return default

    def items(self) -> Iterable[tuple[str, list[Any]]]:
        return ((self._names[k], v) for k, v in self._values.items())

    def has(self, attr: str) -> bool:
        return attr.lower() in self._values

    def name_of(self, attr: str) -> str:
        return self._names.get(attr.lower(), attr)


@dataclass
class Account:
    """A security principal that can bind: a person or a service account."""
    sam: str
    entry: Entry
    digest: bytes
    kind: str = "user"           # "user" | "service"


@dataclass
class Domain:
    dns_name: str = "corp.example.com"
    netbios: str = "CORP"
    base_dn: str = "DC=corp,DC=example,DC=com"
    dc_hostname: str = "InstanceRDC"
    sid: str = field(default="")

    @property
    def dc_fqdn(self) -> str:
        return f"{self.dc_hostname}.{self.dns_name}".lower()


def password_digest(sam: str, password: str) -> bytes:
    # Not a KDF: the lab's demo passwords only need to stay out of memory dumps of the entries.
    return hashlib.sha256(f"{sam.lower()}\0{password}".encode()).digest()
