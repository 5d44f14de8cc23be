"""The phone receiving SMS and voice calls (what the org's sms / call factors send):
`POST /sms`, `POST /call` `{"to", "text"}`, read back at `GET /messages`; the text (it carries
a code) stays out of the phone's events."""
import httpx
import pytest

from tests.support import admin_headers, running_services, url


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    with running_services(["phone"], tmp_path_factory.mktemp("phone-msgs"), "127.0.72") as topology:
        yield topology


def test_sms_and_calls_are_recorded_and_listed(phone):
    base = url(phone, "phone")
    sms = httpx.post(f"{base}/sms", json={"to": "+15550100001", "text": "Your verification code is 424242."})
    assert sms.status_code == 202 and sms.json()["accepted"] is True
    call = httpx.post(f"{base}/call", json={"to": "+15550100001", "text": "Your code is 131313."})
    assert call.status_code == 202
    httpx.post(f"{base}/sms", json={"to": "+15550100002", "text": "hello"})
    mine = httpx.get(f"{base}/messages", params={"to": "+15550100001"}).json()
    assert [(m["kind"], m["text"]) for m in mine] == [("sms", "Your verification code is 424242."),
                                                     ("call", "Your code is 131313.")]
    assert all({"id", "received", "to"} <= m.keys() for m in mine)
    assert [m["to"] for m in httpx.get(f"{base}/messages", params={"kind": "sms"}).json()] == \
        ["+15550100001", "+15550100002"]
    evs = [e for e in httpx.get(url(phone, "phone", "admin") + "/events", headers=admin_headers(phone)).json()
           if e["kind"] in ("phone.sms_received", "phone.call_received")]
    assert len(evs) == 3 and "424242" not in str(evs) and "131313" not in str(evs)


def test_bad_messages_are_refused(phone):
    base = url(phone, "phone")
    assert httpx.post(f"{base}/sms", json={"text": "no number"}).status_code == 400
    assert httpx.post(f"{base}/call", json={"to": "+1555", "text": 5}).status_code == 400
    assert httpx.post(f"{base}/sms", content=b"{nope").status_code == 400
    assert httpx.get(f"{base}/pushes").status_code == 200           # the existing endpoints still serve
