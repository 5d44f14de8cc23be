"""The mailbox's SMTP server (aiosmtpd) with real clients (mail only, 127.0.29): the extensions
it offers (SMTPUTF8, PIPELINING, 8BITMIME, SIZE, STARTTLS), UTF-8 mail, pipelined commands,
STARTTLS with the certificate the lab's CA issued it, the size limit, and the drop/deny faults."""
from __future__ import annotations

import smtplib
import socket
import ssl
import stat
import time
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.support import admin_client, running_services, url
from tests.support.waiting import wait_until

SUBNET = "127.0.29"
TEN_MB = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("smtp")
    with running_services(["mail"], state, SUBNET) as topo:
        yield {"topo": topo, "state": state}


def address(lab) -> tuple[str, int]:
    svc = lab["topo"]["services"]["mail"]
    return svc["host"], svc["ports"]["smtp"]


def smtp(lab) -> smtplib.SMTP:
    return smtplib.SMTP(*address(lab), timeout=10)


def messages(lab, to: str) -> list[dict]:
    return httpx.get(url(lab["topo"], "mail") + "/messages", params={"to": to}).json()


def events(lab, kind: str) -> list[dict]:
    with admin_client(lab["topo"], "mail") as admin:
        return [e for e in admin.get("/events").json() if e["kind"] == kind]


def test_ehlo_offers_smtputf8_pipelining_8bitmime_size_and_starttls(lab):
    with smtp(lab) as s:
        code, _ = s.ehlo("client.example")
        assert code == 250
        for ext in ("smtputf8", "pipelining", "8bitmime", "starttls"):
            assert s.has_extn(ext), (ext, s.esmtp_features)
        assert s.esmtp_features["size"] == str(TEN_MB)
        assert not s.has_extn("auth"), "an internal relay: no AUTH"


def test_a_utf8_address_and_subject_are_delivered_with_smtputf8(lab):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Jürgen <jürgen@bücher.example>", "zoë@corp.example.com", "Grüße ✓"
    msg.set_content("Hallo Zoë\n")
    with smtp(lab) as s:
        s.ehlo("client.example")
        refused = s.sendmail("jürgen@bücher.example", ["zoë@corp.example.com"],
                             msg.as_bytes(policy=msg.policy.clone(utf8=True)), mail_options=["SMTPUTF8"])
        assert refused == {}
    [got] = messages(lab, "zoë@corp.example.com")
    assert got["envelope"] == {"from": "jürgen@bücher.example", "to": ["zoë@corp.example.com"]}
    assert got["subject"] == "Grüße ✓" and got["to"] == "zoë@corp.example.com"
    full = httpx.get(url(lab["topo"], "mail") + f"/messages/{got['id']}").json()
    assert full["text"].strip() == "Hallo Zoë"
    # without SMTPUTF8 smtplib's send_message turns it on by itself for such addresses
    with smtp(lab) as s:
        assert s.send_message(msg) == {}
    assert len(messages(lab, "zoë@corp.example.com")) == 2


def test_a_message_whose_headers_the_parser_chokes_on_is_still_stored(lab):
    with smtp(lab) as s:       # `From: x@` makes Python's header parser raise IndexError
        assert s.sendmail("a@b.example", ["choke@corp.example.com"],
                          b"From: x@\r\nTo: choke@corp.example.com\r\nSubject: kept\r\n\r\nbody\r\n") == {}
    [got] = messages(lab, "choke@corp.example.com")
    assert (got["from"], got["subject"]) == ("x@", "kept")


def test_pipelined_mail_rcpt_data_in_one_write(lab):
    body = b"From: a@b.example\r\nTo: pipe@corp.example.com\r\nSubject: pipelined\r\n\r\nall at once\r\n.\r\n"
    with socket.create_connection(address(lab), timeout=10) as raw:
        reader = raw.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        raw.sendall(b"EHLO client.example\r\n")
        while (line := reader.readline())[3:4] == b"-":
            pass
        assert line.startswith(b"250 ")
        # RFC 2920: the whole transaction in one write, then the replies in order
        raw.sendall(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<pipe@corp.example.com>\r\n"
                    b"RCPT TO:<nobody>\r\nRCPT TO:<pipe2@corp.example.com>\r\nDATA\r\n")
        codes = [reader.readline()[:3] for _ in range(5)]
        assert codes == [b"250", b"250", b"501", b"250", b"354"]
        raw.sendall(body + b"QUIT\r\n")
        assert reader.readline().startswith(b"250 2.0.0 OK queued as ")
        assert reader.readline().startswith(b"221")
    [got] = messages(lab, "pipe2@corp.example.com")
    assert got["envelope"]["to"] == ["pipe@corp.example.com", "pipe2@corp.example.com"]
    assert got["subject"] == "pipelined"


def test_starttls_with_the_certificate_the_lab_ca_issued(lab):
    tls = lab["topo"]["services"]["mail"]["tls"]
    assert stat.S_IMODE(Path(tls["key"]).stat().st_mode) == 0o600, "the private key is private"
    # Trusting only the lab's CA: verifies the chain and the address.
    context = ssl.create_default_context(cafile=lab["topo"]["ca"]["cert"])
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@b.example", "tls@corp.example.com", "over TLS"
    msg.set_content("SECRET-ACTIVATION-LINK\n")
    with smtp(lab) as s:
        s.ehlo("client.example")
        assert s.starttls(context=context)[0] == 220
        s.ehlo("client.example")
        assert not s.has_extn("starttls"), "offered once, before TLS"
        assert s.sock is not None and s.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert s.send_message(msg) == {}
    assert [m["subject"] for m in messages(lab, "tls@corp.example.com")] == ["over TLS"]


def test_a_failed_starttls_handshake_is_an_event_not_a_traceback(lab):
    from tests.support.fuzzing import LogWatch

    watch = LogWatch(lab["state"] / "logs" / "mail.log")
    before = len(events(lab, "mail.smtp"))
    with socket.create_connection(address(lab), timeout=10) as raw:
        reader = raw.makefile("rb")
        reader.readline()
        raw.sendall(b"EHLO client.example\r\n")
        while reader.readline()[3:4] == b"-":
            pass
        raw.sendall(b"STARTTLS\r\n")
        assert reader.readline().startswith(b"220")
        raw.sendall(b"this is not a TLS ClientHello\r\n")
        assert reader.read() == b"", "the server hangs up"
    new = wait_until(lambda: events(lab, "mail.smtp")[before:])
    assert [(e["peer"], e["outcome"]) for e in new] == [("127.0.0.1", "tls_failed")]
    assert not watch.tracebacks()
    with smtp(lab) as s:
        assert s.noop()[0] == 250


def test_the_ten_megabyte_limit(lab):
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (TEN_MB // 1000 + 10)
    with smtp(lab) as s:
        # smtplib declares SIZE= in MAIL FROM, so the server refuses before the data is sent
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            s.sendmail("a@b.example", ["big@corp.example.com"], big)
        assert refused.value.smtp_code == 552
        # a client that does not declare it is refused after DATA, and the session goes on
        s.rset()
        assert s.mail("a@b.example")[0] == 250 and s.rcpt("big@corp.example.com")[0] == 250
        assert s.data(big)[0] == 552
        assert s.noop()[0] == 250
    assert messages(lab, "big@corp.example.com") == []


@pytest.mark.parametrize("action, error, outcome", [
    ("drop", smtplib.SMTPServerDisconnected, "dropped_by_fault"),
    ("deny", smtplib.SMTPConnectError, "denied_by_fault"),
])
def test_drop_and_deny_faults_by_peer(lab, action, error, outcome):
    before = len(events(lab, "mail.smtp"))
    with admin_client(lab["topo"], "mail") as admin:
        fault = admin.post("/faults", json={"action": action, "protocol": "smtp", "peer": "127.0.0.1"}).json()
        try:
            with pytest.raises(error):
                smtp(lab)
            # another peer is not affected
            with smtplib.SMTP(*address(lab), timeout=10, source_address=(f"{SUBNET}.5", 0)) as s:
                assert s.noop()[0] == 250
        finally:
            admin.delete(f"/faults/{fault['id']}")
    new = events(lab, "mail.smtp")[before:]
    assert [(e["peer"], e["outcome"]) for e in new] == [("127.0.0.1", outcome)]
    with smtp(lab) as s:
        assert s.noop()[0] == 250


def test_a_delay_fault_holds_each_reply_for_that_peer_only(lab):
    with admin_client(lab["topo"], "mail") as admin:
        fault = admin.post("/faults", json={"action": "delay", "protocol": "smtp", "peer": "127.0.0.1",
                                            "seconds": 5}).json()
        try:
            with socket.create_connection(address(lab), timeout=60) as raw:
                started = time.monotonic()
                raw.settimeout(1)      # far below the delay: a greeting by then means no delay
                with pytest.raises(TimeoutError):
                    raw.recv(100)
                raw.settimeout(60)     # generous: the machine is shared
                assert raw.recv(100).startswith(b"220 ")
                print(f"greeting held {time.monotonic() - started:.1f} s by a 5 s delay")
            with smtplib.SMTP(*address(lab), timeout=10, source_address=(f"{SUBNET}.5", 0)) as s:
                assert s.noop()[0] == 250
        finally:
            admin.delete(f"/faults/{fault['id']}")
