"""Reading a service's topology settings into its settings dataclass, once, at start-up.

Each service states its settings in one dataclass whose `from_settings` reads every key through a
`SettingsReader`: the key, its default (written there and nowhere else) and its check. A bad value
raises ValueError naming the key, which the runner turns into one line and exit code 4.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SettingsReader:
    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def _get(self, key: str, default: Any) -> Any:
        value = self.raw.get(key, default)
        if value is None:
            raise ValueError(f"setting {key} is required")
        return value

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None,
               positive: bool = False) -> float:
        value = self._get(key, default)
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"setting {key} must be a number, not {value!r}") from None
        if positive and number <= 0:
            raise ValueError(f"setting {key} must be positive, not {value!r}")
        if minimum is not None and number < minimum:
            raise ValueError(f"setting {key} must be at least {minimum}, not {value!r}")
        return number

    def integer(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int:
        value = self._get(key, default)
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"setting {key} must be a whole number, not {value!r}") from None
        if minimum is not None and number < minimum:
            raise ValueError(f"setting {key} must be at least {minimum}, not {value!r}")
        return number

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"setting {key} must be true or false, not {value!r}")

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = str(self._get(key, default))
        if value not in choices:
            raise ValueError(f"setting {key} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            raise ValueError(f"setting {key} must be a non-empty string, not {value!r}")
        return value

    def strings(self, key: str, default: list[str] | None = None) -> tuple[str, ...]:
        value = self._get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"setting {key} must be a list of strings, not {value!r}")
        return tuple(value)
