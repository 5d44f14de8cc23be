"""The topology the process runtime writes: ports a browser opens."""
from lab import topology as topo

# Chromium's restricted ports (net/base/port_util.cc, kRestrictedPorts): a page on one of these is
# ERR_UNSAFE_PORT. Firefox's list is much the same (network.security.ports.banned).
BROWSER_UNSAFE = {
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
    103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
    512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
    995, 1719, 1720, 1723, 2049, 3659, 4045, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669,
    6697, 10080,
}


def test_every_http_endpoint_is_on_a_port_browsers_open(tmp_path):
    topology = topo.build(tmp_path, agents=2)
    http = [(name, kind, port) for name, svc in topology["services"].items()
            for kind, port in svc["ports"].items() if kind in topo.HTTP_KINDS]
    assert http, "the topology has HTTP endpoints"
    assert [entry for entry in http if entry[2] in BROWSER_UNSAFE] == []
    assert {port for _, kind, port in http if kind == "api"} == {8080}


def test_other_low_ports_still_move_up_by_10000():
    assert topo.process_port(389, standard_ports=False) == 10389
    assert topo.process_port(80, standard_ports=False) == 8080
    assert topo.process_port(80, standard_ports=True) == 80
    assert topo.process_port(1812, standard_ports=False) == 1812
