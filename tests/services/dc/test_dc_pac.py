"""The PAC's logon info, built from a kept encoding with the per-logon fields written in, must be
byte for byte impacket's encoding of the same logon (pac.py keeps the encoding per account).
impacket draws each NDR pointer's referent ID at random (any non-zero value is valid NDR), so
both sides draw from the same seed."""
import random
from dataclasses import replace

import pytest

from services.dc import pac

BASE = pac.Logon(sam="alice", full_name="Alice Ädams", upn="alice@corp.example.com", upn_implicit=False,
                 domain_sid="S-1-5-21-1004336348-1177238915-682003330", rid=1105, primary_group=513,
                 group_rids=(512, 1100, 513), netbios="CORP", dns_domain="corp.example.com",
                 dc_name="InstanceRDC", logon_time=1764750000.25, password_last_set=133000000000000000,
                 logon_count=3, bad_password_count=1, uac=0x10)


@pytest.mark.parametrize("change", [
    {}, {"logon_time": 1.5e9, "logon_count": 0, "bad_password_count": 0},
    {"logon_count": 70000, "bad_password_count": 65535},              # clamped to a USHORT, as before
    {"logon_time": 1764750999.9, "logon_count": 4}, {"sam": "bob", "full_name": "", "group_rids": ()},
    {"upn_implicit": True, "password_must_change": 0, "uac": 0x210, "rid": 70001},
])
def test_kept_logon_info_is_impacket_s(change):
    pac._encoded.clear()
    first = replace(BASE, logon_time=BASE.logon_time - 60, logon_count=1)
    random.seed(7)
    pac._logon_info(first)                        # the encoding is now kept for this account
    lg = replace(BASE, **change)
    random.seed(7)
    got = pac._logon_info(lg)
    random.seed(7)
    assert got == pac._impacket_logon_info(lg)
