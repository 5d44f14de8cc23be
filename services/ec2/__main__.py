"""`python -m services.ec2`: Amazon EC2 for the lab's VPC (security groups, instances, interfaces)."""
from fastapi import FastAPI

from services.common.runner import Service, run

from .ec2_api import Ec2Api
from .enforcer import EnforcerLink
from .network import Network
from .seed import seed
from .settings import Ec2Settings
from .store import NetworkStore


async def build(ctx) -> Service:
    settings = Ec2Settings.from_settings(ctx.settings)     # a bad value: one line, exit 4
    store = NetworkStore(ctx.state_dir / "network.sqlite3")
    network = Network(store, settings, now=ctx.clock.now)
    link = EnforcerLink(ctx, network, settings)

    def apply_seed() -> None:
        seed(network, ctx.seed(), ctx.seed(cloud=True))

    store.seed_once(apply_seed)
    # The topology may have changed since (a second agent): the interfaces follow its addresses.
    network.ensure_vpc(network.vpc.get("id", ""), network.vpc.get("subnets", []))

    async def reset() -> None:
        network.clear()
        apply_seed()

    app = FastAPI(title="EC2", docs_url=None, redoc_url=None, openapi_url=None)
    Ec2Api(ctx, network, link, settings).mount(app)
    return Service(http_apps={"api": app}, reset=reset, admin_routes=link.register)


if __name__ == "__main__":
    run("ec2", build)
