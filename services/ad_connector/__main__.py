"""`python -m services.ad_connector`: AWS Directory Service AD Connector."""
from services.common.aws_api import body_errors
from services.common.http_guard import BodyGuard
from services.common.runner import Service, run

from . import registrations, users
from .api import make_app
from .ds_api import DirectoryService
from .settings import ConnectorSettings
from .store import DirectoryStore, seed_directory


def _refused(_status: int, message: str, _scope: object) -> tuple[dict, dict]:
    """The connector's own routes refuse a body in the shape of their other refusals."""
    return {"authenticated": False, "reason": "bad_request", "detail": message}, {}


async def build(ctx) -> Service:
    settings = ConnectorSettings.from_settings(ctx.settings)   # a bad value: one line, exit 4
    store = DirectoryStore(ctx.state_dir / "directories.sqlite3")
    ds = DirectoryService(ctx, store, settings)

    def seed() -> None:
        data = ctx.seed(cloud=True)
        if data.get("aws"):
            # Every Okta RADIUS agent of the topology, in order: AD Connector fails over along the list.
            agents = [svc["host"] for svc in ctx.topology["services"].values()
                      if svc.get("package") == "services.radius_agent"] or [ctx.peer("radius-agent")["host"]]
            store.put(seed_directory(data, settings, ctx.credential("radius_shared_secret"), agents,
                                     region=data["aws"]["region"], now=ctx.clock.now()))
            if data["aws"].get("workspaces"):
                # The seed's directory is registered with WorkSpaces, as WorkSpaces' seed says.
                store.register(data["aws"]["directory"]["id"], "workspaces")

    store.seed_once(seed)

    async def reset() -> None:
        ds.cancel_all()
        store.clear()
        seed()

    app = make_app(ctx, store, settings)
    users.register_routes(app, ctx, store, settings)
    registrations.register_routes(app, ctx, store)
    ds.mount(app)
    app.add_middleware(BodyGuard, errors=body_errors(_refused))   # 1 MiB; depth 64
    await ds.resume()   # schedules lifecycles a previous run left half-way; returns at once
    return Service(http_apps={"api": app}, reset=reset)


if __name__ == "__main__":
    run("ad-connector", build)
