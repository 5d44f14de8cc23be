"""`lab ca [show|trust|untrust]` (lab/commands/ca.py, lab/browser_trust.py): the lab CA put into and
taken out of a user's NSS databases with NSS's real certutil, in a HOME of the test's own. No lab
runs: the CA exists once a state directory was used (`lab up` makes it)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab import browser_trust
from lab.ca import LabCA

pytestmark = pytest.mark.skipif(shutil.which("certutil") is None,
                                reason="certutil missing (apt-get install libnss3-tools)")


def lab_ca(state: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(state), "ca", *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"HOME": str(home), "PATH": "/usr/bin:/bin"})


def listed(db: Path) -> str:
    return subprocess.run(["certutil", "-L", "-d", f"sql:{db}"], capture_output=True, text=True,
                          check=True).stdout


def test_trust_adds_the_lab_ca_for_tls_servers_and_untrust_removes_it(tmp_path):
    state, home = tmp_path / "state", tmp_path / "home"
    home.mkdir()
    missing = lab_ca(state, home, "trust")
    assert missing.returncode == 2 and "lab up" in missing.stderr          # no CA yet

    ca = LabCA(state).cert_path
    firefox = home / ".mozilla" / "firefox" / "abcd.default-release"      # a Firefox profile with its own DB
    firefox.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{firefox}", "--empty-password"], check=True)

    shown = json.loads(lab_ca(state, home, "--json").stdout)
    assert shown["ca_certificate"] == str(ca) and shown["trusted_in"] == []
    assert shown["fingerprint_sha256"] == browser_trust.fingerprint(ca) and len(shown["fingerprint_sha256"]) == 95

    trusted = lab_ca(state, home, "trust", "--json")
    assert trusted.returncode == 0, trusted.stderr
    nssdb = home / ".pki" / "nssdb"
    assert sorted(json.loads(trusted.stdout)["changed"]) == sorted([str(nssdb), str(firefox)])
    for db in (nssdb, firefox):
        line = next(x for x in listed(db).splitlines() if x.startswith(browser_trust.nickname(ca)))
        assert line.split()[-1] == "C,,"          # a CA for TLS servers, nothing else (mail, code signing)
    assert (nssdb.stat().st_mode & 0o777) == 0o700
    again = lab_ca(state, home, "trust")
    assert again.returncode == 0 and "(already)" in again.stdout and "certmgr.msc" in again.stdout

    removed = lab_ca(state, home, "untrust")
    assert removed.returncode == 0 and browser_trust.nickname(ca) not in listed(nssdb) + listed(firefox)
    assert json.loads(lab_ca(state, home, "--json").stdout)["trusted_in"] == []


def test_without_certutil_it_says_what_to_install_and_how_to_trust_by_hand(tmp_path):
    state, home = tmp_path / "state", tmp_path / "home"
    home.mkdir()
    ca = LabCA(state).cert_path
    proc = subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(state), "ca", "trust"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"HOME": str(home), "PATH": str(tmp_path / "nothing")})
    assert proc.returncode == 1
    assert "libnss3-tools" in proc.stderr and str(ca) in proc.stdout and "security add-trusted-cert" in proc.stdout
