"""The mailbox as a process (mail only, 127.0.94): SMTP in with smtplib (the client the org
uses), the HTTP API out, SMTP's errors, a fault, events without bodies, and messages surviving a
restart."""
from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage

import httpx
import pytest

from lab import process_runtime as pr
from tests.support import admin_headers, running_services, url

SUBNET = "127.0.94"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("mail")
    with running_services(["mail"], state, SUBNET) as topo:
        yield {"topo": topo, "state": state}


def smtp(lab) -> smtplib.SMTP:
    svc = lab["topo"]["services"]["mail"]
    return smtplib.SMTP(svc["host"], svc["ports"]["smtp"], timeout=5)


def send(lab, to: str, subject: str, text: str, html: str | None = None) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Okta <noreply@okta.com>", to, subject
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    with smtp(lab) as s:
        s.send_message(msg)


def api(lab) -> str:
    return url(lab["topo"], "mail")


def test_a_message_sent_with_smtplib_is_readable_over_http(lab):
    httpx.delete(api(lab) + "/messages")
    send(lab, "alice@corp.example.com", "Welcome to Okta!", "Activate: http://org/welcome/SECRETTOKEN1\n",
         "<a href='http://org/welcome/SECRETTOKEN1'>Activate</a>")
    send(lab, "bob@corp.example.com", "Hello Bob", "hi\n.starts with a dot\n")
    listed = httpx.get(api(lab) + "/messages").json()
    assert [m["subject"] for m in listed] == ["Welcome to Okta!", "Hello Bob"]
    assert "text" not in listed[0], "the list has no bodies"
    mine = httpx.get(api(lab) + "/messages", params={"to": "alice@corp.example.com"}).json()
    assert [m["subject"] for m in mine] == ["Welcome to Okta!"]
    assert httpx.get(api(lab) + "/messages", params={"to": "bob"}).json()[0]["subject"] == "Hello Bob"
    full = httpx.get(api(lab) + f"/messages/{mine[0]['id']}").json()
    assert "http://org/welcome/SECRETTOKEN1" in full["text"] and "SECRETTOKEN1" in full["html"]
    assert full["envelope"] == {"from": "noreply@okta.com", "to": ["alice@corp.example.com"]}
    bob = httpx.get(api(lab) + f"/messages/{listed[1]['id']}").json()
    assert ".starts with a dot" in bob["text"], "dot-stuffing is undone"
    assert httpx.get(api(lab) + "/messages/nope").status_code == 404
    events = httpx.get(url(lab["topo"], "mail", "admin") + "/events", headers=admin_headers(lab["topo"])).json()
    received = [e for e in events if e["kind"] == "mail.received"]
    assert received[-2]["fields"]["subject"] == "Welcome to Okta!"
    assert received[-2]["fields"]["rcpt_to"] == ["alice@corp.example.com"]
    assert all("SECRETTOKEN1" not in str(e) for e in events), "bodies never reach events"


def test_smtp_answers_mistakes_with_smtp_codes(lab):
    with smtp(lab) as s:
        assert s.docmd("RCPT", "TO:<x@y.z>")[0] == 503          # before HELO/MAIL
        assert s.ehlo("tester")[0] == 250 and s.has_extn("size")
        assert s.docmd("MAIL", "nonsense")[0] == 501
        # RFC 5321 4.2.4: 500 for a command not recognized (502 is for one recognized, not implemented)
        assert s.docmd("FROZZLE")[0] == 500
        assert s.docmd("DATA")[0] == 503                          # no recipients yet
        assert s.docmd("MAIL", "FROM:<a@b.c>")[0] == 250
        assert s.docmd("MAIL", "FROM:<a@b.c>")[0] == 503          # nested
        assert s.docmd("RCPT", "TO:<not-an-address>")[0] == 501
        assert s.rset()[0] == 250 and s.noop()[0] == 250 and s.verify("alice")[0] == 252
    with pytest.raises(smtplib.SMTPRecipientsRefused), smtp(lab) as s:
        s.sendmail("a@b.c", ["nobody"], "Subject: x\r\n\r\nx")
    # a client that hangs up mid-command does not take the server down
    raw = socket.create_connection((lab["topo"]["services"]["mail"]["host"],
                                    lab["topo"]["services"]["mail"]["ports"]["smtp"]), timeout=5)
    raw.recv(100)
    raw.sendall(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<c@d.e>\r\nDATA\r\nhalf a mess")
    raw.close()
    send(lab, "carol@corp.example.com", "still up", "yes")
    assert httpx.get(api(lab) + "/messages", params={"to": "carol"}).json()


def test_deny_fault_refuses_the_connection(lab):
    admin = url(lab["topo"], "mail", "admin")
    fid = httpx.post(admin + "/faults", json={"action": "deny", "protocol": "smtp"},
                     headers=admin_headers(lab["topo"])).json()["id"]
    try:
        with pytest.raises(smtplib.SMTPConnectError):
            smtp(lab)
    finally:
        httpx.delete(f"{admin}/faults/{fid}", headers=admin_headers(lab["topo"]))
    with smtp(lab) as s:
        assert s.noop()[0] == 250


def test_messages_survive_a_restart_and_delete_empties(lab):
    send(lab, "dave@corp.example.com", "before the restart", "kept")
    before = httpx.get(api(lab) + "/messages").json()
    topo, state = lab["topo"], lab["state"]
    pr.stop(state, ["mail"])
    pr.wait_healthy(topo, pr.start(state / "topology.json", topo, ["mail"]), timeout=20)
    assert httpx.get(api(lab) + "/messages").json() == before
    assert httpx.delete(api(lab) + "/messages").json()["deleted"] == len(before)
    assert httpx.get(api(lab) + "/messages").json() == []


# -- fuzzing -------------------------------------------------------------------------------------
SESSIONS = [
    b"EHLO okta.example\r\nMAIL FROM:<noreply@okta.com>\r\nRCPT TO:<alice@corp.example.com>\r\nDATA\r\n"
    b"From: Okta <noreply@okta.com>\r\nTo: alice@corp.example.com\r\nSubject: =?utf-8?q?Activate_=C3=A9?=\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello =C3=A9\r\n"
    b"--b1\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"PGI+SGVsbG88L2I+\r\n--b1--\r\n.\r\nQUIT\r\n",
    b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<bob@corp.example.com>\r\nRCPT TO:<carol@corp.example.com>\r\nDATA\r\n"
    b"Subject: plain\r\n\r\n..dot stuffed\r\n.\r\nRSET\r\nNOOP\r\nVRFY bob\r\nQUIT\r\n",
]


def test_smtp_survives_mutated_sessions_and_the_api_reads_what_it_stored(lab):
    import random

    from tests.support.fuzzing import LogWatch, mutate

    svc = lab["topo"]["services"]["mail"]
    watch = LogWatch(lab["state"] / "logs" / "mail.log")
    rnd = random.Random(5321)
    for i in range(200):
        payload = mutate(rnd.choice(SESSIONS), rnd)
        with socket.create_connection((svc["host"], svc["ports"]["smtp"]), timeout=5) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        assert reply.startswith(b"220 "), f"case {i}"
    stored = httpx.get(api(lab) + "/messages").json()
    assert stored, "some mutated sessions are still valid mail"
    for m in stored:
        assert httpx.get(f"{api(lab)}/messages/{m['id']}").status_code == 200, m
    assert not watch.tracebacks()
    send(lab, "alice@corp.example.com", "after the fuzz", "still here")
