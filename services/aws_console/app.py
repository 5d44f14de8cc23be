"""The console's web app: sign-in / sign-out, the home page, the services' pages, and the
handlers that turn a signed-out request and an AWS error into pages."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.context import ServiceContext
from services.common.web import mount_static, require_csrf

from . import ds_pages, ec2_pages, forms, ws_pages
from .aws import ApiError
from .console import Console
from .session import BAD_SIGN_IN, SignedOut, safe_next, to_sign_in


def make_app(ctx: ServiceContext | None, console: Console) -> FastAPI:
    app = FastAPI(title="AWS Management Console (lab)", docs_url=None, redoc_url=None, openapi_url=None)
    mount_static(app)
    render = console.render

    @app.exception_handler(SignedOut)
    async def signed_out(request: Request, exc: SignedOut) -> Response:
        return to_sign_in(request, exc)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return render(request, "console/not_found.html", exc.status, error=exc, back="/")

    @app.get("/signin", response_class=HTMLResponse)
    async def sign_in_page(request: Request, next: str = "/") -> Response:
        return render(request, "console/signin.html", next=safe_next(next), form={}, error=None)

    @app.post("/signin", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        form = await require_csrf(request)
        target = safe_next(forms.text(form, "next") or "/")
        if not console.sessions.check(forms.text(form, "account"), forms.text(form, "username"),
                                      forms.secret(form, "password")):
            if ctx is not None:
                ctx.record("console.signin", outcome="failure", user=forms.text(form, "username")[:64])
            return render(request, "console/signin.html", 401, next=target, error=forms.Problem(BAD_SIGN_IN),
                          form={"account": forms.text(form, "account"), "username": forms.text(form, "username")})
        response = RedirectResponse(target, status_code=303)
        console.sessions.start(response)
        if ctx is not None:
            ctx.record("console.signin", outcome="success", user=console.sessions.user_name)
        return response

    @app.post("/signout")
    async def sign_out(request: Request) -> Response:
        await require_csrf(request)
        response = RedirectResponse("/signin", status_code=303)
        console.sessions.end(request, response)
        return response

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        console.session(request)
        return render(request, "console/home.html", nav="home")

    app.include_router(ds_pages.router(console))
    app.include_router(ws_pages.router(console))
    app.include_router(ec2_pages.router(console))
    return app
