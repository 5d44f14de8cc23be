"""`lab env` with the real clients, each run with nothing but the environment `lab env` prints (and
PATH): the AWS CLI (from PyPI), ldapsearch -ZZ and LDAPS trusting the lab's CA, kinit with the
krb5.conf the lab writes, smtplib's STARTTLS verifying the mailbox against the CA; and `lab users`
on a blank lab, which shows what is there."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import smtplib
import ssl
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.lab.support import lab_up, ok, run_lab

SUBNET, BLANK_SUBNET = "127.0.111", "127.0.112"
AWS = Path(sys.executable).with_name("aws")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with lab_up(tmp_path_factory.mktemp("env"), "--subnet", SUBNET) as state_dir:
        yield state_dir


@pytest.fixture(scope="module")
def env(lab):
    """The variables `eval "$(lab env)"` sets, read back by bash itself, plus PATH only."""
    printed = ok(run_lab(lab, "env")).stdout
    shown = subprocess.run(["bash", "-c", f"{printed}\nenv -0"], capture_output=True, text=True,
                           env={"PATH": os.environ["PATH"]}, check=True).stdout
    out = dict(line.split("=", 1) for line in shown.split("\0") if "=" in line)
    return {k: v for k, v in out.items() if k not in ("PWD", "SHLVL", "_", "OLDPWD")}


def run(env, tmp_path, *cmd, stdin=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, input=stdin,
                          env=dict(env, HOME=str(tmp_path)), cwd=tmp_path)


def test_env_json_matches_the_export_lines(lab, env):
    as_json = json.loads(ok(run_lab(lab, "env", "--json")).stdout)
    assert {k: env[k] for k in as_json} == as_json
    assert as_json["LDAPTLS_CACERT"] == json.loads(ok(run_lab(lab, "status", "--json")).stdout)["ca_certificate"]
    assert as_json["AWS_ENDPOINT_URL_DIRECTORY_SERVICE"] == f"http://{SUBNET}.40:8080"
    # the okta SDK: the org's HTTPS port, the lab CA in the bundle OpenSSL reads, no plain-HTTP switch
    assert as_json["OKTA_CLIENT_ORGURL"] == f"https://{SUBNET}.30:10443"
    assert "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK" not in as_json
    assert Path(as_json["SSL_CERT_FILE"]).read_text().endswith(Path(as_json["LDAPTLS_CACERT"]).read_text())
    assert "AWS_ENDPOINT_URL_EC2" not in as_json or as_json["AWS_ENDPOINT_URL_EC2"].startswith("http://")
    printed = ok(run_lab(lab, "env")).stdout
    assert all(line.startswith(("export ", "#")) for line in printed.splitlines())
    assert shlex.split(printed.splitlines()[1])[0] == "export"


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI from PyPI is not installed (pip install -e .[test])")
def test_the_aws_cli_with_only_the_environment(env, tmp_path):
    dirs = run(env, tmp_path, str(AWS), "ds", "describe-directories", "--output", "json")
    assert dirs.returncode == 0, dirs.stderr
    assert [d["DirectoryId"] for d in json.loads(dirs.stdout)["DirectoryDescriptions"]]
    bundles = run(env, tmp_path, str(AWS), "workspaces", "describe-workspace-bundles", "--owner", "AMAZON",
                  "--output", "json")
    assert bundles.returncode == 0, bundles.stderr
    assert all(b["BundleId"].startswith("wsb-") for b in json.loads(bundles.stdout)["Bundles"])


@pytest.mark.skipif(shutil.which("ldapsearch") is None, reason="ldap-utils is not installed")
@pytest.mark.parametrize("how", [["-ZZ", "-H", f"ldap://{SUBNET}.10:10389"], ["-H", f"ldaps://{SUBNET}.10:10636"]])
def test_ldapsearch_verifies_the_dc_against_the_lab_ca(env, tmp_path, how):
    args = ["ldapsearch", "-LLL", *how, "-x", "-D", "CORP\\alice", "-w", "Alice-Passw0rd!",
            "-b", "DC=corp,DC=example,DC=com", "(sAMAccountName=bob)", "mail"]
    out = run(env, tmp_path, *args)
    assert out.returncode == 0, out.stderr
    assert "mail: bob@corp.example.com" in out.stdout
    # The same without the CA: the certificate is not trusted (the check is real).
    untrusted = run({k: v for k, v in env.items() if k != "LDAPTLS_CACERT"}, tmp_path, *args)
    assert untrusted.returncode != 0


@pytest.mark.skipif(shutil.which("kinit") is None, reason="krb5-user is not installed")
def test_kinit_with_the_labs_krb5_conf(env, tmp_path):
    cache = dict(env, KRB5CCNAME=f"FILE:{tmp_path / 'cc'}")     # the test's own ticket cache
    out = run(cache, tmp_path, "kinit", "alice", stdin="Alice-Passw0rd!\n")
    assert out.returncode == 0, out.stderr
    listed = run(cache, tmp_path, "klist")
    assert "alice@CORP.EXAMPLE.COM" in listed.stdout and "krbtgt/CORP.EXAMPLE.COM" in listed.stdout
    wrong = run(cache, tmp_path, "kinit", "alice", stdin="wrong\n")
    assert wrong.returncode != 0


def test_smtp_starttls_verifies_the_mailbox_against_the_lab_ca(lab, env):
    context = ssl.create_default_context(cafile=env["LDAPTLS_CACERT"])   # checks the chain and the address
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@b.example", "tls@corp.example.com", "over TLS"
    msg.set_content("hello\n")
    with smtplib.SMTP(f"{SUBNET}.70", 10025, timeout=10) as s:
        s.starttls(context=context)
        assert s.send_message(msg) == {}
    stranger = ssl.create_default_context()      # the system's CAs only: not the lab's
    with smtplib.SMTP(f"{SUBNET}.70", 10025, timeout=10) as s, pytest.raises(ssl.SSLCertVerificationError):
        s.starttls(context=stranger)


def test_users_on_a_blank_lab_shows_what_is_there(tmp_path):
    with lab_up(tmp_path, "--blank", "--subnet", BLANK_SUBNET):
        rows = {r["username"]: r for r in json.loads(ok(run_lab(tmp_path, "users", "--json")).stdout)}
        assert rows["alice"]["ad_state"] == "enabled", "the directory exists before any configuration"
        assert rows["dave"]["ad_state"] == "disabled"
        assert rows["alice"]["okta_status"] is None and not rows["alice"]["okta_verify"]
        assert not any(r["workspace"] or r["assigned"] for r in rows.values())
        in_org = [r["username"] for r in rows.values() if r["okta_status"]]
        assert in_org == ["okta.admin"], "a blank org has its administrator only"
        assert "in the running lab" in ok(run_lab(tmp_path, "users")).stdout


def test_unknown_names_exit_2_with_the_known_ones(lab):
    for args, listed in ((["phone", "code", "zed"], "accounts: alice, bob"),
                         (["login", "zed"], "(alice, bob"),
                         (["restart", "nope"], "services: dc, mail"),
                         (["logs", "nope"], "services: dc, mail"),
                         (["events", "--service", "nope"], "services: dc, mail"),
                         (["open", "zed", "--no-browser"], "one of alice, bob"),
                         (["ad", "zed", "disable"], "accounts: alice, bob"),
                         (["activate", "zed"], "users: alice@corp.example.com")):
        result = run_lab(lab, *args)
        assert result.returncode == 2 and listed in result.stderr, (args, result.stderr)


def test_login_with_push_says_it_waits_for_the_phone(lab):
    """Not a terminal here: plain lines (a terminal gets one line counting the seconds)."""
    result = ok(run_lab(lab, "login", "alice", "--mfa", "push"))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("waiting for alice's phone: approve the push in Okta Verify")
    assert any(line.startswith("done waiting after ") for line in lines)
    assert lines[-1].startswith("signed in as alice")
