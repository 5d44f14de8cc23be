"""How the seed's rule lines become EC2 permissions (services/ec2/seed.py): a single port, a range,
and "all ports" as EC2 writes it (-1), which a seed may give as `-1` or `all`."""
from __future__ import annotations

import pytest

from services.ec2.seed import _permission


@pytest.mark.parametrize(("ports", "expected"), [
    (389, (389, 389)), ("1024-65535", (1024, 65535)), ("-1", (-1, -1)), (-1, (-1, -1)), ("all", (-1, -1))])
def test_a_seed_rules_ports(ports, expected):
    permission = _permission({"protocol": "tcp", "ports": ports}, "sg-0123456789abcdef0")
    assert (permission["FromPort"], permission["ToPort"]) == expected
    assert permission["UserIdGroupPairs"] == [{"GroupId": "sg-0123456789abcdef0", "Description": None}]


def test_an_address_block_source_and_no_ports():
    permission = _permission({"protocol": "-1", "description": "VPC"}, "10.0.0.0/16")
    assert permission == {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "VPC"}]}
