"""HTTP fuzzing of the lab's JSON APIs against the real service processes (seeded, bounded).

Two generators, one verdict:

- `fuzz_openapi`: schemathesis, from an OpenAPI document. The lab's FastAPI apps read most bodies
  and many query parameters by hand (to answer in Okta's or the service's own error shape), so the
  document FastAPI derives from an app (`app.openapi()`, read in-process: the org, the mailbox and
  the admin API do not publish theirs) names the paths, methods and path parameters but not the
  bodies. `describe` adds what the app reads: a body schema and query parameters per operation,
  written from docs/architecture.md and each service's README, and real ids as the path values of
  valid-shaped requests so they get past the 404s. `json_api` describes internal endpoints no app
  documents. Each operation gets valid-shaped (schemathesis' "positive") and schema-violating
  ("negative") requests, plus a few malformed bodies (`MALFORMED`).
- `tests/support/aws_fuzzing.py`: requests drawn from botocore's service shapes, signed with SigV4, and
  signed requests whose SigV4 headers are bent.

A finding is an answer of 500 or more, or a connection the service dropped: `Finding`s are
collected (not raised at the first) so one run reports them all; the test then also reads the
service's log for tracebacks (tests.support.fuzzing.LogWatch).

Nesting stays shallow on purpose: hypothesis-jsonschema nests a few levels at most, and the
malformed bodies here never nest deep, so the JSON depth limit the "harden" change adds to
services/common is not what these tests measure.
"""
from __future__ import annotations

import copy
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.core.result import Err

# Every module's example counts are multiplied by this: CI runs 1 (the whole HTTP fuzzing in well
# under 3 minutes); LAB_FUZZ_SCALE=20 is a deeper local hunt with the same seeds.
SCALE = max(1, int(os.environ.get("LAB_FUZZ_SCALE", "1")))
ANY: dict[str, Any] = {}                         # any JSON value: wrong types come for free
STRING = {"type": "string"}
MALFORMED = [b"{", b"[]", b"null", b'"text"', b"42", b"\xff\xfe{}", b'{"a":', b'{"a": 1}}']


@dataclass
class Report:
    """What a fuzz run found, how many requests it sent, and the statuses it got (per status)."""
    findings: list[Finding] = field(default_factory=list)
    sent: int = 0
    statuses: Counter[int | str] = field(default_factory=Counter)
    by_operation: dict[str, Counter[int | str]] = field(default_factory=dict)

    def summary(self) -> str:
        return f"{self.sent} requests, statuses {dict(sorted(self.statuses.items(), key=str))}"

    def failures(self) -> str:
        return "\n".join(str(f) for f in self.findings[:20])


@dataclass
class Finding:
    operation: str
    status: int | str
    request: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.operation} -> {self.status}: {self.request}\n    {self.excerpt}"


def obj(**members: Any) -> dict[str, Any]:
    """A JSON object schema with these optional members (anything else allowed too)."""
    return {"type": "object", "properties": members}


def describe(document: dict[str, Any], *, bodies: dict[str, dict[str, Any]] | None = None,
             queries: dict[str, dict[str, Any]] | None = None, path_values: dict[str, list[str]] | None = None,
             exclude: Iterable[str] = ()) -> dict[str, Any]:
    """`document` (FastAPI's) with request bodies and query parameters added and responses dropped.

    Keys of `bodies` and `queries` are "METHOD /path" as in the document; a path may also be a
    prefix ending in "*" (every operation under it). `path_values` maps a path parameter's name
    to real values: valid-shaped requests use them, schema-violating ones other strings.
    Operations in `exclude` are left out."""
    doc = copy.deepcopy(document)
    doc.pop("components", None)
    bodies, queries, path_values = bodies or {}, queries or {}, path_values or {}
    doc["x-lab-path-values"] = path_values          # for the malformed bodies' paths
    excluded = set(exclude)
    for path, ops in list(doc["paths"].items()):
        for method in list(ops):
            key = f"{method.upper()} {path}"
            if key in excluded:
                del ops[method]
                continue
            op = ops[method]
            op["responses"] = {"default": {"description": "any"}}
            params = [p for p in op.get("parameters", []) if p["in"] == "path"]
            for p in params:
                values = path_values.get(p["name"])
                p["schema"] = {"type": "string", "enum": values} if values else STRING
            for name, schema in (_lookup(queries, method, path) or {}).items():
                params.append({"name": name, "in": "query", "required": False, "schema": schema})
            op["parameters"] = params
            body = _lookup(bodies, method, path) or (obj() if method in ("post", "put") else None)
            if body is not None:
                op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
            else:
                op.pop("requestBody", None)
        if not ops:
            del doc["paths"][path]
    return doc


def json_api(title: str, bodies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An OpenAPI document for internal JSON endpoints no app documents ("POST /path" -> body
    schema), ready for `fuzz_openapi`."""
    paths: dict[str, Any] = {}
    for key, body in bodies.items():
        method, path = key.split(" ", 1)
        paths.setdefault(path, {})[method.lower()] = {
            "responses": {"default": {"description": "any"}},
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}
    return {"openapi": "3.0.3", "info": {"title": title, "version": "lab"}, "paths": paths}


def _lookup(table: dict[str, Any], method: str, path: str) -> Any:
    exact = table.get(f"{method.upper()} {path}")
    if exact is not None:
        return exact
    for key, value in table.items():
        m, _, prefix = key.partition(" ")
        if prefix.endswith("*") and m == method.upper() and path.startswith(prefix[:-1]):
            return value
    return None


def fuzz_openapi(document: dict[str, Any], base_url: str, *, headers: dict[str, str] | None = None,
                 examples: int = 10, seed: int = 1, timeout: float = 20.0) -> Report:
    """Send every operation of `document` `examples` valid-shaped and `examples` schema-violating
    requests, and its malformed bodies; return the findings and how many requests went out."""
    schema = schemathesis.openapi.from_dict(document)
    session = requests.Session()
    report = Report()

    def send(label: str, call) -> None:
        report.sent += 1
        try:
            resp = call()
        except requests.RequestException as exc:      # the service dropped the connection
            report.statuses[exc.__class__.__name__] += 1
            report.findings.append(Finding(label, exc.__class__.__name__, "", str(exc)[:300]))
            return
        report.statuses[resp.status_code] += 1
        report.by_operation.setdefault(label, Counter())[resp.status_code] += 1
        if resp.status_code >= 500:
            report.findings.append(Finding(label, resp.status_code, f"{resp.request.method} {resp.request.url} "
                                    f"body={(resp.request.body or b'')[:200]!r}", resp.text[:300]))

    for result in schema.get_all_operations():
        if isinstance(result, Err):     # the service's own OpenAPI document is broken: a finding in itself
            raise AssertionError(f"the OpenAPI document has an operation schemathesis cannot read: {result.err()}")
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run_cases(operation.as_strategy(generation_mode=mode), examples, seed, lambda case, label=label: send(
                label, lambda: case.call(base_url=base_url, session=session, headers=headers, timeout=timeout)))
        if operation.method.upper() in ("POST", "PUT"):
            method = operation.method.upper()
            url = base_url + _sample_path(operation.path, document.get("x-lab-path-values", {}))
            for raw in MALFORMED:
                send(label, lambda raw=raw, method=method, url=url: session.request(
                    method, url, data=raw, timeout=timeout,
                    headers={**(headers or {}), "Content-Type": "application/json"}))
    return report


def _run_cases(strategy: Any, examples: int, seed: int, each: Any) -> None:
    """Call `each(case)` for up to `examples` cases hypothesis draws from `strategy` (no shrinking:
    findings are collected, not raised)."""

    @hypothesis.seed(seed)
    @hypothesis.settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        each(case)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:   # e.g. nothing schema-violating to say about this operation
        pass


def _sample_path(path: str, values: dict[str, list[str]]) -> str:
    """The path with each {parameter} replaced by its first real value (or a placeholder)."""
    return re.sub(r"\{([^}]+)\}", lambda m: quote((values.get(m.group(1)) or ["x1"])[0], safe=""), path)


def scratch_context(name: str, state_dir: Any) -> Any:
    """A real ServiceContext on a scratch state directory, for building a service's app in the
    test process only to read its OpenAPI document (nothing is served from it)."""
    from services.common.context import ServiceContext
    from services.common.events import Journal

    topology = {"state_dir": str(state_dir), "credentials": {},
                "services": {name: {"host": "127.0.0.1", "ports": {"api": 1, "admin": 1}}}}
    ctx = ServiceContext(name=name, topology=topology)
    ctx.journal = Journal(name, ctx.clock, state_dir / "events.jsonl")
    return ctx


def admin_document(state_dir: Any) -> dict[str, Any]:
    """The admin API's OpenAPI document (the same code on every service's `admin` port)."""
    from services.common.admin import make_admin_app

    document = make_admin_app(scratch_context("any", state_dir)).openapi()
    return describe(document, path_values={"fault_id": ["1", "2"]}, exclude=[
        "POST /reset"])    # wipes the state the other operations are fuzzed against


def fuzz_admin(topology: dict[str, Any], service: str, state_dir: Any, *, examples: int = 10,
               seed: int = 1) -> Report:
    """Fuzz `service`'s admin API with the lab's admin token, then undo what the fuzzer set (the
    faults it added, the clock it moved) so the service's own checks that follow mean something."""
    import httpx

    from tests.support import admin_client

    base = f"http://{topology['services'][service]['host']}:{topology['services'][service]['ports']['admin']}"
    with admin_client(topology, service) as admin:
        report = fuzz_openapi(admin_document(state_dir), base, headers=dict(admin.headers), examples=examples,
                              seed=seed)
        for response in (admin.delete("/faults"), admin.post("/clock", json={"offset_seconds": 0})):
            assert response.status_code == 200, response.text
    # Without the token the admin API answers 401, whatever is asked (healthz aside).
    assert httpx.post(base + "/reset").status_code == 401
    return report
