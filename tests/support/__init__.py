"""What tests share: starting real service processes on a subnet of the test's own, and waiting.

    from tests.support import running_services, url, wait_until, default_seed

Fixtures (tests/support/fixtures.py, loaded by tests/conftest.py for every test): `start_services`,
a module's factory of running services.

Naming, across tests/: shared helpers live here; a test package's own helpers live in its
`support.py`, and stand-ins for a real peer (a RADIUS server, an AWS client) in its `fakes.py`,
as classes named `Fake<Peer>`. The fuzzers (`fuzzing.py`: mutation and log watch; `http_fuzzing.py`:
schemathesis over OpenAPI; `aws_fuzzing.py`: botocore shapes signed with SigV4) live here too.
"""
from __future__ import annotations

from .admin import admin_client, admin_headers
from .services import default_seed, running_services, url
from .waiting import wait_until

__all__ = ["admin_client", "admin_headers", "default_seed", "running_services", "url", "wait_until"]
