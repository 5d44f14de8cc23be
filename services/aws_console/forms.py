"""Form fields to API parameters, as the console turns what a person typed into a request: lists
split at commas, numbers made numbers. Nothing is judged here beyond that: a wrong value goes to
the API, whose own error the page shows (the one console-only check is a confirmation field)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Problem:
    """What lab_macros.errors() shows when the console itself refuses a form."""
    summary: str
    causes: tuple[str, ...] = field(default_factory=tuple)


def text(form: dict[str, Any], name: str) -> str:
    return str(form.get(name) or "").strip()


def secret(form: dict[str, Any], name: str) -> str:
    """Passwords and secrets as typed (spaces are part of them)."""
    return str(form.get(name) or "")


def items(form: dict[str, Any], name: str) -> list[str]:
    """`10.0.0.1, 10.0.0.2` → ["10.0.0.1", "10.0.0.2"] (commas, spaces or new lines between)."""
    return [part for part in text(form, name).replace(",", " ").split() if part]


def number(form: dict[str, Any], name: str) -> Any:
    """A whole number when it is one; otherwise the text as typed, for the API to refuse in its words."""
    value = text(form, name)
    try:
        return int(value)
    except ValueError:
        return value or None


def without_empty(params: dict[str, Any]) -> dict[str, Any]:
    """Members left blank are not sent (as the console leaves out an optional field)."""
    return {k: v for k, v in params.items() if v not in (None, "", [])}
