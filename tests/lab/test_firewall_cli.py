"""`lab firewall`: host names and aliases, usage errors (exit 2), the rules kept 0600 under
<state>/firewall/, `--json`. A lab that is not running only saves the change (no kernel rule)."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from lab import topology as topo

from .support import lab_up, ok, run_lab


def _lab(tmp_path: Path) -> Path:
    state_dir = tmp_path / "state"
    topo.write_topology(state_dir, topo.build(state_dir, subnet="127.0.137"))
    return state_dir


def test_block_then_allow_replaces_the_rule_and_lists_it(tmp_path):
    state_dir = _lab(tmp_path)
    blocked = run_lab(state_dir, "firewall", "OKTA", "block", "1812/udp", "--json")
    assert blocked.returncode == 0, blocked.stderr
    body = json.loads(blocked.stdout)
    assert body["host"] == "InstanceOkta" and body["addresses"] == ["127.0.137.21", "127.0.137.20"]
    assert body["changed"] == {"rule": "fw:InstanceOkta:block:1812/udp", "mode": "saved", "apply_ms": None}
    assert [(r["action"], r["port"], r["protocol"]) for r in body["rules"]] == [("block", 1812, "udp")]
    ok = run_lab(state_dir, "firewall", "instanceokta", "allow", "1812/udp")
    assert ok.returncode == 0 and "saved" in ok.stdout
    narrowed = run_lab(state_dir, "firewall", "okta", "block", "1812/udp", "--from", "127.0.137.42", "--json")
    rules = json.loads(narrowed.stdout)["rules"]
    assert [(r["action"], r["source"]) for r in rules] == [("block", "127.0.137.42"), ("allow", None)]
    dc = json.loads(run_lab(state_dir, "firewall", "dc", "--json").stdout)
    assert dc["host"] == "InstanceRDC" and dc["rules"] == [] and dc["addresses"] == ["127.0.137.10"]
    path = state_dir / "firewall" / "windows.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_usage_errors_exit_2_in_the_firewalls_terms(tmp_path):
    state_dir = _lab(tmp_path)
    for args, says in [(["nowhere"], "no Windows host"), (["okta", "block"], "needs PORT/PROTO"),
                       (["okta", "block", "1812"], "PROTO tcp or udp"),
                       (["okta", "block", "99999/udp"], "PORT 1-65535"),
                       (["okta", "block", "1812/sctp"], "tcp or udp"),
                       (["okta", "allow", "1812/udp", "--from", "not-an-ip"], "not an IPv4 address"),
                       (["okta", "open", "1812/udp"], "invalid choice")]:
        result = run_lab(state_dir, "firewall", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert says in result.stderr, (args, result.stderr)
    assert run_lab(tmp_path / "empty", "firewall", "okta").returncode == 2


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="the kernel's rules need root and nftables")
def test_on_a_running_lab_the_rule_is_in_force_and_down_leaves_no_table(tmp_path):
    state_dir = tmp_path / "state"
    table = "lab_127_0_135"
    with lab_up(state_dir, "--subnet", "127.0.135"):
        changed = json.loads(ok(run_lab(state_dir, "firewall", "okta", "block", "1812/udp", "--json")).stdout)
        assert changed["changed"]["mode"] == "kernel" and changed["network"]["running"]
        listing = subprocess.run(["nft", "list", "table", "inet", table], capture_output=True, text=True, check=False)
        assert listing.returncode == 0 and 'comment "fw:InstanceOkta:block:1812/udp"' in listing.stdout
        status = ok(run_lab(state_dir, "status"))
        assert "network rules: enforced by nftables (enforcer running" in status.stdout
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    assert table not in tables
    assert not (state_dir / "firewall" / "process.json").exists()
