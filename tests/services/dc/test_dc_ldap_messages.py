"""The DC's hand-written LDAP codec against ldap3's ASN.1 types as pyasn1 encodes and decodes them:
every request a client sends must read as pyasn1 reads it, every reply must be byte for byte what
pyasn1 makes of ldap3's types, and no byte string may make the reader fail other than with the
errors the server answers as protocolError."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, SIMPLE
from ldap3.operation.abandon import abandon_operation
from ldap3.operation.add import add_operation
from ldap3.operation.bind import bind_operation
from ldap3.operation.compare import compare_operation
from ldap3.operation.delete import delete_operation
from ldap3.operation.extended import extended_operation
from ldap3.operation.modify import modify_operation
from ldap3.operation.modifyDn import modify_dn_operation
from ldap3.operation.search import search_operation
from ldap3.protocol import rfc4511
from ldap3.protocol.controls import build_control
from ldap3.protocol.rfc2696 import RealSearchControlValue
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pyasn1.type.namedtype import NamedTypes

from services.dc import ber, ldap_messages
from services.dc.ldap_messages import Undecodable

PAGED = "1.2.840.113556.1.4.319"


def _with(types: NamedTypes, **replace) -> NamedTypes:
    return NamedTypes(*[type(n)(n.name, replace.get(n.name, n.asn1Object)) for n in types.namedTypes])


def _spec() -> rfc4511.LDAPMessage:
    """ldap3's LDAPMessage with the search filter left an Any: pyasn1 cannot decode ldap3's recursive
    Filter type (the filter's reading is checked in test_dc_ber.py)."""
    search = rfc4511.SearchRequest(componentType=_with(rfc4511.SearchRequest.componentType, filter=univ.Any()))
    op = rfc4511.ProtocolOp(componentType=_with(rfc4511.ProtocolOp.componentType, searchRequest=search))
    return rfc4511.LDAPMessage(componentType=_with(rfc4511.LDAPMessage.componentType, protocolOp=op))


SPEC = _spec()


def wire(mid: int, op_name: str, op, controls=None) -> bytes:
    msg = rfc4511.LDAPMessage()
    msg["messageID"] = mid
    msg["protocolOp"][op_name] = op
    if controls:
        for c in controls:
            msg["controls"].append(c)
    return encoder.encode(msg)


def paged(size: int, cookie: bytes, critical: bool = False):
    v = RealSearchControlValue()
    v["size"], v["cookie"] = size, cookie
    return build_control(PAGED, critical, encoder.encode(v), encode_control_value=False)


def test_a_simple_bind_reads_as_ldap3_sent_it():
    m = ldap_messages.decode(wire(1, "bindRequest", bind_operation(3, SIMPLE, "CN=Alice,DC=corp", "pässword")))
    assert (m.mid, m.op) == (1, "bindRequest")
    assert (m.req.version, m.req.name, m.req.method, m.req.secret) == (3, "CN=Alice,DC=corp", "simple",
                                                                        "pässword".encode())


def test_a_sasl_bind_with_and_without_credentials():
    m = ldap_messages.decode(wire(2, "bindRequest", bind_operation(3, "SASL", "", None, "GSSAPI", b"\x60\x01x")))
    assert (m.req.method, m.req.mechanism, m.req.credentials) == ("sasl", "GSSAPI", b"\x60\x01x")
    m = ldap_messages.decode(wire(2, "bindRequest", bind_operation(3, "SASL", "", None, "EXTERNAL", None)))
    assert (m.req.mechanism, m.req.credentials) == ("EXTERNAL", None)


def test_a_search_with_controls_reads_field_by_field():
    op = search_operation("DC=corp,DC=example,DC=com", "(&(objectClass=user)(sAMAccountName=al*))", 2, 3,
                          ["cn", "mail"], 25, 7, True, False, True)
    data = wire(2**31 - 1, "searchRequest", op, [paged(500, b"\x00cookie"), build_control("1.2.3", True, None)])
    m = ldap_messages.decode(data)
    r = m.req
    assert (m.mid, r.base, r.scope, r.deref, r.size_limit, r.time_limit, r.types_only, r.attributes) == \
        (2**31 - 1, "DC=corp,DC=example,DC=com", 2, 3, 25, 7, True, ["cn", "mail"])
    assert r.filter == encoder.encode(op["filter"])
    assert str(ber.to_filter(r.filter)) == "(&(objectClass=user)(sAMAccountName=al*))"
    assert [(oid, crit) for oid, crit, _ in m.controls] == [(PAGED, False), ("1.2.3", True)]
    assert m.controls[1][2] is None
    assert ldap_messages.paged_request(m.controls[0][2]) == (500, b"\x00cookie")


def test_modify_compare_extended_abandon_unbind():
    changes = {"description": [(MODIFY_REPLACE, ["x", "y"])], "unicodePwd": [(MODIFY_DELETE, [b"\x00\x01"])],
               "mail": [(MODIFY_ADD, [])]}
    m = ldap_messages.decode(wire(5, "modifyRequest", modify_operation("CN=A,DC=c", changes, False)))
    assert (m.op, m.req.dn) == ("modifyRequest", "CN=A,DC=c")
    assert sorted(m.req.changes) == sorted([(2, "description", [b"x", b"y"]), (1, "unicodePwd", [b"\x00\x01"]),
                                            (0, "mail", [])])
    m = ldap_messages.decode(wire(6, "compareRequest", compare_operation("CN=A,DC=c", "sn", "Smith", False)))
    assert (m.req.dn, m.req.attribute, m.req.value) == ("CN=A,DC=c", "sn", b"Smith")
    m = ldap_messages.decode(wire(7, "extendedReq", extended_operation("1.3.6.1.4.1.4203.1.11.3")))
    assert (m.op, m.req.name, m.req.value) == ("extendedReq", "1.3.6.1.4.1.4203.1.11.3", None)
    m = ldap_messages.decode(wire(7, "extendedReq", extended_operation("1.2.3", b"v", no_encode=True)))
    assert m.req.value == b"v"
    assert ldap_messages.decode(wire(8, "abandonRequest", abandon_operation(77))).req == 77
    unbind = ldap_messages.decode(wire(9, "unbindRequest", rfc4511.UnbindRequest("")))
    assert (unbind.op, unbind.req) == ("unbindRequest", None)


def test_the_refused_writes_are_read_for_shape_and_named():
    add = add_operation("CN=N,DC=c", {"objectClass": ["top", "person"], "cn": "N"}, False)
    assert ldap_messages.decode(wire(3, "addRequest", add)).op == "addRequest"
    assert ldap_messages.decode(wire(3, "delRequest", delete_operation("CN=N,DC=c"))).op == "delRequest"
    assert ldap_messages.decode(wire(3, "modDNRequest", modify_dn_operation("CN=N,DC=c", "CN=M", True,
                                                                             "OU=x,DC=c"))).op == "modDNRequest"


def test_a_response_sent_to_the_server_is_named_not_read():
    resp = rfc4511.BindResponse()
    resp["resultCode"], resp["matchedDN"], resp["diagnosticMessage"] = 0, "", ""
    assert ldap_messages.decode(wire(1, "bindResponse", resp)).op == "bindResponse"


@pytest.mark.parametrize("data", [
    b"\x31\x03\x02\x01\x01",                                  # not a SEQUENCE
    b"\x30\x03\x02\x01\x01",                                  # no operation
    b"\x30\x05\x02\x01\x01\x42\x01",                          # a TLV running past its message
    b"\x30\x06\x02\x01\x01\x42\x01\x00",                      # an unbind that is not a NULL
    b"\x30\x05\x02\x01\x01\x5f\x00",                          # no such operation
    b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x81\x00",  # authentication choice [1]
    b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x00\x04\x00\x80\x00",  # version 0 (1..127)
    b"\x30\x08\x02\x03\x80\x00\x00\x42\x00",                  # a negative messageID
    b"\x30\x09\x02\x01\x01\x42\x00\x30\x02\x04\x00",          # controls without their [0] tag
    b"\x30\x84\x00\x00\x00\x05\x02\x01\x01\x42\x00",          # fine: a long-form length
])
def test_malformed_messages_are_undecodable(data):
    if data.startswith(b"\x30\x84"):
        assert ldap_messages.decode(data).op == "unbindRequest"
        return
    with pytest.raises(Undecodable):
        ldap_messages.decode(data)


def test_a_dn_that_is_not_utf8_is_a_unicode_error():
    with pytest.raises(UnicodeDecodeError):
        ldap_messages.decode(b"\x30\x0d\x02\x01\x01\x60\x08\x02\x01\x03\x04\x01\xff\x80\x00")


def _pyasn1_result(mid, op_name, code, diagnostic, matched, controls, extra):
    kind = {"bindResponse": rfc4511.BindResponse, "searchResDone": rfc4511.SearchResultDone,
            "modifyResponse": rfc4511.ModifyResponse, "addResponse": rfc4511.AddResponse,
            "delResponse": rfc4511.DelResponse, "modDNResponse": rfc4511.ModifyDNResponse,
            "compareResponse": rfc4511.CompareResponse, "extendedResp": rfc4511.ExtendedResponse}[op_name]
    op = kind()
    op["resultCode"], op["matchedDN"], op["diagnosticMessage"] = code, matched, diagnostic
    for k, v in extra.items():
        op[k] = v
    ctrls = []
    for oid, value in controls or []:
        c = rfc4511.Control()
        c["controlType"], c["controlValue"] = oid, value
        ctrls.append(c)
    return wire(mid, op_name, op, ctrls)


@pytest.mark.parametrize(("op_name", "extra"), [
    ("bindResponse", {}), ("bindResponse", {"serverSaslCreds": b"\x05\x04tok"}), ("searchResDone", {}),
    ("modifyResponse", {}), ("addResponse", {}), ("delResponse", {}), ("modDNResponse", {}),
    ("compareResponse", {}), ("extendedResp", {"responseName": "1.3.6.1.4.1.1466.20037"}),
    ("extendedResp", {"responseValue": b"u:CORP\\alice"}),
])
@pytest.mark.parametrize("code", [0, 5, 49, 53, 80])
def test_results_are_byte_for_byte_pyasn1s(op_name, extra, code):
    diag = "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563"
    ctrl = [(PAGED, b"\x30\x05\x02\x01\x00\x04\x00")]
    for mid, matched, controls in ((1, "", None), (300, "DC=corp,DC=example,DC=com", ctrl),
                                   (2**31 - 1, "x" * 200, None)):
        ours = ber.result(mid, op_name, code, diag, matched, controls, **extra)
        assert ours == _pyasn1_result(mid, op_name, code, diag, matched, controls, extra)


@pytest.mark.parametrize(("size", "cookie"), [(0, b""), (1000, b"\x01" * 12), (2**31 - 1, b"c" * 300)])
def test_the_paged_value_is_pyasn1s_and_reads_back(size, cookie):
    v = RealSearchControlValue()
    v["size"], v["cookie"] = size, cookie
    assert ber.paged_value(size, cookie) == encoder.encode(v)
    assert ldap_messages.paged_request(encoder.encode(v)) == (size, cookie)
    assert ldap_messages.paged_request(b"\x30\x03\x02\x01") is None
    assert ldap_messages.paged_request(None) is None


_SAMPLES = [
    wire(1, "bindRequest", bind_operation(3, SIMPLE, "CN=Alice,DC=corp", "secret")),
    wire(2, "searchRequest", search_operation("DC=corp", "(|(cn=a*)(!(sn>=b)))", 2, 0, ["cn"], False, 0, 0,
                                              False, True), [paged(10, b"k")]),
    wire(3, "modifyRequest", modify_operation("CN=A,DC=c", {"sn": [(MODIFY_REPLACE, ["x"])]}, False)),
    wire(4, "compareRequest", compare_operation("CN=A,DC=c", "sn", "x", False)),
    wire(5, "extendedReq", extended_operation("1.2.3", b"v", no_encode=True)),
]


def _fields(m) -> tuple:
    """What the server reads of a request, from pyasn1's decoding of ldap3's LDAPMessage."""
    op = m["protocolOp"]
    name, req = op.getName(), op.getComponent()
    if name == "bindRequest":
        auth = req["authentication"]
        body: tuple = (int(req["version"]), str(req["name"]), auth.getName(), bytes(auth.getComponent()))
    elif name == "searchRequest":
        body = (str(req["baseObject"]), int(req["scope"]), int(req["sizeLimit"]), [str(a) for a in req["attributes"]],
                bytes(req["filter"]))
    elif name == "modifyRequest":
        body = (str(req["object"]), [(int(c["operation"]), str(c["modification"]["type"]),
                                      [bytes(v) for v in c["modification"]["vals"]]) for c in req["changes"]])
    elif name == "compareRequest":
        body = (str(req["entry"]), str(req["ava"]["attributeDesc"]), bytes(req["ava"]["assertionValue"]))
    else:
        body = (str(req["requestName"]),)
    ctrls = [(str(c["controlType"]), bool(c["criticality"])) for c in m["controls"]] if m["controls"].isValue else []
    return int(m["messageID"]), name, body, ctrls


def _ours(m: ldap_messages.Message) -> tuple:
    r = m.req
    body: tuple
    if m.op == "bindRequest":
        body = (r.version, r.name, r.method, r.secret)
    elif m.op == "searchRequest":
        body = (r.base, r.scope, r.size_limit, r.attributes, r.filter)
    elif m.op == "modifyRequest":
        body = (r.dn, r.changes)
    elif m.op == "compareRequest":
        body = (r.dn, r.attribute, r.value)
    else:
        body = (r.name,)
    return m.mid, m.op, body, [(oid, crit) for oid, crit, _ in m.controls]


@pytest.mark.parametrize("data", _SAMPLES)
def test_each_sample_reads_as_pyasn1_reads_it(data):
    assert _ours(ldap_messages.decode(data)) == _fields(decoder.decode(data, asn1Spec=SPEC)[0])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_SAMPLES), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_requests_read_as_pyasn1_reads_them_or_are_refused(sample, changes):
    """Flip bytes of valid requests: the reader either refuses them with the errors the server
    answers as protocolError, or reads exactly what pyasn1 reads (AD's subset of BER is stricter
    than pyasn1's, never looser)."""
    data = bytearray(sample)
    for at, value in changes:
        data[at % len(data)] = value
    try:
        ours = ldap_messages.decode(bytes(data))
        if ours.op == "searchRequest":      # the filter is read next, and refused there
            ber.to_filter(ours.req.filter)
    except (ber.FrameError, UnicodeDecodeError):
        return
    if ours.op not in ("bindRequest", "searchRequest", "modifyRequest", "compareRequest", "extendedReq"):
        return
    theirs, rest = decoder.decode(bytes(data), asn1Spec=SPEC)
    assert not rest
    assert _ours(ours) == _fields(theirs)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_read_or_are_refused_cleanly(data):
    try:
        ldap_messages.decode(b"\x30" + bytes([len(data)]) + data if len(data) < 128 else data)
    except (ber.FrameError, UnicodeDecodeError):
        pass
