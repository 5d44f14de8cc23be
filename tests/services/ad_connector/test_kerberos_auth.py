"""AD Connector's password step against the real DC process: the Kerberos AS exchange of
`kerberos_auth`, and `SignIn._active_directory` mapping Kerberos errors back to AD's sub-codes
(with an LDAP read for what Kerberos cannot say).

The DC runs with `kerberos_udp_max_reply: 600`, so an AS-REP (~670 bytes) does not fit in UDP: the
KDC answers KRB_ERR_RESPONSE_TOO_BIG and the client must retry over TCP, while the small errors
still come back over UDP."""
from __future__ import annotations

import asyncio

import httpx
import ldap3
import pytest

from services.ad_connector import kerberos_auth
from services.ad_connector.discovery import DomainController
from services.ad_connector.service_account import ServiceAccount
from services.ad_connector.settings import ConnectorSettings
from services.ad_connector.signin import SignIn
from services.common.clock import Clock
from tests.support import admin_headers, running_services

SUBNET = "127.0.92"
SOURCE = f"{SUBNET}.41"
DOMAIN = "corp.example.com"
BASE_DN = "DC=corp,DC=example,DC=com"


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    with running_services(["dc"], tmp_path_factory.mktemp("connector-kerberos"), SUBNET,
                          settings={"dc": {"kerberos_udp_max_reply": 600}}) as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "kerberos": svc["ports"]["kerberos"], "ldap": svc["ports"]["ldap"],
               "dns": svc["ports"]["dns"], "admin": f"http://{svc['host']}:{svc['ports']['admin']}",
               "auth": admin_headers(topology), "topology": topology}


@pytest.fixture
def fresh(dc):
    httpx.post(f"{dc['admin']}/reset", headers=dc["auth"]).raise_for_status()
    yield
    httpx.post(f"{dc['admin']}/reset", headers=dc["auth"]).raise_for_status()


def authenticate(dc, username, password, **kw):
    return asyncio.run(kerberos_auth.authenticate(dc["host"], dc["kerberos"], DOMAIN, username, password,
                                                  source=SOURCE, **kw))


# -- the AS exchange -----------------------------------------------------------------------------
@pytest.mark.parametrize("username,password,outcome", [
    ("alice", "Alice-Passw0rd!", "ok"),
    ("ALICE", "Alice-Passw0rd!", "ok"),
    ("CORP\\bob", "Bob-Passw0rd!", "ok"),
    ("alice@corp.example.com", "Alice-Passw0rd!", "ok"),
    ("svc-adconnector", "Connector-Passw0rd!", "ok"),
    ("alice", "wrong", "KDC_ERR_PREAUTH_FAILED"),
    ("alice", "", "KDC_ERR_PREAUTH_FAILED"),
    ("nobody", "x", "KDC_ERR_C_PRINCIPAL_UNKNOWN"),
    ("dave", "Dave-Passw0rd!", "KDC_ERR_CLIENT_REVOKED"),
    ("erin", "Erin-Passw0rd!", "KDC_ERR_CLIENT_REVOKED"),
    ("heidi", "Heidi-Passw0rd!", "KDC_ERR_CLIENT_REVOKED"),
    ("frank", "Frank-Passw0rd!", "KDC_ERR_KEY_EXPIRED"),
    ("grace", "Grace-Passw0rd!", "KDC_ERR_KEY_EXPIRED"),
])
def test_as_exchange_outcomes(dc, fresh, username, password, outcome):
    result = authenticate(dc, username, password)
    assert result.outcome == outcome
    assert result.ok == (outcome == "ok")


def test_udp_then_tcp_when_the_reply_is_too_big(dc, fresh):
    assert authenticate(dc, "alice", "Alice-Passw0rd!").transport == "tcp"     # AS-REP > 600 bytes
    assert authenticate(dc, "alice", "wrong").transport == "udp"               # errors fit
    assert authenticate(dc, "alice", "Alice-Passw0rd!", transport="tcp").ok
    as_reqs = [e for e in httpx.get(f"{dc['admin']}/events",
                                    headers=dc["auth"]).json() if e["kind"] == "kerberos.as_req"]
    assert {e["peer"] for e in as_reqs} == {SOURCE}       # from the connector's own address
    assert any(e["outcome"] == "KRB_ERR_RESPONSE_TOO_BIG" for e in as_reqs)


def test_unreachable_and_refused(dc, fresh):
    httpx.post(f"{dc['admin']}/faults", json={"action": "drop", "protocol": "kerberos"},
               headers=dc["auth"]).raise_for_status()
    result = authenticate(dc, "alice", "Alice-Passw0rd!", timeout=0.3)
    assert result.outcome == "unreachable" and not result.ok
    result = authenticate(dc, "alice", "Alice-Passw0rd!", timeout=0.3, transport="tcp")
    assert result.outcome == "unreachable"
    httpx.delete(f"{dc['admin']}/faults", headers=dc["auth"]).raise_for_status()
    closed = asyncio.run(kerberos_auth.authenticate(dc["host"], 1, DOMAIN, "alice", "x", source=SOURCE, timeout=0.5))
    assert closed.outcome == "refused"


def test_skew_is_measured_against_the_callers_clock(dc, fresh):
    import time
    result = authenticate(dc, "alice", "Alice-Passw0rd!", now=lambda: time.time() - 400)
    assert result.outcome == "KRB_AP_ERR_SKEW"
    assert authenticate(dc, "alice", "Alice-Passw0rd!", now=lambda: time.time() - 200).ok


@pytest.mark.parametrize("code,sam,sub_code", [
    (18, "dave", "533"), (18, "erin", "775"), (18, "heidi", "701"),
    (23, "frank", "532"), (23, "grace", "773"),
])
def test_explain_reads_the_sub_code_over_ldap(dc, code, sam, sub_code):
    account = ServiceAccount(f"svc-adconnector@{DOMAIN}", "Connector-Passw0rd!", BASE_DN)
    assert asyncio.run(kerberos_auth.explain(code, dc["host"], dc["ldap"], account, sam, SOURCE)) == sub_code


# -- the connector's sign-in step ------------------------------------------------------------------
class _Ctx:
    """What SignIn needs of a ServiceContext: settings, the clock and the journal."""

    def __init__(self, dns_port: int, **settings):
        self.settings = {"connect_ips": [SOURCE], "dns_port": dns_port, "customer_dns_ips": [SOURCE],
                         "auth_order": "ad_first", "kerberos_timeout_seconds": 0.5, **settings}
        self.clock = Clock()
        self.events: list[tuple[str, dict]] = []

    def record(self, kind, /, **kw):
        self.events.append((kind, kw))


def directory(dns_ip: str) -> dict:
    return {"DirectoryId": "d-1234567890", "Name": DOMAIN, "Stage": "Active", "DnsIpAddrs": [dns_ip],
            "ConnectSettings": {"CustomerUserName": "svc-adconnector"},
            "ServiceAccountPassword": "Connector-Passw0rd!"}


def ad_step(ctx, dns_ip, username, password):
    """The AD step alone (SignIn.run would add RADIUS, which these tests do not exercise)."""
    signin = SignIn(ctx, ConnectorSettings.from_settings(ctx.settings))
    return asyncio.run(signin._active_directory(directory(dns_ip), username, password, "", None, SOURCE))


def sign_in(dc, username, password, **settings):
    ctx = _Ctx(dc["dns"], **settings)
    return ad_step(ctx, dc["host"], username, password), ctx.events


@pytest.mark.parametrize("username,password,reason", [
    ("alice", "wrong", "ad_52e"), ("alice", "", "ad_52e"), ("nobody", "x", "ad_525"),
    ("dave", "Dave-Passw0rd!", "ad_533"), ("erin", "Erin-Passw0rd!", "ad_775"),
    ("heidi", "Heidi-Passw0rd!", "ad_701"), ("frank", "Frank-Passw0rd!", "ad_532"),
    ("grace", "Grace-Passw0rd!", "ad_773"),
])
def test_sign_in_maps_kerberos_errors_to_ad_reasons(dc, fresh, username, password, reason):
    result, events = sign_in(dc, username, password)
    assert not result.authenticated and result.reason == reason
    kinds = [k for k, _ in events]
    assert kinds == ["connector.dc_discovery", "connector.ad_auth"]
    ad_auth = events[1][1]
    assert ad_auth["outcome"] == reason[3:] and ad_auth["peer"] == f"{dc['host']}:{dc['kerberos']}"
    assert password in ("", "x") or password not in repr(events)


def test_sign_in_success_reads_attributes_over_ldap(dc, fresh):
    result, events = sign_in(dc, "alice", "Alice-Passw0rd!")
    assert result.authenticated, result
    assert result.user["sAMAccountName"] == "alice" and result.user["mail"] == "alice@corp.example.com"
    assert events[1][1]["kerberos"] == "ok" and events[1][1]["transport"] == "tcp"


def test_sign_in_fails_when_the_service_account_cannot_read_the_user(dc, fresh):
    """Kerberos accepts alice's password, but the connector's service account has been disabled:
    it cannot read her, and there is no sign-in (not one with a bare sAMAccountName)."""
    conn = ldap3.Connection(ldap3.Server(dc["host"], port=dc["ldap"], get_info=ldap3.NONE),
                            user="CORP\\Administrator", password="Admin-Passw0rd!", auto_bind=True)
    conn.search(BASE_DN, "(sAMAccountName=svc-adconnector)", attributes=["userAccountControl"])
    assert conn.modify(conn.entries[0].entry_dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, ["514"])]})
    conn.unbind()
    result, events = sign_in(dc, "alice", "Alice-Passw0rd!")
    assert not result.authenticated and result.reason == "ad_lookup_failed"
    assert [k for k, _ in events] == ["connector.dc_discovery", "connector.ad_auth", "connector.ad_lookup"]
    assert events[1][1]["kerberos"] == "ok" and events[2][1]["outcome"] == "failed"


def test_sign_in_skew_when_the_dc_clock_moves(dc, fresh):
    httpx.post(f"{dc['admin']}/clock", json={"offset_seconds": -900}, headers=dc["auth"]).raise_for_status()
    result, _ = sign_in(dc, "alice", "Alice-Passw0rd!")
    assert result.reason == "kerberos_skew"


def test_sign_in_with_the_kdc_dropping_is_dc_unreachable(dc, fresh):
    httpx.post(f"{dc['admin']}/faults", json={"action": "drop", "protocol": "kerberos"},
               headers=dc["auth"]).raise_for_status()
    result, events = sign_in(dc, "alice", "Alice-Passw0rd!", kerberos_timeout_seconds=0.2)
    assert result.reason == "dc_unreachable"
    assert events[-1][1]["outcome"] == "unreachable"


def test_repeated_wrong_passwords_lock_the_account_out(dc, fresh):
    reasons = [sign_in(dc, "bob", "wrong")[0].reason for _ in range(5)]
    assert reasons == ["ad_52e"] * 5
    assert sign_in(dc, "bob", "Bob-Passw0rd!")[0].reason == "ad_775"


def test_sign_in_with_the_kdc_port_refused_is_dc_unreachable(dc, fresh):
    """A DC whose Kerberos port has nothing listening (ICMP port unreachable, TCP reset): AD Connector
    has no other way to prove a password, so the sign-in fails; no LDAP bind stands in for it.
    The real DC always serves its KDC on the port its SRV records give, so the step is handed a
    DomainController naming a closed port on the DC's own address."""
    ctx = _Ctx(dc["dns"])
    dc_without_kdc = DomainController(f"instancerdc.{DOMAIN}", dc["host"], dc["ldap"], 1)
    for transport in ("udp", "tcp"):
        ctx.settings["kerberos_transport"] = transport
        signin = SignIn(ctx, ConnectorSettings.from_settings(ctx.settings))
        reason, detail = asyncio.run(signin._kerberos_password_check(
            directory(dc["host"]), dc_without_kdc, "alice", "Alice-Passw0rd!", None, f"alice@{DOMAIN}", SOURCE))
        assert reason == "dc_unreachable" and "refused" in detail
        kind, fields = ctx.events[-1]
        assert kind == "connector.ad_auth" and fields["outcome"] == "unreachable"
        assert fields["kerberos"] == "refused" and "method" not in fields
    assert not [e for e in httpx.get(f"{dc['admin']}/events",
                                     headers=dc["auth"]).json() if e["kind"].startswith("ldap.")], \
        "the password was not tried over LDAP"
