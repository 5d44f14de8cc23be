"""In-process checks of the DC's BER layer: the hand-encoded SearchResultEntry must be byte for
byte what pyasn1 makes of ldap3's type, and ldap3's recursive filters must decode."""
import time

import pytest
import yaml
from ldap3.operation.search import search_operation
from ldap3.protocol import rfc4511
from pyasn1.codec.ber import encoder

from lab import topology as topo
from services.dc import ber, ldap_messages
from services.dc.directory import Directory
from services.dc.ldap import LdapServer
from services.dc.rootdse import START_TLS, WHO_AM_I, root_dse
from services.dc.search import select
from services.dc.settings import DcSettings


@pytest.fixture(scope="module")
def directory():
    seed = yaml.safe_load(topo.SEED_DEFAULT.read_text())
    return Directory(seed, time.time, DcSettings.from_settings({"generated_users": 5}, seed))


def entry_pyasn1(mid: int, entry_dn: str, attrs: list, types_only: bool) -> bytes:
    """The reference encoding of `LdapServer._entry`, with ldap3's types."""
    e = rfc4511.SearchResultEntry()
    e["object"] = entry_dn
    plist = e["attributes"]
    for name, values in attrs:
        pa = rfc4511.PartialAttribute()
        pa["type"] = name
        vals = pa["vals"]
        if not types_only:
            for v in values:
                vals.append(v if isinstance(v, bytes) else str(v).encode("utf-8"))
        plist.append(pa)
    msg = rfc4511.LDAPMessage()
    msg["messageID"] = mid
    msg["protocolOp"]["searchResEntry"] = e
    return encoder.encode(msg)


@pytest.mark.parametrize("mid", [0, 1, 127, 128, 255, 256, 65535, 2**31 - 1])
def test_entry_encoding_matches_pyasn1(directory, mid):
    for entry in [*directory.order, root_dse(directory, [WHO_AM_I, START_TLS])]:
        for requested in ([], ["1.1"], ["cn", "objectSid", "msDS-User-Account-Control-Computed"]):
            attrs = select(directory, entry, requested)
            for types_only in (False, True):
                assert (LdapServer._entry(mid, entry.dn, attrs, types_only)
                        == entry_pyasn1(mid, entry.dn, attrs, types_only))


def test_long_values_use_long_form_lengths():
    attrs = [("description", [b"x" * n]) for n in (127, 128, 255, 256, 70000)] + [("a" * 130, [b"v", "t\u00e9xt"])]
    assert LdapServer._entry(7, "CN=x", attrs, False) == entry_pyasn1(7, "CN=x", attrs, False)


@pytest.mark.parametrize("text", [
    "(cn=a)", "(!(sn>=x))", "(cn=a*b*c)", "(cn=*b)", "(userAccountControl:1.2.840.113556.1.4.803:=2)",
    "(cn=*)", "(&(cn=a)(sn=b))", "(|(cn=a)(!(&(sn=b)(|(x=1)(!(y=*))))))", "(sn~=smith)", "(badPwdCount<=3)",
    "(cn:dn:=alice)", "(!(!(cn=a)))", "(!(!(!(!(sn=*)))))",
    "(" + "!(" * 60 + "cn=a" + ")" * 61, "(sn:1.2.840.113556.1.4.804:=3)", "(:dn:2.5.13.5:=x)",
])
def test_filters_round_trip_through_ber(text):
    req = search_operation("DC=corp", text, 2, 0, ["cn"], False, 0, 0, False, True)
    msg = rfc4511.LDAPMessage()
    msg["messageID"] = 3
    msg["protocolOp"]["searchRequest"] = req
    decoded = ldap_messages.decode(encoder.encode(msg))
    assert str(ber.to_filter(decoded.req.filter)).lower() == text.lower()


@pytest.mark.parametrize("raw", [
    b"\xa3\x03\x04\x01a",                    # an assertion without its value
    b"\xa2\x00",                              # not, of nothing
    b"\xa2\x06\x87\x01a\x87\x01b",            # not, of two
    b"\xaa\x00",                              # no such choice
    b"\xa4\x07\x04\x01a\x30\x02\x83\x00",     # a substring part that does not exist
    b"\xa0\x05\x87\x09abc",                   # a child running past its parent
    b"\x87\x01a\x00",                          # trailing bytes
    b"\xa2\x02" * 600,                          # not, nested past any bound (and truncated)
])
def test_filters_that_do_not_read_are_filter_errors(raw):
    with pytest.raises(ber.FilterError):
        ber.to_filter(raw)


def test_the_filter_shape_is_read_off_the_bytes():
    req = search_operation("DC=corp", "(&(cn=a)(|(sn=b)(!(x=*))))", 2, 0, ["cn"], False, 0, 0, False, True)
    msg = rfc4511.LDAPMessage()
    msg["messageID"] = 300
    msg["protocolOp"]["searchRequest"] = req
    data = encoder.encode(msg)
    assert ber.search_filter_shape(data, 100, 100) == (300, 6, 4)
    assert ber.search_filter_shape(data, 2, 100)[1] == 3            # counting stops past the bound
    assert ber.search_filter_shape(data[:-5], 100, 100) is None     # truncated: left to the decoder
