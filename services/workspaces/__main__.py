"""`python -m services.workspaces`: Amazon WorkSpaces and its client sign-in."""
from fastapi import FastAPI

from services.common.runner import Service, run

from . import client, store as store_mod


async def build(ctx) -> Service:
    store = store_mod.WorkspacesStore(ctx.state_dir / "workspaces.sqlite3")

    def seed() -> None:
        data = ctx.seed()
        if data.get("aws"):
            store_mod.seed(store, data)

    if store.empty():
        seed()

    async def reset() -> None:
        store.clear()
        seed()

    app = FastAPI(title="Amazon WorkSpaces (lab)", docs_url=None, redoc_url=None)
    client.register_routes(app, ctx, store)
    return Service(http_apps={"api": app}, reset=reset)


if __name__ == "__main__":
    run("workspaces", build)
