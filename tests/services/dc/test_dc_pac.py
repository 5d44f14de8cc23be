"""The PAC's logon info, written by hand in NDR (pac.py), against impacket's NDR types as the
reference: impacket reads it back to the same values, and its own encoding of the same logon is
the same bytes but for what NDR leaves to the writer. impacket draws each pointer's referent ID at
random (any non-zero value is valid NDR), fills alignment gaps with 0xAB, 0xEE..., leaves the
object buffer unpadded and its private header's filler 0xCCCCCCCC; pac.py
writes Windows' referent IDs (0x00020000 + 4n, in the order the pointers are written), zero
padding, and pads the object buffer to a multiple of 8 bytes."""
import struct
from dataclasses import replace

import pytest
from impacket.dcerpc.v5.dtypes import NULL
from impacket.dcerpc.v5.ndr import NDRULONG
from impacket.dcerpc.v5.nrpc import GROUP_MEMBERSHIP
from impacket.krb5 import pac as ms_pac
from impacket.krb5.crypto import Key, _checksum_table

from services.dc import krb_crypto, pac
from services.dc.names import filetime

BASE = pac.Logon(sam="alice", full_name="Alice Ädams", upn="alice@corp.example.com", upn_implicit=False,
                 domain_sid="S-1-5-21-1004336348-1177238915-682003330", rid=1105, primary_group=513,
                 group_rids=(512, 1100, 513), netbios="CORP", dns_domain="corp.example.com",
                 dc_name="InstanceRDC", logon_time=1764750000.25, password_last_set=133000000000000000,
                 logon_count=3, bad_password_count=1, uac=0x10)
IMPACKET_PADDING = (0xAB, 0xBB, 0xCC, 0xDD, 0xEE)        # what impacket fills alignment gaps with
CHANGES = [
    {}, {"logon_time": 1.5e9, "logon_count": 0, "bad_password_count": 0},
    {"logon_count": 70000, "bad_password_count": 65535},              # clamped to a USHORT
    {"sam": "bob", "full_name": "", "group_rids": ()}, {"full_name": "Ab"}, {"sam": "abc"},
    {"upn_implicit": True, "password_must_change": 0, "uac": 0x210, "rid": 70001},
    {"group_rids": tuple(range(1100, 1140)), "netbios": "LONGERNETBIOS", "dc_name": "dc1"},
]


def impacket_logon_info(lg: pac.Logon) -> bytes:
    """The same logon through impacket's KERB_VALIDATION_INFO (what pac.py used before)."""
    info = ms_pac.KERB_VALIDATION_INFO()
    for name, value in (("LogonTime", filetime(lg.logon_time)), ("LogoffTime", pac.NEVER),
                        ("KickOffTime", pac.NEVER), ("PasswordLastSet", lg.password_last_set),
                        ("PasswordCanChange", lg.password_last_set), ("PasswordMustChange", lg.password_must_change),
                        ("LastSuccessfulILogon", 0), ("LastFailedILogon", 0)):
        info[name]["dwLowDateTime"], info[name]["dwHighDateTime"] = value & 0xFFFFFFFF, value >> 32
    info["EffectiveName"] = lg.sam
    info["FullName"] = lg.full_name
    for name in ("LogonScript", "ProfilePath", "HomeDirectory", "HomeDirectoryDrive"):
        info[name] = ""
    info["LogonCount"] = min(lg.logon_count, 0xFFFF)
    info["BadPasswordCount"] = min(lg.bad_password_count, 0xFFFF)
    info["UserId"] = lg.rid
    info["PrimaryGroupId"] = lg.primary_group
    rids = [lg.primary_group] + [r for r in lg.group_rids if r != lg.primary_group]
    info["GroupCount"] = len(rids)
    for rid in rids:
        member, ulong = GROUP_MEMBERSHIP(), NDRULONG()
        ulong["Data"] = rid
        member["RelativeId"] = ulong
        member["Attributes"] = pac.SE_GROUP_DEFAULT
        info["GroupIds"].append(member)
    info["UserFlags"] = pac.LOGON_EXTRA_SIDS
    info["UserSessionKey"] = b"\x00" * 16
    info["LogonServer"] = lg.dc_name.upper()
    info["LogonDomainName"] = lg.netbios.upper()
    info["LogonDomainId"].fromCanonical(lg.domain_sid)
    info["LMKey"] = b"\x00" * 8
    info["UserAccountControl"] = lg.uac
    info["SubAuthStatus"] = info["FailedILogonCount"] = info["Reserved3"] = 0
    info["SidCount"] = 1
    extra = ms_pac.KERB_SID_AND_ATTRIBUTES()
    extra["Sid"].fromCanonical(pac.ASSERTED_IDENTITY)
    extra["Attributes"] = pac.SE_GROUP_DEFAULT
    info["ExtraSids"].append(extra)
    info["ResourceGroupDomainSid"] = NULL
    info["ResourceGroupCount"] = 0
    info["ResourceGroupIds"] = NULL
    wrapped = ms_pac.VALIDATION_INFO()
    wrapped["Data"] = info
    return wrapped.getData() + wrapped.getDataReferents()


def test_logon_info_is_impacket_s_bytes_with_windows_referents_and_padding():
    for change in CHANGES:
        lg = replace(BASE, **change)
        ours, theirs = pac._logon_info(lg), impacket_logon_info(lg)
        assert ours[:8] == theirs[:8] == b"\x01\x10\x08\x00\xcc\xcc\xcc\xcc"
        (length, filler) = struct.unpack_from("<II", ours, 8)
        assert (length, filler) == (len(ours) - 16, 0) and length % 8 == 0
        assert len(ours) - len(theirs) == -len(theirs[16:]) % 8 and not any(ours[len(theirs):])
        referents = []
        for at in range(16, len(theirs), 4):
            a, b = ours[at:at + 4], theirs[at:at + 4]
            if a == b:
                continue
            if all(x == y or (x == 0 and y in IMPACKET_PADDING) for x, y in zip(a, b, strict=True)):
                continue                                         # alignment padding
            (ref,) = struct.unpack("<I", a)
            assert struct.unpack("<I", b)[0] != 0, (change, at)  # a pointer in impacket's too
            referents.append(ref)
        # every non-null pointer, in order: the top level, 6 strings, GroupIds, 2 strings, the
        # domain SID, ExtraSids and the SID inside it
        assert referents == [0x20000 + 4 * n for n in range(13)], change


def test_impacket_reads_back_the_logon():
    lg = replace(BASE, group_rids=(512, 1100))
    raw, info = pac._logon_info(lg), ms_pac.VALIDATION_INFO()
    info.fromString(raw)
    fixed = len(info.getData())
    info.fromStringReferents(raw, fixed)          # as impacket's ticketer.py reads a PAC
    data = info["Data"]
    assert data["EffectiveName"] == "alice" and data["FullName"] == "Alice Ädams"
    assert data["LogonServer"] == "INSTANCERDC" and data["LogonDomainName"] == "CORP"
    assert data["LogonDomainId"].formatCanonical() == lg.domain_sid
    assert [g["RelativeId"] for g in data["GroupIds"]] == [513, 512, 1100]
    assert (data["UserId"], data["LogonCount"], data["BadPasswordCount"], data["UserFlags"]) == (1105, 3, 1, 0x20)
    assert data["ExtraSids"][0]["Sid"].formatCanonical() == pac.ASSERTED_IDENTITY
    when = data["LogonTime"]["dwLowDateTime"] | data["LogonTime"]["dwHighDateTime"] << 32
    assert when == filetime(lg.logon_time)


@pytest.mark.parametrize("enctype,kind", [(krb_crypto.AES256, 16), (krb_crypto.AES128, 15), (krb_crypto.RC4, -138)])
def test_checksums_are_impacket_s(enctype, kind):
    key = krb_crypto.random_key(enctype)
    for usage in (17, 17, 6):                     # the second call uses the remembered Kc
        expected = bytes(_checksum_table[kind].checksum(key, usage, b"pac"))
        assert krb_crypto.checksum(kind, key, usage, b"pac") == expected
    other = Key(krb_crypto.AES128, bytes(16))   # a key of another enctype: left to impacket, as before
    assert krb_crypto.checksum(16, other, 6, b"x") == bytes(_checksum_table[16].checksum(other, 6, b"x"))
