"""Shared by the DC's test modules; each module brings up its own DC as the `dc` fixture (a dict
with at least `admin`, the DC's admin URL, and `auth`, its admin token header)."""
import httpx
import pytest


@pytest.fixture
def fresh(dc):
    """For tests that change state: start from the seed (no lockouts, clock offset or faults)."""
    httpx.post(f"{dc['admin']}/reset", headers=dc["auth"]).raise_for_status()
    yield
    httpx.post(f"{dc['admin']}/reset", headers=dc["auth"]).raise_for_status()
