"""Scenario files: loading, and a schema check that names the file and line of a mistake."""
from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .steps import ACTIONS, LOGIN_EXPECT, LOGIN_PARAMS

# The catalog ships inside the package (package data), so `pip install .` brings it along.
CATALOG = Path(__file__).resolve().parent / "catalog"

TOP_KEYS = {"name": True, "title": True, "description": False, "tags": False, "requires": False,
            "given": False, "steps": True, "expect": False}
REQUIRES_KEYS = {"agents", "blank", "services"}   # services: ones the lab must run (e.g. [ec2])
# settings: per-service settings, applied by restarting that service (restored afterwards);
# radius: AD Connector's RadiusSettings (UpdateRadius through boto3, then wait for RadiusStatus);
# app: the Amazon WorkSpaces RADIUS app's settings in the org.
GIVEN_KEYS = {"phone", "faults", "clocks", "settings", "radius", "app"}
# The step actions and the parameters each takes: steps.ACTIONS (one table for the schema check,
# the runner and `lab demo`).
STEP_EXTRA = {"expect"}
EVENT_KEYS = {"service", "kind", "outcome", "fields", "contains", "count", "min", "max", "absent"}
EXPECT_KEYS = {"events", "order", "max_seconds"}


class ScenarioError(Exception):
    """A mistake in a scenario file, with where it is."""


@dataclass
class Scenario:
    name: str
    title: str
    path: Path
    steps: list[dict[str, Any]]
    tags: list[str] = field(default_factory=list)
    description: str = ""
    given: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    requires: dict[str, Any] = field(default_factory=dict)


def _where(path: Path, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def _mapping(path: Path, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise ScenarioError(f"{_where(path, node)}: {what} must be a mapping")
    out = {}
    for key, value in node.value:
        out[key.value] = value
    return out


def _check_keys(path: Path, node: yaml.Node, allowed: Set[str], what: str) -> dict[str, yaml.Node]:
    items = _mapping(path, node, what)
    for key in items:
        if key not in allowed:
            raise ScenarioError(f"{_where(path, node)}: unknown key {key!r} in {what}; "
                                f"allowed: {', '.join(sorted(allowed))}")
    return items


def _check_events(path: Path, node: yaml.Node, what: str) -> None:
    if not isinstance(node, yaml.SequenceNode):
        raise ScenarioError(f"{_where(path, node)}: {what} must be a list")
    for item in node.value:
        keys = _check_keys(path, item, EVENT_KEYS, f"an event in {what}")
        if "kind" not in keys:
            raise ScenarioError(f"{_where(path, item)}: an event in {what} needs a kind")


def _check_parallel(path: Path, node: yaml.Node) -> None:
    if not isinstance(node, yaml.SequenceNode) or len(node.value) < 2:
        raise ScenarioError(f"{_where(path, node)}: parallel takes a list of two or more login steps")
    for item in node.value:
        keys = _check_keys(path, item, {"login", "expect", "after"}, "a parallel login")
        if "login" not in keys:
            raise ScenarioError(f"{_where(path, item)}: each parallel entry is a login")
        _check_keys(path, keys["login"], LOGIN_PARAMS, "login")
        if "expect" in keys:
            _check_keys(path, keys["expect"], LOGIN_EXPECT, "a login's expect")


def validate(path: Path, root: yaml.Node) -> None:
    top = _check_keys(path, root, set(TOP_KEYS), "a scenario")
    for key, required in TOP_KEYS.items():
        if required and key not in top:
            raise ScenarioError(f"{_where(path, root)}: a scenario needs {key!r}")
    if "given" in top:
        _check_keys(path, top["given"], GIVEN_KEYS, "given")
    if "requires" in top:
        _check_keys(path, top["requires"], REQUIRES_KEYS, "requires")
    steps = top["steps"]
    if not isinstance(steps, yaml.SequenceNode) or not steps.value:
        raise ScenarioError(f"{_where(path, steps)}: steps must be a non-empty list")
    for step in steps.value:
        items = _mapping(path, step, "a step")
        actions = [k for k in items if k in ACTIONS]
        if len(actions) != 1:
            raise ScenarioError(f"{_where(path, step)}: a step has exactly one action among "
                                f"{', '.join(ACTIONS)}; found {', '.join(items) or 'none'}")
        extra = set(items) - set(actions) - STEP_EXTRA
        if extra:
            raise ScenarioError(f"{_where(path, step)}: unknown key(s) {', '.join(sorted(extra))} in a step")
        action = actions[0]
        params = ACTIONS[action].params
        if params is not None:
            _check_keys(path, items[action], params, f"{action}")
        if action == "parallel":
            _check_parallel(path, items[action])
        if "expect" in items:
            if action != "login":
                raise ScenarioError(f"{_where(path, items['expect'])}: only login steps take expect")
            _check_keys(path, items["expect"], LOGIN_EXPECT, "a login's expect")
    if "expect" in top:
        exp = _check_keys(path, top["expect"], EXPECT_KEYS, "expect")
        for key in ("events", "order"):
            if key in exp:
                _check_events(path, exp[key], f"expect.{key}")


def load(path: Path) -> Scenario:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if root is None:
        raise ScenarioError(f"{path}: empty file")
    validate(path, root)
    data = yaml.safe_load(text)
    return Scenario(name=str(data["name"]), title=str(data["title"]), path=path, steps=data["steps"],
                    tags=[str(t) for t in data.get("tags", [])], description=data.get("description", ""),
                    given=data.get("given") or {}, expect=data.get("expect") or {},
                    requires=data.get("requires") or {})


def catalog(directory: Path = CATALOG) -> list[Scenario]:
    scenarios = [load(p) for p in sorted(directory.glob("*.yaml"))]
    seen: dict[str, Path] = {}
    for s in scenarios:
        if s.name in seen:
            raise ScenarioError(f"{s.path}: name {s.name!r} is also used by {seen[s.name]}")
        seen[s.name] = s.path
    return scenarios


def select(scenarios: list[Scenario], names: list[str], tags: list[str]) -> list[Scenario]:
    chosen = [s for s in scenarios if (not names or s.name in names) and (not tags or set(tags) & set(s.tags))]
    unknown = set(names) - {s.name for s in scenarios}
    if unknown:
        raise ScenarioError(f"no scenario named {', '.join(sorted(unknown))}; known scenarios: "
                            f"{', '.join(s.name for s in scenarios)}")
    return chosen


def is_path(name: str) -> bool:
    """A NAME on the command line that is a scenario file rather than a catalog name."""
    return name.endswith((".yaml", ".yml")) or "/" in name


def choose(names: list[str], tags: list[str], directory: Path = CATALOG) -> list[Scenario]:
    """The scenarios a command line asks for: catalog names and scenario files by path (in the
    order given, files after the catalog's), filtered by tags; all of the catalog without names."""
    files = [n for n in names if is_path(n)]
    loaded = []
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise ScenarioError(f"no scenario file {name}")
        loaded.append(load(path))
    named = [n for n in names if not is_path(n)]
    from_catalog = select(catalog(directory), named, tags) if named or not files else []
    chosen = from_catalog + [s for s in loaded if not tags or set(tags) & set(s.tags)]
    seen: dict[str, Path] = {}
    for s in chosen:
        if s.name in seen and seen[s.name] != s.path:
            raise ScenarioError(f"{s.path}: name {s.name!r} is also used by {seen[s.name]}")
        seen[s.name] = s.path
    return chosen
