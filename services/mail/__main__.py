"""`python -m services.mail`: the users' mailbox (SMTP in, HTTP API out)."""
from __future__ import annotations

from services.common.runner import Service, bind_tcp, run
from services.common.tls import server_context

from . import smtp
from .api import make_app
from .mailbox import Mailbox


async def build(ctx) -> Service:
    mailbox = Mailbox(ctx.state_dir / "messages")
    sock = bind_tcp(ctx, "smtp")
    certificate = server_context(ctx.me, ctx.log, "SMTP STARTTLS")   # issued by the lab's CA

    async def deliver(mail_from: str, rcpt_to: list[str], data: bytes, peer: str | None) -> str:
        doc = mailbox.add(mail_from=mail_from, rcpt_to=rcpt_to, data=data, received=ctx.clock.iso(), peer=peer)
        # Envelope, subject and size only: bodies carry activation links, which are secrets.
        ctx.record("mail.received", peer=peer, outcome="stored", message=doc["id"], mail_from=mail_from,
                   rcpt_to=rcpt_to, subject=doc["subject"], size=doc["size"])
        ctx.log.info("message %s from %s to %s: %s", doc["id"], mail_from, ", ".join(rcpt_to), doc["subject"])
        return doc["id"]

    async def reset() -> None:
        mailbox.clear()

    async def health() -> tuple[bool, str]:
        return True, f"{len(mailbox.messages)} messages"

    return Service(http_apps={"api": make_app(ctx, mailbox)},
                   tasks=[lambda: smtp.serve(ctx, sock, deliver, certificate)], reset=reset, health=health)


if __name__ == "__main__":
    run("mail", build)
