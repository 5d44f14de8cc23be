"""`python -m services.ad_connector`: AWS Directory Service AD Connector."""
from services.common.runner import Service, run

from .api import make_app
from .store import DirectoryStore, seed_directory


async def build(ctx) -> Service:
    store = DirectoryStore(ctx.state_dir / "directories.sqlite3")

    def seed() -> None:
        data = ctx.seed()
        if data.get("aws"):
            radius_host = ctx.peer("radius-agent")["host"]
            store.put(seed_directory(data, ctx.settings, ctx.credential("radius_shared_secret"), radius_host))

    if store.empty():
        seed()

    async def reset() -> None:
        store.clear()
        seed()

    return Service(http_apps={"api": make_app(ctx, store)}, reset=reset)


if __name__ == "__main__":
    run("ad-connector", build)
