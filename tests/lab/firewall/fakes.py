"""A stand-in for the ec2 service's network admin API (the contract's `GET /admin/network` long
poll and `POST /admin/network/applied`), so the enforcer is tested without the ec2 service.

It serves on the admin port of the address the topology gives `ec2`, checks the Bearer token,
and holds the desired state the test sets with `publish()`: each call bumps the generation and
wakes the long polls, as the real service does on a security-group change.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

LONG_POLL = 25.0


class FakeEc2Network:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.token = token
        self.generation = 0
        self.applied = 0
        self.interfaces: list[dict[str, Any]] = []
        self.groups: dict[str, Any] = {}
        self.reports: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _answer(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except BrokenPipeError:          # the enforcer stopped while its long poll waited
                    pass

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {fake.token}":
                    return True
                self._answer(401, {"detail": "admin token required"})
                return False

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != "/admin/network":
                    return self._answer(404, {"detail": "not found"})
                if not self._authorised():
                    return None
                after = parse_qs(url.query).get("after")
                with fake.changed:
                    if after is not None:
                        fake.changed.wait_for(lambda: fake.generation > int(after[0]), LONG_POLL)
                    return self._answer(200, fake.view())

            def do_POST(self) -> None:
                if urlparse(self.path).path != "/admin/network/applied":
                    return self._answer(404, {"detail": "not found"})
                if not self._authorised():
                    return None
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with fake.changed:
                    fake.applied = max(fake.applied, int(body["generation"]))
                    fake.reports.append(body)
                    fake.changed.notify_all()
                return self._answer(204)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def view(self) -> dict[str, Any]:
        return {"generation": self.generation, "applied": self.applied, "interfaces": self.interfaces,
                "groups": self.groups}

    def publish(self, interfaces: list[dict[str, Any]], groups: dict[str, Any]) -> int:
        with self.changed:
            self.interfaces, self.groups = interfaces, groups
            self.generation += 1
            self.changed.notify_all()
            return self.generation

    def wait_applied(self, generation: int, timeout: float = 20.0) -> dict[str, Any]:
        """The enforcer's first report of `generation` (or later), as the mutating EC2 call waits for it."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.applied < generation:
                if not self.changed.wait(max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"the enforcer did not report generation {generation} in {timeout} s")
            return next(r for r in self.reports if r["generation"] >= generation)

    def latest_counters(self) -> dict[str, Any]:
        with self.changed:
            return dict(self.reports[-1]["counters"]) if self.reports else {}

    def __enter__(self) -> FakeEc2Network:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        with self.changed:
            self.generation += 1_000_000       # releases every waiting long poll
            self.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()
