"""`python -m services.aws_console`: the AWS Management Console (Directory Service, WorkSpaces and EC2
security groups pages), a client of the lab's AWS APIs."""
from __future__ import annotations

from services.common.http_guard import BodyGuard
from services.common.runner import Service, run

from .app import make_app
from .aws import Aws
from .console import Console
from .session import Sessions
from .settings import ConsoleSettings


async def build(ctx) -> Service:
    settings = ConsoleSettings.from_settings(ctx.settings)     # a bad value: one line, exit 4
    region = ctx.credential("aws_region")
    aws = Aws.connect(settings, region=region, key_id=ctx.credential("aws_access_key_id"),
                      secret=ctx.credential("aws_secret_access_key"))
    sessions = Sessions(account_id=settings.account_id, user_name=settings.user_name,
                        password=ctx.credential("console_password"), minutes=settings.session_minutes)
    directory = (ctx.seed().get("aws") or {}).get("directory") or {}      # the lab's VPC (not AWS state)
    dns_ips = ctx.peer("ad-connector").get("settings", {}).get("customer_dns_ips", [])
    network = {"vpc_id": directory.get("vpc_id", ""), "subnet_ids": directory.get("subnet_ids", []),
               "dns_ips": dns_ips}
    console = Console(settings, aws, sessions, region, network)
    app = make_app(ctx, console)
    app.add_middleware(BodyGuard)          # 1 MiB, as every service of the lab

    async def reset() -> None:
        sessions.clear()

    return Service(http_apps={"api": app}, reset=reset)


if __name__ == "__main__":
    run("aws-console", build)
