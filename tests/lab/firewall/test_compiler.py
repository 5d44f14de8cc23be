"""The rule compiler: which packets the table lets through, and that nft accepts the text."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from lab.firewall.compiler import WindowsRule, compile_ruleset, counters_from, table_name, verdict

from .support import net, rule, walkthrough, without

S = "127.0.135"
CONN, DC, AGENT, AD_AGENT = f"{S}.41", f"{S}.10", f"{S}.20", f"{S}.21"


def test_the_walkthrough_lets_the_connector_in_and_nothing_else():
    d, n = walkthrough(), net()
    assert verdict(d, [], n, CONN, DC, "udp", 10053) is None       # DNS, on the lab's moved port
    assert verdict(d, [], n, CONN, DC, "tcp", 10389) is None       # LDAP
    assert verdict(d, [], n, CONN, DC, "udp", 10088) is None       # Kerberos
    assert verdict(d, [], n, CONN, AGENT, "udp", 1812) is None     # RADIUS
    assert verdict(d, [], n, AD_AGENT, DC, "tcp", 10389) is None   # the AD agent's LDAP
    assert verdict(d, [], n, AD_AGENT, DC, "udp", 10053) == f"drop:{DC}"
    assert verdict(d, [], n, CONN, DC, "tcp", 10636) == f"drop:{DC}"   # LDAPS was never opened
    assert verdict(d, [], n, DC, CONN, "udp", 5000) is None   # AWS's ENIs are not the customer's to guard


def test_traffic_from_the_machine_the_admin_port_and_other_subnets_are_never_matched():
    d, n = walkthrough(), net()
    d = without(d, "sgr-radius")
    assert verdict(d, [], n, "127.0.0.1", AGENT, "udp", 1812) is None
    assert verdict(d, [], n, CONN, AGENT, "tcp", 9100) is None
    assert verdict(d, [], n, "127.0.136.41", AGENT, "udp", 1812) is None
    assert verdict(d, [], n, CONN, AGENT, "udp", 1812) == f"drop:{AGENT}"
    text = compile_ruleset(d, [], n)
    assert "ip saddr { 127.0.0.1 } return" in text and f"ip saddr != {S}.0/24 return" in text
    assert "tcp dport 9100 return" in text
    assert "127.0.136" not in text


def test_revoking_a_rule_removes_it_from_the_table_and_its_counter():
    text = compile_ruleset(without(walkthrough(), "sgr-ldap"), [], net())
    assert 'comment "sgr-ldap"' not in text
    assert 'comment "sgr-agent-ldap"' in text
    assert f'counter drop comment "drop:{DC}"' in text


def test_the_windows_firewall_blocks_what_the_group_allows_and_an_allow_reopens_it():
    d, n = walkthrough(), net()
    block = WindowsRule("InstanceOkta", "block", 1812, "udp")
    assert verdict(d, [block], n, CONN, AGENT, "udp", 1812) == "fw:InstanceOkta:block:1812/udp"
    assert verdict(d, [WindowsRule("InstanceOkta", "allow", 1812, "udp")], n, CONN, AGENT, "udp", 1812) is None
    # a rule for one source beats the rule for any source
    only_one = [block, WindowsRule("InstanceOkta", "allow", 1812, "udp", f"{S}.41")]
    assert verdict(d, only_one, n, f"{S}.41", AGENT, "udp", 1812) is None
    assert verdict(d, only_one, n, f"{S}.42", AGENT, "udp", 1812) == "fw:InstanceOkta:block:1812/udp"
    # the Windows firewall allows, but the group must too
    assert verdict(without(d, "sgr-radius"), [WindowsRule("InstanceOkta", "allow", 1812, "udp")], n,
                   CONN, AGENT, "udp", 1812) == f"drop:{AGENT}"
    text = compile_ruleset(d, only_one, n)
    assert text.index(f"ip saddr {S}.41 udp dport {{ 1812 }} counter return") < text.index("counter drop comment \"fw:")


def test_an_address_without_a_group_is_not_default_denied():
    d = walkthrough()
    d["interfaces"] = [i for i in d["interfaces"] if i["address"] != DC]
    assert verdict(d, [], net(), CONN, DC, "tcp", 10636) is None
    assert f"drop:{DC}" not in compile_ruleset(d, [], net())


def test_cidr_all_protocols_and_port_ranges():
    d = walkthrough()
    d["groups"]["sg-dc"]["ingress"] = [rule("sgr-any", "all", None, cidr=f"{S}.40/29"),
                                       {**rule("sgr-range", "tcp", None, cidr=f"{S}.0/24"), "from_port": 1000,
                                        "to_port": 2000}]
    n = net()
    assert verdict(d, [], n, CONN, DC, "udp", 4444) is None           # .41 is in .40/29, every protocol
    assert verdict(d, [], n, AGENT, DC, "tcp", 1500) is None
    assert verdict(d, [], n, AGENT, DC, "tcp", 2500) == f"drop:{DC}"
    text = compile_ruleset(d, [], n)
    assert f"ip saddr {{ {S}.40/29 }} counter accept" in text and "tcp dport { 1000-2000 }" in text


def test_two_labs_have_two_tables_that_name_only_their_own_addresses():
    a = compile_ruleset(walkthrough("127.0.135"), [], net("127.0.135"))
    b = compile_ruleset(walkthrough("127.0.136"), [], net("127.0.136"))
    assert table_name("127.0.135") in a and table_name("127.0.136") not in a
    assert "127.0.135" not in b


def test_counters_are_summed_per_rule_id():
    listing = {"nftables": [
        {"metainfo": {}},
        {"rule": {"comment": "sgr-1", "expr": [{"match": {}}, {"counter": {"packets": 2, "bytes": 100}}]}},
        {"rule": {"comment": "sgr-1", "expr": [{"counter": {"packets": 3, "bytes": 50}}]}},
        {"rule": {"comment": "drop:127.0.135.10", "expr": [{"counter": {"packets": 1, "bytes": 60}}]}},
        {"rule": {"expr": [{"counter": {"packets": 9, "bytes": 9}}]}}]}
    assert counters_from(listing) == {"sgr-1": {"packets": 5, "bytes": 150},
                                      "drop:127.0.135.10": {"packets": 1, "bytes": 60}}


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="nft's own check needs root and nftables")
def test_nft_accepts_the_compiled_text():
    windows = [WindowsRule("InstanceOkta", "block", 1812, "udp"),
               WindowsRule("InstanceOkta", "allow", 1812, "udp", f"{S}.41"),
               WindowsRule("InstanceRDC", "block", 88, "udp")]
    text = compile_ruleset(walkthrough(), windows, net())
    check = subprocess.run(["nft", "-c", "-f", "-"], input=text, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def test_a_rule_that_stays_keeps_its_count_and_a_revoked_one_drops_out():
    carried = {"sgr-radius": {"packets": 7, "bytes": 700}, "sgr-ldap": {"packets": 3, "bytes": 30},
               f"drop:{AGENT}": {"packets": 2, "bytes": 20}}
    text = compile_ruleset(without(walkthrough(), "sgr-ldap"), [], net(), carried)
    assert 'counter packets 7 bytes 700 accept comment "sgr-radius"' in text
    assert f'counter packets 2 bytes 20 drop comment "drop:{AGENT}"' in text
    assert "packets 3" not in text


def test_with_docker_the_gateway_is_the_machine_itself():
    from lab.firewall.enforce import lab_net

    topology = {"subnet": "172.28.10", "runtime": "docker", "services": {"dc": {"host": "172.28.10.10"}}}
    n = lab_net(topology)
    assert n.machine == ("127.0.0.1", "172.28.10.1") and n.port_map == {}
    d = without(walkthrough("172.28.10"), "sgr-ldap")
    assert verdict(d, [], n, "172.28.10.1", "172.28.10.10", "tcp", 389) is None
    assert verdict(d, [], n, "172.28.10.41", "172.28.10.10", "tcp", 389) == "drop:172.28.10.10"
    assert "ip saddr { 127.0.0.1, 172.28.10.1 } return" in compile_ruleset(d, [], n)
