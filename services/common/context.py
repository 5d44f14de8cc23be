"""What a running service knows about itself and the lab: its topology entry, clock, journal,
faults, state directory and logger. Built once by the runner and handed to the service.

The topology is a JSON file written by the lab's runtime (process or docker); service code reads
addresses and settings from it and never knows which runtime started it.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .events import Journal
from .faults import Faults

if TYPE_CHECKING:    # imported where a client is made: most services make none (~5 MB RSS each)
    import httpx


def load_seed(path: Path, cache_dir: Path) -> dict[str, Any]:
    """The seed, parsed once per lab: every service reads it at start (a 10,000-user seed took
    pure-Python YAML 20+ s in each of them at once). The first service parses it (libyaml's safe
    loader where PyYAML has it) and leaves JSON in the state directory, keyed by the file's path,
    size and mtime; the others wait on a lock and read that. A seed JSON cannot hold exactly
    (dates, non-string keys) is parsed each time, as before."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:20]
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    cache = cache_dir / f"seed-{key}.json"
    with open(cache_dir / "lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        # Imported here: only the first service parses the YAML, the others skip PyYAML's import.
        import yaml
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        try:
            text = json.dumps(data)
        except (TypeError, ValueError):
            return data
        if json.loads(text) == data:
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(cache)
        return data


@dataclass
class ServiceContext:
    name: str
    topology: dict[str, Any]
    clock: Clock = field(default_factory=Clock)
    faults: Faults = field(default_factory=Faults)
    journal: Journal | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("lab"))
    _peer_clients: dict[str, httpx.AsyncClient] = field(default_factory=dict, repr=False)

    # -- this service ----------------------------------------------------------------------
    @property
    def me(self) -> dict[str, Any]:
        return self.topology["services"][self.name]

    @property
    def host(self) -> str:
        return self.me.get("bind", self.me["host"])

    def port(self, kind: str) -> int:
        return int(self.me["ports"][kind])

    @property
    def source_address(self) -> str:
        """Where this service's outgoing connections leave from: its own address, so peers, logs
        and faults see distinct hosts as in the walkthrough's diagram."""
        return self.me["host"]

    def http_client(self, *, verify: ssl.SSLContext | bool = True, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client whose connections leave from this service's address; HTTPS verified with
        `verify` (the phone passes tls.lab_trust(ctx): the lab CA)."""
        import httpx
        transport = httpx.AsyncHTTPTransport(local_address=self.source_address, verify=verify)
        return httpx.AsyncClient(transport=transport, **kwargs)

    def peer_client(self, peer: str) -> httpx.AsyncClient:
        """The one HTTP client this service uses for `peer`, for its whole life: made on first use
        (call it at start-up), closed by the runner at shutdown. A client per request costs an
        SSL context and a pool each time (WorkSpaces grew by 440 MB under 500 concurrent
        sign-ins); a shared one reuses its connections. No pool limit, no default timeout: the
        caller gives each request its own (a sign-in may wait minutes for a push)."""
        client = self._peer_clients.get(peer)
        if client is None:
            self.peer(peer)      # a peer the topology lacks fails here, at start-up
            import httpx
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
            client = self._peer_clients[peer] = self.http_client(limits=limits, timeout=None)
        return client

    async def close_peer_clients(self) -> None:
        clients, self._peer_clients = list(self._peer_clients.values()), {}
        for client in clients:
            await client.aclose()

    @property
    def settings(self) -> dict[str, Any]:
        return self.me.get("settings", {})

    @property
    def state_dir(self) -> Path:
        path = Path(self.topology["state_dir"]) / self.name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    @property
    def blank(self) -> bool:
        return bool(self.topology.get("blank"))

    def seed(self, *, cloud: bool = False) -> dict[str, Any]:
        """The lab's seed fixture. Services of the cloud side (the Okta org, the AWS resources)
        pass cloud=True and get nothing in a blank lab: the trainee configures those. The
        directory exists before any of it, so the DC is seeded even then."""
        path = self.topology.get("seed")
        if not path or (cloud and self.blank):
            return {}
        return load_seed(Path(path), Path(self.topology["state_dir"]) / "seed-cache")

    def credential(self, key: str) -> str:
        return self.topology["credentials"][key]

    # -- the others ------------------------------------------------------------------------
    def peer(self, name: str) -> dict[str, Any]:
        return self.topology["services"][name]

    def peer_address(self, name: str, kind: str) -> tuple[str, int]:
        svc = self.peer(name)
        return svc["host"], int(svc["ports"][kind])

    def peer_url(self, name: str, kind: str = "api") -> str:
        host, port = self.peer_address(name, kind)
        return f"http://{host}:{port}"

    def record(self, kind: str, /, **kw: Any) -> dict[str, Any]:
        assert self.journal is not None
        return self.journal.record(kind, **kw)


def load_topology(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
