"""The DC's LDAP server as a process, checked with clients nobody here wrote: OpenLDAP's
ldapsearch and ldap3. Binds in AD's three name forms and AD's sub-codes, lockout and its expiry on
the service clock, AD filters, paging through a generated directory, and garbage on the wire."""
import shutil
import socket
import ssl
import subprocess

import httpx
import pytest
from ldap3 import BASE, DSA, MODIFY_REPLACE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPSessionTerminatedByServerError, LDAPSocketReceiveError

from tests.support import admin_headers, running_services

BASE_DN = "DC=corp,DC=example,DC=com"
USERS = f"OU=Users,{BASE_DN}"
GENERATED = 1500
HAVE_LDAPSEARCH = shutil.which("ldapsearch") is not None


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    with running_services(["dc"], tmp_path_factory.mktemp("dc-ldap"), "127.0.82",
                          settings={"dc": {"generated_users": GENERATED}}) as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "port": svc["ports"]["ldap"],
               "admin": f"http://{svc['host']}:{svc['ports']['admin']}", "auth": admin_headers(topology)}


def conn(dc, user=None, password=None, **kw) -> Connection:
    server = Server(dc["host"], port=dc["port"], get_info=kw.pop("get_info", NONE), connect_timeout=5)
    return Connection(server, user=user, password=password, receive_timeout=10, **kw)


def bind(dc, user, password) -> tuple[bool, dict]:
    c = conn(dc, user, password)
    ok = c.bind()
    result = dict(c.result)
    c.unbind()
    return ok, result


def ldapsearch(dc, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ldapsearch", "-LLL", "-x", "-o", "ldif-wrap=no",
                           "-H", f"ldap://{dc['host']}:{dc['port']}", *args],
                          capture_output=True, text=True, timeout=20)


# -- the real client: OpenLDAP's ldapsearch ------------------------------------------------------
@pytest.mark.skipif(not HAVE_LDAPSEARCH, reason="ldap-utils not installed")
@pytest.mark.parametrize("name", ["CORP\\alice", "alice@corp.example.com",
                                  "CN=Alice Anderson,OU=Users,DC=corp,DC=example,DC=com"])
def test_ldapsearch_binds_in_all_three_name_forms(dc, name):
    out = ldapsearch(dc, "-D", name, "-w", "Alice-Passw0rd!", "-b", BASE_DN,
                     "(userPrincipalName=alice@corp.example.com)", "sAMAccountName", "mail")
    assert out.returncode == 0, out.stderr
    assert "dn: CN=Alice Anderson,OU=Users,DC=corp,DC=example,DC=com" in out.stdout
    assert "sAMAccountName: alice" in out.stdout
    assert "mail: alice@corp.example.com" in out.stdout


@pytest.mark.skipif(not HAVE_LDAPSEARCH, reason="ldap-utils not installed")
def test_ldapsearch_bitwise_and_finds_the_disabled_accounts(dc):
    out = ldapsearch(dc, "-D", "CORP\\svc-oktaagent", "-w", "OktaAgent-Passw0rd!", "-b", USERS,
                     "(&(objectCategory=person)(userAccountControl:1.2.840.113556.1.4.803:=2))",
                     "sAMAccountName")
    assert out.returncode == 0, out.stderr
    names = {line.split(": ")[1] for line in out.stdout.splitlines() if line.startswith("sAMAccountName")}
    assert "dave" in names and "alice" not in names
    assert len(names) == 1 + GENERATED // 100


@pytest.mark.skipif(not HAVE_LDAPSEARCH, reason="ldap-utils not installed")
def test_ldapsearch_pages_through_the_directory(dc):
    out = subprocess.run(["ldapsearch", "-x", "-H", f"ldap://{dc['host']}:{dc['port']}",
                          "-D", "CORP\\alice", "-w", "Alice-Passw0rd!", "-b", USERS,
                          "-E", "pr=100/noprompt", "(objectClass=user)", "1.1"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert f"# numEntries: {GENERATED + 10}" in out.stdout
    assert out.stdout.count("pagedresults: cookie=") >= (GENERATED + 10) // 100


@pytest.mark.skipif(not HAVE_LDAPSEARCH, reason="ldap-utils not installed")
def test_ldapsearch_reads_the_rootdse_anonymously(dc):
    out = ldapsearch(dc, "-s", "base", "-b", "", "(objectClass=*)")
    assert out.returncode == 0, out.stderr
    for line in ("defaultNamingContext: DC=corp,DC=example,DC=com",
                 "rootDomainNamingContext: DC=corp,DC=example,DC=com",
                 "dnsHostName: instancerdc.corp.example.com",
                 "supportedLDAPVersion: 3",
                 "supportedControl: 1.2.840.113556.1.4.319",
                 "supportedSASLMechanisms: GSS-SPNEGO",
                 "supportedCapabilities: 1.2.840.113556.1.4.800"):
        assert line in out.stdout
    assert "namingContexts: DC=corp,DC=example,DC=com" in out.stdout
    assert "serverName: CN=INSTANCERDC," in out.stdout


@pytest.mark.skipif(not HAVE_LDAPSEARCH, reason="ldap-utils not installed")
def test_ldapsearch_starttls(dc):
    env = {"LDAPTLS_REQCERT": "never", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(["ldapsearch", "-LLL", "-x", "-ZZ", "-H", f"ldap://{dc['host']}:{dc['port']}",
                          "-D", "CORP\\alice", "-w", "Alice-Passw0rd!", "-b", BASE_DN,
                          "(sAMAccountName=bob)", "cn"], capture_output=True, text=True, timeout=20, env=env)
    assert out.returncode == 0, out.stderr
    assert "cn: Bob Brown" in out.stdout


# -- AD's answers to binds ----------------------------------------------------------------------
@pytest.mark.parametrize("user,password,code", [
    ("CORP\\alice", "wrong", "52e"),
    ("nobody@corp.example.com", "whatever", "525"),
    ("CORP\\frank", "Frank-Passw0rd!", "532"),
    ("CORP\\dave", "Dave-Passw0rd!", "533"),
    ("heidi@corp.example.com", "Heidi-Passw0rd!", "701"),
    ("CORP\\grace", "Grace-Passw0rd!", "773"),
    ("CORP\\erin", "Erin-Passw0rd!", "775"),
])
def test_bind_failures_carry_the_ad_sub_code(dc, user, password, code):
    ok, result = bind(dc, user, password)
    assert not ok
    assert result["result"] == 49 and result["description"] == "invalidCredentials"
    assert result["message"] == ("80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext "
                                 f"error, data {code}, v3839")


def test_service_accounts_bind(dc):
    assert bind(dc, "CORP\\svc-oktaagent", "OktaAgent-Passw0rd!")[0]
    assert bind(dc, "svc-adconnector@corp.example.com", "Connector-Passw0rd!")[0]


def test_lockout_after_threshold_and_its_expiry_on_the_service_clock(dc, fresh):
    for _ in range(5):
        assert "data 52e" in bind(dc, "CORP\\bob", "nope")[1]["message"]
    ok, result = bind(dc, "CORP\\bob", "Bob-Passw0rd!")
    assert not ok and "data 775" in result["message"]
    c = conn(dc, "CORP\\alice", "Alice-Passw0rd!", auto_bind=True)
    c.search(USERS, "(sAMAccountName=bob)", attributes=["badPwdCount", "lockoutTime",
                                                       "msDS-User-Account-Control-Computed"])
    attrs = c.entries[0].entry_attributes_as_dict
    assert attrs["badPwdCount"] == ["5"] and attrs["lockoutTime"][0] != "0"
    assert attrs["msDS-User-Account-Control-Computed"] == ["16"]  # UF_LOCKOUT
    c.unbind()
    httpx.post(f"{dc['admin']}/clock", json={"offset_seconds": 1801}, headers=dc["auth"]).raise_for_status()
    assert bind(dc, "CORP\\bob", "Bob-Passw0rd!")[0]
    assert bind(dc, "CORP\\erin", "Erin-Passw0rd!")[0]  # the seeded lockout has run out too


def test_a_success_resets_the_bad_password_count(dc, fresh):
    for _ in range(4):
        bind(dc, "CORP\\bob", "nope")
    assert bind(dc, "CORP\\bob", "Bob-Passw0rd!")[0]
    for _ in range(4):
        bind(dc, "CORP\\bob", "nope")
    assert bind(dc, "CORP\\bob", "Bob-Passw0rd!")[0]


def test_bind_events_have_outcomes_and_never_the_password(dc, fresh):
    bind(dc, "CORP\\alice", "Secret-Typo-123")
    bind(dc, "alice@corp.example.com", "Alice-Passw0rd!")
    events = httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).json()
    binds = [e for e in events if e["kind"] == "ldap.bind"]
    assert [e["outcome"] for e in binds] == ["52e", "success"]
    assert binds[1]["fields"]["user"] == "alice"
    assert binds[1]["fields"]["dn"] == "CN=Alice Anderson,OU=Users,DC=corp,DC=example,DC=com"
    text = httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).text
    assert "Secret-Typo-123" not in text and "Alice-Passw0rd!" not in text


# -- search -------------------------------------------------------------------------------------
def test_anonymous_is_limited_to_the_rootdse(dc):
    c = conn(dc, get_info=DSA)
    c.bind()
    assert c.server.info.other["defaultNamingContext"] == [BASE_DN]
    assert not c.search(BASE_DN, "(objectClass=*)")
    assert c.result["result"] == 1
    assert c.result["message"].startswith("000004DC: LdapErr:")
    assert ("In order to perform this operation a successful bind must be completed on the connection."
            in c.result["message"])


@pytest.mark.parametrize("flt,expected", [
    ("(sAMAccountName=ALICE)", {"alice"}),
    ("(userPrincipalName=Bob@Corp.Example.com)", {"bob"}),
    ("(&(objectClass=user)(|(givenName=alice)(sn=brown)))", {"alice", "bob"}),
    ("(&(objectCategory=person)(!(memberOf=CN=WorkSpaces Users,OU=Groups,DC=corp,DC=example,DC=com))"
     "(!(sAMAccountName=user*)))", {"carol", "Administrator", "svc-adconnector", "svc-oktaagent"}),
    ("(cn=*ar*)", {"carol"}),
    ("(&(sAMAccountName=*)(!(sAMAccountName=user*))(badPwdCount>=1))", {"erin"}),
    ("(&(userAccountControl:1.2.840.113556.1.4.804:=3)(!(cn=User*)))", {"dave"}),
    ("(memberOf:1.2.840.113556.1.4.1941:=CN=Full time employees,OU=Groups,DC=corp,DC=example,DC=com)",
     {"alice", "bob", "carol"}),
    ("(&(sn~=ivanov)(accountExpires>=1))", {"ivan"}),
    ("(pwdLastSet<=0)", {"grace"}),
    ("(anr=Ali)", {"alice"}),
    ("(anr=brown bob)", {"bob"}),
    ("(&(objectCategory=person)(anr=svc-))", {"svc-adconnector", "svc-oktaagent"}),
])
def test_filters(dc, flt, expected):
    c = conn(dc, "CORP\\alice", "Alice-Passw0rd!", auto_bind=True)
    assert c.search(BASE_DN, flt, SUBTREE, attributes=["sAMAccountName"], paged_size=1000) or not expected
    assert {e.sAMAccountName.value for e in c.entries} == expected
    c.unbind()


def test_scopes_attribute_selection_and_missing_base(dc):
    c = conn(dc, "CORP\\alice", "Alice-Passw0rd!", auto_bind=True)
    c.search(BASE_DN, "(objectClass=*)", BASE, attributes=["1.1"])
    assert [e.entry_dn for e in c.entries] == [BASE_DN] and c.entries[0].entry_attributes == []
    c.search(BASE_DN, "(objectClass=organizationalUnit)", 1, attributes=["OU"])
    assert {e.ou.value for e in c.entries} == {"Users", "Groups", "Service Accounts"}
    c.search(USERS, "(sAMAccountName=alice)", attributes=["*"])
    attrs = c.entries[0].entry_attributes_as_dict
    for name in ("objectClass", "cn", "distinguishedName", "sAMAccountName", "userPrincipalName", "mail",
                 "givenName", "sn", "displayName", "memberOf", "userAccountControl", "pwdLastSet",
                 "accountExpires", "lockoutTime", "badPwdCount", "objectSid", "objectGUID"):
        assert name in attrs, name
    assert "msDS-User-Account-Control-Computed" not in attrs  # constructed: only when named
    assert attrs["objectClass"] == ["top", "person", "organizationalPerson", "user"]
    raw = c.entries[0].objectSid.raw_values[0]
    assert raw[:8] == b"\x01\x05\x00\x00\x00\x00\x00\x05" and len(raw) == 28
    assert not c.search(f"OU=Nowhere,{USERS}", "(objectClass=*)")
    assert c.result["result"] == 32 and c.result["dn"] == USERS
    c.unbind()


def test_size_limits(dc):
    c = conn(dc, "CORP\\alice", "Alice-Passw0rd!", auto_bind=True)
    c.search(USERS, "(objectClass=user)", size_limit=3, attributes=["cn"])
    assert len(c.entries) == 3 and c.result["result"] == 4
    c.search(USERS, "(objectClass=user)", attributes=["1.1"])   # unpaged: AD's MaxPageSize
    assert len(c.entries) == 1000 and c.result["description"] == "sizeLimitExceeded"
    c.unbind()


def test_ldap3_paged_search_through_the_generated_directory(dc, fresh):
    c = conn(dc, "CORP\\svc-oktaagent", "OktaAgent-Passw0rd!", auto_bind=True)
    seen = [e["dn"] for e in c.extend.standard.paged_search(
        USERS, "(&(objectCategory=person)(objectClass=user))", attributes=["sAMAccountName"],
        paged_size=400, generator=True)]
    assert len(seen) == GENERATED + 10 and len(set(seen)) == len(seen)
    searches = [e for e in httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).json() if e["kind"] == "ldap.search"]
    assert len(searches) == -(-(GENERATED + 10) // 400)
    c.unbind()


@pytest.mark.parametrize("paged_size", [None, 5])
def test_a_malformed_base_dn_is_invalid_dn_syntax_paged_or_not(dc, paged_size):
    c = conn(dc, "CORP\\alice", "Alice-Passw0rd!", auto_bind=True)
    assert not c.search("DC=corp,DC=example,@C=com", "(objectClass=*)", paged_size=paged_size)
    assert c.result["result"] == 34, c.result          # invalidDNSyntax, and the connection lives on
    assert c.search(USERS, "(sAMAccountName=alice)", attributes=["cn"]) and len(c.entries) == 1
    c.unbind()


def test_whoami_and_refused_writes(dc):
    c = conn(dc, "CORP\\alice", "Alice-Passw0rd!", auto_bind=True)
    assert c.extend.standard.who_am_i() == "u:CORP\\alice"
    assert not c.modify(f"CN=Alice Anderson,{USERS}", {"mail": [("MODIFY_REPLACE", ["x@y"])]})
    assert c.result["result"] == 50
    assert c.compare(f"CN=Alice Anderson,{USERS}", "sAMAccountName", "ALICE")
    c.unbind()


# -- garbage on the wire ------------------------------------------------------------------------
@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: dc\r\n\r\n",                   # not BER at all
    b"\x30\x84\x7f\xff\xff\xff",                              # a 2 GB message announced
    b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x99\x00",  # bind with a bogus auth choice
    b"\x30\x03\x02\x01",                                       # truncated, then EOF
])
def test_garbage_closes_only_that_connection(dc, garbage):
    with socket.create_connection((dc["host"], dc["port"]), timeout=5) as s:
        s.sendall(garbage)
        if garbage == b"\x30\x03\x02\x01":
            s.shutdown(socket.SHUT_WR)
        data = s.recv(4096)   # a Notice of Disconnection, or EOF
    assert data == b"" or data[0] == 0x30
    assert bind(dc, "CORP\\alice", "Alice-Passw0rd!")[0]


def test_drop_fault_closes_connections(dc, fresh):
    httpx.post(f"{dc['admin']}/faults", json={"action": "drop", "protocol": "ldap"},
               headers=dc["auth"]).raise_for_status()
    c = conn(dc, "CORP\\alice", "Alice-Passw0rd!")
    with pytest.raises((LDAPSocketReceiveError, LDAPSessionTerminatedByServerError, Exception)):
        c.bind()
    httpx.delete(f"{dc['admin']}/faults", headers=dc["auth"]).raise_for_status()
    assert bind(dc, "CORP\\alice", "Alice-Passw0rd!")[0]


def test_starttls_with_ldap3(dc):
    c = conn(dc, "alice@corp.example.com", "Alice-Passw0rd!")
    c.server.tls = Tls(validate=ssl.CERT_NONE)
    c.open()
    assert c.start_tls()
    assert c.bind()
    assert c.search(USERS, "(sAMAccountName=carol)", attributes=["mail"])
    assert c.entries[0].mail.value == "carol@corp.example.com"
    c.unbind()


def test_ldap3_with_the_schema_sees_values_as_from_ad(dc):
    """ldap3's default reads the subschema after binding (AD's own, from ldap3's offline copy)
    and formats values by syntax, as against a real DC."""
    server = Server(dc["host"], port=dc["port"], connect_timeout=5)   # get_info=SCHEMA
    c = Connection(server, "CORP\\svc-oktaagent", "OktaAgent-Passw0rd!", auto_bind=True)
    assert server.schema is not None and "userAccountControl" in server.schema.attribute_types
    c.search(USERS, "(sAMAccountName=alice)",
             attributes=["objectSid", "objectGUID", "userAccountControl", "pwdLastSet", "whenCreated"])
    e = c.entries[0]
    assert e.objectSid.value.startswith("S-1-5-21-") and len(e.objectSid.value.split("-")) == 8
    assert e.objectGUID.value.startswith("{") and e.userAccountControl.value == 512
    assert e.pwdLastSet.value.year >= 2020
    assert c.search(USERS, f"(objectSid={e.objectSid.value})", attributes=["sAMAccountName"])
    assert c.entries[0].sAMAccountName.value == "alice"
    c.unbind()


@pytest.mark.skipif(not HAVE_LDAPSEARCH, reason="ldap-utils not installed")
def test_a_name_with_an_empty_password_is_an_anonymous_bind_as_in_ad(dc):
    """AD's unauthenticated bind: it succeeds, and the connection is still anonymous."""
    out = ldapsearch(dc, "-D", "CORP\\alice", "-w", "", "-b", BASE_DN, "(sAMAccountName=alice)")
    assert out.returncode == 1, out.stderr
    assert "000004DC" in out.stdout + out.stderr


def test_delay_fault_slows_answers(dc, fresh):
    import time
    httpx.post(f"{dc['admin']}/faults", json={"action": "delay", "protocol": "ldap", "seconds": 0.4},
               headers=dc["auth"]).raise_for_status()
    started = time.monotonic()
    assert bind(dc, "CORP\\alice", "Alice-Passw0rd!")[0]
    assert time.monotonic() - started >= 0.4


def test_reset_reloads_the_seed_and_clears_lockouts(dc, fresh):
    for _ in range(5):
        bind(dc, "CORP\\carol", "nope")
    assert "data 775" in bind(dc, "CORP\\carol", "Carol-Passw0rd!")[1]["message"]
    httpx.post(f"{dc['admin']}/reset", headers=dc["auth"]).raise_for_status()
    assert bind(dc, "CORP\\carol", "Carol-Passw0rd!")[0]
    assert "data 775" in bind(dc, "CORP\\erin", "Erin-Passw0rd!")[1]["message"]  # seeded state is back


# -- administration over LDAP, as a domain admin would do it --------------------------------------
def ldapmodify(dc, ldif: str, *extra: str, user="CORP\\Administrator", password="Admin-Passw0rd!"):
    return subprocess.run(["ldapmodify", "-x", *extra, "-H", f"ldap://{dc['host']}:{dc['port']}",
                           "-D", user, "-w", password], input=ldif, capture_output=True, text=True,
                          timeout=20, env={"LDAPTLS_REQCERT": "never", "PATH": "/usr/bin:/bin"})


@pytest.mark.skipif(not HAVE_LDAPSEARCH, reason="ldap-utils not installed")
def test_admin_disables_enables_unlocks_and_forces_password_change(dc, fresh):
    def change(dn, attr, value):
        out = ldapmodify(dc, f"dn: {dn}\nchangetype: modify\nreplace: {attr}\n{attr}: {value}\n")
        assert out.returncode == 0, out.stderr

    change(f"CN=Alice Anderson,{USERS}", "userAccountControl", "514")
    assert "data 533" in bind(dc, "CORP\\alice", "Alice-Passw0rd!")[1]["message"]
    change(f"CN=Dave Davis,{USERS}", "userAccountControl", "512")
    assert bind(dc, "CORP\\dave", "Dave-Passw0rd!")[0]
    change(f"CN=Erin Evans,{USERS}", "lockoutTime", "0")
    assert bind(dc, "CORP\\erin", "Erin-Passw0rd!")[0]
    change(f"CN=Bob Brown,{USERS}", "pwdLastSet", "0")
    assert "data 773" in bind(dc, "CORP\\bob", "Bob-Passw0rd!")[1]["message"]
    change(f"CN=Bob Brown,{USERS}", "pwdLastSet", "-1")
    assert bind(dc, "CORP\\bob", "Bob-Passw0rd!")[0]


@pytest.mark.skipif(not HAVE_LDAPSEARCH, reason="ldap-utils not installed")
def test_password_reset_needs_an_admin_and_tls(dc, fresh):
    import base64
    value = base64.b64encode('"Grace-New-Passw0rd!"'.encode("utf-16-le")).decode()
    ldif = f"dn: CN=Grace Green,{USERS}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {value}\n"
    plain = ldapmodify(dc, ldif)
    assert plain.returncode == 53 and "WILL_NOT_PERFORM" in plain.stderr
    not_admin = ldapmodify(dc, ldif, "-ZZ", user="CORP\\alice", password="Alice-Passw0rd!")
    assert not_admin.returncode == 50
    ok = ldapmodify(dc, ldif, "-ZZ")
    assert ok.returncode == 0, ok.stderr
    assert bind(dc, "CORP\\grace", "Grace-New-Passw0rd!")[0]   # no longer "must change" (773)
    events = httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).text
    assert "Grace-New-Passw0rd!" not in events and value not in events


def test_any_account_may_change_a_password_knowing_the_old_one(dc, fresh):
    """AD grants the Change Password right to Everyone: bob (no admin) changes frank's expired
    password with the old one, as the Okta AD agent does with its service account; a reset
    (replace) is still an admin's."""
    c = conn(dc, "bob@corp.example.com", "Bob-Passw0rd!")
    c.server.tls = Tls(validate=ssl.CERT_NONE)
    c.open()
    c.start_tls()
    c.bind()
    frank = f"CN=Frank Foster,{USERS}"
    assert "data 532" in bind(dc, "CORP\\frank", "Frank-Passw0rd!")[1]["message"]      # expired
    assert not c.extend.microsoft.modify_password(frank, "Frank-N3w-Passw0rd!", "not-the-old-one")
    assert c.result["result"] == 19
    value = '"Frank-Reset-Passw0rd!"'.encode("utf-16-le")
    assert not c.modify(frank, {"unicodePwd": [(MODIFY_REPLACE, [value])]})
    assert c.result["result"] == 50
    assert c.extend.microsoft.modify_password(frank, "Frank-N3w-Passw0rd!", "Frank-Passw0rd!")
    c.unbind()
    assert bind(dc, "CORP\\frank", "Frank-N3w-Passw0rd!")[0]


def test_users_change_their_own_password_with_ldap3(dc, fresh):
    c = conn(dc, "alice@corp.example.com", "Alice-Passw0rd!")
    c.server.tls = Tls(validate=ssl.CERT_NONE)
    c.open()
    c.start_tls()
    c.bind()
    dn = f"CN=Alice Anderson,{USERS}"
    assert not c.extend.microsoft.modify_password(dn, "Alice-N3w-Passw0rd!", "not-the-old-one")
    assert c.result["result"] == 19
    assert c.extend.microsoft.modify_password(dn, "Alice-N3w-Passw0rd!", "Alice-Passw0rd!")
    c.unbind()
    assert bind(dc, "CORP\\alice", "Alice-N3w-Passw0rd!")[0]
    assert "data 52e" in bind(dc, "CORP\\alice", "Alice-Passw0rd!")[1]["message"]
