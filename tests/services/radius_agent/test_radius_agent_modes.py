"""Unit tests of the radius-agent's config.properties behaviours, each against its own agent process
and a FAKE org: the worker pool ("Request queue is full") and the timeout response modes."""
from __future__ import annotations

import time

import httpx
import pytest
from pyrad import packet as rp

from tests.services.radius_agent.fakes import FakeUser, RadiusClient, access_request, decode_reply
from tests.services.radius_agent.support import agent_with_fake_org, default_users

SUBNET = "127.0.86"          # the unit module's subnet too: both use a fake org, one after the other
NAS_IP = f"{SUBNET}.42"


def users_with_a_slow_one() -> list[FakeUser]:
    return [*default_users(), FakeUser("00u-slow", "slow", "slow@corp.example.com", codes={"246810"},
                                       factors_delay=5.0)]


def reasons(lab) -> list[str]:
    return [e["fields"].get("reason") for e in httpx.get(f"{lab.admin}/events", headers=lab.auth).json()
            if e["kind"] == "radius.request"]


def test_exhausted_worker_pool_rejects_and_no_response_mode_stays_silent(tmp_path):
    settings = {"ragent.num_request_threads": 1, "ragent.request.timeout.millisecond": 2000,
                "ragent.request.timeout.response.mode": "NO_RESPONSE"}
    with agent_with_fake_org(tmp_path, SUBNET, settings=settings) as lab:
        nas1, nas2 = RadiusClient((lab.host, 1812), NAS_IP), RadiusClient((lab.host, 1812), NAS_IP)
        try:
            pending = access_request(lab.secret, "erin", "push")       # erin never answers
            raw = pending.RequestPacket()
            nas1.send(raw)
            time.sleep(0.3)
            code = access_request(lab.secret, "alice", "918273")
            assert decode_reply(code, nas2.exchange(code)).code == rp.AccessReject
            assert "Request queue is full" in reasons(lab)
            assert "Request queue is full" in lab.log_path.read_text()
            # NO_RESPONSE: the push budget (1 s) runs out and nothing is sent ...
            assert nas1.recv(1.3) is None
            # ... and a retransmission is dropped, not a second push
            nas1.send(raw)
            assert nas1.recv(0.5) is None
            assert lab.org.verify_count("00u-erin", "push") == 1
            # the worker is free again
            code = access_request(lab.secret, "alice", "918273")
            assert decode_reply(code, nas2.exchange(code)).code == rp.AccessAccept
        finally:
            nas1.close()
            nas2.close()


@pytest.mark.parametrize("mode, answered", [("SEND_REJECT_ALWAYS", True), ("SEND_REJECT_ON_POLL_MFA", False)])
def test_a_timeout_outside_the_push_poll_follows_the_response_mode(tmp_path, mode, answered):
    settings = {"ragent.request.timeout.millisecond": 1500, "ragent.request.timeout.response.mode": mode}
    with agent_with_fake_org(tmp_path, SUBNET, settings=settings, users=users_with_a_slow_one()) as lab:
        nas = RadiusClient((lab.host, 1812), NAS_IP)
        try:
            req = access_request(lab.secret, "slow", "246810")
            started = time.monotonic()
            data = nas.exchange(req, timeout=2.2)
            if answered:
                assert data is not None and decode_reply(req, data).code == rp.AccessReject
                assert 1.3 <= time.monotonic() - started < 2.2
            else:
                assert data is None
            assert any(r and "timed out" in r for r in reasons(lab))
        finally:
            nas.close()
