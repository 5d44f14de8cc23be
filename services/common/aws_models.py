"""botocore's service models as the lab's AWS services keep them: only the operations they serve.

A service model as botocore's session loads it is the whole API (EC2's: ~700 operations, 24 MB
of Python objects, kept for the life of the session), and the session also keeps the endpoint
table it reads the Regions from. A lab service serves a few operations, so `load` reads the
model's file once, refuses a handler the API does not have (before anything serves), and keeps a
`ServiceModel` of the served operations and the shapes they reach (their input, output and
errors, and every exception shape), without the documentation. What those operations check and
answer is the model's own, member for member; the other operations' names are kept, so a call to
one the lab does not emulate is still told apart from one AWS does not have.

Imported before any other botocore module of a service: botocore's HTTP session takes its
SSLContext from urllib3's pyOpenSSL module when pyOpenSSL is installed (impacket needs it), which
imports pyOpenSSL and cryptography (~8 MB in each process) only to hand back the standard
library's `ssl.SSLContext`, the class botocore uses without it. The lab's services never open
HTTPS through botocore, so that module is marked absent and botocore takes `ssl.SSLContext` directly.
"""
from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

if "botocore.httpsession" not in sys.modules:
    sys.modules.setdefault("urllib3.contrib.pyopenssl", None)  # type: ignore[arg-type]

from botocore.loaders import create_loader  # after the line above, on purpose
from botocore.model import ServiceModel
from botocore.regions import EndpointResolver


def _loader() -> Any:
    """A loader of its own (the session's caches every file it read); AWS_DATA_PATH as the session."""
    return create_loader(os.environ.get("AWS_DATA_PATH"))


def _reached(description: dict[str, Any], operations: Iterable[str]) -> set[str]:
    """The names of the shapes `operations` reach, and every exception shape."""
    shapes = description["shapes"]
    todo = [name for name, shape in shapes.items() if shape.get("exception")]
    for name in operations:
        op = description["operations"][name]
        todo += [ref["shape"] for ref in (op.get("input"), op.get("output"), *op.get("errors", ())) if ref]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        shape = shapes[name]
        todo += [ref["shape"] for ref in (shape.get("member"), shape.get("key"), shape.get("value")) if ref]
        todo += [ref["shape"] for ref in shape.get("members", {}).values()]
    return seen


def _undocumented(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _undocumented(v) for k, v in value.items() if k != "documentation"}
    if isinstance(value, list):
        return [_undocumented(v) for v in value]
    return value


def load(service_name: str, operations: Iterable[str] | None = None) -> tuple[ServiceModel, frozenset[str]]:
    """`service_name`'s model narrowed to `operations` (None: the whole model), and the names of
    all its operations. ValueError names the operations the API does not have."""
    description = _loader().load_service_model(service_name, "service-2")
    names = frozenset(description["operations"])
    if operations is None:
        return ServiceModel(description, service_name=service_name), names
    wanted = sorted(set(operations))
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise ValueError(f"{service_name} has no operations {unknown}")
    kept = _reached(description, wanted)
    narrowed = {key: value for key, value in description.items() if key not in ("operations", "shapes")}
    narrowed["operations"] = {name: _undocumented(description["operations"][name]) for name in wanted}
    narrowed["shapes"] = {name: _undocumented(description["shapes"][name]) for name in kept}
    narrowed.pop("documentation", None)
    # Rebuilt from text once the whole model is gone: the kept objects are then allocated apart
    # from the freed ones, so the memory the whole model took goes back (not pinned by a few).
    text = json.dumps(narrowed)
    del description, narrowed, kept
    gc.collect()
    return ServiceModel(json.loads(text), service_name=service_name), names


def regions(endpoint_prefix: str) -> frozenset[str]:
    """The Regions of the `aws` partition botocore knows for the service, as
    `Session.get_available_regions` lists them."""
    loader = _loader()
    endpoints, path = loader.load_data_with_path("endpoints")
    resolver = EndpointResolver(endpoints, uses_builtin_data=loader.is_builtin_path(path))
    return frozenset(resolver.get_available_endpoints(endpoint_prefix, "aws", False))


class ServedModel:
    """A service's model for the API that serves it: narrowed by `serve` to the handled operations
    (at start, before serving); the whole model when asked before (tests and tools reading it)."""

    def __init__(self, service_name: str) -> None:
        self.service_name = service_name
        self._service: ServiceModel | None = None
        self._names: frozenset[str] = frozenset()

    def serve(self, operations: Iterable[str]) -> None:
        """Keep only `operations` (ValueError when the API has no such operation)."""
        self._service, self._names = load(self.service_name, operations)

    @property
    def service(self) -> ServiceModel:
        if self._service is None:
            self._service, self._names = load(self.service_name)
        return self._service

    @property
    def signing_name(self) -> str:
        return str(self.service.signing_name)

    def known(self, name: str) -> bool:
        """True for any operation of the API, served or not."""
        self.service  # noqa: B018 — loads the names with the model
        return name in self._names

    def operation(self, name: str) -> Any:
        """The served operation's OperationModel, or None."""
        return self.service.operation_model(name) if name in self.service.operation_names else None
