"""The mailbox's pages in Chromium (the mail service alone, on 127.0.68): the inbox by address,
newest first; new mail appears without a reload; a message's HTML is shown sandboxed (its scripts
do not run, it cannot reach the page) and its links work."""
from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage

import httpx
import pytest

from tests.support import admin_headers, running_services, url

SUBNET = "127.0.68"


@pytest.fixture(scope="module")
def mail(tmp_path_factory):
    with running_services(["mail"], tmp_path_factory.mktemp("ui-mailbox"), SUBNET) as topo:
        yield topo


@pytest.fixture(autouse=True)
def empty(mail):
    assert httpx.post(url(mail, "mail", "admin") + "/reset", headers=admin_headers(mail)).status_code == 200


def send(mail, to: str, subject: str, html: str | None = None, text: str = "hello") -> None:
    host, port = mail["services"]["mail"]["host"], mail["services"]["mail"]["ports"]["smtp"]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Okta <noreply@okta.com>", to, subject
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.send_message(msg)


def test_inbox_newest_first_and_new_mail_arrives_without_reload(mail, page, shot):
    base = url(mail, "mail")
    send(mail, "alice@corp.example.com", "First")
    send(mail, "bob@corp.example.com", "For Bob")
    page.goto(f"{base}/?to=alice")
    assert page.locator("#rows tr").all_inner_texts()[0].count("First") == 1
    assert "For Bob" not in page.content()
    send(mail, "alice@corp.example.com", "Second")
    page.locator("#rows tr", has_text="Second").wait_for()          # htmx brought it, no reload
    subjects = [re.split(r"\t", r)[2] for r in page.locator("#rows tr").all_inner_texts()]
    assert subjects == ["Second", "First"]
    shot(page, "inbox-live")


def test_message_html_is_sandboxed_and_its_links_work(mail, page, shot):
    base = url(mail, "mail")
    hostile = ('<html><head><title>x</title></head><body><p id="p">Hi</p>'
               '<script>document.getElementById("p").textContent = "scripted"; parent.document.title = "owned"</script>'
               f'<p><a href="{base}/?to=carol">Open Carol\'s inbox</a></p></body></html>')
    send(mail, "carol@corp.example.com", "Links & <scripts>", html=hostile)
    page.goto(f"{base}/?to=carol")
    page.get_by_role("link", name="Links & <scripts>").click()
    frame = page.frame_locator("iframe.message")
    frame.get_by_text("Hi").wait_for()
    sandbox = page.locator("iframe.message").get_attribute("sandbox")
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    assert page.title() != "owned" and frame.locator("#p").inner_text() == "Hi"
    assert "default-src 'self'" in httpx.get(page.url).headers["content-security-policy"]
    shot(page, "message-sandboxed")
    frame.get_by_role("link", name="Open Carol's inbox").click()
    page.wait_for_url(f"{base}/?to=carol")                # the link opened at the top level
    assert page.get_by_role("heading", name="Inbox of carol").is_visible()


def test_a_text_only_message_gets_its_links(mail, page):
    base = url(mail, "mail")
    send(mail, "dave@corp.example.com", "Plain", text=f"Go to {base}/?to=dave <b>not bold</b>")
    page.goto(f"{base}/?to=dave")
    page.get_by_role("link", name="Plain").click()
    frame = page.frame_locator("iframe.message")
    assert "<b>not bold</b>" in frame.locator("pre").inner_text()
    assert frame.get_by_role("link", name=f"{base}/?to=dave").is_visible()
    assert httpx.get(f"{base}/view/nope").status_code == 404
