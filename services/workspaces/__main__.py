"""`python -m services.workspaces`: Amazon WorkSpaces, its client sign-in and Web Access."""
from fastapi import FastAPI

from services.common.aws_api import body_errors
from services.common.http_guard import BodyGuard
from services.common.runner import Service, run
from services.common.web import mount_static

from . import client, web_access
from . import store as store_mod
from .settings import WorkspacesSettings
from .signin import SignIn
from .ws_api import WorkspacesService


def _refused(_status: int, message: str, _scope: object) -> tuple[dict, dict]:
    """The client sign-in refuses a body in the shape of its other refusals."""
    return {"message": message, "reason": "bad_request"}, {}


async def build(ctx) -> Service:
    store = store_mod.WorkspacesStore(ctx.state_dir / "workspaces.sqlite3")
    settings = WorkspacesSettings.from_settings(ctx.settings)
    api = WorkspacesService(ctx, store, settings)

    def seed() -> None:
        data = ctx.seed(cloud=True)
        if data.get("aws"):
            # The directory's DNS servers, as DescribeDirectories shows them: the connector's topology settings.
            dns_ips = ctx.peer("ad-connector").get("settings", {}).get("customer_dns_ips", [])
            store_mod.seed(store, data, dns_ips=dns_ips, account=settings.account_id)

    store.seed_once(seed)

    signin = SignIn(ctx, store, on_stopped=api.power.start_on_signin)
    web = web_access.WebAccess(ctx, signin)

    async def reset() -> None:
        api.cancel_all()
        web.reset()
        store.clear()
        seed()

    app = FastAPI(title="Amazon WorkSpaces (lab)", docs_url=None, redoc_url=None)
    client.register_routes(app, signin)
    web_access.register_routes(app, web)
    mount_static(app)
    api.mount(app)
    app.add_middleware(BodyGuard, errors=body_errors(_refused))   # 1 MiB; depth 64
    await api.resume()   # schedules transitions a previous run left half-way; returns at once
    return Service(http_apps={"api": app}, reset=reset, on_stop=signin.http.aclose)


if __name__ == "__main__":
    run("workspaces", build)
