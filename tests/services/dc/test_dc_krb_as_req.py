"""The KDC's hand-written AS-REQ reader against impacket's types (pyasn1): every request reads as
impacket reads it, and mutated or random bytes are either refused (Malformed) or read exactly as
impacket reads them."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ad_connector import kerberos_auth as ka
from services.dc import krb_as_req, krb_wire

REALM = "CORP.EXAMPLE.COM"


def _pyasn1(data: bytes) -> krb_wire.AsRequest:
    return krb_wire.decode_as_req(data)


def _samples() -> list[bytes]:
    key = ka.string_to_key(18, "Alice-Passw0rd!", REALM + "alice")
    return [
        ka._as_req(REALM, ka.NT_PRINCIPAL, "alice", nonce=1, padata=None),
        ka._as_req(REALM, ka.NT_PRINCIPAL, "alice", nonce=2**32 - 1, padata=ka._enc_timestamp(key, time.time())),
        ka._as_req(REALM, ka.NT_ENTERPRISE, "alice@corp.example.com", nonce=77, padata=None),
    ]


SAMPLES = _samples()


@pytest.mark.parametrize("data", SAMPLES)
def test_requests_read_as_impacket_reads_them(data):
    assert krb_as_req.decode(data) == _pyasn1(data)


def test_a_tgs_req_or_garbage_is_malformed():
    with pytest.raises(krb_wire.Malformed):
        krb_as_req.decode(b"\x6c\x03\x30\x01\x00")
    with pytest.raises(krb_wire.Malformed):
        krb_as_req.decode(SAMPLES[0] + b"\x00")
    with pytest.raises(krb_wire.Malformed):
        krb_as_req.decode(SAMPLES[0][:-3])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SAMPLES), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_requests_are_refused_or_read_as_impacket_reads_them(sample, changes):
    data = bytearray(sample)
    for at, value in changes:
        data[at % len(data)] = value
    try:
        ours = krb_as_req.decode(bytes(data))
    except krb_wire.Malformed:
        return
    assert ours == _pyasn1(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_are_refused_cleanly(data):
    try:
        krb_as_req.decode(b"\x6a" + bytes([len(data)]) + data if len(data) < 128 else data)
    except krb_wire.Malformed:
        pass


def _enc_timestamp_value() -> bytes:
    key = ka.string_to_key(18, "Alice-Passw0rd!", REALM + "alice")
    padata = ka._enc_timestamp(key, 1764750000.123456)
    return krb_wire.decode_as_req(ka._as_req(REALM, ka.NT_PRINCIPAL, "alice", nonce=1, padata=padata)).padata[2]


def _ts_enc(when: str, usec: int | None) -> bytes:
    from impacket.krb5 import asn1
    from pyasn1.codec.der import encoder
    ts = asn1.PA_ENC_TS_ENC()
    ts["patimestamp"] = when
    if usec is not None:
        ts["pausec"] = usec
    return encoder.encode(ts)


TS_SAMPLES = [_ts_enc("20251203160000Z", 123456), _ts_enc("20251203160000Z", None), _ts_enc("19700101000000Z", 0)]


def test_the_pre_authentication_reads_as_impacket_reads_it():
    value = _enc_timestamp_value()
    assert krb_as_req.enc_timestamp(value) == krb_wire.decode_enc_timestamp(value)
    for ts in TS_SAMPLES:
        assert krb_as_req.ts_enc(ts) == krb_wire.decode_ts_enc(ts)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([_enc_timestamp_value(), *TS_SAMPLES]),
       st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), min_size=1, max_size=3))
def test_mutated_pre_authentication_is_refused_or_read_as_impacket_reads_it(sample, changes):
    data = bytearray(sample)
    for at, value in changes:
        data[at % len(data)] = value
    data = bytes(data)
    timestamp = sample in TS_SAMPLES
    ours_fn, theirs_fn = ((krb_as_req.ts_enc, krb_wire.decode_ts_enc) if timestamp
                          else (krb_as_req.enc_timestamp, krb_wire.decode_enc_timestamp))
    try:
        ours = ours_fn(data)
    except krb_wire.Malformed:
        return
    assert ours == theirs_fn(data)
