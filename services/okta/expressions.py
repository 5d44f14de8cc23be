"""Okta's `filter` / `search` expression language, the subset lab callers use:
`attr op "value"` terms (eq, ne, sw, co, ew, gt, ge, lt, le, pr) joined by `and` / `or`, with
optional parentheses. Attributes are dotted paths into the JSON object (`status`,
`profile.samAccountName`, `eventType`, `target.id`), matched case-insensitively as Okta does, and
string comparisons ignore case. A malformed expression is 400 E0000001, never a 500."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import OktaError

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([A-Za-z_][\w.]*)|(-?\d+(?:\.\d+)?))')
_OPS = {"eq", "ne", "sw", "co", "ew", "gt", "ge", "lt", "le", "pr"}

Predicate = Callable[[dict[str, Any]], bool]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise OktaError("E0000001", "Invalid search criteria.", [f"cannot parse: {text[pos:]}"])
        pos = m.end()
        lp, rp, string, word, number = m.groups()
        if lp:
            out.append(("(", lp))
        elif rp:
            out.append((")", rp))
        elif string is not None:
            out.append(("str", string.replace('\\"', '"')))
        elif word is not None:
            out.append(("word", word))
        else:
            out.append(("num", number))
    return out


def lookup(obj: Any, path: str) -> Any:
    """A dotted path into nested dicts (lists: any element's value), keys case-insensitive."""
    current: list[Any] = [obj]
    for part in path.split("."):
        nxt = []
        for item in current:
            items = item if isinstance(item, list) else [item]
            for it in items:
                if isinstance(it, dict):
                    for k, v in it.items():
                        if k.lower() == part.lower():
                            nxt.append(v)
        current = nxt
    if not current:
        return None
    return current if len(current) > 1 else current[0]


def _compare(value: Any, op: str, wanted: Any) -> bool:
    if isinstance(value, list):
        return any(_compare(v, op, wanted) for v in value)
    if op == "pr":
        return value not in (None, "")
    if value is None:
        return op == "ne"
    a = str(value).lower()
    b = str(wanted).lower()
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if op == "sw":
        return a.startswith(b)
    if op == "co":
        return b in a
    if op == "ew":
        return a.endswith(b)
    x: Any
    y: Any
    try:
        x, y = float(value), float(wanted)
    except (TypeError, ValueError):
        x, y = a, b  # ISO timestamps compare as strings
    return {"gt": x > y, "ge": x >= y, "lt": x < y, "le": x <= y}[op]


def parse(text: str) -> Predicate:
    tokens = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise OktaError("E0000001", "Invalid search criteria.", ["unexpected end of expression"])
        pos += 1
        return tokens[pos - 1]

    def term() -> Predicate:
        tok = take()
        if tok[0] == "(":
            inner = disjunction()
            if take()[0] != ")":
                raise OktaError("E0000001", "Invalid search criteria.", ["missing )"])
            return inner
        if tok[0] != "word":
            raise OktaError("E0000001", "Invalid search criteria.", [f"expected an attribute, got {tok[1]}"])
        attr = tok[1]
        op_tok = take()
        op = op_tok[1].lower()
        if op_tok[0] != "word" or op not in _OPS:
            raise OktaError("E0000001", "Invalid search criteria.", [f"unknown operator {op_tok[1]}"])
        if op == "pr":
            return lambda obj: _compare(lookup(obj, attr), "pr", None)
        val_tok = take()
        if val_tok[0] not in ("str", "num", "word"):
            raise OktaError("E0000001", "Invalid search criteria.", [f"expected a value after {op}"])
        wanted = val_tok[1]
        return lambda obj: _compare(lookup(obj, attr), op, wanted)

    def conjunction() -> Predicate:
        left = term()
        while (tok := peek()) and tok[0] == "word" and tok[1].lower() == "and":
            take()
            right = term()
            left = (lambda lhs, rhs: lambda o: lhs(o) and rhs(o))(left, right)
        return left

    def disjunction() -> Predicate:
        left = conjunction()
        while (tok := peek()) and tok[0] == "word" and tok[1].lower() == "or":
            take()
            right = conjunction()
            left = (lambda lhs, rhs: lambda o: lhs(o) or rhs(o))(left, right)
        return left

    pred = disjunction()
    if pos != len(tokens):
        raise OktaError("E0000001", "Invalid search criteria.", [f"unexpected {tokens[pos][1]}"])
    return pred
