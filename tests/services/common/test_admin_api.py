"""The admin API (services/common/admin.py) as every service serves it: the admin token on all
but /healthz (fail closed without one), bounded inputs refused with a 400 that changes nothing,
and the body guard in front of it."""
import pytest
from fastapi.testclient import TestClient

from services.common.admin import make_admin_app
from services.common.clock import Clock
from services.common.context import ServiceContext
from services.common.events import Journal

TOKEN = "admin-token-for-tests-0123456789"


def client(token: str | None = TOKEN) -> tuple[TestClient, ServiceContext]:
    creds = {"admin_token": token} if token else {}
    ctx = ServiceContext(name="svc", topology={"services": {"svc": {"host": "127.0.0.1"}}, "credentials": creds})
    ctx.journal = Journal("svc", ctx.clock)
    return TestClient(make_admin_app(ctx)), ctx


@pytest.fixture
def admin():
    c, ctx = client()
    c.headers["Authorization"] = f"Bearer {TOKEN}"
    return c, ctx


@pytest.mark.parametrize("method,path", [("GET", "/events"), ("POST", "/reset"), ("GET", "/faults"),
                                         ("POST", "/faults"), ("DELETE", "/faults"), ("DELETE", "/faults/1"),
                                         ("GET", "/clock"), ("POST", "/clock")])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_everything_but_healthz_needs_the_token(method, path, authorization):
    c, ctx = client()
    headers = {"Authorization": authorization} if authorization else {}
    resp = c.request(method, path, headers=headers, json={"action": "drop"})
    assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Bearer")
    assert "admin_token" in resp.json()["detail"]
    assert ctx.faults.all() == [] and ctx.journal.since(0) == []        # nothing happened


def test_healthz_is_open_and_the_token_opens_the_rest():
    c, _ = client()
    assert c.get("/healthz").status_code == 200
    assert c.get("/events", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_service_without_a_token_refuses_all_but_healthz():
    c, _ = client(token=None)
    assert c.get("/healthz").status_code == 200
    for auth in ("Bearer ", "Bearer None", f"Bearer {TOKEN}"):
        resp = c.post("/reset", headers={"Authorization": auth})
        assert resp.status_code == 401 and "no admin token" in resp.json()["detail"]


@pytest.mark.parametrize("offset", ["nan", "1e20", "abc", 1e20, -4e8, True, None, [1], {"a": 1}])
def test_clock_offsets_out_of_bounds_are_refused_and_change_nothing(admin, offset):
    c, ctx = admin
    assert c.post("/clock", json={"offset_seconds": 60}).status_code == 200
    resp = c.post("/clock", json={"offset_seconds": offset})
    assert resp.status_code == 400, resp.text
    assert ctx.clock.offset_seconds == 60 and c.get("/clock").json()["offset_seconds"] == 60


def test_nan_and_infinity_literals_are_refused(admin):
    c, ctx = admin
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        resp = c.post("/clock", content=b'{"offset_seconds": ' + literal + b"}",
                      headers={"Content-Type": "application/json"})
        assert resp.status_code == 400
    assert ctx.clock.offset_seconds == 0


def test_clock_offsets_within_ten_years_are_kept(admin):
    c, ctx = admin
    for offset in (-315360000, 315360000, 1801, -240.5, 0):
        assert c.post("/clock", json={"offset_seconds": offset}).status_code == 200
        assert ctx.clock.offset_seconds == offset
        Clock(ctx.clock.offset_seconds).iso()       # still a date


@pytest.mark.parametrize("spec", [
    {"action": "delay", "seconds": "abc"}, {"action": "delay", "seconds": 1e308}, {"action": "delay", "seconds": -1},
    {"action": "delay", "seconds": 601}, {"action": "delay", "seconds": None}, {"action": "drop", "port": 0},
    {"action": "drop", "port": 65536}, {"action": "drop", "port": "1812"}, {"action": "drop", "port": 1.5},
    {"action": "drop", "peer": "not-an-ip"}, {"action": "drop", "peer": 7}, {"action": "drop", "peer": "10.0.0.300"},
    {"action": "remove_record", "target": "has space.example.com"}, {"action": "remove_record", "target": 5},
    {"action": "remove_record", "target": "a" * 300}, {"action": "explode"}, {"action": "drop", "protocol": "ftp"},
    {"action": "drop", "extra": 1},
])
def test_bad_faults_are_refused_and_change_nothing(admin, spec):
    c, ctx = admin
    c.post("/faults", json={"action": "delay", "protocol": "radius", "seconds": 0.5}).raise_for_status()
    before = c.get("/faults").json()
    resp = c.post("/faults", json=spec)
    assert resp.status_code == 400, resp.text
    assert c.get("/faults").json() == before
    assert ctx.faults.gate("radius").delay == 0.5      # the gate still works: nothing raises


def test_good_faults_are_kept_as_given(admin):
    c, ctx = admin
    for spec in ({"action": "delay", "protocol": "radius", "seconds": 600, "peer": "127.0.10.40", "port": 1812},
                 {"action": "remove_record", "protocol": "dns", "target": "_ldap._tcp.dc._msdcs.corp.example.com."},
                 {"action": "drop", "peer": "::1"}):
        assert c.post("/faults", json=spec).status_code == 200
    assert ctx.faults.gate("radius", peer="127.0.10.40", port=1812).delay == 600


def test_events_since_must_be_a_non_negative_number(admin):
    c, _ = admin
    assert c.get("/events", params={"since": -1}).status_code == 400
    assert c.get("/events", params={"since": "x"}).status_code == 422


def test_deep_and_large_bodies_are_refused_with_a_400_and_a_413(admin):
    c, ctx = admin
    resp = c.post("/faults", content=b"[" * 60_000, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "deeper" in resp.json()["detail"]
    resp = c.post("/clock", content=b'{"offset_seconds": 1, "pad": "' + b"x" * 70_000 + b'"}',
                  headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and ctx.clock.offset_seconds == 0
