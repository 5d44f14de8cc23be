"""LDAP search filters (RFC 4511 section 4.5.1) as plain objects, evaluated the way AD does.

The wire module turns the decoded BER filter into these objects; the directory evaluates them.
AD specifics kept here: case-insensitive directory strings, numeric integers, `objectCategory=person`
shorthand, objectSid given as `S-1-5-...` text, approximate match treated as equality, and the
extensible-match rules AD implements: 1.2.840.113556.1.4.803 (bitwise AND), .804 (bitwise OR)
and .1941 (LDAP_MATCHING_RULE_IN_CHAIN, transitive membership). See docs/active-directory.md ("LDAP").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from . import schema
from .names import InvalidDN, norm_dn, parse_dn, sid_to_bytes

BIT_AND = "1.2.840.113556.1.4.803"
BIT_OR = "1.2.840.113556.1.4.804"
IN_CHAIN = "1.2.840.113556.1.4.1941"


class EntryLike(Protocol):
    dn: str
    norm: str

    def values(self, attr: str) -> list[Any]: ...


class Lookup(Protocol):
    """What some filters need from the directory: entries by DN and the schema's DN."""
    schema_dn: str

    def get(self, norm: str) -> EntryLike | None: ...


# -- value normalisation -----------------------------------------------------------------------
def stored_key(attr: str, value: str | bytes) -> Any:
    """A stored value's comparison key under the attribute's syntax."""
    if attr in schema.BINARY:
        return value if isinstance(value, bytes) else value.encode()
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if attr in schema.INTEGER:
        try:
            return int(text)
        except ValueError:
            return text.casefold()
    if attr in schema.DN:
        try:
            return norm_dn(text)
        except InvalidDN:
            return text.casefold()
    return text.casefold()


def assertion_key(attr: str, raw: bytes, lookup: Lookup | None = None) -> Any:
    """An assertion value's comparison key (what the client sent, under the same syntax)."""
    if attr == "objectsid" and raw[:4].upper() == b"S-1-":
        try:
            return sid_to_bytes(raw.decode("ascii"))
        except ValueError:
            return raw
    if attr == "objectcategory" and b"=" not in raw and lookup is not None:
        alias = schema.CATEGORY_ALIASES.get(raw.decode("utf-8", "replace").casefold())
        if alias:
            return norm_dn(f"CN={alias},{lookup.schema_dn}")
    return stored_key(attr, raw)


def _escape(raw: bytes | str) -> str:
    """RFC 4515 escaping, for the filter's text form in events and logs."""
    if isinstance(raw, str):
        raw = raw.encode()
    out = []
    for b in raw:
        ch = chr(b)
        if ch in "*()\\" or b < 0x20 or b >= 0x7F:
            out.append(f"\\{b:02x}")
        else:
            out.append(ch)
    return "".join(out)


# -- the filter objects ------------------------------------------------------------------------
class Filter:
    def match(self, entry: EntryLike, lookup: Lookup) -> bool:
        raise NotImplementedError

    def __str__(self) -> str:
        raise NotImplementedError


@dataclass
class And(Filter):
    parts: list[Filter]

    def match(self, entry, lookup):
        return all(p.match(entry, lookup) for p in self.parts)

    def __str__(self):
        return "(&" + "".join(str(p) for p in self.parts) + ")"


@dataclass
class Or(Filter):
    parts: list[Filter]

    def match(self, entry, lookup):
        return any(p.match(entry, lookup) for p in self.parts)

    def __str__(self):
        return "(|" + "".join(str(p) for p in self.parts) + ")"


@dataclass
class Not(Filter):
    part: Filter

    def match(self, entry, lookup):
        return not self.part.match(entry, lookup)

    def __str__(self):
        return f"(!{self.part})"


@dataclass
class Present(Filter):
    attr: str

    def match(self, entry, lookup):  # noqa: ARG002 - the Filter interface; presence needs no lookup
        a = self.attr.lower()
        return a == "objectclass" or bool(entry.values(a))

    def __str__(self):
        return f"({self.attr}=*)"


@dataclass
class Compare(Filter):
    """equalityMatch, approxMatch (AD: same as equality), greaterOrEqual, lessOrEqual."""
    op: str          # "=", "~=", ">=", "<="
    attr: str
    value: bytes

    def match(self, entry, lookup):
        a = self.attr.lower()
        if a == "anr" and self.op in ("=", "~="):
            return _anr(entry, self.value)
        # the assertion's key once per search, not per entry (objectCategory=person asks the schema)
        kept = self.__dict__.get("_want")
        if kept is None or kept[0] is not lookup:
            kept = self.__dict__["_want"] = (lookup, assertion_key(a, self.value, lookup))
        want = kept[1]
        for v in entry.values(a):
            have = stored_key(a, v)
            if self.op in ("=", "~="):
                if have == want:
                    return True
                continue
            if type(have) is not type(want):
                have, want_ = str(have), str(want)
            else:
                want_ = want
            if (self.op == ">=" and have >= want_) or (self.op == "<=" and have <= want_):
                return True
        return False

    def __str__(self):
        return f"({self.attr}{self.op}{_escape(self.value)})"


@dataclass
class Substrings(Filter):
    attr: str
    initial: bytes | None = None
    any: list[bytes] = field(default_factory=list)
    final: bytes | None = None

    def match(self, entry, lookup):  # noqa: ARG002 - the Filter interface; substrings need no lookup
        a = self.attr.lower()
        binary = a in schema.BINARY
        fold = (lambda b: b) if binary else (lambda b: b.decode("utf-8", "replace").casefold())
        initial = fold(self.initial) if self.initial is not None else None
        final = fold(self.final) if self.final is not None else None
        middles = [fold(x) for x in self.any]
        for v in entry.values(a):
            text = v if binary else (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)).casefold()
            if binary and isinstance(text, str):
                text = text.encode()
            pos = 0
            if initial is not None:
                if not text.startswith(initial):
                    continue
                pos = len(initial)
            ok = True
            for m in middles:
                found = text.find(m, pos)
                if found < 0:
                    ok = False
                    break
                pos = found + len(m)
            if not ok:
                continue
            if final is not None and (len(text) - len(final) < pos or not text.endswith(final)):
                continue
            return True
        return False

    def __str__(self):
        parts = [_escape(self.initial) if self.initial is not None else ""]
        parts += [_escape(x) for x in self.any]
        parts.append(_escape(self.final) if self.final is not None else "")
        return f"({self.attr}=" + "*".join(parts) + ")"


@dataclass
class Extensible(Filter):
    rule: str | None
    attr: str | None
    value: bytes
    dn_attributes: bool = False

    def match(self, entry, lookup):
        attrs = [self.attr.lower()] if self.attr else None
        if self.rule in (BIT_AND, BIT_OR):
            try:
                mask = int(self.value)
            except ValueError:
                return False
            for a in attrs or []:
                for v in entry.values(a):
                    try:
                        n = int(v)
                    except (TypeError, ValueError):
                        continue
                    if (self.rule == BIT_AND and n & mask == mask) or (self.rule == BIT_OR and n & mask):
                        return True
            return False
        if self.rule == IN_CHAIN:
            return attrs is not None and _in_chain(entry, attrs[0], self.value, lookup)
        if self.rule is not None:
            return False  # a matching rule AD does not have: no match
        if self.attr and Compare("=", self.attr, self.value).match(entry, lookup):
            return True
        if self.dn_attributes:
            want = self.value.decode("utf-8", "replace").casefold()
            for a, v in parse_dn(entry.dn):
                if (attrs is None or a.lower() == attrs[0]) and v.casefold() == want:
                    return True
        return False

    def __str__(self):
        head = self.attr or ""
        if self.dn_attributes:
            head += ":dn"
        if self.rule:
            head += f":{self.rule}"
        return f"({head}:={_escape(self.value)})"


# Ambiguous Name Resolution: AD's default ANR attribute set (the ones a lab entry can have).
ANR_ATTRIBUTES = ("displayname", "givenname", "sn", "samaccountname", "name", "mail",
                  "proxyaddresses", "legacyexchangedn", "physicaldeliveryofficename")


def _anr(entry: EntryLike, raw: bytes) -> bool:
    """`(anr=x)`: a prefix of any ANR attribute, or `first last` / `last first` for people;
    a leading `=` asks for an exact match (MS-ADTS 3.1.1.3.1.3.3)."""
    text = raw.decode("utf-8", "replace").strip().casefold()
    exact = text.startswith("=")
    text = text.lstrip("=").strip()
    if not text:
        return False

    def hit(value: str) -> bool:
        v = value.casefold()
        return v == text if exact else v.startswith(text)

    for attr in ANR_ATTRIBUTES:
        if any(hit(v if isinstance(v, str) else v.decode("utf-8", "replace")) for v in entry.values(attr)):
            return True
    first, _, last = text.partition(" ")
    if last:
        given = [str(v).casefold() for v in entry.values("givenname")]
        sur = [str(v).casefold() for v in entry.values("sn")]
        for a, b in ((given, sur), (sur, given)):
            if any(x.startswith(first) for x in a) and any(y.startswith(last.strip()) for y in b):
                return True
    return False


def _in_chain(entry: EntryLike, attr: str, target: bytes, lookup: Lookup) -> bool:
    """Follow the DN-valued `attr` transitively from `entry`; true if it reaches `target`."""
    try:
        goal = norm_dn(target.decode("utf-8", "replace"))
    except InvalidDN:
        return False
    seen: set[str] = set()
    frontier = [entry]
    while frontier:
        nxt = []
        for e in frontier:
            for v in e.values(attr):
                try:
                    key = norm_dn(v if isinstance(v, str) else v.decode())
                except InvalidDN:
                    continue
                if key == goal:
                    return True
                if key not in seen:
                    seen.add(key)
                    found = lookup.get(key)
                    if found is not None:
                        nxt.append(found)
        frontier = nxt
    return False


def equality_hints(flt: Filter) -> list[tuple[str, bytes]]:
    """Every (attribute, value) equality the filter requires (itself, or a part of an AND), for
    index lookups."""
    if isinstance(flt, Compare) and flt.op == "=":
        return [(flt.attr.lower(), flt.value)]
    if isinstance(flt, And):
        return [hint for part in flt.parts for hint in equality_hints(part)]
    return []
