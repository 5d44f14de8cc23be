"""`python -m services.phone`: Okta Verify on the user's phone."""
from services.common.runner import Service, run

from .api import make_app
from .authenticator import Wallet


async def build(ctx) -> Service:
    wallet = Wallet(ctx.state_dir / "okta_verify.json")
    pushes: list[dict] = []
    messages: list[dict] = []   # SMS and voice calls received

    async def reset() -> None:
        pushes.clear()
        messages.clear()
        for acc in wallet.accounts.values():
            acc.action, acc.after = "approve", 0.0
        wallet.save()

    return Service(http_apps={"api": make_app(ctx, wallet, pushes, messages)}, reset=reset)


if __name__ == "__main__":
    run("phone", build)
