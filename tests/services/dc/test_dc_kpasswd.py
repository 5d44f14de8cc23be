"""The DC's kpasswd service (RFC 3244) with MIT's own clients: `kpasswd`, and `kinit` changing an
expired password. The new password must work at once for LDAP binds and for Kerberos."""
from __future__ import annotations

import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from ldap3 import NONE, Connection, Server

from tests.services.dc.support import Recorder
from tests.support import admin_headers, running_services
from tests.support.fuzzing import LogWatch, mutate

SUBNET = "127.0.143"
REALM = "CORP.EXAMPLE.COM"
ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in ("kinit", "kpasswd")),
                                reason="krb5-user (kinit, kpasswd) not installed")


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    with running_services(["dc"], tmp_path_factory.mktemp("dc-kpasswd"), SUBNET) as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "kerberos": svc["ports"]["kerberos"], "kpasswd": svc["ports"]["kpasswd"],
               "ldap": svc["ports"]["ldap"], "admin": f"http://{svc['host']}:{svc['ports']['admin']}",
               "auth": admin_headers(topology), "log": Path(topology["state_dir"]) / "logs" / "dc.log",
               "state_dir": topology["state_dir"]}


@pytest.fixture(params=["udp", "tcp"])
def env(dc, tmp_path, request):
    conf = tmp_path / "krb5.conf"
    tcp = "udp_preference_limit = 1" if request.param == "tcp" else ""
    conf.write_text(f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    {tcp}
[realms]
    {REALM} = {{
        kdc = {dc['host']}:{dc['kerberos']}
        kpasswd_server = {dc['host']}:{dc['kpasswd']}
    }}
""")
    return dict(os.environ, KRB5_CONFIG=str(conf), KRB5CCNAME=f"FILE:{tmp_path}/ccache")


def run(args, env, stdin):
    return subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, timeout=30)


def ldap_bind(dc, user, password) -> bool:
    c = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), user=user, password=password)
    ok = c.bind()
    c.unbind()
    return ok


def last_kpasswd(dc):
    return [e for e in httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).json()
            if e["kind"] == "kerberos.kpasswd"][-1]


def test_kpasswd_changes_the_password_for_ldap_and_kerberos(dc, env, fresh):
    out = run(["kpasswd", f"alice@{REALM}"], env, "Alice-Passw0rd!\nFresh-Passw0rd!7\nFresh-Passw0rd!7\n")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Password changed." in out.stdout
    assert last_kpasswd(dc)["outcome"] == "SUCCESS"
    assert ldap_bind(dc, "CORP\\alice", "Fresh-Passw0rd!7")
    assert not ldap_bind(dc, "CORP\\alice", "Alice-Passw0rd!")
    assert run(["kinit", f"alice@{REALM}"], env, "Fresh-Passw0rd!7\n").returncode == 0
    assert "Password incorrect" in run(["kinit", f"alice@{REALM}"], env, "Alice-Passw0rd!\n").stderr


def test_a_short_password_is_rejected_with_ads_policy(dc, env, fresh):
    out = run(["kpasswd", f"bob@{REALM}"], env, "Bob-Passw0rd!\nab1\nab1\n")
    assert out.returncode != 0
    # MIT reads AD's policy block in the result string and words it for the user.
    assert "Password change rejected: The password must contain at least 7 characters." in out.stdout
    assert last_kpasswd(dc)["outcome"] == "SOFTERROR"
    assert ldap_bind(dc, "CORP\\bob", "Bob-Passw0rd!")


def test_the_old_password_must_be_right(dc, env, fresh):
    out = run(["kpasswd", f"bob@{REALM}"], env, "not-his\nNew-Passw0rd!1\nNew-Passw0rd!1\n")
    assert out.returncode != 0
    assert "Preauthentication failed getting initial ticket" in out.stderr   # KDC_ERR_PREAUTH_FAILED


def test_kinit_changes_a_must_change_password_through_kpasswd(dc, env, fresh):
    # grace must change her password at next logon: kinit is told KDC_ERR_KEY_EXPIRED and prompts.
    out = run(["kinit", f"grace@{REALM}"], env, "Grace-Passw0rd!\nGrace-New-Pw1!\nGrace-New-Pw1!\n")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Password expired" in out.stdout
    assert ldap_bind(dc, "CORP\\grace", "Grace-New-Pw1!")


def test_mutated_kpasswd_requests_never_cost_the_dc_a_traceback(dc, env, fresh):
    # MIT's own request, captured by a relay on its way to the DC, is the corpus.
    relay = Recorder(dc["host"], dc["kpasswd"])
    conf = Path(env["KRB5_CONFIG"])
    direct = conf.read_text()
    try:
        conf.write_text(direct.replace(f"kpasswd_server = {dc['host']}:{dc['kpasswd']}",
                                       f"kpasswd_server = {relay.address}"))
        out = run(["kpasswd", f"bob@{REALM}"], dict(env, KRB5_CONFIG=str(conf)), "Bob-Passw0rd!\nab\nab\n")
        assert "at least 7 characters" in out.stdout
    finally:
        relay.close()
        conf.write_text(direct)
    corpus = relay.sent + [struct.pack(">HHH", 20, 1, 10) + b"\x6e\x08" + bytes(12)]
    assert len(corpus) > 1, "MIT's kpasswd request did not pass the relay"
    watch = LogWatch(dc["log"])
    rnd = random.Random(464)
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        for _ in range(200):          # silence costs a 0.1 s receive timeout each
            s.sendto(mutate(rnd.choice(corpus), rnd), (dc["host"], dc["kpasswd"]))
            try:
                reply = s.recvfrom(65536)[0]
                answered += 1
                # a KRB-ERROR (KRB5_KPASSWD_MALFORMED) or a framed reply with an AP-REP
                assert reply[:1] == b"\x7e" or reply[6:7] == b"\x6f"
            except TimeoutError:
                pass
    assert answered and not watch.tracebacks()
    assert ldap_bind(dc, "CORP\\bob", "Bob-Passw0rd!")


@pytest.fixture
def impacket_client(dc, monkeypatch):
    """impacket's RFC 3244 set-password client, its KDC port pointed at the lab's (it only knows 88)."""
    from impacket.krb5 import kerberosv5, kpasswd
    real = kerberosv5.sendReceive
    monkeypatch.setattr(kerberosv5, "sendReceive",
                        lambda data, host, kdc_host, port=88: real(data, host, kdc_host, dc["kerberos"]))
    return kpasswd


def test_an_admin_sets_another_users_password_with_set_password(dc, impacket_client, fresh):
    # raises KPasswdError on any result but success
    impacket_client.setPassword("Administrator", REALM, "carol", REALM, "Set-By-Admin-9",
                                oldPasswd="Admin-Passw0rd!", kdcHost=dc["host"],
                                kpasswdHost=dc["host"], kpasswdPort=dc["kpasswd"])
    assert ldap_bind(dc, "CORP\\carol", "Set-By-Admin-9")
    event = last_kpasswd(dc)
    assert event["fields"]["version"] == 0xFF80 and event["fields"]["target"] == "carol"


def test_a_user_may_not_set_someone_elses_password(dc, impacket_client, fresh):
    with pytest.raises(impacket_client.KPasswdError, match=r"ACCESSDENIED|Access denied"):
        impacket_client.setPassword("bob", REALM, "carol", REALM, "Set-By-Bob-99", oldPasswd="Bob-Passw0rd!",
                                    kdcHost=dc["host"], kpasswdHost=dc["host"], kpasswdPort=dc["kpasswd"])
    assert ldap_bind(dc, "CORP\\carol", "Carol-Passw0rd!")
    assert last_kpasswd(dc)["outcome"] == "ACCESSDENIED"


# -- `lab ad USER set-password`: the admin's reset over StartTLS ----------------------------------------
def lab_ad(dc, *args, stdin=""):
    return subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(dc["state_dir"]), "ad", *args],
                          input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_lab_ad_set_password_resets_it_over_starttls(dc, env, fresh):
    out = lab_ad(dc, "ivan", "set-password", "--json", stdin="Reset-By-Lab-1\n")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["dn"].startswith("CN=")
    assert "Reset-By-Lab-1" not in out.stdout + out.stderr
    assert ldap_bind(dc, "CORP\\ivan", "Reset-By-Lab-1") and not ldap_bind(dc, "CORP\\ivan", "Ivan-Passw0rd!")
    assert run(["kinit", f"ivan@{REALM}"], env, "Reset-By-Lab-1\n").returncode == 0
    modify = [e for e in httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).json() if e["kind"] == "ldap.modify"]
    assert modify[-1]["outcome"] == "success"


def test_lab_ad_set_password_reports_the_dcs_refusal(dc, fresh):
    out = lab_ad(dc, "ivan", "set-password", "--password", "short")
    assert out.returncode == 1
    assert "constraintViolation" in out.stdout
    assert ldap_bind(dc, "CORP\\ivan", "Ivan-Passw0rd!")
