"""`python -m services.okta`: the Okta org."""
from __future__ import annotations

from services.common.runner import Service, run
from services.common.tls import HttpsListener, https_url, server_context

from .app import make_app
from .gate import ensure_token
from .groups import ensure_everyone
from .org import Org
from .policies import ensure_defaults
from .seeding import ensure_admin, seed
from .settings import OrgSettings
from .store import Store


async def build(ctx) -> Service:
    settings = OrgSettings.from_settings(ctx.settings)      # a bad setting stops here, before any file
    store = Store(ctx.state_dir / "org.sqlite3")
    data = ctx.seed(cloud=True)
    # The agents' HTTPS port (`https://<org>.okta.com`), the same app; off without a certificate.
    context = server_context(ctx.me, ctx.log, "HTTPS") if "https" in ctx.me["ports"] else None
    # The URL the org advertises (mail links, `_links`, the QR code's `s`, the push answer URL, the
    # pages): its HTTPS one as a real org's, the plain one only when it has no certificate.
    url = https_url(ctx, "okta") if context is not None else ctx.peer_url("okta")
    org = Org.open(ctx, store, url, settings)

    def initialise() -> None:
        """Seed on the first start only (unless the lab is blank), and remember that it did, so a
        restart never re-seeds: the org's state survives restarts."""
        ensure_everyone(org)       # before the seed: its users join it, its policies may target it
        meta = store.get("meta", "org")
        if meta is None:
            name = str(data.get("okta", {}).get("org_name") or "lab")
            org.name = name
            counts = seed(org, data) if data else {"users": 0, "groups": 0, "apps": 0}
            store.put("meta", "org", {"name": name, "seeded": bool(data), "created": org.iso()})
            ctx.record("okta.seed", outcome="seeded" if data else "blank", **counts)
        else:
            org.name = meta["name"]
        ensure_defaults(org)       # every org has its default policies (older state dirs get them now)
        ensure_admin(org, ctx.seed().get("okta", {}).get("admin"))   # blank or not: the console's admin
        ensure_token(org, ctx.credential("okta_api_token"))
        agent_token = ctx.topology["credentials"].get("okta_agent_token")
        if agent_token:
            ensure_token(org, agent_token, name="Okta RADIUS agent")

    initialise()

    async def reset() -> None:
        """Back to the seed: the org forgets everything (factors, used codes, transactions, logs,
        changed settings) and seeds itself again; the lab then enrols Okta Verify anew."""
        for task in list(org.tasks):
            task.cancel()
        org.hub.clear()
        org.limiter.clear()
        store.wipe()
        initialise()
        store.commit()       # the admin API answers outside the gate: commit before it says done

    async def health() -> tuple[bool, str]:
        return True, f"{org.people.count()} users, {store.count('apps')} apps"

    async def on_stop() -> None:
        for task in list(org.tasks):
            task.cancel()
        store.close()

    app = make_app(org)
    https = None
    if context is not None:
        https = HttpsListener(ctx, "https", app, context,
                              server_context(ctx.me, ctx.log, "TLS inspection", key="tls_inspection"))

    def admin_routes(admin) -> None:
        @admin.middleware("http")
        async def faults_changed(request, call_next):     # a TLS-inspection fault takes effect now
            response = await call_next(request)
            if https is not None and request.url.path.startswith(("/faults", "/reset")):
                https.sync()
            return response

    return Service(http_apps={"api": app}, tasks=[https] if https else [], reset=reset, health=health,
                   on_stop=on_stop, admin_routes=admin_routes)


if __name__ == "__main__":
    run("okta", build)
